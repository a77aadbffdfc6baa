"""adiff hessian: value, gradient and the exact matrix of second derivatives, its eigenvalues,
what the point is, and a finite-difference check of every entry.

Glue only: options -> ``Problem`` -> ``calculus.second`` (forward-over-reverse) ->
``check.numeric.check_hessian`` -> one document (``documents.hessian``) -> ``render.hessian``.
"""

from __future__ import annotations

import click

from autodiff_cli.cli.grad import FD_BUDGET, _skipped
from autodiff_cli.cli.messages import note, warn
from autodiff_cli.cli.options import FormulaCommand, formula_options, wrt_option
from autodiff_cli.cli.problem import Problem, evaluate
from autodiff_cli.render import emit

#: Above this many node evaluations over dual numbers (inputs × nodes; ~5 µs each here)
#: the cost is stated on stderr first.
COST_NOTE = 2_000_000


@click.command(cls=FormulaCommand)
@formula_options
@wrt_option("Differentiate with respect to these inputs only (the rows and columns, in this "
            "order).")
@click.option("--check/--no-check", "check", default=None,
              help="Force the finite-difference check on or off (default: on while it is "
                   f"cheap, 2 × inputs × (nodes + inputs) ≤ {FD_BUDGET:,}).")
def hessian(expr, file, at, fmt, max_size, wrt, check):
    """Value, gradient and Hessian (all second derivatives) of EXPR, exact.

    The Hessian comes from forward-over-reverse: one tangent pass of the
    reverse-mode gradient per input, with no finite differences. Each entry
    is then checked against central differences of the reverse-mode
    gradient. The eigenvalues say whether the point is a minimum, a maximum,
    a saddle or degenerate (when the gradient is zero there).

    \b
      adiff hessian "x^2 - y^2" --at x=0,y=0
      adiff hessian -f samples/saddle.adiff --at x=1.6,y=-1.2 --format json
      adiff hessian "x*y*z" --at x=1,y=2,z=3 --wrt z,x --format plain
    """
    from autodiff_cli.calculus.second import curvature
    from autodiff_cli.calculus.second import hessian as second_derivatives
    from autodiff_cli.documents.hessian import hessian_document

    problem = Problem(expr, file, at, max_size)
    graph = problem.graph
    names = problem.wrt(wrt)
    ev = evaluate(problem, names)
    if ev.kinks:
        warn("at a kink the Hessian takes the second derivative of a piecewise-linear op "
             "(abs, relu, max, min) as 0, its value on both sides")
    cost = len(names) * len(graph)
    if cost > COST_NOTE:
        note(f"hessian: {len(names):,} tangent passes × {len(graph):,} nodes = {cost:,} node "
             "evaluations over dual numbers")
    second = second_derivatives(graph, problem.at, names, ev=ev)
    if not second.symmetric:
        i, j = second.worst_pair
        a, b = names[i], names[j]
        warn(f"the Hessian is not symmetric: d²f/d{a}d{b} = {second.raw[i][j]!r} but "
             f"d²f/d{b}d{a} = {second.raw[j][i]!r} (relative difference "
             f"{second.asymmetry:.2g}); a rule's second derivative may be wrong (please report "
             "it): the matrix is shown as computed")
    shape = curvature(second.matrix, [second.gradient[n] for n in names])
    estimates = None
    # each input's column: a gradient over the graph, then its n entries judged
    skipped = _skipped(check, [(len(names), "inputs"), (len(graph) + len(names),
                                                        "nodes + inputs")],
                       "adiff check --order 2")
    if skipped is None:
        from autodiff_cli.check.numeric import check_hessian

        estimates = check_hessian(ev, names, second.matrix, kink_estimates=True)
        bad = [e.name for e in estimates if e.ok is False]
        if bad:
            shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10:,} more" if len(bad) > 10 else "")
            warn(f"finite differences of the gradient disagree with the Hessian for {shown}; "
                 "see the check table, or run adiff check --order 2")
    doc = hessian_document(graph, second, shape, estimates, skipped)
    emit("hessian", doc, fmt)
    return 0


__all__ = ["hessian"]
