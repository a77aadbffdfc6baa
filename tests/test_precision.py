"""Every op's value and local derivatives against mpmath at 60 digits, in relative error.

``tests/test_ops.py`` holds the rules against independent float formulas and finite
differences (~1e-7); this file holds them to the true result of the exact float inputs,
computed by mpmath at 60 significant digits: the value by mpmath's own functions, each
local derivative by its closed form evaluated in mpmath (``TRUTH``; the closed forms are
themselves checked against ``mpmath.diff`` at the ordinary points).

Every op in ``OPS`` (except the leaves var and const) has points in ``POINTS`` of four
kinds -- ordinary, tail (large |x|, where values or derivatives underflow toward subnormal
or overflow), near zero (inputs or results), and edge (a domain edge, a pole, or the edge
of the float range) -- and an op without them fails ``test_every_op_has_precision_points``.

The rule (``_verdict``), for a true result t of the exact inputs:

* t a normal float (2.2250738585072014e-308 <= |t|, finite as a float): relative error
  |got - t|/|t| <= 1e-13;
* t subnormal or smaller (0 < |t| < 2.2250738585072014e-308, or 0): |got - t| <= 4 ulps of
  subnormal (4·2^-1074 = 2e-323);
* t overflows a float, or the derivative is infinite: the op must signal -- raise
  OverflowError (or another arithmetic error) or give a non-finite number -- never a finite
  wrong one;
* a derivative that does not exist (``None`` in ``TRUTH``): the rule must not give a finite
  number (the engine turns that into an evaluation error when a gradient flows there).

The float forms (``value``, ``local``) and the NumPy array forms (``array_value``,
``array_local``, as ``--data`` calls them, on a 1-element array and on all of an op's points in
one array) are held to the same truths. The complex versions (``cvalue``) are held, through the
complex step Im f(x + ih)/h, to the same true derivatives (see
``test_complex_step_matches_the_truth`` for its rule). Kinks (abs, relu, sign and step at 0,
max/min ties, hypot at the origin, atan2 on its branch cut) are not points here: there the
derivatives are tested against the stated convention.
"""

from __future__ import annotations

import math
import re
import sys

import mpmath
import numpy as np
import pytest

from autodiff_cli.core.ops import OPS

from .conftest import invoke

DPS = 60
TINY = sys.float_info.min  # 2.2250738585072014e-308, the smallest normal float
SUBNORMAL = 2.0 ** -1074  # 5e-324, one ulp of subnormal
RTOL = 1e-13
SUBNORMAL_ATOL = 4 * SUBNORMAL
MAX = sys.float_info.max
LEAVES = {"var", "const"}
KINDS = ("ordinary", "tail", "zero", "edge")
ARITH = (ArithmeticError, ValueError)

#: The cases of the issue "Derivatives wrong in the tails, in relative terms".
ISSUE_TABLE = [
    ("tanh(x)", {"x": 20.0}),
    ("tanh(x)", {"x": -19.0}),
    ("coth(x)", {"x": 20.0}),
    ("expm1(x)", {"x": -40.0}),
    ("asinh(x)", {"x": 1e200}),
    ("acosh(x)", {"x": 1e200}),
    ("asin(x)", {"x": 0.9999999999}),
    ("hypot(x, y)", {"x": 1e-320, "y": 1e-320}),
]

# ---------------------------------------------------------------------- points

PI = math.pi
E53 = 2.0 ** -53  # 1 - E53 is the largest double below 1
E52 = 2.0 ** -52  # 1 + E52 is the smallest double above 1

