"""The op table, row by row: values, local gradients, domains, kinks and stable forms.

Every row of ``OPS`` is tested automatically. Each op needs sample points in ``POINTS``
below (ordinary points and edge points); a row without points fails
``test_every_op_has_points``, so adding an op forces adding its points.

Oracles and tolerances:

* values are compared with an independent reference formula (``REFERENCE``) at
  ``rel_tol=1e-12`` (plus ``abs_tol=1e-300`` for results that are exactly 0);
* every local gradient is compared with Ridders' extrapolated central differences
  (Numerical Recipes ``dfridr``: up to 10 steps, each dividing h by 1.4, with
  polynomial extrapolation, typically accurate to ~1e-12 relative) on the op's own
  ``value``, under ``|ad - fd| <= 1e-7·|fd| + 1e-13 + 4·est`` where ``est`` is
  the extrapolation's own error estimate, which must itself stay below
  ``2e-8·max(1, |fd|)`` so the oracle is trustworthy;
* tails where only relative accuracy is meaningful (sigmoid, softplus and
  logsumexp far out, tiny pow bases) are pinned against closed forms in
  ``TAILS`` at ``rel_tol=1e-12``.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import pytest

from autodiff_cli import EvalError, InputError, evaluate, parse
from autodiff_cli.core.ops import CONSTANTS, FUNCTIONS, OPS, lookup

# --------------------------------------------------------------------- points


@dataclass(frozen=True)
class P:
    """A sample point of an op.

    ``h``: the starting step of the finite-difference oracle, one number or one
    per input (default ``0.1·max(1, |x|)``, divided by 4 until ``x ± 8h`` stays
    inside the domain); set it where a pole, a kink, a branch cut or a steep
    region is near without raising an error.
    ``undefined``: input positions whose local derivative does not exist here
    (the op must return a non-finite number or raise an arithmetic error).
    ``edge``: an edge point (near a domain edge, a kink, a pole, or a tail).
    """

    args: tuple[float, ...]
    h: float | tuple[float, ...] | None = None
    undefined: tuple[int, ...] = ()
    edge: bool = False


def o(*args, h=None, undefined=()):
    return P(tuple(float(a) for a in args), h, tuple(undefined), edge=False)


def e(*args, h=None, undefined=()):
    return P(tuple(float(a) for a in args), h, tuple(undefined), edge=True)


TINY = 1e-9
#: Distance of "near the domain edge" points from the edge. Much closer and the rounding of
#: x itself (1e-16 near 1) limits any finite difference to ~1e-6 relative accuracy.
NEAR = 1e-6

POINTS: dict[str, list[P]] = {
    "add": [o(1.5, -2.25), o(-3, 7), e(0, 0), e(1e10, -3e-10, h=1e4), e(-1e300, 1e300)],
    "sub": [o(1.5, -2.25), o(-3, 7), e(0, 0), e(1e10, 3e-10, h=1e4)],
    "mul": [o(1.5, -2.25), o(-3, 7), e(0, 3), e(0, 0), e(-1e-5, 1e5)],
    "div": [o(1, 3), o(-2.5, 0.125), e(0, 2), e(1, 1e-8, h=(0.1, 1e-9)), e(-1e-300, 1e300, h=1e-301)],
    "pow": [o(2, 3), o(1.5, -0.5), o(0.5, 2.5), o(3, 0.5), e(10, 300, h=(1e-3, 1e-2)),
            e(-2, 3, undefined=[1]), e(-1.5, -2, undefined=[1]), e(-2, 0, undefined=[1]),
            e(0, 0, undefined=[1]), e(0, 2), e(0, 1), e(0, 3),
            e(0, 0.5, undefined=[0]), e(1, 1e5, h=(1e-7, 0.1)), e(1e-3, 0)],
    "neg": [o(3.5), o(-2), e(0), e(1e300)],
    "exp": [o(0), o(1), o(-2.5), e(700), e(-700), e(1e-12)],
    "log": [o(1), o(2.5), o(1e3), e(1e-3), e(1e-300), e(1e300), e(1 + 1e-10)],
    "logb": [o(8, 2), o(0.5, 10), o(3, 0.5), o(100, math.e), e(2, 1.0001, h=1e-5),
             e(1e-200, 2), e(1, 3)],
    "log2": [o(1), o(7.5), o(1024), e(1e-5), e(1e300)],
    "log10": [o(1), o(7.5), o(1000), e(1e-5), e(1e300)],
    "log1p": [o(0), o(0.5), o(3), e(1e-10), e(-0.5), e(-1 + 1e-6), e(1e10)],
    "expm1": [o(0), o(1), o(-2), e(1e-10), e(-30), e(-1e-12), e(700)],
    "sqrt": [o(4), o(2.25), o(0.5), e(1e-6), e(1e-300), e(1e300), e(0, undefined=[0])],
    "cbrt": [o(8), o(-27), o(0.5), e(1e-9, h=1e-10), e(-1e-3, h=1e-4), e(1e300), e(0, undefined=[0])],
    "abs": [o(2.5), o(-2.5), e(TINY, h=TINY / 10), e(-TINY, h=TINY / 10), e(-1e-300, h=1e-301),
            e(1e300)],
    "relu": [o(2), o(-2), e(TINY, h=TINY / 10), e(-TINY, h=TINY / 10), e(1e300)],
    # constant on each side of the jump at 0; steps near it stay on one side
    "sign": [o(2.5), o(-2.5), e(TINY, h=TINY / 10), e(-TINY, h=TINY / 10), e(1e-300, h=1e-301),
             e(-1e300)],
    "step": [o(2.5), o(-2.5), e(TINY, h=TINY / 10), e(-TINY, h=TINY / 10), e(1e-300, h=1e-301),
             e(1e300)],
    "max": [o(1, 2), o(3, -1, 2), o(-4, -5, -6, -7), e(5), e(0, TINY, h=TINY / 10), e(1e-300, 0, h=1e-301),
            e(-1e300, 1e300)],
    "min": [o(1, 2), o(3, -1, 2), o(-4, -5, -6, -7), e(5), e(0, TINY, h=TINY / 10), e(-1e-300, 0, h=1e-301),
            e(-1e300, 1e300)],
    "hypot": [o(3, 4), o(-1e-3, 2), o(-1.5, -2.5), e(0, 2), e(1e200, 1e200), e(1e-200, -1e-200, h=1e-201),
              e(TINY, 0, h=TINY / 10)],
    "sin": [o(0), o(1), o(-2.5), e(math.pi), e(100, h=0.1), e(1e-10)],
    "cos": [o(0), o(1), o(-2.5), e(math.pi / 2), e(100, h=0.1), e(1e-10)],
    "tan": [o(0), o(1), o(-1.2), e(1.5, h=0.01), e(-1.57, h=1e-4), e(1e-10)],
    "sec": [o(0), o(1), o(-2), e(1.5, h=0.01), e(math.pi)],
    "csc": [o(1), o(-0.5), o(3, h=0.01), e(1e-4, h=1e-5), e(math.pi / 2)],
    "cot": [o(1), o(-0.5), o(3, h=0.01), e(1e-4, h=1e-5), e(math.pi / 2)],
    "asin": [o(0), o(0.5), o(-0.9), e(1 - NEAR), e(-1 + NEAR), e(1e-10),
             e(1, undefined=[0]), e(-1, undefined=[0])],
    "acos": [o(0), o(0.5), o(-0.9), e(1 - NEAR), e(-1 + NEAR),
             e(1, undefined=[0]), e(-1, undefined=[0])],
    "atan": [o(0), o(1), o(-3), e(1e8), e(-1e-8), e(1e300)],
    "asec": [o(2), o(-2), o(1.5), e(1 + NEAR), e(-1 - NEAR), e(1e10), e(1, undefined=[0]),
             e(-1, undefined=[0])],
    "acsc": [o(2), o(-2), o(1.5), e(1 + NEAR), e(-1 - NEAR), e(1e10), e(1, undefined=[0]),
             e(-1, undefined=[0])],
    "acot": [o(1), o(-1), o(5), e(0), e(-1e-9), e(1e8)],
    "atan2": [o(1, 1), o(1, -1), o(-1, -1), o(-2, 0.5), e(0, 1), e(1, 0), e(1e-6, -1, h=1e-7),
              e(1e-200, 1e-200, h=1e-201), e(-1e-200, 3e-200, h=1e-201), e(0, 0, undefined=[0, 1])],
    "sinh": [o(0), o(1), o(-2), e(1e-8), e(700), e(-700)],
    "cosh": [o(0), o(1), o(-2), e(1e-8), e(700), e(-700)],
    "tanh": [o(0), o(0.5), o(-3), e(1e-8), e(20), e(-20), e(400)],
    "sech": [o(0), o(1), o(-2), e(1e-8), e(700), e(-30)],
    "csch": [o(1), o(-0.5), o(3), e(1e-5, h=1e-6), e(-1e-5, h=1e-6), e(700)],
    "coth": [o(1), o(-0.5), o(3), e(1e-5, h=1e-6), e(-1e-5, h=1e-6), e(20)],
    "asinh": [o(0), o(1), o(-2.5), e(1e-9), e(-1e5), e(1e300)],
    "acosh": [o(1.5), o(10), o(2), e(1 + NEAR), e(1e300), e(1, undefined=[0])],
    "atanh": [o(0), o(0.5), o(-0.75), e(1 - NEAR), e(-1 + NEAR), e(1e-10)],
    "asech": [o(0.5), o(0.25), o(0.9), e(1e-3), e(1 - NEAR), e(1e-300), e(1, undefined=[0])],
    "acsch": [o(1), o(-2), o(0.5), e(1e-3, h=1e-4), e(-1e-3, h=1e-4), e(1e10), e(1e300)],
    "acoth": [o(2), o(-3), o(1.5), e(1 + NEAR, h=1e-7), e(-1 - NEAR, h=1e-7), e(1e10)],
    "sigmoid": [o(0), o(2), o(-3), e(40), e(-40), e(-700, h=1), e(700, h=1), e(-800), e(1e-12)],
    "softplus": [o(0), o(2), o(-3), e(40), e(-40), e(-700, h=1), e(800), e(1e-12)],
    "logsumexp": [o(1, 2), o(0.5, -1, 3), o(-2), o(0, 0, 0, 0), e(1000, 1000), e(-1000, -1000),
                  e(1000, 0), e(-800, -800.5, h=0.1)],
    "erf": [o(0), o(0.5), o(-1.2), o(2), e(1e-10), e(6), e(-6)],
    "erfc": [o(0), o(0.5), o(-1.2), o(2), e(1e-10), e(6), e(-6)],
}

#: Leaves take their value from the graph (a literal or a binding), not from a rule.
LEAVES = {"var", "const"}

# ------------------------------------------------------------------ references


def _log(a):
    # An independent formula for ln: 2·atanh((a - 1)/(a + 1)), with the exponent split off.
    m, k = math.frexp(a)
    if m < math.sqrt(0.5):
        m, k = 2 * m, k - 1
    return 2 * math.atanh((m - 1) / (m + 1)) + k * math.log(2.0)


def _pow(a, b):
    if a > 0:
        return math.exp(b * _log(a)) if abs(b * _log(a)) < 700 else a ** b
    if a == 0:
        return 0.0 if b > 0 else 1.0
    assert b == int(b)
    mag = _pow(-a, b)
    return -mag if int(b) % 2 else mag


def _sinh(a):
    if abs(a) < 1e-3:
        return a + a ** 3 / 6 + a ** 5 / 120
    if abs(a) > 700:
        return math.copysign(math.exp(abs(a) - math.log(2.0)), a)
    return (math.exp(a) - math.exp(-a)) / 2


def _cosh(a):
    if abs(a) > 700:
        return math.exp(abs(a) - math.log(2.0))
    return (math.exp(a) + math.exp(-a)) / 2


def _tanh(a):
    t = math.expm1(-2 * abs(a))
    return math.copysign(-t / (t + 2), a)


def _asinh(a):
    x = abs(a)
    if x > 1e150:
        r = math.log(x) + math.log(2.0)
    else:
        r = math.log1p(x + x * x / (1 + math.sqrt(1 + x * x)))
    return math.copysign(r, a)


def _acosh(a):
    if a > 1e150:
        return math.log(a) + math.log(2.0)
    return math.log1p((a - 1) + math.sqrt((a - 1) * (a + 1)))


def _atanh(a):
    x = abs(a)
    return math.copysign(0.5 * math.log1p(2 * x / (1 - x)), a)


def _sigmoid(a):
    if a < -30:
        return math.exp(a) - math.exp(2 * a)  # e^a / (1 + e^a), two terms of the series
    return (1 + _tanh(a / 2)) / 2


def _softplus(a):
    if a > 30:
        return a + math.exp(-a)
    if a < -30:
        return math.exp(a)
    return math.log(1 + math.exp(a))


def _logsumexp(*xs):
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _erf_series(a):
    # erf(a) = 2/sqrt(pi) · sum (-1)^n a^(2n+1) / (n! (2n+1)); fine for |a| <= 2.5.
    term, total, n = a, a, 0
    while abs(term) > 1e-17 * abs(total):
        n += 1
        term *= -a * a / n
        total += term / (2 * n + 1)
    return 2 / math.sqrt(math.pi) * total


def _erfc_fraction(a):
    # erfc(a) = e^(-a²)/sqrt(pi) · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), a >= 2.
    tail = 0.0
    for k in range(400, 0, -1):
        tail = (k / 2) / (a + tail)
    return math.exp(-a * a) / math.sqrt(math.pi) / (a + tail)


def _erf(a):
    if abs(a) <= 2.5:
        return _erf_series(a)
    return math.copysign(1 - _erfc_fraction(abs(a)), a)


def _erfc(a):
    if a >= 2.5:
        return _erfc_fraction(a)
    if a <= -2.5:
        return 2 - _erfc_fraction(-a)
    return 1 - _erf_series(a)


def _hypot(a, b):
    m = max(abs(a), abs(b))
    return 0.0 if m == 0 else m * math.sqrt((a / m) ** 2 + (b / m) ** 2)


REFERENCE = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": _pow,
    "neg": lambda a: -a,
    "exp": lambda a: math.e ** a,  # the rounding of e costs |a|·1.1e-16 relative: 8e-14 at 700
    "log": _log,
    "logb": lambda a, b: _log(a) / _log(b),
    "log2": lambda a: _log(a) / _log(2.0),
    "log10": lambda a: _log(a) / _log(10.0),
    "log1p": lambda a: (a - a * a / 2 + a ** 3 / 3) if abs(a) < 1e-5 else _log(1 + a),
    "expm1": lambda a: (a + a * a / 2 + a ** 3 / 6) if abs(a) < 1e-5 else math.exp(a) - 1,
    "sqrt": lambda a: a ** 0.5,
    "cbrt": lambda a: math.copysign(abs(a) ** (1 / 3), a),
    "abs": lambda a: a if a >= 0 else -a,
    "relu": lambda a: a if a > 0 else 0.0,
    "sign": lambda a: (a > 0) - (a < 0) + 0.0,
    "step": lambda a: 1.0 if a > 0 else 0.0,
    "max": lambda *xs: sorted(xs)[-1],
    "min": lambda *xs: sorted(xs)[0],
    "hypot": _hypot,
    "sin": lambda a: cmath.exp(1j * a).imag,
    "cos": lambda a: cmath.exp(1j * a).real,
    "tan": lambda a: math.sin(a) / math.cos(a),
    "sec": lambda a: 1 / math.cos(a),
    "csc": lambda a: 1 / math.sin(a),
    "cot": lambda a: math.cos(a) / math.sin(a),
    "asin": lambda a: math.atan2(a, math.sqrt((1 - a) * (1 + a))),
    "acos": lambda a: math.atan2(math.sqrt((1 - a) * (1 + a)), a),
    "atan": lambda a: math.atan2(a, 1.0),
    # acos(x) = 2·atan(sqrt((1 - x)/(1 + x))) at x = 1/a; a - 1 is exact near 1, where 1/a
    # rounds and acos(1/a) is off by 1e-11 at a = 1 + 1e-6 (mpmath: tests/test_precision.py).
    "asec": lambda a: 2 * math.atan(math.sqrt((a - 1) / (a + 1))) if a > 0 else
    math.pi - 2 * math.atan(math.sqrt((-a - 1) / (1 - a))),
    "acsc": lambda a: math.atan2(1 / a, math.sqrt((1 - 1 / a) * (1 + 1 / a))),
    "acot": lambda a: math.atan2(1.0, a),  # the continuous branch, in (0, pi)
    "atan2": lambda y, x: cmath.phase(complex(x, y)),
    "sinh": _sinh,
    "cosh": _cosh,
    "tanh": _tanh,
    "sech": lambda a: 1 / _cosh(a),
    "csch": lambda a: 1 / _sinh(a),
    "coth": lambda a: 1 / _tanh(a),
    "asinh": _asinh,
    "acosh": _acosh,
    "atanh": _atanh,
    # acosh(y) = 2·asinh(sqrt((y - 1)/2)) at y = 1/a, and 0.5·log((a + 1)/(a - 1)) for acoth:
    # exact 1 - a near 1, where 1/a rounds and acosh(1/a), atanh(1/a) lose 1e-11.
    "asech": lambda a: 2 * _asinh(math.sqrt((1 - a) / (2 * a))),
    "acsch": lambda a: _asinh(1 / a),
    "acoth": lambda a: 0.5 * _log((a + 1) / (a - 1)) if abs(a) < 2 else _atanh(1 / a),
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "logsumexp": _logsumexp,
    "erf": _erf,
    "erfc": _erfc,
}

# ------------------------------------------------------------------ the oracle

ARITH = (ValueError, ZeroDivisionError, OverflowError)


def _ridders(f, x, h):
    """(estimate, error estimate) of f'(x): Ridders' method, Numerical Recipes ``dfridr``."""
    con, con2, ntab, safe = 1.4, 1.4 * 1.4, 10, 2.0
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
        if abs(a[i][i] - a[i - 1][i - 1]) >= safe * err:
            break
    return ans, err


def _defined(f, x):
    try:
        return math.isfinite(f(x))
    except ARITH:
        return False


def numeric_partial(op, args, k, h=None):
    """Ridders' estimate of d op / d args[k] (and its error estimate)."""
    x = args[k]

    def f(v):
        return op.value(*args[:k], v, *args[k + 1:])

    if isinstance(h, tuple):
        h = h[k]
    if h is None:
        h = 0.1 * max(1.0, abs(x))
        # Keep a margin: Ridders' first differences must not straddle a domain edge.
        while not (_defined(f, x + 8 * h) and _defined(f, x - 8 * h)):
            h /= 4
            assert h > 1e-320, f"no step keeps {op.name}{args} inside the domain"
    assert _defined(f, x + h) and _defined(f, x - h), (op.name, args, h)
    return _ridders(f, x, h)


