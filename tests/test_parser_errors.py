"""Input errors from the formula, exactly as the user sees them on stderr (exit 2).

Every message names what was wrong and shows where: the formula line, then carets under
the offending span, then what was expected or a suggestion.
"""

from __future__ import annotations

import pytest

from autodiff_cli import InputError, parse
from autodiff_cli.errors import caret_block

EXPECTED_START = "expected: '(', '+', '-', a name, a number"
AFTER_OPERAND = "expected: '*', '+', ',', '-', '/', '^', end of input, end of statement"


def stderr_of(run, formula, *at):
    """stderr of ``adiff grad FORMULA --at A ...``, which must fail with exit 2."""
    args = ["grad", formula]
    for spec in at:
        args += ["--at", spec]
    result = run(*args)
    assert result.code == 2, result
    assert result.stdout == ""
    return result.stderr


SYNTAX = [
    # (formula, the exact stderr)
    ("x +",
     "Error: syntax error at line 1, column 4: unexpected end of input\n"
     "  x +\n"
     "     ^\n"
     f"{EXPECTED_START}\n"),
    ("(",
     "Error: syntax error at line 1, column 2: unexpected end of input\n"
     "  (\n"
     "   ^\n"
     f"{EXPECTED_START}\n"),
    ("x*",
     "Error: syntax error at line 1, column 3: unexpected end of input\n"
     "  x*\n"
     "    ^\n"
     f"{EXPECTED_START}\n"),
    ("sin(x",
     "Error: syntax error at line 1, column 6: unexpected end of input\n"
     "  sin(x\n"
     "       ^\n"
     "expected: ')', ','\n"),
    ("2x",
     "Error: syntax error at line 1, column 2: unexpected 'x'\n"
     "  2x\n"
     "   ^\n"
     f"{AFTER_OPERAND}\n"
     "there is no implicit multiplication: write 2*x\n"),
    ("2 3",
     "Error: syntax error at line 1, column 3: unexpected '3'\n"
     "  2 3\n"
     "    ^\n"
     f"{AFTER_OPERAND}\n"
     "there is no implicit multiplication: write 2*3\n"),
    ("sin x",
     "Error: syntax error at line 1, column 5: unexpected 'x'\n"
     "  sin x\n"
     "      ^\n"
     "expected: '(', '*', '+', ',', '-', '/', '=', '^', end of input, end of statement\n"
     "to call a function use parentheses: write sin(x)\n"),
    ("x $ y",
     "Error: syntax error at line 1, column 3: unexpected character '$'\n"
     "  x $ y\n"
     "    ^\n"),
    ("a+b)",
     "Error: syntax error at line 1, column 4: unexpected ')'\n"
     "  a+b)\n"
     "     ^\n"
     "expected: ',', end of input, end of statement\n"
     "this ')' has no matching '('\n"),
    ("x [1]",
     "Error: syntax error at line 1, column 3: unexpected character '['\n"
     "  x [1]\n"
     "    ^\n"
     "group with parentheses ( )\n"),
    ("= 1",
     "Error: syntax error at line 1, column 1: unexpected '='\n"
     "  = 1\n"
     "  ^\n"
     "expected: '(', '+', '-', a name, a number, end of input, end of statement\n"),
    ("x == 1",
     "Error: syntax error at line 1, column 4: unexpected '='\n"
     "  x == 1\n"
     "     ^\n"
     f"{EXPECTED_START}\n"),
    # A later line: the caret block shows that line, and the column counts from its start.
    ("x = 1\ny = 2 +",
     "Error: syntax error at line 2, column 8: unexpected end of input\n"
     "  y = 2 +\n"
     "         ^\n"
     f"{EXPECTED_START}\n"),
    ("x +\ny",
     "Error: syntax error at line 1, column 4: unexpected end of statement (newline)\n"
     "  x +\n"
     "     ^\n"
     f"{EXPECTED_START}\n"
     "a newline ends a statement: end the line with \\ to continue it\n"),
    ("a; b +",
     "Error: syntax error at line 1, column 7: unexpected end of input\n"
     "  a; b +\n"
     "        ^\n"
     f"{EXPECTED_START}\n"),
    # Non-ASCII before the error: columns count characters, not bytes.
    ("θ1 +",
     "Error: syntax error at line 1, column 5: unexpected end of input\n"
     "  θ1 +\n"
     "      ^\n"
     f"{EXPECTED_START}\n"),
]


@pytest.mark.parametrize("formula, expected", SYNTAX, ids=[f for f, _ in SYNTAX])
def test_syntax_error_message(formula, expected, run):
    assert stderr_of(run, formula) == expected


def test_end_of_input_caret_is_after_the_last_character(run):
    # Lark puts $END at the last token; the caret belongs one past the end.
    for formula in ("x +", "x*", "sin(", "(x", "2^"):
        stderr = stderr_of(run, formula)
        lines = stderr.splitlines()
        assert lines[1] == "  " + formula
        assert lines[2] == "  " + " " * len(formula) + "^"
        assert f"column {len(formula) + 1}: unexpected end of input" in lines[0]


def test_control_characters_keep_the_caret_aligned(run):
    stderr = stderr_of(run, "a\x00b")
    assert stderr == ("Error: syntax error at line 1, column 2: unexpected character U+0000\n"
                      "  a\N{REPLACEMENT CHARACTER}b\n"
                      "   ^\n")


def test_tab_before_the_error_keeps_the_caret_aligned(run):
    # A tab is shown as one space so the caret stays under the character.
    assert stderr_of(run, "x\t$") == ("Error: syntax error at line 1, column 3: unexpected character '$'\n"
                                      "  x $\n"
                                      "    ^\n")


