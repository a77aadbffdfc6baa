"""Renderers for ``adiff trace``: the forward values, then the backward pass step by step.

Reads the document of ``documents.trace``. The table follows the lecture: each
node's value (``n6 = θ1*x1 = 1``), then for each node in reverse topological
order its upstream gradient, the local gradient for each input and the
contribution passed down (upstream × local), and, for a value used several
times, its contributions and their sum (``x: 2 (from n2) + 0.540302 (from n3) =
2.5403``).

Over a data file (the document has "data") every row runs the same backward
pass and the tables show each quantity summed over the rows. Where a per-row
gradient flows into a value shared by every row (a parameter, or a value
computed from parameters only), the rows' contributions are added up -- the
lecture's ∂L/∂θ = ∂L1/∂θ + ∂L2/∂θ + ... That step is marked, and the rows
themselves are listed (for files of up to 1,000 rows).
"""

from __future__ import annotations

import sys
from itertools import groupby

from autodiff_cli.render import format_number, safe, sym
from autodiff_cli.render.grad import examples_table, heading, sigma


def _line(*fields) -> str:
    """A plain record: text fields made safe (no tab or newline can forge a field or
    a record), numbers at full precision."""
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """Tab-separated records: value, forward, step (example) and grad lines, for cut/awk.

    With --data, forward lines end with "row" (the value is summed over the rows) or
    "shared"; step lines end with "summation" where per-row contributions are added
    into a shared value, else "row" or "shared"; example lines list the rows.
    """
    data = "data" in doc
    write = sys.stdout.write
    write(_line("value", doc["value"]) + "\n")
    for f in doc["forward"].items:
        kind = ("row" if f["varies"] else "shared",) if data else ()
        write(_line("forward", f["node"], f["op"], f["text"], f["value"], *kind) + "\n")
    for s in doc["steps"].items:
        kind = ("summation" if s["summation"] else ("row" if s["per_row"] else "shared"),) \
            if data else ()
        write(_line("step", s["node"], s["op"], s["to"], s["upstream"],
                    "" if s["local"] is None else s["local"], s["contribution"], *kind) + "\n")
    for ex in doc.get("examples", ()):
        write(_line("example", str(ex["row"]), ex["value"], *ex["gradient"].values()) + "\n")
    for name, g in doc["gradient"].items():
        write(_line("grad", name, g) + "\n")


def _in_order(entry: dict) -> list[dict]:
    """Contributions by their source node, as a formula reads (the JSON keeps the engine's order)."""
    return sorted(entry["contributions"], key=lambda c: int(c["from"][1:]))


def sum_text(entry: dict, mark: str | None = None) -> str:
    """'2 (from n2) + 0.540302 (from n3) = 2.5403', or '-0.00247262 (from n6)'; with
    ``mark`` (data mode), a summation contribution says so: '(from n6, Σ over the rows)'."""
    parts = [f"{format_number(c['value'])} (from {c['from']}"
             + (f", {mark} over the rows)" if mark and c.get("summation") else ")")
             for c in _in_order(entry)]
    text = " + ".join(parts)
    return text if len(parts) == 1 else f"{text} = {format_number(entry['grad'])}"


def _forward_table(doc, rows, limit):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    data = "data" in doc
    grid = Grid(show_header=False, boxed=False)
    grid.column("node", KEY, style="dim")
    grid.column("label", TEXT, style="bold")
    grid.column("=", KEY)
    grid.column("formula", TEXT, style="cyan")
    grid.column("=", KEY)
    grid.column("value", NUM, style="green")
    grid.column("", KEY)
    head, tail, hidden = limit_rows(iter(rows), limit)
    mark = sigma(doc) if data else ""

    def add(f):
        if f["op"] == "const":
            grid.row(f["node"], "", "=", safe(f["text"]), "", "", ("constant", "dim"))
            return
        leaf = f["op"] == "var"
        value = format_number(f["value"])
        if data:
            role = ("column" if f["varies"] else "parameter") if leaf else ""
            if f["varies"]:
                value = f"{mark} {value}"
        else:
            role = "input" if leaf else ""
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