RTOL, ATOL = 1e-7, 1e-13


def _cases(select):
    for name, points in POINTS.items():
        for p in points:
            if select(p):
                yield pytest.param(name, p, id=f"{name}{p.args}")


ALL = list(_cases(lambda p: True))
#: Points with at least one input whose local derivative exists.
DIFFERENTIABLE = list(_cases(lambda p: len(p.undefined) < len(p.args)))

# ------------------------------------------------------------ table coverage


def test_every_op_has_points():
    """Adding a row to OPS must come with sample points here."""
    missing = sorted(set(OPS) - set(POINTS) - LEAVES)
    assert not missing, f"ops without sample points in tests/test_ops.py: {missing}"
    assert not set(POINTS) - set(OPS), "points for ops that are not in OPS"


def test_every_op_has_ordinary_and_edge_points():
    for name, points in POINTS.items():
        assert any(not p.edge for p in points), f"{name}: no ordinary point"
        assert any(p.edge for p in points), f"{name}: no edge point"


def test_every_op_has_a_reference():
    assert set(REFERENCE) == set(OPS) - LEAVES


def test_leaves_are_the_only_nullary_ops():
    for name, op in OPS.items():
        if name in LEAVES:
            assert op.arity == 0 and op.kind == "leaf"
            assert op.local(1.0) == ()
        else:
            assert op.kind != "leaf", name
            assert op.arity is None or op.arity >= 1, name


