"""The printer: graph -> formula text that parses back to the same graph, with minimal parentheses."""

from __future__ import annotations

import pytest

from autodiff_cli.calculus.engine import evaluate
from autodiff_cli.errors import AdiffError
from autodiff_cli.language.parser import parse
from autodiff_cli.language.printer import node_text, to_source


def same_graph(g1, g2) -> None:
    """Assert g1 and g2 are the same graph up to node numbering (an iterative walk).

    Same op at matched nodes, same inputs in the same positions, same input
    names and constant values, and a one-to-one match covering every node.
    """
    assert len(g1) == len(g2), (len(g1), len(g2))
    match, back = {}, {}
    assert len(g1.outputs) == len(g2.outputs), (g1.outputs, g2.outputs)
    stack = list(zip(g1.outputs, g2.outputs))
    while stack:
        a, b = stack.pop()
        if a in match:
            assert match[a] == b, f"n{a} matched to n{match[a]} and n{b}"
            continue
        assert b not in back, f"n{b} matched twice"
        match[a], back[b] = b, a
        assert g1.ops[a] is g2.ops[b], (a, g1.ops[a].name, b, g2.ops[b].name)
        assert len(g1.inputs[a]) == len(g2.inputs[b])
        if g1.ops[a].name == "var":
            assert g1.labels[a] == g2.labels[b]
        if g1.ops[a].name == "const":
            assert g1.consts[a] == g2.consts[b]
        stack.extend(zip(g1.inputs[a], g2.inputs[b]))
    assert len(match) == len(g1)


def roundtrip(source: str) -> str:
    g = parse(source)
    text = to_source(g)
    g2 = parse(text)
    same_graph(g, g2)
    assert to_source(g2) == text  # printing is a fixpoint
    return text


@pytest.mark.parametrize("source, printed", [
    ("x + y + z", "x + y + z"),
    ("x + (y + z)", "x + (y + z)"),  # kept: without them it is a different graph
    ("(x + y) + z", "x + y + z"),
    ("x - (y - z)", "x - (y - z)"),
    ("x - (y + z)", "x - (y + z)"),
    ("(x*y)*z", "x*y*z"),
    ("x/(y*z)", "x/(y*z)"),
    ("(x + y)*z", "(x + y)*z"),
    ("x*(y + z)", "x*(y + z)"),
    ("2^3^2", "2^3^2"),
    ("(2^3)^2", "(2^3)^2"),
    ("-x^2", "-x^2"),
    ("(-x)^2", "(-x)^2"),
    ("(-2)^x", "(-2)^x"),
    ("2^-x", "2^-x"),
    ("2**(-x)", "2^-x"),
    ("x^(y + 1)", "x^(y + 1)"),
    ("x^(y*2)", "x^(y*2)"),
    ("-(x + y)", "-(x + y)"),
    ("-(x*y)", "-(x*y)"),
    ("(-x)*y", "-x*y"),
    ("--x", "--x"),
    ("x * -y", "x*-y"),
    ("x - -1", "x - -1"),
    ("x - (-y)", "x - -y"),
    ("-1 * log(1 / (1 + exp(-1 * (θ1*x1 + θ2*x2 + θ0))))",
     "-1*log(1/(1 + exp(-1*(θ1*x1 + θ2*x2 + θ0))))"),
    ("log(x, 2) + ln(y)", "log(x, 2) + log(y)"),
    ("pow(x, 3)", "x^3"),
    ("max(x, y, (1))", "max(x, y, 1)"),
    ("sin((x))", "sin(x)"),
    ("pi*e", "pi*e"),
    ("1e-3*x + .5", "1e-3*x + .5"),
])
def test_minimal_parentheses(source, printed):
    assert roundtrip(source) == printed


def test_minus_times_product_keeps_its_meaning():
    # -(x*y) and (-x)*y are different graphs; the printer must tell them apart.
    assert roundtrip("-(x*y)") != roundtrip("(-x)*y")


@pytest.mark.parametrize("source, printed", [
    ("a = x + 1; a*a + exp(a)", "a = x + 1\na*a + exp(a)"),
    ("y = x*x\nz = y + y\nz*z", "y = x*x\nz = y + y\nz*z"),
    ("s = x + 1; s*2", "(x + 1)*2"),  # used once: inlined, no assignment
    ("x = x + 1; x*x", "t1 = x + 1\nt1*t1"),  # the name x is the input's
    ("t1 = 3; u = x*t1; u + t1*u", "t1 = 3\nu = x*t1\nu + t1*u"),  # a shared constant
    ("pi = x*2; pi + pi", "t1 = x*2\nt1 + t1"),
])
def test_shared_values_become_assignments(source, printed):
    assert roundtrip(source) == printed


def test_samples_round_trip():
    from pathlib import Path

    samples = Path(__file__).resolve().parent.parent / "samples"
    files = sorted(samples.glob("*.adiff"))
    assert files
    for path in files:
        roundtrip(path.read_text(encoding="utf-8"))


