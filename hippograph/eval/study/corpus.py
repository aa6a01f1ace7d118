"""The study's data: each conversation's memories as the real verbatim ingest makes them.

Core pieces:
    - `StudyMemory`: one stored memory (text, context, time, thread, provenance, order).
    - `StudyConversation`: a conversation's memories, their vectors and keyword index, and
      its scored questions — everything a ranking needs, held in memory.
    - `load_corpus`: ingest every conversation once through `TurnIngestor` (the agent's
      remember graph, exactly as `hippograph eval locomo` does), read the memories back,
      and cache them as JSON so later runs skip the ingest.

Vectors come from the store's embedder through `DiskCachedEmbeddings`, so the thousands of
rankings the study scores never embed a text twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from hippograph.eval.dataset import SCORED_CATEGORIES, Conversation, Question
from hippograph.store.ranking.in_memory import InMemoryKeywords

logger = logging.getLogger(__name__)

CORPUS_VERSION = 1
"""Bump when the way memories are made changes, so cached corpora are rebuilt."""


@dataclass(frozen=True, slots=True)
class StudyMemory:
    """One memory as the store holds it (the fields ranking reads)."""

    key: str
    content: str
    context: str
    timestamp: str | None
    thread: str | None
    message_ids: tuple[str, ...]
    order: int
    """Position in the order memories were written (turn order for verbatim ingest)."""


@dataclass(slots=True)
class StudyConversation:
    """One conversation, ready to rank: memories, vectors, keyword index, questions."""

    conversation: Conversation
    memories: list[StudyMemory]
    vectors: np.ndarray
    """Unit vectors of the memories' `content`, `(n, dims)` float32."""
    keywords: InMemoryKeywords
    """Slots `content`, `context` (the memory store's keyword fields)."""
    questions: list[Question]
    query_vectors: np.ndarray
    evidence: list[np.ndarray] = field(default_factory=list)
    """Per question, a boolean mask of the memories covering an evidence turn."""

    @property
    def id(self) -> str:
        """The conversation id."""
        return self.conversation.id


def _digest(conversation: Conversation) -> str:
    text = json.dumps(
        [[t.dia_id, t.speaker, t.text] for t in conversation.turns], ensure_ascii=False
    )
    return hashlib.sha256(f"{CORPUS_VERSION}:{text}".encode()).hexdigest()[:16]


def _ingest(conversation: Conversation, embeddings: Embeddings) -> list[StudyMemory]:
    """Ingest `conversation` verbatim through the remember graph into a fresh store and
    read every memory back, in write order."""
    from hippograph.backends import open_store
    from hippograph.eval.ingest import TurnIngestor
    from hippograph.eval.runner import ingest_conversation
    from hippograph.store import memory_namespace

    with tempfile.TemporaryDirectory(prefix="hippograph-study-") as folder:
        db = Path(folder) / "study.db"
        with open_store(db, embeddings=embeddings, durability="normal") as store:
            ingest_conversation(conversation, TurnIngestor(store), progress=False)
            items = store.search(memory_namespace(conversation.id), limit=100_000)
    items.sort(key=lambda item: (item.created_at, item.key))
    memories = []
    for order, item in enumerate(items):
        source = item.value.get("source") or {}
        memories.append(
            StudyMemory(
                key=item.key,
                content=str(item.value.get("content", "")),
                context=str(item.value.get("context") or ""),
                timestamp=item.value.get("timestamp"),
                thread=source.get("thread_id"),
                message_ids=tuple(source.get("message_ids") or ()),
                order=order,
            )
        )
    return memories


def _memories(
    conversation: Conversation, embeddings: Embeddings, cache: Path | None
) -> list[StudyMemory]:
    path = cache / f"memories-{conversation.id}-{_digest(conversation)}.json" if cache else None
    if path is not None and path.is_file():
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [StudyMemory(**{**row, "message_ids": tuple(row["message_ids"])}) for row in rows]
    logger.info("ingesting conversation %s (%d turns)", conversation.id, len(conversation.turns))
    memories = _ingest(conversation, embeddings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(m) for m in memories]), encoding="utf-8")
    return memories


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


def load_corpus(
    conversations: list[Conversation], embeddings: Embeddings, cache: Path | None
) -> list[StudyConversation]:
    """Every conversation's memories (ingested once, then cached in `cache`), vectors,
    keyword index and scored questions (categories 1–4 with evidence in the conversation)."""
    corpus = []
    for conversation in conversations:
        memories = _memories(conversation, embeddings, cache)
        vectors = _unit(embeddings.embed_documents([m.content for m in memories]))
        keywords = InMemoryKeywords({n: [m.content, m.context] for n, m in enumerate(memories)})
        dia_ids = {turn.dia_id for turn in conversation.turns}
        questions = [
            q
            for q in conversation.questions
            if q.category in SCORED_CATEGORIES and set(q.evidence) & dia_ids
        ]
        query_vectors = _unit([embeddings.embed_query(q.question) for q in questions])
        study = StudyConversation(
            conversation, memories, vectors, keywords, questions, query_vectors
        )
        for question in questions:
            wanted = set(question.evidence)
            study.evidence.append(np.asarray([bool(wanted & set(m.message_ids)) for m in memories]))
        corpus.append(study)
    return corpus
