"""Second derivatives (calculus/second.py) against SymPy's exact Hessian, at 50 digits.

The oracle: the formula's graph written as a SymPy expression (``to_sympy``, op by op,
nothing of adiff's calculus), ``sympy.hessian`` of it, evaluated by mpmath at 50 significant
digits at the exact float point. An entry agrees when

    |adiff - truth| <= 1e-12·|truth| + 1e-14·max|truth of the matrix|

-- relative error 1e-12, with a floor at the matrix's scale for entries that are exactly 0
(rounding leaves ~1e-16 there). Measured on 3,000 random smooth formulas of depth 4
(tests/formulas.py; 10,537 entries): the relative error is 2e-16 at the median and 3e-13 at
the 99th percentile, and every exact zero came out within 2e-15 of the matrix's scale.
Where the float evaluation itself is ill-conditioned (its value or gradient already off the
truth by more than 1e-12: cos of an argument ~1e50) the comparison is not made -- no float
Hessian can be accurate there (``well_conditioned``).
"""

from __future__ import annotations

import math
import random

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff_cli.calculus import engine, second
from autodiff_cli.calculus.backends import ArrayDual, Dual
from autodiff_cli.check.numeric import check_hessian
from autodiff_cli.errors import EvalError
from autodiff_cli.language.parser import parse

from .conftest import ROOT
from .formulas import smooth_case

RTOL = 1e-12
FLOOR = 1e-14
DPS = 50

_SAME_NAME = ("sin", "cos", "tan", "sec", "csc", "cot", "asin", "acos", "atan", "asec", "acsc",
              "sinh", "cosh", "tanh", "sech", "csch", "coth", "asinh", "acosh", "atanh",
              "asech", "acsch", "acoth", "exp", "log", "sqrt", "erf", "erfc")


def to_sympy(graph, symbols: dict):
    """The graph's output as a SymPy expression, node by node (a loop: nothing recurses)."""
    ex = [None] * len(graph)
    for i, op in enumerate(graph.ops):
        name = op.name
        a = [ex[k] for k in graph.inputs[i]]
        if name == "var":
            e = symbols[graph.labels[i]]
        elif name == "const":
            e = sp.Float(graph.consts[i], DPS)
        elif name == "add":
            e = a[0] + a[1]
        elif name == "sub":
            e = a[0] - a[1]
        elif name == "mul":
            e = a[0] * a[1]
        elif name == "div":
            e = a[0] / a[1]
        elif name == "neg":
            e = -a[0]
        elif name == "pow":
            e = a[0] ** a[1]
        elif name == "logb":
            e = sp.log(a[0]) / sp.log(a[1])
        elif name == "log2":
            e = sp.log(a[0]) / sp.log(2)
        elif name == "log10":
            e = sp.log(a[0]) / sp.log(10)
        elif name == "log1p":
            e = sp.log(1 + a[0])
        elif name == "expm1":
            e = sp.exp(a[0]) - 1
        elif name == "cbrt":  # the real cube root, smooth away from 0
            e = a[0] * (a[0] ** 2) ** sp.Rational(-1, 3)
        elif name == "acot":  # adiff's branch is continuous, values in (0, pi)
            e = sp.pi / 2 - sp.atan(a[0])
        elif name == "sigmoid":
            e = 1 / (1 + sp.exp(-a[0]))
        elif name == "softplus":
            e = sp.log(1 + sp.exp(a[0]))
        elif name == "logsumexp":
            e = sp.log(sum(sp.exp(x) for x in a))
        elif name == "hypot":
            e = sp.sqrt(a[0] ** 2 + a[1] ** 2)
        elif name == "atan2":
            e = sp.atan2(a[0], a[1])
        elif name in _SAME_NAME:
            e = getattr(sp, name)(a[0])
        else:
            raise KeyError(f"no SymPy form for {name}")
        ex[i] = e
    return ex[graph.output]


def _real(x):
    return mpmath.re(x) if isinstance(x, mpmath.mpc) else x


_MODULES = [{"atan2": lambda y, x: mpmath.atan2(_real(y), _real(x))}, "mpmath"]