def test_neg_of_a_constant_node_prints_with_parentheses():
    # Only a bare literal folds into a negative constant (-2); -(2) stays neg(2),
    # so a neg of a constant node reached through a name round-trips exactly.
    g = parse("a = 2; b = x; -a*b")
    assert [op.name for op in g.ops] == ["const", "var", "neg", "mul"]
    text = to_source(g)
    assert text == "-(2)*x"
    g2 = parse(text)
    assert [op.name for op in g2.ops] == ["const", "neg", "var", "mul"]
    assert evaluate(g2, {"x": 3.0}).value == evaluate(g, {"x": 3.0}).value == -6.0


def test_node_text_names_inputs_by_id():
    g = parse("-1 * log(1 / (1 + exp(-1 * (θ1*x1 + θ2*x2 + θ0))))")
    texts = [node_text(g, i) for i in range(len(g))]
    assert texts[6] == "θ1*x1"
    assert texts[10] == "n6 + n9"
    assert texts[14] == "exp(n13)"
    assert texts[16] == "1/n15"
    assert texts[18] == "-1*n17"
    g = parse("(-2)^x + -(x + 1)")
    assert [node_text(g, i) for i in range(len(g))][2] == "(-2)^x"


def test_deep_formulas_print_without_recursion():
    depth = 10_000
    for source in ["(" * depth + "x" + "+1)" * depth, "-" * depth + "x",
                   "sin(" * depth + "x" + ")" * depth, "2^" * depth + "x",
                   "x" + "-(x" * depth + ")" * depth]:
        g = parse(source)
        text = to_source(g)
        g2 = parse(text)
        assert len(g2) == len(g)
        assert [op.name for op in g2.ops[-3:]] == [op.name for op in g.ops[-3:]]
        node_text(g, g.output)


def test_fan_out_prints_each_value_once():
    # 2^40 leaves if printed as a tree; 40 assignments as a program.
    lines = ["a0 = x + 1"] + [f"a{k} = a{k - 1}*a{k - 1}" for k in range(1, 41)] + ["a40"]
    text = roundtrip("\n".join(lines))
    assert len(text) < 1000
    assert text.count("\n") == 40


# ---------------------------------------------------------------- generated formulas

_LEAVES = ["x", "y", "θ1", "2", "0.5", "3e-1", "pi", "e"]
_BINARY = ["+", "-", "*", "/", "^", "**"]
_UNARY_FUNCTIONS = ["sin", "exp", "log", "sigmoid", "tanh", "abs"]
_BINARY_FUNCTIONS = ["max", "min", "logsumexp", "hypot", "log", "atan2", "pow"]


def random_formula(rng, depth: int) -> str:
    """A random formula; binary operands are parenthesized at random, so every nesting occurs."""
    if depth == 0 or rng.random() < 0.15:
        return rng.choice(_LEAVES)
    kind = rng.random()
    if kind < 0.6:
        a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
        if rng.random() < 0.6:
            a = f"({a})"
        if rng.random() < 0.6:
            b = f"({b})"
        return f"{a} {rng.choice(_BINARY)} {b}"
    if kind < 0.75:
        a = random_formula(rng, depth - 1)
        return rng.choice(["-", "-", "+"]) + (f"({a})" if rng.random() < 0.5 else a)
    if kind < 0.9:
        return f"{rng.choice(_UNARY_FUNCTIONS)}({random_formula(rng, depth - 1)})"
    return (f"{rng.choice(_BINARY_FUNCTIONS)}({random_formula(rng, depth - 1)}, "
            f"{random_formula(rng, depth - 1)})")


def test_generated_formulas_round_trip():
    import random

    rng = random.Random(20250830)
    for _ in range(3000):
        source = random_formula(rng, 5)
        try:
            roundtrip(source)
        except AssertionError as exc:
            raise AssertionError(f"{source!r} printed as {to_source(parse(source))!r}") from exc


def test_generated_programs_round_trip():
    # Each statement is an operation of earlier names, so names are shared values.
    import random

    rng = random.Random(7)
    at = {"x": 0.7, "y": 1.3, "θ1": 0.4}
    for _ in range(300):
        count = rng.randint(1, 4)
        lines = []
        for k in range(count):
            earlier = f"v{k - 1}" if k else "x"
            lines.append(f"v{k} = ({random_formula(rng, 3)}) * {earlier} + {earlier}")
        uses = " + ".join(f"v{k}" for k in range(count))
        lines.append(f"({random_formula(rng, 3)}) * ({uses}) - v0")
        source = "\n".join(lines)
        text = roundtrip(source)
        try:
            expected = evaluate(parse(source), at).value
        except AdiffError:  # outside a domain: the structure was still checked above
            continue
        assert evaluate(parse(text), at).value == expected
