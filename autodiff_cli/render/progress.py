"""Progress bars for long runs: on stderr, only when it is a terminal, never on stdout.

A bar appears only after ``delay`` seconds, so short runs never flash one, and
rich.progress (~0.1 s to import) is imported only then.

A live bar hides the terminal's cursor. Ctrl-C ends the run through the CLI's
handler, which closes the bar; SIGTERM (``kill``, a CI timeout) would end the
process on the spot and leave the cursor hidden, so while a bar is live (and
nothing else handles SIGTERM) a handler clears the bar's line, shows the cursor
again and then lets the signal end the process as it would have (exit status
143 in a shell).

The library never shows progress itself: a pass over data (``batch.run``) and
a check (``spec.CaseRun``) call a progress callback, and the command line
passes one of these in (``RowProgress``, ``PointProgress``).
"""

from __future__ import annotations

import os
import signal
import sys
import time

PROGRESS_DELAY = 0.5
SHOW_CURSOR = "\x1b[?25h"


class StderrProgress:
    """``kind`` "count": done/total and time remaining; "rows": rows read and time elapsed."""

    def __init__(self, description: str, total, kind: str = "count", stream=None,
                 delay: float = PROGRESS_DELAY):
        self.description = description
        self.total = total
        self.kind = kind
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.started = time.monotonic()
        self.bar = None
        self.task = None
        self._previous_handler = None
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def update(self, completed, **fields) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self._start(fields)
        self.bar.update(self.task, completed=completed, **fields)

    def _start(self, fields) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from autodiff_cli.render import color_enabled

        if self.kind == "rows":
            columns = (TextColumn("{task.description}"), BarColumn(),
                       TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn())
        else:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn())
        colour = color_enabled(self.stream)
        # redirect_stdout=False: results on stdout are never rerouted into the bar's stream
        self.bar = Progress(*columns, transient=True, redirect_stdout=False,
                            console=Console(file=self.stream, stderr=True,
                                            color_system="auto" if colour else None,
                                            no_color=not colour))
        self._catch_sigterm()
        self.bar.start()
        self.task = self.bar.add_task(self.description, total=self.total, **fields)

    def _catch_sigterm(self) -> None:
        try:
            previous = signal.getsignal(signal.SIGTERM)
            if previous not in (signal.SIG_DFL, None):
                return  # someone else handles SIGTERM: leave it to them
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._previous_handler = previous
        except (ValueError, AttributeError, OSError):  # not the main thread, or no SIGTERM
            self._previous_handler = None

    def _release_sigterm(self) -> None:
        if self._previous_handler is not None:
            try:
                if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                    signal.signal(signal.SIGTERM, self._previous_handler)
            except (ValueError, OSError):
                pass
            self._previous_handler = None

    def _on_sigterm(self, signum, _frame) -> None:
        """Clear the bar's line and show the cursor, then die of the signal as usual.

        The signal may arrive in the middle of a write to the stream (Rich's or a
        warning's), so nothing here goes through it: the bytes go straight to its
        file descriptor.
        """
        try:
            os.write(self.stream.fileno(), b"\r\x1b[2K" + SHOW_CURSOR.encode())
        except (OSError, ValueError, AttributeError):
            pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def close(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.stop()
        self._release_sigterm()


class PointProgress(StderrProgress):
    """Points checked (``adiff check``): call it once per point."""

    def __init__(self, total: int, stream=None, delay: float = PROGRESS_DELAY):
        super().__init__("checking", total, "count", stream, delay)
        self.done = 0

    def __call__(self, n: int = 1) -> None:
        self.done += n
        self.update(min(self.done, self.total))


class RowProgress(StderrProgress):
    """Rows of a data file processed (``--data``): call it with the rows done so far.

    ``data`` is the file being read (``dataset.DataFile``: its ``shown`` name, its
    ``size`` in bytes when known, and ``bytes_read``).
    """

    def __init__(self, data, stream=None, delay: float = PROGRESS_DELAY):
        super().__init__(data.shown, data.size, "rows", stream, delay)
        self.data = data

    def __call__(self, rows: int) -> None:
        self.update(getattr(self.data, "bytes_read", None), rows=rows)
