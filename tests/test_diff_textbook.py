"""The textbook table (issue 11): what ``adiff diff`` prints is what a textbook prints.

Each row is a formula and, for each input, the exact text of its derivative (the standalone
form), and a point where the row is checked against the engine's reverse mode as well. The
chain rule goes through every function of the language (every name of ``ops.FUNCTIONS``,
aliases included) with the inner function ``x^2``, so each row shows the function's
derivative and the chain factor ``2*x``.

sigmoid: the textbook forms are ``sigmoid(x)*sigmoid(-x)`` and ``sigmoid(x)*(1 - sigmoid(x))``.
adiff prints the first, because it is what the op table's row states (``d=("out*sigmoid(-a)",)``)
and because its values keep full relative precision in both tails, where ``1 - sigmoid(x)``
rounds to 0 for x > 37 (against mpmath, ~2 ulp at most over 40,000 points in [-700, 700]).
The lecture's loss ``-log(sigmoid(z))`` so differentiates to ``-sigmoid(-z)`` times the inputs:
``sigmoid(z) - 1``, written the way that does not round away when sigmoid(z) is near 1.
"""

from __future__ import annotations

import pytest

from autodiff_cli.calculus.derive import differentiate
from autodiff_cli.calculus.engine import evaluate, value_at
from autodiff_cli.core.ops import FUNCTIONS, OPS
from autodiff_cli.language.parser import parse

P = {"x": 0.6, "y": 1.3, "z": -0.4}  # the default point
BIG = {"x": 1.3, "y": 1.3, "z": -0.4}  # |x^2| > 1 (acosh, asec, acsc, acoth)

ALGEBRA = [
    # sums, products, quotients, powers
    ("x^2*sin(x)", {"x": "2*x*sin(x) + x^2*cos(x)"}, P),
    ("3*x^2 + 2*x + 1", {"x": "6*x + 2"}, P),
    ("x^3 + x^2 + x", {"x": "3*x^2 + 2*x + 1"}, P),
    ("x + x^2 + x^3", {"x": "1 + 2*x + 3*x^2"}, P),  # the terms in the order they are written
    ("x*exp(x)", {"x": "exp(x) + x*exp(x)"}, P),
    ("a*x^2 + b*x + c", {"a": "x^2", "x": "2*a*x + b", "b": "x", "c": "1"},
     {"a": 2.0, "x": 0.6, "b": -1.0, "c": 3.0}),
    ("x*y + sin(x)", {"x": "y + cos(x)", "y": "x"}, P),
    ("x*y*z", {"x": "y*z", "y": "x*z", "z": "x*y"}, P),
    ("x^2*y + y^3", {"x": "2*x*y", "y": "x^2 + 3*y^2"}, P),
    ("x/y", {"x": "1/y", "y": "-x/y^2"}, P),
    ("1/x", {"x": "-1/x^2"}, P),
    ("(x + 1)/(x - 1)", {"x": "1/(x - 1) - (x + 1)/(x - 1)^2"}, {"x": 3.0}),
    ("sin(x)/x", {"x": "cos(x)/x - sin(x)/x^2"}, P),
    ("x^5", {"x": "5*x^4"}, P),
    ("x^y", {"x": "y*x^(y - 1)", "y": "x^y*log(x)"}, P),
    ("x^x", {"x": "x^x + x^x*log(x)"}, P),
    ("2^x", {"x": "2^x*log(2)"}, P),
    ("e^x", {"x": "e^x"}, P),
    ("x^0.5", {"x": "1/(2*x^0.5)"}, P),
    ("(x^2 + 1)^3", {"x": "6*x*(x^2 + 1)^2"}, P),
    ("(1 - x)^2", {"x": "-2*(1 - x)"}, P),
    ("x + x", {"x": "2"}, P),
    ("x*x*x", {"x": "3*x^2"}, P),
    ("--x - -y", {"x": "1", "y": "1"}, P),
    ("x/2 + y/3", {"x": "0.5", "y": "1/3"}, P),  # 1/3: the float 0.333..., as written
    # the chain rule, compositions
    ("sin(x)*cos(x)", {"x": "cos(x)^2 - sin(x)^2"}, P),
    ("sin(x)^2", {"x": "2*sin(x)*cos(x)"}, P),
    ("sin(cos(x))", {"x": "-cos(cos(x))*sin(x)"}, P),
    ("exp(sin(x))", {"x": "exp(sin(x))*cos(x)"}, P),
    ("exp(2*x)", {"x": "2*exp(2*x)"}, P),
    ("exp(-x^2/2)", {"x": "-x*exp(-x^2/2)"}, P),
    ("sin(x*y)", {"x": "y*cos(x*y)", "y": "x*cos(x*y)"}, P),
    ("log(x^2 + 1)", {"x": "2*x/(x^2 + 1)"}, P),
    ("log(log(x))", {"x": "1/(x*log(x))"}, {"x": 2.0}),
    ("x*log(x) - x", {"x": "log(x)"}, P),
    ("sqrt(1 - x^2)", {"x": "-x/sqrt(1 - x^2)"}, P),
    ("sqrt(x^2 + y^2)", {"x": "x/sqrt(x^2 + y^2)", "y": "y/sqrt(x^2 + y^2)"}, P),
    ("log(1 + exp(x))", {"x": "exp(x)/(1 + exp(x))"}, P),
    # machine learning
    ("softplus(2*x)", {"x": "2*sigmoid(2*x)"}, P),
    ("logsumexp(x, y, z)", {"x": "exp(x - logsumexp(x, y, z))",
                            "y": "exp(y - logsumexp(x, y, z))",
                            "z": "exp(z - logsumexp(x, y, z))"}, P),
    ("max(x, y)", {"x": "(1 + sign(x - y))/2", "y": "(1 + sign(y - x))/2"}, P),
    ("min(x, y)", {"x": "(1 + sign(y - x))/2", "y": "(1 + sign(x - y))/2"}, P),
    ("relu(x)*x", {"x": "x*step(x) + relu(x)"}, P),
    ("abs(x - y)", {"x": "sign(x - y)", "y": "-sign(x - y)"}, P),
]

