"""Renderers for ``adiff grad``: the node table and the gradient table.

Reads the document of ``documents.grad``, at a point or summed over the rows
of a data file (``--data``: the document has "data"). There the loss is
L = f summed (or averaged) over the rows: a node whose value differs row by
row shows the sum of its values over the rows ("Σ 5"), its local gradients
are "per row", every gradient is that of L, summed over the rows, and
``--per-example`` adds the rows themselves: L = L1 + L2 + ... and
∂L/∂θ = ∂L1/∂θ + ∂L2/∂θ + ...

In forward mode (the document has ``"mode": "forward"``) the node table shows each
node's tangent in every input's pass (∂node/∂x) where reverse mode shows ∂f/∂node, and a
line says what the gradient cost: N tangent passes, against one backward pass and 2N
evaluations of central differences.
"""

from __future__ import annotations

import sys

from autodiff_cli.render import format_number, mark, message, safe, sym

#: Rows of the examples table shown (the first and the last ones).
EXAMPLE_ROWS = 60


def _line(*fields) -> str:
    """A plain line: text fields made safe (a tab or newline in a name would forge
    fields or lines), numbers at full precision."""
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """value and name<TAB>gradient lines; with --per-example, one line per row:
    example<TAB>row<TAB>value<TAB>one gradient per parameter."""
    lines = [_line("value", doc["value"])]
    lines.extend(_line(name, g) for name, g in doc["gradient"].items())
    for ex in doc.get("examples", ()):
        lines.append(_line("example", str(ex["row"]), ex["value"], *ex["gradient"].values()))
    if "directional" in doc:
        lines.append(_line("directional", doc["directional"]["value"]))
    sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- data mode

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
    """The formula and the point; in data mode, what L is and the parameters."""
    from autodiff_cli.render.table import heading as formula_line
    from autodiff_cli.render.table import value_line

    formula_line(out, formula)
    if "data" not in doc:
        value_line(out, doc["value"], doc["at"])
        return
    from rich.text import Text

    columns = doc["data"]["columns"]
    out.print(Text(reduce_text(doc)
                   + (f" (columns {', '.join(safe(c) for c in columns)})" if columns else "")))
    value_line(out, doc["value"], doc["at"], "parameters")


def _shown(doc: dict, n: dict) -> dict:
    """A node entry as the shared node table reads it: per-row values as their sum."""
    if not n.get("varies"):
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
    """Each row's value and gradient, and their sum (--per-example; trace --data)."""
    from autodiff_cli.render.table import NUM, Grid, ellipsis, limit_rows

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


# ---------------------------------------------------------------- tables

def gradient_table(doc: dict, what: str = "input", of: str = "f"):
    """Each input's gradient beside its finite difference (``what``: "parameter" with --data)."""
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid

    check = doc["check"]
    grid = Grid(sym("Gradient"))
    grid.column(what, TEXT)
    grid.column("value", NUM, drop=2)
    grid.column(sym(f"∂{of}/∂{what} ({doc.get('mode', 'reverse')} mode)"), NUM, style="bold")
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


#: Tangent columns the forward-mode node table shows at most (the JSON has every pass).
TANGENT_COLUMNS = 8


def direction_text(direction: dict) -> str:
    """'x = 1, y = -1' (made safe for the output)."""
    return ", ".join(f"{safe(name)} = {format_number(v)}" for name, v in direction.items())


def forward_node_table(doc: dict, limit):
    """The nodes with their tangents: one column per input's pass (∂node/∂x), the first
    TANGENT_COLUMNS of them, and one along --direction. Returns (grid, hidden, left out)."""
    from autodiff_cli.render.table import KEY, LIST, NUM, TEXT, Grid, ellipsis, limit_rows, numbers

    names = list(doc["gradient"])
    shown = names[:TANGENT_COLUMNS]
    direction = "directional" in doc
    grid = Grid(sym("Nodes, forward mode: tangent = Σ local × tangent(input)"))
    grid.column("id", KEY, style="dim")
    grid.column("label", TEXT)
    grid.column("op", KEY, style="cyan")
    grid.column("inputs", LIST, style="dim", drop=3)
    grid.column("value", NUM, drop=2)
    grid.column(sym("local ∂node/∂input"), LIST, justify="right", drop=1)
    for name in shown:
        grid.column(sym("∂node/∂") + safe(name), NUM, style="bold")
    if direction:
        grid.column(sym("along v"), NUM, style="bold")
    head, tail, hidden = limit_rows(iter(doc["nodes"].items), limit)
    output = doc["output"]

    def add(n):
        cells = [n["id"], safe(n["label"]), n["op"], ", ".join(n["inputs"]),
                 format_number(n["value"]), numbers(n["local"]) if n["local"] else ""]
        cells += [format_number(n["tangent"][name]) for name in shown]
        if direction:
            cells.append(format_number(n["directional"]))
        grid.row(*cells, style="bold" if n["id"] == output else None)

    for n in head:
        add(n)
    if hidden:
        grid.marker(ellipsis(), f"{hidden:,} more")
    for n in tail:
        add(n)
    return grid, hidden, len(names) - len(shown)


