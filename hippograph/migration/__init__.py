"""Move a hippograph store from SQLite to PostgreSQL without re-embedding (`hippograph migrate`).

Core pieces:
    - `migrate_store`: copy items, vectors and history; resumable; verified at the end.
    - `MigrationReport` / `Verification`: what was copied and whether the target matches.
    - `StoredVectors`: the `Embeddings` that replays the source's vectors by text hash.
"""

from hippograph.migration.copy import MigrationReport, TargetNotEmptyError, migrate_store
from hippograph.migration.source import SourceError, SqliteSource
from hippograph.migration.vectors import MissingVectorError, StoredVectors
from hippograph.migration.verify import Check, Verification, verify

__all__ = [
    "Check",
    "MigrationReport",
    "MissingVectorError",
    "SourceError",
    "SqliteSource",
    "StoredVectors",
    "TargetNotEmptyError",
    "Verification",
    "migrate_store",
    "verify",
]
