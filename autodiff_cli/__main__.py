"""The ``adiff`` command's entry point (also ``python -m autodiff_cli``).

This module imports nothing that is not loaded already: it takes over Ctrl-C
first, then imports the command line (click, the parser, ...). So a Ctrl-C at
any moment, even while those imports run or while the interpreter shuts down,
ends adiff with "Interrupted." and exit status 130, never with a traceback:

- the first Ctrl-C raises KeyboardInterrupt while adiff can still catch it
  (the commands clean up, e.g. remove a half-written ``-o`` file, and print
  "Interrupted.");
- any later Ctrl-C, or one that arrives after adiff's own code has finished
  (a second Ctrl-C during clean-up, or during the interpreter's shutdown),
  ends the process at once with status 130;
- a KeyboardInterrupt that Python swallows (raised inside a weakref callback
  or ``__del__``, where it is only reported as "Exception ignored") is not
  reported, and is raised again a moment later in the running code; one that
  Python turns into another error (a SyntaxError while compiling) still ends
  the run as interrupted.

Only a Ctrl-C in the interpreter's own first milliseconds, before this module
runs (while Python starts, or in ``python -m``'s runpy), is out of adiff's hands.
"""

import os
import sys

try:
    import _signal as _sig  # the C module: `signal` itself would import enum first
except ImportError:  # pragma: no cover - not CPython
    import signal as _sig

EXIT_INTERRUPTED = 130


class Interrupts:
    """The SIGINT handler of the adiff process (see the module docstring).

    ``cli`` finds it with ``signal.getsignal`` and calls ``tell`` so that
    "Interrupted." is printed once, whichever path ends the run.
    """

    def __init__(self, deferring: bool = False):
        self.deferring = deferring  # before main(): note the interrupt, main() ends the run
        self.pending = False
        self.catching = True
        self.raised = False
        self.told = False

    def __call__(self, signum, frame):
        if self.deferring:
            self.pending = True
            return
        if self.catching and not self.raised:
            self.raised = True
            raise KeyboardInterrupt
        self.tell()
        os._exit(EXIT_INTERRUPTED)

    def tell(self) -> None:
        """Print "Interrupted." on stderr, once (unbuffered: safe inside a signal handler)."""
        if self.told:
            return
        self.told = True
        try:
            os.write(2, b"Interrupted.\n")
        except OSError:  # stderr is closed or full: the exit status still says it
            pass

    def swallowed(self, unraisable) -> None:
        """sys.unraisablehook: a KeyboardInterrupt that Python could not raise (it was
        raised in a weakref callback, ``__del__``, ...) is raised again 1 ms later,
        by SIGALRM, in whatever code runs then; other reports go to the default hook."""
        if not (isinstance(unraisable.exc_value, KeyboardInterrupt) and self.raised):
            sys.__unraisablehook__(unraisable)
            return
        try:
            self.raised = False
            _sig.signal(_sig.SIGALRM, self)
            _sig.setitimer(_sig.ITIMER_REAL, 0.001)
        except (AttributeError, ValueError, OSError):  # no SIGALRM here: it is over now
            self.raised = True
            self.tell()
            os._exit(EXIT_INTERRUPTED)


def _install(interrupts: Interrupts) -> bool:
    try:
        _sig.signal(_sig.SIGINT, interrupts)
    except (ValueError, OSError, AttributeError):  # not the main thread: leave Ctrl-C be
        return False
    return True


#: Imported by the ``adiff`` console script, whose own lines run between this import
#: and main() (``sys.argv[0] = re.sub(...)``): a Ctrl-C there is noted, and main()
#: ends the run. Imported by anything else, this module changes nothing.
_EARLY = None
if os.path.basename(getattr(sys, "argv", None) and sys.argv[0] or "") in (
        "adiff", "adiff.exe", "adiff-script.py"):
    _EARLY = Interrupts(deferring=True)
    if not _install(_EARLY):
        _EARLY = None


def main() -> None:
    interrupts = _EARLY or Interrupts()
    try:
        if interrupts is _EARLY:
            interrupts.deferring = False
            if interrupts.pending:
                _interrupted(interrupts)
        else:
            _install(interrupts)
        sys.unraisablehook = interrupts.swallowed
        code = _run()
        interrupts.catching = False
    except BaseException:
        # The interrupt (raised at most once, see Interrupts, so nothing interrupts
        # this), or what Python made of it (a SyntaxError when it hit a compile).
        interrupts.catching = False
        if not interrupts.raised:
            raise
    if interrupts.raised:
        _interrupted(interrupts)
    _leave(code)


def _leave(code) -> None:
    """``sys.exit(code)``; but once Apache Arrow has run in this process, without the C++
    side's exit-time destructors: Arrow's can abort the process there ("terminate called
    without an active exception", status 134; apache/arrow#34314), which happened here in
    about 1 run of 25 that stopped at a data error. By now the command has closed its files
    and its Dask cluster, and stdout is flushed (``cli.app.run``); adiff registers no exit
    handlers. The streams are flushed once more and the process ends with the same status.
    """
    if "pyarrow.lib" in sys.modules and (code is None or isinstance(code, int)):
        _end(code or 0)
    sys.exit(code)


def _end(status: int) -> None:
    """Flush what is left of the output, then end the process now, without the
    interpreter's shutdown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001 - a closed or full stream: nothing to add
            pass
    os._exit(status)


def _interrupted(interrupts: Interrupts) -> None:
    """End an interrupted run now: "Interrupted.", the output so far, status 130.

    The interpreter's shutdown is skipped (adiff registers no exit handlers,
    and files being written were removed as the interrupt unwound): a second
    Ctrl-C has nothing left to interrupt, and CPython cannot turn the status
    into a death by SIGINT (which it does when the KeyboardInterrupt passed
    through an eval() of a string, as namedtuple's at import time, even if caught).
    """
    interrupts.tell()
    _end(EXIT_INTERRUPTED)


def _run():
    try:
        from autodiff_cli.cli import run

        run()
    except SystemExit as done:
        return done.code
    return 0


if __name__ == "__main__":
    main()