def test_point_arities_match_the_ops():
    for name, points in POINTS.items():
        op = OPS[name]
        for p in points:
            if op.arity is None:
                assert len(p.args) >= op.min_arity, (name, p)
            else:
                assert len(p.args) == op.arity, (name, p)


def test_table_names_are_consistent():
    for name, op in OPS.items():
        assert op.name == name
        assert op.kind in ("leaf", "infix", "prefix", "function")


# ------------------------------------------------------------------- values


@pytest.mark.parametrize("name, point", ALL)
def test_value_matches_reference(name, point):
    op = OPS[name]
    value = op.value(*point.args)
    assert type(value) is float, f"{name}{point.args} returned {type(value).__name__}"
    assert math.isfinite(value)
    expected = REFERENCE[name](*point.args)
    assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-300), (value, expected)


# ------------------------------------------------------------ local gradients


def _local(op, args):
    return op.local(*args, op.value(*args))


@pytest.mark.parametrize("name, point", DIFFERENTIABLE)
def test_local_gradients_match_finite_differences(name, point):
    op = OPS[name]
    local = _local(op, point.args)
    assert len(local) == len(point.args), f"{name} gave {len(local)} local gradients"
    for k in range(len(point.args)):
        if k in point.undefined:
            continue
        ad = local[k]
        fd, est = numeric_partial(op, point.args, k, point.h)
        assert est <= 2e-8 * max(1.0, abs(fd)), f"oracle unreliable for input {k}: {fd} ± {est}"
        assert math.isfinite(ad), f"d{name}/d(input {k}) = {ad} at {point.args}"
        assert abs(ad - fd) <= RTOL * abs(fd) + ATOL + 4 * est, (k, ad, fd, est)


