"""One ``with`` protocol for the objects that hold something to give back (a process, an
open Assistant): ``with x:`` returns ``x`` and calls ``x.close()`` at the end."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A context manager whose exit is ``self.close()``; subclasses define ``close``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