POINTS: dict[str, dict[str, list]] = {
    "add": {"ordinary": [(1.5, -2.25), (-3, 7)], "tail": [(1e308, 7e307), (-1e300, 1e300)],
            "zero": [(1e-320, 2e-320), (5e-324, -5e-324), (0.1, -0.1)],
            "edge": [(1e308, 1e308), (-MAX, MAX)]},
    "sub": {"ordinary": [(1.5, -2.25), (-3, 7)], "tail": [(1e308, -7e307)],
            "zero": [(3e-320, 1e-320), (0.1, 0.1)], "edge": [(1e308, -1e308), (MAX, MAX)]},
    "mul": {"ordinary": [(1.5, -2.25), (-3, 7)], "tail": [(1e200, 1e100), (1e-200, 1e-120)],
            "zero": [(0, 3), (1e-320, 0.5), (0, 0)], "edge": [(1e200, 1e200), (MAX, 1)]},
    "div": {"ordinary": [(1, 3), (-2.5, 0.125)],
            # a/b subnormal (it lost digits), -a/b² normal: -out/b was off by 4e-10
            "tail": [(1e300, 1e-8), (1, 1e300), (5e-324, 9.009487432961768e-10), (5e-324, 1e-10),
                     (1e-310, 1e-10), (3, 1e155)],
            "zero": [(0, 2), (1e-320, 3), (1e-300, 1e-300)],
            "edge": [(1, 1e-308), (1, 5e-324), (MAX, 0.5)]},
    "pow": {"ordinary": [(2, 3), (1.5, -0.5), (0.5, 2.5), (3, 0.5), (-2, 3), (-1.5, -2)],
            "tail": [(10, 300), (1e-170, 2), (2, -1074), (1 + 1e-10, -7.1e12), (1e-300, 1.03),
                     (1e-320, 1.95), (1 + 1e-10, 7.09e12), (1e300, -1.05), (0.5, 1e-300),
                     (5e-324, 1e-16)],  # a^(b-1) overflows, b·a^(b-1) = 2e307 does not
            "zero": [(0, 2), (0, 1), (0, 3), (0, 0.5), (1e-300, 2), (1e-10, 0.5), (1, 1e5),
                     (5e-324, 0.5)],
            "edge": [(0, 0), (-2, 0), (2, 1023.9999), (2, 1024), (MAX, 1), (MAX, -1)]},
    "neg": {"ordinary": [3.5, -2], "tail": [1e308], "zero": [5e-324, 0], "edge": [MAX, -MAX]},
    "exp": {"ordinary": [0, 1, -2.5], "tail": [700, -700, -740, -745, -1e300],
            "zero": [1e-12, -5e-324], "edge": [709.78, 709.79]},
    "log": {"ordinary": [1, 2.5, 1e3], "tail": [1e300, MAX], "zero": [1 + 1e-10, 1 - E53],
            "edge": [1e-300, TINY, 1e-310, 5e-324]},
    "logb": {"ordinary": [(8, 2), (0.5, 10), (3, 0.5), (100, math.e)],
             "tail": [(1e300, 10), (1e-300, 2), (MAX, 1e-300)],
             "zero": [(1 + 1e-10, 2), (1 - E53, 10)],
             "edge": [(2, 1 + 1e-10), (2, 1e-320), (1 + 1e-10, 1e-320), (2, 1 - E53), (5e-324, 2)]},
    "log2": {"ordinary": [1, 7.5, 1024], "tail": [1e300, MAX], "zero": [1 + 1e-12],
             "edge": [1e-308, 1e-310, 5e-324]},
    "log10": {"ordinary": [1, 7.5, 1000], "tail": [1e300, MAX], "zero": [1 + 1e-12],
              "edge": [5e-309, 1e-310]},
    "log1p": {"ordinary": [0.5, 3], "tail": [1e300, MAX], "zero": [0, 1e-10, -1e-10, 5e-324],
              "edge": [-1 + 1e-6, -1 + E53]},
    "expm1": {"ordinary": [0.5, 1, -2], "tail": [-40, -745, 700, -1e300],
              "zero": [0, 1e-10, -1e-12, 5e-324], "edge": [709.78, 709.79]},
    "sqrt": {"ordinary": [4, 2.25, 0.5], "tail": [1e300, MAX], "zero": [1e-300, 1e-320, 5e-324],
             "edge": [0]},
    "cbrt": {"ordinary": [8, -27, 0.5], "tail": [1e300, -MAX], "zero": [1e-320, -5e-324],
             "edge": [0]},
    "abs": {"ordinary": [2.5, -2.5], "tail": [1e300], "zero": [5e-324, -1e-320],
            "edge": [-MAX, MAX]},
    "relu": {"ordinary": [2, -2], "tail": [1e300, -1e300], "zero": [5e-324, -5e-324],
             "edge": [MAX, -MAX]},
    # sign and step: constant on each side of their jump at 0 (a kink, tested below)
    "sign": {"ordinary": [2.5, -2.5], "tail": [1e300, -1e300], "zero": [5e-324, -5e-324],
             "edge": [MAX, -MAX]},
    "step": {"ordinary": [2.5, -2.5], "tail": [1e300, -1e300], "zero": [5e-324, -5e-324],
             "edge": [MAX, -MAX]},
    "max": {"ordinary": [(1, 2), (3, -1, 2), (-4, -5, -6, -7)], "tail": [(-1e300, 1e300)],
            "zero": [(0, 5e-324), (-5e-324, 0)], "edge": [(MAX, -MAX), (5,)]},
    "min": {"ordinary": [(1, 2), (3, -1, 2), (-4, -5, -6, -7)], "tail": [(-1e300, 1e300)],
            "zero": [(0, 5e-324), (-5e-324, 0)], "edge": [(MAX, -MAX), (5,)]},
    "hypot": {"ordinary": [(3, 4), (-1e-3, 2), (-1.5, -2.5)],
              "tail": [(1e200, 1e200), (1e308, 1e308), (1e300, 1e-300), (1.5e308, 1.5e308)],
              "zero": [(1e-320, 1e-320), (5e-324, 0), (3e-320, -4e-320), (1e-200, -1e-200),
                       (1e-310, 3e-310)],
              "edge": [(0, 2), (-1e-300, 1), (MAX, MAX)]},
    "sin": {"ordinary": [0.5, 1, -2.5], "tail": [1e22, 1e300], "zero": [1e-10, 5e-324, 0],
            "edge": [PI, MAX]},
    "cos": {"ordinary": [0.5, 1, -2.5], "tail": [1e22, 1e300], "zero": [1e-10, 5e-324],
            "edge": [PI / 2, MAX]},
    "tan": {"ordinary": [1, -1.2], "tail": [1e22, 1e300], "zero": [1e-10, 5e-324],
            "edge": [PI / 2, 1.5707963267948963, MAX]},
    "sec": {"ordinary": [0.5, 1, -2], "tail": [1e22], "zero": [1e-10, 5e-324],
            "edge": [PI / 2, PI]},
    "csc": {"ordinary": [1, -0.5, 3], "tail": [1e22], "zero": [1e-10, 1e-300],
            "edge": [PI, PI / 2, 5e-324]},
    "cot": {"ordinary": [1, -0.5, 3], "tail": [1e22], "zero": [1e-10, 1e-160],
            "edge": [PI / 2, PI, 5e-324]},
    "asin": {"ordinary": [0, 0.5, -0.9], "tail": [0.9999999999, -0.9999999999, 1 - E53],
             "zero": [1e-10, 5e-324], "edge": [1, -1]},
    "acos": {"ordinary": [0, 0.5, -0.9], "tail": [0.9999999999, -0.9999999999, 1 - E53],
             "zero": [1e-10, 5e-324], "edge": [1, -1]},
    "atan": {"ordinary": [0, 1, -3], "tail": [1e8, 1e154, 1.35e154, 1e300],
             "zero": [1e-8, 5e-324], "edge": [MAX, -MAX]},
    "asec": {"ordinary": [2, -2, 1.5], "tail": [1e10, 1.35e154, 1e300, -1e300],
             "zero": [1 + 1e-10, 1 + 1e-6], "edge": [1, -1, 1 + E52, -1 - E52, MAX]},
    "acsc": {"ordinary": [2, -2, 1.5], "tail": [1e10, 1.35e154, 1e308, MAX],
             "zero": [1e300, -1e300], "edge": [1, -1, 1 + E52, 1 + 1e-10, -1 - 1e-10]},
    "acot": {"ordinary": [1, -1, 5], "tail": [1e8, 1.35e154, -1e300, MAX],
             "zero": [0, 5e-324, -1e-9], "edge": [-MAX, -5e-324]},
    "atan2": {"ordinary": [(1, 1), (1, -1), (-1, -1), (-2, 0.5)],
              "tail": [(1e300, 1e300), (1.5e308, 1.5e308), (1, 1e300), (1e300, 1)],
              "zero": [(1e-200, 1e-200), (1e-320, 1e-320), (1e-300, -1), (5e-324, 1),
                       (1e-310, 3e-310)],
              "edge": [(0, 1), (1, 0), (1e-6, -1), (-1e-300, -1), (0, 0)]},
    "sinh": {"ordinary": [0.5, 1, -2], "tail": [700, -700, 710.4], "zero": [1e-8, 5e-324, 0],
             "edge": [710.4758, -710.4758, 710.476]},
    "cosh": {"ordinary": [0.5, 1, -2], "tail": [700, -700, 710.4], "zero": [1e-8, 5e-324, 0],
             "edge": [710.4758, -710.4758, 710.476]},
    "tanh": {"ordinary": [0.5, -3], "tail": [20, -19, 355, 356, 400, -700],
             "zero": [1e-8, 5e-324, 0], "edge": [MAX, -MAX]},
    "sech": {"ordinary": [0, 1, -2], "tail": [700, -30, 709.5, 745], "zero": [1e-8, 5e-324],
             "edge": [MAX]},
    "csch": {"ordinary": [1, -0.5, 3], "tail": [700, -710.4, 20],
             "zero": [1e-5, -1e-5, 1e-200, 1e-300], "edge": [5e-324, 745]},
    "coth": {"ordinary": [1, -0.5, 3], "tail": [20, -19, 355, 400],
             "zero": [1e-5, -1e-5, 1e-200], "edge": [5e-324, MAX]},
    "asinh": {"ordinary": [0, 1, -2.5], "tail": [1e200, -1e5, 1.35e154, 1e300, MAX],
              "zero": [1e-9, 5e-324], "edge": [-MAX]},
    "acosh": {"ordinary": [1.5, 10, 2], "tail": [1e200, 1.35e154, MAX],
              "zero": [1 + 1e-10, 1 + E52], "edge": [1]},
    "atanh": {"ordinary": [0, 0.5, -0.75], "tail": [1 - 1e-10, -1 + 1e-10, 1 - E53],
              "zero": [1e-10, 5e-324], "edge": [1, -1]},
    "asech": {"ordinary": [0.5, 0.25, 0.9], "tail": [1e-300, 1e-308, 5e-324],
              "zero": [1 - 1e-10, 1 - E53, 1 - 1e-6], "edge": [1]},
    "acsch": {"ordinary": [1, -2, 0.5], "tail": [1e10, 1e300, 1.35e154, -MAX],
              "zero": [1e-3, -1e-3, 1e-300, 1e-310], "edge": [5e-324, -5e-324]},
    "acoth": {"ordinary": [2, -3, 1.5], "tail": [1e10, 1.35e154, MAX], "zero": [1e300, -1e300],
              "edge": [1 + 1e-10, 1 + E52, -1 - E52, 1]},
    "sigmoid": {"ordinary": [0, 2, -3], "tail": [40, -40, -700, 700, -745, -800],
                "zero": [1e-12, 5e-324], "edge": [MAX, -MAX]},
    "softplus": {"ordinary": [0, 2, -3], "tail": [40, -40, -700, 800, -745],
                 "zero": [1e-12, -5e-324], "edge": [MAX, -MAX]},
    "logsumexp": {"ordinary": [(1, 2), (0.5, -1, 3), (-2,), (0, 0, 0, 0)],
                  "tail": [(1000, 1000), (-1000, -1000), (1000, 0), (0, -40), (0, -745),
                           (-40, 0, -50)],
                  "zero": [(0, -1e-20), (-1e-20,), (5e-324, 0)],
                  "edge": [(MAX, MAX), (1e308, -1e308)]},
    "erf": {"ordinary": [0, 0.5, -1.2, 2], "tail": [6, -6, 26.3, 26.5, -26.55, 27, 30],
            "zero": [1e-10, 5e-324], "edge": [MAX]},
    "erfc": {"ordinary": [0, 0.5, -1.2, 2], "tail": [6, -6, 26.3, 26.5, 26.55, 27, 28],
             "zero": [1e-10, 5e-324], "edge": [-MAX, MAX]},
}


