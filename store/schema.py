"""The SQLite schema of `FaissSqliteStore`, as an append-only list of versioned migrations.

Tables:
    - `meta`: key/value facts about the database (embedder dims and name, log floor).
    - `items`: the source of truth: one row per (namespace, key) with its JSON value.
    - `vectors`: float32 unit vectors, one per indexed text of an item, with the text hash.
    - `vector_log`: every vector added or removed, in commit order. FAISS indexes are
      derived caches: a process replays this log to catch up with any writer's commits.
    - `history`: the audit trail — every ADD / UPDATE / DELETE / EXPIRE with old and new value.
    - `fulltext` (2): FTS5 index of each indexed item's texts for hybrid search; dropped by
      migration 4 (its BM25 statistics spanned every tenant).
    - `links` (3): edges between two items of one namespace (`src` → `dst`, a relation and a
      weight); see `links.py`. Both ends share the row's one `prefix` column and are foreign
      keys into `items`, so a link can never join two namespaces (two users) and never
      outlives either end.
    - `keyword_postings`, `keyword_docs`, `keyword_terms`, `keyword_groups` (4): the keyword
      index of hybrid search, with BM25 statistics per namespace group (per tenant); see
      `fulltext.py`. Filled by the store (the text analysis is Python), not by the migration:
      a database that had an FTS5 index keeps its fields and is re-indexed on next open.
    - `group_floors` (5): per-group fences of the vector log, raised by erasures (keyed by a
      hash of the group, never its name); see `vector_log.py`.

Never edit a shipped migration; append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: core tables
    """
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expires_at REAL,
        ttl_minutes REAL,
        UNIQUE (prefix, key)
    );
    CREATE INDEX IF NOT EXISTS items_updated_idx ON items (prefix, updated_at);
    CREATE INDEX IF NOT EXISTS items_expires_idx ON items (expires_at)
        WHERE expires_at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS vectors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        grp TEXT NOT NULL,
        field TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dim INTEGER NOT NULL,
        blob BLOB NOT NULL,
        UNIQUE (item_id, field)
    );
    CREATE INDEX IF NOT EXISTS vectors_grp_idx ON vectors (grp);
    CREATE INDEX IF NOT EXISTS vectors_hash_idx ON vectors (text_hash);
    CREATE TABLE IF NOT EXISTS vector_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        grp TEXT NOT NULL,
        vector_id INTEGER NOT NULL,
        added INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        op TEXT NOT NULL,
        old TEXT,
        new TEXT,
        at TEXT NOT NULL,
        source TEXT
    );
    CREATE INDEX IF NOT EXISTS history_item_idx ON history (prefix, key);
    """,
    # 2: full-text index for hybrid search (BM25 fused with vector similarity)
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS fulltext USING fts5 (
        f0, f1, f2, f3, tokenize = 'porter unicode61'
    );
    DELETE FROM meta WHERE key = 'fulltext_fields';
    """,
    # 3: links between memories (a memory graph inside one namespace)
    """
    CREATE TABLE IF NOT EXISTS links (
        prefix TEXT NOT NULL,
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        relation TEXT NOT NULL,
        weight REAL NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (prefix, src, dst, relation),
        FOREIGN KEY (prefix, src) REFERENCES items (prefix, key) ON DELETE CASCADE,
        FOREIGN KEY (prefix, dst) REFERENCES items (prefix, key) ON DELETE CASCADE,
        CHECK (src <> dst)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS links_dst_idx ON links (prefix, dst);
    CREATE INDEX IF NOT EXISTS links_relation_idx ON links (prefix, relation);
    """,
    # 4: per-tenant keyword index (BM25 statistics per group) replaces the FTS5 table
    """
    DROP TABLE IF EXISTS fulltext;
    CREATE TABLE IF NOT EXISTS keyword_postings (
        grp TEXT NOT NULL,
        term TEXT NOT NULL,
        impact REAL NOT NULL,
        item_id INTEGER NOT NULL,
        PRIMARY KEY (grp, term, impact, item_id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS keyword_docs (
        item_id INTEGER PRIMARY KEY,
        grp TEXT NOT NULL,
        len0 INTEGER NOT NULL, len1 INTEGER NOT NULL, len2 INTEGER NOT NULL,
        len3 INTEGER NOT NULL,
        terms TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS keyword_docs_grp_idx ON keyword_docs (grp);
    CREATE TABLE IF NOT EXISTS keyword_terms (
        grp TEXT NOT NULL,
        term TEXT NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (grp, term)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS keyword_groups (
        grp TEXT PRIMARY KEY,
        docs INTEGER NOT NULL,
        len0 INTEGER NOT NULL, len1 INTEGER NOT NULL, len2 INTEGER NOT NULL,
        len3 INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value)
        SELECT 'keyword_fields', value FROM meta WHERE key = 'fulltext_fields'
        ON CONFLICT (key) DO NOTHING;
    INSERT INTO meta (key, value)
        SELECT 'keyword_reindex', '1' FROM meta WHERE key = 'fulltext_fields'
        ON CONFLICT (key) DO NOTHING;
    DELETE FROM meta WHERE key = 'fulltext_fields';
    """,
    # 5: per-group fences of the vector log (an erasure reloads only the erased groups)
    """
    CREATE TABLE IF NOT EXISTS group_floors (
        grp_hash TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS group_floors_seq_idx ON group_floors (seq);
    """,
    # 6: the keyword log (which items' keyword rows changed, per group: keyword_cache.py)
    """
    CREATE TABLE IF NOT EXISTS keyword_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        grp TEXT NOT NULL,
        item_id INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS keyword_log_grp_idx ON keyword_log (grp, seq);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """The migration count recorded in the database (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations atomically; return the resulting schema version.

    The caller holds a write transaction (`BEGIN IMMEDIATE`), so two processes opening a
    new file at once apply each migration exactly once.

    Raises:
        RuntimeError: the file was written by a newer hippograph (unknown schema version).
    """
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this hippograph "
            f"({SCHEMA_VERSION}); upgrade hippograph to open it"
        )
    for number in range(version, SCHEMA_VERSION):
        for statement in _statements(MIGRATIONS[number]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    return SCHEMA_VERSION


def _statements(script: str) -> list[str]:
    """Split a migration script on `;` (our scripts hold no literal semicolons)."""
    return [part.strip() for part in script.split(";") if part.strip()]
