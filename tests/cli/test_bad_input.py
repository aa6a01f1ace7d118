"""Every bad-input row of issue 14, through the real `hippograph` executable (a subprocess).

Each test checks what a user sees: one line on stderr saying what went wrong and what to
do, the documented exit code (`hippograph.cli.errors.ExitCode`), and that no data or file
changed — no store, directory or export was created, truncated or rewritten.

Read-only files as root: root ignores file modes, so those runs drop the capabilities that
let it (`setpriv`, util-linux), and the modes apply as they would to any user.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hippograph.backends import open_store
from hippograph.cli.errors import ExitCode
from hippograph.memories import MemoryManager

HIPPOGRAPH = str(Path(sys.executable).with_name("hippograph"))
_DROP_ROOT = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def run(
    *args: str, db: Path | str | None = None, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`hippograph ARGS` with stdin not a terminal, on store `db` (`HIPPOGRAPH_DB`)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HIPPOGRAPH_")}
    environ.update({"COLUMNS": "80", "HIPPOGRAPH_USER": "alice", **(env or {})})
    if db is not None:
        environ["HIPPOGRAPH_DB"] = str(db)
    return subprocess.run(
        [HIPPOGRAPH, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        check=False,
    )


def unprivileged(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """`run`, as a user file modes apply to (root drops its capability to ignore them)."""
    if os.geteuid() != 0:
        return run(*args, db=db)
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot drop privileges")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HIPPOGRAPH_")}
    environ.update({"COLUMNS": "80", "HIPPOGRAPH_USER": "alice", "HIPPOGRAPH_DB": str(db)})
    command = [*_DROP_ROOT, HIPPOGRAPH, *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=environ, timeout=300, check=False
    )


def one_error(result: subprocess.CompletedProcess[str], code: ExitCode, *needles: str) -> str:
    """Assert exit `code` and exactly one `error:` line on stderr containing `needles`."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def items(db: Path) -> list[tuple[str, str, str, str]]:
    """Every stored item (prefix, key, value, updated_at), read without hippograph."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT prefix, key, value, updated_at FROM items ORDER BY id")
        return [tuple(row) for row in rows]


@contextmanager
def manager(db: Path) -> Iterator[MemoryManager]:
    """alice's memories in `db`, in this process (setup and checks stay fast; only the
    command under test runs as a subprocess)."""
    with open_store(db) as store:
        yield MemoryManager(store, "alice", origin="test")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with one memory of alice."""
    path = tmp_path / "memories.db"
    with manager(path) as memories:
        memories.add("I live in Lisbon and work at Acme", category="personal")
    return path


def key_of(db: Path) -> str:
    """The key of alice's only memory."""
    with manager(db) as memories:
        (memory,) = memories.list()
    return memory.id


# ---------------------------------------------------------------- files and directories


def test_a_read_only_database_is_one_line_and_unchanged(db: Path) -> None:
    before = items(db)
    for path in (db, *db.parent.iterdir()):
        path.chmod(0o444 if path.is_file() else 0o555)
    db.parent.chmod(0o555)
    try:
        result = unprivileged("memories", "add", "I have a cat", db=db)
    finally:
        db.parent.chmod(0o755)
    one_error(result, ExitCode.STORE_UNAVAILABLE, "writable")
    assert items(db) == before


