"""adiff trace: the backward pass, narrated as the lecture does.

At each node, upstream gradient × local gradient = the contribution passed to
each input (the engine's steps, ``calculus.steps``), and a value used several
times receives the sum of its contributions. With --data the same pass runs in
every row and the trace shows the summation step. One document
(``documents.trace``) and one renderer (``render.trace``) for both.

``--mode forward`` narrates forward mode instead: one tangent pass per input
(or one along ``--direction``), tangent(node) = Σ local × tangent(input), from
the inputs up to the output, and what each mode costs.
"""

from __future__ import annotations

import click

from autodiff_cli.cli.grad import MODES, direction_option, parse_direction
from autodiff_cli.cli.options import (
    TRACE_ROWS,
    FormulaCommand,
    data_options,
    data_settings,
    expand_option,
    formula_options,
    rows_limit,
    wrt_option,
)
from autodiff_cli.cli.problem import Problem, evaluate, pass_over, warn_kinks
from autodiff_cli.errors import InputError
from autodiff_cli.render import emit


@click.command(cls=FormulaCommand)
@formula_options
@expand_option()
@click.option("--rows", "rows", metavar="N|all",
              help=f"Rows per section of the table (default {TRACE_ROWS}: the first and the "
                   "last ones; plain and JSON default all).")
@data_options
@click.option("--mode", "mode", type=click.Choice(MODES), default=None,
              help="reverse (the default): the backward pass; forward: one tangent pass per "
                   "input, from the inputs up (--direction implies it).")
@wrt_option("Forward mode: the inputs whose tangent passes are shown (default all).")
@direction_option("Forward mode: one tangent pass along this direction instead, e.g. "
                  "--direction x=1,y=-1 (inputs not named have 0).")
def trace(expr, file, at, fmt, max_size, expand, rows, data, reduce, delimiter, chunk_size,
          mode, wrt, direction):
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

    With --mode forward, forward mode instead: for each input, a tangent pass
    seeds that input with 1 and walks up from the inputs, tangent(node) = sum
    of local x tangent(input), until the output's tangent is df/dx. N inputs
    cost N such passes, reverse mode one backward pass, finite differences 2N
    evaluations. --direction x=1,y=-1 makes one pass along that direction.

    
      adiff trace -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2 --mode forward
      adiff trace "x*y + sin(x)" --at x=1,y=2 --direction x=1,y=-1
    """
    settings = data_settings(data, reduce, delimiter, chunk_size)
    limit = rows_limit(rows, fmt)
    if direction and mode == "reverse":
        raise InputError("--direction needs forward mode: a tangent pass along the direction",
                         hint="drop --mode reverse (--direction implies --mode forward)")
    forward = mode == "forward" or bool(direction)
    if not forward and wrt is not None:
        raise InputError("--wrt needs --mode forward: it picks the tangent passes to show, and "
                         "the backward pass gives every input's gradient at once",
                         hint="add --mode forward, or drop --wrt")
    if forward and settings is not None:
        raise InputError("--mode forward works at a point (--at), not over --data",
                         hint="drop --data, or trace the backward pass over the rows "
                              "(without --mode forward)")
    problem = Problem(expr, file, at, max_size, expand=expand)
    if forward:
        return _trace_forward(problem, wrt, direction, fmt, limit)
    from autodiff_cli.documents.trace import trace_document

    if settings is None:
        result = evaluate(problem)
    else:
        from autodiff_cli.data import batch

        result = pass_over(problem.setup(settings), details=True, edges=True,
                           per_example=batch.TRACE_EXAMPLE_ROWS, examples_or_error=False)
    emit("trace", trace_document(problem.graph, result, expand), fmt, limit=limit)
    return 0


def _trace_forward(problem, wrt, direction, fmt: str, limit) -> int:
    """adiff trace --mode forward: the tangent passes, one per input (or along --direction)."""
    from autodiff_cli.calculus import forward
    from autodiff_cli.documents.trace import forward_trace_document

    graph = problem.graph
    seed = parse_direction(direction, graph.variables)
    if seed is not None and wrt is not None:
        raise InputError("--wrt and --direction: give one of them",
                         hint="--wrt picks one tangent pass per input; --direction makes one "
                              "pass along it")
    names = problem.wrt(wrt)
    seeds = [seed] if seed is not None else forward.one_hot(names)
    fev = forward.forward_passes(graph, problem.at, seeds)
    warn_kinks(graph, fev)
    doc = forward_trace_document(graph, fev, names, seed is not None, problem.expanded)
    emit("trace", doc, fmt, limit=limit)
    return 0
