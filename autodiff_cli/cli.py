"""The command line: thin glue over the library.

read input -> parse -> bind -> evaluate -> check -> build a document -> render.
Every error becomes an exit code in one place (``AdiffGroup``):
0 success, 1 ``check`` disagreed, 2 bad input, 3 evaluation error,
70 internal error, 74 standard output could not be written (an I/O error,
like sysexits' EX_IOERR: a full disk, a closed stdout), 130 interrupted;
a closed pipe exits quietly (141).
"""

from __future__ import annotations

import errno
import io
import os
import re
import sys

import click

from . import __version__
from .errors import AdiffError, InputError, clip, escape_controls
from .render import FORMATS, color_enabled, emit

#: The finite-difference column of ``grad`` costs 2 evaluations of the graph
#: per input; it runs by default while 2 × inputs × nodes stays within this
#: many node evaluations (~0.35 µs each measured here, so about a third of a second).
FD_BUDGET = 1_000_000
#: Node rows a table shows by default (the first and the last ones).
TABLE_NODES = 60

EXIT_INTERNAL = 70
#: Standard output could not be written (ENOSPC, EBADF, EIO, ...): an I/O error, as
#: sysexits.h's EX_IOERR. A closed pipe (EPIPE) is not an error: EXIT_BROKEN_PIPE.
EXIT_IO = 74
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


# ---------------------------------------------------------------- messages

def _safe(text: str) -> str:
    """A message for the terminal: control characters escaped, line by line.

    Callers escape user text where they interpolate it (so a newline in a
    name cannot forge a line); this is the net under everything else.
    """
    return "\n".join(escape_controls(line) for line in text.split("\n"))


def _say(text: str, color: bool = False) -> None:
    """One message on stderr; a closed or full stderr never changes the outcome."""
    try:
        click.echo(text, err=True, color=color)
    except (OSError, ValueError):
        pass


def warn(message: str) -> None:
    color = color_enabled(sys.stderr)
    prefix = click.style("Warning:", fg="yellow", bold=True) if color else "Warning:"
    _say(f"{prefix} {_safe(message)}", color)


def note(message: str) -> None:
    """Information on stderr that is neither a warning nor an error ("Note: ...")."""
    _say(f"Note: {_safe(message)}")


def _report(error: AdiffError) -> None:
    text = _safe(error.render())
    color = color_enabled(sys.stderr)
    if color:
        text = click.style("Error:", fg="red", bold=True) + text[len("Error:"):]
    _say(text, color)


def _quiet_stdout() -> None:
    """After a failed write: point stdout at /dev/null so the exit-time flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


# ---------------------------------------------------------------- the streams

class OutputError(OSError):
    """Standard output could not be written (not EPIPE): exit EXIT_IO."""


class _Stdout(io.FileIO):
    """fd 1, whose write errors are OutputError, so they are told apart from others."""

    def write(self, data):
        try:
            return super().write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None


class _Stderr(io.FileIO):
    """fd 2, whose write errors are dropped: a message that cannot be shown is lost,
    but a closed or full stderr never turns a success into a failure."""

    def write(self, data):
        try:
            return super().write(data)
        except OSError:
            return len(data)


def _occupy(fd: int, flags: int) -> bool:
    """Open /dev/null on ``fd`` when it is closed, so no file opened later lands there.

    fd 1 gets it read-only: writing the output then fails (EBADF), as it
    should when stdout is closed, instead of going to a file opened later.
    """
    try:
        os.fstat(fd)
        return False
    except OSError:
        pass
    try:
        new = os.open(os.devnull, flags)
        if new != fd:
            os.dup2(new, fd)
            os.close(new)
    except OSError:
        return False
    return True


def _text_stream(raw_class, fd: int, old, line_buffering: bool):
    encoding = getattr(old, "encoding", None) or "utf-8"
    raw = raw_class(fd, "w", closefd=False)
    # backslashreplace: a character the encoding cannot hold (θ under LC_ALL=C,
    # ∂ in cp1252) is written as \u03b8 instead of crashing the run.
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding,
                            errors="backslashreplace", line_buffering=line_buffering)


def guard_streams() -> None:
    """Make the standard streams of the adiff process safe (not used under CliRunner).

    A closed fd 0, 1 or 2 is occupied by /dev/null; stdout becomes a stream
    whose write errors are ``OutputError`` (exit 74) and stderr one whose
    write errors are ignored; both degrade unencodable characters to
    escapes instead of raising UnicodeEncodeError.
    """
    for name, fd, flags in (("stdin", 0, os.O_RDONLY), ("stdout", 1, os.O_RDONLY),
                            ("stderr", 2, os.O_WRONLY)):
        old = getattr(sys, name)
        real = old is None or old is getattr(sys, f"__{name}__")
        if not real:
            continue  # replaced by whoever called us: theirs to manage
        try:
            if old is not None and old.fileno() != fd:
                continue
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            continue
        _occupy(fd, flags)
        if name == "stdin":
            if old is None:
                sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)
            continue
        if old is not None:
            try:
                old.flush()
            except (OSError, ValueError):
                pass
        stream = _text_stream(_Stdout if fd == 1 else _Stderr, fd, old,
                              line_buffering=True if fd == 2 else
                              bool(getattr(old, "line_buffering", False)))
        setattr(sys, name, stream)


def _flush_stdout() -> None:
    stdout = sys.stdout
    if stdout is not None:
        stdout.flush()


def _output_failed(error: OSError) -> None:
    """A write to stdout failed: one line on stderr, a silent exit, status 74."""
    _quiet_stdout()
    reason = "it is closed" if error.errno == errno.EBADF else \
        (error.strerror or str(error))
    _say(f"Error: cannot write to standard output: {reason}")
    sys.exit(EXIT_IO)


def _interrupt_behind(exc: BaseException) -> bool:
    """Whether ``exc`` is what Python made of a Ctrl-C (a RuntimeError from a class
    body's __set_name__, a SyntaxError from a compile, ...): the entry point's handler
    has raised an interrupt, or one is in the exception's chain."""
    import signal

    if getattr(signal.getsignal(signal.SIGINT), "raised", False):
        return True
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _interrupted() -> None:
    """Ctrl-C: "Interrupted." once (the entry point's handler knows if it was said), 130."""
    import signal

    tell = getattr(signal.getsignal(signal.SIGINT), "tell", None)
    if callable(tell):
        tell()
    else:
        _say("Interrupted.")
    sys.exit(EXIT_INTERRUPTED)


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
            rv = super().invoke(ctx)
            _flush_stdout()  # a write error must surface here, not in the exit-time flush
            return rv
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if _interrupt_behind(exc):
                _interrupted()
            if isinstance(exc, AdiffError):
                _report(exc)
                sys.exit(exc.exit_code)
            if isinstance(exc, BrokenPipeError):
                _quiet_stdout()
                sys.exit(EXIT_BROKEN_PIPE)
            if isinstance(exc, OutputError):
                _output_failed(exc)
            if isinstance(exc, MemoryError):
                _say("Error: out of memory")
                sys.exit(EXIT_INTERNAL)
            _internal(ctx, "recursion limit reached" if isinstance(exc, RecursionError)
                      else None)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "adiff", complete_var,
                              standalone_mode=False, **extra)
            _flush_stdout()
        except click.ClickException as exc:
            try:
                exc.show()
            except (OSError, ValueError):
                pass
            # click gives 1 to a bare ClickException; 1 is reserved for `check`.
            sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
        except click.Abort:
            _interrupted()
        except OutputError as error:  # --help, --version or completion to a full/closed stdout
            _output_failed(error)
        sys.exit(rv if isinstance(rv, int) else 0)


