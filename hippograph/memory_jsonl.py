"""JSONL export and import of one user's memories (`MemoryManager.export_jsonl` /
`import_jsonl`), and what an import reports.

Core pieces:
    - `MemoryJsonl`: the export/import methods, mixed into `MemoryManager` so every line
      read or written stays inside the user's namespace.
    - `ImportReport`, `LineError`: what an import did, line by line.
    - `ImportValidationError`, `NotJsonlError`: how an import fails before writing anything.
    - `ConflictPolicy` / `CONFLICT_POLICIES`: what an import does with a key already stored.
    - `imported`: an imported line's provenance, kept as text and marked imported.

An import validates the whole file first (spooled to a temporary file, so a large file is
never held in memory), then writes through `hippograph.store.bulk.bulk_put`.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from hippograph.memory_links import export_links, parse_links
from hippograph.profile import parse_profile_line, profile_line, restore_profile
from hippograph.store.bulk import bulk_put
from hippograph.store.links import Link, LinkOp, links_of
from hippograph.store.memory import as_utc, validated_value

IMPORT_CHUNK = 250
"""Lines an import writes per bulk chunk. Two chunks are in memory at once (one written
while the next is prepared): half a listing page keeps a large import's heap as small as a
page-by-page one."""

ConflictPolicy = Literal["newer", "overwrite", "skip"]
"""An imported line whose key the store already holds: keep whichever was updated last
(`"newer"`, by `updated_at`; a line without one loses), let the line replace the memory
(`"overwrite"`), or keep the store's memory (`"skip"`)."""

CONFLICT_POLICIES: tuple[ConflictPolicy, ...] = ("newer", "overwrite", "skip")


@dataclass(frozen=True, slots=True)
class LineError:
    """A JSONL line that cannot be imported, and why."""

    line: int
    error: str


class NotJsonlError(ValueError):
    """The import input is not JSONL text at all (binary data): one error, not one per line."""


class ImportValidationError(ValueError):
    """A JSONL file has invalid lines; nothing was imported."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {e.line}: {e.error}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid line(s), nothing imported: {shown}{more}")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: how many memories were written, which lines were skipped."""

    imported: int
    skipped: list[LineError] = field(default_factory=list)
    links: int = 0
    """Links restored from the lines' `links` (those to missing memories are in `skipped`)."""
    kept: list[LineError] = field(default_factory=list)
    """Lines not imported because the store's memory won under the `ConflictPolicy`."""


