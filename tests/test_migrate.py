"""`hippograph migrate`: SQLite → PostgreSQL, no re-embedding, resumable, verified."""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp
from typer.testing import CliRunner

from hippograph.backends import open_store
from hippograph.migrate import app
from hippograph.migration import (
    MissingVectorError,
    TargetNotEmptyError,
    migrate_store,
)
from hippograph.store import FaissSqliteStore, LocalEmbeddings, provenance
from hippograph.store.extras import ExtendedStore

ALICE = ("memories", "alice")
BOB = ("memories", "bob")


@pytest.fixture
def source(tmp_path: Path, local_embeddings: LocalEmbeddings) -> Path:
    """A small real store: two users, an update, a delete, TTLs, unindexed and list fields."""
    path = tmp_path / "memories.db"
    index = {"embed": local_embeddings, "fields": ["content"]}
    with FaissSqliteStore(str(path), index=index) as store:  # type: ignore[arg-type]
        store.put(ALICE, "editor", {"content": "I work with NeoVim", "category": "tools"})
        store.put(ALICE, "food", {"content": "I love Italian food, especially carbonara"})
        store.put(ALICE, "city", {"content": "I live in Berlin", "source": {"thread_id": "t1"}})
        store.put(ALICE, "city", {"content": "I moved to Munich", "source": {"thread_id": "t2"}})
        store.put(ALICE, "pet", {"content": "We adopted a golden retriever named Max"})
        with provenance({"thread_id": "t3"}):
            store.delete(ALICE, "pet")
        store.put(ALICE, "secret", {"content": "Not searchable"}, index=False)
        store.put(ALICE, "hobbies", {"notes": ["I play the violin", "I climb"]}, index=["notes[*]"])
        store.put(ALICE, "later", {"content": "A reminder for next week"}, ttl=60.0)
        store.put(BOB, "sister", {"content": "My sister lives in Paris"})
        store.put(BOB, "brief", {"content": "gone soon"}, ttl=0.001)
        store.link(ALICE, "editor", "food", weight=0.5)
        store.link(ALICE, "city", "editor", "works_in")
        store.link(BOB, "sister", "brief")  # "brief" expires: the link is not migrated
    time.sleep(0.1)  # "brief" expires: it is not migrated
    return path


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_full_migration_copies_items_vectors_and_history(
    source: Path, pg_url: str, local_embeddings: LocalEmbeddings
) -> None:
    report = migrate_store(f"sqlite:///{source}", pg_url)
    assert report.ok, report.verification
    assert (report.items, report.items_copied, report.history_copied) == (7, 7, 14)
    assert report.vectors_reused == 7 and report.vectors_reembedded == 0  # hobbies has two
    assert report.links_copied == 2
    checks = {check.name: (check.expected, check.found) for check in report.verification.checks}
    assert checks == {
        "items": (7, 7),
        "items with vectors": (6, 6),
        "links": (2, 2),
        "history rows": (14, 14),
    }

    with (
        FaissSqliteStore(str(source)) as src,
        open_store(pg_url, embeddings=local_embeddings) as pg,
    ):
        assert pg.search(ALICE, query="text editor", limit=1)[0].key == "editor"
        assert pg.search(ALICE, query="rock climbing", limit=1)[0].key == "hobbies"
        assert pg.search(BOB, query="sibling in France", limit=1)[0].key == "sister"
        assert pg.get(BOB, "brief") is None and pg.get(ALICE, "pet") is None
        found = pg.search(ALICE, query="searchable", limit=10)  # index=False: unscored, last
        assert [(h.key, h.score) for h in found if h.key == "secret"] == [("secret", None)]
        assert found[-1].key == "secret"
        for ns, key in [(ALICE, "editor"), (ALICE, "city"), (BOB, "sister")]:
            before, after = src.get(ns, key), pg.get(ns, key)
            assert before is not None and after is not None
            assert after.value == before.value
            assert after.created_at == before.created_at
            assert after.updated_at == before.updated_at
        assert isinstance(src, ExtendedStore) and isinstance(pg, ExtendedStore)
        assert [(x.src, x.dst, x.relation, x.weight, x.created_at) for x in pg.links(ALICE)] == [
            (x.src, x.dst, x.relation, x.weight, x.created_at) for x in src.links(ALICE)
        ]
        assert pg.links(BOB) == []
        hit = pg.search(ALICE, query="NeoVim", limit=2, filter={"category": "tools"})[0]
        assert hit.key == "editor"
        city = pg.history(ALICE, "city")
        assert [e["op"] for e in city] == ["LINK", "UPDATE", "ADD"]
        assert city[1]["source"] == {"thread_id": "t2"}
        assert pg.history(ALICE, "pet")[0]["source"] == {"thread_id": "t3"}
        assert pg.verify().ok
    later = pg_rows(pg_url, "SELECT expires_at FROM store WHERE key = 'later'")[0][0]
    assert later is not None  # the TTL keeps its source deadline


