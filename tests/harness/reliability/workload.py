"""A deterministic stream of store writes, and the state they must leave behind.

The crash harness's writer and its checker never talk: both derive the same steps from a
seed and the state before them. The writer executes step after step and logs the number of
each step the store acknowledged; after a kill, the checker replays the acknowledged steps
on its model and knows exactly what the store must hold — that state, or that state plus
the one step that was in flight (all of it or none of it).

Core pieces:
    - `Write`: one put or delete, as the model sees it.
    - `Step`: what the writer does next — a batch of writes, an erasure, or a reopen.
    - `Workload`: generates steps from a seed and the current `Model`.
    - `Model`: the items the store must hold, `(namespace, key) -> (value, indexed)`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Namespace = tuple[str, ...]
StepKind = Literal[
    "put", "update", "delete", "batch", "bulk", "load", "unindexed", "async", "erase", "reopen"
]
Model = dict[tuple[Namespace, str], tuple[dict[str, Any], bool]]
"""`(namespace, key) -> (value, indexed)`: what the store must hold."""

ROOT = "crash"
LOAD_CHUNK = 16
"""Items per transaction of a `load` step (`bulk_put`): small, so kills land between chunks."""
USERS = ("u0", "u1", "u2", "u3")
_KEYS_PER_NAMESPACE = 60
_CATEGORIES = ("tools", "skills", "preferences", "personal", "work", "habits", "goals", "other")
_WEIGHTS: dict[StepKind, float] = {
    "put": 24,
    "update": 20,
    "delete": 12,
    "batch": 16,
    "bulk": 4,
    "load": 4,
    "unindexed": 4,
    "async": 8,
    "erase": 1.5,
    "reopen": 2.5,
}


@dataclass(frozen=True, slots=True)
class Write:
    """A put (`value` set) or a delete (`value` is `None`); `indexed=False` is `index=False`."""

    namespace: Namespace
    key: str
    value: dict[str, Any] | None
    indexed: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    """One acknowledged unit of work: a batch of `writes` (one transaction), a bulk load of
    puts (`load`: one transaction per `LOAD_CHUNK` writes), an erasure of everything under
    `prefix`, or a close-and-reopen of the store."""

    number: int
    kind: StepKind
    writes: tuple[Write, ...] = ()
    prefix: Namespace | None = None


def namespaces() -> list[Namespace]:
    """Every namespace the workload writes to: one per user, plus a deeper one for u1."""
    return [*((ROOT, user) for user in USERS), (ROOT, "u1", "work")]


def partial_models(model: Model, step: Step) -> list[Model]:
    """The models a store may hold if `step` was cut short by a crash: `model` plus each
    prefix of its transactions (for a `load`, every `LOAD_CHUNK` writes; else none but
    the whole step)."""
    if step.kind != "load":
        return []
    models, current = [], model
    for start in range(0, len(step.writes) - LOAD_CHUNK, LOAD_CHUNK):
        chunk = Step(step.number, step.kind, step.writes[start : start + LOAD_CHUNK])
        current = apply(current, chunk)
        models.append(current)
    return models


def apply(model: Model, step: Step) -> Model:
    """The model after `step` (a new dict; `model` is not changed)."""
    after = dict(model)
    if step.kind == "erase" and step.prefix is not None:
        n = len(step.prefix)
        for namespace, key in list(after):
            if namespace[:n] == step.prefix:
                del after[(namespace, key)]
    for write in step.writes:
        if write.value is None:
            after.pop((write.namespace, write.key), None)
        else:
            after[(write.namespace, write.key)] = (write.value, write.indexed)
    return after


class Workload:
    """Generates the writer's steps: deterministic for a seed and the model they start from.

    Args:
        seed: Seeds the choice of every step.
        texts: Contents to write (each must be embeddable by the writer's embedder).
        run: A label stored in every value, so values of different runs never coincide.
    """

    def __init__(self, seed: int, texts: Sequence[str], run: str) -> None:
        self._rng = random.Random(seed)
        self._texts = list(texts)
        self._run = run
        self._kinds = list(_WEIGHTS)
        self._weights = [_WEIGHTS[k] for k in self._kinds]

    def steps(self, model: Model, first: int = 0) -> Iterator[tuple[Step, Model]]:
        """Endless `(step, model after it)` pairs, starting from `model`."""
        number = first
        while True:
            step = self.next_step(model, number)
            model = apply(model, step)
            yield step, model
            number += 1

    def next_step(self, model: Model, number: int) -> Step:
        """The step to take after `model`."""
        kind: StepKind = self._rng.choices(self._kinds, self._weights)[0]
        existing = sorted(model)
        if kind in ("update", "delete") and not existing:
            kind = "put"
        if kind == "reopen":
            return Step(number, kind)
        if kind == "erase":
            return Step(number, kind, prefix=(ROOT, self._rng.choice(USERS)))
        if kind == "update":
            namespace, key = self._rng.choice(existing)
            old, indexed = model[(namespace, key)]
            write = self._put(namespace, key, number, indexed)
            if self._rng.random() < 0.3:  # same text: the stored vector must be kept as is
                assert write.value is not None
                write.value["content"] = old["content"]
            return Step(number, kind, (write,))
        if kind == "delete":
            namespace, key = self._rng.choice(existing)
            return Step(number, kind, (Write(namespace, key, None),))
        if kind == "unindexed":
            return Step(number, kind, (self._put(*self._slot(), number, indexed=False),))
        size = {"batch": self._rng.randint(2, 8), "async": self._rng.randint(1, 6)}.get(
            kind, self._rng.randint(40, 120) if kind in ("bulk", "load") else 1
        )
        return Step(number, kind, self._distinct_writes(size, existing, number, kind != "load"))

    def _distinct_writes(
        self, size: int, existing: list[tuple[Namespace, str]], number: int, deletes: bool
    ) -> tuple[Write, ...]:
        writes: dict[tuple[Namespace, str], Write] = {}
        for _ in range(size):
            if deletes and existing and self._rng.random() < 0.2:
                namespace, key = self._rng.choice(existing)
                writes[(namespace, key)] = Write(namespace, key, None)
            else:
                namespace, key = self._slot()
                writes[(namespace, key)] = self._put(namespace, key, number)
        return tuple(writes.values())

    def _slot(self) -> tuple[Namespace, str]:
        namespace = self._rng.choice(namespaces())
        return namespace, f"k{self._rng.randrange(_KEYS_PER_NAMESPACE)}"

    def _put(self, namespace: Namespace, key: str, number: int, indexed: bool = True) -> Write:
        value: dict[str, Any] = {
            "content": self._rng.choice(self._texts),
            "category": self._rng.choice(_CATEGORIES),
            "importance": round(self._rng.random(), 3),
            "step": f"{self._run}:{number}",
        }
        if self._rng.random() < 0.5:
            value["context"] = self._rng.choice(self._texts)
        return Write(namespace, key, value, indexed)


def model_items(model: Mapping[tuple[Namespace, str], tuple[dict[str, Any], bool]]) -> dict:
    """`{(prefix text, key): value}` of a model, as the `items` table stores them."""
    return {(".".join(ns), key): value for (ns, key), (value, _) in model.items()}
