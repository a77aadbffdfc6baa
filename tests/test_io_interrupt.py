"""Ctrl-C at any moment: exit 130, "Interrupted.", never a traceback.

The command runs for seconds (a 600 KB formula to parse); SIGINT is sent at
several moments after the process starts, during imports, during the run and
twice in a row. It goes through the entry point that ``pip install`` makes from
``[project.scripts]`` (a wrapper script that imports it) and ``python -m``.

A signal sent in the first 100 ms can land before any of adiff's code runs: before the interpreter has
set up its handler (the process is killed by SIGINT, which a shell reports as
130, and prints nothing), or while the interpreter starts (``site``, ``runpy``
or the wrapper's own ``import re``), where Python reports it itself. Such a
try says nothing about adiff and is made again; every other try must end with
status 130 and "Interrupted.", and some tries must land in adiff's code.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT

TRIES = 6


def _entry_point() -> tuple[str, str]:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as fh:
        target = tomllib.load(fh)["project"]["scripts"]["adiff"]
    module, function = target.split(":")
    return module, function


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interrupt")
    formula = tmp / "long.adiff"
    formula.write_text("x" + "+x" * 300_000, encoding="utf-8")
    module, function = _entry_point()
    script = tmp / "adiff"
    # What pip writes for a console script.
    script.write_text(f"import re\nimport sys\nfrom {module} import {function}\n"
                      "if __name__ == '__main__':\n"
                      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                      f"    sys.exit({function}())\n", encoding="utf-8")
    args = ["grad", "-f", str(formula), "--at", "x=1", "--format", "json"]
    return {"entry point": [sys.executable, str(script), *args],
            "python -m": [sys.executable, "-m", "autodiff_cli", *args],
            "formula": str(formula)}


def _interrupt(command, delays):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)
    start = time.monotonic()
    for delay in delays:
        time.sleep(max(0.0, start + delay - time.monotonic()))
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode("utf-8", "replace")


def _status(returncode: int) -> int:
    """The exit status as a shell reports it: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _before_adiff(returncode: int, err: str) -> bool:
    """The signal landed before adiff's code ran (see the module docstring): Python
    reports it with a traceback none of whose frames is in adiff's files."""
    if returncode == -signal.SIGINT and err == "":
        return True  # killed before the interpreter set up its handler
    if returncode == 1 and err.strip() == "KeyboardInterrupt":
        return True  # while the interpreter compiled the script: no frame to show
    files = re.findall(r'File "([^"]+)"', err)
    return ("KeyboardInterrupt" in err and "threading" not in err
            and not any("autodiff_cli" in name for name in files))


@pytest.mark.parametrize("via", ["entry point", "python -m"])
@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.06, 0.1],
                         ids=lambda d: f"{int(d * 1000)}ms")
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(commands, via, delay):
    landed = 0
    for _ in range(TRIES):
        returncode, err = _interrupt(commands[via], [delay])
        if _before_adiff(returncode, err):
            continue
        landed += 1
        assert _status(returncode) == 130, (returncode, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert err.strip() == "Interrupted.", err
        if landed >= 2:
            break


FORMULA = ("x" + "+x" * 300_000).encode()


def _interrupt_running(command, gaps, reading: bool):
    """SIGINT while adiff's code runs for sure: once it has read most of the formula
    from stdin (the pipe drained), either still ``reading`` (the rest is not written
    yet) or 0.1 s into parsing it; then again after each of ``gaps`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    proc.stdin.write(FORMULA[:256 * 1024] if reading else FORMULA)
    proc.stdin.flush()
    if not reading:
        proc.stdin.close()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    for gap in gaps:
        time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read()
    return proc.wait(timeout=120), err.decode("utf-8", "replace")


@pytest.mark.parametrize("via", ["entry point", "python -m"])
@pytest.mark.parametrize("reading, gaps", [
    (True, ()), (True, (0.0,)), (True, (0.01,)),
    (False, ()), (False, (0.01,)), (False, (0.02,)), (False, (0.03,)), (False, (0.05,)),
    (False, (0.0, 0.01)),
], ids=lambda v: ("reading" if v is True else "parsing") if isinstance(v, bool) else (
    "once" if not v else "then " + "+".join(f"{int(x * 1000)}ms" for x in v)))
def test_ctrl_c_during_the_run_and_again_exits_130(commands, via, reading, gaps):
    command = [part if part != commands["formula"] else "-" for part in commands[via]]
    for _ in range(3):
        returncode, err = _interrupt_running(command, gaps, reading)
        assert (returncode, err) == (130, "Interrupted.\n")


def test_a_run_that_is_not_interrupted_is_unaffected(commands):
    done = subprocess.run(commands["entry point"][:2] + ["grad", "x*y", "--at", "x=1,y=2",
                                                          "--format", "plain"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout, done.stderr) == (0, "value\t2.0\nx\t2.0\ny\t1.0\n", "")


def test_a_swallowed_interrupt_is_raised_again():
    # A KeyboardInterrupt raised where Python can only report it ("Exception ignored in
    # ..."), as in a weakref callback during an import, is raised again in the code
    # that runs next: the run still ends as interrupted, without that report.
    code = (
        "import signal, sys, time, weakref\n"
        "sys.argv = ['adiff', 'grad', 'x', '--at', 'x=1']\n"
        "import autodiff_cli.__main__ as entry\n"
        "class Thing: pass\n"
        "def run():\n"
        "    thing = Thing()\n"
        "    def callback(ref):\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "    ref = weakref.ref(thing, callback)\n"
        "    del thing\n"
        "    for _ in range(1000):\n"
        "        time.sleep(0.01)\n"
        "    print('not interrupted')\n"
        "entry._run = run\n"
        "entry.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "Interrupted.\n")


def test_an_interrupt_turned_into_another_error_still_ends_as_interrupted():
    # CPython turns a KeyboardInterrupt during the compile of "\N{...}" into a SyntaxError.
    code = (
        "import signal, sys\n"
        "import autodiff_cli.__main__ as entry\n"
        "def run():\n"
        "    try:\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "    except KeyboardInterrupt:\n"
        "        raise SyntaxError('(unicode error) can not load unicodedata') from None\n"
        "entry._run = run\n"
        "entry.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "Interrupted.\n")


def test_an_interrupt_wrapped_in_another_error_is_an_interrupt(run, monkeypatch):
    # Python 3.11 wraps a KeyboardInterrupt raised while a class body's __set_name__
    # runs (a lazy import of a dataclass) in a RuntimeError: still Ctrl-C, not a bug.
    import autodiff_cli.calculus.engine

    def interrupted_import(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance") from exc

    monkeypatch.setattr(autodiff_cli.calculus.engine, "evaluate", interrupted_import)
    result = run("grad", "x", "--at", "x=1")
    assert (result.code, result.stdout, result.stderr) == (130, "", "Interrupted.\n")
