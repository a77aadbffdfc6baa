"""Renderers for ``adiff fit``: the parameters initial → fitted, how it stopped, the loss curve.

Reads the document of ``documents.fit``. The table shows what L is, the
method and its outcome (steps, passes over the data, time), a row per
parameter (initial → fitted, and the gradient of L there), the stopping rule
with what it saw, and the loss curve as a small plot in text. Plain output is
tab-separated ``key<TAB>value`` lines and one ``param`` line per parameter.
"""

from __future__ import annotations

import math
import sys

from autodiff_cli.render import format_number, limited_encoding, message, safe, sym

#: The terminal plot: rows of text, and at most this many columns of bars.
PLOT_ROWS = 8
PLOT_COLUMNS = 60
_BLOCKS = " ▁▂▃▄▅▆▇█"

METHOD_NAMES = {
    "lbfgs": "L-BFGS (SciPy's L-BFGS-B)",
    "gd": "gradient descent",
    "momentum": "gradient descent with momentum",
    "adam": "Adam",
    "newton": "Newton's method (damped, exact Hessians)",
}


def _bool(x: bool) -> str:
    return "true" if x else "false"


def plain(doc: dict, **_options) -> None:
    """loss, steps, converged and reason lines, then param<TAB>name<TAB>fitted<TAB>gradient."""
    lines = [f"loss\t{format_number(doc['loss'], None)}", f"steps\t{doc['steps']}",
             f"converged\t{_bool(doc['converged'])}",
             f"reason\t{doc['stopping']['reason']}"]
    for name, value in doc["params"].items():
        lines.append("\t".join(["param", safe(name), format_number(value, None),
                                format_number(doc["gradient"][name], None)]))
    sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- the table

def loss_text(doc: dict) -> str:
    """'L = the sum of f over the 12 rows of FILE (columns x1, x2, y) + 0.1·Σθ²'."""
    rows = doc["rows"]
    what = "sum" if doc["reduce"] == "sum" else "mean"
    text = f"L = the {what} of f over the {rows:,} row{'s' if rows != 1 else ''} of " \
           f"{safe(doc['data'])}"
    if doc["columns"]:
        text += f" (columns {', '.join(safe(c) for c in doc['columns'])})"
    return text


def penalty_text(doc: dict) -> str | None:
    """'  + 0.1·(t0² + t1² + t2²), the --l2 penalty' (None without --l2)."""
    if not doc["l2"]:
        return None
    names = list(doc["params"])
    penalty = " + ".join(f"{safe(n)}²" for n in names) if len(names) <= 4 else \
        f"the sum of the squares of the {len(names)} fitted parameters"
    return sym(f"  + {format_number(doc['l2'])}·({penalty}), the --l2 penalty")


def _seconds(s: float) -> str:
    return f"{s:.2g} s" if s < 10 else f"{s:,.0f} s"


def outcome_text(doc: dict, seconds: float | None) -> str:
    steps = doc["steps"]
    stopped = doc["stopping"]["reason"]
    state = ("converged" if doc["converged"] else "interrupted" if doc.get("interrupted")
             else f"not converged ({stopped})")
    text = f"{METHOD_NAMES[doc['method']]}: {state} after {steps:,} step{'s' if steps != 1 else ''}"
    text += f", {doc['evaluations']:,} passes over the data"
    settings = doc["settings"]
    if settings.get("lr") is not None:
        text += f", learning rate {format_number(settings['lr'])}"
    if settings.get("batch_size"):
        text += f", minibatches of {settings['batch_size']:,} rows (seed {settings['seed']})"
    if seconds is not None:
        text += f", {_seconds(seconds)}"
    return text


def params_table(doc: dict):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid

    grid = Grid(sym("Parameters"))
    grid.column("parameter", TEXT)
    grid.column("initial", NUM)
    grid.column("", KEY, style="dim")
    grid.column("fitted", NUM, style="bold")
    grid.column(sym("∂L/∂parameter at the fit"), NUM)
    for name, value in doc["params"].items():
        grid.row(safe(name), format_number(doc["initial"][name]), sym("→"),
                 format_number(value, 10), format_number(doc["gradient"][name], 3))
    return grid


def _mark(ok: bool) -> str:
    return sym("✓") if ok else sym("✗")


