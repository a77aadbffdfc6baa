"""adiff trace: the backward pass, narrated as the lecture does.

At each node, upstream gradient × local gradient = the contribution passed to
each input (the engine's steps, ``calculus.steps``), and a value used several
times receives the sum of its contributions. With --data the same pass runs in
every row and the trace shows the summation step. One document
(``documents.trace``) and one renderer (``render.trace``) for both.
"""

from __future__ import annotations

import click

from autodiff_cli.cli.options import (
    TRACE_ROWS,
    FormulaCommand,
    data_options,
    data_settings,
    expand_option,
    formula_options,
    rows_limit,
)
from autodiff_cli.cli.problem import Problem, evaluate, pass_over
from autodiff_cli.render import emit


@click.command(cls=FormulaCommand)
@formula_options
@expand_option()
@click.option("--rows", "rows", metavar="N|all",
              help=f"Rows per section of the table (default {TRACE_ROWS}: the first and the "
                   "last ones; plain and JSON default all).")
@data_options
def trace(expr, file, at, fmt, max_size, expand, rows, data, reduce, delimiter, chunk_size):
    """The backward pass of EXPR step by step, as the lecture narrates it.

    First the forward pass (each node's value), then, in reverse topological
    order, each node's upstream gradient ∂f/∂node times its local gradient
    ∂node/∂input: the contribution passed to that input. A value used by
    several nodes receives several contributions, and its gradient is their sum.

    \b
      adiff trace "x*y + sin(x)" --at x=1,y=2
      adiff trace -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2
      adiff trace "-log(sigmoid(z))" --at z=1 --expand --format json
      adiff trace -f samples/logistic_program.adiff --data samples/logistic.csv --at t0=0,t1=0,t2=0

    With --data FILE, every row runs the same backward pass, and the trace
    shows the summation step: where per-row gradients flow into a parameter,
    the rows' contributions are added up (dL/dθ = dL1/dθ + dL2/dθ + ...).
    """
    settings = data_settings(data, reduce, delimiter, chunk_size)
    limit = rows_limit(rows, fmt)
    problem = Problem(expr, file, at, max_size, expand=expand)
    from autodiff_cli.documents.trace import trace_document

    if settings is None:
        result = evaluate(problem)
    else:
        from autodiff_cli.data import batch

        result = pass_over(problem.setup(settings), details=True, edges=True,
                           per_example=batch.TRACE_EXAMPLE_ROWS, examples_or_error=False)
    emit("trace", trace_document(problem.graph, result, expand), fmt, limit=limit)
    return 0
