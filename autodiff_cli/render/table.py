"""Shared Rich helpers for the table renderers. User text goes in as ``Text``, never markup."""

from __future__ import annotations

from collections import deque
from itertools import islice

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import format_number

_EXPR_SHOWN = 200  # characters of a long formula shown in headings


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 here, which means "check disagreed" in adiff's
        # contract; let the CLI's single handler exit quietly instead.
        raise BrokenPipeError


def console() -> Console:
    # Created per call so NO_COLOR / FORCE_COLOR / COLUMNS are read now.
    return _Console(highlight=False, soft_wrap=False)


def short(text: str) -> str:
    """A formula or program on one line for headings: comments dropped, statements
    joined with '; ', cut to a readable length."""
    lines = (line.split("#", 1)[0].strip() for line in text.replace("\\\n", " ").splitlines())
    text = "; ".join(" ".join(line.split()) for line in lines if line)
    return text if len(text) <= _EXPR_SHOWN else text[:_EXPR_SHOWN] + " …"


def numbers(values) -> str:
    return ", ".join(format_number(v) for v in values)


def limit_rows(items, limit):
    """(head, tail, hidden): the first and last rows of an iterator, bounded memory."""
    if limit is None:
        return list(items), [], 0
    head = list(islice(items, max(1, limit - limit // 2)))
    tail = deque(maxlen=limit // 2)
    total = len(head)
    for item in items:
        tail.append(item)
        total += 1
    return head, list(tail), total - len(head) - len(tail)


def node_table(nodes, limit, output_id: str) -> tuple[Table, int]:
    table = Table(box=box.SIMPLE_HEAVY, title="Nodes", title_justify="left",
                  title_style="bold")
    table.add_column("id", style="dim")
    table.add_column("label")
    table.add_column("op", style="cyan")
    table.add_column("inputs", style="dim")
    table.add_column("value", justify="right")
    table.add_column("local ∂node/∂input", justify="right")
    table.add_column("grad ∂f/∂node", justify="right", style="bold")
    head, tail, hidden = limit_rows(iter(nodes), limit)

    def add(n):
        style = "bold" if n["id"] == output_id else None
        table.add_row(n["id"], Text(n["label"]), n["op"], ", ".join(n["inputs"]),
                      format_number(n["value"]), numbers(n["local"]) if n["local"] else "",
                      format_number(n["grad"]), style=style)

    for n in head:
        add(n)
    if hidden:
        table.add_row("…", Text(f"{hidden:,} more"), "", "", "", "", "")
    for n in tail:
        add(n)
    return table, hidden


