"""Every backend against the math backend, on every op (calculus/backends.py).

One test, ``test_every_backend_agrees_with_math_on_every_op``, walks every op of ``OPS`` at
its ordinary precision points (tests/test_precision.py ``POINTS[...]["ordinary"]``: adding
an op is one row plus its points) and holds each backend to the math one:

* numpy: the value and local derivatives of a 1-element array and of all the points in
  one array equal the float ones element by element (to 2 ulps: NumPy's libm may round
  differently from the platform's);
* cmath: the real part of ``cvalue`` is the value (1e-13 relative) and the complex step
  Im f(x + ih)/h is the local derivative (1e-12); only ops over a primitive with no
  analytic version have no complex form, and exactly those;
* tangent: the value over dual numbers carries the local derivative as its tangent
  (forward mode equals reverse ``local``; exactly, where the value is a primitive);
* graph: the symbolic local derivatives, printed in adiff's syntax and evaluated again,
  give the math local derivatives (1e-12 relative).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from autodiff_cli.calculus import rules
from autodiff_cli.calculus.backends import Dual, Expr
from autodiff_cli.calculus.engine import evaluate
from autodiff_cli.core.ops import OPS

from .test_precision import KINDS, POINTS

OPERATIONS = [name for name, op in OPS.items() if op.kind != "leaf"]
#: Ops whose value uses a primitive with no analytic version: no complex step through them.
NOT_ANALYTIC = {"abs", "relu", "max", "min", "erf", "erfc"}


def _ordinary(name):
    return [tuple(float(a) for a in p) if isinstance(p, tuple) else (float(p),)
            for p in POINTS[name]["ordinary"]]


def _ulps(x: float, y: float) -> float:
    if x == y or (math.isnan(x) and math.isnan(y)):
        return 0.0
    return abs(x - y) / math.ulp(max(abs(x), abs(y)))


def _close(got, want, rel: float, where: str) -> None:
    got, want = float(got), float(want)
    assert math.isfinite(got), f"{where}: {got!r}, want {want!r}"
    assert abs(got - want) <= rel * max(abs(want), 1e-300), f"{where}: {got!r}, want {want!r}"


def _numpy(op, points):
    by_arity: dict[int, list] = {}
    for args in points:
        by_arity.setdefault(len(args), []).append(args)
    groups = [[args] for args in points] + list(by_arity.values())
    for rows in groups:
        columns = [np.array(c) for c in zip(*rows)]
        with np.errstate(all="ignore"):
            values = np.asarray(op.array_value(np, *columns), dtype=float)
            local = [np.broadcast_to(np.asarray(x, dtype=float), values.shape)
                     for x in op.array_local(np, *columns, values)]
        for r, args in enumerate(rows):
            v = op.value(*args)
            assert _ulps(values[r], v) <= 2, f"{op.name}{args} numpy value {values[r]!r} vs {v!r}"
            for k, want in enumerate(op.local(*args, v)):
                got = local[k][r]
                assert _ulps(got, want) <= 2, f"{op.name}{args} numpy d/d{k}: {got!r} vs {want!r}"


def _cmath(op, points):
    if op.name in NOT_ANALYTIC:
        assert op.cvalue is None, op.name
        return
    assert op.cvalue is not None, f"{op.name} lost its complex version"
    for args in points:
        v = op.value(*args)
        local = op.local(*args, v)
        for k in range(len(args)):
            if not math.isfinite(local[k]):  # d/db of a negative base: no derivative to step
                continue
            h = 1e-100 * max(1.0, abs(args[k]))
            z = [complex(a) for a in args]
            z[k] = complex(args[k], h)
            c = op.cvalue(*z)
            assert abs(c.real - v) <= 1e-13 * abs(v) + 1e-150, f"{op.name}{args} cmath value {c!r}"
            _close(c.imag / h, local[k], 1e-12, f"{op.name}{args} complex step d/d{k}")


def _tangent(op, points):
    f = rules.tangent(op)
    primitive = op.formula.isidentifier()
    for args in points:
        v = op.value(*args)
        local = op.local(*args, v)
        for k in range(len(args)):
            seeded = [Dual(a, 1.0 if j == k else 0.0) for j, a in enumerate(args)]
            out = f(*seeded)
            assert isinstance(out, Dual), (op.name, out)
            assert out.re == v, f"{op.name}{args} tangent value {out.re!r} vs {v!r}"
            if not math.isfinite(local[k]):
                assert not math.isfinite(out.du), (op.name, args, k, out)
            elif primitive:
                assert out.du == local[k], f"{op.name}{args} tangent d/d{k}: {out.du!r} vs {local[k]!r}"
            else:
                _close(out.du, local[k], 1e-13, f"{op.name}{args} tangent d/d{k}")


def _graph(op, points):
    for args in points:
        exprs = rules.symbolic(op, len(args))
        assert len(exprs) == len(args) and all(isinstance(x, Expr) for x in exprs), exprs
        v = op.value(*args)
        local = op.local(*args, v)
        names = [f"x{k + 1}" for k in range(len(args))] if op.arity is None else \
            list(rules.PARAMS[:len(args)])
        at = dict(zip(names, args), out=v)
        for k, x in enumerate(exprs):
            text = str(x)
            if x.op.endswith("_share") or not math.isfinite(local[k]):
                continue  # max/min: the tie share has no formula; d/db of a negative base
            graph = rules.parse_formula(text)
            got = evaluate(graph, {n: at[n] for n in graph.variables}).value if graph.variables \
                else float(text.strip("()"))
            _close(got, local[k], 1e-12, f"{op.name}{args} symbolic d/d{k} = {text}")


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_backend_agrees_with_math_on_every_op(name):
    op = OPS[name]
    points = _ordinary(name)
    assert points, f"{name}: no ordinary points in tests/test_precision.py"
    _numpy(op, points)
    _cmath(op, points)
    _tangent(op, points)
    _graph(op, points)


def test_the_ops_without_a_complex_step_are_exactly_the_non_analytic_ones():
    """Derived from the backends: a primitive mapped to None turns the complex step off."""
    assert {name for name in OPERATIONS if OPS[name].cvalue is None} == NOT_ANALYTIC


def test_symbolic_derivatives_read_as_formulas():
    """The graph backend: the row's formulas as expression trees, in adiff's syntax."""
    assert str(rules.symbolic(OPS["sin"])[0]) == "cos(a)"
    assert str(rules.symbolic(OPS["tanh"])[0]) == "(sech(a) ^ 2)"
    assert [str(x) for x in rules.symbolic(OPS["div"])] == ["(1 / b)", "((-out) / b)"]
    assert [str(x) for x in rules.symbolic(OPS["add"])] == ["1", "1"]
    assert [str(x) for x in rules.symbolic(OPS["logsumexp"], 2)] == ["exp((x1 - out))",
                                                                     "exp((x2 - out))"]
    assert str(rules.symbolic(OPS["sigmoid"])[0]) == "(out * sigmoid((-a)))"
    # a rule written as a program: z = exp(-abs(a)); z/((1 + z)*(1 + z)), the shared z one node
    planted = OPS["sigmoid"].replace(d=("z = exp(-abs(a)); z/((1 + z)*(1 + z))",))
    sigmoid = rules.symbolic(planted)[0]
    assert str(sigmoid) == "(exp((-abs(a))) / ((1 + exp((-abs(a)))) * (1 + exp((-abs(a))))))"
    z = sigmoid.args[0]
    assert sigmoid.args[1].args[0].args[1] is z


def test_forward_mode_through_a_formula_chains_the_primitives():
    """sec = 1/cos(a) over duals: the lifted div and cos give sin(a)/cos(a)^2."""
    out = rules.tangent(OPS["sec"])(Dual(0.5, 1.0))
    assert out.re == 1.0 / math.cos(0.5)
    assert out.du == pytest.approx(math.sin(0.5) / math.cos(0.5) ** 2, rel=1e-15)
    # second derivatives: the local rule itself over duals (forward over reverse)
    local = rules.compiled(OPS["sin"], "local", "tangent")
    (d,) = local(Dual(0.5, 1.0), rules.tangent(OPS["sin"])(Dual(0.5, 1.0)))
    assert d.re == math.cos(0.5) and d.du == -math.sin(0.5)


#: Where forward mode (each primitive lifted on its own) cannot match the op's own rule:
#: logb's d/db at a subnormal base goes through log'(b) = 1/b, which overflows, while the
#: op's rule (-out/(b·log b), rounded once) is finite. Listed, and held to still differ, so
#: a fix shows up here.
TANGENT_GAPS = {("logb", (1.0000000001, 1e-320), 1)}


def _every_point(name):
    for kind in KINDS:
        for p in POINTS[name].get(kind, []):
            yield kind, tuple(float(a) for a in p) if isinstance(p, tuple) else (float(p),)


@pytest.mark.parametrize("name", OPERATIONS)
def test_forward_mode_agrees_with_the_rule_at_every_precision_point(name):
    """The tangent backend against the op's local rule (which tests/test_precision.py holds
    to mpmath) at the tail, near-zero and domain-edge points too, not only ordinary ones."""
    op = OPS[name]
    f = rules.tangent(op)
    checked = 0
    for kind, args in _every_point(name):
        try:
            v = op.value(*args)
            local = op.local(*args, v)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue  # outside the domain: nothing to compare
        if not math.isfinite(v):
            continue
        for k in range(len(args)):
            out = f(*[Dual(a, 1.0 if j == k else 0.0) for j, a in enumerate(args)])
            want, got = local[k], out.du
            where = f"{name}{args} ({kind}) d/d{k}: tangent {got!r}, rule {want!r}"
            if (name, args, k) in TANGENT_GAPS:
                assert not math.isfinite(got) and math.isfinite(want), where
                continue
            if not math.isfinite(want):
                assert not math.isfinite(got), where
            elif abs(want) < sys.float_info.min:  # subnormal: a few units of the last place
                assert abs(got - want) <= 4 * 5e-324, where
            else:
                assert got == want or abs(got - want) <= 1e-13 * abs(want), where
            checked += 1
    assert checked, f"{name}: no point checked"
