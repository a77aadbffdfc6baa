"""Renderers for ``adiff grad``: the node table and the gradient table."""

from __future__ import annotations

import sys

from . import format_number


def _line(*fields) -> str:
    return "\t".join(f if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    lines = [_line("value", doc["value"])]
    lines.extend(_line(name, g) for name, g in doc["gradient"].items())
    sys.stdout.write("\n".join(lines) + "\n")


def _mark(status: str):
    from rich.text import Text

    return {
        "ok": Text("✓ agree", style="green"),
        "mismatch": Text("✗ DISAGREE", style="bold red"),
        "kink": Text("~ kink", style="yellow"),
        "unavailable": Text("? n/a", style="yellow"),
        "inconclusive": Text("? inconclusive", style="yellow"),
    }.get(status) or Text(status, style="yellow")


def gradient_table(doc: dict, what: str = "input", of: str = "f"):
    """Each input's gradient beside its finite difference (``what``: "parameter" with --data)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    check = doc["check"]
    table = Table(box=box.SIMPLE_HEAVY, title="Gradient", title_justify="left",
                  title_style="bold")
    table.add_column(what)
    table.add_column("value", justify="right")
    table.add_column(f"∂{of}/∂{what} (reverse mode)", justify="right", style="bold")
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


def table(doc: dict, nodes_limit=None, **_options) -> None:
    from rich.text import Text

    from .table import console, node_table, short

    out = console()
    heading = Text()
    heading.append("f = ", style="bold")
    heading.append(short(doc["expression"]))
    out.print(heading)
    at = ", ".join(f"{k} = {format_number(v)}" for k, v in doc["at"].items())
    value = Text()
    value.append("value ", style="bold")
    value.append(format_number(doc["value"], 10), style="bold green")
    if at:
        value.append(f"   at {at}" if len(at) < 400 else f"   at {len(doc['at']):,} inputs")
    out.print(value)
    if "nodes" in doc:
        nodes, hidden = node_table(doc["nodes"].items, nodes_limit, doc["output"])
        out.print(nodes)
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
