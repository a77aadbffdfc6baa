"""adiff grad: value and gradient by reverse mode, every node, and a finite-difference column.

At a point (--at) or summed over the rows of a data file (--data): one
document (``documents.grad``), one renderer (``render.grad``). ``--mode forward``
computes the same gradient with one tangent pass per input (``calculus.forward``),
``--direction`` adds the derivative along a direction from one tangent pass.
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
from autodiff_cli.cli.problem import Problem, evaluate, pass_over, warn_kinks
from autodiff_cli.errors import InputError, clip, escape_controls
from autodiff_cli.render import emit

#: The finite-difference column of ``grad`` costs 2 evaluations of the graph
#: per input (and per row, with --data); it runs by default while that many node
#: evaluations stay within this budget (~0.35 µs each measured here, so about a
#: third of a second).
FD_BUDGET = 1_000_000

MODES = ("reverse", "forward")

MODE_HELP = ("reverse: one backward pass gives every input's gradient; forward: the same "
             "gradient from one tangent pass per input (JSON adds \"mode\": \"forward\").")
DIRECTION_HELP = ("Also the derivative along the direction v, sum of df/dx_i * v_i, e.g. "
                  "--direction x=1,y=0 (repeatable), from one forward (tangent) pass in either "
                  "mode; v is not normalised and inputs not named have v_i = 0. With --data: the "
                  "gradient of the loss times v.")


def mode_option(help: str = MODE_HELP):
    """--mode reverse|forward (default reverse)."""
    return click.option("--mode", "mode", type=click.Choice(MODES), default="reverse",
                        show_default=True, help=help)


def direction_option(help: str = DIRECTION_HELP):
    """--direction NAME=VALUE,...: a direction in the inputs' space (``parse_direction``)."""
    return click.option("--direction", "direction", multiple=True, metavar="NAME=VALUE,...",
                        help=help)


