"""adiff hessian through the front door: the contract's JSON, plain and table output, the
check block, eigenvalues and definiteness, kinks, errors and exit codes.

Numbers are held to independent truths: closed forms written by hand here, SymPy's exact
Hessian (tests/test_second.py's oracle) and NumPy-free eigenvalues from SymPy.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import sympy as sp

from autodiff_cli.language.parser import parse

from .conftest import ROOT
from .test_second import assert_matches, sympy_hessian


def hessian_json(run, *args, code=0):
    result = run("hessian", *args, "--format", "json")
    assert result.code == code, result
    return result, (result.json() if code == 0 else None)


# ---------------------------------------------------------------- the contract's JSON

def test_json_has_the_contract_shape(run):
    result, doc = hessian_json(run, "x*y + sin(x)", "--at", "x=1,y=2")
    assert list(doc)[:5] == ["expression", "at", "value", "gradient", "hessian"]
    assert doc["expression"] == "x*y + sin(x)"
    assert doc["at"] == {"x": 1.0, "y": 2.0}
    assert doc["value"] == 2.0 + math.sin(1.0)
    assert doc["gradient"] == {"x": 2.0 + math.cos(1.0), "y": 1.0}
    assert doc["hessian"] == {"x": {"x": -math.sin(1.0), "y": 1.0}, "y": {"x": 1.0, "y": 0.0}}
    check = doc["check"]
    assert list(check)[-1] == "ok" and check["ok"] is True
    assert check["method"] == "central" and check["summary"]["entries"] == 4
    assert check["summary"]["ok"] == 4
    assert check["worst"]["entry"] == "x,x" and check["worst"]["status"] == "ok"
    assert check["status"] == {"x": {"x": "ok", "y": "ok"}, "y": {"x": "ok", "y": "ok"}}
    assert math.isclose(check["hessian"]["x"]["x"], -math.sin(1.0), rel_tol=1e-9)
    assert result.stderr == ""
    json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))


def test_rows_and_columns_in_wrt_order(run):
    _, doc = hessian_json(run, "x^2*y + 3*y*z^2", "--at", "x=1,y=2,z=3", "--wrt", "z,x")
    assert list(doc["hessian"]) == ["z", "x"]
    assert [list(row) for row in doc["hessian"].values()] == [["z", "x"], ["z", "x"]]
    assert doc["hessian"] == {"z": {"z": 12.0, "x": 0.0}, "x": {"z": 0.0, "x": 4.0}}
    assert list(doc["gradient"]) == ["z", "x"]
    assert list(doc["check"]["hessian"]) == ["z", "x"]
    assert doc["at"] == {"x": 1.0, "y": 2.0, "z": 3.0}  # every input's value, as grad shows


@pytest.mark.parametrize("source, at", [
    ("exp(x)*cos(y) + x^2*y^3", {"x": 0.3, "y": -1.1}),
    ("-log(sigmoid(t0 + t1*x1))", {"t0": 0.5, "t1": -2.0, "x1": 1.5}),
    ("logsumexp(x, y, x*y) + atan2(y, x)", {"x": 0.7, "y": 0.2}),
])
def test_json_matches_sympy_and_is_symmetric(run, source, at):
    spec = ",".join(f"{k}={v!r}" for k, v in at.items())
    _, doc = hessian_json(run, source, "--at", spec)
    names = list(doc["hessian"])
    got = [[doc["hessian"][a][b] for b in names] for a in names]
    assert_matches(got, sympy_hessian(parse(source), at, names), source)
    assert all(got[i][j] == got[j][i] for i in range(len(names)) for j in range(len(names)))
    assert doc["symmetric"] is True and doc["asymmetry"] <= 1e-9
    assert doc["check"]["ok"] is True


def test_the_lecture_loss_hessian_is_rank_one(run):
    """One example's logistic loss: H = σ(1 - σ)·x xᵀ with x = (1, x1, x2) -- one positive
    eigenvalue σ(1 - σ)·|x|², the others zero: positive semi-definite."""
    _, doc = hessian_json(run, "-f", "samples/lecture.adiff", "--at", "θ0=1,θ1=1,x1=1,θ2=2,x2=2",
                          "--wrt", "θ0,θ1,θ2")
    z = 1 + 1 + 4
    s = 1 / (1 + math.exp(-z))
    x = {"θ0": 1.0, "θ1": 1.0, "θ2": 2.0}
    for a in x:
        for b in x:
            assert math.isclose(doc["hessian"][a][b], s * (1 - s) * x[a] * x[b], rel_tol=1e-12)
    assert math.isclose(doc["eigenvalues"][-1], s * (1 - s) * 6, rel_tol=1e-12)
    d = doc["definiteness"]
    assert (d["matrix"], d["point"], d["critical"]) == ("positive semi-definite", "not critical",
                                                        False)
    assert "2 of the 3 eigenvalues are zero" in d["text"]


# ---------------------------------------------------------------- definiteness

@pytest.mark.parametrize("source, at, matrix, point", [
    ("x^2 + 3*y^2 + x*y", "x=0,y=0", "positive definite", "minimum"),
    ("-(x^2 + y^2) + x*y", "x=0,y=0", "negative definite", "maximum"),
    ("x^2 - y^2", "x=0,y=0", "indefinite", "saddle"),
    ("x^4 + y^2", "x=0,y=0", "positive semi-definite", "degenerate"),
    ("x^3", "x=0", "zero", "degenerate"),
    ("x^2 - y^2", "x=1,y=0", "indefinite", "not critical"),
])
def test_definiteness(run, source, at, matrix, point):
    _, doc = hessian_json(run, source, "--at", at)
    d = doc["definiteness"]
    assert (d["matrix"], d["point"]) == (matrix, point)
    names = list(doc["hessian"])
    truth = sorted(float(v) for v in sp.Matrix(
        [[doc["hessian"][a][b] for b in names] for a in names]).eigenvals(multiple=True))
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
               for a, b in zip(doc["eigenvalues"], truth))
    assert d["rule"] == ("an eigenvalue counts as zero when |λ| ≤ 1e-10·max|λ|; the point is "
                         "critical when every |∂f/∂x| ≤ 1e-08")


def test_the_saddle_sample(run):
    _, doc = hessian_json(run, "-f", "samples/saddle.adiff", "--at", "x=1.6,y=-1.2")
    assert doc["definiteness"]["point"] == "saddle"
    assert [math.isclose(a, b, rel_tol=1e-15) for a, b in
            zip(doc["eigenvalues"], (-math.sqrt(5), math.sqrt(5)))] == [True, True]
    h = doc["hessian"]
    assert (h["x"]["x"], h["x"]["y"], h["y"]["x"]) == (2.0, 1.0, 1.0)
    assert math.isclose(h["y"]["y"], -2.0, rel_tol=1e-15)
    assert all(abs(g) <= 1e-15 for g in doc["gradient"].values())


# ---------------------------------------------------------------- plain and table

def test_plain(run):
    result = run("hessian", "x*y*z", "--at", "x=1,y=2,z=3", "--wrt", "z,x", "--format", "plain")
    assert result.code == 0 and result.stderr == ""
    assert result.stdout == (
        "value\t6.0\n"
        "gradient\tz\t2.0\n"
        "gradient\tx\t6.0\n"
        "hessian\tz\tz\t0.0\n"
        "hessian\tz\tx\t2.0\n"
        "hessian\tx\tz\t2.0\n"
        "hessian\tx\tx\t0.0\n"
        "eigenvalue\t1\t-2.0\n"
        "eigenvalue\t2\t2.0\n"
        "definiteness\tindefinite\n"
        "point\tnot critical\n"
        "check\tok\n")


def test_table(run):
    result = run("hessian", "-f", "samples/saddle.adiff", "--at", "x=1.6,y=-1.2",
                 env={"COLUMNS": "100"})
    assert result.code == 0 and result.stderr == ""
    out = result.stdout
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == "f = (x - 1)^2 - (y + 2)^2 + x*y"
    assert lines[1] == "value -2.2   at x = 1.6, y = -1.2"
    assert "Hessian ∂²f/∂row∂column (forward-over-reverse: exact, no finite differences)" in lines
    assert "  x   2    1" in lines and "  y   1   -2" in lines
    assert "Eigenvalues: -2.23607, 2.23607" in lines
    assert "A saddle point: the gradient is zero and the eigenvalues have both signs." in lines
    assert sum("✓ agree" in line for line in lines) == 4


def test_a_wide_matrix_is_printed_in_blocks_of_columns(run):
    names = [f"x{k}" for k in range(12)]
    source = " + ".join(f"{a}*{b}*1.2345678" for a, b in zip(names, names[1:])) + " + x0^2"
    at = ",".join(f"{n}=0.5" for n in names)
    result = run("hessian", source, "--at", at, "--no-check", env={"COLUMNS": "80"})
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert any("columns 1–" in line and "of 12" in line for line in lines)
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert "  x0            2   1.2345678           0" in result.stdout  # never cut
    assert not any("…" in line for line in lines if line.startswith("  x"))


# ---------------------------------------------------------------- the check block

def test_no_check(run):
    _, doc = hessian_json(run, "x*y", "--at", "x=1,y=2", "--no-check")
    assert doc["check"] == {"skipped": "turned off with --no-check", "ok": None}
    result = run("hessian", "x*y", "--at", "x=1,y=2", "--no-check")
    assert "finite-difference check skipped: turned off with --no-check" in result.stdout


def test_the_check_is_budgeted_like_grads(run):
    # 2 × 100 inputs × 5,100 nodes > 1,000,000 node evaluations
    names = [f"x{k}" for k in range(100)]
    source = " + ".join(f"sin({n})" for n in names * 25) + " + 0"
    at = ",".join(f"{n}=0.1" for n in names)
    result = run("hessian", source, "--at", at, "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert doc["check"]["ok"] is None and "over the budget of 1,000,000" in doc["check"]["skipped"]
    assert result.stderr.startswith("Warning: finite-difference check skipped: it would cost ")
    assert "use adiff check --order 2" in result.stderr
    assert math.isclose(doc["hessian"]["x3"]["x3"], -25 * math.sin(0.1), rel_tol=1e-12)
    assert doc["hessian"]["x3"]["x4"] == 0.0


def test_a_kink_is_warned_about_and_checked_as_a_kink(run):
    result, doc = hessian_json(run, "abs(x)*y + y^2", "--at", "x=0,y=1")
    assert doc["hessian"] == {"x": {"x": 0.0, "y": 0.0}, "y": {"x": 0.0, "y": 2.0}}
    assert doc["gradient"] == {"x": 0.0, "y": 2.0}  # d|x|/dx = 0 at 0
    assert result.stderr == (
        "Warning: node n1 (abs) is at its kink (abs at 0), where it is not "
        "differentiable; convention: d|x|/dx = 0 at x = 0\n"
        "Warning: at a kink the Hessian takes the second derivative of a piecewise-linear op "
        "(abs, relu, max, min) as 0, its value on both sides\n")
    (kink,) = doc["kinks"]
    assert kink["node"] == "n1" and kink["op"] == "abs" and "0 on both sides" in kink["second"]
    status = doc["check"]["status"]
    assert status["x"]["x"] == status["x"]["y"] == status["y"]["x"] == "kink"
    assert status["y"]["y"] == "ok"
    assert doc["check"]["ok"] is True  # a kink is not a disagreement (grad's column alike)


def test_a_disagreement_is_warned_about(run, monkeypatch):
    """A planted error in the tangent pass only: the check block catches it."""
    from autodiff_cli.calculus import second
    from autodiff_cli.calculus.backends import Dual
    from autodiff_cli.core.ops import OPS

    value_of, _ = second._tangent_rules(OPS["sin"])
    monkeypatch.setitem(second._TANGENT, OPS["sin"],
                        (value_of, lambda a, out: (Dual(math.cos(a.re), 0.0),)))
    result, doc = hessian_json(run, "sin(x)*y", "--at", "x=0.5,y=2")
    assert doc["check"]["ok"] is False
    assert doc["check"]["worst"]["entry"] == "x,x"
    assert doc["check"]["worst"]["status"] == "mismatch"
    assert result.stderr == ("Warning: finite differences of the gradient disagree with the "
                             "Hessian for x,x; see the check table, or run adiff check "
                             "--order 2\n")


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("args, message", [
    (["x +", "--at", "x=1"], "Error: syntax error"),
    (["x*y", "--at", "x=1"], "Error: no value for the variable y"),
    (["x*y", "--at", "x=1,y=2", "--wrt", "z"], "Error: --wrt z: the formula has no input 'z'"),
    (["sni(x)", "--at", "x=1"], "Error: unknown function 'sni'"),
])
def test_bad_input_exits_2(run, args, message):
    result = run("hessian", *args)
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


def test_an_evaluation_error_exits_3_naming_the_node(run):
    result = run("hessian", "log(x)*y", "--at", "x=-1,y=2")
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.startswith("Error: log is not defined at x = -1: it needs x > 0")


def test_a_second_derivative_that_is_not_finite_exits_3(run):
    result = run("hessian", "x^1.5 + y", "--at", "x=0,y=1")
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: the second derivative d²f/dxdx is not finite at node n2 (pow): the derivative "
        "along x of its local gradient with respect to input 1 is not finite at x = 0, 1.5",
        "  x^1.5 + y",
        "  ^^^^^",
        "the gradient is finite here, but it changes without bound along x",
    ]


def test_no_inputs(run):
    _, doc = hessian_json(run, "2 + 3")
    assert doc["hessian"] == {} and doc["gradient"] == {} and doc["eigenvalues"] == []
    assert doc["definiteness"] is None and doc["check"]["ok"] is True
    result = run("hessian", "2 + 3")
    assert "no gradient and no Hessian" in result.stdout


def test_a_formula_that_starts_with_a_minus(run):
    _, doc = hessian_json(run, "-log(sigmoid(z))", "--at", "z=1")
    s = 1 / (1 + math.exp(-1.0))
    assert math.isclose(doc["hessian"]["z"]["z"], s * (1 - s), rel_tol=1e-15)


# ---------------------------------------------------------------- a real process

def test_a_real_process_and_no_rich_for_json():
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autodiff_cli", "hessian",
                           "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["hessian"]["x"]["y"] == 1.0
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "autodiff_cli.calculus.second" in imported
    assert not any(m == "rich" or m.startswith("rich.") for m in imported)


# ---------------------------------------------------------------- widths

@pytest.mark.parametrize("width", (0, 20, 40, 80, 200))
def test_no_number_is_ever_cut(run, width, monkeypatch):
    """Every entry, gradient and check estimate whole at any width (as tests/test_render_width.py
    holds the other commands' tables)."""
    from autodiff_cli.render import format_number

    from .test_render_width import CUT, NUMBER

    monkeypatch.chdir(ROOT)
    args = ("hessian", "-f", "samples/lecture.adiff", "--at", "θ0=1,θ1=1,x1=1,θ2=2,x2=2")
    doc = run(*args, "--format", "json").json()
    result = run(*args, env={"COLUMNS": str(width)})
    assert result.code == 0
    out = result.stdout
    assert not CUT.search(out), out
    tokens = set(NUMBER.findall(out))
    for row in doc["hessian"].values():
        assert all(format_number(h, 8) in tokens for h in row.values()), out
    assert all(format_number(g, 10) in tokens for g in doc["gradient"].values()), out
    assert all(format_number(x) in tokens for x in doc["eigenvalues"]), out
    checked = [e for row in doc["check"]["hessian"].values() for e in row.values()]
    if len(checked) <= 16:
        assert all(format_number(x, 10) in tokens for x in checked), out
    if width == 0:
        assert out == run(*args, env={"COLUMNS": "80"}).stdout


def test_a_big_matrix_is_left_to_plain_and_json(run):
    names = [f"x{k}" for k in range(31)]
    source = " + ".join(f"{n}^2" for n in names)
    at = ",".join(f"{n}=1" for n in names)
    result = run("hessian", source, "--at", at, env={"COLUMNS": "100"})
    assert result.code == 0
    assert "The Hessian is 31 × 31: too big for a table; --format plain or json has every " \
           "entry." in " ".join(result.stdout.split())
    assert "A local minimum: the gradient is zero" not in result.stdout  # gradient 2, not 0
    plain = run("hessian", source, "--at", at, "--format", "plain").stdout.splitlines()
    assert sum(line.startswith("hessian\t") for line in plain) == 31 * 31
    assert "hessian\tx30\tx30\t2.0" in plain and "hessian\tx0\tx30\t0.0" in plain


def test_several_outputs_are_refused(run):
    result = run("hessian", "r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta", "--at", "x=1,y=2")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: the formula has 2 outputs (r, theta); adiff hessian "
                                    "needs one\n")
    assert "adiff jacobian" in result.stderr
    result = run("check", "x*y, x+y", "--at", "x=1,y=2", "--order", "2")
    assert result.code == 2 and "adiff check needs one" in result.stderr
