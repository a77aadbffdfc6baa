"""Progress bars for long runs: on stderr, only when it is a terminal, never on stdout.

A bar appears only after ``delay`` seconds, so short runs never flash one, and
rich.progress (~0.1 s to import) is imported only then.
"""

from __future__ import annotations

import sys
import time

PROGRESS_DELAY = 0.5


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
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            if self.kind == "rows":
                columns = (TextColumn("{task.description}"), BarColumn(),
                           TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn())
            else:
                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn())
            self.bar = Progress(*columns, transient=True,
                                console=Console(file=self.stream, stderr=True))
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=self.total, **fields)
        self.bar.update(self.task, completed=completed, **fields)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
