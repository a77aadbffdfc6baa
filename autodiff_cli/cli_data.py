"""The --data mode of grad, trace and check: glue between the commands and ``batch.py``.

Imported only when --data is given, so NumPy is never loaded otherwise.
"""

from __future__ import annotations

import math

from .cli import FD_BUDGET, warn
from .errors import InputError, clip, escape_controls
from .render import emit


def _numpy():
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise InputError("--data needs NumPy, which is not installed",
                         hint="pip install numpy") from None


def _open(settings: dict, expr, file):
    _numpy()
    from .dataset import DataFile, parse_delimiter

    if settings["path"] == "-" and (expr == "-" or file == "-"):
        raise InputError("--data - reads the data from standard input, so the formula cannot come "
                         "from there too", hint="give the formula as EXPR or with -f PATH")
    return DataFile(settings["path"], parse_delimiter(settings["delimiter"]), settings["chunk_rows"])


def _setup(graph, at, settings, wrt, expr, file):
    from .batch import Setup

    data = _open(settings, expr, file)
    setup = Setup(graph, at, data, settings["reduce"], wrt)
    if not setup.columns:
        columns = ", ".join(escape_controls(clip(c)) for c in data.columns[:10]) \
            + (", ..." if len(data.columns) > 10 else "")
        warn(f"the formula uses no column of {data.shown} ({columns}): every row gives the same "
             "value")
    return setup


def _run(setup, **options):
    from .batch import RowProgress, run

    progress = RowProgress(setup.data)
    try:
        return run(setup, progress=progress, **options)
    finally:
        progress.close()


def _warn_kinks(setup, totals) -> None:
    from .engine import describe

    graph = setup.graph
    for i, (count, first) in sorted(totals.kinks.items()):
        rows = f"{count:,} row{'s' if count != 1 else ''}"
        warn(f"node {describe(graph, i)} is at its kink ({graph.ops[i].name}) in {rows} (the first: "
             f"{first}), where it is not differentiable; convention: {graph.ops[i].convention}")


# ---------------------------------------------------------------- adiff grad --data

def grad_data(problem, settings: dict, wrt, check, show_nodes: bool, limit, fmt: str,
              per_example: bool, expr, file) -> int:
    from .batch import PER_EXAMPLE_ROWS, check_gradient, fd_cost, grad_document, run
    from .numeric import Settings

    graph = problem.graph
    setup = _setup(graph, problem.at, settings, wrt, expr, file)
    names = setup.wrt
    if check is not False:
        # Standard input cannot be read twice: keep it for the finite differences
        # while they are within budget (all of it when --check forces them).
        per_row_cost = 2 * max(1, len(names)) * len(graph)
        setup.data.keep = math.inf if check else FD_BUDGET // per_row_cost
    totals = _run(setup, details=show_nodes and fmt != "plain",
                  per_example=PER_EXAMPLE_ROWS if per_example else 0)
    _warn_kinks(setup, totals)
    cost = fd_cost(setup, totals.rows, names)
    estimates, skipped = None, None
    if check is False:
        skipped = "turned off with --no-check"
    elif check is None and cost > FD_BUDGET:
        skipped = (f"it would cost {cost:,} node evaluations (2 × {len(names):,} parameters × "
                   f"{len(graph):,} nodes × {totals.rows:,} rows), over the budget of "
                   f"{FD_BUDGET:,}; force it with --check, or use adiff check --data")
    elif names:
        totals.noise = run(setup, noise=True).noise
        estimates = check_gradient(setup, totals, names, Settings("central"))
        bad = [e.name for e in estimates if e.ok is False]
        if bad:
            warn(f"finite differences disagree with reverse mode for {', '.join(bad)}; "
                 "see the table, or run adiff check --data")
    else:
        estimates = []
    if skipped and check is None:
        warn(f"finite-difference check skipped: {skipped}")
    doc = grad_document(setup, totals, estimates, skipped, with_nodes=show_nodes,
                        examples=per_example)
    emit("data", doc, fmt, nodes_limit=limit)
    return 0


# ---------------------------------------------------------------- adiff trace --data

def trace_data(graph, at, settings: dict, expanded: bool, fmt: str, limit, expr, file) -> int:
    from .batch import TRACE_EXAMPLE_ROWS, trace_document

    setup = _setup(graph, at, settings, None, expr, file)
    totals = _run(setup, details=True, edges=True, per_example=TRACE_EXAMPLE_ROWS,
                  examples_or_error=False)
    _warn_kinks(setup, totals)
    emit("trace_data", trace_document(setup, totals, expanded), fmt, limit=limit)
    return 0


# ---------------------------------------------------------------- adiff check --data

CHECK_METHODS = ("central", "forward", "backward", "richardson")


def check_data(source: str, at: dict, settings: dict, wrt, check_settings, allow_kinks: bool,
               max_size, expr, file):
    """(case result, data entry): the summed gradient against finite differences of the summed loss."""
    from .batch import Setup, check_gradient, data_entry
    from .parser import parse
    from .spec import Case, CaseResult

    if check_settings.method not in CHECK_METHODS:
        raise InputError(f"--method {check_settings.method} is not available with --data: the "
                         "complex step needs complex versions of whole columns",
                         hint=f"use one of {', '.join(CHECK_METHODS)}")
    warnings: list[str] = []
    graph = parse(source, max_size=max_size, warnings=warnings)
    for message in warnings:
        warn(message)
    unused = [name for name in at if name not in graph.variables]
    if unused:
        warn(f"--at binds {', '.join(unused[:10])}, which the formula does not use")
    if wrt is not None:
        from .parser import suggest

        for name in wrt:
            if name not in graph.variables:
                near = suggest(name, graph.variables)
                raise InputError(f"--wrt {name}: the formula has no input {name!r}",
                                 hint=f"did you mean {near}?" if near else None)
    data = _open(settings, expr, file)
    setup = Setup(graph, at, data, settings["reduce"], wrt)
    data.keep = math.inf
    totals = _run(setup, noise=True)
    _warn_kinks(setup, totals)
    estimates = check_gradient(setup, totals, setup.wrt, check_settings)
    point = _point(setup, totals, estimates, allow_kinks)
    result = CaseResult(Case(source=source, allow_kinks=allow_kinks, settings=check_settings))
    result.points.append(point)
    return result, data_entry(setup, totals)


def _point(setup, totals, estimates, allow_kinks: bool) -> dict:
    """One entry of check's "cases": the parameters, the summed loss, and each verdict."""
    from .batch import kink_entries
    from .render import num
    from .report import comparison_fields

    passing = ("ok", "kink") if allow_kinks else ("ok",)
    doc = {"at": {name: setup.at[name] for name in setup.params}, "value": num(totals.value)}
    doc.update(comparison_fields(estimates))
    notes = {e.name: e.note for e in estimates if e.note}
    if notes:
        doc["notes"] = notes
    doc["kinks"] = kink_entries(setup, totals)
    doc["ok"] = all(e.status in passing for e in estimates)
    return doc
