"""The formula language: numbers, names, precedence, programs, and the grammar <-> builder link.

Values are compared exactly where the arithmetic is exact in binary floating point, and
with ``pytest.approx(rel=1e-15)`` otherwise.
"""

from __future__ import annotations

import math
import random
import re
import time

import lark
import pytest

from autodiff_cli import InputError, evaluate, parse
from autodiff_cli.core.ops import OPS
from autodiff_cli.language.parser import _Builder
from autodiff_cli.language.syntax import grammar_text

from .conftest import ROOT


def value(source, **at):
    return evaluate(parse(source), at).value


def gradient(source, **at):
    return evaluate(parse(source), at).gradient


def ops_of(graph):
    return [op.name for op in graph.ops]


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("text, expected", [
    ("3", 3.0), ("3.14", 3.14), (".5", 0.5), ("1e-3", 1e-3), ("2.5E+10", 2.5e10),
    ("3.", 3.0), ("0", 0.0), ("007", 7.0), ("1E3", 1000.0), ("1e+0", 1.0), ("6.02e23", 6.02e23),
    ("1e-320", 1e-320), ("1e-999", 0.0), ("1.7976931348623157e308", 1.7976931348623157e308),
    ("12345678901234567890", 12345678901234567890.0),
])
def test_number_literals(text, expected):
    graph = parse(text)
    assert ops_of(graph) == ["const"]
    assert graph.consts[graph.output] == expected
    assert graph.labels[graph.output] == text


def test_a_long_integer_literal_is_read_as_a_float():
    # int('9' * 5000) would hit Python's 4300-digit limit; the literal must not go through int().
    text = "9" * 300
    assert value(text) == float(text)


@pytest.mark.parametrize("text", ["1_000", "1.2.3", "1e", "0x10", "٣", "１", "1e+", ".e5"])
def test_malformed_numbers_are_input_errors(text):
    with pytest.raises(InputError):
        evaluate(parse(text), {})


def test_a_decimal_comma_is_two_outputs_and_says_so():
    # "1,5" was a syntax error; with several outputs it is the program's two outputs 1 and 5,
    # so the parser warns that it is not the number 1.5 (and `adiff grad` refuses it, exit 2)
    warnings: list[str] = []
    graph = parse("x*1,5", warnings=warnings)
    assert graph.output_names == ("x*1", "5") and len(graph.outputs) == 2
    assert warnings == ["line 1: '1,5' is read as two outputs, 1 and 5 (for the number, write "
                        "1.5: the decimal point is '.')"]
    spaced: list[str] = []
    parse("x, 5", warnings=spaced)
    assert spaced == []


def test_negative_literal_is_one_constant_node():
    graph = parse("-2")
    assert ops_of(graph) == ["const"]
    assert graph.consts[0] == -2.0
    assert graph.labels[0] == "-2"


# ------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["x", "x_1", "theta0", "θ1", "θ", "_x", "Δt", "ünï", "x1y2", "名前"])
def test_unicode_names_are_variables(name):
    graph = parse(f"{name} * 2")
    assert list(graph.variables) == [name]
    assert evaluate(graph, {name: 1.5}).gradient == {name: 2.0}


def test_names_are_normalised_nfc():
    # OHM SIGN (U+2126) and GREEK CAPITAL OMEGA (U+03A9) are one letter after NFC.
    ohm, omega = "\u2126", "\u03a9"
    graph = parse(f"{ohm} + {omega}")
    assert list(graph.variables) == [omega]
    assert evaluate(graph, {omega: 1.0}).gradient == {omega: 2.0}


def test_names_are_case_sensitive():
    assert gradient("x + 2*X", x=1.0, X=1.0) == {"x": 1.0, "X": 2.0}


def test_constants():
    assert value("pi") == math.pi
    assert value("e") == math.e
    assert parse("pi + e").variables == {}


def test_name_that_starts_like_a_function_is_a_variable():
    assert gradient("sinx + expo", sinx=1.0, expo=2.0) == {"sinx": 1.0, "expo": 1.0}


