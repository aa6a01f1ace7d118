"""Run the LoCoMo evaluation: ingest each conversation into a fresh store, ask every question.

Core pieces:
    - `EvalConfig`: what to run (data, mode, k, baselines, model, search variant, links).
    - `ConversationRun`: one conversation ingested into its own store (or namespace of the
      store named by `EvalConfig.store`), with its baselines.
    - `run_locomo(config)`: the whole evaluation; returns an `EvalResults` for the report.

Retrieval is scored for categories 1–4 without any LLM. With a model configured, every
question (category 5 included) is also answered from the retrieved memories and graded by
an LLM judge (`judge.py`). With `LANGSMITH_API_KEY` set, the questions run as a LangSmith
experiment (`tracing.py`); the local report is written either way.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langgraph.store.base import BaseStore, PutOp
from tqdm import tqdm

from hippograph.backends import (
    MEMORY_LINKS,
    MEMORY_SEARCH,
    backend_name,
    is_postgres_url,
    open_store,
)
from hippograph.eval.baselines import BASELINES, RawTurnBaselines
from hippograph.eval.dataset import SCORED_CATEGORIES, Conversation, Question, load_conversations
from hippograph.eval.ingest import (
    DEFAULT_DEDUPE_THRESHOLD,
    DEFAULT_ENTITY_LINK_LIMIT,
    Mode,
    TurnIngestor,
)
from hippograph.eval.links import LINKS_OFF, LINKS_ON, count_links
from hippograph.eval.metrics import DEFAULT_KS, Hit, QuestionResult
from hippograph.store import HybridSearch, memory_namespace, resolve_embeddings
from hippograph.store.extras import ExtendedStore
from hippograph.store.links import LinkExpansion, link_expansion

logger = logging.getLogger(__name__)

OURS = "hippograph"
"""Name of our system in results and reports."""


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """What one evaluation run does.

    Attributes:
        data: Folder of LoCoMo-shaped `*.json` conversations.
        conversations: Only these conversation ids (file stems); `None` for all.
        mode: `"verbatim"` (no LLM at ingest) or `"extract"` (the remember subgraph).
        ks: The k of recall@k (1, 5, 10 and 20 are always included).
        baselines: Also run the raw-turn baselines (BM25, dense, RRF).
        model: `provider:model` that answers and judges; `None` scores retrieval only.
        extract_model: `provider:model` that extracts and reconciles memories in extract
            mode (required there; unused in verbatim mode).
        embeddings: Embedder spec (`"local"` by default) or an `Embeddings` instance.
        store: Where memories go. `None` (default): a fresh SQLite file per conversation in a
            temporary folder. A `postgresql://` URL (or a SQLite path): that store, each
            conversation in its own namespace (user `eval-<run>-<conversation>`), erased
            after the run.
        hybrid: Store search settings (`None`: pure vector search, for ablations).
        expand_links: Whether our searches follow links (`None`: no); default the shipped
            `MEMORY_LINKS`.
        compare_links: Also ask every question with links off and on (`expand_links`, or
            the default `LinkExpansion`), on the same stores, for the report's
            `link_expansion` section.
        entity_link_limit: Ingest's `Context.entity_link_limit` (0: no entity links).
        dedupe_threshold: Exact cosine at which a verbatim turn merges into a stored memory.
        langsmith: Run as a LangSmith experiment (`None`: when `LANGSMITH_API_KEY` is set).
        upload_results: Upload the LangSmith experiment (False keeps it local).
        progress: Show progress bars.
        sessions: Only the first this many sessions of each conversation, and the questions
            answered in them (`None`: all) — a slice for model-driven ingest.
    """

    data: Path
    conversations: tuple[str, ...] | None = None
    mode: Mode = "verbatim"
    ks: tuple[int, ...] = DEFAULT_KS
    baselines: bool = False
    model: str | None = None
    extract_model: str | None = None
    embeddings: str | Embeddings = "local"
    store: str | None = None
    hybrid: HybridSearch | None = MEMORY_SEARCH
    expand_links: LinkExpansion | None = MEMORY_LINKS
    compare_links: bool = False
    entity_link_limit: int = DEFAULT_ENTITY_LINK_LIMIT
    dedupe_threshold: float = DEFAULT_DEDUPE_THRESHOLD
    langsmith: bool | None = None
    upload_results: bool = True
    progress: bool = True
    sessions: int | None = None

    @property
    def all_ks(self) -> tuple[int, ...]:
        """The k to report: the requested ones plus DESIGN §7's 1, 5, 10, 20."""
        return tuple(sorted(set(self.ks) | set(DEFAULT_KS)))

    @property
    def links_on(self) -> LinkExpansion:
        """The expansion the "links on" variant uses."""
        return self.expand_links or LinkExpansion()


