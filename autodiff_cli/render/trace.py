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

In forward mode (the document has ``"mode": "forward"``) the forward values are
followed by one table per tangent pass: for each node the seeded input feeds, the
local gradient × the input's tangent = the contribution, summed into the node's
tangent, from the inputs up to the output -- and a line with what each mode costs.
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
    if doc.get("mode") == "forward":
        return _forward_plain(doc)
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
    if doc.get("mode") == "forward":
        return _forward_mode_table(doc, limit)
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


# ---------------------------------------------------------------- forward mode

def _pass_name(p: dict) -> str:
    """What a pass differentiates by: the input it seeds, or 'v' along --direction."""
    return "v" if p["wrt"] is None else p["wrt"]


def _forward_plain(doc: dict) -> None:
    """Tab-separated records of forward mode: value and forward lines as in reverse mode;
    per pass (numbered from 1) a "pass" line (its number and input, "v" along --direction),
    its "step" lines (pass, node, op, from, local, tangent of from, contribution) and
    "tangent" lines (pass, node, tangent); then "grad" lines (or one "directional" line)."""
    write = sys.stdout.write
    write(_line("value", doc["value"]) + "\n")
    for f in doc["forward"].items:
        write(_line("forward", f["node"], f["op"], f["text"], f["value"]) + "\n")
    for k, p in enumerate(doc["passes"].items, 1):
        write(_line("pass", str(k), _pass_name(p)) + "\n")
        for s in p["steps"]:
            write(_line("step", str(k), s["node"], s["op"], s["from"], s["local"], s["tangent"],
                        s["contribution"]) + "\n")
        for t in p["tangents"]:
            write(_line("tangent", str(k), t["node"], t["tangent"]) + "\n")
    if "directional" in doc:
        write(_line("directional", doc["directional"]["value"]) + "\n")
    for name, g in doc.get("gradient", {}).items():
        write(_line("grad", name, g) + "\n")


def _pass_table(p: dict, labels: dict, output: str, limit):
    """One tangent pass: per node, each seeded input's contribution local × tangent, and
    the node's tangent (their sum) on its last line."""
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    by = safe(_pass_name(p))
    grid = Grid()
    grid.column("node", KEY, style="dim")
    grid.column("op", KEY, style="cyan")
    grid.column("from", TEXT)
    grid.column(sym("local ∂node/∂from"), NUM, style="magenta")
    grid.column(sym(f"× tangent ∂from/∂{by}"), NUM)
    grid.column("= contribution", NUM)
    grid.column(sym(f"tangent ∂node/∂{by}"), NUM, style="bold")
    tangent = {t["node"]: t["tangent"] for t in p["tangents"]}
    groups = ((node, list(steps)) for node, steps in groupby(p["steps"], key=lambda s: s["node"]))
    head, tail, hidden = limit_rows(groups, limit)
    if not head:
        return None

    def add(group):
        node, steps = group
        last = len(steps) - 1
        for k, s in enumerate(steps):
            source = s["from"] + (f" {safe(labels[s['from']])}" if labels.get(s["from"]) else "")
            grid.row(node if k == 0 else "", s["op"] if k == 0 else "", source,
                     format_number(s["local"]), format_number(s["tangent"]),
                     format_number(s["contribution"]),
                     format_number(tangent[node]) if k == last else "",
                     style="bold" if node == output and k == last else None)

    for group in head:
        add(group)
    if hidden:
        grid.marker(ellipsis(), "", f"{hidden:,} more nodes")
    for group in tail:
        add(group)
    return grid


def _forward_mode_table(doc: dict, limit) -> None:
    from rich.text import Text

    from autodiff_cli.render.grad import cost_text, direction_text
    from autodiff_cli.render.table import console, note

    out = console()
    heading(out, doc, doc["formula"])
    out.print()
    labels: dict[str, str] = {}
    leaves: dict[str, str] = {}  # input node -> its name

    def forward():
        for f in doc["forward"].items:
            if f["label"] and f["op"] != "const":
                labels[f["node"]] = f["label"]
            if f["op"] == "var":
                leaves[f["node"]] = f["label"]
            yield f

    note(out, "Forward pass: the value of each node", style="bold")
    _forward_table(doc, forward(), limit).print(out)
    output = doc["output"]
    direction = "directional" in doc
    inputs = doc["cost"]["inputs"]
    out.print()
    note(out, "Tangent passes, from the inputs up: tangent(node) = Σ local × tangent(input); "
              "nodes the seeded input does not feed keep tangent 0 and are left out", style="bold")
    for k, p in enumerate(doc["passes"].items, 1):
        out.print()
        if p["wrt"] is None:
            note(out, f"Pass along v = ({direction_text(p['seed'])}): each input starts with "
                      "its component of v as its tangent, inputs not named with 0")
        else:
            name = safe(p["wrt"])
            note(out, f"Pass {k} of {len(doc['gradient'])}, ∂/∂{name}: {name} starts with "
                      "tangent 1, the other inputs with 0")
        grid = _pass_table(p, labels, output, limit)
        if grid is None:
            own = leaves.get(output)
            note(out, f"  no steps: the output is the input {safe(own)} itself" if own is not None
                 and p["seed"].get(own) else
                 f"  no steps: no operation depends on {safe(_pass_name(p))}")
        else:
            grid.print(out)
        of = "∂f/∂v" if p["wrt"] is None else f"∂f/∂{safe(p['wrt'])}"
        line = Text(sym(f"  {of} = the output's tangent = "))
        line.append(format_number(p["derivative"]), style="bold")
        out.print(line)
    out.print()
    if direction:
        note(out, sym(f"One tangent pass gives the derivative along v, Σ ∂f/∂xᵢ·vᵢ (v is not "
                      f"normalised): {format_number(doc['directional']['value'])}"), style="bold")
    elif inputs:
        note(out, "Gradient: the output's tangent in each input's pass", style="bold")
        for name, g in doc["gradient"].items():
            line = Text("  ")
            line.append(safe(name), style="bold")
            line.append(f": {format_number(g)}")
            out.print(line)
    else:
        note(out, "The formula has no input variables: there is no gradient.")
    if direction:
        note(out, "The derivative along v took 1 tangent pass (central differences along v: 2 "
                  "evaluations).")
    if inputs:
        note(out, cost_text(inputs) + " (adiff trace without --mode forward shows the backward "
                                      "pass).")