UNDEFINED = [pytest.param(n, p, id=f"{n}{p.args}") for n, ps in POINTS.items() for p in ps
             if p.undefined]


@pytest.mark.parametrize("name, point", UNDEFINED)
def test_local_gradient_that_does_not_exist_is_not_finite(name, point):
    """Where a derivative does not exist the rule says so (inf/nan or an arithmetic error);
    the engine turns that into an evaluation error only when a gradient flows there."""
    op = OPS[name]
    try:
        local = _local(op, point.args)
    except ARITH:
        return
    for k in point.undefined:
        assert not math.isfinite(local[k]), (k, local)


def test_the_ops_with_a_domain_have_outside_points():
    """An op that states a domain has points outside it (a value error) or points where
    its gradient does not exist (atan2's domain is about the gradient at the origin)."""
    ops_with_domain = {name for name, op in OPS.items() if op.domain}
    covered = {name for name, _ in OUTSIDE} | {name for name, ps in POINTS.items()
                                               if any(p.undefined for p in ps)}
    assert ops_with_domain - covered == set(NO_OUTSIDE_POINT)


#: Ops whose stated domain no double reaches.
NO_OUTSIDE_POINT = {"sec": "cos(x) is never exactly 0 for a double x (cos(pi/2) = 6e-17)"}


# ---------------------------------------------------------- outside the domain

OUTSIDE = [
    ("div", (1.0, 0.0)), ("div", (0.0, 0.0)),
    ("pow", (-8.0, 1 / 3)), ("pow", (0.0, -1.0)), ("pow", (-2.0, 0.5)), ("pow", (10.0, 400.0)),
    ("exp", (1000.0,)), ("expm1", (710.0,)),
    ("log", (0.0,)), ("log", (-1.0,)), ("logb", (2.0, 1.0)), ("logb", (2.0, -2.0)),
    ("logb", (-2.0, 2.0)), ("logb", (2.0, 0.0)),
    ("log2", (0.0,)), ("log10", (-1e-300,)), ("log1p", (-1.0,)), ("log1p", (-2.0,)),
    ("sqrt", (-1.0,)), ("sqrt", (-1e-300,)),
    ("sinh", (711.0,)), ("cosh", (-711.0,)),
    ("csc", (0.0,)), ("cot", (0.0,)),
    ("asin", (1.0 + 1e-15,)), ("acos", (-2.0,)),
    ("asec", (0.5,)), ("asec", (0.0,)), ("acsc", (-0.5,)), ("acsc", (0.0,)),
    ("csch", (0.0,)), ("coth", (0.0,)),
    ("acosh", (0.5,)), ("acosh", (-1.0,)), ("atanh", (1.0,)), ("atanh", (-1.5,)),
    ("asech", (0.0,)), ("asech", (1.5,)), ("asech", (-0.5,)),
    ("acsch", (0.0,)), ("acoth", (1.0,)), ("acoth", (0.5,)), ("acoth", (0.0,)),
    ("hypot", (1.5e308, 1.5e308)),
]


