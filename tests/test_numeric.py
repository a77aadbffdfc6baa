"""Finite differences (check/numeric.py): each method's accuracy, the complex versions of
the ops, kinks, domain edges, the re-examination of failed comparisons."""

from __future__ import annotations

import math
import random

import pytest

from autodiff_cli.calculus.engine import evaluate
from autodiff_cli.check import numeric as N
from autodiff_cli.core.ops import OPS
from autodiff_cli.language.parser import parse

from .formulas import smooth_case

_S = 1.0 / (1.0 + math.exp(-0.3))

#: Smooth formulas of x with O(1) values and derivatives written by hand: an
#: oracle independent of both reverse mode and every finite difference.
HAND = [
    ("sin(x)*exp(x)", 1.0, (math.cos(1.0) + math.sin(1.0)) * math.e),
    ("x^3 - 2*x", 1.5, 3 * 1.5 ** 2 - 2),
    ("sigmoid(x)", 0.3, _S * (1 - _S)),
    ("tanh(3*x)^2", 0.4, 2 * math.tanh(1.2) * 3 * (1 - math.tanh(1.2) ** 2)),
    ("sqrt(x)*cos(x)", 2.0, 0.5 / math.sqrt(2) * math.cos(2) - math.sqrt(2) * math.sin(2)),
    ("log(1 + x^2)", 0.7, 2 * 0.7 / (1 + 0.49)),
    ("atan(x)/x", 1.2, (1.2 / (1 + 1.44) - math.atan(1.2)) / 1.44),
    ("exp(-x^2/2)", -0.8, 0.8 * math.exp(-0.32)),
    ("1/(1 + x^2)", 0.5, -2 * 0.5 / 1.25 ** 2),
    ("softplus(x)", -1.3, 1 / (1 + math.exp(1.3))),
    ("log(x)", 3.0, 1 / 3),
    ("cosh(x) - sinh(x)", 0.9, -math.exp(-0.9)),
    ("erf(x)", 0.6, 2 / math.sqrt(math.pi) * math.exp(-0.36)),
    ("x^2.5", 1.7, 2.5 * 1.7 ** 1.5),
]

#: Bounds on the relative error against HAND, stated and measured (the worst
#: measured value on HAND is in the comment): the issue asks for complex
#: ~1e-15, Richardson <= 1e-10 and central <= 1e-8 on O(1) values.
BOUNDS = {
    "central": 1e-9,  # measured 3.8e-11 (1/(1 + x^2))
    "forward": 1e-6,  # measured 3.6e-08 (sigmoid)
    "backward": 1e-6,  # measured 2.8e-08 (tanh(3x)^2)
    "complex": 2e-15,  # measured 5.8e-16 (tanh(3x)^2); erf falls back to central
    "richardson": 1e-11,  # measured 2.9e-13 (sigmoid)
}


def function_of(source: str, at: dict, name: str = "x"):
    graph = parse(source)
    ev = evaluate(graph, at)
    fn = N.Reevaluator(graph, ev.values, ev.local, ev.grads).function(graph.variables[name])
    return graph, ev, fn


@pytest.mark.parametrize("method", N.METHODS)
@pytest.mark.parametrize("source, x, exact", HAND, ids=[h[0] for h in HAND])
def test_every_method_is_within_its_bound_on_smooth_formulas(method, source, x, exact):
    _, ev, fn = function_of(source, {"x": x})
    num = N.estimate(fn, method)
    bound = BOUNDS[method if num.method == method else num.method]
    assert abs(num.value - exact) <= bound * abs(exact), (num, exact)
    if method == "complex" and source == "erf(x)":
        assert num.method == "central" and "erf" in num.note and "complex" in num.note
    else:
        assert num.method == method
    if num.error is not None:  # Richardson's error estimate is an upper bound here
        assert abs(num.value - exact) <= num.error
    # Reverse mode itself, against the same oracle: rounding only.
    assert abs(ev.grads[ev.graph.variables["x"]] - exact) <= 1e-15 * abs(exact)


def test_default_steps_are_scaled_to_x_and_representable():
    for method, rel in N.STEPS.items():
        for x in (0.0, 0.3, -1.0, 7.5, -1e8):
            h = N.step_for(method, x)
            assert h == pytest.approx(rel * max(1.0, abs(x)), rel=1e-6)
            if method != "complex":
                assert (x + h) - x == h
    assert N.CENTRAL_STEP == pytest.approx(6.055454e-06)
    assert N.step_for("central", 2.0, step=1e-3) == pytest.approx(1e-3)


