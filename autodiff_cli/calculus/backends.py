"""Backends: what each primitive *is* for one kind of number (SymPy's lambdify ``MODULES``).

A rule formula of the op table (``rules.py`` compiles them) names primitives: the op names of
adiff's own language (``sin``, ``sech``, ``hypot``, ``sign``, ``step``, ...) plus a few
internal, stable helpers that formulas may call but users may not (``ops.PRIMITIVES``:
``div_prod``, ``exp_neg_square``). A backend maps each name to an implementation:

* ``math``: floats, the hot loop. ``math.sin`` itself, or a stable helper (``_sech``).
* ``numpy``: arrays, one element per row of a ``--data`` file. NumPy is imported when the
  table is first built, never when this module is imported.
* ``cmath``: the analytic extension, for the complex step. A primitive that has none maps to
  ``None``, and every op whose value formula uses it has no complex version (``erf``, ``abs``).
  ``sign`` and ``step`` have one: constant on each side of the jump, of the real part.
* ``tangent``: dual numbers (forward mode). Each primitive is lifted generically from the
  math backend's value and local rule of its op: ``f(x + εt) = f(x) + ε·Σ f'ₖ(x)·tₖ``.
* ``tangent_array``: dual numbers with NumPy-array parts (``ArrayDual``), lifted the same way
  from the NumPy forms: second derivatives of a loss summed over a data file.
* ``graph``: expression nodes (symbolic derivatives): each primitive records ``(op, args)``.

The four operators ``+ - * /`` and unary minus are Python's own operators in every backend
(they work on floats, arrays, complex numbers, duals and expressions alike); ``^`` is the
backend's ``pow`` (``math.pow`` for floats, never ``**``, which turns a negative base into a
complex number). Besides primitives, a table holds the few helpers the hand-written rules
(``rules.HAND``) use, so that one rule serves every backend: ``any``/``where`` (a Python bool
and a conditional for floats and duals, ``np.any``/``np.where`` for arrays), ``mul_div``,
``pow_total`` (a power that gives inf instead of raising), ``fmod``, ``sum``, ``has_tie``.
"""

from __future__ import annotations

import cmath
import math
import sys
from types import SimpleNamespace

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_INF = math.inf
_NAN = math.nan
TINY = sys.float_info.min  # the smallest normal float, 2.2e-308
# Exact scalings by powers of two: a subnormal times UP is normal with every bit
# kept; a number near overflow times DOWN is far from it.
UP = 2.0 ** 600
DOWN = 2.0 ** -600


# ---------------------------------------------------------------- math: floats

def _cbrt(a: float) -> float:
    # math.cbrt exists from Python 3.11; math.pow on |a| keeps the sign right.
    return math.copysign(math.pow(abs(a), 1.0 / 3.0), a)


_cbrt = getattr(math, "cbrt", _cbrt)


def _normal(x: float) -> bool:
    """|x| is a normal float: neither subnormal (where precision is lost), 0 nor inf."""
    return TINY <= abs(x) < _INF


def _div_prod(n: float, x: float, y: float) -> float:
    """n/(x·y) rounded once at the end, even where x·y alone would overflow or go subnormal."""
    t = x * y
    if TINY <= abs(t) < _INF:
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


