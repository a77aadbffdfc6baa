"""adiff check --order 2 through the front door: the exact Hessian against finite differences
of the reverse-mode gradient, hand-written second derivatives (--expect x,y=EXPR), spec files
with order = 2, and the same statuses and exit codes as first derivatives.

Hand-written second derivatives here are written by SymPy (``sympy.diff``, printed in a
syntax adiff reads), so a passing --expect is an independent oracle's agreement.
"""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET

import pytest
import sympy as sp

from .conftest import ROOT
from .formulas import smooth_case


def check(run, *args, code=0):
    result = run("check", *args, "--order", "2", "--format", "json")
    assert result.code == code, result
    return result, result.json()


def _sympy_text(expr) -> str:
    return sp.sstr(expr).replace("**", "^")


# ---------------------------------------------------------------- a point

def test_a_point_has_one_entry_per_pair_with_repetition(run):
    result, doc = check(run, "x^2*y + sin(x*y)", "--at", "x=1,y=2")
    assert doc["ok"] is True and doc["order"] == 2
    assert doc["of"].startswith("the Hessian (forward-over-reverse) against finite differences")
    [case] = doc["cases"]
    assert case["order"] == 2
    assert list(case["hessian"]) == ["x,x", "x,y", "y,y"]
    x, y = 1.0, 2.0
    truth = {"x,x": 2 * y - y * y * math.sin(x * y),
             "x,y": 2 * x + math.cos(x * y) - x * y * math.sin(x * y),
             "y,y": -x * x * math.sin(x * y)}
    for key, t in truth.items():
        assert math.isclose(case["hessian"][key], t, rel_tol=1e-14), key
        assert math.isclose(case["numeric"][key], t, rel_tol=1e-8), key
    assert case["gradient"] == {"x": 2 * x * y + y * math.cos(x * y),
                                "y": x * x + x * math.cos(x * y)}
    assert case["status"] == {"x,x": "ok", "x,y": "ok", "y,y": "ok"}
    assert set(case["methods"].values()) == {"central"}
    for key in truth:
        assert case["tolerance"][key] == pytest.approx(1e-8 + 1e-6 * abs(case["numeric"][key]))
    assert doc["summary"]["gradients"] == 3 and doc["summary"]["ok"] == 3
    assert result.stderr == ""


def test_wrt_orders_the_pairs(run):
    _, doc = check(run, "x*y*z", "--at", "x=1,y=2,z=3", "--wrt", "z,x")
    assert list(doc["cases"][0]["hessian"]) == ["z,z", "z,x", "x,x"]
    assert doc["cases"][0]["hessian"]["z,x"] == 2.0


def test_the_table_and_the_verdict(run):
    result = run("check", "x^2*y", "--at", "x=1,y=2", "--order", "2", env={"COLUMNS": "100"})
    assert result.code == 0
    out = result.stdout
    assert "∂²f (exact)" in out
    assert "OK: 3 of 3 second derivatives agree at 1 point." in out
    assert "the Hessian against central differences" in " ".join(out.split())


def test_plain_rows(run):
    result = run("check", "x^2*y", "--at", "x=1,y=2", "--order", "2", "--format", "plain")
    assert result.code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines() if not line.startswith("#")]
    assert [(r[2], r[3], r[4]) for r in rows] == [("x,x", "ok", "4.0"), ("x,y", "ok", "2.0"),
                                                  ("y,y", "ok", "0.0")]


# ---------------------------------------------------------------- --expect x,y=EXPR

def test_sympy_written_second_derivatives_pass(run):
    x, y = sp.symbols("x y")
    f = sp.exp(x) * sp.sin(y) + x ** 3 * y ** 2
    expects = []
    for a, b in ((x, x), (x, y), (y, y)):
        expects += ["--expect", f"{a},{b}={_sympy_text(sp.diff(f, a, b))}"]
    result, doc = check(run, "exp(x)*sin(y) + x^3*y^2", "--samples", "25", "--range",
                        "x=-1:1,y=-2:2", *expects)
    assert doc["ok"] is True and doc["summary"]["points"] == 25
    assert all(set(p["expected"]) == {"x,x", "x,y", "y,y"} for p in doc["cases"])
    assert all(err <= 1e-12 * max(1.0, abs(p["hessian"][k]))
               for p in doc["cases"] for k, err in p["expect_abs_error"].items())