SIGMOID = [
    ("sigmoid(x)", {"x": "sigmoid(x)*sigmoid(-x)"}, P),
    ("sigmoid(x^2)", {"x": "2*x*sigmoid(x^2)*sigmoid(-x^2)"}, P),
    ("x*sigmoid(x)", {"x": "sigmoid(x) + x*sigmoid(x)*sigmoid(-x)"}, P),
    ("log(sigmoid(x))", {"x": "sigmoid(-x)"}, P),
    # the lecture's logistic loss: d/dθ is (sigmoid(z) - 1)·input, written -sigmoid(-z)·input
    ("-log(sigmoid(t0 + t1*x1 + t2*x2))",
     {"t0": "-sigmoid(-(t0 + t1*x1 + t2*x2))", "t1": "-x1*sigmoid(-(t0 + t1*x1 + t2*x2))",
      "x1": "-t1*sigmoid(-(t0 + t1*x1 + t2*x2))", "t2": "-x2*sigmoid(-(t0 + t1*x1 + t2*x2))",
      "x2": "-t2*sigmoid(-(t0 + t1*x1 + t2*x2))"},
     {"t0": 1.0, "t1": 1.0, "x1": 1.0, "t2": 2.0, "x2": 2.0}),
]

#: The chain rule through every function of the language, f(x^2): name -> {input: text}.
FUNCTION_ROWS = [
    ("abs(x^2)", {"x": "2*x*sign(x^2)"}, P),
    ("acos(x^2)", {"x": "-2*x/sqrt((1 - x^2)*(1 + x^2))"}, P),
    ("acosh(x^2)", {"x": "2*x/(sqrt(x^2 - 1)*sqrt(x^2 + 1))"}, BIG),
    ("acot(x^2)", {"x": "-2*x/(1 + x^4)"}, P),
    ("acoth(x^2)", {"x": "2*x/((1 - x^2)*(1 + x^2))"}, BIG),
    ("acsc(x^2)", {"x": "-2*x/(abs(x^2)*sqrt(abs(x^2) - 1)*sqrt(abs(x^2) + 1))"}, BIG),
    ("acsch(x^2)", {"x": "-2*x/(abs(x^2)*hypot(1, x^2))"}, P),
    ("arccos(x^2)", {"x": "-2*x/sqrt((1 - x^2)*(1 + x^2))"}, P),
    ("arccosh(x^2)", {"x": "2*x/(sqrt(x^2 - 1)*sqrt(x^2 + 1))"}, BIG),
    ("arcsin(x^2)", {"x": "2*x/sqrt((1 - x^2)*(1 + x^2))"}, P),
    ("arcsinh(x^2)", {"x": "2*x/hypot(1, x^2)"}, P),
    ("arctan(x^2)", {"x": "2*x/(1 + x^4)"}, P),
    ("arctan2(x^2, y)", {"x": "2*x*y/(x^4 + y^2)", "y": "-x^2/(x^4 + y^2)"}, P),
    ("arctanh(x^2)", {"x": "2*x/((1 - x^2)*(1 + x^2))"}, P),
    ("asec(x^2)", {"x": "2*x/(abs(x^2)*sqrt(abs(x^2) - 1)*sqrt(abs(x^2) + 1))"}, BIG),
    ("asech(x^2)", {"x": "-2/(x*sqrt((1 - x^2)*(1 + x^2)))"}, P),
    ("asin(x^2)", {"x": "2*x/sqrt((1 - x^2)*(1 + x^2))"}, P),
    ("asinh(x^2)", {"x": "2*x/hypot(1, x^2)"}, P),
    ("atan(x^2)", {"x": "2*x/(1 + x^4)"}, P),
    ("atan2(x^2, y)", {"x": "2*x*y/(x^4 + y^2)", "y": "-x^2/(x^4 + y^2)"}, P),
    ("atanh(x^2)", {"x": "2*x/((1 - x^2)*(1 + x^2))"}, P),
    ("cbrt(x^2)", {"x": "2*x/(3*cbrt(x^2)^2)"}, P),
    ("cos(x^2)", {"x": "-2*x*sin(x^2)"}, P),
    ("cosh(x^2)", {"x": "2*x*sinh(x^2)"}, P),
    ("cot(x^2)", {"x": "-2*x*(1 + cot(x^2)^2)"}, P),
    ("coth(x^2)", {"x": "-2*x*csch(x^2)^2"}, P),
    ("csc(x^2)", {"x": "-2*x*csc(x^2)/tan(x^2)"}, P),
    ("csch(x^2)", {"x": "-2*x*csch(x^2)/tanh(x^2)"}, P),
    ("erf(x^2)", {"x": "4*x*exp(-x^4)/sqrt(pi)"}, P),
    ("erfc(x^2)", {"x": "-4*x*exp(-x^4)/sqrt(pi)"}, P),
    ("exp(x^2)", {"x": "2*x*exp(x^2)"}, P),
    ("expm1(x^2)", {"x": "2*x*exp(x^2)"}, P),
    ("hypot(x^2, y)", {"x": "2*x^3/hypot(x^2, y)", "y": "y/hypot(x^2, y)"}, P),
    ("ln(x^2)", {"x": "2/x"}, P),
    ("log(x^2)", {"x": "2/x"}, P),
    ("log(x^2, y)", {"x": "2/(x*log(y))", "y": "-log(x^2, y)/(y*log(y))"}, P),
    ("log10(x^2)", {"x": "2/(x*log(10))"}, P),
    ("log1p(x^2)", {"x": "2*x/(1 + x^2)"}, P),
    ("log2(x^2)", {"x": "2/(x*log(2))"}, P),
    ("logsumexp(x^2, y)", {"x": "2*x*exp(x^2 - logsumexp(x^2, y))",
                           "y": "exp(y - logsumexp(x^2, y))"}, P),
    ("max(x^2, y)", {"x": "x*(1 + sign(x^2 - y))", "y": "(1 + sign(y - x^2))/2"}, P),
    ("min(x^2, y)", {"x": "x*(1 + sign(y - x^2))", "y": "(1 + sign(x^2 - y))/2"}, P),
    ("pow(x^2, y)", {"x": "2*y*(x^2)^y/x", "y": "(x^2)^y*log(x^2)"}, P),
    ("relu(x^2)", {"x": "2*x*step(x^2)"}, P),
    ("sec(x^2)", {"x": "2*x*sec(x^2)*tan(x^2)"}, P),
    ("sech(x^2)", {"x": "-2*x*sech(x^2)*tanh(x^2)"}, P),
    ("sign(x^2)", {"x": "0"}, P),
    ("sin(x^2)", {"x": "2*x*cos(x^2)"}, P),
    ("sinh(x^2)", {"x": "2*x*cosh(x^2)"}, P),
    ("softplus(x^2)", {"x": "2*x*sigmoid(x^2)"}, P),
    ("sqrt(x^2)", {"x": "x/sqrt(x^2)"}, P),
    ("step(x^2)", {"x": "0"}, P),
    ("tan(x^2)", {"x": "2*x*(1 + tan(x^2)^2)"}, P),
    ("tanh(x^2)", {"x": "2*x*sech(x^2)^2"}, P),
]

