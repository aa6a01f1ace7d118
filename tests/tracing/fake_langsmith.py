"""A LangSmith API on loopback that records every request and answers like the service.

Only what the `langsmith` client needs for tracing and for an evaluation experiment:
datasets, examples, experiment sessions, runs (batch and multipart) and feedback. Examples
are kept, so `evaluate()` reads back the dataset it uploaded.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One recorded request: method, path, query and decoded body."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeLangSmith:
    """The recorded requests and the state the answers come from."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, pattern: str) -> list[Request]:
        """Recorded requests of `method` whose path matches the regex `pattern`."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def runs(self) -> list[dict[str, Any]]:
        """Every run posted (batch or multipart), creates and updates alike."""
        out: list[dict[str, Any]] = []
        for request in self.requests:
            if request.path == "/runs/batch" and isinstance(request.body, dict):
                out += request.body.get("post") or []
                out += request.body.get("patch") or []
            elif request.path == "/runs/multipart" and isinstance(request.body, dict):
                out += request.body.get("runs", [])
            elif request.path == "/runs" and isinstance(request.body, dict):
                out.append(request.body)
        return out

    def feedback(self) -> list[dict[str, Any]]:
        """Every feedback record posted (on its own or inside a multipart batch)."""
        out = [r.body for r in self.calls("POST", "/feedback") if isinstance(r.body, dict)]
        for request in self.calls("POST", "/runs/multipart"):
            out += request.body.get("feedback", [])
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """Runs and feedback of a `/runs/multipart` body (parts named `post.<id>`, ...)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    runs: dict[str, dict[str, Any]] = {}
    feedback: list[dict[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True) or b""
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        kind, _, rest = str(name).partition(".")
        run_id, _, attr = rest.partition(".")
        if kind == "feedback":
            feedback.append(value)
        elif kind in ("post", "patch"):
            run = runs.setdefault(f"{kind}.{run_id}", {"id": run_id})
            if attr:
                run[attr] = value
            else:
                run.update(value)
    return {"runs": list(runs.values()), "feedback": feedback}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        return

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if self.headers.get("content-encoding") == "zstd":
            import zstandard  # a dependency of langsmith

            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        kind = self.headers.get("content-type") or ""
        if kind.startswith("multipart/"):
            return _multipart(kind, raw)
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        request = Request(self.command, path, parse_qs(url.query), self._body())
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(request)
            status, payload = _answer(fake, request)
        self._send(status, payload)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


def _answer(fake: FakeLangSmith, request: Request) -> tuple[int, Any]:
    method, path, query, body = request.method, request.path, request.query, request.body
    if path == "/info":
        flags = {"zstd_compression_enabled": True}  # as the service: runs arrive compressed
        return 200, {"version": "0.10.0", "batch_ingest_config": {}, "instance_flags": flags}
    if path == "/datasets" and method == "GET":
        names = query.get("name", [])
        return 200, [d for d in fake.datasets.values() if not names or d["name"] in names]
    if path == "/datasets" and method == "POST":
        dataset = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "description": body.get("description"),
            "created_at": _now(),
            "modified_at": _now(),
            "data_type": body.get("data_type") or "kv",
            "tenant_id": str(uuid.UUID(int=0)),
            "example_count": 0,
            "session_count": 0,
        }
        fake.datasets[dataset["id"]] = dataset
        return 200, dataset
    if match := re.fullmatch(r"/datasets/([0-9a-f-]+)", path):
        dataset_id = match.group(1)
        if dataset_id in fake.datasets:
            return 200, fake.datasets[dataset_id]
        return 404, {"detail": "not found"}
    if re.fullmatch(r"/datasets/[0-9a-f-]+/versions.*", path):
        return 200, {"as_of": _now(), "tags": []}
    if path in ("/examples/bulk", "/v1/platform/datasets/examples") or (
        re.fullmatch(r"/v1/platform/datasets/[0-9a-f-]+/examples", path)
    ):
        items = body if isinstance(body, list) else (body or {}).get("examples", [])
        created = [
            {
                "created_at": _now(),
                "modified_at": _now(),
                "metadata": None,
                "outputs": None,
                **item,
                "id": str(item.get("id") or uuid.uuid4()),
            }
            for item in items
        ]
        fake.examples += created
        if path == "/examples/bulk":
            return 200, created
        return 200, {"example_ids": [e["id"] for e in created], "count": len(created)}
    if path == "/examples" and method == "GET":
        ids = query.get("dataset", [])
        chosen = [e for e in fake.examples if not ids or str(e.get("dataset_id")) in ids]
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        return 200, chosen[offset : offset + limit]
    if path == "/sessions" and method == "POST":
        session = {
            "id": str(body.get("id") or uuid.uuid4()),
            "tenant_id": str(uuid.UUID(int=0)),
            "start_time": _now(),
            **{k: v for k, v in body.items() if k != "id"},
        }
        fake.sessions[session["id"]] = session
        return 200, session
    if path == "/sessions" and method == "GET":
        names = query.get("name", [])
        return 200, [s for s in fake.sessions.values() if not names or s.get("name") in names]
    if match := re.fullmatch(r"/sessions/([0-9a-f-]+)", path):
        session = fake.sessions.get(match.group(1))
        if session is None:
            return 404, {"detail": "not found"}
        if method == "PATCH" and isinstance(body, dict):
            session.update(body)
        return 200, session
    if path == "/feedback" and method == "POST":
        return 200, {"id": str((body or {}).get("id") or uuid.uuid4()), **(body or {})}
    if path.startswith("/runs"):
        return 202 if method == "POST" else 200, {}
    return 200, {}


class _Server(ThreadingHTTPServer):
    fake: FakeLangSmith


@contextmanager
def fake_langsmith() -> Iterator[FakeLangSmith]:
    """Serve a `FakeLangSmith` on a free loopback port for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeLangSmith(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