@dataclass(slots=True)
class EvalResults:
    """Everything measured in one run: per-system question results, latencies, counts."""

    config: EvalConfig
    results: dict[str, list[QuestionResult]] = field(default_factory=dict)
    ingest_latency_s: list[float] = field(default_factory=list)
    search_latency_s: list[float] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, int | None] = field(default_factory=dict)
    """Links ingest made, per conversation (`None`: the store keeps none)."""
    backend: str = "SQLite"
    """The storage back end the memories lived in (`hippograph.backends.backend_name`)."""
    adversarial: list[QuestionResult] = field(default_factory=list)
    wall_s: float = 0.0
    experiment: str | None = None
    traced_as: str | None = None
    """The OpenTelemetry experiment (`session.id` of its spans) when tracing was on."""


class SharedEmbeddings(Embeddings):
    """A content-hash cache around an embedder, shared by our store and the baselines, so a
    text (a turn, a question) is embedded once per run whoever asks for it first."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.dims = getattr(inner, "dims", None)
        self.model_name = getattr(inner, "model_name", type(inner).__name__)
        self._cache: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed `texts`, computing only those not seen before."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}
        if missing:
            vectors = self.inner.embed_documents(list(missing.values()))
            with self._lock:
                self._cache.update(zip(missing, vectors, strict=True))
        with self._lock:
            return [self._cache[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (same cache as documents: the local model embeds both alike)."""
        return self.embed_documents([text])[0]


@dataclass(slots=True)
class ConversationRun:
    """One conversation ingested into its own fresh store."""

    conversation: Conversation
    store: BaseStore
    baselines: RawTurnBaselines | None
    ingest_latency_s: list[float]
    ops: Counter[str]
    compare_links: LinkExpansion | None = None
    """Also search with links off and with this expansion (see `EvalConfig.compare_links`)."""
    user: str = ""
    """Whose memories, when not the conversation id (a store shared by the run)."""

    @property
    def user_id(self) -> str:
        """Whose memories: the conversation id (or `user`, in a shared store)."""
        return self.user or self.conversation.id

    def search(
        self, question: str, limit: int, *, links: LinkExpansion | bool | None = True
    ) -> tuple[list[Hit], float]:
        """Our hits for `question` and the seconds the search took; `links` is the store's
        own setting (`True`), none (`None`) or an expansion to follow."""
        scope: AbstractContextManager[None] = (
            nullcontext() if links is True else link_expansion(links or None)
        )
        start = time.perf_counter()
        with scope:
            items = self.store.search(memory_namespace(self.user_id), query=question, limit=limit)
        elapsed = time.perf_counter() - start
        hits = []
        for item in items:
            via = getattr(item, "via", None)
            hits.append(
                Hit(
                    key=item.key,
                    score=item.score,
                    message_ids=tuple((item.value.get("source") or {}).get("message_ids") or ()),
                    content=str(item.value.get("content", "")),
                    at=item.value.get("timestamp"),
                    via=str(via["key"]) if isinstance(via, dict) else None,
                )
            )
        return hits, elapsed


