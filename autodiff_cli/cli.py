"""The command line: thin glue over the library.

read input -> parse -> bind -> evaluate -> check -> build a document -> render.
Every error becomes an exit code in one place (``AdiffGroup``):
0 success, 1 ``check`` disagreed, 2 bad input, 3 evaluation error,
70 internal error, 130 interrupted; a closed pipe exits quietly.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .errors import AdiffError, InputError
from .render import FORMATS, color_enabled, emit

#: The finite-difference column of ``grad`` costs 2 evaluations of the graph
#: per input; it runs by default while 2 × inputs × nodes stays within this
#: many node evaluations (~0.35 µs each measured here, so about a third of a second).
FD_BUDGET = 1_000_000
#: Node rows a table shows by default (the first and the last ones).
TABLE_NODES = 60

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


# ---------------------------------------------------------------- messages

def warn(message: str) -> None:
    prefix = click.style("Warning:", fg="yellow", bold=True) if color_enabled(sys.stderr) \
        else "Warning:"
    click.echo(f"{prefix} {message}", err=True, color=color_enabled(sys.stderr))


def _report(error: AdiffError) -> None:
    text = error.render()
    if color_enabled(sys.stderr):
        text = click.style("Error:", fg="red", bold=True) + text[len("Error:"):]
    click.echo(text, err=True, color=color_enabled(sys.stderr))


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the exit-time flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------- the group

#: Modules that add commands to ``cli`` when imported (see the end of this file).
LAZY_MODULES = ("cli_check", "cli_graph")


class AdiffGroup(click.Group):
    """Maps every outcome to the contract's exit codes.

    Commands other than ``grad`` live in LAZY_MODULES and are imported only
    when one of them is asked for or the commands are listed, so ``adiff grad``
    does not pay for their imports at start-up.
    """

    _loaded = False

    def _load_all(self) -> None:
        if not self._loaded:
            import importlib

            for module in LAZY_MODULES:
                importlib.import_module(f"{__package__}.{module}")
            self._loaded = True

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._loaded:
            self._load_all()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx):
        self._load_all()
        return super().list_commands(ctx)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except AdiffError as error:
            _report(error)
            sys.exit(error.exit_code)
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(EXIT_BROKEN_PIPE)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except RecursionError:
            _internal(ctx, "recursion limit reached")
        except MemoryError:
            click.echo("Error: out of memory", err=True)
            sys.exit(EXIT_INTERNAL)
        except Exception:  # noqa: BLE001 - the last line of defence
            _internal(ctx, None)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "adiff", complete_var,
                              standalone_mode=False, **extra)
        except click.ClickException as exc:
            exc.show()
            # click gives 1 to a bare ClickException; 1 is reserved for `check`.
            sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
        except click.Abort:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else 0)


def _internal(ctx, what: str | None) -> None:
    debug = (ctx.find_root().params.get("debug") or os.environ.get("ADIFF_DEBUG"))
    exc = sys.exc_info()[1]
    if debug:
        import traceback

        traceback.print_exc()
    summary = what or f"{type(exc).__name__}: {exc}"
    click.echo(f"Error: internal error ({summary}). This is a bug in adiff {__version__}; "
               "please report it with the command that caused it"
               + ("" if debug else " (run with --debug for the traceback)") + ".", err=True)
    sys.exit(EXIT_INTERNAL)


class FormulaCommand(click.Command):
    """A command whose EXPR may start with '-' (the lecture's loss is "-log(...)").

    Before click parses the arguments, an argument that starts with '-' but
    is not one of the command's options is taken as the formula and moved
    behind '--', so click never reads "-log(sigmoid(z))" as options -l -o -g.
    """

    def parse_args(self, ctx, args):
        valued, flags = set(), set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                names = param.opts + param.secondary_opts
                (flags if param.is_flag or param.count else valued).update(names)
        out, formula, i = [], None, 0
        args = list(args)
        while i < len(args):
            arg = args[i]
            if arg == "--":
                out.extend(args[i:])
                break
            if arg in valued:
                out.extend(args[i:i + 2])
                i += 2
                continue
            is_option = (arg in flags or arg == "-" or not arg.startswith("-")
                         or (arg.startswith("--") and arg[2:3].isalpha()))
            if not is_option and formula is None:
                formula = arg
            else:
                out.append(arg)
            i += 1
        if formula is not None:
            out += ["--", formula] if "--" not in out else [formula]
        return super().parse_args(ctx, out)


@click.group(name="adiff", cls=AdiffGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="adiff")
@click.option("--debug", is_flag=True, help="Show the Python traceback of internal errors.")
def cli(debug):
    """Differentiate formulas: reverse-mode gradients, checked by finite differences.

    A formula becomes a computational graph (nodes are operations, edges are
    values); one backward pass gives the gradient with respect to every input.

    \b
      adiff grad "x*y + sin(x)" --at x=1,y=2
      adiff grad "-log(sigmoid(t0 + t1*x1 + t2*x2))" --at t0=1,t1=1,x1=1,t2=2,x2=2
      adiff grad -f samples/logistic_program.adiff --at t0=1,t1=1,x1=1,t2=2,x2=2,y=1
    """


# ---------------------------------------------------------------- shared input

def formula_options(f=None, *, formats=FORMATS, default="table"):
    """EXPR, -f/--file, --at, --format and --max-size, shared by every command.

    ``@formula_options``, or ``@formula_options(formats=..., default=...)`` for a
    command with its own output formats (``adiff graph``).
    """
    if f is None:
        return lambda g: formula_options(g, formats=formats, default=default)
    from .parser import DEFAULT_MAX_SIZE

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


#: --data options; the defaults live here so that ``adiff --help`` needs no NumPy.
REDUCES = ("sum", "mean")
DATA_CHUNK_ROWS = 100_000


def data_options(f):
    """--data FILE and its companions --reduce, --delimiter, --chunk-size (grad, trace, check)."""
    decorators = [
        click.option("--data", "data", metavar="FILE",
                     help="Sum the formula over the rows of a CSV/TSV file with a header ('-' for "
                          "stdin): a variable named like a column takes its value row by row; the "
                          "others are parameters, bound by --at."),
        click.option("--reduce", type=click.Choice(REDUCES), default=None,
                     help="With --data: the loss is the sum (default) or the mean over the rows."),
        click.option("--delimiter", metavar="CHAR",
                     help="With --data: the cell delimiter, e.g. ';' or tab (default: comma for "
                          ".csv, tab for .tsv, else guessed from the header)."),
        click.option("--chunk-size", "chunk_size", type=click.IntRange(1), default=None,
                     metavar="ROWS",
                     help=f"With --data: rows evaluated at a time; memory is bounded by this "
                          f"(default {DATA_CHUNK_ROWS:,})."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def data_settings(data, reduce, delimiter, chunk_size, **others) -> dict | None:
    """The --data settings, or None without --data (where its companions are errors)."""
    if data is None:
        given = [name for name, v in (("--reduce", reduce), ("--delimiter", delimiter),
                                      ("--chunk-size", chunk_size), *others.items()) if v]
        if given:
            raise InputError(f"{given[0]} needs --data FILE")
        return None
    return {"path": data, "reduce": reduce or "sum", "delimiter": delimiter,
            "chunk_rows": chunk_size or DATA_CHUNK_ROWS}


def _read_bytes(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                         f"offset {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _read_stdin() -> str:
    stream = sys.stdin
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode()
    return _read_bytes(data, "standard input")


def read_formula(expr: str | None, file: str | None) -> str:
    if file is not None and expr is not None:
        raise InputError("give the formula either as EXPR or with -f/--file, not both")
    if file is not None:
        if file == "-":
            return _read_stdin()
        try:
            with open(file, "rb") as fh:
                return _read_bytes(fh.read(), file)
        except FileNotFoundError:
            raise InputError(f"cannot read {file}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"cannot read {file}: it is a directory") from None
        except PermissionError:
            raise InputError(f"cannot read {file}: permission denied") from None
        except ValueError:  # e.g. a NUL byte in the path
            raise InputError(f"cannot read {file!r}: not a valid path") from None
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
    if expr == "-":
        return _read_stdin()
    if expr is None:
        ctx = click.get_current_context(silent=True)
        command = ctx.info_name if ctx is not None else "grad"
        raise InputError("no formula given: pass EXPR, '-' for stdin, or -f PATH",
                         hint=f"e.g. adiff {command} \"x*y + sin(x)\" --at x=1,y=2")
    return expr


class Problem:
    """A parsed formula and its bound point, with warnings already printed."""

    def __init__(self, expr, file, at, max_size):
        from .bindings import parse_bindings
        from .parser import parse

        source = read_formula(expr, file)
        warnings: list[str] = []
        self.graph = parse(source, max_size=max_size, warnings=warnings)
        self.at = parse_bindings(at)
        for message in warnings:
            warn(message)
        unused = [name for name in self.at if name not in self.graph.variables]
        if unused:
            names = ", ".join(unused[:10]) + (f" and {len(unused) - 10:,} more"
                                              if len(unused) > 10 else "")
            warn(f"--at binds {names}, which the formula does not use")

    def wrt(self, spec: str | None) -> list[str]:
        """The inputs to differentiate by: --wrt a,b or all of them."""
        variables = self.graph.variables
        if spec is None:
            return list(variables)
        names = [n.strip() for n in spec.split(",") if n.strip()]
        if not names:
            raise InputError("--wrt needs input names, e.g. --wrt x,y")
        for name in names:
            if name not in variables:
                from .parser import suggest

                near = suggest(name, variables)
                raise InputError(f"--wrt {name}: the formula has no input {name!r}",
                                 hint=f"did you mean {near}?" if near else
                                 f"its inputs are: {', '.join(list(variables)[:20]) or 'none'}")
        return list(dict.fromkeys(names))


def _warn_kinks(graph, ev) -> None:
    from .engine import describe, fmt

    for i in ev.kinks:
        op = graph.ops[i]
        args = ", ".join(fmt(ev.values[j]) for j in graph.inputs[i])
        warn(f"node {describe(graph, i)} is at its kink ({op.name} at {args}), where it is not "
             f"differentiable; convention: {op.convention}")


def _nodes_limit(spec: str | None, fmt: str):
    """(show nodes?, row limit) from --nodes N|all|none."""
    if spec is None:
        return True, (TABLE_NODES if fmt == "table" else None)
    if spec == "all":
        return True, None
    if spec == "none":
        return False, None
    if spec.isdigit() and int(spec) > 0:
        return True, int(spec)
    raise InputError(f"--nodes {spec}: expected a positive number, 'all' or 'none'")


# ---------------------------------------------------------------- commands

@cli.command(cls=FormulaCommand)
@formula_options
@click.option("--wrt", metavar="NAME,...", help="Differentiate with respect to these inputs only.")
@click.option("--check/--no-check", "check", default=None,
              help="Force the finite-difference column on or off (default: on while it is "
                   f"cheap, 2 × inputs × nodes ≤ {FD_BUDGET:,}).")
@click.option("--nodes", "nodes", metavar="N|all|none",
              help=f"Node rows to show (table default {TABLE_NODES}; JSON default all).")
@click.option("--expand", is_flag=True,
              help="Rewrite fused ops (sigmoid, tanh, ...) into primitive ops first.")
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
    from .engine import evaluate
    from .numeric import check as fd_check
    from .report import grad_document, kinked_inputs

    problem = Problem(expr, file, at, max_size)
    if expand:
        from .expand import expand as expand_graph

        problem.graph = expand_graph(problem.graph)
    graph = problem.graph
    names = problem.wrt(wrt)
    show_nodes, limit = _nodes_limit(nodes, fmt)
    if settings is not None:
        from .cli_data import grad_data

        return grad_data(problem, settings, names if wrt else None, check, show_nodes, limit, fmt,
                         per_example, expr, file)
    ev = evaluate(graph, problem.at, names)
    _warn_kinks(graph, ev)
    cost = 2 * len(names) * len(graph)
    estimates, skipped = None, None
    if check is False:
        skipped = "turned off with --no-check"
    elif check is None and cost > FD_BUDGET:
        skipped = (f"it would cost {cost:,} node evaluations (2 × {len(names):,} inputs × "
                   f"{len(graph):,} nodes), over the budget of {FD_BUDGET:,}; "
                   "force it with --check, or use adiff check")
    else:
        gradient = {name: ev.grads[graph.variables[name]] for name in names}
        estimates = fd_check(graph, problem.at, gradient,
                             kink_inputs=kinked_inputs(graph, ev.kinks))
        bad = [e.name for e in estimates if e.ok is False]
        if bad:
            warn(f"finite differences disagree with reverse mode for {', '.join(bad)}; "
                 "see the table, or run adiff check")
    if skipped and check is None:
        warn(f"finite-difference check skipped: {skipped}")
    doc = grad_document(graph, ev, names, estimates, skipped, with_nodes=show_nodes)
    emit("grad", doc, fmt, nodes_limit=limit)
    return 0


def main() -> None:
    cli(prog_name="adiff")


# The other commands register themselves on ``cli`` when their module is
# imported: see LAZY_MODULES.
