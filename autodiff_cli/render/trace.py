"""Renderers for ``adiff trace``: the forward values, then the backward pass step by step.

Reads the document of ``cli_graph.trace_document``. The table follows the
lecture: each node's value (``n6 = θ1*x1 = 1``), then for each node in
reverse topological order its upstream gradient, the local gradient for
each input and the contribution passed down (upstream × local), and, for a
value used several times, its contributions and their sum
(``x: 2 (from n2) + 0.540302 (from n3) = 2.5403``).
"""

from __future__ import annotations

import sys
from itertools import groupby

from . import format_number, safe, sym


def _line(*fields) -> str:
    """A plain record: text fields made safe (no tab or newline can forge a field or
    a record), numbers at full precision."""
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """Tab-separated records: value, forward, step and grad lines, for cut/awk."""
    write = sys.stdout.write
    write(_line("value", doc["value"]) + "\n")
    for f in doc["forward"].items:
        write(_line("forward", f["node"], f["op"], f["text"], f["value"]) + "\n")
    for s in doc["steps"].items:
        write(_line("step", s["node"], s["op"], s["to"], s["upstream"], s["local"],
                    s["contribution"]) + "\n")
    for name, g in doc["gradient"].items():
        write(_line("grad", name, g) + "\n")


def _in_order(entry: dict) -> list[dict]:
    """Contributions by their source node, as a formula reads (the JSON keeps the engine's order)."""
    return sorted(entry["contributions"], key=lambda c: int(c["from"][1:]))


def sum_text(entry: dict) -> str:
    """'2 (from n2) + 0.540302 (from n3) = 2.5403', or '-0.00247262 (from n6)'."""
    parts = [f"{format_number(c['value'])} (from {c['from']})" for c in _in_order(entry)]
    text = " + ".join(parts)
    return text if len(parts) == 1 else f"{text} = {format_number(entry['grad'])}"


def _forward_table(rows, limit):
    from .table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    grid = Grid(show_header=False, boxed=False)
    grid.column("node", KEY, style="dim")
    grid.column("label", TEXT, style="bold")
    grid.column("=", KEY)
    grid.column("formula", TEXT, style="cyan")
    grid.column("=", KEY)
    grid.column("value", NUM, style="green")
    grid.column("", KEY)
    head, tail, hidden = limit_rows(iter(rows), limit)

    def add(f):
        if f["op"] == "const":
            grid.row(f["node"], "", "=", safe(f["text"]), "", "", ("constant", "dim"))
            return
        role = "input" if f["op"] == "var" else ""
        text = "" if role else safe(f["text"])
        grid.row(f["node"], safe(f["label"]), "=", text, "=" if text else "",
                 format_number(f["value"]), (role, "dim"))

    for f in head:
        add(f)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more nodes")
    for f in tail:
        add(f)
    return grid


def _backward_table(doc, sums, labels, limit):
    from .table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    grid = Grid()
    grid.column("node", KEY, style="dim")
    grid.column("op", KEY, style="cyan")
    grid.column(sym("upstream ∂f/∂node"), NUM, style="bold")
    grid.column("to", TEXT)
    grid.column(sym("local ∂node/∂to"), NUM, style="magenta")
    grid.column("contribution", NUM, style="bold")
    groups = ((node, list(steps)) for node, steps in groupby(doc["steps"].items,
                                                             key=lambda s: s["node"]))
    head, tail, hidden = limit_rows(groups, limit)
    if not head:
        return None
    output = doc["output"]

    def upstream(node, value):
        if node == output:
            return f"{format_number(value)} (the output)"
        entry = sums.get(node)
        if not entry or len(entry["contributions"]) < 2:
            return format_number(value)
        # A sum written as on paper: one contribution per line, then the total.
        lines = [("+ " if k else "") + f"{format_number(c['value'])} from {c['from']}"
                 for k, c in enumerate(_in_order(entry))]
        lines.append(f"= {format_number(entry['grad'])}")
        return "\n".join(lines)

    def add(group):
        node, steps = group
        for k, s in enumerate(steps):
            to = s["to"] + (f" {safe(labels[s['to']])}" if labels.get(s["to"]) else "")
            first = k == 0
            grid.row(node if first else "", s["op"] if first else "",
                     upstream(node, s["upstream"]) if first else "", to,
                     format_number(s["local"]), format_number(s["contribution"]))

    for group in head:
        add(group)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more nodes")
    for group in tail:
        add(group)
    return grid


def table(doc: dict, limit=None, **_options) -> None:
    from rich.text import Text

    from .table import console, heading, limit_rows, note, value_line

    out = console()
    heading(out, doc["formula"])
    value_line(out, doc["value"], doc["at"])
    out.print()
    # The forward rows are read once: keep the names the other sections need.
    labels: dict[str, str] = {}  # node -> label, for inputs and named values
    inputs: list[tuple[str, str]] = []  # (node, name) of each input variable

    def forward():
        for f in doc["forward"].items:
            if f["label"] and f["op"] != "const":
                labels[f["node"]] = f["label"]
            if f["op"] == "var":
                inputs.append((f["node"], f["label"]))
            yield f

    note(out, "Forward pass: the value of each node", style="bold")
    _forward_table(forward(), limit).print(out)
    out.print()
    sums = {entry["node"]: entry for entry in doc["sums"]}
    note(out, "Backward pass, from the output down: contribution = upstream × local",
         style="bold")
    backward = _backward_table(doc, sums, labels, limit)
    if backward is not None:
        backward.print(out)
    else:
        note(out, "  no steps: the output is an input, its gradient is 1")
    if not inputs:
        note(out, "The formula has no input variables: there is no gradient.")
        return
    note(out, "Gradient: the contributions each input receives, summed", style="bold")
    head, tail, hidden = limit_rows(iter(inputs), limit)

    def add(node, name):
        line = Text("  ")
        line.append(safe(name), style="bold")
        line.append(": ")
        line.append(sum_text(sums[node]) if node in sums else
                    f"{format_number(doc['gradient'][name])} (the input is the output)")
        out.print(line)

    for row in head:
        add(*row)
    if hidden:
        note(out, f"  … {hidden:,} more inputs")
    for row in tail:
        add(*row)
