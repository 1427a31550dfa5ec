"""Progress bars on stderr (tqdm), shared by the long-running entry points and the CLI.

One policy everywhere (``progress=`` of :func:`~landscope.train`, :func:`~landscope.eigsh`,
:func:`~landscope.spectral_density`, :func:`~landscope.trace`, :func:`~landscope.classify`,
:func:`~landscope.landscape.surface`, :func:`~landscope.landscape.connect`,
:func:`~landscope.landscape.flatness` and :func:`~landscope.report.report`, and
``--progress``/``--no-progress`` of ``landscope report`` and ``landscope spectrum``):
``None`` (the default) shows progress only when stderr is a terminal, ``True`` (or 1) always,
``False`` (or 0) never. On a terminal a tqdm bar is redrawn in place a few times a second;
elsewhere (a log file, a pipe, a notebook's captured stream) each redraw is a whole
``\\n``-terminated line, at most one every few seconds, and the last state when the work ends.
tqdm is imported only when a bar is shown.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np

#: Seconds between redraws on a terminal, and between whole lines elsewhere.
TERMINAL_INTERVAL = 0.2
LINE_INTERVAL = 5.0
_WIDTH = 100  # the width of the line on a terminal that does not say its width (off one: untrimmed)

# bar formats: a count towards a known total, an open-ended count, and a phase (time only)
_COUNT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}<rate>]{postfix}"
_OPEN = "{desc}: {n_fmt}{unit} [{elapsed}<rate>]{postfix}"
_PHASE = "{desc} ... {elapsed_s:.1f} s"
_RATE = ", {speed}"
_STATS = re.compile(r"\[[^\]]*\]")  # the times and rates of a bar's line (the postfix is after them)

_transient = False  # set by transient()
_Bar = None  # the tqdm subclass, made on first use


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


class Off:
    """What :func:`bar` returns when progress is off: a tqdm bar's methods, doing nothing."""

    disable = True

    def __init__(self, total: Optional[float] = None, initial: float = 0):
        self.total = total
        self.n = initial

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_description_str(self, desc: Optional[str] = None, refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "Off":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Lines:
    """The stream of a bar off a terminal: each redraw becomes one whole line, an unchanged
    redraw none; carriage returns, erasures and cursor moves are dropped. The bar's last state,
    written as it closes, is left out when it differs from the line before only in the times
    and rates in brackets (the count was written just before)."""

    def __init__(self, stream):
        self._stream = stream
        self._last: Optional[str] = None
        self.closing = False  # set by the bar's close
        self.encoding = getattr(stream, "encoding", None)

    def write(self, s: str) -> None:
        text = str(s).replace("\x1b[A", "").replace("\r", "").replace("\n", "").rstrip()
        if not text or text == self._last:
            return
        if self.closing and self._last is not None and _STATS.sub("", text) == _STATS.sub("", self._last):
            return
        self._last = text
        self._stream.write(text + "\n")

    def flush(self) -> None:
        self._stream.flush()


def _bar_class():
    """tqdm, without its monitor thread, and with an optional ticker: a thread that redraws the
    bar every ``tick`` seconds, so that the time shown moves while C++ runs with the GIL released."""
    global _Bar
    if _Bar is None:
        from tqdm import tqdm

        class Bar(tqdm):
            monitor_interval = 0  # no monitor thread (it only tunes miniters, fixed at 1 here)

            def __init__(self, *args, tick: Optional[float] = None, **kwargs):
                self._stop = None
                super().__init__(*args, **kwargs)
                if tick and not self.disable:
                    self._stop = threading.Event()
                    self._ticker = threading.Thread(target=self._tick, args=(tick,), name="landscope-progress",
                                                    daemon=True)
                    self._ticker.start()

            @property
            def format_dict(self) -> dict:
                d = super().format_dict
                rate = d["rate"]
                if rate is None and d["elapsed"]:
                    rate = (d["n"] - d["initial"]) / d["elapsed"]
                # units per second in 3 digits (73.0k steps/s), where tqdm's rate_noinv_fmt has 2 decimals
                d["speed"] = (tqdm.format_sizeof(rate) if rate else "?") + f"{d['unit']}/s"
                return d

            def _tick(self, interval: float) -> None:
                while not self._stop.wait(interval):
                    self.refresh()

            def close(self) -> None:
                stop = getattr(self, "_stop", None)
                if stop is not None:
                    stop.set()
                    self._ticker.join()
                    self._stop = None
                if isinstance(getattr(getattr(self, "fp", None), "_wrapped", None), _Lines):
                    self.fp.closing = True
                super().close()

        _Bar = Bar
    return _Bar


def bar(desc: str, total: Optional[int] = None, *, progress=None, unit: str = "it", initial: int = 0,
        postfix: Optional[str] = None, leave: Optional[bool] = None, rate: bool = True, tick: bool = False,
        bar_format: Optional[str] = None):
    """A tqdm bar on stderr named ``desc``, counting ``unit`` up to ``total`` (None: an open
    count), or an :class:`Off` that does nothing when ``progress`` (resolved by :func:`enabled`)
    is off. Advance it with ``update(n)`` (``update(done - bar.n)`` for an absolute count),
    name the current state with ``set_postfix_str``, and ``close`` it (or use it in a ``with``).

    On a terminal it is redrawn at most every :data:`TERMINAL_INTERVAL` seconds and fits the
    terminal's width; ``leave`` (None: tqdm's, kept unless nested in another bar) keeps its last
    state when closed, and inside :func:`transient` it is erased. Elsewhere it writes whole lines,
    at most one every :data:`LINE_INTERVAL` seconds, and always keeps the last state. ``rate``
    shows units per second; ``tick`` redraws it from a thread (the elapsed time moves while
    nothing is counted).
    """
    if not enabled(progress) or sys.stderr is None:
        return Off(total, initial)
    terminal = _stderr_is_terminal()
    interval = TERMINAL_INTERVAL if terminal else LINE_INTERVAL
    if bar_format is None:
        bar_format = (_OPEN if total is None else _COUNT).replace("<rate>", _RATE if rate else "")
    fits = terminal and _terminal_width() > 1  # a terminal of unknown width (0) gets a fixed one
    if terminal:
        stream = sys.stderr
        if _transient:
            leave = False
    else:
        stream, leave = _Lines(sys.stderr), True
    return _bar_class()(desc=desc, total=total, initial=initial, unit=f" {unit}", file=stream, leave=leave,
                        mininterval=interval, miniters=1, dynamic_ncols=fits,
                        ncols=_WIDTH if terminal and not fits else None, nrows=None if fits else 20,
                        bar_format=bar_format, postfix=postfix, tick=interval if tick else None)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


@contextmanager
def above() -> Iterator[None]:
    """Lines printed inside this block (stdout or stderr) appear above the open bars, which are
    erased first and redrawn after."""
    if _Bar is None:
        yield
        return
    with _Bar.external_write_mode():
        yield


@contextmanager
def transient() -> Iterator[None]:
    """Bars on a terminal are erased when their work ends, inside this block (the CLI prints
    each result in its place)."""
    global _transient
    before = _transient
    _transient = True
    try:
        yield
    finally:
        _transient = before


@contextmanager
def phase(label: str, progress) -> Iterator[None]:
    """Show ``label`` while the block runs, with the seconds elapsed (redrawn from a thread while
    the block waits in C++ with the GIL released), then ``label: done in X s``. On an error or
    Ctrl-C the last state stays."""
    shown = bar(label, progress=progress, bar_format=_PHASE, tick=True)
    try:
        yield
        if not shown.disable:
            shown.bar_format = "{desc}: done in {elapsed_s:.1f} s"
    finally:
        shown.close()
