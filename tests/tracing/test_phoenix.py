"""Traces in a real tracing backend: Arize Phoenix on loopback, read back with its client.

What a user does: run the agent (in Python, and `hippograph chat`) and `hippograph eval
locomo` with `HIPPOGRAPH_TRACING=otlp` pointed at a local Phoenix, then look. The tests read
what Phoenix stored — span tree, attributes, the eval experiment with per-question scores —
and photograph one trace in Phoenix's UI with headless Chromium (`UPDATE_SCREENSHOTS=1`
writes it to `docs/screenshots/trace.png`, the README's picture).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from hippograph import ScriptedChatModel, build_agent
from hippograph.config import TracingSettings
from hippograph.graph import build_agent_graph
from hippograph.store import FaissSqliteStore
from hippograph.tracing import Tracing, setup_tracing, user_pseudonym
from tests.graph.helpers import ADD, facts
from tests.servers import wait_for
from tests.tracing.conftest import PROJECT, Phoenix, clean_env, run_hippograph

pytestmark = pytest.mark.slow

SALT = "tests-salt"
SETTINGS = TracingSettings(mode="otlp", salt=SALT)
USER = "alice-7f3"
THREAD = "trace-thread-1"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "locomo"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NODES = ["retrieve", "respond", "extract", "reconcile"]
GRAPH_NODES = list(build_agent_graph().nodes)
"""The agent's nodes in the order they run (the four above, and any bookkeeping node such as
`own_thread` before them): a turn's root span has exactly these children, in this order."""

Span = dict[str, Any]


def _tracing_env(phoenix: Phoenix, **extra: str) -> dict[str, str]:
    return clean_env(
        HIPPOGRAPH_TRACING="otlp",
        HIPPOGRAPH_TRACING_SALT=SALT,
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix.url,
        OTEL_SERVICE_NAME=PROJECT,
        **extra,
    )


def _children(spans: list[Span], parent: Span) -> list[Span]:
    own = [s for s in spans if s.get("parent_id") == parent["context"]["span_id"]]
    return sorted(own, key=lambda s: s["start_time"])


def _roots(spans: list[Span], name: str, session: str) -> list[Span]:
    found = [
        s
        for s in spans
        if s["name"] == name
        and not s.get("parent_id")
        and s["attributes"].get("session.id") == session
    ]
    return sorted(found, key=lambda s: s["start_time"])


def _descendants(spans: list[Span], parent: Span) -> list[Span]:
    out = []
    for child in _children(spans, parent):
        out += [child, *_descendants(spans, child)]
    return out


def _trace(spans: list[Span], root: Span) -> list[Span]:
    return [s for s in spans if s["context"]["trace_id"] == root["context"]["trace_id"]]