@pytest.mark.parametrize("name, args", OUTSIDE, ids=[f"{n}{a}" for n, a in OUTSIDE])
def test_value_outside_the_domain_is_an_error_not_a_number(name, args):
    """Outside the domain a rule raises an arithmetic error or gives a non-finite value
    (never a complex number, never a silent wrong float)."""
    op = OPS[name]
    try:
        value = op.value(*args)
    except ARITH:
        return
    assert not isinstance(value, complex)
    assert not math.isfinite(value), f"{name}{args} = {value}"


@pytest.mark.parametrize("name, args", OUTSIDE, ids=[f"{n}{a}" for n, a in OUTSIDE])
def test_outside_the_domain_is_exit_3_through_the_cli(name, args, run):
    formula = _call_text(name, args)
    result = run("grad", formula, "--format", "json")
    assert result.code == 3, result
    assert result.stdout == ""
    assert result.stderr.startswith("Error: "), result
    # The literals are n0, n1, ...; the op's node comes next. The caret spans the call.
    assert f"node n{len(args)}" in result.stderr, result
    assert f"\n  {formula}\n  {'^' * len(formula)}\n" in result.stderr, result


def _call_text(name, args):
    lit = [repr(a) if a >= 0 else f"({a!r})" for a in args]
    if OPS[name].kind == "infix":
        return f"{lit[0]} {OPS[name].symbol} {lit[1]}"
    fname = "log" if name == "logb" else name
    return f"{fname}({', '.join(lit)})"


# ---------------------------------------------------------------- kinks


KINKS = [
    # (op, args, the local gradients the documented convention gives)
    ("abs", (0.0,), (0.0,)),
    ("relu", (0.0,), (0.0,)),
    # the value jumps at 0; the derivative, 0 on both sides, is taken as 0 at the jump
    ("sign", (0.0,), (0.0,)),
    ("step", (0.0,), (0.0,)),
    ("max", (1.0, 1.0), (0.5, 0.5)),
    ("max", (2.0, 2.0, 2.0, 2.0), (0.25, 0.25, 0.25, 0.25)),
    ("max", (3.0, -1.0, 3.0), (0.5, 0.0, 0.5)),
    ("min", (1.0, 1.0), (0.5, 0.5)),
    ("min", (-1.0, 3.0, -1.0), (0.5, 0.0, 0.5)),
    ("min", (0.0, 0.0, 0.0), (1 / 3, 1 / 3, 1 / 3)),
    ("hypot", (0.0, 0.0), (0.0, 0.0)),
    # the branch cut: the value jumps, the gradient formula is the same on both sides
    ("atan2", (0.0, -2.0), (-0.5, 0.0)),
]


@pytest.mark.parametrize("name, args, expected", KINKS, ids=[f"{n}{a}" for n, a, _ in KINKS])
def test_kink_convention(name, args, expected):
    op = OPS[name]
    assert op.kink is not None and op.kink(*args)
    assert op.convention
    assert tuple(_local(op, args)) == pytest.approx(expected, rel=1e-15, abs=0)


def test_every_kinked_op_has_kink_points():
    assert {name for name, op in OPS.items() if op.kink} == {name for name, _, _ in KINKS}


@pytest.mark.parametrize("name, point", [c for c in ALL if OPS[c.values[0]].kink is not None])
def test_ordinary_points_are_not_kinks(name, point):
    assert not OPS[name].kink(*point.args)


def test_abs_kink_matches_the_symmetric_difference():
    # d|x|/dx = 0 at 0 is the central difference's answer too.
    fd, _ = numeric_partial(OPS["abs"], (0.0,), 0, 1e-3)
    assert fd == 0.0 == _local(OPS["abs"], (0.0,))[0]


def test_sign_and_step_jump_at_their_kink_where_differences_are_inconclusive():
    """sign(0) = 0 and step(0) = 0; on either side of 0 the values are constant (derivative
    0, the convention at 0 too), but a symmetric difference across the jump measures the
    jump: jump/(2h), which grows without bound as h shrinks."""
    sign, step = OPS["sign"], OPS["step"]
    assert [sign.value(x) for x in (-TINY, -0.0, 0.0, 5e-324, 3.0)] == [-1.0, 0.0, 0.0, 1.0, 1.0]
    assert [step.value(x) for x in (-TINY, -0.0, 0.0, 5e-324, 3.0)] == [0.0, 0.0, 0.0, 1.0, 1.0]
    for op, jump in ((sign, 2.0), (step, 1.0)):
        assert op.convention and op.kink(0.0) and not op.kink(5e-324)
        assert _local(op, (0.0,)) == (0.0,)
        for h in (1e-3, 1e-6):
            assert (op.value(h) - op.value(-h)) / (2 * h) == pytest.approx(jump / (2 * h))


@pytest.mark.parametrize("args, stdout, stderr", [
    ("x=2", "value\t3.0\nx\t1.0\n", ""),
    ("x=-2", "value\t2.0\nx\t-1.0\n", ""),
    ("x=0", "value\t0.0\nx\t0.0\n",
     "Warning: node n1 (sign) is at its kink (sign at 0), where it is not differentiable; "
     "convention: sign'(0) = 0 (the value jumps at 0; the derivative is 0 on both sides)\n"
     "Warning: node n3 (step) is at its kink (step at 0), where it is not differentiable; "
     "convention: step'(0) = 0 (the value jumps at 0; the derivative is 0 on both sides)\n"),
])
def test_sign_and_step_are_language_functions(args, stdout, stderr, run):
    """x·sign(x) is |x| (its derivative sign(x)); step(x) adds 1 for x > 0."""
    result = run("grad", "x*sign(x) + step(x)", "--at", args, "--format", "plain")
    assert (result.code, result.stdout, result.stderr) == (0, stdout, stderr)


