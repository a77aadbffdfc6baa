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

from . import format_number


def _line(*fields) -> str:
    return "\t".join(f if isinstance(f, str) else format_number(f, None) for f in fields)


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
    from rich.table import Table
    from rich.text import Text

    from .table import limit_rows

    table = Table(box=None, show_header=False, pad_edge=True)
    table.add_column("node", style="dim")
    table.add_column("label", style="bold")
    table.add_column("=")
    table.add_column("formula", style="cyan")
    table.add_column("=")
    table.add_column("value", justify="right", style="green")
    table.add_column("")
    head, tail, hidden = limit_rows(iter(rows), limit)

    def add(f):
        if f["op"] == "const":
            table.add_row(f["node"], "", "=", Text(f["text"]), "", "", Text("constant", style="dim"))
            return
        role = "input" if f["op"] == "var" else ""
        text = "" if role else Text(f["text"])
        table.add_row(f["node"], Text(f["label"]), "=", text, "=" if text else "",
                      format_number(f["value"]), Text(role, style="dim"))

    for f in head:
        add(f)
    if hidden:
        table.add_row("…", "", "", Text(f"{hidden:,} more nodes"), "", "", "")
    for f in tail:
        add(f)
    return table


def _backward_table(doc, sums, labels, limit):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from .table import limit_rows

    table = Table(box=box.SIMPLE_HEAVY)
    table.add_column("node", style="dim")
    table.add_column("op", style="cyan")
    table.add_column("upstream ∂f/∂node", justify="right", style="bold")
    table.add_column("to")
    table.add_column("local ∂node/∂to", justify="right", style="magenta")
    table.add_column("contribution", justify="right", style="bold")
    groups = ((node, list(steps)) for node, steps in groupby(doc["steps"].items,
                                                             key=lambda s: s["node"]))
    head, tail, hidden = limit_rows(groups, limit)
    if not head:
        return None
    output = doc["output"]

    def upstream(node, value):
        if node == output:
            return Text(f"{format_number(value)} (the output)")
        entry = sums.get(node)
        if not entry or len(entry["contributions"]) < 2:
            return Text(format_number(value))
        # A sum written as on paper: one contribution per line, then the total.
        lines = [("+ " if k else "") + f"{format_number(c['value'])} from {c['from']}"
                 for k, c in enumerate(_in_order(entry))]
        lines.append(f"= {format_number(entry['grad'])}")
        return Text("\n".join(lines))

    def add(group):
        node, steps = group
        for k, s in enumerate(steps):
            to = s["to"] + (f" {labels[s['to']]}" if labels.get(s["to"]) else "")
            first = k == 0
            table.add_row(node if first else "", s["op"] if first else "",
                          upstream(node, s["upstream"]) if first else "", Text(to),
                          format_number(s["local"]), format_number(s["contribution"]))

    for group in head:
        add(group)
    if hidden:
        table.add_row("…", "", "", Text(f"{hidden:,} more nodes"), "", "")
    for group in tail:
        add(group)
    return table


def table(doc: dict, limit=None, **_options) -> None:
    from rich.text import Text

    from .table import console, limit_rows, short

    out = console()
    heading = Text()
    heading.append("f = ", style="bold")
    heading.append(short(doc["formula"]))
    out.print(heading)
    value = Text()
    value.append("value ", style="bold")
    value.append(format_number(doc["value"], 10), style="bold green")
    at = ", ".join(f"{k} = {format_number(v)}" for k, v in doc["at"].items())
    if at:
        value.append(f"   at {at}" if len(at) < 400 else f"   at {len(doc['at']):,} inputs")
    out.print(value)
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

    out.print(Text("Forward pass: the value of each node", style="bold"))
    out.print(_forward_table(forward(), limit))
    out.print()
    sums = {entry["node"]: entry for entry in doc["sums"]}
    out.print(Text("Backward pass, from the output down: contribution = upstream × local",
                   style="bold"))
    backward = _backward_table(doc, sums, labels, limit)
    out.print(backward if backward is not None else
              Text("  no steps: the output is an input, its gradient is 1", style="dim"))
    if not inputs:
        out.print(Text("The formula has no input variables: there is no gradient.", style="dim"))
        return
    out.print(Text("Gradient: the contributions each input receives, summed", style="bold"))
    head, tail, hidden = limit_rows(iter(inputs), limit)

    def add(node, name):
        line = Text("  ")
        line.append(name, style="bold")
        line.append(": ")
        line.append(sum_text(sums[node]) if node in sums else
                    f"{format_number(doc['gradient'][name])} (the input is the output)")
        out.print(line)

    for row in head:
        add(*row)
    if hidden:
        out.print(Text(f"  … {hidden:,} more inputs", style="dim"))
    for row in tail:
        add(*row)
