"""The op table: the only place that knows calculus.

Each row says what an op is: its name (the JSON ``op`` and the grammar alias),
its arity, its value, its local derivatives given the inputs *and the output*,
the domain in words (for error messages), its display symbol, and, for ops
that are not differentiable everywhere, where their kink is and which
convention the engine uses there.

Rules never raise for an ordinary point of the domain; a local derivative that
does not exist comes back as ``inf``/``nan`` (or raises an arithmetic error),
and the engine turns that into an evaluation error naming the node -- but only
when a gradient actually has to flow through that edge.

Floating-point rules are deliberate: ``math.pow`` instead of ``**`` (which
silently returns complex numbers for a negative base), stable forms for
``sigmoid``, ``softplus`` and ``logsumexp``, and ``log1p``/``expm1`` where they
keep precision.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from dataclasses import dataclass, field

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INF = math.inf
_NAN = math.nan


@dataclass(frozen=True)
class Op:
    name: str
    arity: int | None  # None: variadic, at least ``min_arity`` inputs
    value: Callable[..., float]
    # (a, b, ..., out) -> (d out/d a, d out/d b, ...); one entry per input.
    local: Callable[..., tuple]
    domain: str | None = None  # the domain in words, for error messages
    symbol: str = ""  # how tables, DOT and the printer show it
    kind: str = "function"  # "leaf", "infix", "prefix" or "function"
    # For non-differentiable points: kink(a, b, ...) -> True at the kink.
    kink: Callable[..., bool] | None = None
    convention: str = ""  # the derivative the engine uses at the kink
    min_arity: int = 1
    # A formula in the inputs a, b that computes the same value from primitive
    # ops; ops with one are "fused" nodes that --expand can rewrite.
    expand: str | None = None
    aliases: tuple[str, ...] = field(default=())
    # The same function for complex arguments (an analytic extension), for the
    # complex-step check; None for ops that are not analytic (abs, relu, max,
    # min) or have no complex version in the standard library (erf, erfc).
    # Only its imaginary part is used: the real part is taken from ``value``.
    cvalue: Callable[..., complex] | None = None
    # Array forms, for ``--data`` (one element per row of a data file): the same
    # rules over NumPy arrays, side by side with the float ones. Each gets the
    # numpy module first, so this module never imports it: avalue(np, a, ...),
    # alocal(np, a, ..., out), akink(np, a, ...) -> a boolean per row. Any
    # argument may be a float (a value that is the same in every row).
    # None: the float rule above is plain arithmetic and works on arrays as
    # written. tests/test_data.py holds every row's two forms against each other.
    avalue: Callable | None = None
    alocal: Callable | None = None
    akink: Callable | None = None

    def array_value(self, np, *args):
        f = self.avalue
        return self.value(*args) if f is None else f(np, *args)

    def array_local(self, np, *args) -> tuple:
        f = self.alocal
        return self.local(*args) if f is None else f(np, *args)

    def array_kink(self, np, *args):
        f = self.akink
        return self.kink(*args) if f is None else f(np, *args)

    def arity_text(self) -> str:
        if self.arity is None:
            return f"at least {self.min_arity} argument{'s' if self.min_arity != 1 else ''}"
        return f"{self.arity} argument{'s' if self.arity != 1 else ''}"


# ---------------------------------------------------------------- helpers

def _cbrt(a: float) -> float:
    # math.cbrt exists from Python 3.11; math.pow on |a| keeps the sign right.
    return math.copysign(math.pow(abs(a), 1.0 / 3.0), a)


_cbrt = getattr(math, "cbrt", _cbrt)


def _sigmoid(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _sigmoid_grad(a: float) -> float:
    # s(a)·s(-a) = e^-|a| / (1 + e^-|a|)^2 keeps full relative precision in
    # both tails, where out·(1 - out) would round to 0 for large a.
    z = math.exp(-abs(a))
    return z / ((1.0 + z) * (1.0 + z))


def _softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _logsumexp(*xs: float) -> float:
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def _pow(a: float, b: float) -> float:
    return math.pow(a, b)


def _pow_local(a: float, b: float, out: float) -> tuple[float, float]:
    # d/da a^b = b·a^(b-1); at a = 0 that is 0 for b > 1 or b == 0, 1 for b == 1,
    # and infinite for 0 < b < 1 (the engine reports it if it is needed).
    if a == 0.0:
        if b == 0.0 or b > 1.0:
            da = 0.0
        elif b == 1.0:
            da = 1.0
        else:
            da = _INF
    else:
        da = b * math.pow(a, b - 1.0)
    # d/db a^b = a^b·ln a, defined for a > 0; 0 at a = 0 (b > 0), and not
    # defined for a negative base (only integer exponents exist there).
    if a > 0.0:
        db = out * math.log(a)
    elif a == 0.0 and b > 0.0:
        db = 0.0
    else:
        db = _NAN
    return da, db


def _tie_share(xs: tuple[float, ...], best: float) -> tuple[float, ...]:
    ties = sum(1 for x in xs if x == best)
    share = 1.0 / ties
    return tuple(share if x == best else 0.0 for x in xs)


def _max_local(*a: float) -> tuple[float, ...]:
    return _tie_share(a[:-1], a[-1])


def _has_tie(*xs: float) -> bool:
    return len(set(xs)) < len(xs)


def _logsumexp_local(*a: float) -> tuple[float, ...]:
    # softmax, from the shifted exponentials: exp(x - out) would lose the
    # denominator when out rounds to max(x) (logsumexp(1e16, 1e16)).
    xs = a[:-1]
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    total = math.fsum(es)
    return tuple(e / total for e in es)


def _atan2_local(y: float, x: float, out: float) -> tuple[float, float]:
    # (x, -y)/(x² + y²), divided by r twice so tiny arguments do not underflow.
    r = math.hypot(x, y)
    return (x / r) / r, (-y / r) / r


def _max(*xs: float) -> float:
    return max(xs)


def _min(*xs: float) -> float:
    return min(xs)


def _hypot_local(a: float, b: float, out: float) -> tuple[float, float]:
    if out == 0.0:
        return 0.0, 0.0  # the kink at the origin; see the convention
    return a / out, b / out


def _sign(a: float) -> float:
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)


def _acot(a: float) -> float:
    # The continuous branch, values in (0, pi): acot(0) = pi/2, acot(-1) = 3pi/4.
    # atan(1/x) keeps full precision for large x, where pi/2 - atan(x) cancels.
    if a > 0.0:
        return math.atan(1.0 / a)
    if a < 0.0:
        return math.pi + math.atan(1.0 / a)
    return math.pi / 2.0


def _over(f: Callable[[float], float]) -> Callable[[float], float]:
    """x -> 1/f(x), for sec, csc, cot, sech, csch, coth."""
    return lambda a: 1.0 / f(a)


def _of_inverse(f: Callable[[float], float]) -> Callable[[float], float]:
    """x -> f(1/x), for asec, acsc, asech, acsch, acoth."""
    return lambda a: f(1.0 / a)


# ---------------------------------------------------------------- complex versions
# For the complex step f'(x) = Im f(x + ih)/h: each must be analytic where the
# real op is differentiable. Branches are chosen by real parts, so the tiny
# imaginary parts never move a value across a branch cut.

def _cpow(a, b) -> complex:
    a, b = complex(a), complex(b)
    x = a.real
    if x > 0.0:
        return cmath.exp(b * cmath.log(a))
    if x < 0.0:
        # Only integer real exponents exist for a negative base: x^b·(a/x)^b.
        if b.imag != 0.0 or b.real != math.floor(b.real):
            raise ValueError("pow: a negative base needs an integer exponent")
        return math.pow(x, b.real) * cmath.exp(b.real * cmath.log(a / x))
    if a == 0.0:
        if b.real > 0.0:
            return 0j
        if b == 0.0:
            return 1 + 0j
        raise ZeroDivisionError("pow: zero to a negative power")
    return a ** b.real if b.imag == 0.0 else cmath.exp(b * cmath.log(a))


def _ccbrt(z) -> complex:
    z = complex(z)
    if z.real < 0.0:
        return -((-z) ** (1.0 / 3.0))
    return z ** (1.0 / 3.0) if z != 0.0 else 0j


def _chypot(a, b) -> complex:
    a, b = complex(a), complex(b)
    s = max(abs(a.real), abs(b.real))
    if s == 0.0:
        return 0j  # the kink at the origin
    a, b = a / s, b / s
    return s * cmath.sqrt(a * a + b * b)


def _catan2(y, x) -> complex:
    y, x = complex(y), complex(x)
    if x.real == 0.0 and y.real == 0.0:
        return 0j
    if abs(x.real) >= abs(y.real):
        r = cmath.atan(y / x)
        if x.real < 0.0:
            r += math.pi if math.copysign(1.0, y.real) > 0.0 else -math.pi
        return r
    return (math.pi / 2.0 if y.real > 0.0 else -math.pi / 2.0) - cmath.atan(x / y)


def _csigmoid(z) -> complex:
    z = complex(z)
    if z.real >= 0.0:
        return 1.0 / (1.0 + cmath.exp(-z))
    e = cmath.exp(z)
    return e / (1.0 + e)


def _csoftplus(z) -> complex:
    z = complex(z)
    if z.real > 0.0:
        return z + cmath.log(1.0 + cmath.exp(-z))
    return cmath.log(1.0 + cmath.exp(z))


def _clogsumexp(*zs) -> complex:
    zs = [complex(z) for z in zs]
    m = max(zs, key=lambda z: z.real)
    return m + cmath.log(sum(cmath.exp(z - m) for z in zs))


# ---------------------------------------------------------------- array forms
# For --data. Each receives the numpy module ``np`` first; arguments are arrays
# (one element per row) or floats. Values outside a domain come back as
# inf/nan, which the engine turns into an error naming the node and the row.

def _a_elementwise(f: Callable[[float], float]) -> Callable:
    """The float function applied element by element (for erf/erfc: NumPy has none)."""
    def apply(np, a):
        return np.frompyfunc(f, 1, 1)(a).astype(np.float64)
    return apply


def _a_sigmoid(np, a):
    z = np.exp(-np.abs(a))
    return np.where(a >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))


def _a_sigmoid_grad(np, a):
    z = np.exp(-np.abs(a))
    return z / ((1.0 + z) * (1.0 + z))


def _a_softplus(np, a):
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _a_logb(np, a, b):
    la, lb = np.log(a), np.log(b)
    # log(0) = -inf would make log(x)/log(0) a finite 0 where the float rule fails.
    return np.where(np.isfinite(la) & np.isfinite(lb), la / lb, _NAN)


def _a_pow_local(np, a, b, out):
    # The cases of _pow_local, row by row.
    zero = a == 0.0
    da = np.where(zero, np.where((b == 0.0) | (b > 1.0), 0.0, np.where(b == 1.0, 1.0, _INF)),
                  b * np.power(a, b - 1.0))
    db = np.where(a > 0.0, out * np.log(np.where(a > 0.0, a, 1.0)),
                  np.where(zero & (b > 0.0), 0.0, _NAN))
    return da, db


def _a_max(np, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = np.maximum(out, x)
    return out


def _a_min(np, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = np.minimum(out, x)
    return out


def _a_tie_share(np, *a):
    hits = [np.equal(x, a[-1]) for x in a[:-1]]
    ties = sum(hits)
    return tuple(h / ties for h in hits)


def _a_has_tie(np, *xs):
    tie = False
    for k in range(len(xs)):
        for x in xs[k + 1:]:
            tie = tie | np.equal(xs[k], x)
    return tie


def _a_logsumexp(np, *xs):
    m = _a_max(np, *xs)
    return m + np.log(sum(np.exp(x - m) for x in xs))


def _a_logsumexp_local(np, *a):
    xs = a[:-1]
    m = _a_max(np, *xs)
    es = [np.exp(x - m) for x in xs]
    total = sum(es)
    return tuple(e / total for e in es)


def _a_hypot_local(np, a, b, out):
    safe = np.where(out == 0.0, 1.0, out)
    return np.where(out == 0.0, 0.0, a / safe), np.where(out == 0.0, 0.0, b / safe)


def _a_atan2_local(np, y, x, out):
    r = np.hypot(x, y)
    return (x / r) / r, (-y / r) / r


def _a_acot(np, a):
    t = np.arctan(1.0 / a)
    return np.where(a > 0.0, t, np.where(a < 0.0, math.pi + t, math.pi / 2.0))


# ---------------------------------------------------------------- the table

_ROWS = (
    # leaves: their value comes from the graph (a literal or a binding)
    Op("var", 0, lambda: _NAN, lambda out: (), kind="leaf"),
    Op("const", 0, lambda: _NAN, lambda out: (), kind="leaf"),
    # arithmetic
    Op("add", 2, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), symbol="+", kind="infix",
       cvalue=lambda a, b: a + b),
    Op("sub", 2, lambda a, b: a - b, lambda a, b, out: (1.0, -1.0), symbol="-", kind="infix",
       cvalue=lambda a, b: a - b),
    Op("mul", 2, lambda a, b: a * b, lambda a, b, out: (b, a), symbol="*", kind="infix",
       cvalue=lambda a, b: a * b),
    Op("div", 2, lambda a, b: a / b, lambda a, b, out: (1.0 / b, -out / b),
       domain="a nonzero divisor", symbol="/", kind="infix", cvalue=lambda a, b: a / b),
    Op("pow", 2, _pow, _pow_local,
       domain="a positive base, or a zero base with a non-negative exponent, "
              "or a negative base with an integer exponent",
       symbol="^", kind="infix", aliases=("pow",), cvalue=_cpow,
       avalue=lambda np, a, b: np.power(a, b), alocal=_a_pow_local),
    Op("neg", 1, lambda a: -a, lambda a, out: (-1.0,), symbol="-", kind="prefix", cvalue=lambda a: -a),
    # exponentials and logarithms
    Op("exp", 1, math.exp, lambda a, out: (out,), cvalue=cmath.exp,
       avalue=lambda np, a: np.exp(a)),
    Op("log", 1, math.log, lambda a, out: (1.0 / a,), domain="x > 0", aliases=("log", "ln"),
       cvalue=cmath.log,
       avalue=lambda np, a: np.log(a)),
    Op("logb", 2, lambda a, b: math.log(a) / math.log(b),
       lambda a, b, out: (1.0 / (a * math.log(b)), -out / (b * math.log(b))),
       domain="x > 0 and a positive base other than 1", symbol="log", aliases=("log",),
       cvalue=lambda a, b: cmath.log(a) / cmath.log(b),
       avalue=_a_logb,
       alocal=lambda np, a, b, out: (1.0 / (a * np.log(b)), -out / (b * np.log(b)))),
    Op("log2", 1, math.log2, lambda a, out: (1.0 / (a * _LN2),), domain="x > 0",
       cvalue=lambda a: cmath.log(a) / _LN2,
       avalue=lambda np, a: np.log2(a)),
    Op("log10", 1, math.log10, lambda a, out: (1.0 / (a * _LN10),), domain="x > 0", cvalue=cmath.log10,
       avalue=lambda np, a: np.log10(a)),
    Op("log1p", 1, math.log1p, lambda a, out: (1.0 / (1.0 + a),), domain="x > -1",
       cvalue=lambda a: cmath.log(1.0 + a),
       avalue=lambda np, a: np.log1p(a)),
    Op("expm1", 1, math.expm1, lambda a, out: (out + 1.0,), cvalue=lambda a: cmath.exp(a) - 1.0,
       avalue=lambda np, a: np.expm1(a)),
    Op("sqrt", 1, math.sqrt, lambda a, out: (0.5 / out,), domain="x >= 0", cvalue=cmath.sqrt,
       avalue=lambda np, a: np.sqrt(a)),
    Op("cbrt", 1, _cbrt, lambda a, out: (1.0 / (3.0 * out * out),), cvalue=_ccbrt,
       avalue=lambda np, a: np.cbrt(a)),
    # piecewise
    Op("abs", 1, abs, lambda a, out: (_sign(a),),
       kink=lambda a: a == 0.0, convention="d|x|/dx = 0 at x = 0",
       avalue=lambda np, a: np.abs(a), alocal=lambda np, a, out: (np.sign(a),)),
    Op("relu", 1, lambda a: a if a > 0.0 else 0.0, lambda a, out: (1.0 if a > 0.0 else 0.0,),
       kink=lambda a: a == 0.0, convention="relu'(0) = 0",
       avalue=lambda np, a: np.where(a > 0.0, a, 0.0),
       alocal=lambda np, a, out: (np.where(a > 0.0, 1.0, 0.0),)),
    Op("max", None, _max, _max_local, kink=_has_tie, min_arity=1,
       convention="at a tie the gradient is split evenly between the tied arguments",
       avalue=_a_max, alocal=_a_tie_share, akink=_a_has_tie),
    Op("min", None, _min, _max_local, kink=_has_tie, min_arity=1,
       convention="at a tie the gradient is split evenly between the tied arguments",
       avalue=_a_min, alocal=_a_tie_share, akink=_a_has_tie),
    Op("hypot", 2, math.hypot, _hypot_local, kink=lambda a, b: a == 0.0 and b == 0.0,
       convention="the gradient of hypot at (0, 0) is taken as (0, 0)",
       expand="sqrt(a^2 + b^2)", cvalue=_chypot,
       avalue=lambda np, a, b: np.hypot(a, b), alocal=_a_hypot_local,
       akink=lambda np, a, b: (a == 0.0) & (b == 0.0)),
    # trigonometric
    Op("sin", 1, math.sin, lambda a, out: (math.cos(a),), cvalue=cmath.sin,
       avalue=lambda np, a: np.sin(a), alocal=lambda np, a, out: (np.cos(a),)),
    Op("cos", 1, math.cos, lambda a, out: (-math.sin(a),), cvalue=cmath.cos,
       avalue=lambda np, a: np.cos(a), alocal=lambda np, a, out: (-np.sin(a),)),
    Op("tan", 1, math.tan, lambda a, out: (1.0 + out * out,), expand="sin(a)/cos(a)", cvalue=cmath.tan,
       avalue=lambda np, a: np.tan(a)),
    Op("sec", 1, _over(math.cos), lambda a, out: (out * math.tan(a),),
       domain="cos(x) != 0", expand="1/cos(a)", cvalue=lambda a: 1.0 / cmath.cos(a),
       avalue=lambda np, a: 1.0 / np.cos(a), alocal=lambda np, a, out: (out * np.tan(a),)),
    Op("csc", 1, _over(math.sin), lambda a, out: (-out / math.tan(a),),
       domain="sin(x) != 0", expand="1/sin(a)", cvalue=lambda a: 1.0 / cmath.sin(a),
       avalue=lambda np, a: 1.0 / np.sin(a), alocal=lambda np, a, out: (-out / np.tan(a),)),
    Op("cot", 1, _over(math.tan), lambda a, out: (-(1.0 + out * out),),
       domain="sin(x) != 0", expand="cos(a)/sin(a)", cvalue=lambda a: 1.0 / cmath.tan(a),
       avalue=lambda np, a: 1.0 / np.tan(a)),
    Op("asin", 1, math.asin, lambda a, out: (1.0 / math.sqrt(1.0 - a * a),), domain="-1 <= x <= 1",
       cvalue=cmath.asin,
       avalue=lambda np, a: np.arcsin(a),
       alocal=lambda np, a, out: (1.0 / np.sqrt(1.0 - a * a),)),
    Op("acos", 1, math.acos, lambda a, out: (-1.0 / math.sqrt(1.0 - a * a),), domain="-1 <= x <= 1",
       cvalue=cmath.acos,
       avalue=lambda np, a: np.arccos(a),
       alocal=lambda np, a, out: (-1.0 / np.sqrt(1.0 - a * a),)),
    Op("atan", 1, math.atan, lambda a, out: (1.0 / (1.0 + a * a),), cvalue=cmath.atan,
       avalue=lambda np, a: np.arctan(a)),
    Op("asec", 1, _of_inverse(math.acos),
       lambda a, out: (1.0 / (abs(a) * math.sqrt(a * a - 1.0)),), domain="|x| >= 1",
       expand="acos(1/a)", cvalue=lambda a: cmath.acos(1.0 / a),
       avalue=lambda np, a: np.arccos(1.0 / a),
       alocal=lambda np, a, out: (1.0 / (np.abs(a) * np.sqrt(a * a - 1.0)),)),
    Op("acsc", 1, _of_inverse(math.asin),
       lambda a, out: (-1.0 / (abs(a) * math.sqrt(a * a - 1.0)),), domain="|x| >= 1",
       expand="asin(1/a)", cvalue=lambda a: cmath.asin(1.0 / a),
       avalue=lambda np, a: np.arcsin(1.0 / a),
       alocal=lambda np, a, out: (-1.0 / (np.abs(a) * np.sqrt(a * a - 1.0)),)),
    Op("acot", 1, _acot, lambda a, out: (-1.0 / (1.0 + a * a),), expand="pi/2 - atan(a)",
       cvalue=lambda a: math.pi / 2.0 - cmath.atan(a),
       avalue=_a_acot),
    Op("atan2", 2, math.atan2,
       _atan2_local, kink=lambda y, x: y == 0.0 and x < 0.0,
       convention="on the branch cut (y = 0, x < 0) the value jumps from pi to -pi; "
                  "the gradient is the one-sided limit, the same from both sides",
       domain="(y, x) != (0, 0) for the gradient", cvalue=_catan2,
       avalue=lambda np, y, x: np.arctan2(y, x), alocal=_a_atan2_local,
       akink=lambda np, y, x: (y == 0.0) & (x < 0.0)),
    # hyperbolic
    Op("sinh", 1, math.sinh, lambda a, out: (math.cosh(a),), cvalue=cmath.sinh,
       avalue=lambda np, a: np.sinh(a), alocal=lambda np, a, out: (np.cosh(a),)),
    Op("cosh", 1, math.cosh, lambda a, out: (math.sinh(a),), cvalue=cmath.cosh,
       avalue=lambda np, a: np.cosh(a), alocal=lambda np, a, out: (np.sinh(a),)),
    Op("tanh", 1, math.tanh, lambda a, out: (1.0 - out * out,),
       expand="(exp(a) - exp(-a))/(exp(a) + exp(-a))", cvalue=cmath.tanh,
       avalue=lambda np, a: np.tanh(a)),
    Op("sech", 1, _over(math.cosh), lambda a, out: (-out * math.tanh(a),), expand="1/cosh(a)",
       cvalue=lambda a: 1.0 / cmath.cosh(a),
       avalue=lambda np, a: 1.0 / np.cosh(a),
       alocal=lambda np, a, out: (-out * np.tanh(a),)),
    Op("csch", 1, _over(math.sinh), lambda a, out: (-out / math.tanh(a),),
       domain="x != 0", expand="1/sinh(a)", cvalue=lambda a: 1.0 / cmath.sinh(a),
       avalue=lambda np, a: 1.0 / np.sinh(a),
       alocal=lambda np, a, out: (-out / np.tanh(a),)),
    Op("coth", 1, _over(math.tanh), lambda a, out: (1.0 - out * out,),
       domain="x != 0", expand="cosh(a)/sinh(a)", cvalue=lambda a: 1.0 / cmath.tanh(a),
       avalue=lambda np, a: 1.0 / np.tanh(a)),
    Op("asinh", 1, math.asinh, lambda a, out: (1.0 / math.sqrt(a * a + 1.0),), cvalue=cmath.asinh,
       avalue=lambda np, a: np.arcsinh(a),
       alocal=lambda np, a, out: (1.0 / np.sqrt(a * a + 1.0),)),
    Op("acosh", 1, math.acosh, lambda a, out: (1.0 / math.sqrt(a * a - 1.0),), domain="x >= 1",
       cvalue=cmath.acosh,
       avalue=lambda np, a: np.arccosh(a),
       alocal=lambda np, a, out: (1.0 / np.sqrt(a * a - 1.0),)),
    Op("atanh", 1, math.atanh, lambda a, out: (1.0 / ((1.0 - a) * (1.0 + a)),), domain="-1 < x < 1",
       cvalue=cmath.atanh,
       avalue=lambda np, a: np.arctanh(a)),
    Op("asech", 1, _of_inverse(math.acosh),
       lambda a, out: (-1.0 / (a * math.sqrt(1.0 - a * a)),), domain="0 < x <= 1",
       expand="acosh(1/a)", cvalue=lambda a: cmath.acosh(1.0 / a),
       avalue=lambda np, a: np.arccosh(1.0 / a),
       alocal=lambda np, a, out: (-1.0 / (a * np.sqrt(1.0 - a * a)),)),
    Op("acsch", 1, _of_inverse(math.asinh),
       lambda a, out: (-1.0 / (abs(a) * math.sqrt(1.0 + a * a)),), domain="x != 0",
       expand="asinh(1/a)", cvalue=lambda a: cmath.asinh(1.0 / a),
       avalue=lambda np, a: np.arcsinh(1.0 / a),
       alocal=lambda np, a, out: (-1.0 / (np.abs(a) * np.sqrt(1.0 + a * a)),)),
    Op("acoth", 1, _of_inverse(math.atanh), lambda a, out: (1.0 / ((1.0 - a) * (1.0 + a)),),
       domain="|x| > 1", expand="atanh(1/a)", cvalue=lambda a: cmath.atanh(1.0 / a),
       avalue=lambda np, a: np.arctanh(1.0 / a)),
    # machine learning
    Op("sigmoid", 1, _sigmoid, lambda a, out: (_sigmoid_grad(a),), expand="1/(1 + exp(-a))",
       cvalue=_csigmoid,
       avalue=_a_sigmoid, alocal=lambda np, a, out: (_a_sigmoid_grad(np, a),)),
    Op("softplus", 1, _softplus, lambda a, out: (_sigmoid(a),), expand="log(1 + exp(a))", cvalue=_csoftplus,
       avalue=_a_softplus, alocal=lambda np, a, out: (_a_sigmoid(np, a),)),
    Op("logsumexp", None, _logsumexp, _logsumexp_local, min_arity=1, cvalue=_clogsumexp,
       avalue=_a_logsumexp, alocal=_a_logsumexp_local),
    Op("erf", 1, math.erf, lambda a, out: (_TWO_OVER_SQRT_PI * math.exp(-a * a),),
       avalue=_a_elementwise(math.erf),
       alocal=lambda np, a, out: (_TWO_OVER_SQRT_PI * np.exp(-a * a),)),
    Op("erfc", 1, math.erfc, lambda a, out: (-_TWO_OVER_SQRT_PI * math.exp(-a * a),),
       avalue=_a_elementwise(math.erfc),
       alocal=lambda np, a, out: (-_TWO_OVER_SQRT_PI * np.exp(-a * a),)),
)

OPS: dict[str, Op] = {op.name: op for op in _ROWS}


def _build_functions() -> dict[str, dict[int | None, Op]]:
    """Function name as written -> {arity: op}; ``None`` is the variadic entry.

    A function op is callable by its own name unless ``aliases`` lists the
    names explicitly (``log``/``ln``, ``log(x, base)``, ``pow(a, b)``).
    """
    table: dict[str, dict[int | None, Op]] = {}
    for op in _ROWS:
        names = op.aliases or ((op.name,) if op.kind == "function" else ())
        for name in names:
            table.setdefault(name, {})[op.arity] = op
    return table


#: Functions callable by name in formulas: name -> {arity (None = variadic): op}.
FUNCTIONS: dict[str, dict[int | None, Op]] = _build_functions()

#: Named constants; a program may assign these names, ``--at`` may not bind them.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def lookup(name: str, nargs: int) -> Op | None:
    """The op for ``name(...)`` with ``nargs`` arguments, or None for a wrong arity."""
    by_arity = FUNCTIONS[name]
    op = by_arity.get(nargs)
    if op is None:
        variadic = by_arity.get(None)
        if variadic is not None and nargs >= variadic.min_arity:
            op = variadic
    return op


def arity_text(name: str) -> str:
    """'1 argument', '1 or 2 arguments', 'at least 1 argument' for error messages."""
    by_arity = FUNCTIONS[name]
    if None in by_arity:
        return by_arity[None].arity_text()
    counts = sorted(k for k in by_arity if k is not None)
    if len(counts) == 1:
        return by_arity[counts[0]].arity_text()
    return " or ".join(str(c) for c in counts) + " arguments"