def parse_direction(specs, variables) -> dict[str, float] | None:
    """The --direction option(s) as input name -> component, in the order written, or None
    when not given. Each name must be an input of the formula (``variables``), once; each
    value a finite number (as for --at: 1.5, -2e-3, pi)."""
    if not specs:
        return None
    import unicodedata

    from autodiff_cli.language.bindings import parse_value

    direction: dict[str, float] = {}
    for spec in specs:
        for item in spec.split(","):
            if not item.strip():
                continue  # "x=1," and "x=1,,y=2", as for --at
            name, eq, text = item.partition("=")
            name = name.strip()
            if not name.isascii():
                name = unicodedata.normalize("NFC", name)
            shown = escape_controls(clip(item.strip(), 80))
            if not eq:
                raise InputError(f"--direction {shown}: expected name=value, e.g. "
                                 f"{escape_controls(clip(name)) or 'x'}=1")
            if name not in variables:
                from autodiff_cli.language.parser import did_you_mean

                inputs = ", ".join(escape_controls(clip(n)) for n in list(variables)[:20])
                raise InputError(f"--direction {shown}: the formula has no input "
                                 f"'{escape_controls(clip(name, 80))}'",
                                 hint=did_you_mean(name, variables) or
                                 f"its inputs are: {inputs or 'none'}")
            if name in direction:
                raise InputError(f"--direction: {escape_controls(clip(name))} is given twice")
            if not text.strip():
                raise InputError(f"--direction {shown}: no value for {escape_controls(clip(name))}")
            try:
                direction[name] = parse_value(name, text)
            except InputError as exc:  # parse_value speaks of --at
                raise InputError(exc.message.replace("--at ", "--direction ", 1),
                                 hint=exc.hint) from None
    if not direction:
        raise InputError("--direction needs name=value pairs, e.g. --direction x=1,y=0")
    if not any(direction.values()):
        warn("the direction is zero: the derivative along it is 0")
    return direction


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
@mode_option()
@direction_option()
def grad(expr, file, at, fmt, max_size, wrt, check, nodes, expand, data, reduce, delimiter,
         chunk_size, per_example, mode, direction):
    """Value and gradient of EXPR by reverse mode, node by node.

    Prints the value, a table of every node (op, inputs, value, local
    gradients, gradient of the output) and each input's gradient beside a
    central finite-difference estimate.

    With --mode forward the gradient comes from forward mode instead: one
    tangent pass per input, tangent(node) = sum of local x tangent(input),
    and the node table shows each node's tangent in every pass. --direction
    x=1,y=0 adds the derivative along that direction, from one tangent pass.

    With --data FILE, the formula is summed over the rows of FILE (training
    over N examples): its variables named like columns take their values row
    by row, the others are parameters bound by --at, and the gradient is that
    of the sum (or --reduce mean) with respect to the parameters.

    \b
      adiff grad "x*y + sin(x)" --at x=1,y=2
      adiff grad "-log(sigmoid(z))" --at z=1 --format json
      echo "x^2" | adiff grad - --at x=3 --format plain
      adiff grad -f samples/logistic_program.adiff --data samples/logistic.csv --at t0=0,t1=0,t2=0
      adiff grad "x*y + sin(x)" --at x=1,y=2 --mode forward --direction x=1,y=-1
    """
    settings = data_settings(data, reduce, delimiter, chunk_size, **{"--per-example": per_example})
    from autodiff_cli.documents.grad import grad_document

    if settings is not None and mode == "forward":
        raise InputError("--mode forward works at a point (--at), not over --data",
                         hint="with --data the gradient of the loss is by reverse mode: drop "
                              "--mode forward (--direction works there too)")
    problem = Problem(expr, file, at, max_size, expand=expand)
    graph = problem.graph
    names = problem.wrt(wrt)
    seed = parse_direction(direction, graph.variables)
    show_nodes, limit = nodes_limit(nodes, fmt)
    if settings is not None:
        return _grad_data(problem, settings, names if wrt else None, check, show_nodes, limit,
                          fmt, per_example, seed)
    if mode == "forward":
        return _grad_forward(problem, names, seed, check, show_nodes, limit, fmt)
    ev = evaluate(problem, names)
    estimates, skipped = None, _skipped(check, [(len(names), "inputs"), (len(graph), "nodes")],
                                        "adiff check")
    if skipped is None:
        from autodiff_cli.check.numeric import check as fd_check

        estimates = fd_check(ev, names, kink_estimates=True)
        _warn_disagreement(estimates, "adiff check")
    doc = grad_document(graph, ev, names, estimates, skipped, with_nodes=show_nodes)
    if seed is not None:
        from autodiff_cli.calculus.forward import tangent_pass
        from autodiff_cli.documents.grad import directional_entry

        value = tangent_pass(graph, ev.values, seed, ev.local)[graph.output]
        doc["directional"] = directional_entry(seed, value, "forward")
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def _shown_nodes(n: int, limit) -> range | list[int]:
    """The ids of the node rows a table shows (``render.table.limit_rows``: the first and
    the last ones), so that only their tangents are kept."""
    if limit is None or n <= limit:
        return range(n)
    head = max(1, limit - limit // 2)
    return [*range(head), *range(n - limit // 2, n)]


def _grad_forward(problem, names: list[str], seed, check, show_nodes: bool, limit,
                  fmt: str) -> int:
    """adiff grad --mode forward: one tangent pass per input of ``names`` (and one along
    --direction); the node table shows each node's tangent in every pass."""
    from autodiff_cli.calculus import forward
    from autodiff_cli.documents.grad import forward_grad_document

    graph = problem.graph
    seeds = forward.one_hot(names) + ([seed] if seed is not None else [])
    keep = None
    if show_nodes and fmt != "plain":
        keep = _shown_nodes(len(graph), limit if fmt == "table" else None)
    fev = forward.forward_passes(graph, problem.at, seeds, keep=keep)
    warn_kinks(graph, fev)
    estimates, skipped = None, _skipped(check, [(len(names), "inputs"), (len(graph), "nodes")],
                                        "adiff check")
    if skipped is None:
        from autodiff_cli.check.numeric import check as fd_check

        estimates = fd_check(fev.for_check(names), names, kink_estimates=True)
        _warn_disagreement(estimates, "adiff check", "forward mode")
    doc = forward_grad_document(graph, fev, names, estimates, skipped, with_nodes=show_nodes,
                                direction=seed is not None)
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def _grad_data(problem, settings: dict, wrt, check, show_nodes: bool, limit, fmt: str,
               per_example: bool, seed=None) -> int:
    """adiff grad --data: the gradient of the loss summed over the rows."""
    from autodiff_cli.check.numeric import Settings
    from autodiff_cli.data import batch
    from autodiff_cli.documents.grad import grad_document

    graph = problem.graph
    setup = problem.setup(settings, wrt)
    names = setup.wrt
    _data_direction(setup, seed, names)
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
    if seed is not None:
        from autodiff_cli.documents.grad import directional_entry

        gradient = totals.gradient
        doc["directional"] = directional_entry(
            seed, math.fsum(gradient[name] * v for name, v in seed.items()), "gradient")
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def _data_direction(setup, seed: dict[str, float] | None, names: list[str]) -> None:
    """--direction over data moves parameters only, each one the gradient is taken for."""
    if seed is None:
        return
    shown = setup.data.shown
    for name in seed:
        if name in setup.columns:
            raise InputError(f"--direction {escape_controls(clip(name))}: {escape_controls(clip(name))} "
                             f"is a column of {shown}; a direction moves the parameters",
                             hint=f"the parameters: {', '.join(setup.params[:20]) or 'none'}")
        if name not in names:
            raise InputError(f"--direction {escape_controls(clip(name))}: --wrt leaves "
                             f"{escape_controls(clip(name))} out, so the gradient along it is "
                             "not computed", hint=f"add it to --wrt, e.g. --wrt {','.join([*names, name])}")


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


def _warn_disagreement(estimates, instead: str, mode: str = "reverse mode") -> None:
    bad = [e.name for e in estimates if e.ok is False]
    if bad:
        warn(f"finite differences disagree with {mode} for {', '.join(bad)}; "
             f"see the table, or run {instead}")


__all__ = ["FD_BUDGET", "MODES", "direction_option", "grad", "mode_option", "parse_direction"]
