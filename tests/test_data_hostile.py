"""--data against hostile or unlucky files: constants as column names, endless or binary
input, very wide headers, control characters, byte order marks, huge cells."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autodiff_cli.data import reader as dataset
from autodiff_cli.data.batch import Setup, run
from autodiff_cli.data.reader import DataFile
from autodiff_cli.language.parser import parse

from .conftest import ROOT, invoke

COLOR = {"NO_COLOR": None, "FORCE_COLOR": "1"}  # click strips no escape sequence then


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def value(*args, input=None) -> float:
    result = invoke(*args, "--format", "json", input=input)
    assert result.code == 0, result
    return result.json()["value"]


# ---------------------------------------------------------------- columns named e or pi

@pytest.mark.parametrize("command", ["grad", "check", "trace"])
def test_a_column_named_e_that_the_formula_uses_as_the_constant_is_an_input_error(
        tmp_path, command):
    # Was: e silently stayed 2.718..., the column was ignored, exit 0 with 16.31 instead of 14.
    path = write(tmp_path, "e_col.csv", "e,x\n1,2\n3,4\n")
    result = invoke(command, "e*x*t", "--data", path, "--at", "t=1")
    assert result.code == 2, result
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {path}:1:1: column e of {path} is named like the constant e, which the formula "
        "uses: e is a constant and cannot be a column\n"
        "  e*x*t\n"
        "  ^\n"
        "rename the column in the header (e.g. to e_) and use that name in the formula\n")


@pytest.mark.parametrize("formula, caret", [
    ("x*t + pi", "      ^^"),
    ("y = x*t; -pi*y", "         ^^^"),  # -pi folds into one constant node
    ("x*t*- -pi", "    ^^^^^"),
    ("q = pi*x; pi = 2; pi*q*t", "    ^^"),  # the constant, used before the program assigns pi
])
def test_a_column_named_pi_is_refused_wherever_the_formula_uses_the_constant(tmp_path, formula,
                                                                             caret):
    path = write(tmp_path, "d.csv", "x,pi\n1,2\n")
    result = invoke("grad", formula, "--data", path, "--at", "t=1")
    assert result.code == 2, result
    assert result.stderr.startswith(f"Error: {path}:1:3: column pi of {path} is named like the "
                                    "constant pi, which the formula uses")
    assert result.stderr.splitlines()[1:3] == [f"  {formula}", f"  {caret}"]


def test_a_column_named_e_that_the_formula_does_not_use_as_the_constant_is_fine(tmp_path):
    path = write(tmp_path, "e_col.csv", "e,x\n1,2\n3,4\n")
    # An unused column may hold anything, and be named anything.
    assert value("grad", "x*t", "--data", path, "--at", "t=1") == 6.0
    # A program that assigns e: from there on e is that value, not the constant (nor the column).
    assert value("grad", "e = x*2; e*t", "--data", path, "--at", "t=1") == 12.0
    assert value("trace", "e = x*2; e*t", "--data", path, "--at", "t=1") == 12.0
    doc = invoke("check", "e = x*2; e*t", "--data", path, "--at", "t=1", "--format", "json")
    assert doc.code == 0, doc
    assert doc.json()["cases"][0]["value"] == 12.0


def test_a_constant_that_only_expand_writes_does_not_refuse_the_column(tmp_path):
    # acot's expansion is pi/2 - atan(a): the user never wrote pi, so the column pi is unused.
    path = write(tmp_path, "d.csv", "pi,x\n7,1\n")
    plain = value("grad", "acot(x)*t", "--data", path, "--at", "t=1")
    assert value("grad", "acot(x)*t", "--expand", "--data", path, "--at", "t=1") == \
        pytest.approx(plain, rel=1e-15)


# ---------------------------------------------------------------- endless and binary input

def adiff_process(args, stdin=None, shell_input: str | None = None, timeout: float = 20):
    """Run ``python -m autodiff_cli ARGS`` in a process; ``shell_input``: a shell pipeline
    whose output is its standard input."""
    command = [sys.executable, "-m", "autodiff_cli", *args]
    if shell_input is not None:
        import shlex

        command = ["sh", "-c", f"{shell_input} | {shlex.join(command)}"]
    return subprocess.run(command, stdin=stdin, capture_output=True, timeout=timeout, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "LC_ALL": "C.UTF-8"})


def test_dev_zero_as_the_data_file_stops_at_once_with_an_input_error():
    # Was: 11.7 GB of memory after 20 s, reading a header line that never ends.
    result = adiff_process(["grad", "a*x", "--data", "/dev/zero", "--at", "a=1"])
    assert result.returncode == 2, result
    assert result.stdout == b""
    assert result.stderr.decode() == (
        "Error: /dev/zero:1:1: a NUL byte (0x00): a data file is UTF-8 text\n"
        "is it UTF-16 (save it as UTF-8), or not a data file at all?\n")


def test_dev_zero_on_standard_input_stops_at_once_with_an_input_error():
    with open("/dev/zero", "rb") as zero:
        result = adiff_process(["grad", "a*x", "--data", "-", "--at", "a=1"], stdin=zero)
    assert result.returncode == 2, result
    assert result.stderr.decode().startswith("Error: <stdin>:1:1: a NUL byte (0x00)")


def test_endless_rows_after_a_good_header_stop_with_an_input_error():
    # The rows' reader kept every byte of an unfinished line: NULs, then a line without end.
    result = adiff_process(["grad", "a*x", "--data", "-", "--at", "a=1"],
                           shell_input="(printf 'x\\n1\\n'; cat /dev/zero)")
    assert result.returncode == 2, result
    assert result.stderr.decode().startswith("Error: <stdin>:3:1: a NUL byte (0x00)")
    result = adiff_process(["grad", "a*x", "--data", "-", "--at", "a=1"],
                           shell_input="(printf 'x\\n1\\n2\\n'; yes 1 | tr -d '\\n')")
    assert result.returncode == 2, result
    assert result.stderr.decode() == (
        "Error: <stdin>:4:1: line 4 is longer than 16 MiB, the limit for one line of a data file\n"
        "is it a CSV or TSV text file? Each row must end with a line break\n")


@pytest.fixture
def short_lines(monkeypatch):
    """Lines of at most 100 bytes, so long lines are cheap to write."""
    monkeypatch.setattr(dataset, "MAX_LINE_BYTES", 100)
    monkeypatch.setattr(dataset, "_HEADER_READ", 16)
    monkeypatch.setattr(dataset, "_READ", 64)


@pytest.mark.parametrize("chunk", ["1", "3", "1000"])
@pytest.mark.parametrize("content, where", [
    ("x\n" + "1\n" * 5 + "1" * 101 + "\n1\n", "7:1"),  # a complete line, too long
    ("x\n" + "1\n" * 5 + "1" * 500, "7:1"),  # the last line, without a line end
    ("x," + "y" * 200 + "\n1,2\n", "1:1"),  # the header
])
def test_a_line_longer_than_the_limit_is_an_input_error_at_its_line(tmp_path, short_lines,
                                                                    content, where, chunk):
    path = write(tmp_path, "long.csv", content)
    result = invoke("grad", "a*x", "--data", path, "--at", "a=1", "--chunk-size", chunk)
    assert result.code == 2, result
    line = where.split(":")[0]
    assert result.stderr.startswith(f"Error: {path}:{where}: line {line} is longer than 100 "
                                    "bytes, the limit for one line of a data file\n"), result


def test_lines_up_to_the_limit_are_read(tmp_path, short_lines):
    cell = "0" * 98 + "1"  # 99 bytes and a newline: at the limit
    path = write(tmp_path, "ok.csv", "x\n" + f"{cell}\n" * 7 + cell)
    assert value("grad", "a*x", "--data", path, "--at", "a=1", "--chunk-size", "2") == 8.0


def test_an_earlier_bad_cell_is_reported_before_a_later_endless_line(tmp_path, short_lines):
    path = write(tmp_path, "d.csv", "x\n1\nabc\n" + "1" * 500)
    result = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert result.code == 2
    assert result.stderr.startswith(f"Error: {path}:3:1: 'abc' in column x is not a number")


@pytest.mark.parametrize("chunk", ["1", "1000"])
def test_a_nul_byte_is_an_input_error_even_in_an_unused_column(tmp_path, chunk):
    # loadtxt, reading only the used columns, never looked at the NUL: the row was accepted.
    path = write(tmp_path, "nul.csv", b"x,name\n1,ab\n2,a\x00b\n")
    result = invoke("grad", "a*x", "--data", path, "--at", "a=1", "--chunk-size", chunk)
    assert result.code == 2, result
    assert result.stderr == (f"Error: {path}:3:4: a NUL byte (0x00): a data file is UTF-8 text\n"
                             "is it UTF-16 (save it as UTF-8), or not a data file at all?\n")


def test_a_utf16_file_says_so(tmp_path):
    path = write(tmp_path, "u16.csv", "x,y\n1,2\n".encode("utf-16"))
    result = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert result.code == 2, result
    assert result.stderr.startswith(f"Error: {path}:1:1: the data file is UTF-16")


# ---------------------------------------------------------------- wide headers

class Counted(str):
    """A column name that counts how often it is compared."""

    comparisons = 0

    def __eq__(self, other):
        Counted.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_matching_variables_to_columns_is_linear_not_quadratic(tmp_path):
    # Was: a list search per variable (40,000 columns and variables: 37.7 s).
    n = 2000
    header = ",".join(f"x{k}" for k in range(n))
    path = write(tmp_path, "wide.csv", f"{header},y\n" + ",".join(["1"] * (n + 1)) + "\n")
    graph = parse("t*(" + "+".join(f"x{k}" for k in reversed(range(n))) + ")")
    data = DataFile(path)
    data.columns = [Counted(c) for c in data.columns]
    data.position = {Counted(c): k for c, k in data.position.items()}
    Counted.comparisons = 0
    setup = Setup(graph, {"t": 2.0}, data)
    totals = run(setup)
    assert Counted.comparisons <= 4 * n, Counted.comparisons  # a search would make ~n*n/2
    assert totals.value == 2.0 * n and totals.gradient == {"t": float(n)}


def test_a_20000_column_file_with_a_20000_variable_formula(tmp_path):
    n = 20_000
    header = ",".join(f"x{k}" for k in range(n))
    path = write(tmp_path, "wide.csv", header + "\n" + ",".join(["1"] * n) + "\n"
                 + ",".join(["2"] * n) + "\n")
    formula = write(tmp_path, "f.adiff", "t*(" + "+".join(f"x{k}" for k in range(n)) + ")")
    result = invoke("grad", "-f", formula, "--data", path, "--at", "t=1", "--format", "json",
                    "--nodes", "none")
    assert result.code == 0, result
    doc = result.json()
    assert doc["value"] == 3.0 * n and doc["gradient"] == {"t": 3.0 * n}
    assert len(doc["data"]["columns"]) == n


# ---------------------------------------------------------------- hostile headers and cells

def test_control_characters_of_a_header_reach_messages_escaped(tmp_path):
    path = write(tmp_path, "ctl.csv", "x,\x1b[2Jy\x07\n1,2\n3\n")
    result = invoke("grad", "a*x + z", "--data", path, "--at", "a=1", env=COLOR)
    assert result.code == 2, result
    assert "\x1b[2J" not in result.stderr and "\x07" not in result.stderr
    assert "(its columns: x, \\x1b[2Jy\\x07) nor bound by --at" in result.stderr
    # A ragged row: the hint shows the header.
    result = invoke("grad", "a*x", "--data", path, "--at", "a=1", env=COLOR)
    assert result.code == 2, result
    assert result.stderr.endswith("the header is: x,\\x1b[2Jy\\x07\n"), result
    # A formula that uses no column: the warning lists the columns.
    path = write(tmp_path, "ctl2.csv", "\x1b]8;;http://x\x07w\n1\n")
    result = invoke("grad", "a", "--data", path, "--at", "a=1", "--format", "plain", env=COLOR)
    assert result.code == 0, result
    assert "\x1b]" not in result.stderr
    assert "(\\x1b]8;;http://x\\x07w): every row gives the same value" in result.stderr


def test_control_characters_of_the_file_name_reach_messages_escaped(tmp_path):
    path = write(tmp_path, "d\x1b[2J.csv", "x,y\n1,2\n3,abc\n")
    result = invoke("grad", "a*x + y", "--data", path, "--at", "a=1", env=COLOR)
    assert result.code == 2, result
    shown = path.replace("\x1b", "\\x1b")
    assert result.stderr.startswith(f"\x1b[31m\x1b[1mError:\x1b[0m {shown}:3:3: 'abc' in "
                                    "column y is not a number"), result
    assert "\x1b[2J" not in result.stderr


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufeffx,y\n1,2\n3,4\n")
    assert value("grad", "a*x + y", "--data", path, "--at", "a=2") == 14.0
    assert value("grad", "a*x + y", "--data", "-", "--at", "a=2",
                 input="\ufeffx,y\n1,2\n3,4\n".encode()) == 14.0


def test_a_column_name_with_a_zero_width_joiner_never_crashes(tmp_path):
    path = write(tmp_path, "zwj.csv", "x\u200dy,x\n1,2\n")
    assert value("grad", "a*x", "--data", path, "--at", "a=1") == 2.0  # unused: fine
    # Whether the formula language admits the name is the parser's business: either the
    # column feeds the variable, or the formula is refused, never a crash.
    result = invoke("grad", "a*x\u200dy", "--data", path, "--at", "a=1", "--format", "json")
    assert result.code in (0, 2), result
    if result.code == 0:
        assert result.json()["value"] == 1.0
    else:
        assert result.stderr.startswith("Error: ")
    # A parameter missing: the columns in the message show the joiner as an escape.
    result = invoke("grad", "a*x*b", "--data", path, "--at", "a=1")
    assert result.code == 2
    assert "(its columns: x\\u200dy, x)" in result.stderr


@pytest.mark.parametrize("chunk", ["1", "1000"])
def test_a_5000_digit_cell_is_an_input_error_with_the_cell_clipped(tmp_path, chunk):
    path = write(tmp_path, "big.csv", "x,y\n1,2\n1," + "9" * 5000 + "\n")
    result = invoke("grad", "a*x + y", "--data", path, "--at", "a=1", "--chunk-size", chunk)
    assert result.code == 2, result
    assert result.stderr == (f"Error: {path}:3:3: '{'9' * 40}... (5,000 characters)' in column y "
                             "is too large for a double-precision float\n")
    # In a column the formula does not use, it is just text.
    assert value("grad", "a*x", "--data", path, "--at", "a=1", "--chunk-size", chunk) == 2.0
    # A long cell that is a finite number is that number.
    path = write(tmp_path, "long.csv", "x\n0." + "9" * 5000 + "\n")
    assert value("grad", "a*x", "--data", path, "--at", "a=1") == 1.0


@pytest.mark.parametrize("cell, words", [
    ("1e999", "'1e999' in column y is too large for a double-precision float"),
    ("-1e999", "'-1e999' in column y is too large for a double-precision float"),
    ("inf", "'inf' in column y is not a finite number"),
    ("-Infinity", "'-Infinity' in column y is not a finite number"),
    ("nan", "'nan' in column y is not a finite number"),
])
def test_non_finite_cells_are_input_errors_at_file_line_column(tmp_path, cell, words):
    path = write(tmp_path, "d.csv", f"x,y\n1,2\n3,{cell}\n")
    result = invoke("grad", "a*x + y", "--data", path, "--at", "a=1")
    assert result.code == 2, result
    assert result.stderr == f"Error: {path}:3:3: {words}\n"
    assert value("grad", "a*x", "--data", path, "--at", "a=1") == 4.0  # unused: fine


def test_a_data_error_never_ends_in_an_abort_at_exit():
    # Arrow's exit-time destructors aborted about 1 run in 25 of this one ("terminate called
    # without an active exception", status 134): adiff now leaves without them. Runs in
    # parallel, which made the abort likelier.
    from concurrent.futures import ThreadPoolExecutor

    def once(_):
        return adiff_process(["grad", "a*x", "--data", "-", "--at", "a=1"],
                             shell_input="(printf 'x\\n1\\n'; cat /dev/zero)")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(once, range(24)))
    for result in results:
        assert result.returncode == 2, result
        assert b"terminate" not in result.stderr, result
        assert result.stderr.decode().startswith("Error: <stdin>:3:1: a NUL byte (0x00)")
