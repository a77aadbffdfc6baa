"""adiff grad: value and gradient by reverse mode, every node, and a finite-difference column.

At a point (--at) or summed over the rows of a data file (--data): one
document (``documents.grad``), one renderer (``render.grad``).
"""

from __future__ import annotations

import math

import click

from autodiff_cli.cli.messages import warn
from autodiff_cli.cli.options import (
    TABLE_NODES,
    FormulaCommand,
    data_options,
    data_settings,
    expand_option,
    formula_options,
    nodes_limit,
    wrt_option,
)
from autodiff_cli.cli.problem import Problem, evaluate, pass_over
from autodiff_cli.render import emit

#: The finite-difference column of ``grad`` costs 2 evaluations of the graph
#: per input (and per row, with --data); it runs by default while that many node
#: evaluations stay within this budget (~0.35 µs each measured here, so about a
#: third of a second).
FD_BUDGET = 1_000_000


@click.command(cls=FormulaCommand)
@formula_options
@wrt_option("Differentiate with respect to these inputs only.")
@click.option("--check/--no-check", "check", default=None,
              help="Force the finite-difference column on or off (default: on while it is "
                   f"cheap, 2 × inputs × nodes ≤ {FD_BUDGET:,}).")
@click.option("--nodes", "nodes", metavar="N|all|none",
              help=f"Node rows to show (table default {TABLE_NODES}; JSON default all).")
@expand_option("Rewrite fused ops (sigmoid, tanh, ...) into primitive ops first.")
@data_options
@click.option("--per-example", "per_example", is_flag=True,
              help="With --data: also list each row's value and gradient (small files).")
def grad(expr, file, at, fmt, max_size, wrt, check, nodes, expand, data, reduce, delimiter,
         chunk_size, per_example):
    """Value and gradient of EXPR by reverse mode, node by node.

    Prints the value, a table of every node (op, inputs, value, local
    gradients, gradient of the output) and each input's gradient beside a
    central finite-difference estimate.

    With --data FILE, the formula is summed over the rows of FILE (training
    over N examples): its variables named like columns take their values row
    by row, the others are parameters bound by --at, and the gradient is that
    of the sum (or --reduce mean) with respect to the parameters.

    \b
      adiff grad "x*y + sin(x)" --at x=1,y=2
      adiff grad "-log(sigmoid(z))" --at z=1 --format json
      echo "x^2" | adiff grad - --at x=3 --format plain
      adiff grad -f samples/logistic_program.adiff --data samples/logistic.csv --at t0=0,t1=0,t2=0
    """
    settings = data_settings(data, reduce, delimiter, chunk_size, **{"--per-example": per_example})
    from autodiff_cli.documents.grad import grad_document

    problem = Problem(expr, file, at, max_size, expand=expand)
    graph = problem.graph
    names = problem.wrt(wrt)
    show_nodes, limit = nodes_limit(nodes, fmt)
    if settings is not None:
        return _grad_data(problem, settings, names if wrt else None, check, show_nodes, limit,
                          fmt, per_example)
    ev = evaluate(problem, names)
    estimates, skipped = None, _skipped(check, [(len(names), "inputs"), (len(graph), "nodes")],
                                        "adiff check")
    if skipped is None:
        from autodiff_cli.check.numeric import check as fd_check

        estimates = fd_check(ev, names, kink_estimates=True)
        _warn_disagreement(estimates, "adiff check")
    doc = grad_document(graph, ev, names, estimates, skipped, with_nodes=show_nodes)
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def _grad_data(problem, settings: dict, wrt, check, show_nodes: bool, limit, fmt: str,
               per_example: bool) -> int:
    """adiff grad --data: the gradient of the loss summed over the rows."""
    from autodiff_cli.check.numeric import Settings
    from autodiff_cli.data import batch
    from autodiff_cli.documents.grad import grad_document

    graph = problem.graph
    setup = problem.setup(settings, wrt)
    names = setup.wrt
    if check is not False:
        # Standard input cannot be read twice: keep it for the finite differences
        # while they are within budget (all of it when --check forces them).
        per_row_cost = 2 * max(1, len(names)) * len(graph)
        setup.data.keep = math.inf if check else FD_BUDGET // per_row_cost
    totals = pass_over(setup, details=show_nodes and fmt != "plain",
                       per_example=batch.PER_EXAMPLE_ROWS if per_example else 0)
    estimates, skipped = None, _skipped(
        check, [(len(names), "parameters"), (len(graph), "nodes"), (totals.rows, "rows")],
        "adiff check --data")
    if skipped is None:
        estimates = []
        if names:
            totals.noise = batch.run(setup, noise=True).noise
            estimates = batch.check_gradient(setup, totals, names, Settings("central"))
            _warn_disagreement(estimates, "adiff check --data")
    doc = grad_document(graph, totals, names, estimates, skipped, with_nodes=show_nodes,
                        examples=per_example)
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def _skipped(check: bool | None, factors: list[tuple[int, str]], instead: str) -> str | None:
    """Why the finite-difference column is not computed, or None when it is: --no-check,
    or (by default) a cost of 2 × the ``factors`` node evaluations over FD_BUDGET; warned
    about unless the user asked."""
    if check is False:
        return "turned off with --no-check"
    cost = 2 * math.prod(n for n, _ in factors)
    if check or cost <= FD_BUDGET:
        return None
    why = (f"it would cost {cost:,} node evaluations (2 × "
           + " × ".join(f"{n:,} {what}" for n, what in factors)
           + f"), over the budget of {FD_BUDGET:,}; force it with --check, or use {instead}")
    warn(f"finite-difference check skipped: {why}")
    return why


def _warn_disagreement(estimates, instead: str) -> None:
    bad = [e.name for e in estimates if e.ok is False]
    if bad:
        warn(f"finite differences disagree with reverse mode for {', '.join(bad)}; "
             f"see the table, or run {instead}")


__all__ = ["FD_BUDGET", "grad"]
