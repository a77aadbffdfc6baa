"""adiff jacobian: d output / d input for every output of a program, checked by finite differences.

One forward pass, then reverse mode (a backward pass per output) or forward mode (a
tangent pass per input), whichever needs fewer (``calculus.jacobian``); each entry beside
a central finite difference of that output (``check.numeric.check`` on the output's own
graph), budgeted like ``adiff grad``'s column. One document (``documents.jacobian``), one
renderer (``render.jacobian``).
"""

from __future__ import annotations

import click

from autodiff_cli.cli.grad import FD_BUDGET
from autodiff_cli.cli.messages import warn
from autodiff_cli.cli.options import FormulaCommand, formula_options, outputs_option, wrt_option
from autodiff_cli.cli.problem import Problem, warn_kinks
from autodiff_cli.render import emit

MODES = ("reverse", "forward")


@click.command(cls=FormulaCommand)
@formula_options
@wrt_option("The columns: differentiate with respect to these inputs only (default: every "
            "input, in order of first use).")
@outputs_option()
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="reverse: one backward pass per output; forward: one tangent pass per input "
                   "(default: whichever needs fewer passes).")
@click.option("--check/--no-check", "check", default=None,
              help="Force the finite-difference check on or off (default: on while it is "
                   f"cheap, 2 × outputs × inputs × nodes ≤ {FD_BUDGET:,}).")
def jacobian(expr, file, at, fmt, max_size, wrt, outputs, mode, check):
    """The Jacobian of EXPR: d output / d input for every output and input.

    A program's outputs are its last statement, several expressions separated
    by commas (r, theta), or the names --outputs picks. Each row is an output,
    each column an input. The matrix comes from reverse mode (one backward pass
    per output) or forward mode (one tangent pass per input), whichever needs
    fewer passes; --mode forces one. Every entry is checked against central
    finite differences while that is cheap.

    \b
      adiff jacobian "r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta" --at x=1,y=2
      adiff jacobian -f samples/polar.adiff --at r=2,theta=0.5 --format json
      adiff jacobian "u = x*y; v = x + y; w = u*v" --outputs u,w --at x=1,y=2
    """
    from autodiff_cli.calculus.jacobian import jacobian as compute
    from autodiff_cli.documents.jacobian import jacobian_document

    problem = Problem(expr, file, at, max_size, outputs="several", select=outputs)
    graph = problem.graph
    names = problem.wrt(wrt)
    jac = compute(graph, problem.at, names, mode)
    warn_kinks(graph, jac)
    estimates, skipped = None, _skipped(check, len(set(graph.outputs)), len(names), len(graph))
    if skipped is None:
        estimates = _finite_differences(graph, jac)
        bad = [f"∂{o}/∂{e.name}" for o, row in zip(graph.output_names, estimates)
               for e in row if e.ok is False]
        if bad:
            from autodiff_cli.errors import clip, escape_controls

            shown = ", ".join(escape_controls(clip(b)) for b in bad[:10]) + (
                f" and {len(bad) - 10:,} more" if len(bad) > 10 else "")
            warn(f"finite differences disagree with the Jacobian for {shown}; see the table")
    emit("jacobian", jacobian_document(graph, jac, estimates, skipped), fmt)
    return 0


def _skipped(check: bool | None, outputs: int, inputs: int, nodes: int) -> str | None:
    """Why the finite-difference check is not made, or None when it is: --no-check, or (by
    default) a cost over FD_BUDGET node evaluations; warned about unless the user asked."""
    if check is False:
        return "turned off with --no-check"
    cost = 2 * outputs * inputs * nodes
    if check or cost <= FD_BUDGET:
        return None
    why = (f"it would cost up to {cost:,} node evaluations (2 × {outputs:,} outputs × "
           f"{inputs:,} inputs × {nodes:,} nodes), over the budget of {FD_BUDGET:,}; "
           "force it with --check")
    warn(f"finite-difference check skipped: {why}")
    return why


def _finite_differences(graph, jac) -> list[list]:
    """Per output, one central-difference estimate per input of ``jac.wrt``: each output
    on its own graph (the nodes it depends on: a perturbation re-runs only those), judged
    as ``adiff grad`` judges its column; an input the output does not depend on gets the
    exact 0 both sides give."""
    from autodiff_cli.calculus import engine
    from autodiff_cli.check.numeric import ATOL, Estimate, check, step_for

    rows: dict[int, list] = {}
    for k in graph.outputs:
        if k in rows:
            continue
        own = graph.pruned(output=k)
        used = [x for x in jac.wrt if x in own.variables]
        found = {}
        if used:
            ev = engine.evaluate(own, jac.at, used)
            found = {e.name: e for e in check(ev, used, kink_estimates=True)}
        rows[k] = [found.get(x) or Estimate(
            x, 0.0, 0.0, step_for("central", jac.at[x]), "central", 0.0, 0.0, True,
            note=f"the output does not depend on {x}: both are exactly 0", status="ok",
            tolerance=ATOL) for x in jac.wrt]
    return [rows[k] for k in graph.outputs]


__all__ = ["jacobian"]
