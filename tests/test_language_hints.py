"""Hints under syntax errors say what was meant, never repeat what was typed, and stay
fast on huge input. Each case is the whole of stderr, caret line included."""

from __future__ import annotations

import time

import pytest

AFTER_OPERAND = "expected: '*', '+', ',', '-', '/', '^', end of input, end of statement"


def stderr_of(run, formula):
    result = run("grad", formula, "--at", "x=2")
    assert (result.code, result.stdout) == (2, ""), result
    return result.stderr


def unexpected(formula, column, token, hint):
    return (f"Error: syntax error at line 1, column {column}: unexpected {token!r}\n"
            f"  {formula}\n"
            f"  {' ' * (column - 1)}{'^' * len(token)}\n"
            f"{AFTER_OPERAND}\n"
            f"{hint}\n")


CASES = [
    # the four
    ("0x10", 2, "x10", "hexadecimal literals are not supported; write 16"),
    ("1_000", 2, "_000", "digit separators are not supported; write 1000"),
    ("1e", 2, "e", "write 1e3 for an exponent or 1*e for Euler's number"),
    # their neighbours
    ("0xff + 1", 2, "xff", "hexadecimal literals are not supported; write 255"),
    ("0b101", 2, "b101", "binary literals are not supported; write 5"),
    ("0o17", 2, "o17", "octal literals are not supported; write 15"),
    ("0x123456789abcdef", 2, "x123456789abcdef",
     "hexadecimal literals are not supported; write the number in decimal"),
    ("1_000_000.5", 2, "_000_000", "digit separators are not supported; write 1000000.5"),
    ("2.5e-", 4, "e", "write 2.5e-3 for an exponent or 2.5*e for Euler's number"),
    ("1E", 2, "E", "write 1E3 for an exponent or 1*E to multiply by E"),
    ("1.5.2", 4, ".2", "a number has at most one decimal point"),
    ("1e3.5", 4, ".5", "an exponent is a whole number"),
    # implicit multiplication, as before, where that is what it is
    ("2x", 2, "x", "there is no implicit multiplication: write 2*x"),
    ("2 e", 3, "e", "there is no implicit multiplication: write 2*e"),
    ("1e3e", 4, "e", "there is no implicit multiplication: write 1e3*e"),
    ("0 x10", 3, "x10", "there is no implicit multiplication: write 0*x10"),
    ("10x10", 3, "x10", "there is no implicit multiplication: write 10*x10"),
    ("1_x", 2, "_x", "there is no implicit multiplication: write 1*_x"),
    ("0x", 2, "x", "there is no implicit multiplication: write 0*x"),
]


@pytest.mark.parametrize("formula, column, token, hint", CASES, ids=[c[0] for c in CASES])
def test_hint(formula, column, token, hint, run):
    assert stderr_of(run, formula) == unexpected(formula, column, token, hint)


def test_x_squared_does_not_suggest_itself(run):
    # The issue: "x²" was a name, and "--at x=2" then got "did you mean x²?".
    stderr = stderr_of(run, "x²")
    assert "did you mean" not in stderr
    assert stderr.endswith("superscripts are not powers here: write x^2\n")


def test_a_lookalike_function_name_says_which_character_differs(run):
    # 'ѕin' with a Cyrillic DZE prints like 'sin': "did you mean sin?" alone would read as nonsense.
    assert stderr_of(run, "\u0455in(x)") == (
        "Error: unknown function '\u0455in'\n"
        "  \u0455in(x)\n"
        "  ^^^\n"
        "did you mean sin? ('\u0455' in \u0455in is U+0455 CYRILLIC SMALL LETTER DZE, not 's')\n")


def test_a_misspelt_function_name_gets_no_lookalike_note(run):
    assert stderr_of(run, "sni(x)") == ("Error: unknown function 'sni'\n"
                                        "  sni(x)\n"
                                        "  ^^^\n"
                                        "did you mean sin?\n")


def test_a_huge_operand_gives_a_short_hint(run):
    name = "x" * 5000
    stderr = stderr_of(run, f"2{name}")
    assert stderr.endswith(f"there is no implicit multiplication: insert * before '{'x' * 40}...'\n")
    assert len(stderr) < 1000


def test_finding_the_hint_is_not_quadratic():
    # The operand before the error was found by a $-anchored search over the whole prefix:
    # 40,000 characters took 8 s, a megabyte would take hours.
    from autodiff_cli import InputError, parse

    source = "a" * 300_000 + " \\\n 2"
    start = time.process_time()
    with pytest.raises(InputError) as info:
        parse(source)
    assert time.process_time() - start < 10
    assert info.value.message == "syntax error at line 2, column 2: unexpected '2'"


@pytest.mark.parametrize("args", [
    ("grad", "thet\u0430 + 1", "--at", "thet\u0430=1", "--wrt", "theta"),
    ("check", "thet\u0430 + 1", "--at", "thet\u0430=1", "--wrt", "theta"),
])
def test_a_wrt_hint_explains_a_look_alike_name(run, args):
    result = run(*args)
    assert result.code == 2
    assert result.stderr == ("Error: --wrt theta: the formula has no input 'theta'\n"
                             "did you mean thet\u0430? ('a' in theta is U+0061 LATIN SMALL LETTER A, "
                             "not '\u0430')\n")


def test_range_and_expect_hints_explain_a_look_alike_name(run):
    hint = "did you mean thet\u0430? ('a' in theta is U+0061 LATIN SMALL LETTER A, not '\u0430')\n"
    result = run("check", "thet\u0430 + 1", "--samples", "3", "--range", "theta=0:1")
    assert result.code == 2
    assert result.stderr == "Error: --range theta: the formula has no input 'theta'\n" + hint
    result = run("check", "thet\u0430 + 1", "--at", "thet\u0430=1", "--expect", "theta=1")
    assert result.code == 2
    assert result.stderr == "Error: --expect theta: the formula has no input 'theta'\n" + hint
