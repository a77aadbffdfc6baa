"""The click app: the ``adiff`` group, its exit codes, and the process's standard streams.

Every outcome becomes an exit code in one place (``AdiffGroup``):
0 success, 1 ``check`` disagreed, 2 bad input, 3 evaluation error,
70 internal error, 74 standard output could not be written (an I/O error,
like sysexits' EX_IOERR: a full disk, a closed stdout), 130 interrupted;
a closed pipe exits quietly (141). The commands themselves live in modules
of their own (``COMMANDS``), imported only when they run.
"""

from __future__ import annotations

import errno
import io
import os
import sys

import click

from autodiff_cli import __version__
from autodiff_cli.cli.messages import report, safe, say
from autodiff_cli.errors import AdiffError

EXIT_INTERNAL = 70
#: Standard output could not be written (ENOSPC, EBADF, EIO, ...): an I/O error, as
#: sysexits.h's EX_IOERR. A closed pipe (EPIPE) is not an error: EXIT_BROKEN_PIPE.
EXIT_IO = 74
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


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
    say(f"Error: cannot write to standard output: {reason}")
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
        say("Interrupted.")
    sys.exit(EXIT_INTERRUPTED)


# ---------------------------------------------------------------- the group

#: The commands, by name: "module:attribute" in this package, imported when the
#: command runs (or when all are listed, for --help), so that ``adiff grad`` pays
#: for no other command's imports at start-up.
COMMANDS = {
    "check": "check:check",
    "diff": "diff:diff",
    "fit": "fit:fit",
    "grad": "grad:grad",
    "graph": "graph:graph",
    "hessian": "hessian:hessian",
    "jacobian": "jacobian:jacobian",
    "trace": "trace:trace",
}


class AdiffGroup(click.Group):
    """Maps every outcome to the contract's exit codes, and loads commands lazily.

    A command's module (``COMMANDS``) is imported only when that command is
    asked for, or when the commands are listed (``adiff --help``).
    """

    def get_command(self, ctx, cmd_name):
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            import importlib

            module, _, attr = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
            self.add_command(command, cmd_name)
        return command

    def list_commands(self, ctx):
        for name in COMMANDS:
            self.get_command(ctx, name)
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
                report(exc)
                sys.exit(exc.exit_code)
            if isinstance(exc, BrokenPipeError):
                _quiet_stdout()
                sys.exit(EXIT_BROKEN_PIPE)
            if isinstance(exc, OutputError):
                _output_failed(exc)
            if isinstance(exc, MemoryError):
                say("Error: out of memory")
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
    say(safe(f"Error: internal error ({summary}). This is a bug in adiff {__version__}; "
             "please report it with the command that caused it"
             + ("" if debug else " (run with --debug for the traceback)") + "."))
    sys.exit(EXIT_INTERNAL)


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
    from autodiff_cli.__main__ import main as entry

    entry()