def sympy_derivatives(graph, at: dict, names: list[str]):
    """SymPy's exact (value, gradient, Hessian) at ``at`` (in ``names`` order), at 50 digits."""
    symbols = {n: sp.Symbol(n) for n in graph.variables}
    expr = to_sympy(graph, symbols)
    xs = [symbols[n] for n in names]
    grad = [sp.diff(expr, x) for x in xs]
    hess = [[sp.diff(g, x) for x in xs] for g in grad]
    f = sp.lambdify([symbols[n] for n in graph.variables], [expr, grad, hess], modules=_MODULES)
    with mpmath.workdps(DPS):
        value, g, h = f(*[mpmath.mpf(at[n]) for n in graph.variables])
        return (float(_real(value)), [float(_real(x)) for x in g],
                [[float(_real(x)) for x in row] for row in h])


def sympy_hessian(graph, at: dict, names: list[str]) -> list[list[float]]:
    """SymPy's exact Hessian at ``at`` (rows and columns in ``names`` order), at 50 digits."""
    return sympy_derivatives(graph, at, names)[2]


def well_conditioned(graph, ev, at, names, truth) -> bool:
    """Whether the float evaluation itself is accurate at ``at``: the value and the
    reverse-mode gradient within 1e-12 of SymPy's. Where they are not (cos of an argument
    ~1e50, whose rounding alone moves it by many periods) no float Hessian can be, and the
    comparison would judge the formula's conditioning, not the second derivatives."""
    value, gradient, _ = truth
    got = [ev.grads[graph.variables[n]] for n in names]
    scale = max([abs(x) for x in gradient] + [0.0])
    return abs(ev.value - value) <= 1e-12 * abs(value) + 1e-300 and all(
        abs(a - b) <= 1e-12 * abs(b) + 1e-14 * scale for a, b in zip(got, gradient))


def assert_matches(got: list[list[float]], truth: list[list[float]], what=""):
    scale = max((abs(x) for row in truth for x in row), default=0.0)
    for i, (grow, trow) in enumerate(zip(got, truth)):
        for j, (g, t) in enumerate(zip(grow, trow)):
            assert abs(g - t) <= RTOL * abs(t) + FLOOR * scale, (what, i, j, g, t)


# ---------------------------------------------------------------- the oracle itself

def test_the_oracle_knows_a_hessian_by_hand():
    g = parse("x^3*y + sin(x*y)")
    x, y = 0.7, -1.3
    truth = [[6 * x * y - y * y * math.sin(x * y), 3 * x * x + math.cos(x * y) - x * y * math.sin(x * y)],
             [3 * x * x + math.cos(x * y) - x * y * math.sin(x * y), -x * x * math.sin(x * y)]]
    oracle = sympy_hessian(g, {"x": x, "y": y}, ["x", "y"])
    for i in range(2):
        for j in range(2):
            assert math.isclose(oracle[i][j], truth[i][j], rel_tol=1e-14)


# ---------------------------------------------------------------- exactness and symmetry

@pytest.mark.parametrize("source, at", [
    ("x*y + sin(x)", {"x": 1.0, "y": 2.0}),
    ("-log(sigmoid(z))", {"z": 1.0}),
    ("exp(x)*cos(y) + x^2*y^3", {"x": 0.3, "y": -1.1}),
    ("logsumexp(x, 2*y, x*y)", {"x": 0.2, "y": 0.4}),
    ("atan2(y, x) + hypot(x, y)", {"x": -1.5, "y": 0.25}),
    ("x^y", {"x": 1.7, "y": 2.3}),
    ("x/(y - x)^2 + log(x, y)", {"x": 2.5, "y": 4.0}),
    ("erf(x*y) - erfc(y)", {"x": 0.4, "y": 0.9}),
    ("t = x*y; u = t*t + x; sin(u) * t", {"x": 0.6, "y": 0.8}),
])
def test_hessian_matches_sympy(source, at):
    g = parse(source)
    s = second.hessian(g, at)
    assert_matches(s.matrix, sympy_hessian(g, at, s.names), source)
    assert s.symmetric
    assert all(s.matrix[i][j] == s.matrix[j][i] for i in range(len(s.names)) for j in range(i))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_random_smooth_formulas_match_sympy_and_are_symmetric(seed):
    source, at = smooth_case(random.Random(seed), depth=3)
    g = parse(source)
    try:
        s = second.hessian(g, at)
    except EvalError:
        return  # a second derivative that is not finite there (x^1.5 at 0): tested below
    assert s.symmetric, (source, s.asymmetry, s.raw)
    assert s.asymmetry <= second.SYM_RTOL
    n = len(s.names)
    assert all(s.matrix[i][j] == s.matrix[j][i] for i in range(n) for j in range(n))
    truth = sympy_derivatives(g, at, s.names)
    if well_conditioned(g, s.ev, at, s.names, truth):
        assert_matches(s.matrix, truth[2], source)


