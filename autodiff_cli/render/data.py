"""Renderers for ``adiff grad --data``: the loss summed over the rows of a data file.

Reads the document of ``batch.grad_document``. A node whose value differs row
by row shows the sum of its values over the rows ("Σ 5"); its local gradients
are "per row"; every gradient is the gradient of the summed loss L, summed
over the rows. ``--per-example`` adds the rows themselves: L = L1 + L2 + ...
and ∂L/∂θ = ∂L1/∂θ + ∂L2/∂θ + ...
"""

from __future__ import annotations

import sys

from . import format_number, message, safe, sym

#: Rows of the examples table shown (the first and the last ones).
EXAMPLE_ROWS = 60


def _line(*fields) -> str:
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """value and name<TAB>gradient lines as for grad; with --per-example, one line per row:
    example<TAB>row<TAB>value<TAB>one gradient per parameter."""
    lines = [_line("value", doc["value"])]
    lines.extend(_line(name, g) for name, g in doc["gradient"].items())
    for ex in doc.get("examples", ()):
        lines.append(_line("example", str(ex["row"]), ex["value"], *ex["gradient"].values()))
    sys.stdout.write("\n".join(lines) + "\n")


def sigma(doc: dict) -> str:
    """The symbol of the reduction: Σ for the sum, 'mean' for the mean."""
    return sym("Σ") if doc["data"]["reduce"] == "sum" else "mean"


def reduce_text(doc: dict) -> str:
    """'L = the sum of f over the 12 rows of FILE' (made safe for the output)."""
    data = doc["data"]
    what = "sum" if data["reduce"] == "sum" else "mean"
    rows = f"{data['rows']:,} row{'s' if data['rows'] != 1 else ''}"
    return f"L = the {what} of f over the {rows} of {safe(data['file'])}"


def heading(out, doc: dict, formula: str) -> None:
    from rich.text import Text

    from .table import heading as formula_line
    from .table import value_line

    formula_line(out, formula)
    columns = doc["data"]["columns"]
    out.print(Text(reduce_text(doc)
                   + (f" (columns {', '.join(safe(c) for c in columns)})" if columns else "")))
    value_line(out, doc["value"], doc["at"], "parameters")


def _shown(doc: dict, n: dict) -> dict:
    """A node entry as the shared node table reads it: per-row values as their sum."""
    if not n["varies"]:
        return n
    return {**n, "value": f"{sigma(doc)} {format_number(n['value'])}",
            "local": ["per row"] if n["inputs"] else []}


def sum_text(n: int, reduce: str) -> str:
    """'L = L1 + … + L12, and ∂L/∂θ = ∂L1/∂θ + … + ∂L12/∂θ' (divided by n for the mean)."""
    def terms(f):
        parts = [f(k) for k in range(1, n + 1)] if n <= 3 else [f(1), "…", f(n)]
        text = " + ".join(parts)
        if reduce == "mean":
            text = f"({text})/{n}" if n > 1 else text
        return text

    return sym(f"L = {terms(lambda k: f'L{k}')}, and ∂L/∂θ = {terms(lambda k: f'∂L{k}/∂θ')}")


def examples_table(doc: dict, limit=EXAMPLE_ROWS):
    from .table import NUM, Grid, ellipsis, limit_rows

    examples = doc["examples"]
    names = list(doc["gradient"])
    columns = doc["data"]["columns"]
    grid = Grid(f"Examples: {sum_text(len(examples), doc['data']['reduce'])}")
    grid.column("row", NUM, style="dim")
    grid.column("line", NUM, style="dim", drop=1)
    for c in columns:
        grid.column(safe(c), NUM, drop=2)
    grid.column("Li", NUM)
    for name in names:
        grid.column(sym("∂Li/∂") + safe(name), NUM, style="bold")
    head, tail, hidden = limit_rows(iter(examples), limit)

    def add(ex):
        grid.row(str(ex["row"]), str(ex["line"]),
                 *[format_number(ex["data"][c]) for c in columns],
                 format_number(ex["value"]),
                 *[format_number(ex["gradient"][name]) for name in names])

    for ex in head:
        add(ex)
    if hidden:
        grid.marker(ellipsis(), "", *[""] * len(columns), f"{hidden:,} more rows")
    for ex in tail:
        add(ex)
    grid.section()
    grid.row(sigma(doc), "", *[""] * len(columns), format_number(doc["value"]),
             *[format_number(doc["gradient"][name]) for name in names], style="bold")
    return grid


def table(doc: dict, nodes_limit=None, **_options) -> None:
    from .grad import gradient_table
    from .table import console, node_table, note

    out = console()
    heading(out, doc, doc["expression"])
    if "nodes" in doc:
        nodes, hidden = node_table((_shown(doc, n) for n in doc["nodes"].items), nodes_limit,
                                   doc["output"], "grad ∂L/∂node")
        nodes.print(out)
        what = "summed" if doc["data"]["reduce"] == "sum" else "averaged"
        note(out, f"{sigma(doc)}: a value that differs row by row, {what} over the rows; "
                  "grad: summed over the rows")
        if hidden:
            note(out, f"{hidden:,} of the nodes are not shown: use --nodes all, or --format json")
    if "examples" in doc:
        examples_table(doc).print(out)
    if doc["gradient"]:
        gradient_table(doc, "parameter", "L").print(out)
    else:
        note(out, "The formula has no parameters (every variable is a column): there is no "
                  "gradient.")
    check = doc["check"]
    if "skipped" in check:
        note(out, f"finite-difference check skipped: {message(check['skipped'])}")
    elif doc["gradient"]:
        note(out, f"central differences of L, h = {format_number(check['step'], 3)}·max(1, |θ|); "
                  f"they agree when |ad − fd| ≤ {format_number(check['atol'])} + "
                  f"{format_number(check['rtol'])}·|fd|")
    for kink in doc["kinks"]:
        note(out, f"{kink['node']} ({kink['op']}) is at its kink in {kink['rows']:,} rows: "
                  f"{message(kink['convention'])}", style="yellow")