def test_a_read_only_directory_creates_nothing(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = unprivileged("memories", "add", "I have a cat", db=locked / "memories.db")
    one_error(result, ExitCode.STORE_UNAVAILABLE, str(locked / "memories.db"), "writable")
    assert list(locked.iterdir()) == []


def test_a_file_that_is_not_a_database_is_named_and_untouched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my shopping list\n" * 50)
    one_error(run("memories", "add", "x", db=notes), ExitCode.STORE_UNAVAILABLE, "not a hippograph")
    doctor = run("doctor", db=notes)  # issue 20, item 14: one line with advice, hint once
    assert doctor.returncode == ExitCode.STORE_UNAVAILABLE
    flat = " ".join(doctor.stdout.split())
    assert "store error" in flat and "is not a hippograph store" in flat
    assert "DatabaseError(" not in flat and flat.count("Set HIPPOGRAPH_MODEL") == 1
    assert notes.read_text() == "my shopping list\n" * 50


@pytest.mark.parametrize(
    "command",
    [
        ["memories", "list"],
        ["memories", "search", "where do I live"],
        ["memories", "history"],
        ["memories", "export", "-"],
        ["memories", "delete", "abc", "--yes"],
    ],
)
def test_read_only_commands_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    mistyped = tmp_path / "typo" / "memries.db"
    one_error(run(*command, db=mistyped), ExitCode.NOT_FOUND, "no memory store at", str(mistyped))
    assert list(tmp_path.iterdir()) == []


def test_doctor_never_creates_a_store(tmp_path: Path) -> None:
    mistyped = tmp_path / "typo" / "memries.db"
    result = run("doctor", db=mistyped)
    assert result.returncode == ExitCode.NOT_FOUND
    assert "no memory store at" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_directory(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "nope" / "out.jsonl"
    one_error(run("memories", "export", str(target), db=db), ExitCode.NOT_FOUND, "does not exist")
    assert not target.parent.exists()


def test_export_never_overwrites_without_force(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "existing.jsonl"
    target.write_text('{"content": "precious"}\n')
    refused = run("memories", "export", str(target), "--user", "alcie", db=db)  # a typo
    one_error(refused, ExitCode.REFUSED, "--force")
    forced = run("memories", "export", str(target), "--user", "alcie", "--force", db=db)
    assert forced.returncode == 0 and "has no memories" in forced.stderr
    assert target.read_text() == '{"content": "precious"}\n'  # nothing to write: untouched
    with manager(db) as memories:  # the file is written beside, then moved over
        memories.export_jsonl(target, overwrite=True)
    assert "Lisbon" in target.read_text() and not list(tmp_path.glob(".existing.jsonl.*"))


# ---------------------------------------------------------------- store URLs and users


def test_an_unknown_url_scheme_is_refused_without_echoing_the_password(tmp_path: Path) -> None:
    url = "mysql://root:hunter2@db.example/memories"
    for command in (["memories", "list"], ["memories", "add", "x"], ["doctor"]):
        result = subprocess.run(
            [HIPPOGRAPH, *command, "--store", url],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        line = one_error(result, ExitCode.USAGE, "unsupported store URL scheme 'mysql'")
        assert "hunter2" not in result.stdout + result.stderr and "db.example" not in line
    assert list(tmp_path.iterdir()) == []  # no "mysql:" directory


def test_an_empty_user_is_a_usage_error(db: Path) -> None:
    before = items(db)
    for command in (["memories", "list"], ["memories", "add", "x"]):
        one_error(run(*command, "--user", "", db=db), ExitCode.USAGE, "--user must be")
    assert items(db) == before


def test_a_postgres_url_without_the_extra_names_it(tmp_path: Path) -> None:
    # The installed venv has the extra; hide it the way a missing package looks.
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.argv = ['hippograph', *sys.argv[1:]];"
        " from hippograph.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "memories", "list", "--store", "postgresql://u:pw@h/db"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    one_error(result, ExitCode.MISSING_EXTRA, "pip install 'hippograph[postgres]'")


@pytest.mark.postgres  # needs the postgres extra (psycopg), not a server
def test_unreachable_postgres_fails_fast_without_the_password() -> None:
    url = "postgresql://alice:hunter2@127.0.0.1:1/memories"  # nothing listens on port 1
    for command in (["memories", "list"], ["memories", "add", "x"]):
        result = run(*command, "--store", url)
        one_error(result, ExitCode.STORE_UNAVAILABLE, "cannot connect to PostgreSQL", "***")
        assert "hunter2" not in result.stderr
    doctor = run("doctor", "--store", url)
    assert doctor.returncode == ExitCode.STORE_UNAVAILABLE
    assert "cannot connect to PostgreSQL" in doctor.stdout and "hunter2" not in doctor.stdout
    assert "PoolTimeout" not in doctor.stdout and "OperationalError(" not in doctor.stdout


@pytest.mark.postgres  # needs the postgres extra (psycopg), not a server
def test_a_silent_postgres_server_times_out_after_connect_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://alice:hunter2@127.0.0.1:{silent.getsockname()[1]}/memories"
        result = run("memories", "list", "--store", url)
    one_error(result, ExitCode.STORE_UNAVAILABLE, "timeout", "waited 5 s")


@pytest.mark.postgres  # needs the postgres extra (psycopg), not a server
def test_a_malformed_postgres_url_is_one_line() -> None:
    result = run("memories", "list", "--store", "postgresql://alice:hunter2@127.0.0.1:port/x")
    one_error(result, ExitCode.STORE_UNAVAILABLE, "cannot connect to PostgreSQL")
    assert "hunter2" not in result.stderr


# ---------------------------------------------------------------- destructive commands


def test_delete_needs_yes_when_not_interactive(db: Path) -> None:
    key = key_of(db)[:8]
    before = items(db)
    one_error(run("memories", "delete", key, db=db, stdin="n\n"), ExitCode.REFUSED, "--yes")
    one_error(run("memories", "delete", "--all", db=db, stdin="y\n"), ExitCode.REFUSED, "--yes")
    assert items(db) == before


def test_a_missing_key_deletes_nothing(db: Path) -> None:
    key = key_of(db)[:8]
    before = items(db)
    one_error(run("memories", "delete", key, "nope", "--yes", db=db), ExitCode.NOT_FOUND, "nope")
    assert items(db) == before


def test_a_key_too_short_to_be_deliberate_deletes_nothing(db: Path) -> None:
    """One or two characters that happen to start only one key are a typo or a guess, not
    a choice: deleting needs at least `MIN_KEY_PREFIX` characters (or the whole key)."""
    key = key_of(db)
    before = items(db)
    one_error(
        run("memories", "delete", key[:1], "--yes", db=db), ExitCode.USAGE, "at least 4 characters"
    )
    assert items(db) == before
    assert run("memories", "delete", key[:4], "--yes", db=db).returncode == 0


# ---------------------------------------------------------------- import


def test_an_older_export_does_not_revert_newer_edits(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "backup.jsonl"
    with manager(db) as memories:
        memories.export_jsonl(export)
        memories.edit(key_of_manager(memories), content="I live in Porto")
    edited = items(db)

    result = run("memories", "import", str(export), db=db)
    assert result.returncode == 0, result.stderr
    assert "the stored memory is newer" in result.stdout and "1 kept as stored" in result.stdout
    assert items(db) == edited

    restored = run("memories", "import", str(export), "--on-conflict", "overwrite", db=db)
    assert restored.returncode == 0 and "imported 1 memories" in restored.stdout
    with manager(db) as memories:
        assert [m.content for m in memories.list()] == ["I live in Lisbon and work at Acme"]


def key_of_manager(memories: MemoryManager) -> str:
    """The key of the manager's only memory."""
    (memory,) = memories.list()
    return memory.id


def test_a_binary_file_is_one_error(db: Path, tmp_path: Path) -> None:
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(bytes(range(256)) * 400 + b"\n" * 700)
    before = items(db)
    result = run("memories", "import", str(binary), db=db)
    one_error(result, ExitCode.INVALID_INPUT, "binary", "nothing imported")
    assert result.stdout == "" and items(db) == before


def test_a_missing_import_file(db: Path, tmp_path: Path) -> None:
    result = run("memories", "import", str(tmp_path / "nope.jsonl"), db=db)
    one_error(result, ExitCode.NOT_FOUND, "does not exist")


def test_many_bad_lines_are_summarised(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps({"content": ""}) + "\n" for _ in range(50)))
    before = items(db)
    result = run("memories", "import", str(bad), db=db)
    one_error(result, ExitCode.INVALID_INPUT, "50 invalid line(s); nothing imported")
    assert result.stdout.count("line ") == 10 and "… and 40 more" in result.stdout
    assert items(db) == before


# ---------------------------------------------------------------- content and models


def test_the_content_limit_is_documented_and_named(db: Path) -> None:
    shown = run("memories", "add", "--help", env={"COLUMNS": "250"}).stdout
    assert "at most 8,000 characters" in shown
    before = items(db)
    result = run("memories", "add", "x" * 8_001, db=db)
    one_error(result, ExitCode.INVALID_INPUT, "8001 characters; the limit is 8000", "split it")
    assert items(db) == before


def test_an_unknown_category_lists_the_valid_ones(db: Path) -> None:
    before = items(db)
    result = run("memories", "add", "I have a cat", "-c", "pets", db=db)
    one_error(result, ExitCode.USAGE, "unknown category 'pets'", "tools, skills, preferences")
    assert items(db) == before


def test_a_missing_model_package_names_it(tmp_path: Path) -> None:
    result = run("chat", db=tmp_path / "m.db", env={"HIPPOGRAPH_MODEL": "ollama:llama3.1"})
    one_error(result, ExitCode.MODEL_UNAVAILABLE, "pip install langchain-ollama")


# ---------------------------------------------------------------- help and listings


def test_list_at_80_columns_shows_the_content(db: Path) -> None:
    listed = run("memories", "list", db=db).stdout
    row = next(line for line in listed.splitlines() if "Lisbon" in line)
    assert "I live in Lisbon and work" in row  # not 7 characters beside a 36-character id
    key = row.split("│")[1].strip()
    assert len(key) == 8 and max(len(line) for line in listed.splitlines()) <= 80


def test_history_says_what_an_edit_and_a_repeat_changed(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    said = "I code mostly in Python every day."  # one statement: one memory
    chat = run("chat", db=db, stdin=f"{said}\n{said}\n")
    assert chat.returncode == 0 and "NOOP" in chat.stdout, chat.stdout
    with manager(db) as memories:
        memories.edit(key_of_manager(memories), importance=0.9)
    history = " ".join(run("memories", "history", db=db, env={"COLUMNS": "200"}).stdout.split())
    assert "importance 0.50 → 0.90" in history
    assert "sources merged" not in history
    if history.count("UPDATE") == 2:  # the repeat merged its source into the memory
        assert "said again" in history