def test_the_tangent_pass_keeps_the_float_gradient_bit_for_bit():
    """The real parts of every pass are the float evaluation's own numbers: the gradient
    (and its conventions at kinks) is the one adiff grad prints."""
    rng = random.Random(7)
    for _ in range(200):
        source, at = smooth_case(rng, depth=4, piecewise=True)
        g = parse(source)
        ev = engine.evaluate(g, at)
        for k in g.variables.values():
            vals, loc = second.tangent_pass(g, ev.values, ev.local, k)
            grads = engine.backward(g, vals, loc, [])
            real = [x.re if isinstance(x, Dual) else x for x in grads]
            assert all(a == b or (a != a and b != b) for a, b in zip(real, ev.grads)), source


def test_rows_and_columns_follow_wrt():
    g = parse("x^2*y + 3*y*z^2")
    s = second.hessian(g, {"x": 1.0, "y": 2.0, "z": 3.0}, ["z", "x"])
    assert s.names == ["z", "x"]
    assert s.as_dict() == {"z": {"z": 12.0, "x": 0.0}, "x": {"z": 0.0, "x": 4.0}}


def test_no_inputs_no_matrix():
    s = second.hessian(parse("2 + 3"), {})
    assert s.matrix == [] and s.names == [] and second.curvature(s.matrix, []) is None


def test_an_input_used_many_times_deep_and_wide():
    # 10,000 nested ops: every walk is a loop
    g = parse("x" + " + sin(x)*y" * 3000)
    s = second.hessian(g, {"x": 0.5, "y": 2.0})
    c, si = math.cos(0.5), math.sin(0.5)
    assert math.isclose(s.entry("x", "x"), -3000 * 2.0 * si, rel_tol=1e-12)
    assert math.isclose(s.entry("x", "y"), 3000 * c, rel_tol=1e-12)
    assert s.entry("y", "y") == 0.0
    deep = parse("-" * 5000 + "x^3")
    assert second.hessian(deep, {"x": 2.0}).matrix == [[12.0]]


# ---------------------------------------------------------------- symmetry judged

def test_the_triangles_are_compared_not_assumed():
    raw = [[1.0, 2.0], [2.0 + 4e-9, 5.0]]  # a difference far above rounding
    matrix, asymmetry, symmetric, worst = second.symmetrised(raw)
    assert not symmetric and matrix == raw and worst == (0, 1)
    assert math.isclose(asymmetry, 4e-9 / 2.0, rel_tol=1e-6)
    raw = [[1.0, 2.0], [2.0 + 4.4e-16, 5.0]]  # rounding
    matrix, asymmetry, symmetric, _ = second.symmetrised(raw)
    assert symmetric and matrix[0][1] == matrix[1][0] == (2.0 + (2.0 + 4.4e-16)) / 2
    # ~0 entries are measured against a thousandth of the matrix's scale
    raw = [[100.0, 1e-15], [-1e-15, 1.0]]
    assert second.symmetrised(raw)[2]


def test_a_rule_that_is_not_a_derivative_breaks_the_symmetry():
    """Plant a mul rule whose local gradients are no function's (d/db a·b as 2a): the
    'gradient' (b, 2a) has an asymmetric Jacobian, and hessian says so instead of averaging.
    (A wrong rule of a unary op keeps the symmetry -- w(u)·∇u is the gradient of ∫w -- and is
    the first-derivative check's to catch.)"""
    from autodiff_cli.core import ops

    wrong = ops.OPS["mul"].replace(d=("b", "2*a"))
    g = parse("x*y")
    g.ops[:] = [wrong if op is ops.OPS["mul"] else op for op in g.ops]
    s = second.hessian(g, {"x": 0.5, "y": 1.5})
    assert s.raw == [[0.0, 1.0], [2.0, 0.0]]
    assert not s.symmetric and s.matrix == s.raw and s.asymmetry == 0.5
    assert s.worst_pair == (0, 1)