# ---------------------------------------------------------------- complex versions

_SAMPLE_ARGS = (0.3, 0.7, 1.3, 2.5, -0.4, -1.7, 1.05, -1.2)


def _analytic_points(op):
    arity = op.arity if op.arity is not None else 2
    rng = random.Random(op.name)
    found = 0
    for _ in range(200):
        args = tuple(rng.choice(_SAMPLE_ARGS) for _ in range(arity))
        try:
            out = op.value(*args)
            local = op.local(*args, out)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if all(math.isfinite(v) for v in (out, *local)):
            found += 1
            yield args, local
            if found == 4:
                return


@pytest.mark.parametrize("name", [n for n, op in OPS.items() if op.cvalue is not None])
def test_complex_version_matches_the_local_derivative(name):
    """Im cvalue(a + ih)/h is the local derivative (an independent formula, via cmath)."""
    op = OPS[name]
    points = list(_analytic_points(op))
    assert points, name
    h = 1e-100
    for args, local in points:
        out = op.value(*args)
        for k in range(len(args)):
            z = [complex(a) for a in args]
            z[k] = complex(args[k], h)
            c = op.cvalue(*z)
            assert c.real == pytest.approx(out, rel=1e-13, abs=1e-15), (name, args)
            assert c.imag / h == pytest.approx(local[k], rel=1e-12, abs=1e-14), (name, args, k)


def test_only_non_analytic_ops_lack_a_complex_version():
    lacking = {n for n, op in OPS.items() if op.cvalue is None and op.kind != "leaf"}
    assert lacking == {"abs", "relu", "max", "min", "erf", "erfc"}


def test_complex_pow_of_a_negative_base_with_an_integer_exponent():
    # (-2 + ih)^3: the real pow is defined, so the complex step must be too.
    graph, ev, fn = function_of("x^3", {"x": -2.0})
    num = N.estimate(fn, "complex")
    assert num.method == "complex" and num.value == pytest.approx(12.0, rel=1e-15)


def test_complex_step_falls_back_through_a_non_analytic_op():
    _, _, fn = function_of("abs(x)*sin(x)", {"x": 0.5})
    num = N.estimate(fn, "complex")
    assert num.method == "central"
    assert "abs (n1)" in num.note and "not analytic" in num.note
    assert num.value == pytest.approx(math.sin(0.5) + 0.5 * math.cos(0.5), rel=1e-9)


def test_complex_step_survives_huge_intermediate_derivatives():
    # d/dz of P = hypot(3, z)^(z^-2) is ~1e21 at z = 1/6. With the textbook
    # h = 1e-20 the imaginary part of P is ~10 and sin(P + 10i) is far from
    # linear; h = 1e-100 keeps every imaginary part tiny.
    _, ev, fn = function_of("sin(hypot(3, z)^(z^(-2)))", {"z": 0.16669630574069538}, "z")
    ad = ev.grads[ev.graph.variables["z"]]
    assert N.estimate(fn, "complex").value == pytest.approx(ad, rel=1e-9)
    textbook = N.estimate(fn, "complex", step=1e-20).value
    assert abs(textbook - ad) > 1e-3 * abs(ad)


# ---------------------------------------------------------------- kinks and domain edges

def test_a_step_straddling_a_kink_is_shrunk():
    # abs at 1e-7: the default central step 6e-6 straddles the kink (NOTES §5.5:
    # the plain difference gives 0.0165 where the derivative is 1).
    _, _, fn = function_of("abs(x)", {"x": 1e-7})
    num = N.estimate(fn, "central")
    assert num.value == pytest.approx(1.0, rel=1e-9) and num.step < 1e-7
    assert "kink of abs (n1)" in num.note


def test_exactly_at_a_kink_the_status_is_kink():
    graph, ev, fn = function_of("relu(x) + x", {"x": 0.0})
    assert ev.kinks == [1]
    [e] = N.check(ev, ["x"], N.Settings())
    assert e.status == "kink" and e.ok is None and "not differentiable" in e.note


