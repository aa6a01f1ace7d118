"""Links made by the remember path (offline entities; the model's entities and relations)
and followed by retrieve — on our store, and quietly not at all on stores without links."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.store.memory import InMemoryStore

from hippograph.backends import memory_index_config
from hippograph.graph import build_recall_graph, build_remember_graph
from hippograph.scripted import ScriptedChatModel
from hippograph.store import memory_namespace
from tests.graph.helpers import handle_of

NS = memory_namespace("conv")


def remember(store: Any, model: Any = None, **context: Any):
    graph = build_remember_graph(store=store, model=model)

    def say(text: str, speaker: str | None = None, turn: str = "", previous: str | None = None):
        messages = []
        if previous is not None:
            messages.append(HumanMessage(previous, name="Other", id=f"{turn}-prev"))
        messages.append(HumanMessage(text, name=speaker, id=turn or None))
        out = graph.invoke(
            {"messages": messages},
            config={"configurable": {"thread_id": "t"}},
            context={"user_id": "conv", **context},
        )
        return out["ops"]

    return say


def content_of(store, key: str) -> str:
    return store.get(NS, key).value["content"]


def test_offline_memories_naming_the_same_entity_are_linked(memory_store):
    say = remember(memory_store)
    (sweden,) = say("My grandma gave me this necklace in Sweden.", "Caroline", "D1:1")
    (painting,) = say("I love painting sunsets.", "Caroline", "D1:2")
    (moved,) = say("I moved here from Sweden four years ago.", "Caroline", "D2:1")
    assert "links" not in sweden and "links" not in painting
    assert moved["links"] == [{"key": sweden["key"], "relation": "entity:Sweden"}]
    (link,) = memory_store.links(NS)
    assert (link.src, link.dst, link.relation) == (moved["key"], sweden["key"], "entity:Sweden")
    history = memory_store.history(NS, moved["key"])
    assert [h["op"] for h in history] == ["LINK", "ADD"]
    assert history[0]["source"]["message_ids"] == ["D2:1"]  # the turn that made the link
    assert history[0]["at"] == history[1]["at"]  # written in the memory's own transaction


def test_speakers_and_hub_entities_link_nothing(memory_store):
    say = remember(memory_store, entity_link_limit=2)
    say("I flew to Lisbon for work.", "Maya", "1")
    say("The best custard tarts are in Lisbon.", "Maya", "2")
    say("My sister lives near Lisbon now.", "Maya", "3")
    lisbon = [link for link in memory_store.links(NS) if link.relation == "entity:Lisbon"]
    assert len(lisbon) == 3  # the second links to the first, the third to both
    (op,) = say("Other and I may visit Lisbon in May.", "Maya", "4", previous="Hi Maya!")
    assert "links" not in op  # Lisbon is now named by 3 > 2 memories; "Other" is speaking
    assert memory_store.links(NS) == []  # a hub: the links it made while rare are gone
    assert [h["op"] for h in memory_store.history(NS, limit=4)] == ["UNLINK"] * 3 + ["ADD"]


def test_entity_links_can_be_turned_off(memory_store):
    say = remember(memory_store, entity_link_limit=0)
    say("Trip to Porto", "Maya", "1")
    say("Porto again", "Maya", "2")
    assert memory_store.links(NS) == []


def test_model_entities_and_relations_become_links(memory_store):
    model = ScriptedChatModel()
    say = remember(memory_store, model)
    model.queue(
        {"facts": [{"content": "Lives in Paris", "category": "personal", "importance": 0.8,
                    "entities": ["Paris"]}]},
    )  # fmt: skip
    (paris,) = say("I live in Paris.")  # nothing related stored: added without asking
    model.queue(
        {"facts": [{"content": "Visited the Louvre in Paris", "category": "other",
                    "importance": 0.5, "entities": ["Louvre", "Paris", "nowhere"]}]},
        lambda messages: {"actions": [{"op": "ADD", "links": [
            {"handle": handle_of("Lives in Paris", messages), "relation": "located_in"}]}]},
    )  # fmt: skip
    (louvre,) = say("I visited the Louvre yesterday!")
    assert sorted((x["relation"], x["key"]) for x in louvre["links"]) == [
        ("entity:Paris", paris["key"]),
        ("located_in", paris["key"]),
    ]  # "nowhere" is not in the fact's text: no link for it
    assert {x.relation for x in memory_store.links(NS, louvre["key"])} == {
        "entity:Paris",
        "located_in",
    }
    assert model.remaining == 0


def test_a_model_linking_to_a_handle_it_was_not_shown_is_retried(memory_store):
    model = ScriptedChatModel()
    say = remember(memory_store, model)
    model.queue(
        {"facts": [{"content": "Lives in Paris", "category": "personal", "importance": 0.8}]},
    )
    say("I live in Paris.")
    model.queue(
        {"facts": [{"content": "Loves the bakeries of Paris", "category": "preferences",
                    "importance": 0.4}]},
        {"actions": [{"op": "ADD", "links": [{"handle": 9, "relation": "x"}]}]},
        {"actions": [{"op": "NOOP", "links": [{"handle": 1, "relation": "x"}]}]},
    )  # fmt: skip
    (op,) = say("I love the bakeries of Paris.")
    assert op["op"] == "NOOP" and "unusable" in op["reason"]
    assert "link handle 9 was not listed" in model.calls[-1][-1].text
    assert memory_store.links(NS) == []
    assert model.remaining == 0


def test_stores_without_links_remember_as_before():
    store = InMemoryStore(index=memory_index_config("local"))  # type: ignore[arg-type]
    say = remember(store)
    say("Sweden is where I grew up, in Sweden.", "A", "1")
    (op,) = say("I miss Sweden.", "A", "2")
    assert op["op"] == "ADD" and "links" not in op


@pytest.mark.parametrize("expand", [None, False, True])
def test_retrieve_follows_links_when_asked(memory_store, expand):
    say = remember(memory_store, entity_link_limit=0)
    (necklace,) = say("My grandma gave me a silver necklace.", "C", "1")
    (tax,) = say("Quarterly tax forms are due in April.", "C", "2")
    memory_store.link(NS, necklace["key"], tax["key"], "reminds_of")
    recall = build_recall_graph(store=memory_store)
    context: dict[str, Any] = {"user_id": "conv", "k": 2, "min_score": 0.0}
    if expand is not None:
        context["expand_links"] = expand
    out = recall.invoke({"messages": [HumanMessage("Who gave me the necklace?")]}, context=context)
    recalled = {m["key"]: m for m in out["recalled"]}
    if expand:
        assert recalled[tax["key"]]["via"] == {
            "key": necklace["key"],
            "relation": "reminds_of",
            "weight": 1.0,
            "hops": 1,
        }
    else:  # off by default (MEMORY_LINKS is None), and off when asked
        assert all("via" not in m for m in out["recalled"])
