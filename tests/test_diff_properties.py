"""Property tests of ``adiff diff``'s formulas (issue 11), over generated formulas and programs.

For random formulas over the whole op table (the strategies of tests/test_properties.py) at
random points inside their domain:

* every printed derivative -- each standalone formula and the program form with its
  several-outputs statement -- parses back with adiff's parser;
* order 1: its value equals the engine's reverse-mode gradient;
* order 2: its value equals reverse mode over the first derivative (the engine run on the
  printed order-1 formula), and, for formulas of smooth ops, SymPy's exact second derivative
  evaluated at 40 digits.

Tolerance: 1e-12 *relative to the scale of the terms*, S = Σ over paths |upstream × local|
(``abs_scale``: the gradient computed with |local|). Two correct computations of one
derivative that sum its terms in another order, factor them, or fold constants differ by
about n·eps·S; a wrong rule is off by O(1)·S. Relative to the value itself would fail, for
no fault, where the terms cancel to nearly 0 (x*y - y*x at any point), and relative to 1
would pass wrong tiny derivatives. Where the printed formula is not defined although reverse
mode is (a rule divides by what reverse mode multiplies: x^y·log(x) at x = 0), there is
nothing to compare; points stay 0.01 away from kinks and 0 (tests/test_properties.py's
``MODERATE``), so this is rare, counted by ``event`` and never the whole case.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, event, given, note
from hypothesis import strategies as st

from autodiff_cli import EvalError, evaluate, parse
from autodiff_cli.calculus.derive import differentiate
from autodiff_cli.calculus.engine import value_at

from .test_properties import MODERATE, abs_scale, examples, formulas, kink_distance, programs

RTOL = 1e-12


def _program_text(program) -> str:
    return program[2]


@st.composite
def cases(draw, source=None, smooth: bool = False):
    """(text, graph, at, evaluation): a generated formula or program and a point where it and
    its gradient are finite, away from kinks."""
    if source == "program":
        text = _program_text(draw(programs(max_statements=3, max_leaves=6)))
    else:
        text = draw(formulas(max_leaves=8))[1]
    graph = parse(text)
    assume(graph.variables)
    if smooth:
        assume(all(op.name not in SYMPY_NONE for op in graph.ops))
    for _ in range(8):
        at = {n: draw(MODERATE) for n in graph.variables}
        try:
            ev = evaluate(graph, at)
        except EvalError:
            continue
        if kink_distance(graph, ev.values) > 0.01:
            return text, graph, at, ev
    assume(False)


def _value(text: str, at: dict):
    """The printed formula's value at ``at`` (its own variables only), or None where it is not
    defined."""
    g = parse(text)
    try:
        return value_at(g, {k: at[k] for k in g.variables})
    except EvalError:
        return None


def _outputs(text: str, at: dict):
    g = parse(text)
    out = []
    for k in g.outputs:
        view = g.with_output(k)
        try:
            out.append(value_at(view, {n: at[n] for n in g.variables}))
        except EvalError:
            out.append(None)
    return out


def _agree(got, want: float, scale: float) -> bool:
    return abs(got - want) <= RTOL * max(scale, abs(want)) + 1e-300


def check_first_order(case) -> None:
    text, graph, at, ev = case
    note(f"{text} at {at}")
    d = differentiate(graph)
    scale = abs_scale(ev)
    compared = 0
    for key in d.keys:
        formula = d.standalone(key)
        note(f"d/d{key} = {formula}")
        got = _value(formula, at)
        if got is None:
            event("a printed derivative is not defined at the point")
            continue
        assert _agree(got, ev.gradient[key], scale[key]), (key, formula, got, ev.gradient[key])
        compared += 1
    program = d.program()
    note(program)
    for key, got in zip(d.keys, _outputs(program, at)):
        if got is not None:
            assert _agree(got, ev.gradient[key], scale[key]), (key, got, ev.gradient[key])
    assume(compared)


@examples(150)
@given(cases())
def test_first_derivatives_of_formulas_agree_with_reverse_mode(case):
    check_first_order(case)


@examples(80)
@given(cases("program"))
def test_first_derivatives_of_programs_agree_with_reverse_mode(case):
    check_first_order(case)


def check_second_order(case, sympy_too: bool) -> None:
    text, graph, at, ev = case
    note(f"{text} at {at}")
    d1 = differentiate(graph)
    d2 = differentiate(graph, order=2)
    wrt = d1.keys
    compared = 0
    for i, a in enumerate(wrt):
        first = d1.standalone(a)
        g1 = parse(first)
        try:
            ev1 = evaluate(g1, {k: at[k] for k in g1.variables})
        except EvalError:
            event("a first derivative's gradient is not defined at the point")
            continue
        scale = abs_scale(ev1)
        for b in wrt[i:]:
            formula = d2.standalone(f"{a},{b}")
            note(f"d2/d{a}d{b} = {formula}")
            got = _value(formula, at)
            if got is None:
                event("a printed second derivative is not defined at the point")
                continue
            want = ev1.gradient.get(b, 0.0)
            assert _agree(got, want, scale.get(b, 0.0)), (a, b, formula, got, want)
            if sympy_too:
                exact = sympy_second(graph, a, b, at)
                if exact is not None:
                    assert abs(got - exact) <= 1e-10 * max(scale.get(b, 0.0), abs(exact)) + 1e-300, \
                        (a, b, formula, got, exact)
                    event("checked against SymPy")
            compared += 1
    program = d2.program()
    for key, got in zip(d2.keys, _outputs(program, at)):
        alone = _value(d2.standalone(key), at)
        if got is not None and alone is not None:
            assert got == alone or _agree(got, alone, abs(alone)), (key, got, alone)
    assume(compared)


@examples(60)
@given(cases())
def test_second_derivatives_agree_with_reverse_mode_over_the_first(case):
    check_second_order(case, sympy_too=False)


@examples(30)
@given(cases(smooth=True))
def test_second_derivatives_agree_with_sympy(case):
    check_second_order(case, sympy_too=True)


@examples(30)
@given(cases("program"))
def test_second_derivatives_of_programs(case):
    check_second_order(case, sympy_too=False)


# ================================================================== SymPy, the exact oracle

#: Ops SymPy is not asked about: kinks and jumps (no derivative there to compare) and the
#: variadic ones written below only for two or three arguments.
SYMPY_NONE = frozenset({"abs", "relu", "max", "min", "sign", "step"})


def _sympy_table(sp):
    def acot(a):  # adiff's acot is continuous, values in (0, pi): pi/2 - atan(a)
        return sp.pi / 2 - sp.atan(a)

    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
        "exp": sp.exp, "log": sp.log, "logb": lambda a, b: sp.log(a) / sp.log(b),
        "log2": lambda a: sp.log(a) / sp.log(2), "log10": lambda a: sp.log(a) / sp.log(10),
        "log1p": lambda a: sp.log(1 + a), "expm1": lambda a: sp.exp(a) - 1, "sqrt": sp.sqrt,
        "cbrt": lambda a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3),
        "hypot": lambda a, b: sp.sqrt(a ** 2 + b ** 2),
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
        "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "asec": lambda a: sp.acos(1 / a),
        "acsc": lambda a: sp.asin(1 / a), "acot": acot, "atan2": sp.atan2,
        "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "sech": sp.sech, "csch": sp.csch,
        "coth": sp.coth, "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
        "asech": lambda a: sp.acosh(1 / a), "acsch": lambda a: sp.asinh(1 / a),
        "acoth": lambda a: sp.atanh(1 / a),
        "sigmoid": lambda a: 1 / (1 + sp.exp(-a)), "softplus": lambda a: sp.log(1 + sp.exp(a)),
        "logsumexp": lambda *xs: sp.log(sum(sp.exp(x) for x in xs)),
        "erf": sp.erf, "erfc": sp.erfc,
    }


def sympy_second(graph, a: str, b: str, at: dict):
    """d²f/da db at ``at`` by SymPy, exactly, then evaluated at 40 digits (None when SymPy
    gives no real number)."""
    sp = pytest.importorskip("sympy")
    table = _sympy_table(sp)
    symbols = {name: sp.Symbol(name, real=True) for name in graph.variables}
    exprs = []
    for i, op in enumerate(graph.ops):
        if op.name == "var":
            exprs.append(symbols[graph.labels[i]])
        elif op.name == "const":
            v = graph.consts[i]
            exprs.append(sp.pi if v == math.pi else sp.E if v == math.e else sp.Float(v, 40))
        else:
            exprs.append(table[op.name](*[exprs[j] for j in graph.inputs[i]]))
    f = exprs[graph.output]
    second = sp.diff(f, symbols[a], symbols[b])
    value = second.evalf(40, subs={symbols[n]: sp.Float(v, 40) for n, v in at.items()})
    if not value.is_real or not value.is_finite:
        return None
    return float(value)


def test_the_sympy_table_covers_every_smooth_op():
    from autodiff_cli.core.ops import OPS

    sp = pytest.importorskip("sympy")
    smooth = {name for name, op in OPS.items() if op.kind != "leaf"} - SYMPY_NONE
    assert smooth <= set(_sympy_table(sp))


def test_sympy_agrees_with_a_known_second_derivative():
    g = parse("x^2*sin(x)")
    exact = sympy_second(g, "x", "x", {"x": 0.5})
    want = 2 * math.sin(0.5) + 4 * 0.5 * math.cos(0.5) - 0.25 * math.sin(0.5)
    assert abs(exact - want) <= 1e-15