def test_symmetry_is_exact_to_rounding_in_the_lecture_loss():
    g = parse((ROOT / "samples" / "logistic_program.adiff").read_text(encoding="utf-8"))
    at = {"t0": 1.0, "t1": 1.0, "x1": 1.0, "t2": 2.0, "x2": 2.0, "y": 1.0}
    s = second.hessian(g, at)
    assert s.symmetric and s.asymmetry <= 1e-15


# ---------------------------------------------------------------- kinks

@pytest.mark.parametrize("source, at, truth", [
    # away from the kink a piecewise-linear op has second derivative 0
    ("abs(x)*y", {"x": -0.5, "y": 2.0}, [[0.0, -1.0], [-1.0, 0.0]]),
    ("relu(x - 1)*y", {"x": 2.0, "y": 3.0}, [[0.0, 1.0], [1.0, 0.0]]),
    ("max(x, y)^2", {"x": 1.5, "y": 0.5}, [[2.0, 0.0], [0.0, 0.0]]),
    ("min(x*y, 1)", {"x": 2.0, "y": 3.0}, [[0.0, 0.0], [0.0, 0.0]]),
    ("sign(x)*y^2 + step(y)*x^2", {"x": -1.0, "y": 2.0}, [[2.0, 0.0], [0.0, -2.0]]),
    # at the kink: the first derivative's convention, and 0 through the op
    ("abs(x)*y", {"x": 0.0, "y": 2.0}, [[0.0, 0.0], [0.0, 0.0]]),
    ("relu(x)^2 + x*y", {"x": 0.0, "y": 1.0}, [[0.0, 1.0], [1.0, 0.0]]),
    ("max(x, y)*x", {"x": 1.0, "y": 1.0}, [[1.0, 0.5], [0.5, 0.0]]),
    ("hypot(x, y)", {"x": 0.0, "y": 0.0}, [[0.0, 0.0], [0.0, 0.0]]),
])
def test_kinks(source, at, truth):
    g = parse(source)
    s = second.hessian(g, at)
    assert s.matrix == truth
    ev = s.ev
    on_kink = any(g.ops[i].kink(*[ev.values[j] for j in g.inputs[i]]) for i in g.kink_nodes)
    assert bool(s.kinks) == on_kink


def test_at_the_kink_the_gradient_keeps_its_convention():
    g = parse("abs(x) + relu(y) + max(x, y)")
    s = second.hessian(g, {"x": 0.0, "y": 0.0})
    assert s.gradient == {"x": 0.5, "y": 0.5}  # d|x|/dx = 0, relu'(0) = 0, a tie splits
    assert s.matrix == [[0.0, 0.0], [0.0, 0.0]]


# ---------------------------------------------------------------- errors

def test_a_second_derivative_that_is_not_finite_is_named():
    g = parse("x^1.5 + y")
    with pytest.raises(EvalError) as exc:
        second.hessian(g, {"x": 0.0, "y": 1.0})
    msg = exc.value.message
    assert msg.startswith("the second derivative d²f/dxdx is not finite")
    assert "pow" in msg and exc.value.span == (0, 5)


def test_a_value_outside_the_domain_is_the_engines_error():
    with pytest.raises(EvalError) as exc:
        second.hessian(parse("log(x)*y"), {"x": -1.0, "y": 1.0})
    assert "log is not defined at x = -1" in exc.value.message


# ---------------------------------------------------------------- curvature

@pytest.mark.parametrize("matrix, gradient, point, kind", [
    ([[2.0, 0.0], [0.0, 3.0]], [0.0, 0.0], "minimum", "positive definite"),
    ([[-2.0, 1.0], [1.0, -3.0]], [0.0, 0.0], "maximum", "negative definite"),
    ([[2.0, 1.0], [1.0, -2.0]], [0.0, 0.0], "saddle", "indefinite"),
    ([[12.0, 0.0], [0.0, 0.0]], [0.0, 0.0], "degenerate", "positive semi-definite"),
    ([[-1.0, 0.0], [0.0, -1e-14]], [0.0, 0.0], "degenerate", "negative semi-definite"),
    ([[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0], "degenerate", "zero"),
    ([[2.0, 0.0], [0.0, 2.0]], [1e-3, 0.0], "not critical", "positive definite"),
    ([[2.0, 0.0], [0.0, 2.0]], [1e-9, -1e-9], "minimum", "positive definite"),
])
def test_curvature(matrix, gradient, point, kind):
    c = second.curvature(matrix, gradient)
    assert (c.point, c.definiteness) == (point, kind)
    assert c.critical == (point != "not critical")
    truth = sorted(float(x) for x in sp.Matrix(matrix).eigenvals(multiple=True))
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in zip(c.eigenvalues, truth))


