"""``adiff grad`` through the front door: formats, options, input sources, colour, exit codes."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import autodiff_cli
import autodiff_cli.calculus.engine
from autodiff_cli.cli import cli
from autodiff_cli.cli import grad as cli_module

from .conftest import ROOT

VALUE = 2.0 + math.sin(1.0)  # x*y + sin(x) at x=1, y=2
DX = 2.0 + math.cos(1.0)


def _reject_constant(token):
    raise ValueError(f"non-standard JSON token {token}")


def strict_json(text: str):
    """Parse JSON, rejecting NaN/Infinity/-Infinity tokens."""
    return json.loads(text, parse_constant=_reject_constant)


def test_strict_json_helper_rejects_nan():
    with pytest.raises(ValueError):
        strict_json('{"a": NaN}')
    with pytest.raises(ValueError):
        strict_json('{"a": -Infinity}')


# --------------------------------------------------------------------- JSON


def test_json_document_per_contract(run):
    result = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json")
    assert result.code == 0, result
    assert result.stderr == ""
    assert result.stdout.endswith("}\n") and result.stdout.count("\n{") == 0
    doc = strict_json(result.stdout)
    assert {"expression", "at", "value", "gradient", "nodes", "check"} <= set(doc)
    assert doc["expression"] == "x*y + sin(x)"
    assert doc["at"] == {"x": 1.0, "y": 2.0}
    assert doc["value"] == VALUE
    assert doc["gradient"] == {"x": DX, "y": 1.0}
    assert list(doc["gradient"]) == ["x", "y"]
    for key in ("value",):
        assert type(doc[key]) is float
    assert all(type(v) is float for v in doc["at"].values())
    assert all(type(v) is float for v in doc["gradient"].values())


def test_json_nodes_per_contract(run):
    doc = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json").json()
    nodes = doc["nodes"]
    for node in nodes:
        assert {"id", "op", "label", "inputs", "value", "grad"} <= set(node)
        assert type(node["id"]) is str and type(node["op"]) is str and type(node["label"]) is str
        assert type(node["inputs"]) is list and all(type(i) is str for i in node["inputs"])
        assert type(node["value"]) is float and type(node["grad"]) is float
    assert [(n["id"], n["op"], n["label"], n["inputs"]) for n in nodes] == [
        ("n0", "var", "x", []),
        ("n1", "var", "y", []),
        ("n2", "mul", "", ["n0", "n1"]),
        ("n3", "sin", "", ["n0"]),
        ("n4", "add", "", ["n2", "n3"]),
    ]
    assert nodes[0] == {**nodes[0], "value": 1.0, "grad": DX}
    assert [n["value"] for n in nodes] == [1.0, 2.0, 2.0, math.sin(1.0), VALUE]
    assert [n["grad"] for n in nodes] == [DX, 1.0, 1.0, 1.0, 1.0]
    if "local" in nodes[0]:
        assert [n["local"] for n in nodes] == [[], [], [2.0, 1.0], [math.cos(1.0)], [1.0, 1.0]]


def test_json_check_per_contract(run):
    doc = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json").json()
    check = doc["check"]
    assert {"method", "step", "gradient", "abs_error", "rel_error", "ok"} <= set(check)
    assert check["method"] == "central"
    assert check["step"] == pytest.approx(6.06e-6, rel=1e-3)  # cbrt(machine epsilon)
    assert check["ok"] is True
    for key in ("gradient", "abs_error", "rel_error"):
        assert list(check[key]) == ["x", "y"]
        assert all(type(v) is float for v in check[key].values())
    assert check["gradient"]["x"] == pytest.approx(DX, abs=1e-8)
    assert check["gradient"]["y"] == pytest.approx(1.0, abs=1e-8)
    assert check["abs_error"]["x"] == abs(check["gradient"]["x"] - DX)
    assert check["abs_error"]["x"] < 1e-8


def test_json_is_strict_when_a_number_is_not_finite(run):
    # sqrt(0) has no derivative; no gradient flows there, so this succeeds, and its
    # local gradient is written as the string "nan", not as a NaN token.
    result = run("grad", "sqrt(0) + x", "--at", "x=1", "--format", "json")
    assert result.code == 0, result
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    doc = strict_json(result.stdout)
    sqrt_node = next(n for n in doc["nodes"] if n["op"] == "sqrt")
    assert sqrt_node["local"] == ["nan"]
    assert doc["gradient"] == {"x": 1.0}


def test_json_keeps_unicode_names(run):
    result = run("grad", "θ1^2", "--at", "θ1=3", "--format", "json")
    assert result.code == 0, result
    assert '"θ1"' in result.stdout
    assert result.json()["gradient"] == {"θ1": 6.0}


def test_json_without_variables(run):
    doc = run("grad", "2+3", "--format", "json").json()
    assert doc["value"] == 5.0 and doc["gradient"] == {} and doc["at"] == {}


def test_json_expression_is_the_program_as_given(run):
    program = "z = t0 + t1*x1  # score\n-log(sigmoid(z))"
    doc = run("grad", program, "--at", "t0=1,t1=1,x1=1", "--format", "json").json()
    assert doc["expression"] == program


# -------------------------------------------------------------------- plain


def test_plain_output_exact(run):
    result = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == f"value\t{VALUE!r}\nx\t{DX!r}\ny\t1.0\n"
    assert result.stderr == ""


def test_plain_output_without_variables(run):
    result = run("grad", "2^10", "--format", "plain")
    assert result.stdout == "value\t1024.0\n"


def test_plain_numbers_read_back_exactly(run):
    result = run("grad", "x/3 + y/7", "--at", "x=1,y=1", "--format", "plain")
    fields = dict(line.split("\t") for line in result.stdout.splitlines())
    assert float(fields["value"]) == 1 / 3 + 1 / 7
    assert float(fields["x"]) == 1 / 3 and float(fields["y"]) == 1 / 7


# -------------------------------------------------------------------- table


def _rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()]


def test_table_output(run):
    result = run("grad", "x*y + sin(x)", "--at", "x=1,y=2")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "f = x*y + sin(x)"
    assert lines[1] == "value 2.841470985   at x = 1, y = 2"
    rows = _rows(result.stdout)
    assert ["n0", "x", "var", "1", "2.5403"] in rows
    assert ["n1", "y", "var", "2", "1"] in rows
    assert ["n2", "mul", "n0,", "n1", "2", "2,", "1", "1"] in rows
    assert ["n3", "sin", "n0", "0.841471", "0.540302", "1"] in rows
    assert ["n4", "add", "n2,", "n3", "2.84147", "1,", "1", "1"] in rows
    grad_rows = [r for r in rows if r[:1] in (["x"], ["y"]) and "agree" in r]
    assert [r[:4] for r in grad_rows] == [["x", "1", "2.540302306", "2.540302306"],
                                         ["y", "2", "1", "1"]]
    assert all(r[-2:] == ["✓", "agree"] for r in grad_rows)
    assert "central differences, step h = 6.06e-06·max(1, |x|)" in result.stdout
    assert "\x1b[" not in result.stdout


def test_table_is_the_default_format(run):
    default = run("grad", "x*y", "--at", "x=1,y=2")
    table = run("grad", "x*y", "--at", "x=1,y=2", "--format", "table")
    assert default.stdout == table.stdout
    assert default.stdout.startswith("f = x*y\n")


def test_table_labels_name_the_statements(run):
    result = run("grad", "b = x*2\nb + 1", "--at", "x=1")
    assert result.code == 0, result
    assert ["n2", "b", "mul", "n0,", "n1", "2", "2,", "1", "1"] in _rows(result.stdout)


# ------------------------------------------------------------------ --wrt


def test_wrt_restricts_the_gradient(run):
    doc = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--wrt", "y", "--format", "json").json()
    assert doc["gradient"] == {"y": 1.0}
    assert doc["at"] == {"x": 1.0, "y": 2.0}
    assert list(doc["check"]["gradient"]) == ["y"]


def test_wrt_order_and_plain(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", "--wrt", "y,x", "--format", "plain")
    assert result.stdout == "value\t2.0\ny\t1.0\nx\t2.0\n"


def test_wrt_unknown_name_is_exit_2(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", "--wrt", "z", "--format", "plain")
    assert result.code == 2
    assert result.stderr == "Error: --wrt z: the formula has no input 'z'\nits inputs are: x, y\n"


def test_wrt_typo_suggests(run):
    result = run("grad", "alpha*beta", "--at", "alpha=1,beta=2", "--wrt", "alpah")
    assert result.code == 2
    assert result.stderr == "Error: --wrt alpah: the formula has no input 'alpah'\ndid you mean alpha?\n"


def test_wrt_empty_is_exit_2(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", "--wrt", "")
    assert result.code == 2
    assert result.stderr == "Error: --wrt needs input names, e.g. --wrt x,y\n"


# --------------------------------------------------------- --check / budget


def _over_budget_formula():
    """A sum over 100 inputs whose check would cost just over the budget."""
    inputs = 100
    nodes_needed = cli_module.FD_BUDGET // (2 * inputs) + 1
    terms = nodes_needed - inputs + 1  # 100 var nodes + (terms - 1) add nodes
    formula = " + ".join(f"x{k % inputs}" for k in range(terms))
    at = ",".join(f"x{k}=1" for k in range(inputs))
    nodes = inputs + terms - 1
    assert 2 * inputs * nodes > cli_module.FD_BUDGET
    return formula, at, nodes, terms


def test_check_is_skipped_over_the_budget_and_says_why(run):
    formula, at, nodes, terms = _over_budget_formula()
    cost = 2 * 100 * nodes
    reason = (f"it would cost {cost:,} node evaluations (2 × 100 inputs × {nodes:,} nodes), "
              f"over the budget of {cli_module.FD_BUDGET:,}; force it with --check, or use adiff check")
    result = run("grad", formula, "--at", at, "--format", "json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["check"] == {"skipped": reason}
    assert result.stderr == f"Warning: finite-difference check skipped: {reason}\n"
    assert sum(doc["gradient"].values()) == terms


def test_check_over_the_budget_in_the_table(run):
    formula, at, _, _ = _over_budget_formula()
    result = run("grad", formula, "--at", at)
    assert result.code == 0
    assert "finite-difference check skipped: it would cost" in result.stdout
    assert "central diff." not in result.stdout


def test_check_forced_over_the_budget(run):
    formula, at, _, _ = _over_budget_formula()
    result = run("grad", formula, "--at", at, "--format", "json", "--check")
    assert result.code == 0
    check = result.json()["check"]
    assert check["ok"] is True and len(check["gradient"]) == 100
    assert result.stderr == ""


def test_no_check(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", "--format", "json", "--no-check")
    assert result.code == 0
    assert result.json()["check"] == {"skipped": "turned off with --no-check"}
    assert result.stderr == ""  # turned off on purpose: no warning
    table = run("grad", "x*y", "--at", "x=1,y=2", "--no-check")
    assert "central diff." not in table.stdout


def test_check_is_on_by_default_under_the_budget(run):
    doc = run("grad", "x*y", "--at", "x=1,y=2", "--format", "json").json()
    assert doc["check"]["ok"] is True


# ------------------------------------------------------------------ --nodes


def _chain(n):
    return "x" + " + 1" * n  # 2n + 1 nodes


def test_table_bounds_node_rows_by_default(run):
    result = run("grad", _chain(100), "--at", "x=1")
    assert result.code == 0
    node_rows = [r for r in _rows(result.stdout) if r and re.fullmatch(r"n\d+", r[0])]
    assert len(node_rows) == 60
    assert node_rows[0][0] == "n0" and node_rows[-1][0] == "n200"
    assert "141 of the nodes are not shown: use --nodes all, or --format json" in result.stdout


def test_nodes_n(run):
    result = run("grad", _chain(10), "--at", "x=1", "--nodes", "4")
    node_rows = [r[0] for r in _rows(result.stdout) if r and re.fullmatch(r"n\d+", r[0])]
    assert node_rows == ["n0", "n1", "n19", "n20"]
    assert "17 of the nodes are not shown" in result.stdout


def test_nodes_all(run):
    result = run("grad", _chain(100), "--at", "x=1", "--nodes", "all")
    node_rows = [r for r in _rows(result.stdout) if r and re.fullmatch(r"n\d+", r[0])]
    assert len(node_rows) == 201
    assert "not shown" not in result.stdout


def test_nodes_none(run):
    table = run("grad", _chain(3), "--at", "x=1", "--nodes", "none")
    assert not any(r and re.fullmatch(r"n\d+", r[0]) for r in _rows(table.stdout))
    doc = run("grad", _chain(3), "--at", "x=1", "--nodes", "none", "--format", "json").json()
    assert "nodes" not in doc
    assert doc["gradient"] == {"x": 1.0}


def test_json_keeps_every_node(run):
    doc = run("grad", _chain(100), "--at", "x=1", "--format", "json").json()
    assert len(doc["nodes"]) == 201
    doc = run("grad", _chain(100), "--at", "x=1", "--format", "json", "--nodes", "5").json()
    assert len(doc["nodes"]) == 201


@pytest.mark.parametrize("spec", ["0", "-1", "abc", "1.5", ""])
def test_nodes_bad_value(spec, run):
    result = run("grad", "x", "--at", "x=1", "--nodes", spec)
    assert result.code == 2
    assert result.stderr == f"Error: --nodes {spec}: expected a positive number, 'all' or 'none'\n"


# ------------------------------------------------ formulas that start with '-'


def test_formula_starting_with_minus(run):
    result = run("grad", "-log(sigmoid(z))", "--at", "z=1", "--format", "plain")
    assert result.code == 0, result
    sig = 1 / (1 + math.exp(-1.0))
    fields = {k: float(v) for k, v in (line.split("\t") for line in result.stdout.splitlines())}
    assert fields["value"] == pytest.approx(-math.log(sig), rel=1e-15)
    assert fields["z"] == pytest.approx(sig - 1, rel=1e-15)


@pytest.mark.parametrize("args", [
    ["grad", "-x", "--at", "x=2", "--format", "plain"],
    ["grad", "--at", "x=2", "-x", "--format", "plain"],
    ["grad", "--at", "x=2", "--format", "plain", "-x"],
    ["grad", "--at", "x=2", "--format", "plain", "--", "-x"],
    ["grad", "-x^2/2 + x", "--at", "x=2", "--format", "plain"],
])
def test_minus_formula_anywhere_on_the_line(args, run):
    result = run(*args)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[1].startswith("x\t")


def test_double_minus_formula_after_double_dash(run):
    result = run("grad", "--at", "x=2", "--format", "plain", "--", "--x")
    assert result.code == 0, result
    assert result.stdout == "value\t2.0\nx\t1.0\n"


def test_unknown_option_is_still_an_error(run):
    result = run("grad", "x", "--at", "x=1", "--bogus")
    assert result.code == 2
    assert "No such option '--bogus'" in result.stderr


# ------------------------------------------------------------- input sources


def test_expr_dash_reads_stdin(run):
    result = run("grad", "-", "--at", "x=3", "--format", "plain", input="x^2\n")
    assert result.code == 0, result
    assert result.stdout == "value\t9.0\nx\t6.0\n"


def test_stdin_program_with_comments(run):
    program = "# a program on stdin\nz = t0 + t1*x1\n-log(sigmoid(z))\n"
    result = run("grad", "-", "--at", "t0=1,t1=1,x1=1", "--format", "json", input=program)
    assert result.code == 0, result
    assert result.json()["expression"] == program


def test_file_option(run, tmp_path):
    path = tmp_path / "f.adiff"
    path.write_text("a = x + 1  # comment\na*a\n", encoding="utf-8")
    for flag in ("-f", "--file"):
        result = run("grad", flag, str(path), "--at", "x=2", "--format", "plain")
        assert result.code == 0, result
        assert result.stdout == "value\t9.0\nx\t6.0\n"


def test_file_with_bom_and_crlf(run, tmp_path):
    path = tmp_path / "bom.adiff"
    path.write_bytes("\ufeffa = x + 1\r\na*a\r\n".encode())
    result = run("grad", "-f", str(path), "--at", "x=2", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == "value\t9.0\nx\t6.0\n"


def test_file_dash_reads_stdin(run):
    result = run("grad", "-f", "-", "--at", "x=3", "--format", "plain", input="2*x")
    assert result.code == 0, result
    assert result.stdout == "value\t6.0\nx\t2.0\n"


def test_sample_file(run):
    result = run("grad", "-f", str(ROOT / "samples" / "fanout.adiff"), "--at", "x=0.5",
                 "--format", "plain")
    assert result.code == 0, result
    a = 1.5
    assert result.stdout == f"value\t{a * a + math.exp(a) + 0.5!r}\nx\t{2 * a + math.exp(a) + 1!r}\n"


def test_missing_file(run, tmp_path):
    path = tmp_path / "nope.adiff"
    result = run("grad", "-f", str(path), "--at", "x=1")
    assert result.code == 2
    assert result.stderr == f"Error: cannot read {path}: no such file\n"


def test_directory_as_file(run, tmp_path):
    result = run("grad", "-f", str(tmp_path), "--at", "x=1")
    assert result.code == 2
    assert result.stderr == f"Error: cannot read {tmp_path}: it is a directory\n"


def test_file_that_is_not_utf8(run, tmp_path):
    path = tmp_path / "latin1.adiff"
    path.write_bytes(b"x + \xff")
    result = run("grad", "-f", str(path), "--at", "x=1")
    assert result.code == 2
    assert result.stderr == f"Error: {path} is not valid UTF-8 (byte 0xff at offset 4)\n"


def test_both_expr_and_file(run, tmp_path):
    path = tmp_path / "f.adiff"
    path.write_text("x", encoding="utf-8")
    for args in (["x", "-f", str(path)], ["-f", str(path), "x"]):
        result = run("grad", *args, "--at", "x=1")
        assert result.code == 2
        assert result.stderr == "Error: give the formula either as EXPR or with -f/--file, not both\n"


def test_no_formula(run):
    result = run("grad", "--at", "x=1")
    assert result.code == 2
    assert result.stderr == ("Error: no formula given: pass EXPR, '-' for stdin, or -f PATH\n"
                             "e.g. adiff grad \"x*y + sin(x)\" --at x=1,y=2\n")


# ------------------------------------------------------------------- colour


def test_no_color(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", env={"NO_COLOR": "1", "FORCE_COLOR": None})
    assert result.code == 0
    assert "\x1b[" not in result.stdout


def test_force_color(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert result.code == 0
    assert "\x1b[" in result.stdout
    assert re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).startswith("f = x*y\n")


def test_colour_is_decided_per_invocation(run):
    """Consoles are created per call: the environment of each run counts."""
    plain_run = run("grad", "x", "--at", "x=1", env={"NO_COLOR": "1", "FORCE_COLOR": None})
    colour_run = run("grad", "x", "--at", "x=1", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    plain_again = run("grad", "x", "--at", "x=1", env={"NO_COLOR": "1", "FORCE_COLOR": None})
    assert "\x1b[" not in plain_run.stdout
    assert "\x1b[" in colour_run.stdout
    assert plain_again.stdout == plain_run.stdout


def test_force_color_colours_errors_on_stderr(run):
    result = run("grad", "log(-1)", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert result.code == 3
    assert result.stderr.startswith("\x1b[")
    assert re.sub(r"\x1b\[[0-9;]*m", "", result.stderr).startswith("Error: log is not defined")


def test_json_and_plain_never_have_colour(run):
    env = {"NO_COLOR": None, "FORCE_COLOR": "1"}
    json_run = run("grad", "x*y", "--at", "x=1,y=2", "--format", "json", env=env)
    plain_run = run("grad", "x*y", "--at", "x=1,y=2", "--format", "plain", env=env)
    assert "\x1b" not in json_run.stdout and "\x1b" not in plain_run.stdout
    strict_json(json_run.stdout)


# ------------------------------------------------------------- version, -m


def test_version(run):
    for flag in ("--version", "-V"):
        result = run(flag)
        assert result.code == 0
        assert result.stdout == f"adiff, version {autodiff_cli.__version__}\n"


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "grad", "x*y", "--at", "x=2,y=3",
                           "--format", "plain"], capture_output=True, text=True, timeout=120,
                          cwd="/", env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "value\t6.0\nx\t3.0\ny\t2.0\n"
    assert proc.stderr == ""


def test_python_dash_m_exit_codes():
    for args, code in ((["grad", "1/0"], 3), (["grad", "x +"], 2), (["--version"], 0)):
        proc = subprocess.run([sys.executable, "-m", "autodiff_cli", *args], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_broken_pipe_is_quiet():
    formula = "x" + " + 1" * 20_000
    code = ("import subprocess, sys\n"
            f"p = subprocess.Popen([sys.executable, '-m', 'autodiff_cli', 'grad', {formula!r}, '--at', 'x=1',"
            " '--format', 'json'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
            "p.stdout.read(10); p.stdout.close()\n"
            "err = p.stderr.read(); rc = p.wait()\n"
            "print(rc); sys.stdout.write(err.decode())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    rc, _, err = proc.stdout.partition("\n")
    assert int(rc) in (0, 141), proc.stdout
    assert err == ""


# ---------------------------------------------------------- internal errors


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


def test_internal_error_is_exit_70_with_one_line(run, monkeypatch):
    monkeypatch.setattr(autodiff_cli.calculus.engine, "evaluate", _boom)
    result = run("grad", "x", "--at", "x=1")
    assert result.code == 70
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: internal error (RuntimeError: boom). This is a bug in adiff {autodiff_cli.__version__}; "
        "please report it with the command that caused it (run with --debug for the traceback).\n")


def test_internal_error_with_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(autodiff_cli.calculus.engine, "evaluate", _boom)
    result = CliRunner().invoke(cli, ["--debug", "grad", "x", "--at", "x=1"], env={"NO_COLOR": "1"})
    assert result.exit_code == 70
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("Error: internal error (RuntimeError: boom)")


def test_keyboard_interrupt_is_exit_130(run, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(autodiff_cli.calculus.engine, "evaluate", interrupt)
    result = run("grad", "x", "--at", "x=1")
    assert result.code == 130
    assert result.stderr == "Interrupted.\n"


def test_usage_errors_are_exit_2(run):
    assert run("grad", "x", "--format", "xml").code == 2
    assert run("nosuchcommand").code == 2
    assert run("grad", "x", "--at").code == 2
