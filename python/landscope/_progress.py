"""A one-line progress display on stderr, shared by the long-running entry points."""
from __future__ import annotations

import sys
import time


class ProgressLine:
    """Redraws one line on stderr, at most every ``interval`` seconds; ``close`` ends it."""

    def __init__(self, enabled: bool, interval: float = 0.2):
        self.enabled = enabled
        self.interval = interval
        self.shown = False
        self.last = -float("inf")

    def show(self, text: str) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            sys.stderr.write(f"\r{text}   ")
            sys.stderr.flush()
            self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