def _args(p) -> tuple[float, ...]:
    return tuple(float(a) for a in p) if isinstance(p, tuple) else (float(p),)


# ---------------------------------------------------------------------- truth
# Each entry: (value, local derivatives) of mpf arguments, at DPS digits. A derivative
# is None where it does not exist; mpmath.inf where it is infinite.

mpf = mpmath.mpf
INF = mpmath.inf


def _inv(x):
    return INF if x == 0 else 1 / x


def _pow_value(a, b):
    if a == 0:
        return mpf(1) if b == 0 else (mpf(0) if b > 0 else INF)
    return a ** b  # a negative base only with an integer exponent (a real result)


def _pow_local(a, b):
    if a == 0:  # one-sided at a = 0 (the rule's cases)
        da = mpf(0) if (b == 0 or b > 1) else (mpf(1) if b == 1 else INF)
        db = mpf(0) if b > 0 else None
        return da, db
    return b * a ** (b - 1), (a ** b * mpmath.log(a) if a > 0 else None)


def _acot(a):
    if a == 0:
        return mpmath.pi / 2
    return mpmath.atan(1 / a) + (mpmath.pi if a < 0 else 0)


def _logsumexp(*xs):
    m = max(xs)
    return m + mpmath.log(mpmath.fsum(mpmath.exp(x - m) for x in xs))


