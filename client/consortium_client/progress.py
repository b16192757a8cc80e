"""A one-line progress display on stderr (no tqdm): redrawn in place on a terminal, at most
ten times a second; elsewhere (logs, pipes) only each phase's final line is written."""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


class Progress:
    """`update(phase, done, total)` while working, `done(phase, message)` when a phase ends.

    Side effect: writes to `stream` (stderr by default); `enabled=False` writes nothing.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._width = 0

    def update(self, phase: str, done: int, total: int | None = None, *, unit: str = "", force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        amount = (lambda n: _size(n)) if unit == "bytes" else (lambda n: f"{n:,}")
        if total:
            filled = int(30 * min(done, total) / total)
            text = f"{phase} [{'#' * filled}{'.' * (30 - filled)}] {100 * done / total:5.1f}% {amount(done)}/{amount(total)} {'' if unit == 'bytes' else unit}"
        else:
            text = f"{phase} {amount(done)} {'' if unit == 'bytes' else unit}"
        self._draw(text.rstrip())

    def done(self, phase: str, message: str) -> None:
        if not self.enabled:
            return
        if self.live:
            self._draw("")
            self.stream.write("\r")
        self.stream.write(f"{phase}: {message}\n")
        self.stream.flush()
        self._width = 0

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
        self.stream.flush()
        self._width = len(text)
