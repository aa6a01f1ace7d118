"""`ScriptedChatModel`: a real LangChain chat model that answers from a script.

Core pieces:
    - `ScriptedChatModel`: a `BaseChatModel` that returns queued responses in order, supports
      `bind_tools` / `with_structured_output` (LangChain's own structured-output machinery
      parses its tool calls) and streams token by token.
    - `ScriptExhaustedError`: raised when the script has no response left.

It exists so tests — ours and our users' — drive the real graph and nodes offline and
deterministically, including the failure paths (bad JSON, wrong schema, timeouts).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

__all__ = ["ScriptExhaustedError", "ScriptedChatModel"]


class ScriptExhaustedError(RuntimeError):
    """The scripted model was called more times than it has responses."""


def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool.get("function", {}).get("name") or tool.get("name") or "tool")


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies with the next queued response, for tests and demos.

    Each call consumes one response. What a response becomes:

    - `str`: the reply text. When a tool is forced (`tool_choice`, as
      `with_structured_output` does), the string is taken as the *raw JSON arguments* of a
      call to that tool — so `'{"facts": ['` reproduces a model emitting broken JSON, and
      `""` an empty output, exactly as a provider would return them.
    - `dict` / pydantic object: a tool call to the forced (or first bound) tool with these
      arguments; without tools, the JSON text as the reply.
    - `AIMessage`: returned as is.
    - an exception (instance or class): raised, like a timeout or a provider error.
    - a callable: called with the prompt messages; its result is handled as above.

    When the queue is empty, `default` (if set) answers; otherwise `ScriptExhaustedError`.
    Every prompt is recorded in `calls`, so a test can assert what the model was shown.

    Example:
        ```python
        model = ScriptedChatModel(responses=["Hello!", {"facts": []}])
        model.invoke("hi").content  # "Hello!"
        ```
    """

    responses: list[Any] = Field(default_factory=list)
    """Responses to give, in order (see the class docstring for the accepted kinds)."""
    default: Any = None
    """Response (or callable) used whenever the queue is empty; `None` raises instead."""
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    """The prompt of every call so far, oldest first."""

    _queue: deque[Any] = PrivateAttr(default_factory=deque)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any, /) -> None:
        """Load `responses` into the consumable queue."""
        self._queue.extend(self.responses)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def remaining(self) -> int:
        """How many queued responses are left."""
        with self._lock:
            return len(self._queue)

    def queue(self, *responses: Any) -> None:
        """Append responses to the script."""
        with self._lock:
            self._queue.extend(responses)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any form `convert_to_openai_tool` accepts) and an optional tool choice."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _next(self, messages: list[BaseMessage]) -> Any:
        with self._lock:
            self.calls.append(list(messages))
            if self._queue:
                response = self._queue.popleft()
            elif self.default is not None:
                response = self.default
            else:
                raise ScriptExhaustedError(
                    f"ScriptedChatModel has no response left for call #{len(self.calls)}"
                )
        if callable(response) and not isinstance(response, type | BaseModel):
            response = response(messages)
        if isinstance(response, BaseException):
            raise response
        if isinstance(response, type) and issubclass(response, BaseException):
            raise response()
        return response

    def _reply(
        self,
        response: Any,
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | bool | None,
    ) -> AIMessage:
        message_id = f"scripted-{uuid.uuid4().hex[:12]}"
        if isinstance(response, AIMessage):
            return response if response.id else response.model_copy(update={"id": message_id})
        forced = _forced_tool(tools or [], tool_choice)
        if isinstance(response, BaseModel):
            response = response.model_dump(mode="json")
        if isinstance(response, dict):
            if forced is None and tools:
                forced = _tool_name(tools[0])
            if forced is None:
                return AIMessage(content=json.dumps(response), id=message_id)
            return _tool_call_message(forced, json.dumps(response), message_id)
        if isinstance(response, str):
            if forced is not None:
                return _tool_call_message(forced, response, message_id)
            return AIMessage(content=response, id=message_id)
        raise TypeError(f"unsupported scripted response of type {type(response).__name__}")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(self._next(messages), kwargs.get("tools"), kwargs.get("tool_choice"))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        assert isinstance(reply, AIMessage)
        text = reply.content if isinstance(reply.content, str) else reply.text
        for token in (t for t in re.split(r"(\s)", text) if t):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=reply.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        raw_calls = reply.additional_kwargs.get("tool_calls") or []
        if raw_calls or reply.tool_calls:
            chunks = [
                {
                    "name": call["function"]["name"],
                    "args": call["function"]["arguments"],
                    "id": call["id"],
                    "index": index,
                    "type": "tool_call_chunk",
                }
                for index, call in enumerate(raw_calls)
            ] or [
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": index,
                    "type": "tool_call_chunk",
                }
                for index, call in enumerate(reply.tool_calls)
            ]
            final = AIMessageChunk(content="", id=reply.id, tool_call_chunks=chunks)  # type: ignore[arg-type]
            yield ChatGenerationChunk(message=final)


def _forced_tool(
    tools: list[dict[str, Any]], tool_choice: str | dict[str, Any] | bool | None
) -> str | None:
    """The tool name `tool_choice` forces, if any (`"any"`/`"required"`/`True`: the first)."""
    if not tools or tool_choice in (None, False, "auto", "none"):
        return None
    if tool_choice in (True, "any", "required"):
        return _tool_name(tools[0])
    if isinstance(tool_choice, dict):
        return str(tool_choice.get("function", {}).get("name") or tool_choice.get("name"))
    return str(tool_choice)


def _tool_call_message(name: str, arguments: str, message_id: str) -> AIMessage:
    """An AIMessage calling `name` with raw JSON `arguments`, parsed the way providers do."""
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    raw = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    error: str | None = None
    try:
        args = json.loads(arguments)
    except json.JSONDecodeError as exc:
        args, error = None, f"invalid JSON arguments: {exc}"
    if error is None and not isinstance(args, dict):
        error = "arguments are not a JSON object"
    if error is None:
        return AIMessage(
            content="",
            id=message_id,
            additional_kwargs={"tool_calls": [raw]},
            tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}],
        )
    return AIMessage(
        content="",
        id=message_id,
        additional_kwargs={"tool_calls": [raw]},
        invalid_tool_calls=[
            {
                "name": name,
                "args": arguments,
                "id": call_id,
                "error": error,
                "type": "invalid_tool_call",
            }
        ],
    )