def test_expected_tokens_are_words_not_terminal_names(run):
    for formula in ("x +", "sin(x", "2x", "a+b)", "(", "= 1"):
        stderr = stderr_of(run, formula)
        for terminal in ("LPAR", "RPAR", "NAME", "NUMBER", "$END", "_SEP", "MINUS", "PLUS", "COMMA"):
            assert terminal not in stderr, (formula, stderr)


# ---------------------------------------------------------- names and arity


@pytest.mark.parametrize("formula, name, suggestion, start", [
    ("sni(x)", "sni", "sin", 0),
    ("x + lgo(x)", "lgo", "log", 4),
    ("exq(x)", "exq", "exp", 0),
    ("sqr(x)", "sqr", "sqrt", 0),
    ("sigmod(x)", "sigmod", "sigmoid", 0),
    ("logsumexpp(x, 1)", "logsumexpp", "logsumexp", 0),
])
def test_unknown_function_suggests_the_nearest(formula, name, suggestion, start, run):
    assert stderr_of(run, formula, "x=1") == (
        f"Error: unknown function '{name}'\n"
        f"  {formula}\n"
        f"  {' ' * start}{'^' * len(name)}\n"
        f"did you mean {suggestion}?\n")


def test_unknown_function_without_a_near_name(run):
    assert stderr_of(run, "f(x)", "x=1") == (
        "Error: unknown function 'f'\n"
        "  f(x)\n"
        "  ^\n"
        "see `adiff --help` for the functions\n")


def test_function_name_used_as_a_variable(run):
    assert stderr_of(run, "sin + 1") == (
        "Error: sin is a function: call it as sin(...)\n"
        "  sin + 1\n"
        "  ^^^\n")


def test_unbound_variable_suggests_the_bound_name(run):
    assert stderr_of(run, "alpha*beta", "alpha=1,bta=2") == (
        "Warning: --at binds bta, which the formula does not use\n"
        "Error: no value for the variable beta\n"
        "  alpha*beta\n"
        "        ^^^^\n"
        "--at binds 'bta': did you mean beta?\n")


def test_unbound_variable_without_a_near_name(run):
    assert stderr_of(run, "x + y", "x=1") == (
        "Error: no value for the variable y\n"
        "  x + y\n"
        "      ^\n"
        "bind it with --at y=...\n")


def test_several_unbound_variables_are_all_named(run):
    assert stderr_of(run, "x + y") == (
        "Error: no value for the variables x, y\n"
        "  x + y\n"
        "  ^\n"
        "bind it with --at x=...\n")


@pytest.mark.parametrize("formula, message", [
    ("sin(x, x)", "sin takes 1 argument, got 2"),
    ("exp()", "exp takes 1 argument, got 0"),
    ("pow(x)", "pow takes 2 arguments, got 1"),
    ("atan2(x, x, x)", "atan2 takes 2 arguments, got 3"),
    ("hypot(x)", "hypot takes 2 arguments, got 1"),
    ("log(x, 2, 3)", "log takes 1 or 2 arguments, got 3"),
    ("log()", "log takes 1 or 2 arguments, got 0"),
    ("max()", "max takes at least 1 argument, got 0"),
    ("logsumexp()", "logsumexp takes at least 1 argument, got 0"),
])
def test_wrong_arity_names_function_and_arity(formula, message, run):
    assert stderr_of(run, formula, "x=1") == (
        f"Error: {message}\n"
        f"  {formula}\n"
        f"  {'^' * len(formula)}\n")


def test_wrong_arity_inside_a_larger_formula_points_at_the_call(run):
    assert stderr_of(run, "1 + 2*sin(x, x)", "x=1") == (
        "Error: sin takes 1 argument, got 2\n"
        "  1 + 2*sin(x, x)\n"
        "        ^^^^^^^^^\n")


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("formula, start, literal", [
    ("1e999", 0, "1e999"),
    ("-1e999", 1, "1e999"),
    ("2 * 1e999 + x", 4, "1e999"),
    ("1" * 400, 0, "1" * 40 + "..."),
])
def test_number_out_of_range_is_exit_2_with_a_caret(formula, start, literal, run):
    stderr = stderr_of(run, formula, "x=1")
    lines = stderr.splitlines()
    assert lines[0] == (f"Error: number out of range: {literal} is too large for a "
                        "double-precision float")
    if len(formula) < 60:
        assert lines[1:3] == ["  " + formula, "  " + " " * start + "^" * len(literal)]


def test_number_that_underflows_is_zero_not_an_error(run):
    result = run("grad", "1e-999 + x", "--at", "x=1", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == "value\t1.0\nx\t1.0\n"


# ------------------------------------------------------------ the library


def test_input_error_carries_source_span_and_hint():
    with pytest.raises(InputError) as info:
        parse("1 + sni(2)")
    err = info.value
    assert err.exit_code == 2
    assert err.source == "1 + sni(2)"
    assert err.span == (4, 7)
    assert err.hint == "did you mean sin?"
    assert err.render() == ("Error: unknown function 'sni'\n"
                            "  1 + sni(2)\n"
                            "      ^^^\n"
                            "did you mean sin?")


def test_caret_block_on_a_long_line_shows_a_window():
    source = "x + " * 100 + "$"
    lines = caret_block(source, len(source) - 1, len(source))
    assert lines[0].startswith("  ...")
    assert lines[0].endswith("$")
    assert len(lines[0]) <= 2 + 3 + 72 + 3
    assert lines[1].index("^") == lines[0].index("$")


def test_caret_block_on_a_later_line():
    assert caret_block("a\nbb\nccc", 5, 8) == ["  ccc", "  ^^^"]