def _backward_table(doc, sums, labels, limit):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    data = "data" in doc
    grid = Grid()
    grid.column("node", KEY, style="dim")
    grid.column("op", KEY, style="cyan")
    grid.column(sym("upstream ∂L/∂node" if data else "upstream ∂f/∂node"), NUM, style="bold")
    grid.column("to", TEXT)
    grid.column(sym("local ∂node/∂to"), NUM, style="magenta")
    grid.column("contribution", NUM, style="bold")
    if data:
        grid.column("", TEXT)
    groups = ((node, list(steps)) for node, steps in groupby(doc["steps"].items,
                                                             key=lambda s: s["node"]))
    head, tail, hidden = limit_rows(groups, limit)
    if not head:
        return None
    output = doc["output"]
    mark = sigma(doc) if data else ""
    summed = sym(f"← {mark} over the rows")

    def number(value, per_row):
        return f"{mark} {format_number(value)}" if per_row else format_number(value)

    def upstream(node, s):
        if data:
            up = number(s["upstream"], s["per_row"])
            return up + " (the output)" if node == output else up
        value = s["upstream"]
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
            cells = [node if first else "", s["op"] if first else "",
                     upstream(node, s) if first else "", to,
                     "per row" if s["local"] is None else format_number(s["local"]),
                     number(s["contribution"], s.get("per_row"))]
            if data:
                cells.append((summed if s["summation"] else "", "yellow"))
            grid.row(*cells)

    for group in head:
        add(group)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more nodes")
    for group in tail:
        add(group)
    return grid


def table(doc: dict, limit=None, **_options) -> None:
    from rich.text import Text

    from autodiff_cli.render.table import console, limit_rows, note

    data = "data" in doc
    out = console()
    heading(out, doc, doc["formula"])
    out.print()
    # The forward rows are read once: keep the names the other sections need.
    labels: dict[str, str] = {}  # node -> label, for inputs and named values
    inputs: list[tuple[str, str]] = []  # (node, name) of each input (data: each parameter)

    def forward():
        for f in doc["forward"].items:
            if f["label"] and f["op"] != "const":
                labels[f["node"]] = f["label"]
            if f["op"] == "var" and not f.get("varies"):
                inputs.append((f["node"], f["label"]))
            yield f

    mark = sigma(doc) if data else ""
    if data:
        rows = doc["data"]["rows"]
        note(out, f"Forward pass: the value of each node ({mark}: a value that differs row by "
                  f"row, over the {rows:,} row{'s' if rows != 1 else ''})", style="bold")
    else:
        note(out, "Forward pass: the value of each node", style="bold")
    _forward_table(doc, forward(), limit).print(out)
    out.print()
    sums = {entry["node"]: entry for entry in doc["sums"]}
    note(out, "Backward pass, in every row: contribution = upstream × local "
              f"(shown {mark} over the rows)" if data else
              "Backward pass, from the output down: contribution = upstream × local",
         style="bold")
    backward = _backward_table(doc, sums, labels, limit)
    if backward is not None:
        backward.print(out)
    else:
        note(out, "  no steps: the output is a parameter" if data else
             "  no steps: the output is an input, its gradient is 1")
    if data:
        note(out, f"← {mark} over the rows: the summation step. Each row's gradient flows into a "
                  "value every row shares, and the rows' contributions are added up.")
        out.print()
        if "examples" in doc:
            examples_table(doc, limit or 10**9).print(out)
        elif rows:
            note(out, f"(the {rows:,} rows are not listed one by one: more than 1,000)")
    what = "parameter" if data else "input"
    if not inputs:
        note(out, "The formula has no parameters: there is no gradient." if data else
             "The formula has no input variables: there is no gradient.")
        return
    note(out, f"Gradient: the contributions each {what} receives, summed", style="bold")
    # Every parameter of a data formula; a point's inputs as many as the rows shown.
    head, tail, hidden = ((inputs, [], 0) if data else limit_rows(iter(inputs), limit))

    def add(node, name):
        line = Text("  ")
        line.append(safe(name), style="bold")
        line.append(": ")
        if node in sums:
            line.append(sum_text(sums[node], mark))
        elif data:
            line.append(format_number(doc["gradient"].get(name, 0.0)))
        else:
            line.append(f"{format_number(doc['gradient'][name])} (the input is the output)")
        out.print(line)

    for row in head:
        add(*row)
    if hidden:
        note(out, f"  … {hidden:,} more inputs")
    for row in tail:
        add(*row)