# --------------------------------------------------------------- precedence


@pytest.mark.parametrize("source, at, expected", [
    ("-x^2", {"x": 3.0}, -9.0),
    ("-3^2", {}, -9.0),
    ("(-3)^2", {}, 9.0),
    ("-2^2", {}, -4.0),
    ("2^3^2", {}, 512.0),
    ("2**3**2", {}, 512.0),
    ("2^3**2", {}, 512.0),
    ("(2^3)^2", {}, 64.0),
    ("a * -b", {"a": 2.0, "b": 3.0}, -6.0),
    ("a*-b", {"a": 2.0, "b": 3.0}, -6.0),
    ("2^-x", {"x": 1.0}, 0.5),
    ("2^-1^2", {}, 0.5),
    ("2^+x", {"x": 3.0}, 8.0),
    ("--x", {"x": 3.0}, 3.0),
    ("---x", {"x": 3.0}, -3.0),
    ("-+-x", {"x": 3.0}, 3.0),
    ("+x", {"x": 3.0}, 3.0),
    ("x - -x", {"x": 3.0}, 6.0),
    ("10 - 3 - 2", {}, 5.0),
    ("24 / 4 / 2", {}, 3.0),
    ("2 * 3 ^ 2", {}, 18.0),
    ("1 + 2 * 3", {}, 7.0),
    ("(1 + 2) * 3", {}, 9.0),
    ("8 / 2 * 4", {}, 16.0),
    ("2 ^ 2 * 3", {}, 12.0),
    ("-x * y", {"x": 2.0, "y": 5.0}, -10.0),
    ("-sin(x)^2", {"x": 1.0}, -(math.sin(1.0) ** 2)),
    ("e^x", {"x": 2.0}, math.pow(math.e, 2.0)),
    ("x^-2", {"x": 2.0}, 0.25),
    ("-x^-2", {"x": 2.0}, -0.25),
])
def test_precedence_and_associativity(source, at, expected):
    assert value(source, **at) == pytest.approx(expected, rel=1e-15)


def test_power_binds_tighter_than_unary_minus_structurally():
    graph = parse("-x^2")
    assert ops_of(graph) == ["var", "const", "pow", "neg"]
    assert graph.inputs[2] == (0, 1) and graph.inputs[3] == (2,)


def test_power_is_right_associative_structurally():
    graph = parse("a^b^c")
    assert ops_of(graph) == ["var", "var", "var", "pow", "pow"]
    assert graph.inputs[3] == (1, 2)  # b^c first
    assert graph.inputs[4] == (0, 3)  # then a^(b^c)


def test_star_star_and_caret_build_the_same_graph():
    a, b = parse("x**y**2"), parse("x^y^2")
    assert ops_of(a) == ops_of(b)
    assert a.inputs == b.inputs


def test_subtraction_is_left_associative_structurally():
    graph = parse("a - b - c")
    assert ops_of(graph) == ["var", "var", "sub", "var", "sub"]
    assert graph.inputs[2] == (0, 1) and graph.inputs[4] == (2, 3)  # (a - b) - c


def test_whitespace_is_insignificant():
    assert value(" 1 +\t2 *  3 ") == 7.0
    assert value("1+2*3") == 7.0


# ----------------------------------------------------------------- programs


def test_semicolons_and_newlines_separate_statements():
    assert value("a = 2; b = 3; a * b") == 6.0
    assert value("a = 2\nb = 3\na * b") == 6.0
    assert value("a = 2\r\nb = 3\r\na * b") == 6.0
    assert value("a = 2;\n\n;b = 3;;\na * b\n") == 6.0


def test_rebinding_the_later_binding_wins():
    assert value("a = 1; b = a; a = 10; a + b") == 11.0
    ev = evaluate(parse("a = x; a = a * 2; a + 1"), {"x": 3.0})
    assert ev.value == 7.0
    assert ev.gradient == {"x": 2.0}


def test_rebinding_an_input_keeps_the_gradient_wrt_the_input():
    ev = evaluate(parse("x = x + 1; x * x"), {"x": 2.0})
    assert ev.value == 9.0
    assert ev.gradient == {"x": 6.0}  # d/dx (x + 1)^2 at x = 2


