"""Finite differences: the independent check of reverse mode.

Central differences with step h = cbrt(eps)·max(1, |x|) (error O(h²) + O(eps/h),
minimised near cbrt(eps)), made exactly representable as (x + h) - x. When
x ± h leaves a function's domain, a one-sided difference with step
sqrt(eps)·max(1, |x|) is tried on the side that stays inside.

The comparison rule is numpy's ``allclose``: |ad - fd| <= atol + rtol·|fd|,
with rtol = 1e-6 and atol = 1e-8 by default (the atol covers gradients that
are ~0, where any relative error is meaningless).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from .engine import value_at
from .errors import EvalError
from .graph import Graph

EPS = sys.float_info.epsilon
CENTRAL_STEP = EPS ** (1.0 / 3.0)  # 6.06e-06
ONE_SIDED_STEP = math.sqrt(EPS)  # 1.49e-08
RTOL = 1e-6
ATOL = 1e-8


@dataclass
class Estimate:
    name: str
    ad: float
    fd: float | None  # None when no difference could be evaluated
    step: float
    method: str  # "central", "forward", "backward"
    abs_error: float | None
    rel_error: float | None
    ok: bool | None  # None: inconclusive (see note)
    note: str = ""


def _step(x: float, rel: float) -> float:
    h = rel * max(1.0, abs(x))
    return (x + h) - x


def difference(graph: Graph, at: dict[str, float], name: str) -> tuple[float | None, float, str]:
    """(estimate, step, method) of d output / d ``name`` at ``at``."""
    x = at[name]

    def f(v: float) -> float:
        return value_at(graph, {**at, name: v})

    h = _step(x, CENTRAL_STEP)
    try:
        return (f(x + h) - f(x - h)) / (2.0 * h), h, "central"
    except EvalError:
        pass
    h = _step(x, ONE_SIDED_STEP)
    f0 = value_at(graph, at)
    for sign, method in ((1.0, "forward"), (-1.0, "backward")):
        try:
            return sign * (f(x + sign * h) - f0) / h, h, method
        except EvalError:
            continue
    return None, h, "central"


def compare(ad: float, fd: float, rtol: float = RTOL, atol: float = ATOL):
    """(abs error, rel error, ok) under |ad - fd| <= atol + rtol·|fd|."""
    abs_error = abs(ad - fd)
    rel_error = abs_error / abs(fd) if fd != 0.0 else (0.0 if abs_error == 0.0 else math.inf)
    return abs_error, rel_error, abs_error <= atol + rtol * abs(fd)


def check(graph: Graph, at: dict[str, float], gradient: dict[str, float],
          rtol: float = RTOL, atol: float = ATOL, kink_inputs: set[str] | None = None
          ) -> list[Estimate]:
    """Compare each reverse-mode partial in ``gradient`` with a finite difference."""
    out = []
    for name, ad in gradient.items():
        fd, h, method = difference(graph, at, name)
        if fd is None:
            out.append(Estimate(name, ad, None, h, method, None, None, None,
                                "x ± h leaves the domain on both sides"))
            continue
        abs_error, rel_error, ok = compare(ad, fd, rtol, atol)
        note = ""
        if kink_inputs and name in kink_inputs:
            note = "not differentiable at this point (kink)"
            ok = None if not ok else ok
        out.append(Estimate(name, ad, fd, h, method, abs_error, rel_error, ok, note))
    return out