def _softmax(*xs):
    m = max(xs)
    es = [mpmath.exp(x - m) for x in xs]
    total = mpmath.fsum(es)
    return tuple(e / total for e in es)


def _share(xs, best):
    ties = sum(1 for x in xs if x == best)
    return tuple(mpf(1) / ties if x == best else mpf(0) for x in xs)


def _sqrt_edge(x):
    """1/sqrt(x), infinite at 0."""
    return INF if x == 0 else 1 / mpmath.sqrt(x)


def _atan2_local(y, x):
    r2 = x * x + y * y
    return (None, None) if r2 == 0 else (x / r2, -y / r2)


def _hypot_local(a, b):
    h = mpmath.hypot(a, b)
    return a / h, b / h



TRUTH = {
    "add": (lambda a, b: a + b, lambda a, b: (mpf(1), mpf(1))),
    "sub": (lambda a, b: a - b, lambda a, b: (mpf(1), mpf(-1))),
    "mul": (lambda a, b: a * b, lambda a, b: (b, a)),
    "div": (lambda a, b: a / b, lambda a, b: (1 / b, -a / (b * b))),
    "pow": (_pow_value, _pow_local),
    "neg": (lambda a: -a, lambda a: (mpf(-1),)),
    "exp": (mpmath.exp, lambda a: (mpmath.exp(a),)),
    "log": (mpmath.log, lambda a: (1 / a,)),
    "logb": (lambda a, b: mpmath.log(a) / mpmath.log(b),
             lambda a, b: (1 / (a * mpmath.log(b)), -mpmath.log(a) / (b * mpmath.log(b) ** 2))),
    "log2": (lambda a: mpmath.log(a, 2), lambda a: (1 / (a * mpmath.log(2)),)),
    "log10": (mpmath.log10, lambda a: (1 / (a * mpmath.log(10)),)),
    "log1p": (mpmath.log1p, lambda a: (1 / (1 + a),)),
    "expm1": (mpmath.expm1, lambda a: (mpmath.exp(a),)),
    "sqrt": (mpmath.sqrt, lambda a: (_sqrt_edge(a) / 2,)),
    "cbrt": (lambda a: mpmath.sign(a) * mpmath.cbrt(abs(a)),
             lambda a: (INF if a == 0 else 1 / (3 * mpmath.cbrt(abs(a)) ** 2),)),
    "abs": (abs, lambda a: (mpmath.sign(a),)),
    "relu": (lambda a: max(a, mpf(0)), lambda a: (mpf(1) if a > 0 else mpf(0),)),
    "sign": (mpmath.sign, lambda a: (mpf(0),)),
    "step": (lambda a: mpf(1) if a > 0 else mpf(0), lambda a: (mpf(0),)),
    "max": (lambda *xs: max(xs), lambda *xs: _share(xs, max(xs))),
    "min": (lambda *xs: min(xs), lambda *xs: _share(xs, min(xs))),
    "hypot": (mpmath.hypot, _hypot_local),
    "sin": (mpmath.sin, lambda a: (mpmath.cos(a),)),
    "cos": (mpmath.cos, lambda a: (-mpmath.sin(a),)),
    "tan": (mpmath.tan, lambda a: (mpmath.sec(a) ** 2,)),
    "sec": (mpmath.sec, lambda a: (mpmath.sec(a) * mpmath.tan(a),)),
    "csc": (mpmath.csc, lambda a: (-mpmath.csc(a) * mpmath.cot(a),)),
    "cot": (mpmath.cot, lambda a: (-mpmath.csc(a) ** 2,)),
    "asin": (mpmath.asin, lambda a: (_sqrt_edge((1 - a) * (1 + a)),)),
    "acos": (mpmath.acos, lambda a: (-_sqrt_edge((1 - a) * (1 + a)),)),
    "atan": (mpmath.atan, lambda a: (1 / (1 + a * a),)),
    "asec": (lambda a: mpmath.acos(1 / a), lambda a: (_sqrt_edge(a * a - 1) / abs(a),)),
    "acsc": (lambda a: mpmath.asin(1 / a), lambda a: (-_sqrt_edge(a * a - 1) / abs(a),)),
    "acot": (_acot, lambda a: (-1 / (1 + a * a),)),
    "atan2": (mpmath.atan2, _atan2_local),
    "sinh": (mpmath.sinh, lambda a: (mpmath.cosh(a),)),
    "cosh": (mpmath.cosh, lambda a: (mpmath.sinh(a),)),
    "tanh": (mpmath.tanh, lambda a: (mpmath.sech(a) ** 2,)),
    "sech": (mpmath.sech, lambda a: (-mpmath.sech(a) * mpmath.tanh(a),)),
    "csch": (mpmath.csch, lambda a: (-mpmath.csch(a) * mpmath.coth(a),)),
    "coth": (mpmath.coth, lambda a: (-mpmath.csch(a) ** 2,)),
    "asinh": (mpmath.asinh, lambda a: (1 / mpmath.sqrt(a * a + 1),)),
    "acosh": (mpmath.acosh, lambda a: (_sqrt_edge(a * a - 1),)),
    "atanh": (lambda a: mpmath.atanh(a) if abs(a) < 1 else mpmath.sign(a) * INF,
              lambda a: (_inv((1 - a) * (1 + a)),)),
    "asech": (lambda a: mpmath.acosh(1 / a),
              lambda a: (-_sqrt_edge((1 - a) * (1 + a)) / a,)),
    "acsch": (lambda a: mpmath.asinh(1 / a), lambda a: (-1 / (abs(a) * mpmath.sqrt(1 + a * a)),)),
    "acoth": (lambda a: mpmath.atanh(1 / a) if abs(a) > 1 else mpmath.sign(a) * INF,
              lambda a: (_inv((1 - a) * (1 + a)),)),
    "sigmoid": (lambda a: 1 / (1 + mpmath.exp(-a)),
                lambda a: (1 / ((1 + mpmath.exp(-a)) * (1 + mpmath.exp(a))),)),
    "softplus": (lambda a: mpmath.log1p(mpmath.exp(a)), lambda a: (1 / (1 + mpmath.exp(-a)),)),
    "logsumexp": (_logsumexp, _softmax),
    "erf": (mpmath.erf, lambda a: (2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-a * a),)),
    # erfc(x) < e^-x² is far below any float for x > 1e6 (mpmath cannot reach erfc(1.8e308)).
    "erfc": (lambda a: mpmath.erfc(a) if a < 1e6 else mpf(0),
             lambda a: (-2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-a * a),)),
}


