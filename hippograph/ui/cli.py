"""`hippograph ui`: start the Streamlit app over the same store, graph and config as the CLI.

Core pieces:
    - `app`: the typer app registered as `hippograph ui`.
    - `streamlit_command`: the `streamlit run` command line and environment for a
      `Settings`, host and port (what `hippograph ui` executes).

Settings reach the app through the `HIPPOGRAPH_*` environment, so the app opens exactly
what `hippograph chat` / `hippograph memories` would. Streamlit's usage statistics are
always off; a browser is opened only with `--open`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import typer

from hippograph.cli._common import StoreOption, UserOption, console, load_settings
from hippograph.config import ENV_PREFIX, Settings
from hippograph.extras import require_extra
from hippograph.ui import APP_PATH
from hippograph.ui.theme import PRIMARY_COLOR

app = typer.Typer(help="Start the web UI (Streamlit).", add_completion=False)


def streamlit_command(
    settings: Settings, *, host: str, port: int, open_browser: bool = False
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run the app for `settings` on `host:port`."""
    argv = [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "false" if open_browser else "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--theme.base", "light",
        "--theme.primaryColor", PRIMARY_COLOR,
    ]  # fmt: skip
    env = dict(os.environ)
    env.update(
        {
            f"{ENV_PREFIX}DB": str(settings.db_path),
            f"{ENV_PREFIX}USER": settings.user_id,
            f"{ENV_PREFIX}EMBEDDINGS": settings.embeddings,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    optional = {
        "MODEL": settings.model,
        "BASE_URL": settings.base_url,
        "STORE_URL": settings.store_url,
    }
    for name, value in optional.items():
        if value:
            env[f"{ENV_PREFIX}{name}"] = value
        else:
            env.pop(f"{ENV_PREFIX}{name}", None)
    return argv, env


def _seed_demo(settings: Settings) -> None:
    from hippograph.backends import open_store
    from hippograph.memories import MemoryManager
    from hippograph.recalls import RecallLog
    from hippograph.ui.demo import DEMO_SCRIPT, seed_demo

    with open_store(settings=settings) as store:
        if MemoryManager(store, settings.user_id).count():
            console.print(f"[dim]{settings.user_id} already has memories; demo not seeded.[/]")
            return
        from rich.progress import Progress

        log = RecallLog.for_settings(settings)
        try:
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task(f"Seeding demo user {settings.user_id}", total=len(DEMO_SCRIPT))
                count = seed_demo(
                    store,
                    user_id=settings.user_id,
                    recall_log=log,
                    progress=lambda done, _: bar.update(task, completed=done),
                )
        finally:
            log.close()
    console.print(f"Seeded demo user [bold]{settings.user_id}[/] with {count} memories.")


@app.callback(invoke_without_command=True)
def ui(
    *,
    user: str | None = UserOption,
    store: str | None = StoreOption,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Chat model spec (default: HIPPOGRAPH_MODEL; unset = offline)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int = typer.Option(8501, "--port", "-p", min=1, max=65535, help="Port to serve on."),
    open_browser: bool = typer.Option(False, "--open", help="Open a browser tab."),
    demo: bool = typer.Option(
        False, "--demo", help="First seed the user (default 'maya') with demo conversations."
    ),
) -> None:
    """Start the web UI: chat with live memory operations, browse, search, analytics, history."""
    require_extra("ui", "hippograph ui")
    from hippograph.ui.demo import DEMO_USER

    settings = load_settings(user=user or (DEMO_USER if demo else None), store=store, model=model)
    if demo:
        _seed_demo(settings)
    argv, env = streamlit_command(settings, host=host, port=port, open_browser=open_browser)
    console.print(
        f"hippograph ui — user [bold]{settings.user_id}[/], store {settings.store_label}, "
        f"model {settings.model or 'offline'} — http://{host}:{port}"
    )
    process = subprocess.Popen(argv, env=env)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # stop the server with us
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()
        code = process.wait()
    raise typer.Exit(code)