def test_a_wrong_second_derivative_is_caught_and_named(run):
    result, doc = check(run, "x^2*y", "--at", "x=1,y=2", "--expect", "y,x=x", code=1)
    [case] = doc["cases"]
    assert case["status"] == {"x,x": "ok", "x,y": "expect-mismatch", "y,y": "ok"}
    assert case["expected"] == {"x,y": 1.0}  # written y,x: the same entry
    assert doc["worst"]["input"] == "x,y" and doc["worst"]["hessian"] == 2.0
    table = run("check", "x^2*y", "--at", "x=1,y=2", "--order", "2", "--expect", "y,x=x",
                env={"COLUMNS": "100"})
    assert table.code == 1
    text = " ".join(table.stdout.split())
    assert ("worst: d²f/dxdy at (x=1, y=2): wrong expected second derivative: the expected "
            "second derivative 'x' is 1, but the Hessian (forward-over-reverse) gives 2") in text


@pytest.mark.parametrize("args, message", [
    (["x*y", "--at", "x=1,y=2", "--order", "2", "--expect", "x=y"],
     "Error: --expect x=y: with --order 2, expected NAME,NAME=EXPR, a second derivative"),
    (["x*y", "--at", "x=1,y=2", "--expect", "x,y=1"],
     "Error: --expect x,y=1: expected NAME=EXPR, e.g. --expect x=\"2*x\"\n"
     "two names (x,y=EXPR) are a second derivative: add --order 2\n"),
    (["x*y", "--at", "x=1,y=2", "--order", "2", "--expect", "x,y=1", "--expect", "y,x=1"],
     "Error: --expect y,x: the same second derivative as x,y (the Hessian is symmetric)\n"
     "give one of them\n"),
    (["x*y", "--at", "x=1,y=2", "--order", "2", "--expect", "x,z=1"],
     "Error: --expect x,z: the formula has no input 'z'"),
    (["x*y*z", "--at", "x=1,y=2,z=3", "--order", "2", "--wrt", "x,y", "--expect", "x,z=1"],
     "Error: --expect x,z: z is not checked (--wrt x,y)"),
    (["x*y", "--at", "x=1,y=2", "--order", "2", "--method", "complex"],
     "Error: --method complex is not available with --order 2\nthe complex step of the "
     "gradient would need every local derivative rule over complex numbers"),
    (["x*y", "--at", "x=1,y=2", "--order", "2", "--per-node"],
     "Error: --per-node checks first derivatives node by node; it cannot be combined with "
     "--order 2\n"),
    (["x*y", "--at", "x=1", "--order", "2", "--data", "samples/logistic.csv"],
     "Error: --order 2 cannot be combined with --data"),
    (["x*y", "--at", "x=1,y=2", "--order", "3"], "Usage: adiff check"),
])
def test_bad_input_exits_2(run, args, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("check", *args)
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr


# ---------------------------------------------------------------- statuses and exit codes

def test_a_kink_fails_unless_allowed(run):
    result, doc = check(run, "abs(x)*y", "--at", "x=0,y=1", code=1)
    assert doc["cases"][0]["status"] == {"x,x": "kink", "x,y": "kink", "y,y": "ok"}
    assert doc["cases"][0]["kinks"][0]["op"] == "abs"
    _, doc = check(run, "abs(x)*y", "--at", "x=0,y=1", "--allow-kinks")
    assert doc["ok"] is True


def test_an_evaluation_error_at_a_given_point_exits_3(run):
    result = run("check", "x^1.5*y", "--at", "x=0,y=1", "--order", "2")
    assert result.code == 3
    assert result.stderr.startswith("Error: the second derivative d²f/dxdx is not finite at "
                                    "node n2 (pow)")
    result = run("check", "log(x)*y", "--at", "x=-1,y=1", "--order", "2")
    assert result.code == 3 and "log is not defined at x = -1" in result.stderr


def test_sampled_points_outside_the_domain_are_skipped(run):
    _, doc = check(run, "sqrt(x)*y", "--samples", "40", "--range", "x=-1:1,y=0:1")
    assert doc["ok"] is True and doc["skipped"] > 0
    assert doc["skipped"] + doc["summary"]["points"] == 40


@pytest.mark.parametrize("method", ["central", "forward", "backward", "richardson"])
def test_no_false_failures_on_random_smooth_formulas(run, method):
    rng = random.Random(11)
    for _ in range(12):
        source, at = smooth_case(rng, depth=3)
        result = run("check", source, "--samples", "5", "--seed", "2", "--order", "2",
                     "--method", method, "--format", "json",
                     "--range", ",".join(f"{n}={v - 0.05!r}:{v + 0.05!r}" for n, v in at.items()))
        if result.code == 3:
            continue  # every sampled point outside the domain
        assert result.code == 0, (source, result.stdout[-3000:])
        statuses = {s for p in result.json()["cases"] for s in p["status"].values()}
        assert statuses == {"ok"}, source


# ---------------------------------------------------------------- spec files

def test_the_second_derivatives_sample_spec(run, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    report = tmp_path / "second.xml"
    result = run("check", "--spec", "samples/second.toml", "--format", "json", "--junit",
                 str(report))
    assert result.code == 0, result
    doc = result.json()
    assert [(c["name"], c["order"], c["ok"]) for c in doc["suite"]] == [
        ("logistic curvature", 2, True), ("saddle", 2, True), ("softplus", 2, True)]
    saddle = [p for p in doc["cases"] if p["name"] == "saddle"][0]
    assert saddle["expected"] == {"x,x": 2.0, "x,y": 1.0, "y,y": -2.0}
    assert saddle["status"] == {"x,x": "ok", "x,y": "ok", "y,y": "ok"}
    logistic = [p for p in doc["cases"] if p["name"] == "logistic curvature"]
    assert len(logistic) == 50 and all(list(p["hessian"]) == ["t0,t0", "t0,t1", "t0,t2", "t1,t1",
                                                             "t1,t2", "t2,t2"] for p in logistic)
    root = ET.parse(report).getroot()
    assert root.get("failures") == "0" and root.get("tests") == "3"


def test_spec_order_keys(run, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("order = 2\n"
                    "[[case]]\nname = 'second'\nexpr = 'x^3*y'\nat = {x = 2, y = 1}\n"
                    "expect = {\"x,x\" = \"6*x*y\", \"y,x\" = \"3*x^2\"}\n"
                    "[[case]]\nname = 'first'\norder = 1\nexpr = 'x^3'\nat = {x = 2}\n"
                    "expect = {x = \"3*x^2\"}\n", encoding="utf-8")
    result = run("check", "--spec", str(path), "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert [(c["name"], c["order"]) for c in doc["suite"]] == [("second", 2), ("first", 1)]
    second, first = doc["cases"]
    assert second["expected"] == {"x,x": 12.0, "x,y": 12.0} and "hessian" in second
    assert first["gradient"] == {"x": 12.0} and "hessian" not in first
    table = run("check", "--spec", str(path), env={"COLUMNS": "120"})
    assert "central, order 2" in table.stdout and "derivatives ok" in table.stdout
    assert "OK: 4 of 4 derivatives agree at 2 points." in table.stdout


@pytest.mark.parametrize("body, message", [
    ("order = 3\n", "order = 3: expected 1 (gradients) or 2 (second derivatives)"),
    ("order = true\n", "order = True: expected 1 (gradients) or 2 (second derivatives)"),
    ("order = 2\nmethod = 'complex'\n", 'method = "complex" is not available with order = 2'),
    ("order = 2\nnodes = true\n", "nodes = true checks first derivatives node by node"),
    ("order = 2\nexpect = {x = '1'}\n", "--expect x: with order 2, name two inputs, e.g. x,y"),
    ("order = 2\nexpect = {'x,q' = '1'}\n", "--expect x,q: the formula has no input 'q'"),
    ("ordr = 2\n", "unknown key 'ordr'; did you mean 'order'?"),
])
def test_spec_errors_name_the_case(run, tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(f"[[case]]\nexpr = 'x*y'\nat = {{x = 1, y = 2}}\n{body}", encoding="utf-8")
    result = run("check", "--spec", str(path))
    assert result.code == 2
    assert message in result.stderr, result.stderr


def test_a_failing_order2_case_in_junit(run, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[[case]]\nname = 'wrong'\norder = 2\nexpr = 'x^2*y'\nat = {x = 1, y = 2}\n"
                    "expect = {\"x,y\" = \"x\"}\n", encoding="utf-8")
    report = tmp_path / "r.xml"
    result = run("check", "--spec", str(path), "--junit", str(report))
    assert result.code == 1
    failure = ET.parse(report).getroot().find(".//failure")
    assert failure.get("type") == "expect-mismatch"
    assert failure.get("message").startswith("d²f/dxdy at (x=1, y=2): wrong expected second "
                                             "derivative")
