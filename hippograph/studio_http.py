"""HTTP additions of our LangGraph server (`langgraph.json` → `http.app`): run contexts with
unknown keys are refused.

The LangGraph server drops context keys its graph's context schema does not list before the
graph sees them, so `context={"user_id": "a", "usr_id": "b"}` would run silently without the
misspelt setting. `ContextCheck` answers such a run request with 422 and the same
`UnknownContextKeyError` message an in-process run raises; everything else passes through
untouched (a missing `user_id` is reported by the run itself, `MissingUserError`).

Core pieces:
    - `ContextCheck`: the ASGI middleware, on every run-creating endpoint.
    - `app`: a Starlette app with no routes of its own, carrying the middleware.
"""

from __future__ import annotations

import json
import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hippograph.memory.context import Context, UnknownContextKeyError

_RUN_PATHS = re.compile(r"/runs(/stream|/wait|/batch|/crons)?/?$")
"""Endpoints that start runs with a `context` (`/threads/{id}/runs…`, `/runs…`)."""


def unknown_context_problem(body: bytes) -> str | None:
    """The `UnknownContextKeyError` message for a run request's body, if its context (or
    any context of a batch) names a key the memory agent does not have."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None  # not ours to judge: the server answers a malformed body itself
    for run in payload if isinstance(payload, list) else [payload]:
        context = run.get("context") if isinstance(run, dict) else None
        if not isinstance(context, dict) or not context:
            continue
        try:
            Context(**context)
        except UnknownContextKeyError as exc:
            return f"UnknownContextKeyError: {exc}"
        except ValueError:
            continue  # other problems are reported by the run, as in-process
    return None


class ContextCheck:
    """ASGI middleware refusing run requests whose context has unknown keys (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a run request's body, then hand the request on (body replayed) or refuse."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not _RUN_PATHS.search(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        body = b""
        while True:
            message = await receive()
            received.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        problem = unknown_context_problem(body)
        if problem is not None:
            await _refuse(send, problem)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, detail: str) -> None:
    content = json.dumps({"detail": detail}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": content})


app = Starlette(middleware=[Middleware(ContextCheck)])
"""Mounted by `langgraph.json` (`"http": {"app": ...}`); its middleware covers the server's
own routes."""
