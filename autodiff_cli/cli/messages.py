"""Messages on standard error: warnings, notes, errors.

Every message goes through ``say``: control characters escaped line by line
(the net under the escaping callers do where they interpolate user text), and
a closed or full stderr never changes the outcome of a run.
"""

from __future__ import annotations

import sys

import click

from autodiff_cli.errors import AdiffError, escape_controls
from autodiff_cli.render import color_enabled


def safe(text: str) -> str:
    """A message for the terminal: control characters escaped, line by line.

    Callers escape user text where they interpolate it (so a newline in a
    name cannot forge a line); this is the net under everything else.
    """
    return "\n".join(escape_controls(line) for line in text.split("\n"))


def say(text: str, color: bool = False) -> None:
    """One message on stderr; a closed or full stderr never changes the outcome."""
    try:
        click.echo(text, err=True, color=color)
    except (OSError, ValueError):
        pass


def warn(message: str) -> None:
    color = color_enabled(sys.stderr)
    prefix = click.style("Warning:", fg="yellow", bold=True) if color else "Warning:"
    say(f"{prefix} {safe(message)}", color)


def note(message: str) -> None:
    """Information on stderr that is neither a warning nor an error ("Note: ...")."""
    say(f"Note: {safe(message)}")


def report(error: AdiffError) -> None:
    """An input or evaluation error: "Error: ..." with its caret block and hint."""
    text = safe(error.render())
    color = color_enabled(sys.stderr)
    if color:
        text = click.style("Error:", fg="red", bold=True) + text[len("Error:"):]
    say(text, color)