def true_value(name, args):
    with mpmath.workdps(DPS):
        return +TRUTH[name][0](*[mpf(a) for a in args])


def true_local(name, args):
    with mpmath.workdps(DPS):
        return tuple(None if d is None else +d for d in TRUTH[name][1](*[mpf(a) for a in args]))


# ---------------------------------------------------------------------- the rule

RAISED = "raised an arithmetic error"


def _finite(got) -> bool:
    return got is not RAISED and math.isfinite(got)


def _verdict(got, truth) -> str | None:
    """None when ``got`` meets the rule for the true result ``truth``; else what is wrong."""
    if truth is None:
        return None if not _finite(got) else f"{got!r} for a derivative that does not exist"
    t = float(truth)  # inf when the true result overflows a float
    if math.isinf(t):
        return None if not _finite(got) else f"finite {got!r} where the truth {t} overflows"
    if not _finite(got):
        return f"{got!r} where the truth is {mpmath.nstr(truth, 17)}"
    with mpmath.workdps(DPS):
        err = abs(mpf(got) - truth)
        if abs(truth) >= TINY:
            rel = err / abs(truth)
            if rel <= RTOL:
                return None
            return f"{got!r} vs {mpmath.nstr(truth, 17)}: relative error {float(rel):.3g}"
        if err <= SUBNORMAL_ATOL:
            return None
        return f"{got!r} vs subnormal {mpmath.nstr(truth, 17)}: off by {float(err / SUBNORMAL):.3g} ulps"


