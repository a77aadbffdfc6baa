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
keep precision. Every value and local derivative keeps full relative precision
(tests/test_precision.py holds them to mpmath at 1e-13) in the tails too: no
``1 - out²`` where ``out`` rounds to ±1 (tanh, coth), no ``a² ± 1`` that
cancels near 1 or overflows for large ``a`` (asin, acosh, asec, ...), no
intermediate that overflows or goes subnormal when the result does not
(hypot, atan2, div, pow, logb), and inverse functions of ``1/x`` rewritten
where ``1/x`` rounds near a branch point (asec, acsc, asech, acoth).
"""

from __future__ import annotations

import cmath
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INF = math.inf
_NAN = math.nan
_TINY = sys.float_info.min  # the smallest normal float, 2.2e-308
# Exact scalings by powers of two: a subnormal times _UP is normal with every bit
# kept; a number near overflow times _DOWN is far from it.
_UP = 2.0 ** 600
_DOWN = 2.0 ** -600


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


def _normal(x: float) -> bool:
    """|x| is a normal float: neither subnormal (where precision is lost), 0 nor inf."""
    return _TINY <= abs(x) < _INF


def _div_prod(n: float, x: float, y: float) -> float:
    """n/(x·y) rounded once at the end, even where x·y alone would overflow or go subnormal."""
    t = x * y
    if _normal(t):
        return n / t
    mn, en = math.frexp(n)
    mx, ex = math.frexp(x)
    my, ey = math.frexp(y)
    m = mn / (mx * my)  # raises ZeroDivisionError for x·y = 0, as n/t would
    try:
        return math.ldexp(m, en - ex - ey)
    except OverflowError:
        return math.copysign(_INF, m)


def _mul_div(x: float, y: float, z: float) -> float:
    """x·y/z rounded once at the end, without an intermediate overflow or underflow."""
    mx, ex = math.frexp(x)
    my, ey = math.frexp(y)
    mz, ez = math.frexp(z)
    m = mx * my / mz
    try:
        return math.ldexp(m, ex + ey - ez)
    except OverflowError:
        return math.copysign(_INF, m)


def _sech(a: float) -> float:
    x = abs(a)
    if x > 710.0:  # cosh overflows from 710.48; sech = 2e^-x is subnormal here
        return 2.0 * math.exp(-x)  # (exp(log 2 - x) would round log 2 - x: 6e-14)
    return 1.0 / math.cosh(x)


def _csch(a: float) -> float:
    if abs(a) > 710.0:
        return math.copysign(2.0 * math.exp(-abs(a)), a)
    return 1.0 / math.sinh(a)


def _tanh_grad(a: float) -> float:
    s = _sech(a)
    return s * s


def _coth_grad(a: float) -> float:
    s = _csch(a)
    return -(s * s)


def _recip_1_plus_square(a: float) -> float:
    """1/(1 + a²) without overflowing a² (atan', -acot')."""
    if abs(a) <= 1.0:
        return 1.0 / (1.0 + a * a)
    r = 1.0 / a
    return r / (a + r)


def _sec_root(a: float) -> float:
    """sqrt(a² - 1) for |a| >= 1: no cancellation near |a| = 1, no overflow for large |a|."""
    m = abs(a)
    return math.sqrt(m - 1.0) * math.sqrt(m + 1.0)


def _asec(a: float) -> float:
    # acos(1/a) loses the digits of 1/a near |a| = 1 (acos is steep there).
    t = math.atan(_sec_root(a))
    return t if a > 0.0 else math.pi - t


def _acsc(a: float) -> float:
    return math.copysign(math.atan2(1.0, _sec_root(a)), a)


def _asech(a: float) -> float:
    # acosh(1/a) = log((1 + sqrt(1 - a²))/a), with log1p near a = 1 and without
    # forming 1/a (which overflows for tiny a).
    if not 0.0 < a <= 1.0:
        raise ValueError("math domain error")
    s = math.sqrt((1.0 - a) * (1.0 + a))
    if a >= 0.5:
        return math.log1p(((1.0 - a) + s) / a)
    return math.log(1.0 + s) - math.log(a)


def _acsch(a: float) -> float:
    if abs(a) >= 1e-300:
        return math.asinh(1.0 / a)
    # 1/a would overflow: asinh(1/a) = log(1/|a| + sqrt(1/a² + 1)) = log 2 - log|a| here.
    return math.copysign(_LN2 - math.log(abs(a)), a)


def _acoth(a: float) -> float:
    # atanh(1/a) = log((a + 1)/(a - 1))/2 = log1p(2/(|a| - 1))/2, exact |a| - 1 near 1.
    m = abs(a)
    if not m > 1.0:
        raise ValueError("math domain error")
    return math.copysign(0.5 * math.log1p(2.0 / (m - 1.0)), a)


def _acoth_grad(a: float) -> float:
    """1/(1 - a²), without overflowing a²."""
    if abs(a) < 2.0:
        return 1.0 / ((1.0 - a) * (1.0 + a))
    r = 1.0 / a
    return -r / (a - r)


def _exp_neg_square(a: float) -> float:
    """exp(-a²), with the rounding error of a² put back (it is up to 6e-14 of the result)."""
    p = a * a
    if p > 746.0:
        return 0.0
    c = 134217729.0 * a  # Dekker's split: a = hi + lo, each half fits 26 bits
    hi = c - (c - a)
    lo = a - hi
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo  # a² - p, exactly
    return math.exp(-p) * (1.0 - err)


def _div_local(a: float, b: float, out: float) -> tuple[float, float]:
    # -a/b² as -out/b, unless out went subnormal (and lost digits) on the way.
    if a != 0.0 and abs(out) < _TINY:
        return 1.0 / b, -_div_prod(a, b, b)
    return 1.0 / b, -out / b


def _hypot_local(a: float, b: float, out: float) -> tuple[float, float]:
    if out == 0.0:
        return 0.0, 0.0  # the kink at the origin; see the convention
    if out < _TINY:  # subnormal: scale up exactly so the division keeps every digit
        a, b = a * _UP, b * _UP
        out = math.hypot(a, b)
    return a / out, b / out


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
    # m + log1p(the other terms): m + log(1 + 4e-18) would round the 4e-18 away.
    m = max(xs)
    k = xs.index(m)
    rest = math.fsum(math.exp(x - m) for i, x in enumerate(xs) if i != k)
    return m + math.log1p(rest)


def _pow(a: float, b: float) -> float:
    return math.pow(a, b)


def _half_power(a: float, c: float) -> tuple[float, float]:
    """(p, sign) with a^c = sign·p·p: p = |a|^(c/2) stays normal where a^c is subnormal."""
    sign = -1.0 if a < 0.0 and math.fmod(c, 2.0) != 0.0 else 1.0
    try:
        return math.pow(abs(a), c / 2.0), sign
    except OverflowError:
        return _INF, sign


def _pow_local(a: float, b: float, out: float) -> tuple[float, float]:
    # d/da a^b = b·a^(b-1); at a = 0 that is 0 for b > 1 or b == 0, 1 for b == 1,
    # and infinite for 0 < b < 1 (the engine reports it if it is needed).
    # From out = a^b (exact to rounding, unlike b - 1) while out is a normal float;
    # from a^((b-1)/2) squared where out went subnormal and lost digits.
    if a == 0.0:
        if b == 0.0 or b > 1.0:
            da = 0.0
        elif b == 1.0:
            da = 1.0
        else:
            da = _INF
    elif _normal(out):
        q = out / a
        da = b * q if _normal(q) else _mul_div(b, out, a)
    else:
        p, sign = _half_power(a, b - 1.0)
        da = sign * (b * p) * p
    # d/db a^b = a^b·ln a, defined for a > 0; 0 at a = 0 (b > 0), and not
    # defined for a negative base (only integer exponents exist there).
    if a > 0.0:
        if _normal(out) or out == _INF:
            db = out * math.log(a)
        else:
            p, _ = _half_power(a, b)
            db = (p * math.log(a)) * p
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
    # (x, -y)/(x² + y²), divided by r twice so tiny arguments do not underflow;
    # r itself scaled exactly into the normal range when it is subnormal or overflows.
    r = math.hypot(x, y)
    if _TINY <= r < _INF:
        return (x / r) / r, (-y / r) / r
    if r == 0.0:
        raise ZeroDivisionError("atan2 has no gradient at the origin")
    s = _UP if r < _TINY else _DOWN
    x, y = x * s, y * s
    r = math.hypot(x, y)
    return ((x / r) / r) * s, ((-y / r) / r) * s


def _max(*xs: float) -> float:
    return max(xs)


def _min(*xs: float) -> float:
    return min(xs)


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
    """x -> 1/f(x), for sec, csc, cot, coth."""
    return lambda a: 1.0 / f(a)


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


def _csec_root(z) -> complex:
    """sqrt(z² - 1) near the real axis right of 1, without cancellation near z = 1."""
    return cmath.sqrt(z - 1.0) * cmath.sqrt(z + 1.0)


def _casec(z) -> complex:
    z = complex(z)
    if z.real > 0.0:
        return cmath.atan(_csec_root(z))
    return math.pi - cmath.atan(_csec_root(-z))


def _cacsc(z) -> complex:
    z = complex(z)
    if z.real > 0.0:
        return cmath.atan(1.0 / _csec_root(z))
    return -cmath.atan(1.0 / _csec_root(-z))


def _casech(z) -> complex:
    z = complex(z)
    return cmath.log((1.0 + cmath.sqrt((1.0 - z) * (1.0 + z))) / z)


def _cacoth(z) -> complex:
    z = complex(z)
    if z.real > 0.0:
        return 0.5 * cmath.log(1.0 + 2.0 / (z - 1.0))
    return -0.5 * cmath.log(1.0 + 2.0 / (-z - 1.0))


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


def _a_normal(np, x):
    ax = np.abs(x)
    return (ax >= _TINY) & (ax < _INF)


def _a_mul_div(np, x, y, z):
    mx, ex = np.frexp(x)
    my, ey = np.frexp(y)
    mz, ez = np.frexp(z)
    return np.ldexp(mx * my / mz, ex + ey - ez)


def _a_div_prod(np, n, x, y):
    """n/(x·y), as _div_prod."""
    t = x * y
    out = n / t
    redo = ~_a_normal(np, t)
    if np.any(redo):
        mn, en = np.frexp(n)
        mx, ex = np.frexp(x)
        my, ey = np.frexp(y)
        out = np.where(redo, np.ldexp(mn / (mx * my), en - ex - ey), out)
    return out


def _a_div_local(np, a, b, out):
    db = -out / b
    redo = (a != 0.0) & (np.abs(out) < _TINY)
    if np.any(redo):
        db = np.where(redo, -_a_div_prod(np, a, b, b), db)
    return 1.0 / b, db


def _a_hypot_local(np, a, b, out):
    small = out < _TINY  # subnormal: scaled up exactly, as _hypot_local
    a = np.where(small, a * _UP, a)
    b = np.where(small, b * _UP, b)
    zero = out == 0.0
    h = np.where(zero, 1.0, np.where(small, np.hypot(a, b), out))
    return np.where(zero, 0.0, a / h), np.where(zero, 0.0, b / h)


def _a_atan2_local(np, y, x, out):
    r = np.hypot(x, y)
    s = np.where(r < _TINY, _UP, np.where(r == _INF, _DOWN, 1.0))
    x, y = x * s, y * s
    r = np.hypot(x, y)
    return ((x / r) / r) * s, ((-y / r) / r) * s


def _a_sech(np, a):
    x = np.abs(a)
    return np.where(x > 710.0, 2.0 * np.exp(-x), 1.0 / np.cosh(x))


def _a_csch(np, a):
    x = np.abs(a)
    return np.where(x > 710.0, np.copysign(2.0 * np.exp(-x), a), 1.0 / np.sinh(a))


def _a_recip_1_plus_square(np, a):
    r = 1.0 / a
    return np.where(np.abs(a) <= 1.0, 1.0 / (1.0 + a * a), r / (a + r))


def _a_sec_root(np, a):
    m = np.abs(a)
    return np.sqrt(m - 1.0) * np.sqrt(m + 1.0)


def _a_asec(np, a):
    t = np.arctan(_a_sec_root(np, a))
    return np.where(a > 0.0, t, math.pi - t)


def _a_acsc(np, a):
    return np.copysign(np.arctan2(1.0, _a_sec_root(np, a)), a)


def _a_asec_local(np, a, out):
    return ((1.0 / np.abs(a)) / _a_sec_root(np, a),)


def _a_acsc_local(np, a, out):
    return (-(1.0 / np.abs(a)) / _a_sec_root(np, a),)


def _a_asech(np, a):
    s = np.sqrt((1.0 - a) * (1.0 + a))
    near1 = np.log1p(((1.0 - a) + s) / a)
    small = np.log(1.0 + s) - np.log(a)
    return np.where(a >= 0.5, near1, np.where(a > 0.0, small, _NAN))


def _a_acsch(np, a):
    m = np.abs(a)
    return np.where(m >= 1e-300, np.arcsinh(1.0 / a), np.copysign(_LN2 - np.log(m), a))


def _a_acoth(np, a):
    m = np.abs(a)
    return np.where(m > 1.0, np.copysign(0.5 * np.log1p(2.0 / (m - 1.0)), a), _NAN)


def _a_acoth_grad(np, a):
    r = 1.0 / a
    return np.where(np.abs(a) < 2.0, 1.0 / ((1.0 - a) * (1.0 + a)), -r / (a - r))


def _a_exp_neg_square(np, a):
    p = a * a
    c = 134217729.0 * a
    hi = c - (c - a)
    lo = a - hi
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return np.where(p > 746.0, 0.0, np.exp(-p) * (1.0 - err))


def _a_logb(np, a, b):
    la, lb = np.log(a), np.log(b)
    # log(0) = -inf would make log(x)/log(0) a finite 0 where the float rule fails.
    return np.where(np.isfinite(la) & np.isfinite(lb), la / lb, _NAN)


def _a_pow_local(np, a, b, out):
    # The cases of _pow_local, row by row.
    zero = a == 0.0
    safe_a = np.where(zero, 1.0, a)
    normal = _a_normal(np, out)
    q = out / safe_a
    da = b * q
    redo = normal & ~_a_normal(np, q) & ~zero
    if np.any(redo):
        da = np.where(redo, _a_mul_div(np, b, out, safe_a), da)
    lost = ~normal & ~zero
    if np.any(lost):
        c = b - 1.0
        p = np.power(np.abs(safe_a), c / 2.0)
        sign = np.where((a < 0.0) & (np.fmod(c, 2.0) != 0.0), -1.0, 1.0)
        da = np.where(lost, sign * (b * p) * p, da)
    da = np.where(zero, np.where((b == 0.0) | (b > 1.0), 0.0, np.where(b == 1.0, 1.0, _INF)), da)
    pos = a > 0.0
    pos_a = np.where(pos, a, 1.0)
    log_a = np.log(pos_a)
    db = out * log_a
    lost = pos & ~normal & (out != _INF)
    if np.any(lost):
        p = np.power(pos_a, b / 2.0)
        db = np.where(lost, (p * log_a) * p, db)
    db = np.where(pos, db, np.where(zero & (b > 0.0), 0.0, _NAN))
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
    # m + log1p(the other terms), as _logsumexp: the first maximum of each row is left out.
    m = _a_max(np, *xs)
    taken = np.zeros(np.shape(m), dtype=bool)
    rest = 0.0
    for x in xs:
        first = (x == m) & ~taken
        rest = rest + np.where(first, 0.0, np.exp(x - m))
        taken = taken | first
    return m + np.log1p(rest)


def _a_logsumexp_local(np, *a):
    xs = a[:-1]
    m = _a_max(np, *xs)
    es = [np.exp(x - m) for x in xs]
    total = sum(es)
    return tuple(e / total for e in es)


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
    Op("div", 2, lambda a, b: a / b, _div_local,
       domain="a nonzero divisor", symbol="/", kind="infix", cvalue=lambda a, b: a / b,
       alocal=_a_div_local),
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
       lambda a, b, out: (_div_prod(1.0, a, math.log(b)), _div_prod(-out, b, math.log(b))),
       domain="x > 0 and a positive base other than 1", symbol="log", aliases=("log",),
       cvalue=lambda a, b: cmath.log(a) / cmath.log(b),
       avalue=_a_logb,
       alocal=lambda np, a, b, out: (_a_div_prod(np, 1.0, a, np.log(b)),
                                     _a_div_prod(np, -out, b, np.log(b)))),
    Op("log2", 1, math.log2, lambda a, out: (_div_prod(1.0, a, _LN2),), domain="x > 0",
       cvalue=lambda a: cmath.log(a) / _LN2,
       avalue=lambda np, a: np.log2(a), alocal=lambda np, a, out: (_a_div_prod(np, 1.0, a, _LN2),)),
    Op("log10", 1, math.log10, lambda a, out: (_div_prod(1.0, a, _LN10),), domain="x > 0",
       cvalue=cmath.log10,
       avalue=lambda np, a: np.log10(a), alocal=lambda np, a, out: (_a_div_prod(np, 1.0, a, _LN10),)),
    Op("log1p", 1, math.log1p, lambda a, out: (1.0 / (1.0 + a),), domain="x > -1",
       cvalue=lambda a: cmath.log(1.0 + a),
       avalue=lambda np, a: np.log1p(a)),
    # expm1' = e^a, not out + 1 (which rounds e^-40 away).
    Op("expm1", 1, math.expm1, lambda a, out: (math.exp(a),), cvalue=lambda a: cmath.exp(a) - 1.0,
       avalue=lambda np, a: np.expm1(a), alocal=lambda np, a, out: (np.exp(a),)),
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
    # (1 - a)(1 + a), not 1 - a², which cancels near |a| = 1.
    Op("asin", 1, math.asin, lambda a, out: (1.0 / math.sqrt((1.0 - a) * (1.0 + a)),),
       domain="-1 <= x <= 1", aliases=("asin", "arcsin"), cvalue=cmath.asin,
       avalue=lambda np, a: np.arcsin(a),
       alocal=lambda np, a, out: (1.0 / np.sqrt((1.0 - a) * (1.0 + a)),)),
    Op("acos", 1, math.acos, lambda a, out: (-1.0 / math.sqrt((1.0 - a) * (1.0 + a)),),
       domain="-1 <= x <= 1", aliases=("acos", "arccos"), cvalue=cmath.acos,
       avalue=lambda np, a: np.arccos(a),
       alocal=lambda np, a, out: (-1.0 / np.sqrt((1.0 - a) * (1.0 + a)),)),
    Op("atan", 1, math.atan, lambda a, out: (_recip_1_plus_square(a),), aliases=("atan", "arctan"),
       cvalue=cmath.atan,
       avalue=lambda np, a: np.arctan(a), alocal=lambda np, a, out: (_a_recip_1_plus_square(np, a),)),
    Op("asec", 1, _asec,
       lambda a, out: ((1.0 / abs(a)) / _sec_root(a),), domain="|x| >= 1",
       expand="acos(1/a)", cvalue=_casec,
       avalue=_a_asec, alocal=_a_asec_local),
    Op("acsc", 1, _acsc,
       lambda a, out: (-(1.0 / abs(a)) / _sec_root(a),), domain="|x| >= 1",
       expand="asin(1/a)", cvalue=_cacsc,
       avalue=_a_acsc, alocal=_a_acsc_local),
    Op("acot", 1, _acot, lambda a, out: (-_recip_1_plus_square(a),), expand="pi/2 - atan(a)",
       cvalue=lambda a: math.pi / 2.0 - cmath.atan(a),
       avalue=_a_acot, alocal=lambda np, a, out: (-_a_recip_1_plus_square(np, a),)),
    Op("atan2", 2, math.atan2,
       _atan2_local, kink=lambda y, x: y == 0.0 and x < 0.0,
       convention="on the branch cut (y = 0, x < 0) the value jumps from pi to -pi; "
                  "the gradient is the one-sided limit, the same from both sides",
       domain="(y, x) != (0, 0) for the gradient", aliases=("atan2", "arctan2"), cvalue=_catan2,
       avalue=lambda np, y, x: np.arctan2(y, x), alocal=_a_atan2_local,
       akink=lambda np, y, x: (y == 0.0) & (x < 0.0)),
    # hyperbolic
    Op("sinh", 1, math.sinh, lambda a, out: (math.cosh(a),), cvalue=cmath.sinh,
       avalue=lambda np, a: np.sinh(a), alocal=lambda np, a, out: (np.cosh(a),)),
    Op("cosh", 1, math.cosh, lambda a, out: (math.sinh(a),), cvalue=cmath.cosh,
       avalue=lambda np, a: np.cosh(a), alocal=lambda np, a, out: (np.sinh(a),)),
    # tanh' = sech², coth' = -csch²: 1 - out² would round to 0 once out rounds to ±1.
    Op("tanh", 1, math.tanh, lambda a, out: (_tanh_grad(a),),
       expand="(exp(a) - exp(-a))/(exp(a) + exp(-a))", cvalue=cmath.tanh,
       avalue=lambda np, a: np.tanh(a), alocal=lambda np, a, out: (_a_sech(np, a) ** 2,)),
    Op("sech", 1, _sech, lambda a, out: (-out * math.tanh(a),), expand="1/cosh(a)",
       cvalue=lambda a: 1.0 / cmath.cosh(a),
       avalue=_a_sech,
       alocal=lambda np, a, out: (-out * np.tanh(a),)),
    Op("csch", 1, _csch, lambda a, out: (-out / math.tanh(a),),
       domain="x != 0", expand="1/sinh(a)", cvalue=lambda a: 1.0 / cmath.sinh(a),
       avalue=_a_csch,
       alocal=lambda np, a, out: (-out / np.tanh(a),)),
    Op("coth", 1, _over(math.tanh), lambda a, out: (_coth_grad(a),),
       domain="x != 0", expand="cosh(a)/sinh(a)", cvalue=lambda a: 1.0 / cmath.tanh(a),
       avalue=lambda np, a: 1.0 / np.tanh(a), alocal=lambda np, a, out: (-_a_csch(np, a) ** 2,)),
    # hypot(1, a) and sqrt(a - 1)·sqrt(a + 1): a² overflows from 1.3e154.
    Op("asinh", 1, math.asinh, lambda a, out: (1.0 / math.hypot(1.0, a),),
       aliases=("asinh", "arcsinh"), cvalue=cmath.asinh,
       avalue=lambda np, a: np.arcsinh(a),
       alocal=lambda np, a, out: (1.0 / np.hypot(1.0, a),)),
    Op("acosh", 1, math.acosh, lambda a, out: (1.0 / (math.sqrt(a - 1.0) * math.sqrt(a + 1.0)),),
       domain="x >= 1", aliases=("acosh", "arccosh"), cvalue=cmath.acosh,
       avalue=lambda np, a: np.arccosh(a),
       alocal=lambda np, a, out: (1.0 / (np.sqrt(a - 1.0) * np.sqrt(a + 1.0)),)),
    Op("atanh", 1, math.atanh, lambda a, out: (1.0 / ((1.0 - a) * (1.0 + a)),), domain="-1 < x < 1",
       aliases=("atanh", "arctanh"), cvalue=cmath.atanh,
       avalue=lambda np, a: np.arctanh(a)),
    Op("asech", 1, _asech,
       lambda a, out: (-1.0 / (a * math.sqrt((1.0 - a) * (1.0 + a))),), domain="0 < x <= 1",
       expand="acosh(1/a)", cvalue=_casech,
       avalue=_a_asech,
       alocal=lambda np, a, out: (-1.0 / (a * np.sqrt((1.0 - a) * (1.0 + a))),)),
    Op("acsch", 1, _acsch,
       lambda a, out: (-(1.0 / abs(a)) / math.hypot(1.0, a),), domain="x != 0",
       expand="asinh(1/a)", cvalue=lambda a: cmath.asinh(1.0 / a),
       avalue=_a_acsch,
       alocal=lambda np, a, out: (-(1.0 / np.abs(a)) / np.hypot(1.0, a),)),
    Op("acoth", 1, _acoth, lambda a, out: (_acoth_grad(a),),
       domain="|x| > 1", expand="atanh(1/a)", cvalue=_cacoth,
       avalue=_a_acoth, alocal=lambda np, a, out: (_a_acoth_grad(np, a),)),
    # machine learning
    Op("sigmoid", 1, _sigmoid, lambda a, out: (_sigmoid_grad(a),), expand="1/(1 + exp(-a))",
       cvalue=_csigmoid,
       avalue=_a_sigmoid, alocal=lambda np, a, out: (_a_sigmoid_grad(np, a),)),
    Op("softplus", 1, _softplus, lambda a, out: (_sigmoid(a),), expand="log(1 + exp(a))", cvalue=_csoftplus,
       avalue=_a_softplus, alocal=lambda np, a, out: (_a_sigmoid(np, a),)),
    Op("logsumexp", None, _logsumexp, _logsumexp_local, min_arity=1, cvalue=_clogsumexp,
       avalue=_a_logsumexp, alocal=_a_logsumexp_local),
    Op("erf", 1, math.erf, lambda a, out: (_TWO_OVER_SQRT_PI * _exp_neg_square(a),),
       avalue=_a_elementwise(math.erf),
       alocal=lambda np, a, out: (_TWO_OVER_SQRT_PI * _a_exp_neg_square(np, a),)),
    Op("erfc", 1, math.erfc, lambda a, out: (-_TWO_OVER_SQRT_PI * _exp_neg_square(a),),
       avalue=_a_elementwise(math.erfc),
       alocal=lambda np, a, out: (-_TWO_OVER_SQRT_PI * _a_exp_neg_square(np, a),)),
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