def test_check_at_a_jump_is_a_kink_and_near_it_agrees(run):
    at_jump = run("check", "step(x) + sign(y)", "--at", "x=0,y=1", "--format", "json")
    assert at_jump.code == 1
    case = at_jump.json()["cases"][0]
    assert case["status"] == {"x": "kink", "y": "ok"} and case["gradient"] == {"x": 0.0, "y": 0.0}
    near = run("check", "x*step(x) + sign(x)", "--at", "x=1e-9", "--format", "json")
    assert near.code == 0 and near.json()["cases"][0]["status"] == {"x": "ok"}
    sampled = run("check", "x*step(x) + sign(x)", "--samples", "200", "--range", "x=-1:1",
                  "--method", "complex", "--format", "json")
    assert sampled.code == 0 and sampled.json()["summary"]["ok"] == 200


def test_max_and_min_pick_the_extreme_argument():
    assert _local(OPS["max"], (1.0, 3.0, 2.0)) == (0.0, 1.0, 0.0)
    assert _local(OPS["min"], (1.0, 3.0, 2.0)) == (1.0, 0.0, 0.0)


# ------------------------------------------------------------ stable forms

TAILS = [
    # (op, args, value, local gradients): closed forms, compared at rel_tol=1e-12.
    ("sigmoid", (-700.0,), math.exp(-700.0), (math.exp(-700.0),)),
    ("sigmoid", (-740.0,), math.exp(-740.0), (math.exp(-740.0),)),
    ("sigmoid", (-40.0,), math.exp(-40.0) - math.exp(-80.0), (math.exp(-40.0) - 2 * math.exp(-80.0),)),
    ("sigmoid", (40.0,), 1.0, (math.exp(-40.0) - 2 * math.exp(-80.0),)),
    ("sigmoid", (700.0,), 1.0, (math.exp(-700.0),)),
    ("softplus", (800.0,), 800.0, (1.0,)),
    ("softplus", (40.0,), 40.0 + math.exp(-40.0), (1.0,)),
    ("softplus", (-700.0,), math.exp(-700.0), (math.exp(-700.0),)),
    ("softplus", (-40.0,), math.exp(-40.0) - math.exp(-80.0) / 2, (math.exp(-40.0),)),
    ("logsumexp", (1000.0, 1000.0), 1000.0 + math.log(2.0), (0.5, 0.5)),
    ("logsumexp", (-1000.0, -1000.0), -1000.0 + math.log(2.0), (0.5, 0.5)),
    ("logsumexp", (1000.0, 999.0), 1000.0 + math.log1p(math.exp(-1.0)),
     (1 / (1 + math.exp(-1.0)), math.exp(-1.0) / (1 + math.exp(-1.0)))),
    ("logsumexp", (1000.0, 0.0), 1000.0, (1.0, math.exp(-1000.0))),
    ("logsumexp", (5.0,), 5.0, (1.0,)),
    # out = m + log 2 rounds to m here; the local gradients are still the softmax (1/2, 1/2).
    ("logsumexp", (1e16, 1e16), 1e16, (0.5, 0.5)),
    ("logsumexp", (1e300, 1e300), 1e300, (0.5, 0.5)),
    ("atan2", (1e-200, 1e-200), math.pi / 4, (5e199, -5e199)),
    ("pow", (1e-170, 2.0), 0.0, (2e-170, 0.0)),
    ("pow", (-2.0, 3.0), -8.0, (12.0, math.nan)),
    ("pow", (-2.0, -3.0), -0.125, (-3.0 / 16.0, math.nan)),
    ("pow", (0.0, 0.0), 1.0, (0.0, math.nan)),
    ("expm1", (1e-300,), 1e-300, (1.0,)),
    ("log1p", (1e-300,), 1e-300, (1.0,)),
]


@pytest.mark.parametrize("name, args, value, local", TAILS, ids=[f"{n}{a}" for n, a, _, _ in TAILS])
def test_stable_tails(name, args, value, local):
    op = OPS[name]
    out = op.value(*args)
    assert math.isclose(out, value, rel_tol=1e-12, abs_tol=0.0), (out, value)
    got = op.local(*args, out)
    for k, (g, want) in enumerate(zip(got, local)):
        if math.isnan(want):  # d/db of a negative or zero base: does not exist
            assert not math.isfinite(g), (k, g)
        else:
            assert math.isclose(g, want, rel_tol=1e-12, abs_tol=0.0), (k, g, want)


def test_sigmoid_far_left_is_finite_and_not_negative():
    # e^-800 is below the smallest double (4.9e-324): the correctly rounded value is 0.
    for a in (-800.0, -1e6, -1e300):
        v = OPS["sigmoid"].value(a)
        assert v == 0.0 and math.copysign(1.0, v) == 1.0
        assert OPS["sigmoid"].local(a, v) == (0.0,)
    assert OPS["sigmoid"].value(-740.0) > 0.0


def test_softplus_and_logsumexp_never_overflow():
    assert OPS["softplus"].value(800.0) == 800.0
    assert OPS["softplus"].value(1e300) == 1e300
    assert OPS["logsumexp"].value(1e300, 1e300) == 1e300
    assert math.isfinite(OPS["logsumexp"].value(1000.0, 1000.0))


def test_pow_never_returns_complex():
    """math.pow, not **: (-8) ** (1/3) would be a complex number in Python."""
    pow_ = OPS["pow"].value
    with pytest.raises(ValueError):
        pow_(-8.0, 1.0 / 3.0)
    for a in (-3.0, -1.0, -0.5, 0.0, 0.5, 2.0):
        for b in (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0):
            if a == 0.0 and b < 0:
                continue
            v = pow_(a, b)
            assert type(v) is float
            assert v == pytest.approx(float(a) ** b, rel=1e-15)
    assert pow_(0.0, 0.0) == 1.0


