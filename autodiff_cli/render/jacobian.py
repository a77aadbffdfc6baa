"""Renderers for ``adiff jacobian``: the matrix (outputs as rows, inputs as columns) and plain lines.

Reads the document of ``documents.jacobian``. The table shows each output's value and
its row of derivatives, with the row's finite-difference verdict; a matrix too wide for
the console is shown one entry per line instead (output, input, derivative). Under it:
how the matrix was computed (which mode, how many passes, and what the other mode would
have cost), the check's summary with the entry nearest to failing, and every entry
that does not agree, beside its estimate.
"""

from __future__ import annotations

import sys

from autodiff_cli.render import format_number, mark, message, safe, sym

#: Output rows (matrix) or entries (one per line) a table shows: the first and the last ones.
TABLE_ROWS = 60
_ORDER = ("mismatch", "inconclusive", "unavailable", "kink", "ok")
_STATUS_WORDS = {"mismatch": "disagree", "inconclusive": "inconclusive",
                 "unavailable": "without an estimate", "kink": "at a kink"}


def _line(*fields) -> str:
    """A plain line: text fields made safe, numbers at full precision."""
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """A header line ``output<TAB>value<TAB>`` and the inputs, then one line per output:
    its name, value and derivatives (for ``cut``/``awk``)."""
    wrt = doc["wrt"]
    lines = [_line("output", "value", *wrt)]
    for name in doc["outputs"]:
        row = doc["jacobian"][name]
        lines.append(_line(name, doc["value"][name], *[row[x] for x in wrt]))
    sys.stdout.write("\n".join(lines) + "\n")


def _plural(n: int, word: str, suffix: str = "es") -> str:
    return f"{n:,} {word}{suffix if n != 1 else ''}"


def mode_text(doc: dict) -> str:
    """'reverse mode: 2 backward passes, one per output (forward mode: 2 tangent passes,
    one per input)'."""
    outputs = len(set(doc["nodes"].values()))
    inputs = len(doc["wrt"])
    reverse = f"{_plural(outputs, 'backward pass')}, one per output"
    forward = f"{_plural(inputs, 'tangent pass')}, one per input"
    if doc["mode"] == "reverse":
        return f"reverse mode: {reverse} (forward mode: {forward})"
    return f"forward mode: {forward} (reverse mode: {reverse})"


def _row_status(doc: dict, name: str) -> str | None:
    status = doc["check"].get("status")
    if status is None or not status.get(name):
        return None
    return min(status[name].values(), key=lambda s: _ORDER.index(s) if s in _ORDER else 0)


def _matrix(doc: dict, limit: int | None):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    wrt = doc["wrt"]
    checked = "status" in doc["check"]
    grid = Grid(sym("Jacobian ∂output/∂input"))
    grid.column("output", TEXT, style="bold")
    grid.column("value", NUM)
    for x in wrt:
        grid.column(sym("∂/∂") + safe(x), NUM)
    if checked:
        grid.column("check", KEY, drop=1)
    head, tail, hidden = limit_rows(iter(doc["outputs"]), limit)

    def add(name):
        row = doc["jacobian"][name]
        cells = [safe(name), format_number(doc["value"][name], 10),
                 *[format_number(row[x], 10) for x in wrt]]
        if checked:
            status = _row_status(doc, name)
            cells.append(mark(status) if status else "")
        grid.row(*cells)

    for name in head:
        add(name)
    if hidden:
        grid.marker(ellipsis(), f"{hidden:,} more outputs")
    for name in tail:
        add(name)
    return grid


def _entries(doc: dict, limit: int | None):
    """The matrix one entry per line: for a Jacobian too wide for the console."""
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, ellipsis, limit_rows

    checked = "status" in doc["check"]
    grid = Grid(sym("Jacobian ∂output/∂input, one entry per line"))
    grid.column("output", TEXT, style="bold")
    grid.column("value", NUM)
    grid.column("input", TEXT)
    grid.column(sym("∂output/∂input"), NUM)
    if checked:
        grid.column("check", KEY, drop=1)
    pairs = ((name, x) for name in doc["outputs"] for x in doc["wrt"])
    head, tail, hidden = limit_rows(pairs, limit)

    def add(pair):
        name, x = pair
        cells = [safe(name), format_number(doc["value"][name], 10), safe(x),
                 format_number(doc["jacobian"][name][x], 10)]
        if checked:
            cells.append(mark(doc["check"]["status"][name][x]))
        grid.row(*cells)

    for pair in head:
        add(pair)
    if hidden:
        grid.marker(ellipsis(), "", "", f"{hidden:,} more entries")
    for pair in tail:
        add(pair)
    return grid


