"""Progress bars for long commands: on stderr, only when stderr is a terminal.

tqdm, not rich: it is one small pure-Python package with no dependencies of its own
(rich pulls in markdown-it and pygments), it writes to stderr by default, turns itself
off for a non-terminal, and its ``delay`` keeps short operations silent. It is a
dependency of memokey, imported only by the commands that walk many entries.
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["Progress"]

_DELAY = 0.5  # seconds before a bar appears: quick commands print none


class Progress:
    """A counter of entries walked, shown as a bar on a terminal's stderr (`enabled`)."""

    def __init__(self, what: str, *, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(desc=what, unit=" entries", file=sys.stderr, delay=_DELAY, leave=False)

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
