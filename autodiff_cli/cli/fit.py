"""adiff fit: fit a formula's parameters to a data file by minimising the loss summed over its rows.

The formula over the rows (``--data``: ``batch.Setup``), the optimiser
(``data.fit``), one document (``documents.fit``), one renderer
(``render.fit``); ``--history`` and ``--plot`` write files beside the output.
Nothing here imports NumPy until the command runs (``adiff --help`` lists it).
"""

from __future__ import annotations

import math

import click

from autodiff_cli.cli.messages import warn
from autodiff_cli.cli.options import FormulaCommand, data_options, data_settings, formula_options
from autodiff_cli.cli.problem import Problem, warn_kinks
from autodiff_cli.errors import InputError, clip, escape_controls
from autodiff_cli.render import emit

#: The same as ``data.fit``'s (a test keeps them equal): here so that --help needs no NumPy.
METHODS = ("lbfgs", "gd", "momentum", "adam", "newton")
DEFAULT_METHOD = "lbfgs"
DEFAULT_TOL = 1e-7
DEFAULT_STEPS = 1000
DEFAULT_BETA = 0.9
LEARNING_METHODS = ("gd", "momentum", "adam")
PLOT_SUFFIXES = (".svg", ".png")
#: The same as ``render.plot.INSTALL`` (a test keeps them equal).
PLOT_INSTALL = "pip install '.[plot]' in adiff's folder (the plot extra), or pip install matplotlib"


def _finite(low: float, low_open: bool, high: float | None = None):
    """A click callback: a finite number in [low, high) (open at ``low`` when asked)."""
    def check(ctx, param, value):
        if value is None:
            return None
        if not math.isfinite(value):
            raise click.BadParameter(f"{value!r} is not a finite number", ctx, param)
        if value < low or (low_open and value == low) or (high is not None and value >= high):
            if high is not None:
                where = f"in [{low:g}, {high:g})"
            else:
                where = f"> {low:g}" if low_open else f">= {low:g}"
            raise click.BadParameter(f"{value:g} is not {where}", ctx, param)
        return value
    return check


@click.command(cls=FormulaCommand)
@formula_options
@click.option("--params", "params", metavar="NAME,...",
              help="The parameters to fit (default: every variable that is not a column). "
                   "Others that are not columns are held at their --at values.")
@data_options
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD, show_default=True,
              help="lbfgs: SciPy's L-BFGS-B; gd: gradient descent (the lecture's); momentum; "
                   "adam; newton: damped Newton with exact Hessians.")
@click.option("--lr", type=float, callback=_finite(0.0, True), metavar="RATE",
              help="gd, momentum, adam: the learning rate (default 0.1 per row for gd and "
                   "momentum -- 0.1/rows with --reduce sum -- and 0.01 for adam).")
@click.option("--steps", type=click.IntRange(0), default=DEFAULT_STEPS, show_default=True,
              metavar="N",
              help="The step limit: exit 1 when it is reached before the rule holds.")
@click.option("--tol", type=float, callback=_finite(0.0, True), default=DEFAULT_TOL,
              show_default=True, metavar="TOL",
              help="The stopping rule's tolerance: |∂L/∂θ|·max(1,|θ|) and the last step's |ΔL| "
                   "both within tol·max(1,|L|).")
@click.option("--beta", type=float, callback=_finite(0.0, False, 1.0), metavar="B",
              help=f"momentum's coefficient, and adam's β1 (default {DEFAULT_BETA}).")
@click.option("--batch-size", "batch_size", type=click.IntRange(1), metavar="ROWS",
              help="gd, momentum, adam: minibatches of this many rows (default: every row).")
@click.option("--seed", type=click.IntRange(0), metavar="N",
              help="With --batch-size: the seed of the shuffle (default 0): the same seed, "
                   "the same fit.")
@click.option("--l2", type=float, callback=_finite(0.0, False), metavar="LAMBDA",
              help="Add LAMBDA·Σθ² over the fitted parameters to the loss.")
@click.option("--history", metavar="FILE.csv",
              help="Write step, loss, gradient norm and every parameter at each step (CSV).")