def test_an_interrupted_migration_resumes_without_duplicates(source: Path, pg_url: str) -> None:
    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "items" and done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate_store(source, pg_url, chunk_size=3, on_progress=interrupt)
    assert pg_rows(pg_url, "SELECT count(*) FROM store")[0][0] == 3
    report = migrate_store(source, pg_url, chunk_size=3)
    assert report.resumed and report.ok
    assert pg_rows(pg_url, "SELECT count(*) FROM store")[0][0] == 7
    assert pg_rows(pg_url, "SELECT count(*) FROM hippograph_history")[0][0] == 14
    assert pg_rows(pg_url, "SELECT count(*) FROM hippograph_links")[0][0] == 2
    again = migrate_store(source, pg_url)
    assert again.already_complete and again.ok and again.items_copied == 7


class _HashEmbeddings(Embeddings):
    """Deterministic 384-d vectors from a text's hash: a fast way to make a big source.
    (The migration copies vectors as bytes, so which model made them does not matter.)"""

    def _vector(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        return np.random.default_rng(seed).standard_normal(384).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def test_a_killed_migration_resumes(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "big.db"
    with FaissSqliteStore(str(path), index={"embed": _HashEmbeddings(), "dims": 384}) as store:
        store.batch(
            [
                PutOp(("memories", f"u{i % 7}"), f"k{i}", {"content": f"fact {i}"})
                for i in range(800)
            ]
        )
    cmd = [sys.executable, "-m", "hippograph.migrate", "--from", str(path), "--to", pg_url]
    proc = subprocess.Popen([*cmd, "--chunk-size", "4"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        copied = 0
        while copied == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            copied = _items_copied(pg_url)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert 0 < copied < 800, "the copy must be killed part-way"
    unfinished = pg_rows(pg_url, "SELECT finished_at FROM hippograph_migration_progress")
    assert unfinished == [(None,)]
    result = CliRunner().invoke(app, ["--from", str(path), "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert "resumed and finished" in result.output and "verified" in result.output
    assert pg_rows(pg_url, "SELECT count(*) FROM store")[0][0] == 800
    assert pg_rows(pg_url, "SELECT count(*) FROM store_vectors")[0][0] == 800
    assert pg_rows(pg_url, "SELECT count(*) FROM hippograph_history")[0][0] == 800


def _items_copied(url: str) -> int:
    if not pg_rows(url, "SELECT to_regclass('hippograph_migration_progress') IS NOT NULL")[0][0]:
        return 0
    return int(
        pg_rows(url, "SELECT coalesce(max(items_copied), 0) FROM hippograph_migration_progress")[0][
            0
        ]
    )


def test_verification_detects_mismatches(source: Path, pg_url: str) -> None:
    assert migrate_store(source, pg_url).ok
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM store WHERE key = 'sister'")
        conn.execute(
            """UPDATE store SET value = '{"content": "I use Emacs"}' WHERE key = 'editor'"""
        )
        conn.execute(
            "UPDATE store_vectors SET embedding = array_fill(0.5, ARRAY[384])::vector "
            "WHERE key = 'food'"
        )
    report = migrate_store(source, pg_url, sample=1000)
    assert not report.ok
    assert {c.name: c.found for c in report.verification.checks if not c.ok} == {
        "items": 6,
        "items with vectors": 5,
    }
    problems = "\n".join(report.verification.mismatches)
    assert "memories/bob/sister: missing in the target" in problems
    assert "memories/alice/editor: value differs" in problems
    assert "memories/alice/food: vector of field 'content' differs" in problems
    result = CliRunner().invoke(app, ["--from", str(source), "--to", pg_url])
    assert result.exit_code == 1 and "verification failed" in result.output


def test_a_target_with_other_data_needs_merge(
    source: Path, pg_url: str, local_embeddings: LocalEmbeddings
) -> None:
    with open_store(pg_url, embeddings=local_embeddings) as pg:
        pg.put(("memories", "carol"), "own", {"content": "Carol's own memory"})
    with pytest.raises(TargetNotEmptyError, match="already holds 1 items"):
        migrate_store(source, pg_url)
    result = CliRunner().invoke(app, ["--from", str(source), "--to", pg_url])
    assert result.exit_code == 2 and "--merge" in result.output
    report = migrate_store(source, pg_url, merge=True)
    assert report.ok
    assert pg_rows(pg_url, "SELECT count(*) FROM store")[0][0] == 8


def test_a_text_without_a_stored_vector_stops_unless_reembedding(source: Path, pg_url: str) -> None:
    with sqlite3.connect(source) as conn:  # e.g. a vector hashed by another version
        conn.execute(
            "UPDATE vectors SET text_hash = 'unknown' WHERE item_id = "
            "(SELECT id FROM items WHERE key = 'editor')"
        )
    with pytest.raises(MissingVectorError, match="I work with NeoVim"):
        migrate_store(source, pg_url)
    report = migrate_store(source, pg_url, reembed_missing=True)
    assert report.ok and report.vectors_reembedded == 1
