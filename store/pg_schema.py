"""hippograph's tables beside LangGraph's `store` / `store_vectors` in PostgreSQL, and safe setup.

Core pieces:
    - `PG_MIGRATIONS`: append-only DDL for `hippograph_history` (the audit trail, written by a
      trigger on `store` so every change and its history row commit together),
      `hippograph_meta`, `hippograph_migration_progress` (resumable `hippograph migrate`) and
      `hippograph_links` (links between items of a namespace, audited by their own trigger).
    - `setup_lock(conn)`: a database-wide advisory lock that makes `setup()` safe when several
      processes start at once against a new database.
    - `apply_migrations(conn)`: run what is pending, under that lock.

Why triggers: LangGraph's `PostgresStore` writes `store` with its own SQL. Statement-level
triggers (migration 2) record the old and new values, from the statement's transition tables,
inside the very statement that changes the rows, so the history can never disagree with the
data, whoever wrote it (our store, a plain `PostgresStore` in another process, or the TTL
sweeper), and a bulk load of thousands of rows costs one history INSERT, not one per row.
Provenance and "do not record" arrive as transaction-local settings (`hippograph.source`,
`hippograph.history`).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Connection
from psycopg.rows import tuple_row

from hippograph.store.errors import StoreConfigError

logger = logging.getLogger(__name__)

SETUP_LOCK_ID = zlib.crc32(b"hippograph.setup")
"""Advisory lock key every hippograph setup (store and checkpointer) takes on a database."""

SOURCE_SETTING = "hippograph.source"
"""Transaction-local setting: JSON provenance of the writes in the transaction."""

HISTORY_SETTING = "hippograph.history"
"""Transaction-local setting: `off` stops the trigger recording (used by `hippograph migrate`,
which copies the source's own history instead)."""

PG_MIGRATIONS: tuple[str, ...] = (
    # 0: the audit trail, recorded by a trigger in the writing statement's transaction
    """
    CREATE TABLE IF NOT EXISTS hippograph_history (
        id BIGSERIAL PRIMARY KEY,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        op TEXT NOT NULL,
        old JSONB,
        new JSONB,
        at TIMESTAMPTZ NOT NULL DEFAULT now(),
        source JSONB
    );
    CREATE INDEX IF NOT EXISTS hippograph_history_item_idx
        ON hippograph_history (prefix text_pattern_ops, key);
    CREATE OR REPLACE FUNCTION hippograph_record_history() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        explicit JSONB := nullif(current_setting('hippograph.source', true), '')::jsonb;
    BEGIN
        IF coalesce(current_setting('hippograph.history', true), '') = 'off' THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            VALUES (
                OLD.prefix, OLD.key,
                CASE WHEN OLD.expires_at IS NOT NULL AND OLD.expires_at <= now()
                     THEN 'EXPIRE' ELSE 'DELETE' END,
                OLD.value, NULL, explicit
            );
        ELSE
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            VALUES (
                NEW.prefix, NEW.key,
                CASE WHEN TG_OP = 'INSERT' THEN 'ADD' ELSE 'UPDATE' END,
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.value END,
                NEW.value,
                coalesce(
                    explicit,
                    CASE WHEN jsonb_typeof(NEW.value -> 'source') = 'object'
                         THEN NEW.value -> 'source' END
                )
            );
        END IF;
        RETURN NULL;
    END
    $fn$;
    DROP TRIGGER IF EXISTS hippograph_history_write ON store;
    CREATE TRIGGER hippograph_history_write AFTER INSERT OR DELETE ON store
        FOR EACH ROW EXECUTE FUNCTION hippograph_record_history();
    DROP TRIGGER IF EXISTS hippograph_history_update ON store;
    CREATE TRIGGER hippograph_history_update AFTER UPDATE ON store
        FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value)
        EXECUTE FUNCTION hippograph_record_history();
    CREATE TABLE IF NOT EXISTS hippograph_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS hippograph_migration_progress (
        source TEXT PRIMARY KEY,
        items_after BIGINT NOT NULL DEFAULT 0,
        history_after BIGINT NOT NULL DEFAULT 0,
        items_copied BIGINT NOT NULL DEFAULT 0,
        history_copied BIGINT NOT NULL DEFAULT 0,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        finished_at TIMESTAMPTZ
    )
    """,
    # 1: links between items of one namespace, audited by a trigger like the items
    """
    CREATE TABLE IF NOT EXISTS hippograph_links (
        prefix TEXT NOT NULL,
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        relation TEXT NOT NULL,
        weight DOUBLE PRECISION NOT NULL CHECK (weight >= 0 AND weight <= 1),
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (prefix, src, dst, relation),
        CHECK (src <> dst),
        FOREIGN KEY (prefix, src) REFERENCES store (prefix, key) ON DELETE CASCADE,
        FOREIGN KEY (prefix, dst) REFERENCES store (prefix, key) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS hippograph_links_dst_idx ON hippograph_links (prefix, dst);
    CREATE INDEX IF NOT EXISTS hippograph_links_prefix_idx
        ON hippograph_links (prefix text_pattern_ops);
    CREATE OR REPLACE FUNCTION hippograph_record_link() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        explicit JSONB := nullif(current_setting('hippograph.source', true), '')::jsonb;
    BEGIN
        IF coalesce(current_setting('hippograph.history', true), '') = 'off' THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            VALUES (
                OLD.prefix, OLD.src, 'UNLINK',
                jsonb_build_object('dst', OLD.dst, 'relation', OLD.relation, 'weight', OLD.weight),
                NULL, explicit
            );
        ELSE
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            VALUES (
                NEW.prefix, NEW.src, 'LINK',
                CASE WHEN TG_OP = 'UPDATE' THEN jsonb_build_object(
                    'dst', OLD.dst, 'relation', OLD.relation, 'weight', OLD.weight) END,
                jsonb_build_object('dst', NEW.dst, 'relation', NEW.relation, 'weight', NEW.weight),
                explicit
            );
        END IF;
        RETURN NULL;
    END
    $fn$;
    DROP TRIGGER IF EXISTS hippograph_links_write ON hippograph_links;
    CREATE TRIGGER hippograph_links_write AFTER INSERT OR DELETE ON hippograph_links
        FOR EACH ROW EXECUTE FUNCTION hippograph_record_link();
    DROP TRIGGER IF EXISTS hippograph_links_update ON hippograph_links;
    CREATE TRIGGER hippograph_links_update AFTER UPDATE ON hippograph_links
        FOR EACH ROW WHEN (OLD.weight IS DISTINCT FROM NEW.weight)
        EXECUTE FUNCTION hippograph_record_link();
    """,
    # 2: item history per statement, from transition tables: one INSERT per write, however
    # many rows it changes (a bulk load no longer runs a PL/pgSQL call per row)
    """
    DROP TRIGGER IF EXISTS hippograph_history_write ON store;
    DROP TRIGGER IF EXISTS hippograph_history_update ON store;
    DROP FUNCTION IF EXISTS hippograph_record_history();
    CREATE OR REPLACE FUNCTION hippograph_history_source(item JSONB) RETURNS JSONB
    LANGUAGE sql STABLE AS $fn$
        SELECT coalesce(
            nullif(current_setting('hippograph.source', true), '')::jsonb,
            CASE WHEN jsonb_typeof(item -> 'source') = 'object' THEN item -> 'source' END
        )
    $fn$;
    CREATE OR REPLACE FUNCTION hippograph_record_inserts() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        IF coalesce(current_setting('hippograph.history', true), '') <> 'off' THEN
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            SELECT n.prefix, n.key, 'ADD', NULL, n.value, hippograph_history_source(n.value)
            FROM new_rows n;
        END IF;
        RETURN NULL;
    END
    $fn$;
    CREATE OR REPLACE FUNCTION hippograph_record_updates() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        IF coalesce(current_setting('hippograph.history', true), '') <> 'off' THEN
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            SELECT n.prefix, n.key, 'UPDATE', o.value, n.value, hippograph_history_source(n.value)
            FROM new_rows n JOIN old_rows o ON o.prefix = n.prefix AND o.key = n.key
            WHERE o.value IS DISTINCT FROM n.value;
        END IF;
        RETURN NULL;
    END
    $fn$;
    CREATE OR REPLACE FUNCTION hippograph_record_deletes() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        IF coalesce(current_setting('hippograph.history', true), '') <> 'off' THEN
            INSERT INTO hippograph_history (prefix, key, op, old, new, source)
            SELECT o.prefix, o.key,
                CASE WHEN o.expires_at IS NOT NULL AND o.expires_at <= now()
                     THEN 'EXPIRE' ELSE 'DELETE' END,
                o.value, NULL, nullif(current_setting('hippograph.source', true), '')::jsonb
            FROM old_rows o;
        END IF;
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER hippograph_history_insert AFTER INSERT ON store
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION hippograph_record_inserts();
    CREATE TRIGGER hippograph_history_update AFTER UPDATE ON store
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION hippograph_record_updates();
    CREATE TRIGGER hippograph_history_delete AFTER DELETE ON store
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION hippograph_record_deletes();
    """,
    # 3: the keyword index of hybrid search, per tenant group (`store.pg_keywords`); the
    # same four tables as SQLite. A document goes with its item (FK cascade); its postings
    # and the group statistics follow its rows through statement triggers, so a delete by
    # any client (ours, a plain `PostgresStore`, the TTL sweep, an erasure) keeps them
    # exact. (Postings have no FK: a per-row check cost a third of a bulk load's time.)
    """
    CREATE TABLE IF NOT EXISTS hippograph_keyword_docs (
        id BIGSERIAL PRIMARY KEY,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        grp TEXT NOT NULL,
        len0 INTEGER NOT NULL, len1 INTEGER NOT NULL,
        len2 INTEGER NOT NULL, len3 INTEGER NOT NULL,
        terms TEXT NOT NULL,
        UNIQUE (prefix, key),
        FOREIGN KEY (prefix, key) REFERENCES store (prefix, key) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS hippograph_keyword_docs_grp_idx
        ON hippograph_keyword_docs (grp text_pattern_ops);
    CREATE TABLE IF NOT EXISTS hippograph_keyword_postings (
        grp TEXT NOT NULL,
        term TEXT NOT NULL,
        impact DOUBLE PRECISION NOT NULL,
        doc_id BIGINT NOT NULL,
        PRIMARY KEY (grp, term, impact, doc_id)
    );
    CREATE INDEX IF NOT EXISTS hippograph_keyword_postings_doc_idx
        ON hippograph_keyword_postings (doc_id);
    CREATE TABLE IF NOT EXISTS hippograph_keyword_terms (
        grp TEXT NOT NULL,
        term TEXT NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (grp, term)
    );
    CREATE TABLE IF NOT EXISTS hippograph_keyword_groups (
        grp TEXT PRIMARY KEY,
        docs INTEGER NOT NULL,
        len0 BIGINT NOT NULL, len1 BIGINT NOT NULL, len2 BIGINT NOT NULL, len3 BIGINT NOT NULL
    );
    CREATE OR REPLACE FUNCTION hippograph_keyword_stats() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        changed TEXT := CASE WHEN TG_OP = 'INSERT' THEN 'new_docs' ELSE 'old_docs' END;
        sign INTEGER := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
    BEGIN
        -- Documents without a term (only stop words) are not counted, as on SQLite.
        EXECUTE format($sql$
            INSERT INTO hippograph_keyword_groups AS g (grp, docs, len0, len1, len2, len3)
            SELECT grp, %2$s * count(*), %2$s * sum(len0), %2$s * sum(len1),
                   %2$s * sum(len2), %2$s * sum(len3)
            FROM %1$I WHERE terms <> ' ' GROUP BY grp ORDER BY grp
            ON CONFLICT (grp) DO UPDATE SET docs = g.docs + EXCLUDED.docs,
                len0 = g.len0 + EXCLUDED.len0, len1 = g.len1 + EXCLUDED.len1,
                len2 = g.len2 + EXCLUDED.len2, len3 = g.len3 + EXCLUDED.len3
        $sql$, changed, sign);
        EXECUTE format($sql$
            INSERT INTO hippograph_keyword_terms AS t (grp, term, df)
            SELECT d.grp, split_part(token, '/', 1), %2$s * count(*)
            FROM %1$I d CROSS JOIN LATERAL string_to_table(btrim(d.terms), ' ') AS token
            WHERE d.terms <> ' ' GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (grp, term) DO UPDATE SET df = t.df + EXCLUDED.df
        $sql$, changed, sign);
        IF sign < 0 THEN
            EXECUTE format($sql$
                DELETE FROM hippograph_keyword_postings p USING %1$I d WHERE p.doc_id = d.id
            $sql$, changed);
            EXECUTE format($sql$
                DELETE FROM hippograph_keyword_groups g USING (SELECT DISTINCT grp FROM %1$I) d
                WHERE g.grp = d.grp AND g.docs <= 0
            $sql$, changed);
            EXECUTE format($sql$
                DELETE FROM hippograph_keyword_terms t USING (
                    SELECT DISTINCT d.grp, split_part(token, '/', 1) AS term
                    FROM %1$I d CROSS JOIN LATERAL string_to_table(btrim(d.terms), ' ') AS token
                    WHERE d.terms <> ' '
                ) gone
                WHERE t.grp = gone.grp AND t.term = gone.term AND t.df <= 0
            $sql$, changed);
        END IF;
        RETURN NULL;
    END
    $fn$;
    DROP TRIGGER IF EXISTS hippograph_keyword_docs_insert ON hippograph_keyword_docs;
    CREATE TRIGGER hippograph_keyword_docs_insert AFTER INSERT ON hippograph_keyword_docs
        REFERENCING NEW TABLE AS new_docs
        FOR EACH STATEMENT EXECUTE FUNCTION hippograph_keyword_stats();
    DROP TRIGGER IF EXISTS hippograph_keyword_docs_delete ON hippograph_keyword_docs;
    CREATE TRIGGER hippograph_keyword_docs_delete AFTER DELETE ON hippograph_keyword_docs
        REFERENCING OLD TABLE AS old_docs
        FOR EACH STATEMENT EXECUTE FUNCTION hippograph_keyword_stats();
    """,
)


class SetupLockTimeoutError(TimeoutError):
    """Another process held the setup lock for longer than the timeout."""


@contextmanager
def setup_lock(conn: Connection[Any], *, timeout: float = 120.0) -> Iterator[None]:
    """Hold hippograph's setup advisory lock on `conn`'s database (session level).

    Polls `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a session
    blocked inside a statement keeps a snapshot open, and LangGraph's migrations run
    `CREATE INDEX CONCURRENTLY`, which waits for every older snapshot — the two would wait
    on each other forever.

    Raises:
        SetupLockTimeoutError: the lock stayed taken for `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    with conn.cursor(row_factory=tuple_row) as cur:
        while True:
            row = cur.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK_ID,)).fetchone()
            if row is not None and row[0]:
                break
            if time.monotonic() >= deadline:
                raise SetupLockTimeoutError(
                    f"another process held hippograph's setup lock for {timeout:.0f}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        try:
            yield
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_ID,))


def apply_migrations(conn: Connection[Any]) -> int:
    """Apply pending `PG_MIGRATIONS` on an autocommit `conn` (caller holds `setup_lock`).

    Each migration and its version row commit in one transaction.

    Returns:
        The schema version now in force.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS hippograph_migrations (v INTEGER PRIMARY KEY)")
        row = cur.execute("SELECT coalesce(max(v), -1) FROM hippograph_migrations").fetchone()
        version = int(row[0]) if row is not None else -1
    if version >= len(PG_MIGRATIONS):
        raise StoreConfigError(
            f"database schema version {version} is newer than this hippograph "
            f"({len(PG_MIGRATIONS) - 1}); upgrade hippograph to open it"
        )
    for number in range(version + 1, len(PG_MIGRATIONS)):
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(PG_MIGRATIONS[number])
            cur.execute("INSERT INTO hippograph_migrations (v) VALUES (%s)", (number,))
    return len(PG_MIGRATIONS) - 1


VECTOR_PREFIX_INDEX = "hippograph_vectors_prefix_idx"
"""Index of `store_vectors` by namespace, for searches scoped to a namespace and below it."""


def index_vector_prefixes(conn: Connection[Any]) -> None:
    """Index LangGraph's `store_vectors` by `prefix` (`text_pattern_ops`), if it exists.

    A search covers a namespace and its descendants (`prefix = 'memories.alice' OR prefix LIKE
    'memories.alice.%'`); the table's primary key serves only the first half, so without this
    index PostgreSQL scans every tenant's vectors (measured: a 100-memory user's search took
    8 ms in a 10k store, 67 ms in a 100k one). `store_vectors` appears only once a store opens
    with a vector index, so this runs on every setup; it is idempotent, and `CONCURRENTLY`
    (on an autocommit connection) lets writers go on while a large table is indexed.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT to_regclass('store_vectors') IS NOT NULL, to_regclass(%s) IS NOT NULL",
            (VECTOR_PREFIX_INDEX,),
        ).fetchone()
        if row is None or not row[0] or row[1]:
            return
        concurrently = "CONCURRENTLY " if conn.autocommit else ""
        cur.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {VECTOR_PREFIX_INDEX} "
            "ON store_vectors (prefix text_pattern_ops)"
        )


def check_embedder(conn: Connection[Any], dims: int, name: str) -> None:
    """Refuse vectors of another dimension than the database holds; record the embedder's
    `name` on first use and warn when a later open names another (scores would mix models).

    Raises:
        StoreConfigError: the database holds vectors of another dimension than `dims`.
    """
    stored = vector_dims(conn)
    if stored is not None and stored != dims:
        raise StoreConfigError(
            f"this database holds {stored}-d vectors but the embedder gives {dims}-d; "
            "use the original embedder or another database"
        )
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "INSERT INTO hippograph_meta (key, value) VALUES ('embedder', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = hippograph_meta.value RETURNING value",
            (name,),
        ).fetchone()
    if row is not None and row[0] != name:
        logger.warning(
            "this database was indexed with %s, now opened with %s: scores mix two models",
            row[0],
            name,
        )


def vector_dims(conn: Connection[Any]) -> int | None:
    """Dimension of `store_vectors.embedding` in this database, or `None` if it has none."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT a.atttypmod FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass('store_vectors') AND a.attname = 'embedding'"
        ).fetchone()
    return None if row is None or row[0] is None or row[0] < 0 else int(row[0])
