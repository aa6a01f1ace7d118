"""The end-to-end run of the store benchmark: real LoCoMo dialogue, the real local embedder.

Turns are stored as verbatim memories (`"<speaker>: <text>"`), the conversation's questions
are the queries. Figures are given end to end (embedding included — what an agent sees)
and for the store alone (time inside the embedder taken out), with recall@10 against
exact search over the very vectors the embedder returned.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.store.base import PutOp

from hippograph.bench.backends import BACKENDS
from hippograph.bench.embedders import TimedEmbeddings
from hippograph.bench.measure import latency_ms, progress

if TYPE_CHECKING:
    from hippograph.bench.store import StoreBenchConfig

logger = logging.getLogger(__name__)

NAMESPACE = ("memories", "locomo")
_BATCH = 100


def find_locomo(start: Path | None = None) -> Path | None:
    """`../shared/data/locomo` next to the repository containing `start` (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for root in (here, *here.parents):
        candidate = root.parent / "shared" / "data" / "locomo"
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    return None


def locomo_texts(directory: Path) -> tuple[list[str], list[str]]:
    """Every dialogue turn (`"<speaker>: <text>"`) and every question, in file order.

    A LoCoMo file is a flat dict: `session_<n>` lists of `{speaker, dia_id, text}` turns
    and a `qa` list of `{question, answer, evidence, category}`.
    """
    turns: list[str] = []
    questions: list[str] = []
    for path in sorted(directory.glob("*.json")):
        conversation = json.loads(path.read_text(encoding="utf-8"))
        sessions = sorted(
            (int(key.split("_")[1]), value)
            for key, value in conversation.items()
            if key.startswith("session_")
            and key.split("_")[1].isdigit()
            and isinstance(value, list)
        )
        for _, session in sessions:
            turns.extend(
                f"{turn['speaker']}: {turn['text']}" for turn in session if turn.get("text")
            )
        questions.extend(str(qa["question"]) for qa in conversation.get("qa", []))
    return turns, questions


def _exact_top10(documents: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = queries @ documents.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :10]


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def _measure(
    backend_name: str,
    texts: list[str],
    questions: list[str],
    embed: TimedEmbeddings,
    workdir: Path,
    *,
    server_url: str | None = None,
) -> dict[str, Any]:
    backend = BACKENDS[backend_name]
    with (
        backend.host(workdir, server_url) as location,
        backend.open(location, embed, int(embed.dims or 0)) as store,
    ):
        start = time.perf_counter()
        with progress(len(texts), f"put    {backend_name} (real embedder)") as advance:
            for lo in range(0, len(texts), _BATCH):
                chunk = range(lo, min(len(texts), lo + _BATCH))
                store.batch([PutOp(NAMESPACE, f"t{i}", {"content": texts[i]}) for i in chunk])
                advance(len(chunk))
        put_s = time.perf_counter() - start
        put_embed_s = embed.seconds
        total: list[float] = []
        own: list[float] = []
        found: list[list[int]] = []
        for question in questions:
            before = embed.seconds
            start = time.perf_counter()
            hits = store.search(NAMESPACE, query=question, limit=10)
            total.append(time.perf_counter() - start)
            own.append(total[-1] - (embed.seconds - before))
            found.append([int(hit.key[1:]) for hit in hits])
    documents = _unit([embed.documents[text] for text in texts])
    truth = _exact_top10(documents, _unit([embed.queries[q] for q in questions]))
    recall = [len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]
    return {
        "backend": backend_name,
        "texts": len(texts),
        "queries": len(questions),
        "put_per_s_end_to_end": len(texts) / put_s,
        "put_per_s_store_only": len(texts) / max(put_s - put_embed_s, 1e-9),
        "embedding_share_of_put": put_embed_s / put_s,
        "search_ms_end_to_end": latency_ms(total),
        "search_ms_store_only": latency_ms(own),
        "recall_at_10": float(np.mean(recall)),
    }


def run(config: StoreBenchConfig, backends: Sequence[str]) -> dict[str, Any] | None:
    """Measure each of `backends` on real text with `LocalEmbeddings`; `None` (logged) when
    the LoCoMo data is not available."""
    import tempfile

    from hippograph.store import LocalEmbeddings

    directory = config.locomo_dir or find_locomo()
    if directory is None or not directory.is_dir():
        logger.warning("LoCoMo data not found (pass --locomo DIR): real-embedder run skipped")
        return None
    texts, questions = locomo_texts(directory)
    texts = list(dict.fromkeys(texts))[: config.real_texts]  # a repeated turn is one memory
    questions = questions[: config.real_queries]
    model = LocalEmbeddings()
    runs = []
    for name in backends:
        with tempfile.TemporaryDirectory(prefix="hippograph-bench-real-", dir=config.workdir) as d:
            timed = TimedEmbeddings(model)
            server = config.postgres_url
            runs.append(_measure(name, texts, questions, timed, Path(d), server_url=server))
    return {
        "data": str(directory.name),
        "model": "all-MiniLM-L6-v2 int8 (local ONNX)",
        "runs": runs,
    }