def _pow_total(a: float, b: float) -> float:
    """math.pow that gives inf where the result overflows (as NumPy does), for the pow rule."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return _INF


def _sech(a: float) -> float:
    x = abs(a)
    if x > 710.0:  # cosh overflows from 710.48; sech = 2e^-x is subnormal here
        return 2.0 * math.exp(-x)  # (exp(log 2 - x) would round log 2 - x: 6e-14)
    return 1.0 / math.cosh(x)


def _csch(a: float) -> float:
    if abs(a) > 710.0:
        return math.copysign(2.0 * math.exp(-abs(a)), a)
    return 1.0 / math.sinh(a)


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


def _acot(a: float) -> float:
    # The continuous branch, values in (0, pi): acot(0) = pi/2, acot(-1) = 3pi/4.
    # atan(1/x) keeps full precision for large x, where pi/2 - atan(x) cancels.
    if a > 0.0:
        return math.atan(1.0 / a)
    if a < 0.0:
        return math.pi + math.atan(1.0 / a)
    return math.pi / 2.0


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


def _sigmoid(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _logsumexp(*xs: float) -> float:
    # m + log1p(the other terms): m + log(1 + 4e-18) would round the 4e-18 away.
    m = max(xs)
    k = xs.index(m)
    rest = math.fsum(math.exp(x - m) for i, x in enumerate(xs) if i != k)
    return m + math.log1p(rest)


def _max(*xs: float) -> float:
    return max(xs)


def _min(*xs: float) -> float:
    return min(xs)


def _relu(a: float) -> float:
    return a if a > 0.0 else 0.0


def _sign(a: float) -> float:
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)


def _step(a: float) -> float:
    return 1.0 if a > 0.0 else 0.0


def _has_tie(*xs: float) -> bool:
    return len(set(xs)) < len(xs)


def _where(c, x, y):
    return x if c else y


MATH = {
    "pow": math.pow, "exp": math.exp, "log": math.log, "log2": math.log2, "log10": math.log10,
    "log1p": math.log1p, "expm1": math.expm1, "sqrt": math.sqrt, "cbrt": _cbrt, "abs": abs,
    "relu": _relu, "max": _max, "min": _min, "hypot": math.hypot,
    "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "asin": math.asin, "acos": math.acos, "atan": math.atan, "atan2": math.atan2,
    "asec": _asec, "acsc": _acsc, "acot": _acot,
    "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "sech": _sech, "csch": _csch,
    "asinh": math.asinh, "acosh": math.acosh, "atanh": math.atanh,
    "asech": _asech, "acsch": _acsch, "acoth": _acoth,
    "sigmoid": _sigmoid, "softplus": _softplus, "logsumexp": _logsumexp,
    "erf": math.erf, "erfc": math.erfc, "sign": _sign, "step": _step,
    # internal primitives (ops.PRIMITIVES)
    "div_prod": _div_prod, "exp_neg_square": _exp_neg_square,
    # helpers of the hand-written rules
    "any": bool, "where": _where, "mul_div": _mul_div, "pow_total": _pow_total,
    "fmod": math.fmod, "sum": math.fsum, "has_tie": _has_tie,
}


# ---------------------------------------------------------------- cmath: the complex step
# Each must be analytic where the real op is differentiable. Branches are chosen by real
# parts, so the tiny imaginary parts never move a value across a branch cut.

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


CMATH = {
    "pow": _cpow, "exp": cmath.exp, "log": cmath.log, "log2": lambda a: cmath.log(a) / _LN2,
    "log10": cmath.log10, "log1p": lambda a: cmath.log(1.0 + a),
    "expm1": lambda a: cmath.exp(a) - 1.0, "sqrt": cmath.sqrt, "cbrt": _ccbrt,
    "abs": None, "relu": None, "max": None, "min": None, "hypot": _chypot,
    "sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan,
    "asin": cmath.asin, "acos": cmath.acos, "atan": cmath.atan, "atan2": _catan2,
    "asec": _casec, "acsc": _cacsc, "acot": lambda a: math.pi / 2.0 - cmath.atan(a),
    "sinh": cmath.sinh, "cosh": cmath.cosh, "tanh": cmath.tanh,
    "sech": lambda a: 1.0 / cmath.cosh(a), "csch": lambda a: 1.0 / cmath.sinh(a),
    "asinh": cmath.asinh, "acosh": cmath.acosh, "atanh": cmath.atanh,
    "asech": _casech, "acsch": lambda a: cmath.asinh(1.0 / a), "acoth": _cacoth,
    "sigmoid": _csigmoid, "softplus": _csoftplus, "logsumexp": _clogsumexp,
    "erf": None, "erfc": None,  # no complex version in the standard library
    # constant on each side of the jump at 0, so analytic off it (derivative 0): by the real
    # part, which the complex step leaves exact
    "sign": lambda z: complex(_sign(complex(z).real)),
    "step": lambda z: complex(_step(complex(z).real)),
    "div_prod": lambda n, x, y: n / (x * y), "exp_neg_square": lambda a: cmath.exp(-a * a),
}


# ---------------------------------------------------------------- numpy: arrays (--data)
# Arguments are arrays (one element per row) or floats (the same in every row). Values
# outside a domain come back as inf/nan (the callers run under np.errstate(all="ignore")),
# which the engine turns into an error naming the node and the row.

def _numpy_table(np) -> dict:
    def normal(x):
        ax = np.abs(x)
        return (ax >= TINY) & (ax < _INF)

    def log(a):
        # strict: nan, not -inf, at 0, so that log(x)/log(0) is not a finite 0 (logb). Only
        # a zero gives -inf, and the sum shows whether one is there: cheaper than choosing
        # the input element by element (np.where) before every log.
        out = np.log(a)
        if isinstance(out, np.ndarray):
            if not np.isfinite(out.sum()):
                out[out == -_INF] = _NAN
            return out
        return np.float64(_NAN) if out == -_INF else out

    def elementwise(f):
        """The float function applied element by element (erf, erfc: NumPy has none)."""
        ufunc = np.frompyfunc(f, 1, 1)
        return lambda a: ufunc(a).astype(np.float64)

    def div_prod(n, x, y):
        t = x * y
        out = n / t
        redo = ~normal(t)
        if np.any(redo):
            mn, en = np.frexp(n)
            mx, ex = np.frexp(x)
            my, ey = np.frexp(y)
            out = np.where(redo, np.ldexp(mn / (mx * my), en - ex - ey), out)
        return out

    def mul_div(x, y, z):
        mx, ex = np.frexp(x)
        my, ey = np.frexp(y)
        mz, ez = np.frexp(z)
        return np.ldexp(mx * my / mz, ex + ey - ez)

    def sech(a):
        x = np.abs(a)
        return np.where(x > 710.0, 2.0 * np.exp(-x), 1.0 / np.cosh(x))

    def csch(a):
        x = np.abs(a)
        return np.where(x > 710.0, np.copysign(2.0 * np.exp(-x), a), 1.0 / np.sinh(a))

    def sec_root(a):
        m = np.abs(a)
        return np.sqrt(m - 1.0) * np.sqrt(m + 1.0)

    def asec(a):
        t = np.arctan(sec_root(a))
        return np.where(a > 0.0, t, math.pi - t)

    def acsc(a):
        return np.copysign(np.arctan2(1.0, sec_root(a)), a)

    def acot(a):
        t = np.arctan(1.0 / a)
        return np.where(a > 0.0, t, np.where(a < 0.0, math.pi + t, math.pi / 2.0))

    def asech(a):
        s = np.sqrt((1.0 - a) * (1.0 + a))
        near1 = np.log1p(((1.0 - a) + s) / a)
        small = np.log(1.0 + s) - np.log(a)
        return np.where(a >= 0.5, near1, np.where(a > 0.0, small, _NAN))

    def acsch(a):
        m = np.abs(a)
        return np.where(m >= 1e-300, np.arcsinh(1.0 / a), np.copysign(_LN2 - np.log(m), a))

    def acoth(a):
        m = np.abs(a)
        return np.where(m > 1.0, np.copysign(0.5 * np.log1p(2.0 / (m - 1.0)), a), _NAN)

    def exp_neg_square(a):
        p = a * a
        c = 134217729.0 * a
        hi = c - (c - a)
        lo = a - hi
        err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
        return np.where(p > 746.0, 0.0, np.exp(-p) * (1.0 - err))

    def sigmoid(a):
        # 1/(1 + z) where a >= 0, else z/(1 + z), with z = exp(-|a|). Over an array, without
        # choosing per element (a masked copy or np.where costs more than two exps): the
        # numerator is exp(min(a, 0)), which is exp(0) = 1 where a >= 0 and exp(a) = z, the
        # same float, where a < 0. The same floats as np.where of the two branches, in a
        # third of the time.
        if not (isinstance(a, np.ndarray) and a.dtype == np.float64):
            z = np.exp(-np.abs(a))
            return np.where(a >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))
        d = np.abs(a)
        np.negative(d, out=d)
        np.exp(d, out=d)
        d += 1.0
        n = np.minimum(a, 0.0)
        np.exp(n, out=n)
        return np.divide(n, d, out=n)

    def softplus(a):
        return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))

    def maximum(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out

    def minimum(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.minimum(out, x)
        return out

    def logsumexp(*xs):
        # m + log1p(the other terms), as _logsumexp: the first maximum of each row is left out.
        m = maximum(*xs)
        taken = np.zeros(np.shape(m), dtype=bool)
        rest = 0.0
        for x in xs:
            first = (x == m) & ~taken
            rest = rest + np.where(first, 0.0, np.exp(x - m))
            taken = taken | first
        return m + np.log1p(rest)

    def has_tie(*xs):
        tie = False
        for k in range(len(xs)):
            for x in xs[k + 1:]:
                tie = tie | np.equal(xs[k], x)
        return tie

    return {
        "pow": np.power, "exp": np.exp, "log": log, "log2": np.log2, "log10": np.log10,
        "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "cbrt": np.cbrt, "abs": np.abs,
        "relu": lambda a: np.where(a > 0.0, a, 0.0), "max": maximum, "min": minimum,
        "hypot": np.hypot, "sin": np.sin, "cos": np.cos, "tan": np.tan,
        "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
        "asec": asec, "acsc": acsc, "acot": acot,
        "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "sech": sech, "csch": csch,
        "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
        "asech": asech, "acsch": acsch, "acoth": acoth,
        "sigmoid": sigmoid, "softplus": softplus, "logsumexp": logsumexp,
        "erf": elementwise(math.erf), "erfc": elementwise(math.erfc),
        "sign": np.sign, "step": lambda a: np.where(a > 0.0, 1.0, 0.0),
        "div_prod": div_prod, "exp_neg_square": exp_neg_square,
        "any": np.any, "where": np.where, "mul_div": mul_div, "pow_total": np.power,
        "fmod": np.fmod, "sum": sum, "has_tie": has_tie,
    }


# ---------------------------------------------------------------- tangent: dual numbers

class Dual:
    """x + ε·t with ε² = 0: a value and its tangent (forward mode).

    Arithmetic and every primitive are the ops of the table lifted by ``lift``; comparisons
    look at the value only (so the hand-written rules' conditions work on duals as on floats).
    """

    __slots__ = ("re", "du")

    def __init__(self, re: float, du: float = 0.0):
        self.re = re
        self.du = du

    def __repr__(self) -> str:
        return f"Dual({self.re!r}, {self.du!r})"

    def __add__(self, other):
        return _lifted()["add"](self, other)

    def __radd__(self, other):
        return _lifted()["add"](other, self)

    def __sub__(self, other):
        return _lifted()["sub"](self, other)

    def __rsub__(self, other):
        return _lifted()["sub"](other, self)

    def __mul__(self, other):
        return _lifted()["mul"](self, other)

    def __rmul__(self, other):
        return _lifted()["mul"](other, self)

    def __truediv__(self, other):
        return _lifted()["div"](self, other)

    def __rtruediv__(self, other):
        return _lifted()["div"](other, self)

    def __neg__(self):
        return _lifted()["neg"](self)

    def __abs__(self):
        return _lifted()["abs"](self)

    def __lt__(self, other):
        return self.re < _re(other)

    def __le__(self, other):
        return self.re <= _re(other)

    def __gt__(self, other):
        return self.re > _re(other)

    def __ge__(self, other):
        return self.re >= _re(other)

    def __eq__(self, other):
        return self.re == _re(other)

    def __ne__(self, other):
        return self.re != _re(other)

    __hash__ = None


def _re(x):
    return x.re if isinstance(x, Dual) else x


def lift(op):
    """The op on duals, from its math value and local rule: no per-op code.

    f(x + εt) = f(x) + ε·Σ f'ₖ(x)·tₖ; the local rule is not evaluated when every tangent is
    0 (a dual that does not move). Unary and binary ops -- nearly every node, and the dual
    arithmetic itself -- have their own two forms of the same lifting, without the lists
    of the general one (second derivatives run the whole graph over duals once per input).
    """
    if op.arity == 1:
        def lifted(x):
            if not isinstance(x, Dual):
                return op.value(x)
            a = x.re
            out = op.value(a)
            t = x.du
            if t == 0.0:
                return Dual(out, 0.0)
            return Dual(out, op.local(a, out)[0] * t)
    elif op.arity == 2:
        def lifted(x, y):
            xd, yd = isinstance(x, Dual), isinstance(y, Dual)
            if not (xd or yd):
                return op.value(x, y)
            a = x.re if xd else x
            b = y.re if yd else y
            out = op.value(a, b)
            s = x.du if xd else 0.0
            t = y.du if yd else 0.0
            if s == 0.0 and t == 0.0:
                return Dual(out, 0.0)
            la, lb = op.local(a, b, out)
            if t == 0.0:
                return Dual(out, la * s)
            if s == 0.0:
                return Dual(out, lb * t)
            return Dual(out, la * s + lb * t)
    else:
        def lifted(*xs):
            re = [x.re if isinstance(x, Dual) else x for x in xs]
            out = op.value(*re)
            if not any(isinstance(x, Dual) for x in xs):
                return out
            if all(not isinstance(x, Dual) or x.du == 0.0 for x in xs):
                return Dual(out, 0.0)
            local = op.local(*re, out)
            du = 0.0
            for x, d in zip(xs, local):
                if isinstance(x, Dual) and x.du != 0.0:
                    du += d * x.du
            return Dual(out, du)
    lifted.__name__ = f"dual_{op.name}"
    return lifted


_LIFTED: dict = {}


def _lifted() -> dict:
    """Every op of the table (and internal primitive) lifted to duals, built on first use."""
    if not _LIFTED:
        from autodiff_cli.core.ops import OPS, PRIMITIVES

        for name, op in (*OPS.items(), *PRIMITIVES.items()):
            if op.kind != "leaf":
                _LIFTED[name] = lift(op)
    return _LIFTED


def _tangent_table() -> dict:
    table = dict(_lifted())

    def total_sum(xs):
        # fsum of the values, as the math backend sums (so the real parts are its numbers,
        # bit for bit), and of the tangents
        xs = list(xs)
        re = math.fsum(_re(x) for x in xs)
        if not any(isinstance(x, Dual) for x in xs):
            return re
        return Dual(re, math.fsum(x.du for x in xs if isinstance(x, Dual)))

    table.update({
        "any": bool, "where": _where, "mul_div": lambda x, y, z: x * y / z,
        "pow_total": _lifted()["pow"], "fmod": lambda x, y: math.fmod(_re(x), _re(y)),
        "sum": total_sum, "has_tie": lambda *xs: _has_tie(*[_re(x) for x in xs]),
    })
    return table


# ---------------------------------------------------------------- tangent over arrays (--data)
# Dual numbers whose parts are NumPy arrays (one element per data row) or floats (the same in
# every row): the second derivatives of a loss summed over a data file (``second.py``). Each
# primitive is lifted generically, as for ``tangent``, but from the op's NumPy forms
# (``op.array_value``/``op.array_local``) where a part is an array, and from its math forms
# where none is (a value the same in every row, as ``engine.forward_array`` computes those).

class ArrayDual(Dual):
    """x + ε·t where x and t are arrays (one element per row) or floats.

    The arithmetic is the table's ops lifted by ``lift_array``; comparisons look at the
    values only (a boolean array, or a bool), as for ``Dual``.
    """

    __slots__ = ()
    # ndarray * ArrayDual would otherwise make an object array of duals, element by
    # element: this makes NumPy's operators step aside, so ArrayDual's own reflected
    # operators run instead.
    __array_ufunc__ = None

    def __repr__(self) -> str:
        return f"ArrayDual({self.re!r}, {self.du!r})"

    def __add__(self, other):
        return _array_lifted()["add"](self, other)

    def __radd__(self, other):
        return _array_lifted()["add"](other, self)

    def __sub__(self, other):
        return _array_lifted()["sub"](self, other)

    def __rsub__(self, other):
        return _array_lifted()["sub"](other, self)

    def __mul__(self, other):
        return _array_lifted()["mul"](self, other)

    def __rmul__(self, other):
        return _array_lifted()["mul"](other, self)

    def __truediv__(self, other):
        return _array_lifted()["div"](self, other)

    def __rtruediv__(self, other):
        return _array_lifted()["div"](other, self)

    def __neg__(self):
        return _array_lifted()["neg"](self)

    def __abs__(self):
        return _array_lifted()["abs"](self)

    __hash__ = None


def _du(x):
    return x.du if isinstance(x, Dual) else 0.0


def lift_array(op, np):
    """The op on ``ArrayDual`` numbers, from its NumPy (or, without arrays, math) value and
    local rule: no per-op code."""
    ndarray = np.ndarray

    def lifted(*xs):
        re = [x.re if isinstance(x, Dual) else x for x in xs]
        arrays = any(isinstance(r, ndarray) for r in re)
        out = op.array_value(np, *re) if arrays else op.value(*re)
        if not any(isinstance(x, Dual) for x in xs):
            return out
        local = op.array_local(np, *re, out) if arrays else op.local(*re, out)
        du = 0.0
        for x, d in zip(xs, local):
            if isinstance(x, Dual):
                du = du + d * x.du
        return ArrayDual(out, du)
    lifted.__name__ = f"array_dual_{op.name}"
    return lifted


_ARRAY_LIFTED: dict = {}


def _array_lifted() -> dict:
    """Every op of the table (and internal primitive) lifted to ``ArrayDual``, on first use."""
    if not _ARRAY_LIFTED:
        import numpy

        from autodiff_cli.core.ops import OPS, PRIMITIVES

        for name, op in (*OPS.items(), *PRIMITIVES.items()):
            if op.kind != "leaf":
                _ARRAY_LIFTED[name] = lift_array(op, numpy)
    return _ARRAY_LIFTED


def _tangent_array_table() -> dict:
    import numpy as np

    table = dict(_array_lifted())
    numpy_table = BACKENDS["numpy"].table

    def where(c, x, y):
        if isinstance(x, Dual) or isinstance(y, Dual):
            return ArrayDual(np.where(c, _re(x), _re(y)), np.where(c, _du(x), _du(y)))
        return np.where(c, x, y)

    table.update({
        "any": np.any, "where": where, "mul_div": lambda x, y, z: x * y / z,
        "pow_total": table["pow"], "fmod": lambda x, y: np.fmod(_re(x), _re(y)),
        "sum": sum, "has_tie": lambda *xs: numpy_table["has_tie"](*[_re(x) for x in xs]),
    })
    return table


# ---------------------------------------------------------------- graph: expressions

class Expr:
    """A node of a symbolic formula: ``op`` (an op name, "var" or "const") and its ``args``.

    Python's operators build nodes, so a rule compiled for this backend returns the
    expression of its formula instead of a number. ``str`` writes it in adiff's syntax.
    """

    __slots__ = ("op", "args")

    def __init__(self, op: str, args: tuple):
        self.op = op
        self.args = args

    @staticmethod
    def of(x) -> Expr:
        return x if isinstance(x, Expr) else Expr("const", (float(x),))

    def __repr__(self) -> str:
        return f"Expr({self})"

    def __eq__(self, other):
        return isinstance(other, Expr) and self.op == other.op and self.args == other.args

    def __hash__(self):
        return hash((self.op, self.args))

    def __add__(self, other):
        return Expr("add", (self, Expr.of(other)))

    def __radd__(self, other):
        return Expr("add", (Expr.of(other), self))

    def __sub__(self, other):
        return Expr("sub", (self, Expr.of(other)))

    def __rsub__(self, other):
        return Expr("sub", (Expr.of(other), self))

    def __mul__(self, other):
        return Expr("mul", (self, Expr.of(other)))

    def __rmul__(self, other):
        return Expr("mul", (Expr.of(other), self))

    def __truediv__(self, other):
        return Expr("div", (self, Expr.of(other)))

    def __rtruediv__(self, other):
        return Expr("div", (Expr.of(other), self))

    def __neg__(self):
        return Expr("neg", (self,))

    def __str__(self) -> str:
        # Rule formulas are a handful of nodes, so this small recursion is bounded by the table.
        if self.op == "var":
            return self.args[0]
        if self.op == "const":
            v = self.args[0]
            text = repr(v)[:-2] if repr(v).endswith(".0") else repr(v)
            return f"({text})" if v < 0 else text
        infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
        if self.op in infix:
            return f"({self.args[0]} {infix[self.op]} {self.args[1]})"
        if self.op == "neg":
            return f"(-{self.args[0]})"
        name = "log" if self.op == "logb" else self.op
        return f"{name}({', '.join(str(a) for a in self.args)})"


def _graph_table() -> dict:
    from autodiff_cli.core.ops import OPS, PRIMITIVES

    def builder(name):
        return lambda *args: Expr(name, tuple(Expr.of(a) for a in args))

    return {name: builder(name) for name in (*OPS, *PRIMITIVES)}


# ---------------------------------------------------------------- the backends

class Backend:
    """One backend: its primitive table (built on first use) and how formulas are emitted."""

    def __init__(self, name: str, build, square: bool):
        self.name = name
        self._build = build
        self.square = square  # emit x^2 as x*x (as precise, and faster than a call)
        self._table = None
        self._ns = None

    @property
    def table(self) -> dict:
        if self._table is None:
            self._table = self._build()
        return self._table

    @property
    def ns(self) -> SimpleNamespace:
        """The table as attributes, for the hand-written rules (``ns.where``, ``ns.log``)."""
        if self._ns is None:
            self._ns = SimpleNamespace(**{k: v for k, v in self.table.items()})
        return self._ns

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


def _numpy_build():
    import numpy

    return _numpy_table(numpy)


BACKENDS: dict[str, Backend] = {
    "math": Backend("math", lambda: MATH, square=True),
    "numpy": Backend("numpy", _numpy_build, square=True),
    "cmath": Backend("cmath", lambda: CMATH, square=True),
    # x^2 as x*x over duals too: the real parts are then the math backend's numbers bit for
    # bit (math.pow(x, 2) is not always x*x to the last bit)
    "tangent": Backend("tangent", _tangent_table, square=True),
    "tangent_array": Backend("tangent_array", _tangent_array_table, square=True),
    "graph": Backend("graph", _graph_table, square=False),
}