def test_the_rule_itself():
    assert _verdict(1.0, mpf(1)) is None
    assert _verdict(1.0 + 1e-12, mpf(1)) is not None
    assert _verdict(0.0, mpf("1.6993e-17")) is not None  # tanh'(20) printed as 0.0
    assert _verdict(0.0, mpf("1e-323")) is None  # within 4 subnormal ulps
    assert _verdict(0.0, mpf("1e-320")) is not None
    assert _verdict(math.inf, mpf("1e400")) is None and _verdict(RAISED, mpf("1e400")) is None
    assert _verdict(MAX, mpf("1e400")) is not None
    assert _verdict(math.nan, None) is None and _verdict(0.0, None) is not None


# ---------------------------------------------------------------------- coverage


def _cases():
    for name, kinds in POINTS.items():
        for kind, points in kinds.items():
            for p in points:
                args = _args(p)
                yield pytest.param(name, args, id=f"{name}{args}-{kind}")


CASES = list(_cases())


def test_every_op_has_precision_points():
    """Adding an op to OPS must come with precision points here, of all four kinds."""
    missing = sorted(set(OPS) - LEAVES - set(POINTS))
    assert not missing, f"ops without precision points in tests/test_precision.py: {missing}"
    assert set(POINTS) <= set(OPS)
    assert set(TRUTH) == set(OPS) - LEAVES
    for name, kinds in POINTS.items():
        assert set(kinds) == set(KINDS), f"{name}: needs {KINDS}, has {sorted(kinds)}"
        assert all(kinds[k] for k in KINDS), name
        op = OPS[name]
        for p in (p for ps in kinds.values() for p in ps):
            n = len(_args(p))
            assert n == op.arity if op.arity is not None else n >= op.min_arity, (name, p)


def test_issue_table_points_are_precision_points():
    for formula, at in ISSUE_TABLE:
        name = formula.split("(")[0]
        args = tuple(at.values())
        assert any(_args(p) == args for ps in POINTS[name].values() for p in ps), (formula, at)


@pytest.mark.parametrize("name, args", [c for c in CASES if OPS[c.values[0]].kink is not None])
def test_no_precision_point_is_a_kink(name, args):
    """At a kink the derivative is a convention, tested below, not a truth from mpmath."""
    assert not OPS[name].kink(*args)


ORDINARY = [pytest.param(name, _args(p), id=f"{name}{_args(p)}")
            for name, kinds in POINTS.items() for p in kinds["ordinary"]]


@pytest.mark.parametrize("name, args", ORDINARY)
def test_closed_form_truths_match_mpmath_diff(name, args):
    """The closed-form derivatives in TRUTH are right: mpmath.diff of the mpmath value agrees."""
    truth = true_local(name, args)
    for k in range(len(args)):
        with mpmath.workdps(DPS):
            x = [mpf(a) for a in args]

            def f(t, k=k, x=x):
                return TRUTH[name][0](*x[:k], t, *x[k + 1:])

            if truth[k] is None:  # d/db of a negative base: checked as undefined elsewhere
                continue
            d = mpmath.diff(f, x[k])
            assert abs(d - truth[k]) <= mpf(10) ** (-40) * max(1, abs(truth[k])), (k, d, truth[k])


# ---------------------------------------------------------------------- float forms


def _float_value(op, args):
    try:
        return op.value(*args)
    except ARITH:
        return RAISED


