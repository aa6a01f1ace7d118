"""Progress on the terminal while the local model is prepared and loaded (`--model local`).

The first run joins and checks ~1.1 GB of weights (a few seconds); every run loads them
(a few seconds more). Both show a progress line on stderr instead of a silent pause.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from hippograph.cli._common import errors

_LABELS = {
    "joining": "joining the local model's weights",
    "checking": "checking the local model's weights",
    "loading": "loading the local model",
}


def start_local_model() -> None:
    """Start the process's local model server now, with progress on stderr.

    Raises:
        LocalModelUnavailableError: the `local` extra is missing or the weights are damaged.
    """
    from hippograph.local_model import local_server

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=errors,
        transient=True,
    ) as progress:
        local_server(progress=_reporter(progress))


def _reporter(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(_LABELS.get(stage, stage), total=total or None)
        progress.update(tasks[stage], completed=done, total=total or None)

    return report
