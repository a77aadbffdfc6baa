"""The one ``Problem`` every command starts from: the formula read, parsed and bound.

``Problem`` reads the formula (EXPR, '-' or -f PATH, bounded by --max-size),
parses it, binds --at, prints the parser's warnings and the unused bindings,
applies --expand, resolves --wrt, and in data mode opens the --data file and
sets the formula over it (``batch.Setup``). The commands read their graph, point
and names from it; they never parse or bind themselves.
"""

from __future__ import annotations

import click

from autodiff_cli.cli.messages import warn
from autodiff_cli.errors import InputError, clip, escape_controls
from autodiff_cli.files import decode_utf8


def _read_source(path: str, max_size: int) -> str:
    """The formula in file ``path`` ('-': stdin), reading at most what ``max_size`` allows.

    --max-size counts characters; UTF-8 takes at most 4 bytes a character (and
    a byte order mark 3 more), so 4 × max_size + 4 bytes hold any formula within
    the limit, and /dev/zero stops there instead of filling memory.
    """
    from autodiff_cli.files import read_limited

    shown = "standard input" if path == "-" else escape_controls(path)
    try:
        data = read_limited(path, 4 * max_size + 4, "formula", "--max-size")
    except InputError as exc:
        if exc.message.startswith("formula "):  # read_limited's "... is larger than ..."
            raise InputError(f"the formula in {shown} is longer than {max_size:,} characters, "
                             "the limit", hint="raise the limit with --max-size") from None
        # read_limited names the path clipped and as it is; name it in full, escaped.
        clipped = clip(path, 120)
        if path != "-" and shown != clipped and clipped in exc.message:
            raise InputError(exc.message.replace(clipped, shown, 1), hint=exc.hint) from None
        raise
    return decode_utf8(data, shown)


def read_formula(expr: str | None, file: str | None, max_size: int | None = None) -> str:
    """The formula from EXPR, '-' (stdin) or -f PATH; files and stdin are read only up
    to what ``max_size`` (characters, default the parser's) allows."""
    if max_size is None:
        from autodiff_cli.language.parser import DEFAULT_MAX_SIZE

        max_size = DEFAULT_MAX_SIZE
    if file is not None and expr is not None:
        raise InputError("give the formula either as EXPR or with -f/--file, not both")
    if file is not None:
        return _read_source(file, max_size)
    if expr == "-":
        return _read_source("-", max_size)
    if expr is None:
        ctx = click.get_current_context(silent=True)
        command = ctx.info_name if ctx is not None else "grad"
        raise InputError("no formula given: pass EXPR, '-' for stdin, or -f PATH",
                         hint=f"e.g. adiff {command} \"x*y + sin(x)\" --at x=1,y=2")
    return expr