def ingest_conversation(
    conversation: Conversation,
    ingest: TurnIngestor,
    *,
    progress: bool,
    user_id: str | None = None,
) -> tuple[list[float], Counter[str]]:
    """Feed every session's turns, in order, through the remember graph (as `user_id`,
    default the conversation id); return per-turn latencies and the count of each
    operation."""
    latencies: list[float] = []
    ops: Counter[str] = Counter()
    bar = tqdm(
        total=len(conversation.turns),
        desc=f"ingest {conversation.id}",
        unit="turn",
        disable=not progress,
        leave=False,
    )
    with bar:
        for session in conversation.sessions:
            previous = None
            for turn in session.turns:
                start = time.perf_counter()
                done = ingest(
                    user_id or conversation.id,
                    previous,
                    turn,
                    session.at,
                    thread_id=f"{conversation.id}/session_{session.number}",
                )
                latencies.append(time.perf_counter() - start)
                ops.update(op.op for op in done)
                previous = turn
                bar.update()
    return latencies, ops


def _extract_model(config: EvalConfig) -> BaseChatModel | None:
    """The chat model of extract mode (`None` in verbatim mode)."""
    if config.mode != "extract":
        return None
    if config.extract_model is None:
        raise ValueError("extract mode needs a model: set HIPPOGRAPH_MODEL or pass --model")
    from hippograph.config import Settings
    from hippograph.memory.chat_models import resolve_chat_model

    return resolve_chat_model(config.extract_model, base_url=Settings.from_env().base_url)


StoreFor = Callable[[Conversation], tuple[BaseStore, str]]
"""Where one conversation's memories go: a store and the user id they belong to."""


@contextmanager
def _fresh_files(config: EvalConfig, embeddings: Embeddings) -> Iterator[StoreFor]:
    """A fresh SQLite file per conversation, in a temporary folder deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="hippograph-eval-") as folder, ExitStack() as stack:

        def fresh(conversation: Conversation) -> tuple[BaseStore, str]:
            store = stack.enter_context(
                open_store(
                    Path(folder) / f"{conversation.id}.db",
                    embeddings=embeddings,
                    durability="normal",
                    hybrid=config.hybrid,
                    expand_links=config.expand_links,
                )
            )
            return store, conversation.id

        yield fresh


@contextmanager
def _shared_store(config: EvalConfig, target: str, embeddings: Embeddings) -> Iterator[StoreFor]:
    """One store at `target`, a namespace per conversation, erased when the run ends."""
    options: dict[str, Any] = {"expand_links": config.expand_links, "hybrid": config.hybrid}
    if not is_postgres_url(target):
        options.update(durability="normal")
    run = f"eval-{uuid.uuid4().hex[:8]}"
    users: list[str] = []
    with open_store(target, embeddings=embeddings, **options) as store:

        def shared(conversation: Conversation) -> tuple[BaseStore, str]:
            users.append(f"{run}-{conversation.id}")
            return store, users[-1]

        try:
            yield shared
        finally:
            for user in users:
                _erase(store, user)


def _erase(store: BaseStore, user: str) -> None:
    """Remove one evaluation user's memories (and, on our stores, every trace of them)."""
    if isinstance(store, ExtendedStore):
        store.purge(memory_namespace(user), compact=False)
        return
    while found := store.search(memory_namespace(user), limit=500):
        store.batch([PutOp(item.namespace, item.key, None) for item in found])


@contextmanager
def open_runs(
    config: EvalConfig, conversations: Sequence[Conversation], embeddings: Embeddings
) -> Iterator[list[ConversationRun]]:
    """Ingest each conversation into a fresh store (or its own namespace of `config.store`);
    everything is deleted on exit."""
    dims = int(getattr(embeddings, "dims", None) or len(embeddings.embed_query("probe")))
    extract_model = _extract_model(config)
    stores = (
        _fresh_files(config, embeddings)
        if config.store is None
        else _shared_store(config, config.store, embeddings)
    )
    with stores as store_for:
        runs = []
        for conversation in conversations:
            store, user = store_for(conversation)
            ingest = TurnIngestor(
                store,
                model=extract_model,
                dedupe_threshold=config.dedupe_threshold,
                entity_link_limit=config.entity_link_limit,
            )
            latencies, ops = ingest_conversation(
                conversation, ingest, progress=config.progress, user_id=user
            )
            baselines = (
                RawTurnBaselines(conversation.turns, embeddings, dims) if config.baselines else None
            )
            compare = config.links_on if config.compare_links else None
            runs.append(
                ConversationRun(conversation, store, baselines, latencies, ops, compare, user)
            )
        yield runs


