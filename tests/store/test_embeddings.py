"""The local embedder: offline, 384-d, unit-norm, batch-consistent and thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hippograph.store import LocalEmbeddings, resolve_embeddings


def test_vectors_are_unit_and_384_dimensional(local_embeddings: LocalEmbeddings) -> None:
    vectors = np.array(local_embeddings.embed_documents(["hello", "a much longer sentence " * 50]))
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_results(local_embeddings: LocalEmbeddings) -> None:
    texts = [f"sentence {i} " + "word " * (i % 9) for i in range(40)]
    batched = np.array(local_embeddings.embed_documents(texts))
    single = np.array([local_embeddings.embed_query(t) for t in texts])
    assert np.allclose(batched, single, atol=1e-4)


def test_similarity_reflects_meaning(local_embeddings: LocalEmbeddings) -> None:
    query = np.array(local_embeddings.embed_query("What tools do I use?"))
    docs = np.array(
        local_embeddings.embed_documents(["I work with NeoVim", "My sister lives in Paris"])
    )
    scores = docs @ query
    assert scores[0] > scores[1]


def test_thread_safe(local_embeddings: LocalEmbeddings) -> None:
    texts = [f"text number {i}" for i in range(16)]
    expected = np.array(local_embeddings.embed_documents(texts))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(local_embeddings.embed_query, texts))
    assert np.allclose(np.array(results), expected, atol=1e-4)


def test_empty_and_bad_input(local_embeddings: LocalEmbeddings) -> None:
    assert local_embeddings.embed_documents([]) == []
    with pytest.raises(TypeError):
        local_embeddings.embed_documents([None])  # type: ignore[list-item]


def test_resolve_embeddings() -> None:
    assert isinstance(resolve_embeddings("local"), LocalEmbeddings)
    assert resolve_embeddings("local") is resolve_embeddings("local")  # one model per process
    emb = LocalEmbeddings()
    assert resolve_embeddings(emb) is emb
    wrapped = resolve_embeddings(lambda texts: [[1.0, 0.0] for _ in texts])
    assert wrapped.embed_query("x") == [1.0, 0.0]
    with pytest.raises(ValueError, match="Cannot load embeddings"):
        resolve_embeddings("nosuchprovider:model")
    with pytest.raises(TypeError):
        resolve_embeddings(42)  # type: ignore[arg-type]
