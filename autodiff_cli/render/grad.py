"""Renderers for ``adiff grad``: the node table and the gradient table."""

from __future__ import annotations

import sys

from . import format_number, message, safe, sym


def _line(*fields) -> str:
    """A plain line: text fields made safe (a tab or newline in a name would forge
    fields or lines), numbers at full precision."""
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    lines = [_line("value", doc["value"])]
    lines.extend(_line(name, g) for name, g in doc["gradient"].items())
    sys.stdout.write("\n".join(lines) + "\n")


_MARKS = {
    "ok": ("✓ agree", "green"),
    "mismatch": ("✗ DISAGREE", "bold red"),
    "kink": ("~ kink", "yellow"),
    "unavailable": ("? n/a", "yellow"),
    "inconclusive": ("? inconclusive", "yellow"),
}


def mark(status: str) -> tuple[str, str]:
    """(text, style) of a comparison's status."""
    text, style = _MARKS.get(status) or (safe(status), "yellow")
    return sym(text), style


def gradient_table(doc: dict, what: str = "input", of: str = "f"):
    """Each input's gradient beside its finite difference (``what``: "parameter" with --data)."""
    from .table import KEY, NUM, TEXT, Grid

    check = doc["check"]
    grid = Grid(sym("Gradient"))
    grid.column(what, TEXT)
    grid.column("value", NUM, drop=2)
    grid.column(sym(f"∂{of}/∂{what} (reverse mode)"), NUM, style="bold")
    estimates = "gradient" in check
    if estimates:
        grid.column("central diff.", NUM)
        grid.column("abs err", NUM)
        grid.column("rel err", NUM, drop=1)
        grid.column("", KEY)
    for name, g in doc["gradient"].items():
        row = [safe(name), format_number(doc["at"][name]), format_number(g, 10)]
        if estimates:
            row += [format_number(check["gradient"][name], 10),
                    format_number(check["abs_error"][name], 2),
                    format_number(check["rel_error"][name], 2),
                    mark(check["status"][name])]
        grid.row(*row)
    return grid


def table(doc: dict, nodes_limit=None, **_options) -> None:
    from .table import console, heading, node_table, note, value_line

    out = console()
    heading(out, doc["expression"])
    value_line(out, doc["value"], doc["at"])
    if "nodes" in doc:
        nodes, hidden = node_table(doc["nodes"].items, nodes_limit, doc["output"])
        nodes.print(out)
        if hidden:
            note(out, f"{hidden:,} of the nodes are not shown: use --nodes all, or --format json")
    if doc["gradient"]:
        gradient_table(doc).print(out)
    else:
        note(out, "The formula has no input variables: there is no gradient.")
    check = doc["check"]
    if "skipped" in check:
        note(out, f"finite-difference check skipped: {message(check['skipped'])}")
    elif doc["gradient"]:
        note(out, f"central differences, step h = {format_number(check['step'], 3)}·max(1, |x|); "
                  f"they agree when |ad − fd| ≤ {format_number(check['atol'])} + "
                  f"{format_number(check['rtol'])}·|fd|")
    for kink in doc["kinks"]:
        note(out, f"{kink['node']} ({kink['op']}) is at its kink: {message(kink['convention'])}",
             style="yellow")