def _float_local(op, args, out):
    try:
        return tuple(op.local(*args, out))
    except ARITH:
        return (RAISED,) * len(args)


@pytest.mark.parametrize("name, args", CASES)
def test_float_forms_match_the_truth(name, args):
    op = OPS[name]
    value = _float_value(op, args)
    problem = _verdict(value, true_value(name, args))
    assert problem is None, f"{name}{args} value: {problem}"
    if not _finite(value):
        return  # the value signalled (the truth overflows): no gradient is computed
    assert type(value) is float, type(value)
    local = _float_local(op, args, value)
    assert len(local) == len(args)
    for k, (got, truth) in enumerate(zip(local, true_local(name, args))):
        problem = _verdict(got, truth)
        assert problem is None, f"{name}{args} d/d(input {k}): {problem}"


# ---------------------------------------------------------------------- array forms


def _array_forms(op, columns):
    """(values, local gradients) of the array forms, as --data calls them; RAISED if they raise."""
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(op.array_value(np, *columns), dtype=float)
        except ARITH:
            return RAISED, None
        try:
            local = [np.broadcast_to(np.asarray(x, dtype=float), values.shape)
                     for x in op.array_local(np, *columns, values)]
        except ARITH:
            local = None
    return values, local


def _check_array_rows(name, rows):
    op = OPS[name]
    columns = [np.array(c, dtype=float) for c in zip(*rows)]
    values, local = _array_forms(op, columns)
    assert values is not RAISED, f"{name}: the array value raised for {rows}"
    assert values.shape == (len(rows),)
    for r, args in enumerate(rows):
        v = float(values[r])
        problem = _verdict(v, true_value(name, args))
        assert problem is None, f"{name}{args} array value: {problem}"
        if not math.isfinite(v):
            continue
        assert local is not None, f"{name}: the array local gradients raised for {rows}"
        assert len(local) == len(args)
        for k, truth in enumerate(true_local(name, args)):
            problem = _verdict(float(local[k][r]), truth)
            assert problem is None, f"{name}{args} array d/d(input {k}): {problem}"


@pytest.mark.parametrize("name, args", CASES)
def test_array_forms_match_the_truth_row_by_row(name, args):
    _check_array_rows(name, [args])


@pytest.mark.parametrize("name", sorted(POINTS))
def test_array_forms_match_the_truth_all_rows_at_once(name):
    """All of an op's points as rows of one array (grouped by arity for variadic ops)."""
    by_arity: dict[int, list] = {}
    for ps in POINTS[name].values():
        for p in ps:
            args = _args(p)
            by_arity.setdefault(len(args), []).append(args)
    for rows in by_arity.values():
        _check_array_rows(name, rows)


def test_erf_derivative_puts_back_the_rounding_of_a_squared():
    """exp(-a²) at a = 24.4: a² = 595.7 rounds by up to 5.7e-14 absolute, which exp turns into
    5.7e-14 relative -- within RTOL, but most of it; the rules put the rounding back (Dekker's
    exact product), so erf' and erfc' stay within 1e-15 here, in both forms."""
    a = 24.40733968192458
    truth = true_local("erf", (a,))[0]
    for name, sign in (("erf", 1), ("erfc", -1)):
        op = OPS[name]
        got = [op.local(a, op.value(a))[0]]
        with np.errstate(all="ignore"):
            column = np.array([a, a])
            got += [float(g) for g in op.array_local(np, column, op.array_value(np, column))[0]]
        for g in got:
            with mpmath.workdps(DPS):
                assert abs(mpf(g) - sign * truth) <= 1e-15 * abs(truth), (name, g, truth)


# ---------------------------------------------------------------------- complex step

#: The complex step's relative tolerance: Im f(x + ih)/h is exact to rounding for an analytic
#: f, but the complex library's imaginary parts are only promised to a few ulps.
COMPLEX_RTOL = 1e-12


def _complex_step(op, args, k, h):
    z = [complex(a) for a in args]
    z[k] = complex(args[k], h)
    try:
        got = op.cvalue(*z).imag / h
    except ARITH:
        return math.nan
    return got


