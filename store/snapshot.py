"""On-disk snapshots of FAISS group indexes: a cache that lets a large store reopen in seconds.

Rebuilding an HNSW index from the SQLite vectors runs at a few thousand vectors a second, so
a million-vector group takes minutes. A snapshot is that index on disk, stamped with the
`vector_log` sequence it reflects; opening loads it and replays only later log entries. It is
a cache, never the truth: deleting it loses nothing, and anything doubtful is rebuilt.

Core pieces:
    - `SnapshotDir`: the snapshots of one database, in `<database file>-index/`.
    - `SnapshotHeader`: what a snapshot claims — database id, group, dims, stamps, payload.
    - `SnapshotError`: a snapshot that cannot be used (truncated, corrupt, foreign…).

Layout and guarantees:
    - `<group hash>.json` is the header; it names an immutable payload file
      `<group hash>.<token>.faiss` holding the FAISS index followed by the HNSW tombstone ids.
    - Writes are atomic: payload, then header, each to a temp file that is fsynced and renamed
      (then the directory is fsynced). A reader sees the old snapshot or the new one.
    - Loads check before trusting: the header's format, database id (a snapshot of another
      file is refused), group and dims; the payload's size and CRC-32 are checked in a first
      pass so corrupt bytes never reach FAISS. The caller then checks the stamp against the
      log and, after replay, the vector count and a sample of vectors against SQLite.
    - `content_seq` is the log sequence the payload reflects; `valid_seq >= content_seq` is
      how far the group is known unchanged since, so an idle group is re-stamped by rewriting
      only the header and stays ahead of log compaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np

from hippograph.store.connections import fsync_path

logger = logging.getLogger(__name__)

FORMAT = 1
_CHUNK = 8 << 20
_ORPHAN_AGE_S = 3600.0
"""Temp and unreferenced payload files older than this are leftovers of a crash; younger
ones may belong to a snapshot another process is writing right now."""


class SnapshotError(Exception):
    """A snapshot exists but cannot be used; the caller rebuilds the index from SQLite."""


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """What a snapshot claims about itself (stored as JSON beside the payload)."""

    format: int
    database_id: str
    group: str
    dims: int
    content_seq: int
    """`vector_log` sequence the payload reflects."""
    valid_seq: int
    """Sequence up to which the group is known unchanged since `content_seq`."""
    payload: str
    payload_bytes: int
    index_bytes: int
    crc32: int
    index_meta: dict[str, Any] = field(default_factory=dict)
    """Bookkeeping of the `GroupIndex` (kind, max id, HNSW degree, live count)."""


@dataclass(slots=True)
class PendingSnapshot:
    """A payload written to a temp file, not yet durable or visible (see `SnapshotDir.commit`)."""

    group: str
    temp: Path
    payload: str
    payload_bytes: int
    index_bytes: int
    crc32: int
    index_meta: dict[str, Any]
    content_seq: int


def _well_typed(header: SnapshotHeader) -> bool:
    """JSON gave each field the type it must have, and the payload is a plain file name."""
    numbers = (
        "format",
        "dims",
        "content_seq",
        "valid_seq",
        "payload_bytes",
        "index_bytes",
        "crc32",
    )
    texts = ("database_id", "group", "payload")
    return (
        all(type(getattr(header, name)) is int for name in numbers)
        and all(type(getattr(header, name)) is str for name in texts)
        and isinstance(header.index_meta, dict)
        and Path(header.payload).name == header.payload
    )


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


class _CrcWriter:
    """File writer that keeps a running CRC-32 and byte count."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.crc = 0
        self.size = 0

    def __call__(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.fh.write(data)
        return len(data)


def _crc_of(fh: IO[bytes], size: int) -> int:
    crc, left = 0, size
    while left:
        chunk = fh.read(min(_CHUNK, left))
        if not chunk:
            raise SnapshotError("payload ended early")
        crc = zlib.crc32(chunk, crc)
        left -= len(chunk)
    return crc


class SnapshotDir:
    """The index snapshots of one database.

    Args:
        directory: Where snapshots live (created on the first write).
        database_id: The database's `meta.database_id`; snapshots of other databases are refused.
        dims: Vector dimension; snapshots of another dimension are refused.
    """

    def __init__(self, directory: Path, database_id: str, dims: int) -> None:
        self.directory = directory
        self.database_id = database_id
        self.dims = dims
        self._swept = False

    @staticmethod
    def beside(database_path: str) -> Path | None:
        """The snapshot directory of a SQLite file (`None` for in-memory databases and URIs)."""
        if database_path == ":memory:" or database_path.startswith("file:"):
            return None
        return Path(f"{Path(database_path).expanduser()}-index")

    def _stem(self, group: str) -> str:
        return hashlib.blake2b(group.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()

    def _header_path(self, group: str) -> Path:
        return self.directory / f"{self._stem(group)}.json"

    # ------------------------------------------------------------------ reading

    def read_header(self, group: str) -> SnapshotHeader | None:
        """The header of `group`'s snapshot, `None` if there is none.

        Raises:
            SnapshotError: unreadable, of another format, database, group or dimension.
        """
        path = self._header_path(group)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SnapshotError(f"cannot read {path.name}: {exc}") from exc
        try:
            header = SnapshotHeader(**json.loads(text))
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{path.name} is not a snapshot header: {exc}") from exc
        if not _well_typed(header):
            raise SnapshotError(f"{path.name} has fields of the wrong type")
        if header.format != FORMAT:
            raise SnapshotError(f"snapshot format {header.format}, expected {FORMAT}")
        if header.database_id != self.database_id:
            raise SnapshotError("snapshot belongs to another database")
        if header.group != group or header.dims != self.dims:
            raise SnapshotError(
                f"snapshot is of group {header.group!r} ({header.dims}-d), "
                f"expected {group!r} ({self.dims}-d)"
            )
        if not (0 <= header.content_seq <= header.valid_seq) or not (
            0 < header.index_bytes <= header.payload_bytes
        ):
            raise SnapshotError("snapshot header has inconsistent stamps or sizes")
        return header

    def load(self, group: str) -> tuple[SnapshotHeader, faiss.Index, np.ndarray] | None:
        """`(header, FAISS index, tombstone ids)` of `group`'s snapshot, `None` if there is none.

        The payload is checksummed before FAISS reads a byte of it.

        Raises:
            SnapshotError: the snapshot is foreign, truncated or corrupt.
        """
        header = self.read_header(group)
        if header is None:
            return None
        path = self.directory / header.payload
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size != header.payload_bytes:
                    raise SnapshotError(
                        f"payload is {size:,} bytes, header says {header.payload_bytes:,}"
                    )
                if _crc_of(fh, size) != header.crc32:
                    raise SnapshotError("payload checksum mismatch (corrupt)")
                fh.seek(0)
                reader = faiss.PyCallbackIOReader(fh.read, _CHUNK)  # type: ignore[attr-defined]
                index = faiss.read_index(reader)
                if fh.tell() != header.index_bytes:
                    raise SnapshotError("FAISS index size differs from the header")
                tail = fh.read(header.payload_bytes - header.index_bytes)
        except FileNotFoundError as exc:
            raise SnapshotError(f"payload {header.payload} is missing") from exc
        except (OSError, RuntimeError, MemoryError) as exc:
            raise SnapshotError(f"cannot read payload {header.payload}: {exc}") from exc
        if len(tail) % 8:
            raise SnapshotError("tombstone list is not a whole number of ids")
        return header, index, np.frombuffer(tail, dtype=np.int64).copy()

    # ------------------------------------------------------------------ writing

    def write_payload(
        self,
        group: str,
        index: faiss.Index,
        tombstones: np.ndarray,
        index_meta: dict[str, Any],
        content_seq: int,
    ) -> PendingSnapshot:
        """Stream `index` and `tombstones` to a temp file (the index must not change meanwhile).

        Nothing is visible until `commit`; the slow part (fsync) happens there, outside
        whatever lock keeps the index still.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sweep_once()
        payload = f"{self._stem(group)}.{secrets.token_hex(6)}.faiss"
        temp = self.directory / f"{payload}.tmp"
        try:
            with open(temp, "wb") as fh:
                writer = _CrcWriter(fh)
                sink = faiss.PyCallbackIOWriter(writer, _CHUNK)  # type: ignore[attr-defined]
                faiss.write_index(index, sink)
                index_bytes = writer.size
                writer(np.ascontiguousarray(tombstones, dtype=np.int64).tobytes())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return PendingSnapshot(
            group=group,
            temp=temp,
            payload=payload,
            payload_bytes=writer.size,
            index_bytes=index_bytes,
            crc32=writer.crc,
            index_meta=dict(index_meta),
            content_seq=content_seq,
        )

    def commit(self, pending: PendingSnapshot) -> SnapshotHeader:
        """Make `pending` durable and current (fsync, rename, then swap the header)."""
        try:
            with open(pending.temp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(pending.temp, self.directory / pending.payload)
        except BaseException:
            pending.temp.unlink(missing_ok=True)
            raise
        header = SnapshotHeader(
            format=FORMAT,
            database_id=self.database_id,
            group=pending.group,
            dims=self.dims,
            content_seq=pending.content_seq,
            valid_seq=pending.content_seq,
            payload=pending.payload,
            payload_bytes=pending.payload_bytes,
            index_bytes=pending.index_bytes,
            crc32=pending.crc32,
            index_meta=pending.index_meta,
        )
        previous = self._previous_payload(pending.group)
        self._write_header(header)
        if previous not in (None, header.payload):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / str(previous)).unlink()
        return header

    def discard(self, pending: PendingSnapshot) -> None:
        """Drop a payload that will not be committed."""
        pending.temp.unlink(missing_ok=True)

    def restamp(self, header: SnapshotHeader, valid_seq: int) -> SnapshotHeader:
        """Record that `header`'s group is unchanged up to `valid_seq` (header only)."""
        stamped = replace(header, valid_seq=max(header.valid_seq, valid_seq))
        self._write_header(stamped)
        return stamped

    def remove(self, group: str) -> int:
        """Delete every file of `group`'s snapshot — header, payload and any leftover of a
        crashed writer — e.g. after its vectors were erased, so no copy of them stays on
        disk; returns how many files were deleted."""
        if not self.directory.is_dir():
            return 0
        deleted = 0
        for path in self.directory.glob(f"{self._stem(group)}.*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
        if deleted:
            fsync_path(self.directory)
        return deleted

    def groups(self) -> list[str]:
        """The groups of this database that have a snapshot header (unreadable ones are
        left out: a loader rebuilds them anyway)."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                header = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(header, dict) and header.get("database_id") == self.database_id:
                group = header.get("group")
                if isinstance(group, str) and path.name == f"{self._stem(group)}.json":
                    found.append(group)
        return found

    def _previous_payload(self, group: str) -> str | None:
        try:
            return str(json.loads(self._header_path(group).read_text("utf-8"))["payload"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_header(self, header: SnapshotHeader) -> None:
        data = json.dumps(asdict(header), sort_keys=True).encode("utf-8")
        _write_atomic(self._header_path(header.group), data)

    # ------------------------------------------------------------------ housekeeping

    def _sweep_once(self) -> None:
        if not self._swept:
            self._swept = True
            self.sweep()

    def sweep(self, older_than_s: float = _ORPHAN_AGE_S) -> int:
        """Delete leftovers of crashed writers (temp files, payloads no header names) older
        than `older_than_s`; return how many were deleted."""
        if not self.directory.is_dir():
            return 0
        referenced: set[str] = set()
        for header in self.directory.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                referenced.add(str(json.loads(header.read_text("utf-8"))["payload"]))
        deleted = 0
        for path in self.directory.iterdir():
            leftover = path.name.endswith(".tmp") or (
                path.suffix == ".faiss" and path.name not in referenced
            )
            if not leftover:
                continue
            with contextlib.suppress(FileNotFoundError):
                if time.time() - path.stat().st_mtime > older_than_s:
                    path.unlink()
                    deleted += 1
        return deleted