def test_curvature_of_a_scaled_minimum_is_scale_free():
    for scale in (1e-200, 1e-12, 1.0, 1e200):
        c = second.curvature([[2 * scale, 0.0], [0.0, scale]], [0.0, 0.0])
        assert c.point == "minimum", scale


# ---------------------------------------------------------------- the check

def test_the_check_agrees_on_random_formulas():
    rng = random.Random(3)
    statuses = set()
    for _ in range(40):
        source, at = smooth_case(rng, depth=3)
        g = parse(source)
        try:
            s = second.hessian(g, at)
        except EvalError:
            continue
        for e in check_hessian(s.ev, s.names, s.matrix):
            statuses.add(e.status)
            assert e.status in ("ok", "inconclusive"), (source, at, e)
    assert "ok" in statuses


def test_the_check_catches_a_wrong_second_derivative(monkeypatch):
    """Break the tangent pass only (sin's local gradient without its tangent): the gradient
    stays right, the Hessian does not, and finite differences of the gradient say so."""
    from autodiff_cli.core import ops

    value_of, _ = second._tangent_rules(ops.OPS["sin"])

    def flat(a, out):
        return (Dual(math.cos(a.re), 0.0),)

    monkeypatch.setitem(second._TANGENT, ops.OPS["sin"], (value_of, flat))
    g = parse("sin(x)*y")
    s = second.hessian(g, {"x": 0.5, "y": 2.0})
    assert s.entry("x", "x") == 0.0  # truly -2 sin(0.5)
    es = {e.name: e for e in check_hessian(s.ev, s.names, s.matrix)}
    assert es["x,x"].status == "mismatch"
    assert math.isclose(es["x,x"].fd, -2 * math.sin(0.5), rel_tol=1e-6)
    assert {es[k].status for k in ("x,y", "y,x", "y,y")} == {"ok"}


def test_zero_powers_keep_their_second_derivatives():
    cases = {"x^2": 2.0, "x^3": 0.0, "x^2.5": 0.0, "x^1": 0.0, "x^0": 0.0, "3*x^2 + x": 6.0}
    for source, h in cases.items():
        assert second.hessian(parse(source), {"x": 0.0}).matrix == [[h]], source
    s = second.hessian(parse("x^y"), {"x": 0.0, "y": 2.0})
    assert s.matrix == [[2.0, 0.0], [0.0, 0.0]]


# ---------------------------------------------------------------- data: summed over rows

LOGISTIC = ROOT / "samples" / "logistic.csv"


def _csv(path):
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").split()]
    return {name: np.array([float(r[k]) for r in rows[1:]]) for k, name in enumerate(rows[0])}


