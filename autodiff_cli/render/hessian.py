"""Renderers for ``adiff hessian``: the gradient, the matrix, its check, eigenvalues and what
the point is.

Reads the document of ``documents.hessian``. A matrix wider than the terminal is printed in
blocks of columns (as NumPy prints a wide array), never stacked and never cut.
"""

from __future__ import annotations

import sys

from autodiff_cli.render import format_number, mark, message, safe, sym

#: Significant digits of the matrix's entries in a table (plain and JSON have them all).
DIGITS = 8
#: A table lists every checked entry up to this many; beyond, the failing ones and the worst.
CHECK_ROWS = 16
#: Eigenvalues listed in a table (the smallest and the largest ones beyond).
EIGEN_SHOWN = 12
#: A table prints the matrix up to this many inputs (in blocks of columns); beyond, a
#: matrix is for --format plain or json (a 1,000 × 1,000 table helps nobody).
MATRIX_SHOWN = 30
#: Gradient rows a table shows (the first and the last ones).
GRADIENT_ROWS = 60


def _line(*fields) -> str:
    return "\t".join(safe(f) if isinstance(f, str) else format_number(f, None) for f in fields)


def plain(doc: dict, **_options) -> None:
    """Tab-separated lines: value; gradient NAME g; hessian ROW COLUMN h (every entry, row
    by row); eigenvalue K λ; definiteness; point; check ok|disagree|skipped."""
    lines = [_line("value", doc["value"])]
    lines += [_line("gradient", name, g) for name, g in doc["gradient"].items()]
    for a, row in doc["hessian"].items():
        lines += [_line("hessian", a, b, h) for b, h in row.items()]
    lines += [_line("eigenvalue", str(k), x) for k, x in enumerate(doc["eigenvalues"], 1)]
    d = doc["definiteness"]
    if d is not None:
        lines.append(_line("definiteness", d["matrix"]))
        lines.append(_line("point", d["point"]))
    ok = doc["check"]["ok"]
    lines.append(_line("check", "skipped" if ok is None else "ok" if ok else "disagree"))
    sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- tables

def gradient_table(doc: dict):
    from autodiff_cli.render.table import NUM, TEXT, Grid, ellipsis, limit_rows

    grid = Grid(sym("Gradient"))
    grid.column("input", TEXT)
    grid.column("value", NUM, drop=1)
    grid.column(sym("∂f/∂input (reverse mode)"), NUM, style="bold")
    head, tail, hidden = limit_rows(iter(doc["gradient"].items()), GRADIENT_ROWS)
    for name, g in head:
        grid.row(safe(name), format_number(doc["at"][name]), format_number(g, 10))
    if hidden:
        grid.marker(ellipsis(), f"{hidden:,} more")
    for name, g in tail:
        grid.row(safe(name), format_number(doc["at"][name]), format_number(g, 10))
    return grid


def _matrix_grid(title: str, names: list[str], rows: dict, columns: list[str]):
    from autodiff_cli.render.table import NUM, TEXT, Grid

    grid = Grid(title)
    grid.column("", TEXT, style="bold")
    for b in columns:
        grid.column(safe(b), NUM)
    for a in names:
        grid.row(safe(a), *[format_number(rows[a][b], DIGITS) for b in columns])
    return grid


def matrix_grids(doc: dict, width: int) -> list:
    """The Hessian as one grid, or as blocks of columns when it is wider than ``width``."""
    names = list(doc["hessian"])
    title = sym("Hessian ∂²f/∂row∂column (forward-over-reverse: exact, no finite differences)")
    whole = _matrix_grid(title, names, doc["hessian"], names)
    if whole.fits(width, tightest=1) or len(names) <= 1:
        return [whole]
    blocks, start = [], 0
    while start < len(names):
        end = start + 1
        while end < len(names) and _matrix_grid("", names, doc["hessian"],
                                                names[start:end + 1]).fits(width, tightest=1):
            end += 1
        blocks.append((start, end))
        start = end
    grids = []
    for k, (a, b) in enumerate(blocks):
        part = f"{title}, columns {a + 1}–{b} of {len(names)}" if k == 0 else \
            f"columns {a + 1}–{b} of {len(names)}"
        grids.append(_matrix_grid(sym(part), names, doc["hessian"], names[a:b]))
    return grids


