"""`Closeable`: the context-manager protocol shared by hippograph's stores."""

from __future__ import annotations

from typing import Self


class Closeable:
    """`with store: ...` closes the store on exit; subclasses implement `close()`."""

    def close(self) -> None:
        """Release the store's connections and threads (idempotent)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