@pytest.mark.parametrize("formula, at, value, grad", [
    ("x^3", "x=-2", -8.0, 12.0),
    ("x^2", "x=-3", 9.0, -6.0),
    ("x^(-1)", "x=-2", -0.5, -0.25),
    ("x^0", "x=0", 1.0, 0.0),
    ("0^0 + x", "x=1", 2.0, 1.0),
    ("x**3", "x=-2", -8.0, 12.0),
    ("pow(x, 3)", "x=-2", -8.0, 12.0),
])
def test_negative_base_with_integer_exponent_end_to_end(formula, at, value, grad, run):
    result = run("grad", formula, "--at", at, "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert doc["value"] == value
    assert doc["gradient"]["x"] == grad


@pytest.mark.parametrize("formula, at", [("x^(1/3)", "x=-8"), ("(-8)^(1/3)", None),
                                          ("pow(x, 0.5)", "x=-4"), ("x^y", "x=-2,y=0.5")])
def test_negative_base_with_fractional_exponent_is_exit_3(formula, at, run):
    args = ["grad", formula] + (["--at", at] if at else [])
    result = run(*args)
    assert result.code == 3, result
    assert "pow is not defined at" in result.stderr
    assert "j)" not in result.stderr  # no complex number anywhere


def test_gradient_wrt_exponent_of_negative_base_is_exit_3(run):
    # (-2)^y is defined only at integer y, so d/dy does not exist there.
    result = run("grad", "x^y", "--at", "x=-2,y=3")
    assert result.code == 3, result
    assert "pow" in result.stderr


# ------------------------------------------------------ the fused expansions


EXPANDED = [name for name, op in OPS.items() if op.expand]


@pytest.mark.parametrize("name", EXPANDED)
def test_fused_op_matches_its_expansion(name):
    """An op with ``expand`` computes the same value and gradient as that formula."""
    op = OPS[name]
    compared = 0
    for p in POINTS[name]:
        if p.undefined:
            continue
        names = "ab"[:len(p.args)]
        at = dict(zip(names, p.args))
        fused = evaluate(parse(f"{name}({', '.join(names)})"), at)
        try:
            expanded = evaluate(parse(op.expand), at)
        except EvalError:
            continue  # the expansion overflows where the fused op does not: that's why it exists
        compared += 1
        assert fused.value == pytest.approx(expanded.value, rel=1e-9, abs=1e-12)
        for n in names:
            assert fused.gradient[n] == pytest.approx(expanded.gradient[n], rel=1e-7, abs=1e-12), n
    assert compared >= 2, f"{name}: fewer than 2 points where the expansion is defined"


# -------------------------------------------------- grammar names and arity

#: Every function the issue requires, with the arities it must accept and the op it builds.
REQUIRED = {
    **{f: ({1: f}) for f in (
        "exp log2 log10 log1p expm1 sqrt cbrt abs sin cos tan sec csc cot asin acos atan "
        "asec acsc acot sinh cosh tanh sech csch coth asinh acosh atanh asech acsch acoth "
        "sigmoid softplus relu sign step erf erfc").split()},
    "log": {1: "log", 2: "logb"},
    "ln": {1: "log"},
    "pow": {2: "pow"},
    "atan2": {2: "atan2"},
    "hypot": {2: "hypot"},
    "min": {2: "min", 3: "min", 5: "min"},
    "max": {2: "max", 3: "max", 5: "max"},
    "logsumexp": {2: "logsumexp", 3: "logsumexp", 5: "logsumexp"},
    # NumPy's names (3 of the 120 AI Feynman formulas use them)
    **{f"arc{f}": {1: f"a{f}"} for f in ("sin", "cos", "tan", "sinh", "cosh", "tanh")},
    "arctan2": {2: "atan2"},
}


def _call_of(fname, n):
    args = ", ".join(f"x{k}" for k in range(n))
    return f"{fname}({args})"


@pytest.mark.parametrize("fname", sorted(REQUIRED))
def test_required_function_names_build_their_ops(fname):
    for n, opname in REQUIRED[fname].items():
        assert lookup(fname, n) is OPS[opname]
        graph = parse(_call_of(fname, n))
        assert graph.ops[graph.output] is OPS[opname]
        assert graph.inputs[graph.output] == tuple(range(n))


def test_every_function_name_maps_to_an_op_in_the_table():
    for fname, by_arity in FUNCTIONS.items():
        for arity, op in by_arity.items():
            assert OPS[op.name] is op, fname
            assert op.kind != "leaf"
            assert arity == op.arity
    assert set(REQUIRED) <= set(FUNCTIONS)


def test_every_function_op_is_callable_by_some_name():
    called = {op.name for by_arity in FUNCTIONS.values() for op in by_arity.values()}
    functions = {name for name, op in OPS.items() if op.kind == "function"}
    assert functions <= called


def _wrong_arities(fname):
    by_arity = FUNCTIONS[fname]
    if None in by_arity:
        return list(range(0, by_arity[None].min_arity))
    ok = set(by_arity)
    return [n for n in range(0, max(ok) + 2) if n not in ok]


ARITY_TEXT = {
    **{f: "1 argument" for f in REQUIRED if set(REQUIRED[f]) == {1}},
    "ln": "1 argument", "log": "1 or 2 arguments",
    "pow": "2 arguments", "atan2": "2 arguments", "arctan2": "2 arguments", "hypot": "2 arguments",
    "min": "at least 1 argument", "max": "at least 1 argument", "logsumexp": "at least 1 argument",
}


@pytest.mark.parametrize("fname", sorted(REQUIRED))
def test_wrong_arity_is_an_input_error_naming_function_and_arity(fname):
    wrong = _wrong_arities(fname)
    assert wrong
    for n in wrong:
        text = _call_of(fname, n)
        with pytest.raises(InputError) as info:
            parse(text)
        assert info.value.message == f"{fname} takes {ARITY_TEXT[fname]}, got {n}"
        assert info.value.span == (0, len(text))


#: NumPy's name -> adiff's op: the same op, reported (JSON ``op``, printer) by adiff's name.
NUMPY_NAMES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
               "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2"}
NUMPY_NAME_POINTS = {"asin": "x=0.5", "acos": "x=0.5", "atan": "x=2", "asinh": "x=-1.5",
                     "acosh": "x=2", "atanh": "x=0.25", "atan2": "x=0.5,y=-2"}


