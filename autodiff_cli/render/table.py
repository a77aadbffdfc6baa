"""Rich tables for people. User text goes in as ``Text``, never as markup."""

from __future__ import annotations

from collections import deque
from itertools import islice

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import format_number

_EXPR_SHOWN = 200  # characters of a long formula shown in headings


def console() -> Console:
    # Created per call so NO_COLOR / FORCE_COLOR / COLUMNS are read now.
    return Console(highlight=False, soft_wrap=False)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXPR_SHOWN else text[:_EXPR_SHOWN] + " …"


def _numbers(values) -> str:
    return ", ".join(format_number(v) for v in values)


def _limit_rows(items, limit):
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
    head, tail, hidden = _limit_rows(iter(nodes), limit)

    def add(n):
        style = "bold" if n["id"] == output_id else None
        table.add_row(n["id"], Text(n["label"]), n["op"], ", ".join(n["inputs"]),
                      format_number(n["value"]), _numbers(n["local"]) if n["local"] else "",
                      format_number(n["grad"]), style=style)

    for n in head:
        add(n)
    if hidden:
        table.add_row("…", Text(f"{hidden:,} more"), "", "", "", "", "")
    for n in tail:
        add(n)
    return table, hidden


def _mark(status: str) -> Text:
    return {
        "ok": Text("✓ agree", style="green"),
        "mismatch": Text("✗ DISAGREE", style="bold red"),
        "kink": Text("~ kink", style="yellow"),
        "unavailable": Text("? n/a", style="yellow"),
    }[status]


def gradient_table(doc: dict) -> Table:
    check = doc["check"]
    table = Table(box=box.SIMPLE_HEAVY, title="Gradient", title_justify="left",
                  title_style="bold")
    table.add_column("input")
    table.add_column("value", justify="right")
    table.add_column("∂f/∂input (reverse mode)", justify="right", style="bold")
    estimates = "gradient" in check
    if estimates:
        table.add_column("central diff.", justify="right")
        table.add_column("abs err", justify="right")
        table.add_column("rel err", justify="right")
        table.add_column("")
    for name, g in doc["gradient"].items():
        row = [Text(name), format_number(doc["at"][name]), format_number(g, 10)]
        if estimates:
            row += [format_number(check["gradient"][name], 10),
                    format_number(check["abs_error"][name], 2),
                    format_number(check["rel_error"][name], 2),
                    _mark(check["status"][name])]
        table.add_row(*row)
    return table


def grad(doc: dict, nodes_limit=None, **_options) -> None:
    out = console()
    heading = Text()
    heading.append("f = ", style="bold")
    heading.append(_short(doc["expression"]))
    out.print(heading)
    at = ", ".join(f"{k} = {format_number(v)}" for k, v in doc["at"].items())
    value = Text()
    value.append("value ", style="bold")
    value.append(format_number(doc["value"], 10), style="bold green")
    if at:
        value.append(f"   at {at}" if len(at) < 400 else f"   at {len(doc['at']):,} inputs")
    out.print(value)
    if "nodes" in doc:
        table, hidden = node_table(doc["nodes"].items, nodes_limit, doc["output"])
        out.print(table)
        if hidden:
            out.print(Text(f"{hidden:,} of the nodes are not shown: use --nodes all, "
                           "or --format json", style="dim"))
    if doc["gradient"]:
        out.print(gradient_table(doc))
    else:
        out.print(Text("The formula has no input variables: there is no gradient.", style="dim"))
    check = doc["check"]
    if "skipped" in check:
        out.print(Text(f"finite-difference check skipped: {check['skipped']}", style="dim"))
    elif doc["gradient"]:
        out.print(Text(
            f"central differences, step h = {format_number(check['step'], 3)}·max(1, |x|); "
            f"they agree when |ad − fd| ≤ {format_number(check['atol'])} + "
            f"{format_number(check['rtol'])}·|fd|", style="dim"))
    for kink in doc["kinks"]:
        out.print(Text(f"{kink['node']} ({kink['op']}) is at its kink: {kink['convention']}",
                       style="yellow"))
