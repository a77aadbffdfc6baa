"""Finite differences under hostile input: re-evaluation of only the nodes above the
perturbed value (bit for bit what a full re-evaluation gives), wide logsumexp nodes,
steps below the spacing of doubles, x ± h beyond the largest double."""

from __future__ import annotations

import math
import random

import pytest

from autodiff_cli.calculus.backends import _logsumexp
from autodiff_cli.calculus.engine import bind, evaluate, forward
from autodiff_cli.check import numeric as N
from autodiff_cli.language.parser import parse

from .formulas import smooth_case


def _full(graph, values, k, t):
    """The output with node k at t, by re-running every node after k: the reference."""
    vals = list(values)
    vals[k] = t
    for i in range(k + 1, len(graph)):
        ins = graph.inputs[i]
        if ins:
            vals[i] = graph.ops[i].value(*[vals[j] for j in ins])
    return vals[graph.output]


def _naive_dependents(graph, k):
    """The forward sweep the dependents used to be: every later node, marked."""
    mark = [False] * len(graph)
    mark[k] = True
    out = []
    for i in range(k + 1, len(graph)):
        if any(mark[j] for j in graph.inputs[i]):
            mark[i] = True
            out.append(i)
    return out


#: Programs whose nodes are shared (a DAG, not a tree), chains, fan-outs, wide nodes.
DAGS = [
    ("a = x*y; b = a + x; c = sin(a)*b; c + a*b", {"x": 0.7, "y": -1.3}),
    ("s = x + y; t = s*s; u = exp(-t) + s; u*t + log(1 + t)", {"x": 0.2, "y": 0.4}),
    ("+".join(f"x{i}" for i in range(1, 200)), {f"x{i}": i / 100 for i in range(1, 200)}),
    ("logsumexp(" + ", ".join(f"x{i}" for i in range(1, 100)) + ", x1*x2)",
     {f"x{i}": math.sin(i) for i in range(1, 100)}),
    ("m = logsumexp(" + ", ".join(f"x{i}" for i in range(1, 60)) + "); m*m + x3 + max(x1, x2)",
     {f"x{i}": round(math.cos(i), 1) for i in range(1, 60)}),  # ties of the maximum
    ("logsumexp(x, x, x, " + ", ".join(f"y{i}" for i in range(40)) + ")",
     {"x": 0.5, **{f"y{i}": 0.5 for i in range(40)}}),  # every input at the maximum
]


def _cases():
    rng = random.Random(31337)
    out = [smooth_case(rng, depth=5) for _ in range(150)]
    return out + DAGS


def test_dependents_are_those_of_a_full_sweep():
    for source, _ in _cases():
        graph = parse(source)
        topo = N.Topology(graph)
        for i in range(len(graph)):
            assert topo.dependents(i) == _naive_dependents(graph, i), (source, i)


def test_perturbed_values_are_bit_identical_to_a_full_re_evaluation():
    """Re-running only the dependents (on a scratch copy, reused from one
    perturbation to the next, incrementally for a wide logsumexp) gives the same
    float as re-running the whole graph, for inputs and intermediate nodes, at
    steps of every size -- including perturbations that move the maximum of a
    logsumexp up, down and onto a tie."""
    checked = 0
    for source, at in _cases():
        graph = parse(source)
        ev = evaluate(graph, at)
        r = N.Reevaluator(graph, ev.values, ev.local, ev.grads)
        targets = list(graph.variables.values()) + [i for i in range(len(graph))
                                                   if graph.inputs[i]][:10]
        for k in targets:
            fn = r.function(k)
            x = ev.values[k]
            for t in (x + 6e-6, x - 6e-6, x + 1e-12, x - 0.3, x + 2.5, x, 0.5, 1.0):
                try:
                    want = _full(graph, ev.values, k, t)
                except (ValueError, ZeroDivisionError, OverflowError):
                    continue
                if not math.isfinite(want):
                    continue
                got, _ = fn.real(t)
                assert got == want and math.copysign(1, got) == math.copysign(1, want), \
                    (source, k, t, got, want)
                checked += 1
    assert checked > 2000


def test_finite_differences_are_those_of_a_full_re_evaluation():
    """Whole estimates (every method, with its step shrinking, one-sided
    fallbacks and Ridders' tableau) over the dependents equal those over a
    reevaluator that re-runs every node."""

    class Full(N.NodeFunction):
        def real(self, t):
            if not math.isfinite(t):
                raise N.OutOfDomain(self.k)
            try:
                v = _full(self.ev.graph, self.ev.values, self.k, t)
            except (ValueError, ZeroDivisionError, OverflowError):
                raise N.OutOfDomain(self.k) from None
            if not math.isfinite(v):
                raise N.OutOfDomain(self.k)
            return v, None

    rng = random.Random(5)
    for source, at in [smooth_case(rng) for _ in range(60)] + DAGS:
        graph = parse(source)
        ev = evaluate(graph, at)
        r = N.Reevaluator(graph, ev.values, None, ev.grads)
        for k in graph.variables.values():
            for method in ("central", "forward", "backward", "richardson"):
                a = N.estimate(N.NodeFunction(r, k), method)
                b = N.estimate(Full(r, k), method)
                assert (a.value, a.step, a.method) == (b.value, b.step, b.method), \
                    (source, k, method)