class MemoryJsonl:
    """JSONL methods of `MemoryManager` (see the module docstring)."""

    store: BaseStore
    user_id: str
    namespace: tuple[str, ...]

    def _provenance(self) -> AbstractContextManager[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _items(self, filter: dict[str, Any] | None = None) -> Iterator[Item]:  # pragma: no cover
        raise NotImplementedError

    def export_jsonl(self, target: str | Path | IO[str], *, overwrite: bool = False) -> int:
        """Write every memory as one JSON object per line (streamed); returns the count.

        Each line is the stored value plus `key`, `created_at` and `updated_at` (and the
        memory's outgoing `links`, on stores that keep them), so `import_jsonl` restores it.
        The user's profile, if any, is the last line (`{"kind": "profile", ...}`).
        A file is written beside its destination and moved over it once complete, so an
        existing file is never truncated or left half-written.

        Raises:
            FileExistsError: `target` is an existing file and `overwrite` is false.
        """
        if isinstance(target, str | Path) and Path(target).exists() and not overwrite:
            raise FileExistsError(f"{target} exists")
        links = export_links(self.store, self.namespace)
        with _open_text(target, "w") as out:
            count = 0
            for item in self._items():
                line = {
                    "key": item.key,
                    **item.value,
                    "created_at": item.created_at.isoformat(),
                    "updated_at": item.updated_at.isoformat(),
                }
                if item.key in links:
                    line["links"] = links[item.key]
                out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
                count += 1
            profile = profile_line(self.store, self.user_id)
            if profile is not None:
                out.write(json.dumps(profile, ensure_ascii=False, default=str) + "\n")
        return count

    def import_jsonl(
        self,
        source: str | Path | IO[str],
        *,
        skip_invalid: bool = False,
        on_conflict: ConflictPolicy = "newer",
    ) -> ImportReport:
        """Import memories from JSONL (as written by `export_jsonl`, or just `{"content": …}`).

        The file is validated completely before anything is written: with invalid lines,
        nothing is imported and `ImportValidationError` lists them with line numbers —
        unless `skip_invalid`, which imports the valid lines and reports the rest. Binary
        input raises `NotJsonlError` at once. Lines without a `key` get a new one; a line
        whose key the store already holds follows `on_conflict` (default `"newer"`: an
        older export never reverts newer edits), and the lines it did not import are
        reported in `kept`. A line's `links` are restored once every line is in (a link to
        a memory that does not exist, or any link on a store without links, is reported
        in `skipped`).
        """
        if on_conflict not in CONFLICT_POLICIES:
            raise ValueError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}")
        errors: builtins.list[LineError] = []
        kept: builtins.list[LineError] = []
        with (
            _open_text(source, "r") as lines,
            tempfile.TemporaryFile("w+", encoding="utf-8") as spool,
        ):
            last_line: dict[str, int] = {}
            profile: tuple[int, dict[str, Any]] | None = None
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                _refuse_binary(line, first=not errors and spool.tell() == 0)
                try:
                    found = parse_profile_line(line)
                except ValueError as exc:
                    errors.append(LineError(number, str(exc)))
                    continue
                if found is not None:
                    profile = (number, found)
                    continue
                try:
                    key, value, links, updated_at = _parse_line(line)
                except ValueError as exc:
                    errors.append(LineError(number, str(exc)))
                    continue
                entry = [number, key, value, links, updated_at]
                spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
                last_line[key] = number
            if errors and not skip_invalid:
                raise ImportValidationError(errors)
            spool.seek(0)
            wanted: builtins.list[tuple[int, LinkOp]] = []

            def puts() -> Iterator[PutOp]:
                for chunk in _chunks(spool, IMPORT_CHUNK):
                    latest = _last_lines_only(chunk, last_line, kept)
                    for number, key, value, links, _ in self._resolve_conflicts(
                        latest, on_conflict, kept
                    ):
                        wanted.extend((number, LinkOp(self.namespace, key, *li)) for li in links)
                        yield PutOp(self.namespace, key, value)

            with self._provenance():
                imported = bulk_put(self.store, puts(), chunk_size=IMPORT_CHUNK).items
                linked = self._restore_links(wanted, errors)
                if profile is not None:
                    restore_profile(
                        self.store, self.user_id, *profile, on_conflict=on_conflict, kept=kept
                    )
        return ImportReport(imported, errors, linked, kept)

    def _resolve_conflicts(
        self,
        entries: builtins.list[builtins.list[Any]],
        policy: ConflictPolicy,
        kept: builtins.list[LineError],
    ) -> builtins.list[builtins.list[Any]]:
        """The entries to write under `policy`; the others are reported in `kept`."""
        if policy == "overwrite":
            return entries
        results = self.store.batch([GetOp(self.namespace, entry[1]) for entry in entries])
        chosen = []
        for entry, item in zip(entries, results, strict=True):
            number, key, _, _, updated_at = entry
            if not isinstance(item, Item):
                chosen.append(entry)
            elif policy == "skip":
                kept.append(LineError(number, f"{key} is already stored (--on-conflict skip)"))
            elif updated_at is None:
                kept.append(
                    LineError(number, f"{key} is already stored and the line has no updated_at")
                )
            elif (line_at := datetime.fromisoformat(updated_at)) > as_utc(item.updated_at):
                chosen.append(entry)
            elif line_at == as_utc(item.updated_at):
                kept.append(LineError(number, f"{key} is already stored (same updated_at)"))
            else:
                kept.append(
                    LineError(
                        number,
                        f"{key}: the stored memory is newer "
                        f"({as_utc(item.updated_at).isoformat(timespec='seconds')})",
                    )
                )
        return chosen

    def _restore_links(
        self, wanted: builtins.list[tuple[int, LinkOp]], errors: builtins.list[LineError]
    ) -> int:
        """Write imported links; report the ones that cannot be (in `errors`)."""
        if not wanted:
            return 0
        linked = links_of(self.store)
        if linked is None:
            for number, op in wanted:
                errors.append(LineError(number, f"link to {op.dst} not imported: no links here"))
            return 0
        done = linked.batch([op for _, op in wanted])
        for (number, op), result in zip(wanted, done, strict=True):
            if not isinstance(result, Link):
                errors.append(LineError(number, f"link to {op.dst} skipped: no such memory"))
        return sum(isinstance(result, Link) for result in done)