def cost_text(inputs: int, along: bool = False) -> str:
    """The lecture's cost argument for the gradient over N inputs: N tangent passes
    (forward mode), one backward pass (reverse mode), 2N evaluations (central
    differences); ``along``: and the one more tangent pass --direction took."""
    s = "" if inputs == 1 else "s"
    text = (f"Cost of the gradient over {inputs:,} input{s}: forward mode {inputs:,} tangent "
            f"pass{'es' if inputs != 1 else ''} (one per input), reverse mode 1 backward pass, "
            f"central differences {2 * inputs:,} evaluations")
    if along:
        text += "; the derivative along v took 1 more tangent pass"
    return sym(text)


def directional_line(out, doc: dict) -> None:
    """'Derivative along v = (x = 1, y = -1): 1.5403 (Σ ∂f/∂xᵢ·vᵢ from ...)'."""
    from rich.text import Text

    d = doc["directional"]
    line = Text(sym("Derivative along v = (") + direction_text(d["direction"]) + "): ")
    line.append(format_number(d["value"], 10), style="bold")
    of = "L" if "data" in doc else "f"
    how = "the gradient" if d["method"] == "gradient" else "one tangent pass"
    line.append(sym(f"  (Σ ∂{of}/∂xᵢ·vᵢ from {how}; v is not normalised)"), style="dim")
    out.print(line)


def table(doc: dict, nodes_limit=None, **_options) -> None:
    from autodiff_cli.render.table import console, node_table, note

    data = "data" in doc
    forward = doc.get("mode") == "forward"
    out = console()
    heading(out, doc, doc["expression"])
    if "nodes" in doc and forward:
        nodes, hidden, left_out = forward_node_table(doc, nodes_limit)
        nodes.print(out)
        if left_out:
            note(out, f"(tangents of the first {TANGENT_COLUMNS} passes shown; {left_out:,} more "
                      "inputs: --format json has every pass)")
        if hidden:
            note(out, f"{hidden:,} of the nodes are not shown: use --nodes all, or --format json")
    elif "nodes" in doc:
        if data:
            nodes, hidden = node_table((_shown(doc, n) for n in doc["nodes"].items), nodes_limit,
                                       doc["output"], "grad ∂L/∂node")
        else:
            nodes, hidden = node_table(doc["nodes"].items, nodes_limit, doc["output"])
        nodes.print(out)
        if data:
            what = "summed" if doc["data"]["reduce"] == "sum" else "averaged"
            note(out, f"{sigma(doc)}: a value that differs row by row, {what} over the rows; "
                      "grad: summed over the rows")
        if hidden:
            note(out, f"{hidden:,} of the nodes are not shown: use --nodes all, or --format json")
    if "examples" in doc:
        examples_table(doc).print(out)
    if doc["gradient"]:
        (gradient_table(doc, "parameter", "L") if data else gradient_table(doc)).print(out)
    elif data:
        note(out, "The formula has no parameters (every variable is a column): there is no "
                  "gradient.")
    else:
        note(out, "The formula has no input variables: there is no gradient.")
    check = doc["check"]
    if "skipped" in check:
        note(out, f"finite-difference check skipped: {message(check['skipped'])}")
    elif doc["gradient"]:
        of, x = ("differences of L, h", "θ") if data else ("differences, step h", "x")
        note(out, f"central {of} = {format_number(check['step'], 3)}·max(1, |{x}|); "
                  f"they agree when |ad − fd| ≤ {format_number(check['atol'])} + "
                  f"{format_number(check['rtol'])}·|fd|")
    if forward and doc["gradient"]:
        note(out, cost_text(len(doc["gradient"]), "directional" in doc))
    if "directional" in doc:
        directional_line(out, doc)
    for kink in doc["kinks"]:
        rows = f" in {kink['rows']:,} rows" if "rows" in kink else ""
        note(out, f"{kink['node']} ({kink['op']}) is at its kink{rows}: "
                  f"{message(kink['convention'])}", style="yellow")