@pytest.fixture(scope="module")
def traced(phoenix: Phoenix) -> Iterator[Tracing]:
    """This process traced to Phoenix, as `HIPPOGRAPH_TRACING=otlp` would; undone after."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.url)
        env.setenv("OTEL_SERVICE_NAME", PROJECT)
        tracing = setup_tracing(SETTINGS)
        assert tracing is not None
    yield tracing
    tracing.shutdown()


@pytest.fixture(scope="module")
def agent_spans(traced: Tracing, phoenix: Phoenix, tmp_path_factory: pytest.TempPathFactory):
    """Two turns of one user in one thread: offline, then with a scripted model."""
    db = tmp_path_factory.mktemp("agent") / "memories.db"
    config = {"configurable": {"thread_id": THREAD}}
    with FaissSqliteStore.from_conn_string(
        str(db), index={"embed": "local", "fields": ["content"]}
    ) as store:
        checkpointer = InMemorySaver()
        offline = build_agent(store=store, checkpointer=checkpointer, model=None)
        first = {"messages": [{"role": "user", "content": "I work at Acme as a data engineer."}]}
        offline.invoke(first, config=config, context={"user_id": USER})
        model = ScriptedChatModel(
            responses=[
                "You work at Acme as a data engineer, and now I know you live in Lisbon.",
                facts(("Lives in Lisbon", "personal", 0.8)),
                ADD,
            ]
        )
        scripted = build_agent(store=store, checkpointer=checkpointer, model=model)
        second = {"messages": [{"role": "user", "content": "I live in Lisbon. Where do I work?"}]}
        out = scripted.invoke(second, config=config, context={"user_id": USER})
    assert traced.flush()
    spans = phoenix.wait_for_spans(
        lambda s: len(_roots(s, "hippograph", THREAD)) == 2, "the two agent turns"
    )
    return spans, out


def test_agent_turn_span_tree_and_attributes(agent_spans: Any) -> None:
    spans, out = agent_spans
    offline_root, scripted_root = _roots(spans, "hippograph", THREAD)
    for root in (offline_root, scripted_root):
        assert [s["name"] for s in _children(spans, root)] == GRAPH_NODES
        assert root["attributes"]["user.id"] == user_pseudonym(USER, SETTINGS)
        assert root["attributes"]["session.id"] == THREAD
    nodes = {s["name"]: s for s in _children(spans, scripted_root)}

    # model calls are child spans of the nodes that make them
    calls = {
        node: [s for s in _descendants(spans, nodes[node]) if s["span_kind"] == "LLM"]
        for node in NODES
    }
    assert len(calls["respond"]) == len(calls["extract"]) == 1 and not calls["retrieve"]
    assert "now I know you live in Lisbon" in json.dumps(calls["respond"][0]["attributes"])
    assert "Lives in Lisbon" in json.dumps(calls["extract"][0]["attributes"])

    # the embedder's calls are child spans of retrieve, recall scores are attributes
    retrieve = nodes["retrieve"]
    assert {s["span_kind"] for s in _children(spans, retrieve)} == {"EMBEDDING"}
    assert retrieve["span_kind"] == "RETRIEVER"
    scores = retrieve["attributes"]["hippograph.recall.scores"]
    assert scores == [m["score"] for m in out["recalled"]] and scores
    assert retrieve["attributes"]["hippograph.recall.keys"] == [m["key"] for m in out["recalled"]]
    assert "I work at Acme as a data engineer." in json.dumps(retrieve["attributes"])

    # the memory operations of the turn
    reconcile = nodes["reconcile"]["attributes"]
    assert reconcile["hippograph.memory.ops"] == [op["op"] for op in out["ops"]] == ["ADD"]
    assert reconcile["hippograph.memory.added"] == 1
    assert reconcile["hippograph.memory.deleted"] == 0
    assert scripted_root["attributes"]["hippograph.memory.ops"] == ["ADD"]

    # every span of the turn knows its user and thread; the raw user id is nowhere
    for span in _trace(spans, scripted_root):
        assert span["attributes"].get("user.id") == user_pseudonym(USER, SETTINGS), span["name"]
        assert span["attributes"].get("session.id") == THREAD, span["name"]
    assert USER not in json.dumps([s["attributes"] for s in spans])


def test_chat_cli_turns_reach_phoenix(phoenix: Phoenix, tmp_path: Path) -> None:
    thread = "cli-trace-thread"
    env = _tracing_env(phoenix, HIPPOGRAPH_DB=str(tmp_path / "memories.db"))
    session = "I live in Lisbon.\nWhere do I live?\n"
    done = run_hippograph("chat", "--user", "carol", "--thread", thread, env=env, stdin=session)
    spans = phoenix.wait_for_spans(
        lambda s: len(_roots(s, "hippograph", thread)) == 2, "the chat's two turns"
    )
    first, second = _roots(spans, "hippograph", thread)
    for root in (first, second):
        assert [s["name"] for s in _children(spans, root)] == GRAPH_NODES
        assert root["attributes"]["user.id"] == user_pseudonym("carol", SETTINGS)
    assert first["attributes"]["hippograph.memory.ops"] == ["ADD"]
    recalled = next(s for s in _children(spans, second) if s["name"] == "retrieve")["attributes"]
    assert recalled["hippograph.recall.count"] == 1
    shown = re.search(r"recalled: .*\((\d\.\d\d)\)", done.stdout)
    assert shown and f"{recalled['hippograph.recall.scores'][0]:.2f}" == shown.group(1)


def test_eval_experiment_reaches_phoenix(phoenix: Phoenix, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    done = run_hippograph(
        "eval", "locomo", "--data", str(FIXTURES), "--out", str(out), env=_tracing_env(phoenix)
    )
    found = re.search(r"Traced as experiment (\S+)", " ".join(done.stderr.split()))
    assert found, done.stderr
    experiment = found.group(1)
    report = json.loads((out / "report.json").read_text())
    asked = len(report["questions"])
    spans = phoenix.wait_for_spans(
        lambda s: (
            len(_roots(s, "locomo question", experiment)) == asked
            and len(_roots(s, "locomo experiment", experiment)) == 1
        ),
        "the eval experiment",
    )
    questions = _roots(spans, "locomo question", experiment)
    assert asked == 6
    scored = [q["attributes"] for q in questions if q["attributes"]["hippograph.eval.evidence"]]
    assert len(scored) == report["overall"]["questions"] == 5
    for key in ("recall_any@1", "recall_any@5", "recall_any@10", "mrr"):
        per_question = [a[f"hippograph.eval.{key}"] for a in scored]
        assert round(sum(per_question) / len(per_question), 4) == report["overall"][key], key
    summary = _roots(spans, "locomo experiment", experiment)[0]["attributes"]
    assert summary["hippograph.eval.recall_any@10"] == report["overall"]["recall_any@10"]
    assert summary["hippograph.eval.questions"] == 5
    # the search of each question is traced under it: its embedder call
    for question in questions:
        assert [s["span_kind"] for s in _children(spans, question)] == ["EMBEDDING"]
    # ingestion went through the remember graph, one trace per turn, as the conversation's user
    ingested = [
        s
        for s in spans
        if s["name"] == "remember"
        and s["attributes"].get("user.id") == user_pseudonym("tiny", SETTINGS)
    ]
    assert len(ingested) == 10
    assert {
        s["name"] for s in spans if s.get("parent_id") == ingested[0]["context"]["span_id"]
    } == {
        "extract",
        "reconcile",
    }


def _fold_structured_output(driver: Any) -> None:
    """Fold the structured-output plumbing under extract and reconcile (two rows deep
    each), so the picture shows the four nodes, the embedder and the model calls."""
    time.sleep(3)  # the tree is drawn, but its rows take a moment to become interactive
    for node in ("reconcile", "extract"):  # bottom up: folding moves the rows below
        rows = driver.find_elements(
            "xpath", f"(//*[text()='{node}']/following::*[text()='RunnableSequence'])[1]"
        )
        toggles = rows[0].find_elements("xpath", "./ancestor::*[3]//button") if rows else []
        if toggles:
            toggles[0].click()
            time.sleep(0.5)


@pytest.mark.skipif(
    not (os.access("/usr/bin/chromium", os.X_OK) and os.access("/usr/bin/chromedriver", os.X_OK)),
    reason="Chromium is not installed (apt-get install chromium chromium-driver)",
)
def test_trace_in_phoenix_ui(
    agent_spans: Any, phoenix: Phoenix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    spans, _ = agent_spans
    root = _roots(spans, "hippograph", THREAD)[1]
    project = phoenix.client().projects.get(project_name=PROJECT)
    url = f"{phoenix.url}/projects/{project['id']}/traces/{root['context']['trace_id']}"
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--disable-background-networking", "--no-first-run",
    ):  # fmt: skip
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(url)
        tree = wait_for(
            lambda: all(n in driver.page_source for n in NODES) and driver.page_source,
            what="the trace tree",
        )
        assert "embed_quer" in tree and "ScriptedChatModel" in tree  # embed_query/_queries
        _fold_structured_output(driver)
        retrieve = wait_for(
            lambda: driver.find_elements("xpath", "//*[text()='retrieve']"), what="retrieve"
        )
        retrieve[0].click()  # the retriever view: recalled memories with their scores
        wait_for(lambda: "score 0." in driver.find_element("tag name", "body").text, what="docs")
        for heading in driver.find_elements("xpath", "//h3[text()='Input']"):
            heading.click()  # fold the (long) input so the documents show
        body = driver.find_element("tag name", "body").text
        assert "I work at Acme as a data engineer." in body and "reconcile" in body
        folder = (
            SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path_factory.mktemp("s")
        )
        picture = folder / "trace.png"
        assert driver.save_screenshot(str(picture))
        assert picture.stat().st_size > 50_000
    finally:
        driver.quit()
