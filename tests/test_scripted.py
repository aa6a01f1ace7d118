"""ScriptedChatModel behaves like a real chat model: invoke, tools, structured output, stream."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from hippograph.scripted import ScriptedChatModel, ScriptExhaustedError


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    celsius: float


def test_replies_in_order_and_records_prompts():
    model = ScriptedChatModel(responses=["one", AIMessage("two")])
    assert model.invoke("a").content == "one"
    assert model.invoke("b").content == "two"
    assert [c[0].content for c in model.calls] == ["a", "b"]
    with pytest.raises(ScriptExhaustedError):
        model.invoke("c")


def test_default_and_callable_responses():
    model = ScriptedChatModel(default=lambda messages: f"echo {messages[-1].content}")
    assert model.invoke("hi").content == "echo hi"
    assert model.remaining == 0


def test_raises_queued_exceptions():
    model = ScriptedChatModel(responses=[TimeoutError("slow"), ConnectionError])
    with pytest.raises(TimeoutError, match="slow"):
        model.invoke("x")
    with pytest.raises(ConnectionError):
        model.invoke("x")


def test_bind_tools_turns_dicts_into_tool_calls():
    model = ScriptedChatModel(responses=[{"city": "Oslo", "celsius": 3}])
    reply = model.bind_tools([Weather]).invoke("weather?")
    assert reply.tool_calls[0]["name"] == "Weather"
    assert reply.tool_calls[0]["args"] == {"city": "Oslo", "celsius": 3}


def test_structured_output_runs_langchains_parser():
    model = ScriptedChatModel(
        responses=[Weather(city="Rome", celsius=21), '{"city": "Paris"', {"town": "Nice"}, ""]
    )
    structured = model.with_structured_output(Weather, include_raw=True)
    assert structured.invoke("x")["parsed"] == Weather(city="Rome", celsius=21)
    for _ in range(3):  # broken JSON, wrong schema, empty output
        out = structured.invoke("x")
        assert out["parsed"] is None and out["parsing_error"] is not None


def test_streams_tokens_and_structured_output():
    model = ScriptedChatModel(responses=["It is sunny today", {"city": "Oslo", "celsius": 3}])
    tokens = [chunk.content for chunk in model.stream("x")]
    assert "".join(tokens) == "It is sunny today" and len([t for t in tokens if t.strip()]) == 4
    assert list(model.with_structured_output(Weather).stream("x")) == [
        Weather(city="Oslo", celsius=3)
    ]


async def test_async_invoke():
    model = ScriptedChatModel(responses=["async ok"])
    assert (await model.ainvoke("x")).content == "async ok"