class Problem:
    """A parsed formula and its bound point, with warnings already printed.

    ``graph`` is the formula's graph (rewritten into primitive ops with
    ``expand``), ``at`` the --at bindings, ``source`` the formula's text. The
    bindings the formula does not use are warned about at once, unless
    ``warn_unused`` is off (``adiff check`` first learns what its --expect
    formulas use, then calls ``warn_unused``).

    ``outputs`` says what the command can take: ``"one"`` (the default: grad, check,
    trace, hessian, fit) refuses a program with several outputs (exit 2, naming
    ``adiff jacobian``) before anything reads ``graph.output``; ``"several"`` (graph,
    jacobian, diff) takes any number (``graph.outputs``, ``graph.output_names``).
    ``select``: the --outputs value (``"r,theta"``), assigned names to take as the
    outputs instead of the last statement.
    """

    def __init__(self, expr, file, at, max_size, *, expand: bool = False,
                 warn_unused: bool = True, outputs: str = "one", select: str | None = None):
        from autodiff_cli.language.bindings import parse_bindings
        from autodiff_cli.language.parser import parse

        if outputs not in ("one", "several"):
            raise ValueError(f"outputs={outputs!r}: 'one' or 'several'")
        self.expr, self.file = expr, file
        self.source = read_formula(expr, file, max_size)
        warnings: list[str] = []
        picked = None if select is None else [n.strip() for n in select.split(",") if n.strip()]
        self.graph = parse(self.source, max_size=max_size, warnings=warnings, outputs=picked)
        self.at = parse_bindings(at)
        for message in warnings:
            warn(message)
        if outputs == "one" and self.graph.several:  # before anything reads graph.output
            from autodiff_cli.language.parser import several_outputs_error

            ctx = click.get_current_context(silent=True)
            raise several_outputs_error(self.graph, f"adiff {ctx.info_name}" if ctx is not None
                                        and ctx.info_name else "this command")
        self.variables = dict(self.graph.variables)  # the inputs as written (before --expand)
        if warn_unused:
            self.warn_unused()
        self.expanded = expand
        if expand:
            from autodiff_cli.calculus.expand import expand as expand_graph

            graph = expand_graph(self.graph)
            if len(graph.outputs) != len(self.graph.outputs):  # an expand that drops them
                raise InputError("--expand cannot keep several outputs yet",
                                 hint="drop --expand, or give one output")
            self.graph = graph

    def warn_unused(self, used=()) -> None:
        """Warn about --at names that neither the formula nor ``used`` refers to."""
        unused = [name for name in self.at if name not in self.variables and name not in used]
        if unused:
            names = ", ".join(escape_controls(clip(n)) for n in unused[:10]) + (
                f" and {len(unused) - 10:,} more" if len(unused) > 10 else "")
            warn(f"--at binds {names}, which the formula does not use")

    def wrt(self, spec: str | None) -> list[str]:
        """The inputs to differentiate by: --wrt a,b (each an input, once) or all of them."""
        variables = self.graph.variables
        if spec is None:
            return list(variables)
        names = [n.strip() for n in spec.split(",") if n.strip()]
        if not names:
            raise InputError("--wrt needs input names, e.g. --wrt x,y")
        for name in names:
            if name not in variables:
                from autodiff_cli.language.parser import did_you_mean

                shown = escape_controls(clip(name, 80))
                raise InputError(f"--wrt {shown}: the formula has no input '{shown}'",
                                 hint=did_you_mean(name, variables) or
                                 f"its inputs are: {', '.join(list(variables)[:20]) or 'none'}")
        return list(dict.fromkeys(names))

    # ------------------------------------------------------------ --data

    def setup(self, settings: dict, wrt: list[str] | None = None, *, start=None):
        """The formula over the rows of the --data file (``batch.Setup``): which
        variables are columns, which are parameters; ``wrt``: the parameters to
        differentiate by (default all). Warns when the formula uses no column.
        ``start(data)``, when given, is asked once the file is open (its columns known)
        for the point and the parameters: ``(at, wrt)`` (``adiff fit``'s --params).

        With ``settings["engine"] == "dask"`` the passes run on a Dask cluster
        (``distributed.DaskEngine``: ``settings["scheduler"]``, else a local
        cluster started at the first pass), which stops when the command ends.
        """
        try:
            import numpy  # noqa: F401
        except ImportError:
            raise InputError("--data needs NumPy, which is not installed",
                             hint="pip install numpy") from None
        from autodiff_cli.data.batch import Setup
        from autodiff_cli.data.reader import DataFile, parse_delimiter

        if settings["path"] == "-" and (self.expr == "-" or self.file == "-"):
            raise InputError("--data - reads the data from standard input, so the formula "
                             "cannot come from there too",
                             hint="give the formula as EXPR or with -f PATH")
        if settings.get("engine") == "dask":
            from autodiff_cli.data import distributed

            distributed.require()
            distributed.check_path(settings["path"])
        data = DataFile(settings["path"], parse_delimiter(settings["delimiter"]),
                        settings["chunk_rows"])
        at = self.at
        if start is not None:
            at, wrt = start(data)
        setup = Setup(self.graph, at, data, settings["reduce"], wrt)
        if not setup.columns:
            columns = ", ".join(escape_controls(clip(c)) for c in data.columns[:10]) \
                + (", ..." if len(data.columns) > 10 else "")
            warn(f"the formula uses no column of {data.shown} ({columns}): every row gives the "
                 "same value")
        if settings.get("engine") == "dask":
            ctx = click.get_current_context(silent=True)
            distributed.attach(setup, settings.get("scheduler"),
                               None if ctx is None else ctx.call_on_close)
        return setup


def evaluate(problem: Problem, wrt: list[str] | None = None):
    """The forward and backward pass at the --at point, its kinks warned about."""
    from autodiff_cli.calculus import engine

    ev = engine.evaluate(problem.graph, problem.at, wrt)
    warn_kinks(problem.graph, ev)
    return ev


def pass_over(setup, **options):
    """A pass over the rows of ``setup`` (``batch.run``), with a progress bar on a terminal's
    stderr; its kinks are warned about."""
    from autodiff_cli.data.batch import run
    from autodiff_cli.render.progress import RowProgress

    progress = RowProgress(setup.data)
    try:
        totals = run(setup, progress=progress, **options)
    finally:
        progress.close()
    warn_kinks(setup.graph, totals)
    return totals


def warn_kinks(graph, result) -> None:
    """A warning for each node sitting on its kink (in data mode: in how many rows)."""
    from autodiff_cli.calculus.engine import describe, fmt

    rows = getattr(result, "kink_rows", None)
    if rows is None:
        for i in result.kinks:
            op = graph.ops[i]
            args = ", ".join(fmt(result.values[j]) for j in graph.inputs[i])
            warn(f"node {describe(graph, i)} is at its kink ({op.name} at {args}), where it is "
                 f"not differentiable; convention: {op.convention}")
        return
    for i, (count, first) in sorted(rows.items()):
        shown = f"{count:,} row{'s' if count != 1 else ''}"
        warn(f"node {describe(graph, i)} is at its kink ({graph.ops[i].name}) in {shown} (the "
             f"first: {first}), where it is not differentiable; convention: "
             f"{graph.ops[i].convention}")