def test_summed_hessian_of_the_logistic_loss_is_xt_w_x():
    """The logistic loss's Hessian in closed form: Xᵀ diag(p(1 - p)) X, gradient Xᵀ(p - y)."""
    data = _csv(LOGISTIC)
    g = parse((ROOT / "samples" / "logistic_program.adiff").read_text(encoding="utf-8"))
    at = {"t0": 0.3, "t1": -0.8, "t2": 0.5}
    r = second.summed_hessian(g, data, at)
    x = np.stack([np.ones_like(data["x1"]), data["x1"], data["x2"]], axis=1)
    p = 1.0 / (1.0 + np.exp(-(x @ np.array([0.3, -0.8, 0.5]))))
    hess = (x.T * (p * (1 - p))) @ x
    grad = x.T @ (p - data["y"])
    assert r.names == ["t0", "t1", "t2"] and r.rows == len(p)
    assert np.allclose(r.hessian, hess, rtol=1e-13, atol=0)
    assert np.allclose(r.gradient, grad, rtol=1e-13, atol=0)
    loss = -np.sum(data["y"] * np.log(p) + (1 - data["y"]) * np.log(1 - p))
    assert math.isclose(r.value, loss, rel_tol=1e-13)
    assert r.hessian[0][1] == r.hessian[1][0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_summed_hessian_matches_sympy_summed_over_the_rows(seed):
    """The formula's last variable is a column of 4 rows, the others parameters: Σ_rows of
    SymPy's Hessian."""
    rng = random.Random(seed)
    source, at = smooth_case(rng, depth=3)
    g = parse(source)
    if len(g.variables) < 2:
        return
    column = list(g.variables)[-1]
    zs = [at[column] * (1 + 0.01 * k) for k in range(4)]
    params = {n: v for n, v in at.items() if n != column}
    try:
        points = [second.hessian(g, {**params, column: z}, list(params)) for z in zs]
        r = second.summed_hessian(g, {column: np.array(zs)}, params)
    except EvalError:
        return  # a row outside the domain (the point passed at another value of the column)
    truth = [[0.0] * len(params) for _ in params]
    for z, p in zip(zs, points):
        t = sympy_derivatives(g, {**params, column: z}, list(params))
        if not well_conditioned(g, p.ev, {**params, column: z}, list(params), t):
            return
        truth = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(truth, t[2])]
    assert_matches(r.hessian, truth, source)
    value = math.fsum(p.value for p in points)
    assert math.isclose(r.value, value, rel_tol=1e-12, abs_tol=1e-300), source
    gradient = [math.fsum(p.gradient[n] for p in points) for n in params]
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in zip(r.gradient, gradient))


def test_summed_hessian_chunks_add_up_and_scale():
    data = _csv(LOGISTIC)
    g = parse((ROOT / "samples" / "logistic_program.adiff").read_text(encoding="utf-8"))
    at = {"t0": 0.1, "t1": 0.2, "t2": -0.3}
    whole = second.summed_hessian(g, data, at)
    half = {k: v[:5] for k, v in data.items()}
    rest = {k: v[5:] for k, v in data.items()}
    parts = second.summed_hessian(g, half, at) + second.summed_hessian(g, rest, at)
    assert parts.rows == whole.rows
    assert np.allclose(parts.hessian, whole.hessian, rtol=1e-14, atol=0)
    mean = whole.scaled(1 / whole.rows)
    assert math.isclose(mean.hessian[2][2], whole.hessian[2][2] / whole.rows)
    assert mean.hessian_dict()["t1"]["t2"] == mean.hessian[1][2]


def test_summed_hessian_shared_subexpressions_and_a_constant_output():
    """Parameter-only nodes (exp(a)), rows that differ, and a formula without any column."""
    x = np.array([0.5, -1.0, 2.0])
    g = parse("exp(a)*x^2 + a*b*x + b^2")
    r = second.summed_hessian(g, {"x": x}, {"a": 0.3, "b": -0.7})
    ea = math.exp(0.3)
    truth = [[ea * float(np.sum(x ** 2)), float(np.sum(x))], [float(np.sum(x)), 2.0 * 3]]
    assert np.allclose(r.hessian, truth, rtol=1e-14, atol=0)
    g = parse("a^3*b")
    r = second.summed_hessian(g, {"x": x}, {"a": 2.0, "b": 5.0})
    assert r.hessian == [[3 * 6 * 2.0 * 5.0, 3 * 3 * 4.0], [3 * 3 * 4.0, 0.0]]
    assert r.value == 3 * 40.0


def test_summed_hessian_names_the_row_outside_the_domain():
    g = parse("log(a*x)")
    with pytest.raises(EvalError) as exc:
        second.summed_hessian(g, {"x": np.array([1.0, 2.0, -3.0])}, {"a": 1.0},
                              row_text=lambda r: f"row {r + 1} of data.csv")
    assert "row 3 of data.csv" in exc.value.message


def test_summed_hessian_kinks_are_counted_by_row():
    g = parse("relu(a*x)*b")
    r = second.summed_hessian(g, {"x": np.array([0.0, 1.0, 0.0])}, {"a": 2.0, "b": 3.0})
    assert list(r.kinks.values()) == [2]
    assert r.hessian == [[0.0, 1.0], [1.0, 0.0]]


def test_array_duals_do_not_become_object_arrays():
    a = ArrayDual(np.array([1.0, 2.0]), 1.0)
    prod = np.array([3.0, 4.0]) * a
    assert isinstance(prod, ArrayDual) and prod.du.tolist() == [3.0, 4.0]