def test_rebinding_an_input_twice():
    ev = evaluate(parse("x = 2*x\nx = x^2\nx"), {"x": 3.0})
    assert ev.value == 36.0
    assert ev.gradient == {"x": 24.0}  # d/dx (2x)^2 = 8x


def test_assigning_e_and_pi_in_a_program():
    ev = evaluate(parse("e = c - d; e * 2"), {"c": 5.0, "d": 1.0})
    assert ev.value == 8.0
    assert ev.gradient == {"c": 2.0, "d": -2.0}
    assert value("pi = 3; pi") == 3.0
    # Before the assignment, e is the constant.
    assert value("y = e; e = 2; y + e") == math.e + 2.0


def test_comments():
    assert value("1 + 2 # a comment") == 3.0
    assert value("# only a comment line\nx = 4 # set x\n# another\nx / 2  # half") == 2.0
    assert value("a = 3 # ; b = 100\na") == 3.0  # a ';' inside a comment is part of the comment


def test_line_continuation():
    assert value("1 + \\\n 2") == 3.0


def test_value_is_the_last_statement():
    assert value("1; 2; 3") == 3.0
    assert value("a = 5\na\n7") == 7.0


def test_last_statement_an_assignment_is_the_value_of_that_name():
    ev = evaluate(parse("y = x * 2"), {"x": 3.0})
    assert ev.value == 6.0 and ev.gradient == {"x": 2.0}
    assert value("a = 1; b = a + 1;") == 2.0
    graph = parse("z = x + 1")
    assert graph.labels[graph.output] == "z"


def test_unused_statements_are_dropped_and_reported():
    warnings: list[str] = []
    graph = parse("a = x * 2\nunused = sin(x)\n3\na + 1", warnings=warnings)
    assert ops_of(graph) == ["var", "const", "mul", "const", "add"]
    assert warnings == [
        "line 3: the value of this statement is not used (the value of a program is its last statement)",
        "line 2: 'unused' is assigned but its value is never used",
    ]


def test_statement_labels():
    graph = parse("z = t0 + t1*x1; p = sigmoid(z); -log(p)")
    labels = {graph.labels[i]: graph.ops[i].name for i in range(len(graph)) if graph.labels[i]}
    assert labels == {"t0": "var", "t1": "var", "x1": "var", "z": "add", "p": "sigmoid"}


@pytest.mark.parametrize("source", ["", "   ", "\n\n", ";", ";;\n;", "# just a comment", "# a\n# b\n"])
def test_empty_programs_are_input_errors(source):
    with pytest.raises(InputError):
        parse(source)


# ------------------------------------------------------- implicit multiplication


@pytest.mark.parametrize("source, suggestion", [
    ("2x", "2*x"), ("3 y", "3*y"), ("2.5x", "2.5*x"), ("1e-3x", "1e-3*x"), (".5x", ".5*x"),
    ("x y", "x*y"),
])
def test_implicit_multiplication_suggests_the_star(source, suggestion):
    with pytest.raises(InputError) as info:
        parse(source)
    assert info.value.hint.splitlines()[-1] == f"there is no implicit multiplication: write {suggestion}"


def test_function_without_parentheses_suggests_them():
    with pytest.raises(InputError) as info:
        parse("sin x")
    assert info.value.hint.splitlines()[-1] == "to call a function use parentheses: write sin(x)"


# ------------------------------------------------- grammar aliases <-> builder

GRAMMAR = (ROOT / "grammar" / "adiff.lark").read_text(encoding="utf-8")


def _grammar_rules():
    parser = lark.Lark(GRAMMAR, parser="lalr")
    aliases = {r.alias for r in parser.rules if r.alias}
    origins = {r.origin.name for r in parser.rules}
    origins = {o.value if hasattr(o, "value") else str(o) for o in origins}
    return aliases, origins


def test_grammar_is_loaded_from_the_checkout_copy():
    assert grammar_text() == GRAMMAR