@pytest.mark.parametrize("source, x, exact", [
    ("log(x)", 1e-7, 1e7),
    ("sqrt(x)", 1e-12, 0.5e6),
    ("asin(x)", 1 - 1e-9, 1 / math.sqrt(1 - (1 - 1e-9) ** 2)),
])
def test_domain_edges_turn_one_sided_and_still_agree(source, x, exact):
    graph, ev, fn = function_of(source, {"x": x})
    num = N.estimate(fn, "central")
    assert num.method in ("forward", "backward") and "domain" in num.note
    [e] = N.check(ev, ["x"], N.Settings())
    assert e.status == "ok", e
    assert e.fd == pytest.approx(exact, rel=1e-5)


def test_ridders_restarts_below_a_domain_edge():
    _, _, fn = function_of("log(x)", {"x": 1e-4})
    num = N.estimate(fn, "richardson")
    assert num.value == pytest.approx(1e4, rel=1e-9) and "domain" in num.note


# ---------------------------------------------------------------- judging

def test_a_failed_central_comparison_is_re_examined_not_reported():
    # f = (x + 1e8) - 1e8: central differences suffer 1e8·eps / h ≈ 2e-3 of
    # cancellation error; Richardson from a larger step does not.
    graph, ev, fn = function_of("(x + 1e8) - 1e8 + sin(x)", {"x": 1.0})
    plain = N.estimate(fn, "central")
    ad = ev.grads[graph.variables["x"]]
    assert not N.compare(ad, plain.value)[2]  # the plain difference alone would fail
    e = N.judge("x", ad, fn, N.Settings())
    assert e.status == "ok" and e.method in ("richardson", "complex")
    assert "central estimate" in e.note and e.attempts


def test_without_re_examination_the_same_comparison_fails():
    graph, ev, fn = function_of("(x + 1e8) - 1e8 + sin(x)", {"x": 1.0})
    e = N.judge("x", ev.grads[graph.variables["x"]], fn, N.Settings(), refine=False)
    assert e.status == "mismatch"


@pytest.mark.parametrize("source, x, exact", HAND, ids=[h[0] for h in HAND])
@pytest.mark.parametrize("factor", [20, -20, 1e4])
def test_a_wrong_derivative_is_a_mismatch(source, x, exact, factor):
    """Off by 20× the method's default rtol (either way), or by 1e4× it: caught."""
    _, _, fn = function_of(source, {"x": x})
    for method in N.METHODS:
        # the tolerance of the method used (complex falls back to central for erf)
        rtol = N.TOLERANCES[N.estimate(fn, method).method][0]
        e = N.judge("x", exact * (1 + factor * rtol), fn, N.Settings(method))
        assert e.status == "mismatch" and e.ok is False, (method, e)


def test_the_complex_step_settles_a_cancellation_central_cannot():
    # A value of 1e15 leaves central differences nothing but rounding noise
    # (eps·1e15/h ≈ 40); the complex step has no cancellation.
    graph, ev, fn = function_of("sin(x) + 1e15", {"x": 0.5})
    ad = ev.grads[graph.variables["x"]]
    e = N.judge("x", ad, fn, N.Settings())
    assert e.status == "ok" and e.method == "complex"
    wrong = N.judge("x", ad * 1.01, fn, N.Settings())
    assert wrong.status == "mismatch" and wrong.method == "complex"


def test_when_nothing_can_decide_the_status_is_inconclusive_not_mismatch():
    # erf has no complex version and 1e15 drowns every real difference.
    graph, ev, fn = function_of("erf(x) + 1e15", {"x": 0.5})
    for ad in (ev.grads[graph.variables["x"]], 1.5 * ev.grads[graph.variables["x"]]):
        e = N.judge("x", ad, fn, N.Settings())
        assert e.status == "inconclusive" and e.ok is None, e
        assert "cannot decide" in e.note


def test_random_smooth_formulas_agree_with_every_method():
    """1,500 random smooth formulas at random in-domain points (about 2,600
    gradients): every method, with its default tolerances, says "ok"."""
    rng = random.Random(20240611)
    cases = [smooth_case(rng) for _ in range(1500)]
    for method in N.METHODS:
        for source, at in cases:
            graph = parse(source)
            ev = evaluate(graph, at)
            for e in N.check(ev, list(graph.variables), N.Settings(method)):
                assert e.status == "ok", (method, source, at, e)