def test_a_wide_logsumexp_is_not_re_evaluated_in_full_for_each_input():
    """logsumexp of n inputs: each perturbation of one input used to re-run the
    whole n-input op (n² work for the check); it is now updated incrementally,
    and evaluated in full only where its maximum moves (and a few times to
    verify the shortcut)."""
    n = 400
    source = "logsumexp(" + ", ".join(f"x{i}" for i in range(n)) + ")"
    graph = parse(source)
    at = {f"x{i}": math.sin(i) for i in range(n)}
    ev = evaluate(graph, at)
    calls = []
    topo = N.topology(graph)
    out = graph.output
    real = topo.fns[out]
    topo.fns[out] = lambda *xs: calls.append(1) or real(*xs)
    try:
        estimates = N.check(ev, list(graph.variables), N.Settings())
    finally:
        topo.fns[out] = real
    assert all(e.status == "ok" for e in estimates)
    assert len(calls) <= N._VERIFY + 10, len(calls)  # not 2 × 400


def test_the_logsumexp_shortcut_mirrors_the_op():
    """The incremental form and ops._logsumexp agree bit for bit on random inputs
    with ties, repeated inputs and big spreads: if the op is rewritten, this fails
    (and the run-time verification would turn the shortcut off)."""
    rng = random.Random(11)
    for _ in range(300):
        n = rng.randint(N.WIDE, 120)
        xs = [rng.choice([rng.uniform(-30, 30), 0.0, 1.5, -1e-300, 700.0]) for _ in range(n)]
        inc = N._Logsumexp(tuple(range(n)), xs)
        for _ in range(5):
            j = rng.randrange(n)
            new = list(xs)
            new[j] = rng.choice([xs[j] + 1e-6, xs[j] - 1e-6, xs[j] - 50.0, max(xs), 0.0])
            got = inc.value([j], new)
            if got is not None:
                assert got == _logsumexp(*new), (xs, j, new[j])


def test_the_cost_of_a_check_is_the_number_of_dependents():
    n = 500
    chain = parse("+".join(f"x{i}" for i in range(n)))
    # x0 and x1 feed every addition; x_k (k >= 1) the n - k last ones
    assert N.mean_dependents(chain, ["x0"]) == n - 1
    names = list(chain.variables)
    picked = names[::n // N.COST_SAMPLE][:N.COST_SAMPLE]  # spread evenly
    want = sum(len(_naive_dependents(chain, chain.variables[v])) for v in picked)
    assert N.mean_dependents(chain, names) == pytest.approx(want / len(picked))
    wide = parse("logsumexp(" + ", ".join(f"x{i}" for i in range(n)) + ")")
    assert N.mean_dependents(wide, list(wide.variables)) == 1.0


# ---------------------------------------------------------------- steps

@pytest.mark.parametrize("method", ["central", "forward", "backward"])
@pytest.mark.parametrize("source, x, h", [("x^3", 1.0, 1e-17), ("x^2", 1e20, 1e-5)])
def test_a_step_below_the_spacing_of_doubles_gives_no_estimate_not_a_crash(method, source, x, h):
    """x + h == x: the difference used to divide by zero (ZeroDivisionError, exit 70)."""
    graph = parse(source)
    values = bind(graph, {"x": x})
    forward(graph, values, local=False)
    fn = N.Reevaluator(graph, values).function(graph.variables["x"])
    num = N.estimate(fn, method, h)
    assert num.value is None and num.method == method
    assert num.note == f"the step h = {h:.3g} is below the spacing of doubles at {x:.6g}: " \
                       "x ± h rounds to x"


@pytest.mark.parametrize("x, h, bad", [
    (1.0, 1e-17, True), (1.0, 1.2e-16, False),
    # below 1 the doubles are twice as dense: 1 - 8e-17 moves, 1 + 8e-17 is 1; at -1, mirrored
    (1.0, 8e-17, True), (-1.0, 8e-17, True),
    (1e20, 1e-5, True), (1e20, 1e5, False), (0.0, 1e-320, False)])
def test_step_error_says_when_x_plus_or_minus_h_rounds_to_x(x, h, bad):
    assert (N.step_error(x, h) is not None) is bad


def test_x_plus_h_beyond_the_largest_double_falls_back_to_one_side():
    """At x = 1.797e308, x + h overflows to inf; that side is outside the domain
    of doubles and the other side is used (it used to give nan, a "mismatch")."""
    graph = parse("x")
    x = 1.7976931348623157e308
    values = bind(graph, {"x": x})
    forward(graph, values, local=False)
    num = N.estimate(N.Reevaluator(graph, values).function(0), "central")
    assert num.value == 1.0 and num.method == "backward"