ROWS = ALGEBRA + FUNCTION_ROWS + SIGMOID


@pytest.mark.parametrize("text, want, at", ROWS, ids=[r[0] for r in ROWS])
def test_the_textbook_table(text, want, at):
    graph = parse(text)
    d = differentiate(graph)
    assert {key: d.standalone(key) for key in d.keys} == want
    ev = evaluate(graph, {k: at[k] for k in graph.variables})
    for key, formula in want.items():
        got = value_at(parse(formula), {k: at[k] for k in parse(formula).variables})
        assert abs(got - ev.gradient[key]) <= 1e-13 * max(1.0, abs(ev.gradient[key])), key


def test_the_table_is_large_and_goes_through_every_function():
    assert len(ALGEBRA) + len(FUNCTION_ROWS) + len(SIGMOID) >= 40
    called = set()
    for text, _, _ in ALGEBRA + FUNCTION_ROWS + SIGMOID:
        for name in FUNCTIONS:
            if f"{name}(" in text:
                called.add(name)
    assert called == set(FUNCTIONS)


def test_sigmoids_row_is_the_textbook_form():
    assert OPS["sigmoid"].d == ("out*sigmoid(-a)",)
    assert differentiate(parse("sigmoid(x)")).standalone("x") == "sigmoid(x)*sigmoid(-x)"


def test_the_lectures_loss_at_the_lectures_point():
    """d/dθ0 = -0.00247 at θ0 = 1, θ1 = 1, x1 = 1, θ2 = 2, x2 = 2."""
    text = "-log(sigmoid(t0 + t1*x1 + t2*x2))"
    at = {"t0": 1.0, "t1": 1.0, "x1": 1.0, "t2": 2.0, "x2": 2.0}
    d = differentiate(parse(text))
    values = {key: value_at(parse(d.standalone(key)), at) for key in d.keys}
    assert round(values["t0"], 5) == -0.00247
    ev = evaluate(parse(text), at)
    for key, v in values.items():
        assert abs(v - ev.gradient[key]) <= 1e-15 * abs(ev.gradient[key]) + 1e-300
    # (sigmoid(z) - 1) times the input
    z = 1.0 + 1.0 * 1.0 + 2.0 * 2.0
    s = value_at(parse(f"sigmoid({z})"), {})
    assert abs(values["t1"] - (s - 1.0) * 1.0) <= 1e-13 * abs(values["t1"])
    assert abs(values["t2"] - (s - 1.0) * 2.0) <= 1e-13 * abs(values["t2"])