@pytest.mark.parametrize("name, args", [c for c in CASES if OPS[c.values[0]].cvalue is not None])
def test_complex_step_matches_the_truth(name, args):
    """Im cvalue(x + ih)/h against the true derivative, relative error <= COMPLEX_RTOL.

    No one step suits every point: a relative h = 1e-100·|x| is huge against the period of
    sin(1e300) or the gap in logsumexp(x, y) at x = y = 1e300, and an absolute h = 1e-100
    underflows inside cbrt(1e300 + ih) (Im log z = 1e-400) and is not small against a tiny
    x. So both are tried (the absolute one only where |x| >= 1e-80 or x = 0) and one must
    agree; a complex version that is not the analytic extension agrees with neither. Points
    where the value is not finite, or h·f'(x) is not a normal float for any step, are skipped."""
    op = OPS[name]
    value = _float_value(op, args)
    if not _finite(value):
        return
    for k, truth in enumerate(true_local(name, args)):
        if truth is None or not math.isfinite(float(truth)):
            continue
        x = args[k]
        steps = ([1e-100 * abs(x)] if x != 0.0 else []) + \
            ([1e-100] if x == 0.0 or abs(x) >= 1e-80 else [])
        steps = [h for h in steps if abs(float(truth) * h) >= TINY]
        if not steps:
            continue
        with mpmath.workdps(DPS):
            got = [_complex_step(op, args, k, h) for h in steps]
            rel = [abs(mpf(g) - truth) / abs(truth) if math.isfinite(g) else INF for g in got]
        assert min(rel) <= COMPLEX_RTOL, f"{name}{args} complex step d/d(input {k}): {got!r} " \
                                         f"vs {mpmath.nstr(truth, 17)} ({float(min(rel)):.3g})"


# ---------------------------------------------------------------------- kinks

KINKS = [
    # (op, args, the local gradients the stated convention gives)
    ("abs", (0.0,), (0.0,)),
    ("abs", (-0.0,), (0.0,)),
    ("relu", (0.0,), (0.0,)),
    # sign and step jump at 0: the derivative, 0 on both sides, is taken as 0 there too
    ("sign", (0.0,), (0.0,)),
    ("sign", (-0.0,), (0.0,)),
    ("step", (0.0,), (0.0,)),
    ("step", (-0.0,), (0.0,)),
    ("max", (1.0, 1.0), (0.5, 0.5)),
    ("max", (1e-320, -1.0, 1e-320), (0.5, 0.0, 0.5)),
    ("max", (MAX, MAX, MAX, MAX), (0.25, 0.25, 0.25, 0.25)),
    ("min", (-1.0, 3.0, -1.0), (0.5, 0.0, 0.5)),
    ("min", (0.0, 0.0, 0.0), (1 / 3, 1 / 3, 1 / 3)),
    ("hypot", (0.0, 0.0), (0.0, 0.0)),
    ("hypot", (-0.0, 0.0), (0.0, 0.0)),
    # the branch cut: the gradient is the one-sided limit (x/(x²+y²), -y/(x²+y²)) = (1/x, 0)
    ("atan2", (0.0, -2.0), (-0.5, 0.0)),
    ("atan2", (0.0, -1e300), (1 / mpf(-1e300), 0.0)),
    ("atan2", (0.0, -1e-300), (1 / mpf(-1e-300), 0.0)),
]


@pytest.mark.parametrize("name, args, expected", KINKS, ids=[f"{n}{a}" for n, a, _ in KINKS])
def test_kinks_follow_the_stated_convention_in_both_forms(name, args, expected):
    op = OPS[name]
    assert op.convention and op.kink(*args)
    out = op.value(*args)
    local = op.local(*args, out)
    assert len(local) == len(expected)
    for got, want in zip(local, expected):
        assert _verdict(got, mpf(want)) is None, (local, expected)
    columns = [np.array([a]) for a in args]
    with np.errstate(all="ignore"):
        assert bool(np.asarray(op.array_kink(np, *columns)).reshape(-1)[0])
    values, alocal = _array_forms(op, columns)
    assert float(values[0]) == out
    assert tuple(float(g[0]) for g in alocal) == tuple(local)


# ---------------------------------------------------------------------- end to end


@pytest.mark.parametrize("formula, at", ISSUE_TABLE, ids=[f"{f}{a}" for f, a in ISSUE_TABLE])
def test_issue_table_end_to_end(formula, at):
    """`adiff grad ... --format json`: gradient.x (and the value) to the mpmath truth."""
    name = formula.split("(")[0]
    args = tuple(at.values())
    result = invoke("grad", formula, "--at", ",".join(f"{k}={v!r}" for k, v in at.items()),
                    "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert _verdict(doc["value"], true_value(name, args)) is None, doc["value"]
    truth = true_local(name, args)
    for k, var in enumerate(at):
        problem = _verdict(doc["gradient"][var], truth[k])
        assert problem is None, f"{formula} at {at}: gradient.{var} {problem}"
    assert doc["gradient"]["x"] != 0.0


def test_tiny_derivative_is_not_printed_as_zero():
    """tanh'(20) = 1.6993e-17 in the plain and table formats too (JSON: above)."""
    result = invoke("grad", "tanh(x)", "--at", "x=20", "--format", "plain")
    assert result.code == 0, result
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("x\t")]
    assert len(line) == 1
    assert float(line[0].split("\t")[1]) == pytest.approx(1.6993417021166355e-17, rel=1e-13, abs=0)
    result = invoke("grad", "tanh(x)", "--at", "x=20")
    assert result.code == 0, result
    assert re.search(r"\b1\.699\d*e-17\b", result.stdout), result.stdout