def _shown_entries(check: dict) -> tuple[list[dict], int]:
    """(entries to list, how many are not listed): all while few, else the failing and the
    worst."""
    entries = []
    for a, row in check["hessian"].items():
        for b in row:
            entries.append({"entry": f"{a},{b}", "row": a, "column": b})
    if len(entries) <= CHECK_ROWS:
        return entries, 0
    failing = [e for e in entries if check["status"][e["row"]][e["column"]] != "ok"]
    worst = check["worst"]
    if not failing and worst is not None:
        failing = [{"entry": worst["entry"], "row": worst["row"], "column": worst["column"]}]
    shown = failing[:CHECK_ROWS]
    return shown, len(entries) - len(shown)


def check_table(doc: dict):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid

    check = doc["check"]
    shown, hidden = _shown_entries(check)
    title = "Check: finite differences of the reverse-mode gradient"
    if hidden:
        s = check["summary"]
        title += (f" ({s['ok']:,} of {s['entries']:,} entries agree; " +
                  ("the failing ones" if s["ok"] < s["entries"] else "the worst") + ")")
    grid = Grid(sym(title))
    grid.column("entry", TEXT)
    grid.column(sym("∂²f (forward-over-reverse)"), NUM, style="bold")
    grid.column(f"{check['method']} diff.", NUM)
    grid.column("abs err", NUM)
    grid.column("rel err", NUM, drop=1)
    grid.column("", KEY)
    hessian = doc["hessian"]
    for e in shown:
        a, b = e["row"], e["column"]
        grid.row(safe(e["entry"]), format_number(hessian[a][b], 10),
                 format_number(check["hessian"][a][b], 10),
                 format_number(check["abs_error"][a][b], 2),
                 format_number(check["rel_error"][a][b], 2), mark(check["status"][a][b]))
    return grid


def _eigen_text(values: list, zero) -> str:
    """The eigenvalues, those that count as zero shown as "≈ 0" (their digits are rounding
    noise, which differs from one LAPACK build to another; JSON and plain keep them); the
    smallest and the largest ones of many."""
    def one(x):
        flat = isinstance(x, float) and isinstance(zero, float) and abs(x) <= zero and x != 0.0
        return sym("≈ 0") if flat else format_number(x)

    if len(values) <= EIGEN_SHOWN:
        return ", ".join(one(x) for x in values)
    half = EIGEN_SHOWN // 2
    return (", ".join(one(x) for x in values[:half]) + sym(", …, ")
            + ", ".join(one(x) for x in values[-half:]) + f" ({len(values):,} in all)")


_POINT_STYLE = {"minimum": "bold green", "maximum": "bold green", "saddle": "bold yellow",
                "degenerate": "bold yellow", "not critical": "bold"}


def table(doc: dict, **_options) -> None:
    from rich.text import Text

    from autodiff_cli.render.table import console, heading, note, value_line

    out = console()
    heading(out, doc["expression"])
    value_line(out, doc["value"], doc["at"])
    if not doc["gradient"]:
        note(out, "The formula has no input variables: there is no gradient and no Hessian.")
        return
    gradient_table(doc).print(out)
    n = len(doc["hessian"])
    if n <= MATRIX_SHOWN:
        for grid in matrix_grids(doc, out.width):
            grid.print(out)
    else:
        note(out, f"The Hessian is {n:,} × {n:,}: too big for a table; --format plain or json "
                  "has every entry.", style=None)
    if not doc["symmetric"]:
        note(out, "the two triangles differ by more than rounding (relative difference "
                  f"{format_number(doc['asymmetry'], 2)}): the matrix is shown as computed, "
                  "column j from the pass along input j", style="bold red")
    check = doc["check"]
    if "skipped" in check:
        note(out, f"finite-difference check skipped: {message(check['skipped'])}")
    else:
        check_table(doc).print(out)
        note(out, f"{check['method']} differences of ∂f/∂row along column, step h = "
                  f"{format_number(check['step'], 3)}·max(1, |x|); they agree when "
                  f"|ad − fd| ≤ {format_number(check['atol'])} + "
                  f"{format_number(check['rtol'])}·|fd|")
    d = doc["definiteness"]
    line = Text()
    line.append(sym("Eigenvalues: "), style="bold")
    line.append(_eigen_text(doc["eigenvalues"], d["zero"] if d is not None else None))
    out.print(line)
    if d is not None:
        out.print(Text(sym(d["text"][0].upper() + d["text"][1:] + "."),
                       style=_POINT_STYLE.get(d["point"], "bold")))
        note(out, f"({d['rule']})")
    for kink in doc["kinks"]:
        note(out, f"{kink['node']} ({kink['op']}) is at its kink: {message(kink['convention'])}; "
                  f"{message(kink['second'])}", style="yellow")