@click.option("--plot", metavar="FILE.svg|FILE.png",
              help="Draw the loss and the gradient norm against the step (needs matplotlib: "
                   "pip install '.[plot]').")
def fit(expr, file, at, fmt, max_size, params, data, reduce, delimiter, chunk_size, method, lr,
        steps, tol, beta, batch_size, seed, l2, history, plot):
    """Fit the parameters of a loss summed over the rows of a data file.

    EXPR is the loss of one row: its variables named like columns of FILE take
    their values row by row, the others are the parameters (--params), starting
    at --at (default 0). The loss L (the sum over the rows, or --reduce mean)
    is minimised step by step, every step's loss and gradient computed as
    `adiff grad --data` computes them. Exit 0 when the stopping rule holds at a
    minimum, 1 when the step limit comes first or the loss has no minimum there
    (the result is printed either way).

    \b
      adiff fit -f samples/logistic_program.adiff --data samples/logistic.csv --l2 0.1
      adiff fit -f samples/logistic_program.adiff --data samples/logistic.csv --l2 0.1 --method gd --lr 0.05
      adiff fit "(y - a - b*x1)^2" --data samples/logistic.csv --format json
    """
    settings = data_settings(data, reduce, delimiter, chunk_size)
    if settings is None:
        raise InputError("adiff fit needs --data FILE: the rows the loss is summed over",
                         hint="e.g. adiff fit -f samples/logistic_program.adiff --data "
                              "samples/logistic.csv --l2 0.1")
    _check_options(method, lr, beta, batch_size, seed)
    if plot is not None:
        _check_plot(plot)
    from autodiff_cli.data import fit as fitting
    from autodiff_cli.documents.fit import fit_document

    if method == "newton" and not fitting.newton_available():
        raise InputError("--method newton is not available yet: it needs the exact Hessian of "
                         "the summed loss (adiff hessian's, not in this version)",
                         hint="use --method lbfgs (the default), which reaches the same minimum")
    problem = Problem(expr, file, at, max_size)
    setup, names = _setup(problem, settings, params)
    options = fitting.Options(method, lr=lr, steps=steps, tol=tol,
                              beta=DEFAULT_BETA if beta is None else beta, batch_size=batch_size,
                              seed=0 if seed is None else seed, l2=l2 or 0.0)
    cache = fitting.RowCache(setup.data, warn)
    if setup.engine is None:  # with --engine dask the passes read the partitions themselves
        setup.data = cache
    objective = fitting.Objective(setup, names, options.l2)
    initial = [setup.at[name] for name in names]
    try:
        result = _run(objective, initial, options, cache, history, names)
    finally:
        cache.close()
    if result.totals is not None:  # the pass at the fitted point: the nodes on a kink there
        warn_kinks(problem.graph, result.totals)
    doc = fit_document(problem.graph, setup, result, options)
    if fmt != "table":  # the table says it in its own words
        _warn_outcome(doc)
    if plot is not None:
        from autodiff_cli.render.plot import write_plot

        write_plot(doc, plot)
    emit("fit", doc, fmt)
    if result.interrupted:
        raise KeyboardInterrupt  # the CLI's one handler: "Interrupted.", exit 130
    return 0 if result.converged else 1


def _check_options(method, lr, beta, batch_size, seed) -> None:
    if lr is not None and method not in LEARNING_METHODS:
        raise InputError(f"--lr is for gd, momentum and adam; --method {method} needs no "
                         "learning rate")
    if beta is not None and method not in ("momentum", "adam"):
        raise InputError(f"--beta is for momentum and adam, not --method {method}")
    if batch_size is not None and method not in LEARNING_METHODS:
        raise InputError(f"--batch-size is for gd, momentum and adam: --method {method} needs "
                         "the gradient over every row",
                         hint="add --method gd (or momentum, adam), or drop --batch-size")
    if seed is not None and batch_size is None:
        raise InputError("--seed needs --batch-size: it seeds the shuffle of the minibatches")


def _check_plot(path: str) -> None:
    """--plot FILE: a known suffix, and matplotlib there, before a long fit runs."""
    import importlib.util
    import os

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PLOT_SUFFIXES:
        raise InputError(f"--plot {escape_controls(clip(path, 120))}: expected a .svg or .png "
                         "file name")
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise InputError("--plot needs matplotlib, which is not installed",
                         hint=f"install it with: {PLOT_INSTALL}")