def test_every_alias_has_a_builder_method():
    aliases, _ = _grammar_rules()
    assert aliases, "the grammar has no aliases"
    missing = sorted(a for a in aliases if not callable(getattr(_Builder, a, None)))
    assert not missing, missing


def test_every_builder_method_is_a_grammar_alias_or_rule():
    aliases, origins = _grammar_rules()
    methods = {name for name, v in vars(_Builder).items() if callable(v) and not name.startswith("_")}
    methods -= {"begin"}  # resets the builder; not a grammar callback
    assert methods <= aliases | origins, sorted(methods - aliases - origins)


def test_operator_aliases_are_ops():
    aliases, _ = _grammar_rules()
    operators = {name for name, op in OPS.items() if op.kind in ("infix", "prefix")}
    assert operators <= aliases, operators - aliases
    structural = {"number", "name", "call", "paren", "assign", "pos", "outputs"}
    for alias in aliases - structural:
        assert alias in OPS, f"alias -> {alias} is neither structural nor an op"


def test_grammar_aliases_are_written_in_the_grammar_text():
    # The '-> name' spellings in the file are the ones Lark sees (no hidden renames).
    written = set(re.findall(r"->\s*(\w+)", GRAMMAR))
    aliases, _ = _grammar_rules()
    assert written == aliases



# ------------------------------------------------------------ big inputs


def test_100000_nested_parentheses():
    depth = 100_000
    graph = parse("(" * depth + "x" + ")" * depth)
    assert ops_of(graph) == ["var"]
    assert evaluate(graph, {"x": 2.0}).gradient == {"x": 1.0}


def test_10000_nested_function_calls():
    depth = 10_000
    graph = parse("sin(" * depth + "x" + ")" * depth)
    assert len(graph) == depth + 1
    ev = evaluate(graph, {"x": 0.5})
    x, d = 0.5, 1.0
    for _ in range(depth):
        d *= math.cos(x)
        x = math.sin(x)
    assert ev.value == x
    assert ev.gradient["x"] == pytest.approx(d, rel=1e-12)


def test_100000_unary_minuses():
    graph = parse("-" * 100_001 + "x")
    assert len(graph) == 100_002
    ev = evaluate(graph, {"x": 2.0})
    assert ev.value == -2.0 and ev.gradient == {"x": -1.0}


def _random_sum(target_chars: int, seed: int) -> tuple[str, dict, dict]:
    """A long sum of c*x_k terms, with its exact gradient."""
    rng = random.Random(seed)
    parts, grad, size = [], {}, 0
    while size < target_chars:
        k, c = rng.randrange(100), rng.randrange(1, 1000)
        parts.append(f"{c}*x{k}")
        grad[f"x{k}"] = grad.get(f"x{k}", 0) + c
        size += len(parts[-1]) + 3
    return " + ".join(parts), {name: 1.0 for name in grad}, grad


def test_a_200_kb_formula():
    source, at, grad = _random_sum(200_000, seed=1)
    start = time.perf_counter()
    ev = evaluate(parse(source), at)
    assert time.perf_counter() - start < 30
    assert ev.gradient == {k: float(v) for k, v in grad.items()}


@pytest.mark.slow
def test_a_1_mb_formula():
    source, at, grad = _random_sum(1_000_000, seed=2)
    assert len(source) >= 1_000_000
    ev = evaluate(parse(source), at)
    assert ev.gradient == {k: float(v) for k, v in grad.items()}
    assert ev.value == float(sum(grad.values()))


@pytest.mark.slow
def test_a_1_mb_formula_through_the_cli(run):
    source, _, grad = _random_sum(1_000_000, seed=3)
    at = ",".join(f"{k}=1" for k in grad)
    result = run("grad", source, "--at", at, "--format", "plain", "--no-check")
    assert result.code == 0, result.stderr
    lines = dict(line.split("\t") for line in result.stdout.splitlines())
    assert float(lines["value"]) == float(sum(grad.values()))
    assert all(float(lines[k]) == v for k, v in grad.items())
