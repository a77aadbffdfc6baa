"""The options the commands share, each declared once, and the command class.

``formula_options`` (EXPR, -f/--file, --at, --format, --max-size) and
``data_options`` (--data and its companions) are every formula command's;
``wrt_option``, ``expand_option`` and ``nodes_limit``/``rows_limit`` those of
several. The --data defaults live here (not in ``dataset``), so that ``--help``
imports no NumPy.
"""

from __future__ import annotations

import os
import re

import click

from autodiff_cli.errors import AdiffError, InputError, clip, escape_controls
from autodiff_cli.render import FORMATS

#: Node rows a table shows by default (the first and the last ones).
TABLE_NODES = 60
#: Rows per section of the trace table by default (the first and the last ones).
TRACE_ROWS = 60
#: --data options; the defaults live here so that ``adiff --help`` needs no NumPy.
REDUCES = ("sum", "mean")
DATA_CHUNK_ROWS = 100_000

EXPAND_HELP = ("Rewrite fused ops (sigmoid, softplus, tanh, logsumexp, sec, ...) into "
               "primitive ops first, e.g. sigmoid(z) -> 1/(1 + exp(-z)).")


def formula_options(f=None, *, formats=FORMATS, default="table"):
    """EXPR, -f/--file, --at, --format and --max-size, shared by every command.

    ``@formula_options``, or ``@formula_options(formats=..., default=...)`` for a
    command with its own output formats (``adiff graph``).
    """
    if f is None:
        return lambda g: formula_options(g, formats=formats, default=default)
    from autodiff_cli.language.parser import DEFAULT_MAX_SIZE

    decorators = [
        click.argument("expr", required=False, metavar="EXPR"),
        click.option("-f", "--file", "file", metavar="PATH",
                     help="Read the formula or program from a file ('-' for stdin)."),
        click.option("--at", "at", multiple=True, metavar="NAME=VALUE,...",
                     help="Bind inputs, e.g. --at x=1,y=2 (repeatable). Values are "
                          "finite numbers, pi or e."),
        click.option("--format", "fmt", type=click.Choice(formats), default=default,
                     show_default=True, help="Output format."),
        click.option("--max-size", type=click.IntRange(1), default=DEFAULT_MAX_SIZE,
                     show_default=True, metavar="CHARS",
                     help="Refuse formulas longer than this."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def data_options(f):
    """--data FILE and its companions --reduce, --delimiter, --chunk-size, --engine and
    --scheduler (grad, trace, check, fit).

    --engine and --scheduler are not parameters of the command's function: their
    callbacks keep them in ``ctx.meta`` and ``data_settings`` puts them in the settings
    (so a command gets them without changing its signature).
    """
    def keep_in_meta(ctx, param, value):
        ctx.meta[f"adiff.{param.name}"] = value
        return value

    decorators = [
        click.option("--data", "data", metavar="FILE",
                     help="Sum the formula over the rows of a data file: CSV or TSV with a header "
                          "('-' for stdin), Parquet, or a quoted glob of files ('part-*.parquet'): "
                          "a variable named like a column takes its value row by row; the others "
                          "are parameters, bound by --at."),
        click.option("--reduce", type=click.Choice(REDUCES), default=None,
                     help="With --data: the loss is the sum (default) or the mean over the rows."),
        click.option("--delimiter", metavar="CHAR",
                     help="With --data: the cell delimiter, e.g. ';' or tab (default: comma for "
                          ".csv, tab for .tsv, else guessed from the header)."),
        click.option("--chunk-size", "chunk_size", type=click.IntRange(1), default=None,
                     metavar="ROWS",
                     help=f"With --data: rows evaluated at a time; memory is bounded by this "
                          f"(default {DATA_CHUNK_ROWS:,})."),
        click.option("--engine", type=click.Choice(("numpy", "dask")), default=None,
                     expose_value=False, callback=keep_in_meta,
                     help="With --data: where the rows are evaluated: numpy, in this process "
                          "(default), or dask, partition by partition (files, Parquet row groups) "
                          "on a Dask cluster: --scheduler, else a local cluster with one worker "
                          "per core."),
        click.option("--scheduler", metavar="ADDRESS", default=None, expose_value=False,
                     callback=keep_in_meta,
                     help="With --engine dask: the address of a running Dask scheduler, e.g. "
                          "tcp://scheduler-host:8786 (default: start a local cluster)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def data_settings(data, reduce, delimiter, chunk_size, **others) -> dict | None:
    """The --data settings, or None without --data (where its companions are errors).

    ``engine`` is "numpy" or "dask", ``scheduler`` the --scheduler address (or None).
    """
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    engine, scheduler = meta.get("adiff.engine"), meta.get("adiff.scheduler")
    if data is None:
        given = [name for name, v in (("--reduce", reduce), ("--delimiter", delimiter),
                                      ("--chunk-size", chunk_size), ("--engine", engine),
                                      ("--scheduler", scheduler), *others.items()) if v]
        if given:
            raise InputError(f"{given[0]} needs --data FILE")
        return None
    if scheduler is not None:
        if engine != "dask":
            raise InputError("--scheduler needs --engine dask",
                             hint=f"e.g. --engine dask --scheduler {escape_controls(clip(scheduler))}")
        from autodiff_cli.data.distributed import check_address

        scheduler = check_address(scheduler)
    return {"path": data, "reduce": reduce or "sum", "delimiter": delimiter,
            "chunk_rows": chunk_size or DATA_CHUNK_ROWS, "engine": engine or "numpy",
            "scheduler": scheduler}


def wrt_option(help: str):
    """--wrt NAME,...: the inputs to differentiate (``Problem.wrt`` reads it)."""
    return click.option("--wrt", metavar="NAME,...", help=help)


def expand_option(help: str = EXPAND_HELP):
    """--expand: rewrite fused ops into primitive ops first (``Problem`` applies it)."""
    return click.option("--expand", is_flag=True, help=help)


def nodes_limit(spec: str | None, fmt: str):
    """(show nodes?, row limit) from grad's --nodes N|all|none."""
    if spec is None:
        return True, (TABLE_NODES if fmt == "table" else None)
    if spec == "all":
        return True, None
    if spec == "none":
        return False, None
    if spec.isdigit() and int(spec) > 0:
        return True, int(spec)
    raise InputError(f"--nodes {escape_controls(clip(spec))}: expected a positive number, "
                     "'all' or 'none'")


def rows_limit(spec: str | None, fmt: str):
    """The row limit of trace's --rows N|all."""
    if spec is None:
        return TRACE_ROWS if fmt == "table" else None
    if spec == "all":
        return None
    if spec.isdigit() and int(spec) > 0:
        return int(spec)
    raise InputError(f"--rows {spec}: expected a positive number or 'all'")


#: How an option is spelled: --name, --two-words (also --name=value).
_OPTION_SHAPE = re.compile(r"--[^\W\d][\w]*(?:-[\w]+)*")
#: Options whose values are paths: kept as the operating system gave them.
_PATH_OPTIONS = frozenset({"-f", "--file", "--data", "-o", "--output", "--junit", "--spec",
                           "--history"})
_SOURCE_OPTIONS = frozenset({"-f", "--file", "--spec"})


def _argv_text(arg: str) -> str:
    """An argument as UTF-8 text even under a non-UTF-8 locale (LC_ALL=C decodes
    'θ' from argv as two surrogate escapes); left as it is when it is not UTF-8."""
    if not any("\udc80" <= ch <= "\udcff" for ch in arg):
        return arg
    try:
        return os.fsencode(arg).decode("utf-8")
    except (UnicodeError, ValueError):
        return arg


def _bound_names(values) -> set[str]:
    """The names that --at values bind (x and y in 'x=1,y=2'), without checking them."""
    return {part.split("=", 1)[0].strip() for value in values for part in value.split(",")}


def _parses(text: str) -> bool:
    from autodiff_cli.language.parser import parse

    try:
        parse(text)
    except AdiffError:
        return False
    return True


class FormulaCommand(click.Command):
    """A command whose EXPR may start with '-' (the lecture's loss is "-log(...)").

    Before click parses the arguments, an argument that starts with '-' but
    is not one of the command's options is taken as the formula and moved
    behind '--', so click never reads "-log(sigmoid(z))" as options -l -o -g.
    An argument spelled like an option (--x, --theta) is the formula only when
    no other formula is given and --at binds its name; otherwise it is an
    unknown option, and the error says how to pass such a formula (after --).
    """

    def parse_args(self, ctx, args):
        valued, flags = set(), set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                names = param.opts + param.secondary_opts
                (flags if param.is_flag or param.count else valued).update(names)
        out, formula, i = [], None, 0
        option_like = None  # (position in out, argument): --x, an unknown option or the formula
        bound, source = [], False
        args = list(args)
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest = [_argv_text(a) for a in args[i:]]
                source = source or len(rest) > 1
                out.extend(rest)
                break
            name, has_value, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if arg in valued or (has_value and name in valued):
                if not has_value:
                    value = args[i + 1] if i + 1 < len(args) else None
                    i += 1
                if value is not None and name not in _PATH_OPTIONS:
                    value = _argv_text(value)
                if name == "--at" and value is not None:
                    bound.append(value)
                source = source or name in _SOURCE_OPTIONS
                out.extend([name, value] if value is not None else [name])
                i += 1
                continue
            arg = _argv_text(arg)
            if arg in flags or arg == "-" or not arg.startswith("-"):
                source = source or not arg.startswith("-") or arg == "-"
                out.append(arg)
            elif _OPTION_SHAPE.fullmatch(name):
                if option_like is None and not has_value:
                    option_like = (len(out), arg)
                out.append(arg)
            elif formula is None:
                formula = arg
            else:
                out.append(arg)
            i += 1
        if formula is None and option_like is not None and not source:
            position, arg = option_like
            if all(part in _bound_names(bound) for part in arg[2:].split("-")):
                del out[position]
                formula = arg
        if formula is not None:
            out += ["--", formula] if "--" not in out else [formula]
        try:
            return super().parse_args(ctx, out)
        except click.NoSuchOption as exc:
            name = exc.option_name
            if (formula is None and not source and _OPTION_SHAPE.fullmatch(name)
                    and not exc.possibilities and _parses(name)):
                exc.message += (f" If {name} is the formula, put it last, after --: "
                                f"adiff {ctx.info_name} [OPTIONS] -- {name}")
            raise


def outputs_option(help: str = "Take these names the program assigns as its outputs, in this "
                                "order, instead of its last statement."):
    """--outputs NAME,...: assigned names as the program's outputs (``Problem(select=...)``
    reads it); the commands that take several outputs (graph, jacobian) offer it."""
    return click.option("--outputs", "outputs", metavar="NAME,...", help=help)
