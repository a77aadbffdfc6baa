"""The graph and the engine: fan-out, rebinding, deep chains, determinism, evaluation errors, kinks.

End-to-end gradients are checked against Ridders-extrapolated central differences of the
engine's own forward pass (an independent check of the backward pass) under
``|ad - fd| <= 1e-7·|fd| + 1e-10``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from autodiff_cli import EvalError, evaluate, parse
from autodiff_cli.calculus.engine import value_at

from .conftest import ROOT


def ops_of(graph):
    return [op.name for op in graph.ops]


# ------------------------------------------------------------------ fan-out


def test_x_times_x_keeps_both_edges():
    graph = parse("x*x")
    assert ops_of(graph) == ["var", "mul"]
    assert graph.inputs == [(), (0, 0)]
    ev = evaluate(graph, {"x": 3.0})
    assert ev.value == 9.0
    assert ev.local[1] == (3.0, 3.0)
    assert ev.gradient == {"x": 6.0}


def test_x_plus_x():
    graph = parse("x+x")
    assert graph.inputs == [(), (0, 0)]
    assert evaluate(graph, {"x": 3.0}).gradient == {"x": 2.0}


def test_x_times_x_times_x():
    ev = evaluate(parse("x*x*x"), {"x": 2.0})
    assert ev.value == 8.0 and ev.gradient == {"x": 12.0}


def test_named_intermediate_used_twice():
    graph = parse("y = x+1; y*y")
    assert ops_of(graph) == ["var", "const", "add", "mul"]
    assert graph.inputs[3] == (2, 2)
    assert graph.labels[2] == "y"
    ev = evaluate(graph, {"x": 2.0})
    assert ev.value == 9.0
    # d f / d node for every node, the constant 1 included: f = (x + c)^2 gives 2(x + c) for it.
    assert ev.grads == [6.0, 6.0, 6.0, 1.0]
    assert ev.gradient == {"x": 6.0}


def test_fan_out_through_the_cli_json(run):
    result = run("grad", "y = x+1; y*y", "--at", "x=2", "--format", "json")
    assert result.code == 0, result
    nodes = result.json()["nodes"]
    assert [n["inputs"] for n in nodes] == [[], [], ["n0", "n1"], ["n2", "n2"]]
    assert nodes[3]["local"] == [3.0, 3.0]
    assert [n["grad"] for n in nodes] == [6.0, 6.0, 6.0, 1.0]


def test_a_variable_used_in_several_places_is_one_node():
    graph = parse("x*y + sin(x) - x")
    assert ops_of(graph).count("var") == 2
    ev = evaluate(graph, {"x": 1.0, "y": 2.0})
    assert ev.gradient["x"] == pytest.approx(2.0 + math.cos(1.0) - 1.0, rel=1e-15)


def test_gradients_do_not_accumulate_across_evaluations():
    graph = parse("x*x")
    first = evaluate(graph, {"x": 3.0}).gradient
    second = evaluate(graph, {"x": 3.0}).gradient
    assert first == second == {"x": 6.0}


def test_unused_input_of_a_const_subgraph_gets_zero():
    ev = evaluate(parse("x*0 + 2"), {"x": 5.0})
    assert ev.value == 2.0 and ev.gradient == {"x": 0.0}


# --------------------------------------------------------------- rebinding


def test_rebinding_an_input_differentiates_wrt_the_input():
    graph = parse("x = x + 1; x*x")
    assert list(graph.variables) == ["x"]
    ev = evaluate(graph, {"x": 2.0})
    assert ev.value == 9.0 and ev.gradient == {"x": 6.0}


def test_rebinding_twice_and_the_later_binding_wins():
    ev = evaluate(parse("a = x*2\nb = a\na = a*3\na + b"), {"x": 1.0})
    assert ev.value == 8.0 and ev.gradient == {"x": 8.0}


# ------------------------------------------------------------- node order


def test_node_ids_are_creation_order_and_topological():
    graph = parse("z = t0 + t1*x1; p = sigmoid(z); -(y*log(p) + (1 - y)*log(1 - p))")
    for i, ins in enumerate(graph.inputs):
        assert all(j < i for j in ins), (i, ins)
    assert graph.output == len(graph) - 1


def test_node_order_is_deterministic_within_a_process():
    source = "a = x*y; b = sin(a) + cos(x); max(a, b, y) + logsumexp(a, b)"
    first, second = parse(source), parse(source)
    assert ops_of(first) == ops_of(second)
    assert first.inputs == second.inputs
    assert first.labels == second.labels
    assert list(first.variables) == ["x", "y"]


def test_node_order_is_deterministic_across_processes():
    """Set iteration order depends on PYTHONHASHSEED; node order must not."""
    formula = "a = x*y; b = sin(a) + cos(θ); max(a, b, y) + logsumexp(a, b, θ) + u*v*w"
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "NO_COLOR": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "autodiff_cli", "grad", formula,
             "--at", "x=1,y=2,θ=0.5,u=1,v=2,w=3", "--format", "json", "--no-check"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0])
    assert list(doc["gradient"]) == ["x", "y", "θ", "u", "v", "w"]


# ------------------------------------------------------------- deep chains


def test_10000_deep_left_chain():
    n = 10_000
    graph = parse("x" + " + 1" * n)
    assert len(graph) == 2 * n + 1
    ev = evaluate(graph, {"x": 0.5})
    assert ev.value == 0.5 + n and ev.gradient == {"x": 1.0}


def test_10000_deep_right_chain():
    n = 10_000
    graph = parse("1 + (" * n + "x" + ")" * n)
    ev = evaluate(graph, {"x": 0.5})
    assert ev.value == 0.5 + n and ev.gradient == {"x": 1.0}


def test_10000_statement_chain():
    n = 10_000
    source = "a = x\n" + "a = a * 1.0001\n" * n + "a"
    ev = evaluate(parse(source), {"x": 2.0})
    assert ev.value == pytest.approx(2.0 * 1.0001 ** n, rel=1e-11)
    assert ev.gradient["x"] == pytest.approx(1.0001 ** n, rel=1e-11)


def test_10000_nested_unary_functions():
    n = 10_000
    graph = parse("tanh(" * n + "x" + ")" * n)
    ev = evaluate(graph, {"x": 0.3})
    x, d = 0.3, 1.0
    for _ in range(n):
        x = math.tanh(x)
        d *= 1.0 - x * x
    assert ev.value == pytest.approx(x, rel=1e-14)
    assert ev.gradient["x"] == pytest.approx(d, rel=1e-10)


def test_10000_deep_chain_through_the_cli(run):
    n = 10_000
    formula = "-(" * n + "x" + ")" * n
    result = run("grad", formula, "--at", "x=2", "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert doc["value"] == 2.0 and doc["gradient"] == {"x": 1.0}
    assert len(doc["nodes"]) == n + 1
    table = run("grad", formula, "--at", "x=2")
    assert table.code == 0, table
    assert f"{n + 1 - 60:,} of the nodes are not shown" in table.stdout


# ------------------------------------------------------------ evaluation errors

EVAL_ERRORS = [
    # (formula, --at, the exact stderr)
    ("log(-1)", None,
     "Error: log is not defined at -1: it needs x > 0 (at node n1)\n"
     "  log(-1)\n"
     "  ^^^^^^^\n"),
    ("log(x)", "x=-1",
     "Error: log is not defined at x = -1: it needs x > 0 (at node n1)\n"
     "  log(x)\n"
     "  ^^^^^^\n"),
    ("sqrt(-1)", None,
     "Error: sqrt is not defined at -1: it needs x >= 0 (at node n1)\n"
     "  sqrt(-1)\n"
     "  ^^^^^^^^\n"),
    ("1/0", None,
     "Error: division by zero at node n2: the divisor 0\n"
     "  1/0\n"
     "  ^^^\n"),
    ("x/(y-y)", "x=1,y=2",
     "Error: division by zero at node n3: the divisor y-y = 0\n"
     "  x/(y-y)\n"
     "  ^^^^^^^\n"),
    ("acosh(0.5)", None,
     "Error: acosh is not defined at 0.5: it needs x >= 1 (at node n1)\n"
     "  acosh(0.5)\n"
     "  ^^^^^^^^^^\n"),
    ("y = x - 1; 2 + log(y)", "x=1",
     "Error: log is not defined at y = 0: it needs x > 0 (at node n4)\n"
     "  y = x - 1; 2 + log(y)\n"
     "                 ^^^^^^\n"),
    ("exp(1000)", None,
     "Error: exp overflows at node n1: the result for 1000 is too large for a double-precision float\n"
     "  exp(1000)\n"
     "  ^^^^^^^^^\n"),
    ("exp(x)", "x=1000",
     "Error: exp overflows at node n1: the result for x = 1000 is too large for a "
     "double-precision float\n"
     "  exp(x)\n"
     "  ^^^^^^\n"),
    ("10^10^10", None,
     "Error: pow overflows at node n4: the result for 10, 10^10 = 1e+10 is too large for a "
     "double-precision float\n"
     "  10^10^10\n"
     "  ^^^^^^^^\n"),
    ("sqrt(x)", "x=0",
     "Error: the gradient is not finite at node n1 (sqrt): the local gradient of sqrt is not "
     "finite at x = 0\n"
     "  sqrt(x)\n"
     "  ^^^^^^^\n"
     "not finite: df/dx = nan\n"),
    ("a = x*0; 1 + sqrt(a)", "x=1",
     "Error: the gradient is not finite at node n4 (sqrt): the local gradient of sqrt is not "
     "finite at a = 0\n"
     "  a = x*0; 1 + sqrt(a)\n"
     "               ^^^^^^^\n"
     "not finite: df/dx = nan\n"),
]


@pytest.mark.parametrize("formula, at, expected", EVAL_ERRORS, ids=[f for f, _, _ in EVAL_ERRORS])
def test_evaluation_error_message(formula, at, expected, run):
    args = ["grad", formula, "--format", "json"] + (["--at", at] if at else [])
    result = run(*args)
    assert result.code == 3, result
    assert result.stdout == ""
    assert result.stderr == expected


#: How each op reads in an error message: its name, or for division the word.
OP_WORDS: dict[str, str] = {}  # messages name ops by their JSON op name

NON_FINITE = [
    # (formula, --at, node id, op, offending input value as shown): overflow, not a domain error
    ("exp(1000)", None, "n1", "exp", "1000"),
    ("10^10^10", None, "n4", "pow", "1e+10"),
    ("exp(x)*exp(x)", "x=400", "n3", "mul", "5.22147e+173"),
    ("x*1e200*1e200", "x=1", "n4", "mul", "1e+200"),
    ("x + 1.7e308 + 1.7e308", "x=0", "n4", "add", "1.7e+308"),
    ("cosh(x)", "x=1000", "n1", "cosh", "1000"),
    ("x^1000", "x=10", "n2", "pow", "10"),
    ("1/x", "x=1e-320", "n2", "div", "1e-320"),
]


@pytest.mark.parametrize("formula, at, node, op, shown", NON_FINITE, ids=[f for f, *_ in NON_FINITE])
def test_non_finite_value_is_exit_3_naming_node_op_and_value(formula, at, node, op, shown, run):
    args = ["grad", formula] + (["--at", at] if at else [])
    result = run(*args)
    assert result.code == 3, result
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ")
    assert f"node {node}" in first, first
    assert OP_WORDS.get(op, op) in first, f"the op {op!r} is not named: {first}"
    assert shown in first, first
    assert result.stderr.splitlines()[1] == "  " + formula


@pytest.mark.parametrize("formula, at", [
    ("1/x", "x=1e-200"),           # d/dx = -1/x^2 = -1e400 overflows
    ("sqrt(x)", "x=0"),
    ("x^0.5", "x=0"),
    ("cbrt(x)", "x=0"),
    ("asin(x)", "x=1"),
    ("acosh(x)", "x=1"),
    ("x^y", "x=0,y=0"),
    ("x^y", "x=-2,y=3"),
    ("atan2(y, x)", "x=0,y=0"),
])
def test_non_finite_gradient_is_exit_3(formula, at, run):
    result = run("grad", formula, "--at", at)
    assert result.code == 3, result
    assert result.stdout == ""
    assert result.stderr.startswith("Error: the gradient ")
    assert "\n  " + formula + "\n" in result.stderr


def test_evaluation_error_in_the_library():
    with pytest.raises(EvalError) as info:
        evaluate(parse("1 + log(x)"), {"x": 0.0})
    err = info.value
    assert err.exit_code == 3
    assert err.span == (4, 10)
    assert err.source == "1 + log(x)"


def test_evaluation_stops_at_the_first_bad_node(run):
    result = run("grad", "log(x) + sqrt(x)", "--at", "x=-1")
    assert result.code == 3
    assert result.stderr.startswith("Error: log is not defined at x = -1")


# ------------------------------------------------------------------ kinks

KINKS = [
    ("abs(x)", "x=0", "value\t0.0\nx\t0.0\n",
     "Warning: node n1 (abs) is at its kink (abs at 0), where it is not differentiable; "
     "convention: d|x|/dx = 0 at x = 0\n"),
    ("relu(x)", "x=0", "value\t0.0\nx\t0.0\n",
     "Warning: node n1 (relu) is at its kink (relu at 0), where it is not differentiable; "
     "convention: relu'(0) = 0\n"),
    ("max(x, y)", "x=1,y=1", "value\t1.0\nx\t0.5\ny\t0.5\n",
     "Warning: node n2 (max) is at its kink (max at 1, 1), where it is not differentiable; "
     "convention: at a tie the gradient is split evenly between the tied arguments\n"),
    ("min(x, y, z)", "x=2,y=2,z=3", "value\t2.0\nx\t0.5\ny\t0.5\nz\t0.0\n",
     "Warning: node n3 (min) is at its kink (min at 2, 2, 3), where it is not differentiable; "
     "convention: at a tie the gradient is split evenly between the tied arguments\n"),
    ("max(x, x)", "x=1", "value\t1.0\nx\t1.0\n",
     "Warning: node n1 (max) is at its kink (max at 1, 1), where it is not differentiable; "
     "convention: at a tie the gradient is split evenly between the tied arguments\n"),
]


@pytest.mark.parametrize("formula, at, stdout, stderr", KINKS, ids=[f for f, *_ in KINKS])
def test_kink_convention_with_a_warning(formula, at, stdout, stderr, run):
    result = run("grad", formula, "--at", at, "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == stdout
    assert result.stderr == stderr


def test_kink_in_json(run):
    result = run("grad", "abs(x) + y", "--at", "x=0,y=1", "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert doc["kinks"] == [{"node": "n1", "op": "abs", "convention": "d|x|/dx = 0 at x = 0"}]
    assert doc["gradient"] == {"x": 0.0, "y": 1.0}
    assert doc["check"]["ok"] is True


def test_no_kink_warning_away_from_the_kink(run):
    result = run("grad", "abs(x) + relu(x) + max(x, y)", "--at", "x=-1,y=2", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == "value\t3.0\nx\t-1.0\ny\t1.0\n"
    assert result.stderr == ""


# ---------------------------------------------- end to end vs finite differences


def _ridders(f, x, h):
    con, con2, ntab = 1.4, 1.96, 10
    a = [[0.0] * ntab for _ in range(ntab)]
    a[0][0] = (f(x + h) - f(x - h)) / (2 * h)
    err, ans = math.inf, a[0][0]
    for i in range(1, ntab):
        h /= con
        a[0][i] = (f(x + h) - f(x - h)) / (2 * h)
        fac = con2
        for j in range(1, i + 1):
            a[j][i] = (a[j - 1][i] * fac - a[j - 1][i - 1]) / (fac - 1)
            fac *= con2
            errt = max(abs(a[j][i] - a[j - 1][i]), abs(a[j][i] - a[j - 1][i - 1]))
            if errt <= err:
                err, ans = errt, a[j][i]
        if abs(a[i][i] - a[i - 1][i - 1]) >= 2 * err:
            break
    return ans, err


FORMULAS = [
    ("x*y + sin(x)", {"x": 1.0, "y": 2.0}),
    ("-log(sigmoid(t0 + t1*x1 + t2*x2))", {"t0": 1.0, "t1": 1.0, "x1": 1.0, "t2": 2.0, "x2": 2.0}),
    ("-1 * log(1 / (1 + exp(-1 * (θ1*x1 + θ2*x2 + θ0))))",
     {"θ0": 1.0, "θ1": 1.0, "x1": 1.0, "θ2": 2.0, "x2": 2.0}),
    ("z = t0 + t1*x1; p = sigmoid(z); -(y*log(p) + (1 - y)*log(1 - p))",
     {"t0": 0.3, "t1": -0.7, "x1": 1.5, "y": 0.25}),
    ("a = x + 1; b = a*a; b + exp(a) + x", {"x": 0.5}),
    ("x = x + 1; x*x*x", {"x": 0.3}),
    ("x^y", {"x": 1.7, "y": 2.3}),
    ("x^3 - 2*x^2 + x - 7", {"x": -1.3}),
    ("x^-2 + 2^-x", {"x": 0.7}),
    ("-x^2 + 2^3^x", {"x": 0.4}),
    ("sqrt(x^2 + y^2) - hypot(x, y) + atan2(y, x)", {"x": -0.6, "y": 0.8}),
    ("log(x, 2) + log2(x) + log10(x*y) + ln(y)", {"x": 3.0, "y": 0.2}),
    ("log1p(x) + expm1(x) + cbrt(x)", {"x": 0.4}),
    ("tan(x) + sec(x) + csc(x) + cot(x)", {"x": 0.9}),
    ("asin(x) + acos(x) + atan(x) + asec(1/x) + acsc(2/x) + acot(x)", {"x": 0.3}),
    ("sinh(x) * cosh(y) / tanh(x + y) + sech(x) + csch(y) + coth(x)", {"x": 0.6, "y": 1.1}),
    ("asinh(x) + acosh(x + 2) + atanh(x/2) + asech(x/2) + acsch(x) + acoth(x + 1.5)", {"x": 0.8}),
    ("sigmoid(x) * softplus(y) - relu(x - y) + abs(x*y)", {"x": 1.2, "y": -0.4}),
    ("erf(x) * erfc(y)", {"x": 0.3, "y": -0.5}),
    ("max(x, y, z) + min(x, y, z) + logsumexp(x, y, z)", {"x": 0.1, "y": 0.5, "z": -0.2}),
    ("pow(x, 2) * pow(2, x) / (1 + x^2)", {"x": 1.1}),
    ("exp(-x^2/2) / sqrt(2*pi) + e^x", {"x": 0.25}),
    ("s = 0\ns = s + x\ns = s*s + y\ns = s*s + x*y\ns", {"x": 0.3, "y": 0.6}),
    ("softplus(x) - log(1 + exp(x)) + sigmoid(x)", {"x": 0.3}),
    ("logsumexp(a, b) - log(exp(a) + exp(b)) + a*b", {"a": 1.5, "b": -0.5}),
    ("θ1*x1 + θ2*x2 + x_1^2", {"θ1": 0.5, "x1": 2.0, "θ2": -1.0, "x2": 3.0, "x_1": 1.5}),
]


@pytest.mark.parametrize("formula, at", FORMULAS, ids=[f for f, _ in FORMULAS])
def test_gradient_matches_finite_differences(formula, at):
    graph = parse(formula)
    ev = evaluate(graph, at)
    assert set(ev.gradient) == set(at)
    for name, x in at.items():
        def f(v, name=name):
            return value_at(graph, {**at, name: v})
        fd, est = _ridders(f, x, 0.05 * max(1.0, abs(x)))
        assert est <= 1e-8 * max(1.0, abs(fd)), (name, fd, est)
        assert abs(ev.gradient[name] - fd) <= 1e-7 * abs(fd) + 1e-10, (name, ev.gradient[name], fd)


@pytest.mark.parametrize("formula, at", FORMULAS[:8], ids=[f for f, _ in FORMULAS[:8]])
def test_gradient_through_the_cli_agrees_with_the_library(formula, at, run):
    spec = ",".join(f"{k}={v!r}" for k, v in at.items())
    result = run("grad", formula, "--at", spec, "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    ev = evaluate(parse(formula), at)
    assert doc["value"] == ev.value
    assert doc["gradient"] == ev.gradient
    assert doc["check"]["ok"] is True
