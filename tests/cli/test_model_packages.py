"""A model whose provider package is missing is named with its package, through the real
`hippograph` executable — also when `init_chat_model` falls back to an installed
`langchain-community` that no longer has the class (ollama), which used to surface as
"module langchain_community.chat_models has no attribute ChatOllama"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hippograph.cli.errors import ExitCode

HIPPOGRAPH = str(Path(sys.executable).with_name("hippograph"))


def _python_path(tmp_path: Path, community: bool) -> str:
    """A directory put first on `sys.path` in which `langchain_ollama` cannot be imported
    and, with `community`, a `langchain_community.chat_models` without `ChatOllama`
    (what a recent langchain-community looks like to `init_chat_model`)."""
    root = tmp_path / ("with-community" if community else "without")
    (root / "langchain_ollama").mkdir(parents=True)
    (root / "langchain_ollama" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'langchain_ollama'\")\n"
    )
    if community:
        (root / "langchain_community" / "chat_models").mkdir(parents=True)
        (root / "langchain_community" / "__init__.py").write_text("")
        (root / "langchain_community" / "chat_models" / "__init__.py").write_text("")
    return str(root)


@pytest.mark.parametrize("community", [False, True], ids=["no-community", "community"])
def test_missing_ollama_package_is_named(tmp_path, community):
    env = {name: v for name, v in os.environ.items() if not name.startswith("HIPPOGRAPH_")}
    env |= {
        "HIPPOGRAPH_MODEL": "ollama:llama3.1",
        "HIPPOGRAPH_DB": str(tmp_path / "memories.db"),
        "PYTHONPATH": _python_path(tmp_path, community),
    }
    command = [HIPPOGRAPH, "chat"]
    result = subprocess.run(
        command, input="", env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == ExitCode.MODEL_UNAVAILABLE, output
    assert "pip install langchain-ollama" in output
    assert "has no attribute" not in output and "Traceback" not in output


def test_a_model_without_credentials_says_what_to_do_once(monkeypatch):
    from hippograph import build_remember_graph
    from hippograph.memory.chat_models import ModelUnavailableError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelUnavailableError) as caught:
        build_remember_graph(model="openai:gpt-4o-mini")
    message = str(caught.value)
    assert message.startswith("Cannot initialise model 'openai:gpt-4o-mini': ")
    assert "OPENAI_API_KEY" in message  # what the provider needs
    assert "HIPPOGRAPH_MODEL=openai:gpt-4o-mini" not in message  # not what was already chosen
    assert ".." not in message and ". ." not in message