def known_evidence(conversation: Conversation, question: Question) -> tuple[str, ...]:
    """The question's evidence ids that exist in the conversation (a few dataset ids do not)."""
    ids = {turn.dia_id for turn in conversation.turns}
    return tuple(e for e in question.evidence if e in ids)


Answerer = Callable[[Question, list[Hit]], dict[str, Any]]


def ask(
    run: ConversationRun, question: Question, limit: int, answerer: Answerer | None = None
) -> dict[str, QuestionResult]:
    """Ask `question` of our store (and the baselines); `{system: result}`."""
    evidence = known_evidence(run.conversation, question)
    hits, elapsed = run.search(question.question, limit)
    ours = QuestionResult(
        run.conversation.id,
        question.question,
        question.category,
        evidence,
        hits,
        latency_s=elapsed,
        reference=question.answer,
    )
    if answerer is not None:
        graded = answerer(question, hits)
        ours.answer = graded.get("answer")
        ours.judge = graded.get("correct")
        ours.abstained = graded.get("abstained")
        ours.context_tokens = graded.get("context_tokens")
    results = {OURS: ours}
    if run.compare_links is not None and question.category in SCORED_CATEGORIES:
        for name, links in ((LINKS_OFF, None), (LINKS_ON, run.compare_links)):
            found, _ = run.search(question.question, limit, links=links)
            results[name] = QuestionResult(
                run.conversation.id, question.question, question.category, evidence, found
            )
    if run.baselines is not None and question.category in SCORED_CATEGORIES:
        for name, found in run.baselines.search(question.question, limit).items():
            results[name] = QuestionResult(
                run.conversation.id, question.question, question.category, evidence, found
            )
    return results


def record(results: EvalResults, answered: dict[str, QuestionResult]) -> None:
    """Add one question's results to the run's tallies."""
    ours = answered[OURS]
    if ours.category not in SCORED_CATEGORIES:
        results.adversarial.append(ours)
        return
    results.search_latency_s.append(ours.latency_s)
    for name, result in answered.items():
        results.results.setdefault(name, []).append(result)


def questions_of(conversation: Conversation, with_model: bool) -> list[Question]:
    """The questions to ask: categories 1–4, plus adversarial ones when a model answers."""
    return [
        q
        for q in conversation.questions
        if q.category in SCORED_CATEGORIES or (with_model and q.category == 5)
    ]


def run_locomo(config: EvalConfig, answerer: Answerer | None = None) -> EvalResults:
    """Run the evaluation described by `config` (see the module docstring)."""
    from hippograph.eval import tracing
    from hippograph.eval.spans import Experiment

    started = time.perf_counter()
    experiment = Experiment.start(config)
    conversations = load_conversations(config.data, config.conversations)
    if config.sessions is not None:
        conversations = [c.first_sessions(config.sessions) for c in conversations]
    embeddings = SharedEmbeddings(resolve_embeddings(config.embeddings))
    results = EvalResults(config)
    for name in (OURS, *(BASELINES if config.baselines else ())):
        results.results[name] = []
    limit = max(config.all_ks)
    with open_runs(config, conversations, embeddings) as runs:
        for run in runs:
            results.ingest_latency_s.extend(run.ingest_latency_s)
            results.ops.update(run.ops)
            results.conversations.append(
                {"id": run.conversation.id, "turns": len(run.conversation.turns), **run.ops}
            )
            results.links[run.conversation.id] = count_links(run.store, run.user_id)
            results.backend = backend_name(run.store)
        if tracing.enabled(config):
            results.experiment = tracing.run_experiment(
                config, runs, limit, answerer, results, ask=experiment.ask
            )
        else:
            pairs = [
                (run, q) for run in runs for q in questions_of(run.conversation, bool(answerer))
            ]
            for run, question in tqdm(
                pairs, desc="questions", unit="q", disable=not config.progress
            ):
                record(results, experiment.ask(run, question, limit, answerer))
    results.wall_s = time.perf_counter() - started
    experiment.finish(results)
    results.traced_as = experiment.name if experiment.traced else None
    return results