def _last_lines_only(
    chunk: list[list[Any]], last_line: Mapping[str, int], kept: list[LineError]
) -> list[list[Any]]:
    """The entries of `chunk` that are the last line of their key; the others are reported
    in `kept`. An import writes a repeated key once, from its last line, so what its conflict
    check reads never depends on which chunks the bulk load has written yet."""
    latest = []
    for entry in chunk:
        number, key = entry[0], entry[1]
        if last_line[key] == number:
            latest.append(entry)
        else:
            kept.append(LineError(number, f"{key} is repeated on line {last_line[key]}"))
    return latest


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[list[Any]]]:
    """The spooled entries, decoded, `size` at a time."""
    chunk: list[list[Any]] = []
    for line in lines:
        chunk.append(json.loads(line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refuse_binary(line: str, *, first: bool) -> None:
    """Raise `NotJsonlError` when the first line holds NUL bytes or undecodable bytes."""
    if not first:
        return
    if "\x00" in line:
        raise NotJsonlError("the input is binary data, not JSONL text (it holds NUL bytes)")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        if not line.lstrip().startswith("{"):
            raise NotJsonlError("the input is not UTF-8 JSONL text (binary data?)") from None


def _updated_at(raw: Mapping[str, Any]) -> str | None:
    """The line's `updated_at` as an aware ISO timestamp, or `None` when absent."""
    value = raw.get("updated_at")
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value))).isoformat()
    except ValueError as exc:
        raise ValueError(f"updated_at must be an ISO timestamp, got {value!r}") from exc


def _parse_line(
    line: str,
) -> tuple[str, dict[str, Any], list[tuple[str, str, float]], str | None]:
    """The key, validated value, links and `updated_at` of one JSONL line; `ValueError`
    says what is wrong."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes, kept as surrogate escapes
        raise ValueError(f"not valid UTF-8 (at character {exc.start})") from exc
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    key = raw.get("key", str(uuid.uuid4()))
    if not isinstance(key, str) or not key or "\x00" in key:
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    links = parse_links(raw.pop("links", None))
    if any(dst == key for dst, _, _ in links):
        raise ValueError("a memory cannot be linked to itself")
    return key, imported(validated_value(key, raw)), links, _updated_at(raw)


def imported(value: dict[str, Any]) -> dict[str, Any]:
    """`value` with its `source` kept as provenance text but marked `"imported": true`.

    An imported line's provenance is whatever the file says: it may name any thread id.
    It is kept for the reader, and nothing uses it to find threads (a user's threads are
    the ones the agent recorded for them, `hippograph.store.threads`).
    """
    source = value.get("source")
    if source is None:
        return value
    marked = dict(source) if isinstance(source, Mapping) else {"text": source}
    return {**value, "source": {**marked, "imported": True}}


@contextmanager
def _open_text(target: str | Path | IO[str], mode: str) -> Iterator[IO[str]]:
    if not isinstance(target, str | Path):
        yield target
    elif mode == "r":
        # Undecodable bytes become surrogate escapes so `_parse_line` can name the line.
        with open(target, encoding="utf-8", errors="surrogateescape") as handle:
            yield handle
    else:
        # Write beside the destination, then move it over: never truncate what is there.
        destination = Path(target)
        fd, temporary = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            if destination.exists():  # keep an overwritten file's permissions (new: 0600)
                os.chmod(temporary, destination.stat().st_mode & 0o7777)
            os.replace(temporary, destination)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