def _names(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise InputError("--params needs parameter names, e.g. --params t0,t1,t2")
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(f"--params names {escape_controls(clip(name, 80))} twice")
        seen.add(name)
    return names


def _setup(problem: Problem, settings: dict, spec: str | None):
    """The formula over the rows (``batch.Setup``, through ``Problem.setup``), with the
    fitted parameters: --params or every variable that is not a column, each starting at
    its --at value or 0."""
    chosen: list[str] = []

    def start(data):
        graph = problem.graph
        variables, position, shown = graph.variables, data.position, data.shown
        free = [n for n in variables if n not in position]
        if spec is None:
            names = free
            if not names:
                raise InputError(f"nothing to fit: every variable of the formula is a column of "
                                 f"{shown}", hint="the parameters are the variables that are not "
                                                  "columns, e.g. t0 in \"(y - t0)^2\"")
        else:
            names = _names(spec)
            for name in names:
                _check_param(name, graph, data, free)
        for name in free:
            if name not in names and name not in problem.at:
                i = variables[name]
                raise InputError(f"the formula needs {name!r}, which is neither a column of "
                                 f"{shown}, nor in --params, nor bound by --at",
                                 source=graph.source, span=(graph.starts[i], graph.ends[i]),
                                 hint=f"add it to --params to fit it, or hold it fixed with "
                                      f"--at {name}=...")
        chosen.extend(names)
        return {**{name: 0.0 for name in names}, **problem.at}, names

    setup = problem.setup(settings, start=start)
    return setup, chosen


def _check_param(name: str, graph, data, free: list[str]) -> None:
    shown = escape_controls(clip(name, 80))
    if name in data.position:
        raise InputError(f"--params {shown}: {shown} is a column of {data.shown}; the parameters "
                         "are the variables that are not columns",
                         hint=f"the formula's parameters are: {', '.join(free[:20]) or 'none'}")
    if name not in graph.variables:
        from autodiff_cli.language.parser import did_you_mean

        raise InputError(f"--params {shown}: the formula has no variable '{shown}'",
                         hint=did_you_mean(name, free) or
                         f"the formula's parameters are: {', '.join(free[:20]) or 'none'}")


def _run(objective, initial, options, cache, history_path, names):
    """The fit, with a progress bar on a terminal's stderr and --history written as it goes
    (atomically: the file appears complete, also after a Ctrl-C, or not at all)."""
    import contextlib

    from autodiff_cli.data.fit import fit as run_fit
    from autodiff_cli.render.fit_progress import FitProgress

    progress = FitProgress(options.steps, options.method)
    shown = None if history_path is None else escape_controls(clip(history_path, 120))

    def cannot(exc: OSError) -> InputError:
        return InputError(f"cannot write {shown} (--history): {exc.strerror or exc}")

    with contextlib.ExitStack() as stack:
        stack.callback(progress.close)
        if history_path is None:
            return run_fit(objective, initial, options, cache=cache, warn=warn,
                           on_step=lambda step, loss, grad, theta: progress(step, loss))
        from autodiff_cli.documents.fit import history_header, history_line
        from autodiff_cli.files import atomic_write

        fitting = False
        try:
            with atomic_write(history_path, "w") as out:
                out.write(history_header(names))

                def on_step(step, loss, grad, theta):
                    try:
                        out.write(history_line(step, loss, grad, theta))
                    except OSError as exc:
                        raise cannot(exc) from None
                    progress(step, loss)

                fitting = True
                result = run_fit(objective, initial, options, cache=cache, warn=warn,
                                 on_step=on_step)
                fitting = False
        except OSError as exc:  # creating, flushing or renaming the file (not the fit's own)
            if fitting:
                raise
            raise cannot(exc) from None
        return result


def _warn_outcome(doc: dict) -> None:
    """Say on stderr why a fit that did not converge stopped."""
    stopping = doc["stopping"]
    if doc["converged"] or doc.get("interrupted"):
        return
    warn(f"not converged: {stopping['message']}")


__all__ = ["fit"]
