"""A one-line progress bar with rate and ETA for a batch, redrawn in place on a terminal stream."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"2 h 05 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class BatchProgress:
    """``[#####-----] 12/40 series  2 failed  0.8/min  ETA 35 min 00 s`` on ``stream``.

    The rate counts only series finished in this run, from the first submission.
    """

    def __init__(
        self, total: int, stream: TextIO, noun: str = "series", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.noun = noun
        self.done = 0
        self.failed = 0
        self._stream = stream
        self._clock = clock
        self._started = clock()

    def line(self) -> str:
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        text = f"[{bar}] {self.done}/{self.total} {self.noun}"
        if self.failed:
            text += f"  {self.failed} failed"
        elapsed = self._clock() - self._started
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            text += f"  {rate * 60:.1f}/min  ETA {format_duration((self.total - self.done) / rate)}"
        return text

    def advance(self, *, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        self.draw()

    def draw(self) -> None:
        end = "\n" if self.done >= self.total else ""
        print(f"\r{self.line():<100}", end=end, file=self._stream, flush=True)
