"""Random formulas for property tests of `adiff check` (a seeded generator, no Hypothesis).

``smooth_case(rng)`` draws a formula from the smooth ops of the op table and a
point inside its domain (where the value and the reverse-mode gradient are
finite), redrawing the point -- and if need be the formula -- until one is.
"""

from __future__ import annotations

import random

from autodiff_cli.calculus.engine import evaluate
from autodiff_cli.core.ops import FUNCTIONS, OPS
from autodiff_cli.errors import EvalError
from autodiff_cli.language.parser import parse

#: Not smooth everywhere: kinks (abs, relu, max, min) and jumps (sign, step) -- kept out of
#: "smooth" formulas.
PIECEWISE = ("abs", "relu", "max", "min", "sign", "step")

#: One entry per unary op (not per name: the NumPy aliases arcsin, ... would weigh twice).
UNARY = sorted({by[1].name for by in FUNCTIONS.values() if 1 in by and by[1].name not in PIECEWISE
                and by[1].name != "log"}) + ["log", "neg"]
BINARY = ["+", "-", "*", "/", "^", "logb", "hypot", "atan2"]
VARIABLES = ("x", "y", "z")


def _leaf(rng: random.Random, names) -> str:
    if rng.random() < 0.7:
        return rng.choice(names)
    c = rng.choice([rng.randint(1, 4), round(rng.uniform(-3.0, 3.0), 2), 0.5])
    return f"({c})" if c < 0 else str(c)


def formula(rng: random.Random, depth: int = 4, names=VARIABLES, piecewise: bool = False) -> str:
    """A random formula over ``names``; with ``piecewise`` also abs, relu, max, min."""
    if depth == 0 or rng.random() < 0.2:
        return _leaf(rng, names)
    r = rng.random()
    if piecewise and r < 0.15:
        name = rng.choice(PIECEWISE)
        if name in ("abs", "relu", "sign", "step"):
            return f"{name}({formula(rng, depth - 1, names, piecewise)})"
        args = [formula(rng, depth - 1, names, piecewise) for _ in range(rng.randint(2, 3))]
        return f"{name}({', '.join(args)})"
    if r < 0.45:
        name = rng.choice(UNARY)
        inner = formula(rng, depth - 1, names, piecewise)
        return f"(-{inner})" if name == "neg" else f"{name}({inner})"
    if r < 0.5:
        args = [formula(rng, depth - 1, names, piecewise) for _ in range(rng.randint(2, 3))]
        return f"logsumexp({', '.join(args)})"
    op = rng.choice(BINARY)
    a = formula(rng, depth - 1, names, piecewise)
    if op == "^" and rng.random() < 0.7:
        b = rng.choice(["2", "3", "0.5", "(-1)", "1.5", "(-2)"])
    else:
        b = formula(rng, depth - 1, names, piecewise)
    if op in ("logb", "hypot", "atan2"):
        return f"{'log' if op == 'logb' else op}({a}, {b})"
    return f"({a} {op} {b})"


def point(rng: random.Random, names, lo: float = -2.0, hi: float = 2.0) -> dict[str, float]:
    return {name: rng.uniform(lo, hi) for name in names}


def smooth_case(rng: random.Random, depth: int = 4, tries: int = 20, piecewise: bool = False):
    """(source, at): a random formula and a point where it and its gradient are finite."""
    while True:
        source = formula(rng, depth, piecewise=piecewise)
        graph = parse(source)
        if not graph.variables:
            continue
        for _ in range(tries):
            at = point(rng, graph.variables)
            try:
                evaluate(graph, at)
            except EvalError:
                continue
            return source, at


assert "sigmoid" in UNARY and "abs" not in UNARY and OPS["hypot"].cvalue is not None
