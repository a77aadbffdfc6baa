"""The progress bar of ``adiff fit``: the step, the step limit and the current loss, on stderr.

A ``progress.StderrProgress``: only on a terminal, only after half a second
(short fits never flash one), gone when the fit ends, the cursor restored on
SIGTERM. The fit calls it once per step with the step's loss.
"""

from __future__ import annotations

from autodiff_cli.render.progress import PROGRESS_DELAY, StderrProgress


class FitProgress(StderrProgress):
    """``progress(step, loss)`` after each step of a fit of at most ``steps`` steps."""

    def __init__(self, steps: int, method: str, stream=None, delay: float = PROGRESS_DELAY):
        super().__init__(f"fit ({method})", max(1, steps), "count", stream, delay)

    def __call__(self, step: int, loss: float) -> None:
        self.update(min(step, self.total), loss=loss)

    def _start(self, fields) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from autodiff_cli.render import color_enabled

        colour = color_enabled(self.stream)
        columns = (TextColumn("{task.description}"), BarColumn(),
                   TextColumn("step {task.completed:,}/{task.total:,}"),
                   TextColumn("loss {task.fields[loss]:.6g}"), TimeElapsedColumn())
        self.bar = Progress(*columns, transient=True, redirect_stdout=False,
                            console=Console(file=self.stream, stderr=True,
                                            color_system="auto" if colour else None,
                                            no_color=not colour))
        self._catch_sigterm()
        self.bar.start()
        self.task = self.bar.add_task(self.description, total=self.total, **fields)