def _internal(ctx, what: str | None) -> None:
    debug = (ctx.find_root().params.get("debug") or os.environ.get("ADIFF_DEBUG"))
    exc = sys.exc_info()[1]
    if debug:
        import traceback

        traceback.print_exc()
    summary = what or f"{type(exc).__name__}: {exc}"
    _say(_safe(f"Error: internal error ({summary}). This is a bug in adiff {__version__}; "
               "please report it with the command that caused it"
               + ("" if debug else " (run with --debug for the traceback)") + "."))
    sys.exit(EXIT_INTERNAL)


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
    from .parser import parse

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


def _read_source(path: str, max_size: int) -> str:
    """The formula in file ``path`` ('-': stdin), reading at most what ``max_size`` allows.

    --max-size counts characters; UTF-8 takes at most 4 bytes a character (and
    a byte order mark 3 more), so 4 × max_size + 4 bytes hold any formula within
    the limit, and /dev/zero stops there instead of filling memory.
    """
    from .files import read_limited

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
    return _read_bytes(data, shown)


def read_formula(expr: str | None, file: str | None, max_size: int | None = None) -> str:
    """The formula from EXPR, '-' (stdin) or -f PATH; files and stdin are read only up
    to what ``max_size`` (characters, default the parser's) allows."""
    if max_size is None:
        from .parser import DEFAULT_MAX_SIZE

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
    """A parsed formula and its bound point, with warnings already printed."""

    def __init__(self, expr, file, at, max_size):
        from .bindings import parse_bindings
        from .parser import parse

        source = read_formula(expr, file, max_size)
        warnings: list[str] = []
        self.graph = parse(source, max_size=max_size, warnings=warnings)
        self.at = parse_bindings(at)
        for message in warnings:
            warn(message)
        unused = [name for name in self.at if name not in self.graph.variables]
        if unused:
            names = ", ".join(escape_controls(clip(n)) for n in unused[:10]) + (
                f" and {len(unused) - 10:,} more" if len(unused) > 10 else "")
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
                shown = escape_controls(clip(name, 80))
                raise InputError(f"--wrt {shown}: the formula has no input '{shown}'",
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
    raise InputError(f"--nodes {escape_controls(clip(spec))}: expected a positive number, "
                     "'all' or 'none'")


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


def run() -> None:
    """The adiff process: safe standard streams, then the command line (raises SystemExit).

    Called by the entry point (``autodiff_cli.__main__.main``), which has
    already taken over Ctrl-C.
    """
    guard_streams()
    try:
        cli.main(prog_name="adiff")
    except SystemExit:
        # Whatever ended the run, nothing may be left for the exit-time flush to fail on.
        try:
            _flush_stdout()
        except OutputError as error:
            _output_failed(error)
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(EXIT_BROKEN_PIPE)
        raise


def main() -> None:
    """The console script's function (kept for ``autodiff_cli.cli:main``)."""
    from .__main__ import main as entry

    entry()


# The other commands register themselves on ``cli`` when their module is
# imported: see LAZY_MODULES.