def test_reverse_mode_agrees_with_the_complex_step_to_rounding():
    """On analytic random formulas, reverse mode and the complex step differ by
    rounding only. Measured on 31,621 gradients: beyond the complex method's
    atol (1e-12), the relative difference is 0 at the 99th percentile, 5.7e-16
    at the 99.9th, and 3e-10 at worst (acoth(coth(u)) at u = -8.1, where the
    acoth rule's 1 - a² cancels) -- within its rtol of 1e-9."""
    rng = random.Random(7)
    errors = []
    for _ in range(500):
        source, at = smooth_case(rng)
        graph = parse(source)
        ev = evaluate(graph, at)
        r = N.Reevaluator(graph, ev.values, ev.local, ev.grads)
        for i in graph.variables.values():
            fn = r.function(i)
            if fn.not_analytic() is None:
                cs = N.estimate(fn, "complex").value
                beyond = max(0.0, abs(ev.grads[i] - cs) - N.TOLERANCES["complex"][1])
                errors.append(beyond / abs(cs) if beyond else 0.0)
    errors.sort()
    assert len(errors) > 500
    assert errors[int(0.99 * len(errors))] <= 1e-15
    assert errors[-1] <= 1e-9


# ---------------------------------------------------------------- nodes

def test_node_gradients_are_checked_and_a_wrong_rule_is_pinned(monkeypatch):
    import autodiff_cli.core.ops as ops

    bad = OPS["sin"].replace(d=("1.001*cos(a)",))  # a wrong rule, planted
    monkeypatch.setitem(ops.FUNCTIONS["sin"], 1, bad)
    graph = parse("exp(sin(x*y)) + y")
    ev = evaluate(graph, {"x": 0.5, "y": 2.0})
    nodes, culprit = N.check_nodes(ev, N.Settings())
    status = {f"n{e.node}": e.status for e in nodes}
    assert status == {"n2": "mismatch", "n3": "ok", "n4": "ok", "n5": "ok"}
    assert culprit["node"] == "n3" and culprit["op"] == "sin" and culprit["input"] == "n2"
    assert culprit["local"] == pytest.approx(math.cos(1.0) * 1.001)
    assert culprit["numeric"] == pytest.approx(math.cos(1.0), rel=1e-10)


def test_node_checks_pass_for_correct_rules():
    graph = parse("z = t0 + t1*x1; -log(sigmoid(z)) + max(z, 0.1)*z")
    ev = evaluate(graph, {"t0": 1.0, "t1": 0.5, "x1": 2.0})
    nodes, culprit = N.check_nodes(ev, N.Settings())
    assert culprit is None and nodes
    assert all(e.status == "ok" for e in nodes), nodes


# ---------------------------------------------------------------- the entry point `grad` uses

def test_the_check_takes_the_evaluation_and_evaluates_nothing_again(monkeypatch):
    """``numeric.check`` reads the caller's evaluation: it binds and runs no full forward
    pass again (grad's column used to, ~270 ms on the 100k-op benchmark formula)."""
    import autodiff_cli.calculus.engine as engine

    graph = parse("x*y + sin(x)")
    ev = evaluate(graph, {"x": 1.0, "y": 2.0})

    def again(*args, **kwargs):
        raise AssertionError("the check evaluated the graph again")

    monkeypatch.setattr(engine, "bind", again)
    monkeypatch.setattr(engine, "forward", again)
    estimates = N.check(ev, list(graph.variables), kink_estimates=True)
    assert [e.name for e in estimates] == ["x", "y"]
    assert all(e.ok and e.method == "central" for e in estimates)
    x = estimates[0]
    assert x.fd == pytest.approx(math.cos(1.0) + 2.0, rel=1e-9)
    assert x.step == N.step_for("central", 1.0)


def test_grads_column_at_a_kink_keeps_its_estimate():
    # grad's column (kink_estimates): the estimate is made as anywhere else, the status
    # says kink; check's verdict: the plain estimate for the record, status kink.
    graph = parse("relu(x) + x")
    ev = evaluate(graph, {"x": 0.0})
    [column] = N.check(ev, ["x"], kink_estimates=True)
    [verdict] = N.check(ev, ["x"])
    assert (column.status, column.note) == ("kink", "not differentiable at this point (kink)")
    assert (verdict.status, verdict.note) == ("kink", "not differentiable at this point")
    assert column.ok is None and verdict.ok is None
