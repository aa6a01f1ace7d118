"""Profile memory: a developer's pydantic schema, kept as one item per user, patched by the
model from each turn's memory changes, recalled around, shown, exported and erased."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from hippograph import MemoryManager, ScriptedChatModel, build_agent, erase_user
from hippograph.backends import open_store
from hippograph.background import MemoryFormer
from hippograph.config import Settings
from hippograph.profile import read_profile, write_profile
from tests.cli.test_bad_input import run
from tests.conftest import run_config, user_turn


class UserProfile(BaseModel):
    """Who the user is."""

    name: str | None = None
    location: str | None = None
    languages: list[str] = []


def by_prompt(
    facts: list[dict[str, Any]], profile: dict[str, Any] | Exception | None = None
) -> Callable[[list[BaseMessage]], Any]:
    """A scripted model that answers each node's prompt the way a real model would: the
    reply, this turn's `facts`, ADD for every fact it is asked to reconcile, and `profile`
    as the profile patch."""

    def answer(messages: list[BaseMessage]) -> Any:
        system = messages[0].text if messages else ""
        if "structured profile" in system:
            if isinstance(profile, Exception):
                raise profile
            return profile or {}
        if "You extract durable facts" in system:
            return {"facts": facts}
        if "You keep a user's long-term memory consistent" in system:
            count = max(1, system.count("\n[") or 1)
            return {"actions": [{"op": "ADD"}] * count}
        return "Noted."

    return answer


def _fact(content: str, category: str = "personal") -> dict[str, Any]:
    return {"content": content, "category": category, "importance": 0.8}


def _agent(store: Any, checkpointer: Any, model: ScriptedChatModel) -> Any:
    return build_agent(store=store, checkpointer=checkpointer, model=model, profile=UserProfile)


def _turn(agent: Any, text: str, thread: str = "t1") -> dict[str, Any]:
    context = {"user_id": "alice", "store_questions": False}  # a question is no memory
    return agent.invoke(user_turn(text), run_config(thread), context=context)


def _profile_calls(model: ScriptedChatModel) -> list[str]:
    return [c[-1].text for c in model.calls if "structured profile" in c[0].text]


def test_the_profile_is_patched_from_each_turns_new_facts(memory_store, checkpointer):
    first = ScriptedChatModel(
        default=by_prompt(
            [_fact("Is named Ana"), _fact("Lives in Lisbon"), _fact("Speaks Portuguese")],
            {"name": "Ana", "location": "Lisbon", "languages": ["Portuguese"]},
        )
    )
    _turn(_agent(memory_store, checkpointer, first), "I'm Ana, from Lisbon; I speak Portuguese.")
    assert read_profile(memory_store, "alice") == {
        "name": "Ana",
        "location": "Lisbon",
        "languages": ["Portuguese"],
    }
    second = ScriptedChatModel(
        default=by_prompt([_fact("Speaks German")], {"languages": ["Portuguese", "German"]})
    )
    _turn(_agent(memory_store, checkpointer, second), "I also speak German now.")
    assert read_profile(memory_store, "alice") == {
        "name": "Ana",
        "location": "Lisbon",
        "languages": ["Portuguese", "German"],
    }
    (shown,) = _profile_calls(second)
    assert '"location": "Lisbon"' in shown and "+ Speaks German" in shown
    history = memory_store.history(("memories", "alice", "profile"))
    assert [h["op"] for h in reversed(history)] == ["ADD", "UPDATE"]


def test_a_turn_that_changes_no_memory_asks_nothing(memory_store, checkpointer):
    write_profile(memory_store, "alice", UserProfile(name="Ana"))
    model = ScriptedChatModel(default=by_prompt([], {"name": "Bob"}))
    _turn(_agent(memory_store, checkpointer, model), "Thanks!")
    assert _profile_calls(model) == []
    assert read_profile(memory_store, "alice") == {"name": "Ana", "location": None, "languages": []}


def test_a_patch_that_does_not_fit_the_schema_changes_nothing(memory_store, checkpointer):
    write_profile(memory_store, "alice", UserProfile(name="Ana"))
    bad = ScriptedChatModel(default=by_prompt([_fact("Speaks Greek")], {"languages": 42}))
    out = _turn(_agent(memory_store, checkpointer, bad), "I speak Greek.")
    assert out["messages"][-1].content == "Noted."  # the turn keeps its answer
    assert [w for w in out["warnings"] if w.startswith("profile not updated")]
    assert len(_profile_calls(bad)) == 2  # told what was wrong, asked once more
    failing = ScriptedChatModel(
        default=by_prompt([_fact("Plays chess")], TimeoutError("model timed out"))
    )
    failed = _turn(_agent(memory_store, checkpointer, failing), "I play chess.")
    assert any("model timed out" in w for w in failed["warnings"])
    assert read_profile(memory_store, "alice") == {"name": "Ana", "location": None, "languages": []}
    assert sorted(m.content for m in MemoryManager(memory_store, "alice").list()) == [
        "Plays chess",
        "Speaks Greek",
    ]


def test_a_profile_never_takes_a_recalled_memorys_place(memory_store, checkpointer):
    write_profile(memory_store, "alice", UserProfile(name="Ana", location="Lisbon"))
    agent = build_agent(store=memory_store, checkpointer=checkpointer)  # offline
    alone = _turn(agent, "Where do I live?", thread="a")  # only the profile is stored
    assert alone["recalled"] == []
    MemoryManager(memory_store, "alice").add("Lives in Lisbon", category="personal")
    out = _turn(agent, "Where do I live?", thread="b")
    assert [r["content"] for r in out["recalled"]] == ["Lives in Lisbon"]
    manager = MemoryManager(memory_store, "alice")
    assert [m.content for m in manager.list()] == ["Lives in Lisbon"]
    assert manager.count() == 1 and manager.stats().total == 1


def test_background_formation_keeps_the_profile_too(memory_store, checkpointer):
    model = ScriptedChatModel(default=by_prompt([_fact("Lives in Porto")], {"location": "Porto"}))
    with MemoryFormer(memory_store, model=model, delay=3600, profile=UserProfile) as former:
        agent = build_agent(
            store=memory_store, checkpointer=checkpointer, model=model, background=former
        )
        _turn(agent, "I live in Porto.")
        assert read_profile(memory_store, "alice") is None
        former.flush()
    assert read_profile(memory_store, "alice") == {
        "name": None,
        "location": "Porto",
        "languages": [],
    }


def test_shown_by_the_cli_exported_imported_and_erased(tmp_path):
    db = tmp_path / "memories.db"
    settings = Settings(db_path=db, user_id="alice")
    with open_store(settings=settings) as store:
        MemoryManager(store, "alice").add("Lives in Lisbon")
        write_profile(store, "alice", UserProfile(name="Ana", languages=["pt", "en"]))
        exported = io.StringIO()
        assert MemoryManager(store, "alice").export_jsonl(exported) == 1
    lines = [json.loads(line) for line in exported.getvalue().splitlines()]
    assert lines[-1]["kind"] == "profile"
    assert lines[-1]["profile"] == {"name": "Ana", "location": None, "languages": ["pt", "en"]}

    shown = run("memories", "profile", db=db)
    assert shown.returncode == 0, shown.stderr
    assert "Ana" in shown.stdout and "pt, en" in shown.stdout
    as_json = run("memories", "profile", "--json", db=db)
    assert json.loads(as_json.stdout)["languages"] == ["pt", "en"]

    other = tmp_path / "other.db"
    with open_store(other) as store:
        report = MemoryManager(store, "bob").import_jsonl(io.StringIO(exported.getvalue()))
        assert report.imported == 1 and report.skipped == []
        assert read_profile(store, "bob") == lines[-1]["profile"]

    erase_user("alice", settings=settings)
    with open_store(settings=settings) as store:
        assert read_profile(store, "alice") is None
    nothing = run("memories", "profile", db=db)
    assert "No profile for user 'alice'" in nothing.stdout
