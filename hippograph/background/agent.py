"""How `build_agent(background=...)` turns its option into a formation scheduler and a node.

Core pieces:
    - `BackgroundOption`: what `background=` accepts: `None`/`False` (form memories in the
      turn), `True` or seconds (an in-process `MemoryFormer` with that delay), or a
      `MemoryFormer` / `ServerFormation` of the caller's.
    - `former_for` / `owned_former`: the scheduler an option stands for, made on the
      agent's store (and stopped with the agent's storage when made here).
    - `deferred`: the `defer` node bound to that scheduler (sync for `MemoryFormer`, async
      for `ServerFormation`, which talks to the server).
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from hippograph.background.executor import DEFAULT_DELAY, MemoryFormer
from hippograph.background.node import adefer, defer
from hippograph.background.server import ServerFormation

Background = MemoryFormer | ServerFormation
"""A formation scheduler: in this process, or on the LangGraph server."""

BackgroundOption = bool | float | int | Background | None
"""What `build_agent(background=...)` accepts."""


def former_for(
    option: BackgroundOption,
    store: BaseStore,
    model: BaseChatModel | str | None,
    profile: type[BaseModel] | None = None,
) -> Background | None:
    """The scheduler `option` stands for (`None`: memory is formed in the turn).

    Raises:
        ValueError: a negative delay, or an option of another type.
    """
    if option is None or option is False:
        return None
    if isinstance(option, MemoryFormer | ServerFormation):
        return option
    if option is True:
        return MemoryFormer(store, model=model, delay=DEFAULT_DELAY, profile=profile)
    if isinstance(option, int | float) and option >= 0:
        return MemoryFormer(store, model=model, delay=float(option), profile=profile)
    raise ValueError(
        "background= takes True, seconds of delay (>= 0), a MemoryFormer or a "
        f"ServerFormation, got {option!r}"
    )


def owned_former(
    opened: ExitStack,
    option: BackgroundOption,
    store: BaseStore,
    model: BaseChatModel | str | None,
    profile: type[BaseModel] | None = None,
) -> Background | None:
    """`former_for`, with a former made here stopped by `opened` (turns waiting stay
    queued in the store); a caller's own former is left to the caller."""
    former = former_for(option, store, model, profile)
    if former is not None and former is not option:
        opened.callback(former.close)
    return former


def deferred(background: Background) -> Any:
    """The `defer` node for `background`."""
    if isinstance(background, ServerFormation):
        return partial(adefer, server=background)
    return partial(defer, former=background)