@pytest.mark.parametrize("alias, name", sorted(NUMPY_NAMES.items()))
def test_numpy_names_are_aliases_end_to_end(alias, name, run):
    """`adiff grad "arcsin(x)"` is `adiff grad "asin(x)"`, and JSON's ``op`` stays asin."""
    args = "x, y" if name == "atan2" else "x"
    got = run("grad", f"{alias}({args})", "--at", NUMPY_NAME_POINTS[name], "--format", "json")
    want = run("grad", f"{name}({args})", "--at", NUMPY_NAME_POINTS[name], "--format", "json")
    assert got.code == want.code == 0, (got, want)
    assert got.stderr == want.stderr == ""
    g, w = got.json(), want.json()
    assert g["expression"] == f"{alias}({args})"
    assert g["value"] == w["value"] and g["gradient"] == w["gradient"]
    assert [n["op"] for n in g["nodes"]] == [n["op"] for n in w["nodes"]]
    assert g["nodes"][-1]["op"] == name
    assert g["check"]["ok"] is True


@pytest.mark.parametrize("alias, name", sorted(NUMPY_NAMES.items()))
def test_numpy_names_print_as_adiff_names(alias, name, run):
    args = "x, y" if name == "atan2" else "x"
    got = run("graph", f"{alias}({args})")
    want = run("graph", f"{name}({args})")
    assert got.code == want.code == 0, (got, want)
    assert got.stdout == want.stdout
    assert f"= {name}({args})" in got.stdout and alias not in got.stdout


def test_constants_are_pi_and_e():
    assert CONSTANTS == {"pi": math.pi, "e": math.e}


# ---------------------------------------------------------------- the bottom layer


def test_the_op_table_imports_nothing_of_the_calculus():
    """ops.py is the bottom layer (core): no import of autodiff_cli.calculus, at the top or
    inside a function; its compiled attributes come from the compiler registered with it."""
    import ast

    from .conftest import ROOT

    tree = ast.parse((ROOT / "autodiff_cli" / "core" / "ops.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            imported |= {base} | {f"{base}.{a.name}".replace("..", ".") for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not {m for m in imported if "calculus" in m}, imported


def test_an_op_compiles_in_a_fresh_interpreter_and_says_so_without_a_compiler():
    import subprocess
    import sys

    from .conftest import ROOT

    code = (
        "import math, sys\n"
        "from autodiff_cli.core.ops import OPS\n"
        "assert 'autodiff_cli.calculus' not in sys.modules\n"  # importing the table compiles nothing
        "assert OPS['sin'].value is math.sin and OPS['tanh'].local(0.0, 0.0) == (1.0,)\n"
        "assert 'autodiff_cli.calculus.rules' in sys.modules\n"  # first use registered it
        "import autodiff_cli, autodiff_cli.core.ops as ops\n"
        "ops.set_compiler(None)\n"
        "autodiff_cli._install_compiler = lambda: None\n"  # a front door that registers none
        "try:\n"
        "    OPS['cos'].value\n"
        "except RuntimeError as e:\n"
        "    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("no rule compiler is registered for the op table: import "
                        "autodiff_cli.calculus (it registers one) before using an op\n")


# --------------------------------------------------------------------- inf and nan carried through

NONFINITE = (math.inf, -math.inf, math.nan)
#: Companions of a non-finite input: ordinary numbers, zeros, tiny, huge, near the overflow
#: of exp and cosh, and the non-finite values themselves.
COMPANIONS = (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, math.pi / 2, 1e-300, -1e-300, 1e300,
              -1e300, 710.0, -710.0, 1e-320) + NONFINITE
CARRIERS = [(name, k) for name, op in OPS.items() for k, letter in enumerate("ab")
            if letter in op.carries]


def test_carries_names_real_inputs():
    assert CARRIERS, "some op carries inf and nan"
    for op in OPS.values():
        assert set(op.carries) <= set("ab"[:op.arity or 0]), op.name


@pytest.mark.parametrize("name, k", CARRIERS)
def test_a_carried_inf_or_nan_comes_out_as_inf_or_nan(name, k):
    """``Op.carries`` over NumPy arrays: an input it names that is inf or nan gives inf or
    nan, whatever the other input (every companion, and each non-finite value)."""
    import itertools

    import numpy as np

    op = OPS[name]
    others = [COMPANIONS] * (op.arity - 1)
    rows = [combo[:k] + (bad,) + combo[k:] for bad in NONFINITE
            for combo in itertools.product(*others)]
    columns = [np.array(c, dtype=np.float64) for c in zip(*rows)]
    with np.errstate(all="ignore"):
        out = np.asarray(op.array_value(np, *columns), dtype=np.float64)
    kept = np.isfinite(out)
    assert not kept.any(), [rows[r] for r in np.flatnonzero(kept)[:5]]


def test_ops_that_lose_inf_or_nan_do_not_claim_to_carry_it():
    """The ops left out lose a non-finite input somewhere (so the claim would be false):
    exp(-inf) = 0, sigmoid(inf) = 1, 1/inf = 0, ..."""
    import numpy as np

    lost = {"exp": (-math.inf,), "expm1": (-math.inf,), "sigmoid": (math.inf,), "tanh": (math.inf,),
            "atan": (math.inf,), "softplus": (-math.inf,), "relu": (-math.inf,),
            "sign": (math.inf,), "step": (math.inf,), "erf": (math.inf,), "erfc": (math.inf,),
            "sech": (math.inf,), "coth": (math.inf,), "acot": (math.inf,), "csch": (math.inf,),
            "div": (1.0, math.inf), "logb": (2.0, math.inf), "pow": (math.inf, 0.0),
            "max": (-math.inf, 1.0), "min": (math.inf, 1.0), "atan2": (math.inf, 1.0)}
    for name, args in lost.items():
        op = OPS[name]
        with np.errstate(all="ignore"):
            out = op.array_value(np, *(np.array([a]) for a in args))
        assert np.isfinite(out).all(), name
        position = next(k for k, a in enumerate(args) if not math.isfinite(a))
        assert "ab"[position] not in op.carries, name
