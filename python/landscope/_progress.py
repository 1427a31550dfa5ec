"""Progress output on stderr, shared by the long-running entry points and the CLI.

One policy everywhere (``progress=`` of :func:`~landscope.train`, :func:`~landscope.eigsh`,
:func:`~landscope.classify`, :func:`~landscope.spectral_density`, :func:`~landscope.trace` and
``landscope spectrum``):
``None`` (the default) shows progress only when stderr is a terminal, ``True`` (or 1) always,
``False`` (or 0) never. On a terminal one line is redrawn in place (``\\r``) a few times
a second; elsewhere (a log file, a pipe, a notebook's captured stream) whole ``\\n``-terminated
lines are written, at most one every few seconds, and the last state when the work ends.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np

#: Seconds between redraws on a terminal, and between whole lines elsewhere.
TERMINAL_INTERVAL = 0.2
LINE_INTERVAL = 5.0


def enabled(progress) -> bool:
    """Resolve a ``progress=`` argument: None -> whether stderr is a terminal; True/False as given.

    Raises TypeError (naming ``progress``) for anything else.
    """
    if progress is None:
        return _stderr_is_terminal()
    if isinstance(progress, (bool, np.bool_)) or (isinstance(progress, (int, np.integer)) and progress in (0, 1)):
        return bool(progress)
    raise TypeError(f"progress: expected None (show on a terminal only), True or False, got {progress!r}")


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgressLine:
    """One progress line on stderr: ``show(text)`` (rate-limited), ``close()`` at the end.

    ``progress`` is None, True or False, resolved by :func:`enabled`. On a
    terminal the line is redrawn in place at most every ``interval`` seconds and ``close``
    leaves its last state followed by a newline; elsewhere each update is a whole line, at most
    one every ``line_interval`` seconds (the first at once), and ``close`` writes the last state
    if it was not written yet. Inside :func:`transient` a terminal line is erased on ``close``
    instead (the CLI prints each result in its place).
    """

    transient = False  # set by transient()

    def __init__(self, progress: Optional[bool] = None, interval: float = TERMINAL_INTERVAL,
                 line_interval: float = LINE_INTERVAL):
        self.enabled = enabled(progress)
        self.terminal = _stderr_is_terminal()
        self.interval = interval if self.terminal else line_interval
        self.shown = False
        self.last = -float("inf")
        self._pending: Optional[str] = None  # the newest text, when not written yet
        self._width = 0  # length of the line on the terminal, to blank what a shorter one leaves

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._write(text)
        else:
            self._pending = text

    def _write(self, text: str) -> None:
        stream = sys.stderr
        if stream is None:
            return
        if self.terminal:
            pad = max(0, self._width - len(text))
            stream.write(f"\r{text}{' ' * pad}")
            self._width = len(text)
        else:
            stream.write(text + "\n")
        stream.flush()
        self.shown = True
        self._pending = None

    def close(self) -> None:
        """Write the last state if it is not on screen yet, and end the line."""
        if self.shown and self.terminal and self.transient:
            self._pending = None
            if sys.stderr is not None:
                sys.stderr.write(f"\r{' ' * self._width}\r")
                sys.stderr.flush()
        elif self.shown and self.terminal:
            if self._pending is not None:
                self._write(self._pending)
            if sys.stderr is not None:
                sys.stderr.write("\n")
                sys.stderr.flush()
        elif self._pending is not None:
            self._write(self._pending)
        self.shown = False
        self._width = 0


@contextmanager
def transient() -> Iterator[None]:
    """Progress lines on a terminal are erased when their work ends, inside this block."""
    before = ProgressLine.transient
    ProgressLine.transient = True
    try:
        yield
    finally:
        ProgressLine.transient = before


@contextmanager
def phase(label: str, progress, *, ticking: bool = True) -> Iterator[ProgressLine]:
    """Show ``label`` while the block runs (with the seconds elapsed, from a background thread
    while the block waits in C++ with the GIL released), then ``label: done in X s``.

    ``ticking=False`` shows the label once and leaves the updates to the caller, who may
    ``show`` on the yielded :class:`ProgressLine`.
    """
    line = ProgressLine(progress)
    if not line.enabled:
        yield line
        return
    start = time.monotonic()
    line.show(f"{label} ...")
    stop = threading.Event()
    ticker = None
    if ticking:
        def tick() -> None:
            while not stop.wait(line.interval):
                line.show(f"{label} ... {time.monotonic() - start:.1f} s")

        ticker = threading.Thread(target=tick, name="landscope-progress", daemon=True)
        ticker.start()
    ok = False
    try:
        yield line
        ok = True
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        if ok and not (line.terminal and line.transient):  # on an error or Ctrl-C: the last state
            line._pending = None
            line._write(f"{label}: done in {time.monotonic() - start:.1f} s")
        line.close()
