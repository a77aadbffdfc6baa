"""Renderers for ``adiff trace --data``: the backward pass over N examples, with the summation step.

Reads the document of ``batch.trace_document``. Every row runs the same
backward pass; the tables show each quantity summed over the rows. Where a
per-row gradient flows into a value shared by every row (a parameter, or a
value computed from parameters only), the rows' contributions are added up:
the lecture's ∂L/∂θ = ∂L1/∂θ + ∂L2/∂θ + ... That step is marked, and the
rows themselves are listed (for files of up to 1,000 rows).
"""

from __future__ import annotations

import sys

from . import format_number, safe, sym
from .data import examples_table, heading, sigma


def _line(*fields) -> str:
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """Tab-separated records: value, forward, step, example and grad lines, for cut/awk.

    forward lines end with "row" (the value is summed over the rows) or "shared";
    step lines end with "summation" where per-row contributions are added into a
    shared value, else "row" or "shared".
    """
    write = sys.stdout.write
    write(_line("value", doc["value"]) + "\n")
    for f in doc["forward"].items:
        write(_line("forward", f["node"], f["op"], f["text"], f["value"],
                    "row" if f["varies"] else "shared") + "\n")
    for s in doc["steps"].items:
        kind = "summation" if s["summation"] else ("row" if s["per_row"] else "shared")
        write(_line("step", s["node"], s["op"], s["to"], s["upstream"],
                    "" if s["local"] is None else s["local"], s["contribution"], kind) + "\n")
    for ex in doc.get("examples", ()):
        write(_line("example", str(ex["row"]), ex["value"], *ex["gradient"].values()) + "\n")
    for name, g in doc["gradient"].items():
        write(_line("grad", name, g) + "\n")


def _forward_table(doc, rows, limit):
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
    mark = sigma(doc)

    def add(f):
        if f["op"] == "const":
            grid.row(f["node"], "", "=", safe(f["text"]), "", "", ("constant", "dim"))
            return
        leaf = f["op"] == "var"
        role = ("column" if f["varies"] else "parameter") if leaf else ""
        value = f"{mark} {format_number(f['value'])}" if f["varies"] else format_number(f["value"])
        text = "" if leaf else safe(f["text"])
        grid.row(f["node"], safe(f["label"]), "=", text, "" if leaf else "=", value,
                 (role, "dim"))

    for f in head:
        add(f)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more nodes")
    for f in tail:
        add(f)
    return grid


def _backward_table(doc, labels, limit):
    from .table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    grid = Grid()
    grid.column("node", KEY, style="dim")
    grid.column("op", KEY, style="cyan")
    grid.column(sym("upstream ∂L/∂node"), NUM, style="bold")
    grid.column("to", TEXT)
    grid.column(sym("local ∂node/∂to"), NUM, style="magenta")
    grid.column("contribution", NUM, style="bold")
    grid.column("", TEXT)
    mark = sigma(doc)
    steps = list(doc["steps"].items)
    groups, current = [], None
    for s in steps:
        if current is None or current[0] != s["node"]:
            current = (s["node"], [])
            groups.append(current)
        current[1].append(s)
    head, tail, hidden = limit_rows(iter(groups), limit)
    if not head:
        return None
    output = doc["output"]
    summed = sym(f"← {mark} over the rows")

    def number(value, per_row):
        return f"{mark} {format_number(value)}" if per_row else format_number(value)

    def add(group):
        node, items = group
        for k, s in enumerate(items):
            first = k == 0
            up = number(s["upstream"], s["per_row"])
            if node == output:
                up += " (the output)"
            to = s["to"] + (f" {safe(labels[s['to']])}" if labels.get(s["to"]) else "")
            grid.row(node if first else "", s["op"] if first else "", up if first else "",
                     to, "per row" if s["local"] is None else format_number(s["local"]),
                     number(s["contribution"], s["per_row"]),
                     (summed if s["summation"] else "", "yellow"))

    for group in head:
        add(group)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more nodes")
    for group in tail:
        add(group)
    return grid


def table(doc: dict, limit=None, **_options) -> None:
    from rich.text import Text

    from .table import console, note

    out = console()
    heading(out, doc, doc["formula"])
    out.print()
    labels: dict[str, str] = {}
    params: list[tuple[str, str]] = []

    def forward():
        for f in doc["forward"].items:
            if f["label"] and f["op"] != "const":
                labels[f["node"]] = f["label"]
            if f["op"] == "var" and not f["varies"]:
                params.append((f["node"], f["label"]))
            yield f

    mark = sigma(doc)
    rows = doc["data"]["rows"]
    note(out, f"Forward pass: the value of each node ({mark}: a value that differs row by row, "
              f"over the {rows:,} row{'s' if rows != 1 else ''})", style="bold")
    _forward_table(doc, forward(), limit).print(out)
    out.print()
    note(out, "Backward pass, in every row: contribution = upstream × local "
              f"(shown {mark} over the rows)", style="bold")
    backward = _backward_table(doc, labels, limit)
    if backward is not None:
        backward.print(out)
    else:
        note(out, "  no steps: the output is a parameter")
    note(out, f"← {mark} over the rows: the summation step. Each row's gradient flows into a "
              "value every row shares, and the rows' contributions are added up.")
    out.print()
    if "examples" in doc:
        examples_table(doc, limit or 10**9).print(out)
    elif rows:
        note(out, f"(the {rows:,} rows are not listed one by one: more than 1,000)")
    if not params:
        note(out, "The formula has no parameters: there is no gradient.")
        return
    note(out, "Gradient: the contributions each parameter receives, summed", style="bold")
    sums = {entry["node"]: entry for entry in doc["sums"]}
    for node, name in params:
        line = Text("  ")
        line.append(safe(name), style="bold")
        line.append(": ")
        entry = sums.get(node)
        if entry is None:
            line.append(format_number(doc["gradient"].get(name, 0.0)))
        else:
            parts = [f"{format_number(c['value'])} (from {c['from']}"
                     + (f", {mark} over the rows)" if c["summation"] else ")")
                     for c in sorted(entry["contributions"], key=lambda c: int(c["from"][1:]))]
            text = " + ".join(parts)
            line.append(text if len(parts) == 1 else f"{text} = {format_number(entry['grad'])}")
        out.print(line)
