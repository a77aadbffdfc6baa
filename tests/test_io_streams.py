"""Standard streams that cannot be written, or cannot encode: exit codes and messages.

These run the real process (``python -m autodiff_cli``): CliRunner replaces the
streams, and what is tested here is what the process does with its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

LOGISTIC = str(ROOT / "samples" / "logistic_program.adiff")
DATA = str(ROOT / "samples" / "logistic.csv")

#: Every command, and data mode: each writes its result to stdout.
COMMANDS = {
    "grad": ["grad", "x*y + sin(x)", "--at", "x=1,y=2"],
    "grad json": ["grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json"],
    "grad plain": ["grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "plain"],
    "check": ["check", "x*y + sin(x)", "--at", "x=1,y=2"],
    "graph": ["graph", "x*y + sin(x)", "--at", "x=1,y=2"],
    "graph dot": ["graph", "x*y + sin(x)", "--format", "dot"],
    "graph mermaid": ["graph", "x*y + sin(x)", "--format", "mermaid"],
    "trace": ["trace", "x*y + sin(x)", "--at", "x=1,y=2"],
    "hessian": ["hessian", "x*y + sin(x)", "--at", "x=1,y=2"],
    "diff": ["diff", "x*y + sin(x)", "--at", "x=1,y=2"],
    "jacobian": ["jacobian", "r = x*y; s = x + y; r, s", "--at", "x=1,y=2"],
    "grad --data": ["grad", "-f", LOGISTIC, "--data", DATA, "--at", "t0=0,t1=0,t2=0"],
    "--help": ["--help"],
    "--version": ["--version"],
}


def adiff(args, *, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None, close=(),
          timeout=120):
    """Run ``python -m autodiff_cli ARGS``; ``close`` lists the fds (1, 2) to close first."""
    def closing():
        for fd in close:
            os.close(fd)

    environment = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    environment.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "autodiff_cli", *args], cwd=ROOT,
                          stdout=stdout, stderr=stderr, env=environment, timeout=timeout,
                          preexec_fn=closing if close else None)


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"),
                                    reason="needs /dev/full (Linux)")


# ---------------------------------------------------------------- stdout cannot be written

@needs_dev_full
@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_to_dev_full_is_an_io_error(name):
    with open("/dev/full", "wb") as full:
        done = adiff(COMMANDS[name], stdout=full)
    assert done.returncode == 74, done.stderr
    assert done.stderr.decode() == "Error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_closed_stdout_is_an_io_error(name):
    done = adiff(COMMANDS[name], stdout=None, close=(1,))
    assert done.returncode == 74, done.stderr
    assert done.stderr.decode() == "Error: cannot write to standard output: it is closed\n"


def test_closed_stdout_does_not_stop_a_run_that_writes_a_file(tmp_path):
    path = tmp_path / "g.dot"
    done = adiff(["graph", "x*y", "-o", str(path)], stdout=None, close=(1,))
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert path.read_text(encoding="utf-8").startswith("digraph adiff {\n")


def test_a_closed_pipe_still_exits_quietly_with_141():
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "graph", "x" + "+x" * 20_000,
                             "--format", "dot"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert err == b""


# ---------------------------------------------------------------- stderr cannot be written

#: (arguments, exit code): a success with a warning, and each kind of failure.
OUTCOMES = [
    (["grad", "x", "--at", "x=1,y=2", "--format", "plain"], 0),  # warns: y is unused
    (["grad", "x +", "--at", "x=1"], 2),
    (["grad", "log(x)", "--at", "x=-1"], 3),
    (["graph", "x", "--bogus"], 2),
    (["grad", "x", "--at", "x=1", "-o"], 2),
]


@pytest.mark.parametrize("args, code", OUTCOMES)
@pytest.mark.parametrize("how", ["full", "closed"])
def test_unwritable_stderr_keeps_the_exit_code(args, code, how):
    if how == "full":
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full (Linux)")
        with open("/dev/full", "wb") as full:
            done = adiff(args, stderr=full)
    else:
        done = adiff(args, stderr=None, close=(2,))
    assert done.returncode == code
    assert done.stdout == adiff(args).stdout


# ---------------------------------------------------------------- encodings

LIMITED = {
    "C locale": {"PYTHONUTF8": "0", "LC_ALL": "C", "PYTHONIOENCODING": ""},
    "cp1252": {"PYTHONIOENCODING": "cp1252"},
}


@pytest.fixture
def theta(tmp_path):
    path = tmp_path / "theta.adiff"
    path.write_text("z = θ*y + sin(θ)\nz\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("encoding", list(LIMITED))
@pytest.mark.parametrize("args", [
    ["grad", "--at", "θ=1,y=2"],
    ["grad", "--at", "θ=1,y=2", "--format", "plain"],
    ["grad", "--at", "θ=1,y=2", "--format", "json"],
    ["check", "--at", "θ=1,y=2"],
    ["trace", "--at", "θ=1,y=2"],
    ["trace", "--at", "θ=1,y=2", "--format", "plain"],
    ["graph", "--at", "θ=1,y=2"],
    ["graph", "--format", "dot"],
    ["graph", "--format", "mermaid"],
    ["grad", "--at", "θ=1,y=2,ω=3"],  # a warning that names ω
])
def test_a_limited_encoding_never_crashes(encoding, args, theta):
    done = adiff([args[0], "-f", theta, *args[1:]], env=LIMITED[encoding])
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr and b"Error" not in done.stderr
    assert done.stdout


@pytest.mark.parametrize("encoding", list(LIMITED))
def test_dot_and_mermaid_use_character_references_the_tools_read_back(encoding, theta):
    dot = adiff(["graph", "-f", theta, "--format", "dot"], env=LIMITED[encoding]).stdout
    assert b'n0 [label="&#952;  (n0)"' in dot
    assert dot.isascii()
    mermaid = adiff(["graph", "-f", theta, "--format", "mermaid"], env=LIMITED[encoding]).stdout
    assert b'n0(["#952;  (n0)"])' in mermaid
    assert mermaid.isascii()


def test_the_tree_falls_back_to_ascii(theta):
    done = adiff(["graph", "-f", theta, "--at", "θ=1,y=2"], env=LIMITED["C locale"])
    assert done.returncode == 0
    assert done.stdout.decode("ascii").splitlines() == [
        "f = \\u03b8*y + sin(\\u03b8)",
        "value 2.841470985   at \\u03b8 = 1, y = 2",
        "n4 z = n2 + n3 = 2.84147   grad 1",
        "+-- n2 = \\u03b8*y = 2   grad 1   local 1",
        "|   +-- n0 \\u03b8 (input) = 1   grad 2.5403   local 2",
        "|   `-- n1 y (input) = 2   grad 1   local 1",
        "`-- n3 = sin(\\u03b8) = 0.841471   grad 1   local 1",
        "    `-- n0 \\u03b8 (input) = 1   grad 2.5403   local 0.540302",
        "grad = df/dnode; local = d(node above)/dnode, the local gradient along that edge",
    ]


def test_a_shared_value_is_marked_in_ascii_too():
    done = adiff(["graph", "a = x + 1; a*a"], env=LIMITED["C locale"])
    assert done.returncode == 0
    text = done.stdout.decode("ascii")
    assert "^ see above" in text
    assert "^ marks a value used again" in text


def test_utf8_names_on_the_command_line_survive_the_c_locale():
    # Under LC_ALL=C Python decodes argv as ASCII with surrogate escapes; adiff reads
    # the formula and the bindings back as the UTF-8 the terminal sent.
    done = adiff(["grad", "θ*y", "--at", "θ=1,y=2", "--format", "json"], env=LIMITED["C locale"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gradient"] == {"θ": 2.0, "y": 1.0}