def rule_lines(doc: dict) -> list[str]:
    """The stopping rule, each of its tests with what it saw at the last step, and the verdict."""
    stop = doc["stopping"]
    lines = [f"stopping rule (tol {format_number(stop['tol'])}), at the last step:"]
    if "gradient" in stop:
        limit = format_number(stop["limit"], 3)
        lines.append(f"  |∂L/∂θ|·max(1, |θ|) = {format_number(stop['gradient'], 3)} ≤ "
                     f"tol·max(1, |L|) = {limit} for every parameter  {_mark(stop['gradient_ok'])}")
        if stop["loss_change"] is not None:
            lines.append(f"  |ΔL| = {format_number(stop['loss_change'], 3)} ≤ {limit}  "
                         f"{_mark(stop['loss_change_ok'])}")
        if stop.get("precision", {}).get("reached"):
            lines.append(f"  no step can lower L by more than its rounding error  {_mark(True)}")
        minimum = stop.get("minimum")
        if minimum is not None:
            lines.append(f"  a minimum: L rises along every parameter, either way  "
                         f"{_mark(minimum['ok'])}")
    lines.append(sym("  → ") + message(stop["message"]))
    return lines


def _ascii() -> bool:
    return limited_encoding() is not None


def plot_lines(losses: list[float], room: int = PLOT_COLUMNS + 20, rows: int = PLOT_ROWS):
    """The loss curve in text, in at most ``room`` cells a line: ((label, bars) lines, log).

    Each column is a step (several steps per column when there are more steps than
    columns: the loss at the column's last step; fewer: each step spans the same
    number of columns). The scale is linear, or logarithmic (``log``) when the loss
    spans more than three decades, all positive.
    """
    n = len(losses)
    if n < 2:
        return [], False
    lo, hi = min(losses), max(losses)
    top, bottom = format_number(hi, 4), format_number(lo, 4)
    pad = max(len(top), len(bottom))
    width = max(8, min(PLOT_COLUMNS, room - pad - 3 - len("  step")))
    if n <= width:
        per = max(1, width // n)
        values = [v for v in losses for _ in range(per)]
        first_of = [k * per for k in range(n)]
    else:
        values = [losses[min(n - 1, round((c + 1) * (n - 1) / width))] for c in range(width)]
        values[0] = losses[0]
        first_of = None
    log = lo > 0 and hi / lo > 1e3
    if log:
        def scale(v):
            return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    else:
        def scale(v):
            return (v - lo) / (hi - lo) if hi > lo else 0.5
    eighths = [1 + round(scale(v) * (rows * 8 - 1)) for v in values]
    ascii_only = _ascii()
    lines = []
    for r in range(rows - 1, -1, -1):
        cells = []
        for e in eighths:
            part = e - r * 8
            if ascii_only:
                cells.append("#" if part >= 4 else " ")
            else:
                cells.append(_BLOCKS[max(0, min(8, part))])
        label = top if r == rows - 1 else bottom if r == 0 else ""
        tick = ("+" if label else "|") if ascii_only else ("┤" if label else "│")
        lines.append((f"{label:>{pad}} {tick}", "".join(cells).rstrip()))
    corner, rule = ("+", "-") if ascii_only else ("└", "─")
    lines.append((f"{'':>{pad}} {corner}", rule * len(values)))
    last = str(n - 1)
    # the last step's number starts under its first column (one step a column or more),
    # or ends under the last column
    gap = first_of[-1] - 1 if first_of else len(values) - 1 - len(last)
    lines.append((f"{'':>{pad}}  ", "0" + " " * max(1, gap) + last + "  step"))
    return lines, log


def table(doc: dict, **_options) -> None:
    from rich.text import Text

    from autodiff_cli.render.table import console, heading, note

    out = console()
    heading(out, doc["expression"])
    out.print(Text(loss_text(doc)))
    penalty = penalty_text(doc)
    if penalty:
        out.print(Text(penalty))
    if doc["fixed"]:
        fixed = ", ".join(f"{safe(k)} = {format_number(v)}" for k, v in doc["fixed"].items())
        out.print(Text(f"held fixed: {fixed}"))
    state = "bold green" if doc["converged"] else "bold yellow"
    out.print(Text(sym(outcome_text(doc, getattr(doc, "seconds", None))), style=state))
    params_table(doc).print(out)
    line = Text()
    line.append("loss ", style="bold")
    if doc["initial_loss"] is not None:
        line.append(format_number(doc["initial_loss"], 10))
        line.append(sym(" → "))
    line.append(format_number(doc["loss"], 10), style="bold green")
    out.print(line)
    for text in rule_lines(doc):
        note(out, text, style="dim" if text.startswith("stopping") else None)
    losses = [h["loss"] for h in doc["history"].items]
    if len(losses) >= 2 and all(isinstance(v, float) and math.isfinite(v) for v in losses):
        lines, log = plot_lines(losses, out.width)
        what = "the minibatch estimate of L" if doc["settings"].get("batch_size") else "L"
        scale = "log scale" if log else "linear scale"
        out.print(Text(sym(f"Loss curve: {what} at each step ({scale})"), style="bold"))
        for label, bars in lines:
            row = Text(label + " ", style="dim")
            row.append(bars, style="green")
            out.print(row)