def _questioned(doc: dict):
    """The entries whose check is not "ok", beside their estimates."""
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid

    check = doc["check"]
    grid = Grid(sym("Entries finite differences do not confirm"))
    grid.column("output", TEXT, style="bold")
    grid.column("input", TEXT)
    grid.column(sym(f"∂output/∂input ({doc['mode']} mode)"), NUM, style="bold")
    grid.column("central diff.", NUM)
    grid.column("abs err", NUM)
    grid.column("rel err", NUM, drop=1)
    grid.column("", KEY)
    count = 0
    for name in doc["outputs"]:
        for x, status in check["status"][name].items():
            if status == "ok":
                continue
            count += 1
            grid.row(safe(name), safe(x), format_number(doc["jacobian"][name][x], 10),
                     format_number(check["jacobian"][name][x], 10),
                     format_number(check["abs_error"][name][x], 2),
                     format_number(check["rel_error"][name][x], 2), mark(status))
    return grid, count


def _summary(doc: dict) -> list[str]:
    """The check in two lines: how many entries agree (and the one nearest to failing),
    then the method and its rule."""
    check = doc["check"]
    agree, total = check["agree"], check["entries"]
    text = f"finite differences: {agree:,} of {total:,} entr{'ies' if total != 1 else 'y'} agree"
    counts: dict[str, int] = {}
    for row in check["status"].values():
        for status in row.values():
            counts[status] = counts.get(status, 0) + 1
    others = [f"{counts[s]:,} {_STATUS_WORDS[s]}" for s in _ORDER[:-1] if counts.get(s)]
    if others:
        text += f" ({', '.join(others)})"
    worst = check.get("worst")
    if worst and worst["status"] == "ok":
        text += (f"; nearest to the tolerance: ∂{safe(worst['output'])}/∂{safe(worst['input'])} "
                 f"(rel err {format_number(worst['rel_error'], 2)})")
    rule = (f"central differences, step h = {format_number(check['step'], 3)}·max(1, |x|); they "
            f"agree when |ad − fd| ≤ {format_number(check['atol'])} + "
            f"{format_number(check['rtol'])}·|fd|")
    return [text, rule]


def table(doc: dict, **_options) -> None:
    from rich.cells import cell_len
    from rich.text import Text

    from autodiff_cli.render.table import LIST, at_text, clip, console, heading, note

    out = console()
    heading(out, doc["expression"])
    names = doc["outputs"]
    listed = ", ".join(safe(n) for n in names[:10]) + (
        f" and {len(names) - 10:,} more" if len(names) > 10 else "")
    at = at_text(doc["at"])
    room = out.width - len("outputs ") - (cell_len(at) if cell_len(at) < out.width // 2 else 0)
    line = Text()
    line.append("outputs ", style="bold")
    line.append(clip(listed, max(12, room), LIST))
    if room < out.width - len("outputs "):
        line.append(at)
    out.print(line)
    if room >= out.width - len("outputs ") and at:
        out.print(Text(at.strip()))
    if doc["wrt"]:
        grid = _matrix(doc, TABLE_ROWS)
        if not grid.fits(out.width):
            grid = _entries(doc, TABLE_ROWS)
        grid.print(out)
        note(out, mode_text(doc))
    else:
        _matrix(doc, TABLE_ROWS).print(out)
        note(out, "The formula has no input variables: the Jacobian has no columns.")
    check = doc["check"]
    if "skipped" in check:
        note(out, f"finite-difference check skipped: {message(check['skipped'])}")
    elif doc["wrt"]:
        for line in _summary(doc):
            note(out, line)
        questioned, count = _questioned(doc)
        if count:
            questioned.print(out)
        for name, row in check.get("notes", {}).items():
            for x, text in row.items():
                if check["status"][name][x] != "ok":
                    note(out, f"∂{safe(name)}/∂{safe(x)}: {safe(text)}", style="yellow")
    for kink in doc["kinks"]:
        note(out, f"{kink['node']} ({kink['op']}) is at its kink: {message(kink['convention'])}",
             style="yellow")
