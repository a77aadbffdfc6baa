"""Hostile input, class by class (issue 5): the exact exit code and message, never a traceback.

Every case goes through the CLI (the ``run`` fixture asserts that no "Traceback" is printed and
that nothing but SystemExit escapes). Sizes: the issue's full sizes (a 1,000,000-character
formula, 100,000 nested parentheses, 100,000 unary minuses, 100,000 statements, 10,000 distinct
variables) run by default when they take a few seconds; the two that take longer (the megabyte
formula and the 100,000-statement program, ~6 s each through CliRunner) are marked slow, and a
1/10 version of the same shape runs by default. ``pytest -m slow tests/test_hostile.py`` runs
them and the linearity checks (CPU time at n/4 and n, tracemalloc's peak at n/16 and n/4).
Measured time and peak memory of the installed ``adiff``: fuzz/README.md.

tests/test_contract.py already runs a list of 72 hostile inputs for their exit codes; here each
input class of the issue gets its message asserted as well. The last section holds the
fuzzer's findings (fuzz/fuzz_parse.py) as regression tests.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import tracemalloc

import pytest

from autodiff_cli import EvalError, InputError, evaluate, parse
from autodiff_cli.language.parser import DEFAULT_MAX_SIZE

from .conftest import ROOT


def plain(run, *args, input=None):
    return run("grad", *args, "--format", "plain", input=input)


def assert_error(result, code: int, stderr: str) -> None:
    assert result.code == code, result
    assert result.stdout == ""
    assert result.stderr == stderr
    assert "internal error" not in result.stderr


# ================================================================== sizes

UNIT = "x*1.5 + "  # 8 characters: one mul, one add, one literal


def long_formula(chars: int) -> tuple[str, float, float]:
    """A formula of exactly ``chars`` characters, and its value and gradient at x = 2."""
    terms = (chars - 1) // len(UNIT)
    source = UNIT * terms + "x"
    source += " " * (chars - len(source))
    return source, 3.0 * terms + 2.0, 1.5 * terms + 1.0


def statements(n: int) -> str:
    """A program of n statements: x = x + 1, n - 1 times, then x."""
    return "x = x + 1\n" * (n - 1) + "x"


def variables(n: int) -> tuple[str, str]:
    """The sum of n distinct variables, and --at binding v_k = k."""
    return " + ".join(f"v{k}" for k in range(n)), ",".join(f"v{k}={k}" for k in range(n))


@pytest.mark.parametrize("chars", [
    100_000,
    pytest.param(1_000_000, marks=pytest.mark.slow),
])
def test_long_formula(chars, run):
    source, value, grad = long_formula(chars)
    assert len(source) == chars
    result = plain(run, source, "--at", "x=2")
    assert result.code == 0, result
    assert result.stdout == f"value\t{value!r}\nx\t{grad!r}\n"
    assert result.stderr == ""


@pytest.mark.parametrize("depth", [100_000])
def test_nested_parentheses(depth, run):
    result = plain(run, "(" * depth + "x" + ")" * depth, "--at", "x=1.5")
    assert result.code == 0, result
    assert result.stdout == "value\t1.5\nx\t1.0\n"


def test_100000_unclosed_parentheses(run):
    result = plain(run, "(" * 100_000 + "x", "--at", "x=1")
    assert_error(result, 2, "Error: syntax error at line 1, column 100002: unexpected end of input\n"
                            "  ..." + "(" * 23 + "x\n" + " " * 29 + "^\nexpected: ')'\n")


@pytest.mark.parametrize("count, sign", [(100_000, 1.0), (10_001, -1.0)])
def test_unary_minuses(count, sign, run):
    result = plain(run, "-" * count + "x", "--at", "x=1.5")
    assert result.code == 0, result
    assert result.stdout == f"value\t{sign * 1.5!r}\nx\t{sign!r}\n"


@pytest.mark.parametrize("n", [
    10_000,
    pytest.param(100_000, marks=pytest.mark.slow),
])
def test_program_of_many_statements(n, run):
    # Read from stdin, as a generated program would be piped in.
    result = plain(run, "-", "--at", "x=0.5", input=statements(n))
    assert result.code == 0, result
    assert result.stdout == f"value\t{n - 1 + 0.5!r}\nx\t1.0\n"
    assert result.stderr == ""


def test_10000_distinct_variables(run):
    n = 10_000
    source, at = variables(n)
    result = run("grad", source, "--at", at, "--format", "json", "--nodes", "none")
    assert result.code == 0, result
    doc = result.json()
    assert doc["value"] == float(sum(range(n)))
    assert doc["gradient"] == {f"v{k}": 1.0 for k in range(n)}
    assert list(doc["at"]) == [f"v{k}" for k in range(n)]
    # 2 × 10,000 inputs × 19,999 nodes is over the finite-difference budget: said on stderr.
    assert result.stderr == (
        "Warning: finite-difference check skipped: it would cost 399,980,000 node evaluations "
        "(2 × 10,000 inputs × 19,999 nodes), over the budget of 1,000,000; force it with --check, "
        "or use adiff check\n")


def test_over_the_default_size_limit(run):
    result = plain(run, "x" * (DEFAULT_MAX_SIZE + 1))
    assert_error(result, 2, "Error: the formula is 16,000,001 characters long, over the limit of "
                            "16,000,000\nraise the limit with --max-size\n")


# ---------------------------------------------------------------- linearity (slow)

#: shape -> (the input of size n, n at full size)
SHAPES = {
    "formula": (lambda n: (long_formula(n)[0], {"x": 2.0}), 400_000),
    "parentheses": (lambda n: ("(" * n + "x" + ")" * n, {"x": 1.5}), 100_000),
    "minuses": (lambda n: ("-" * n + "x", {"x": 1.5}), 100_000),
    "statements": (lambda n: (statements(n), {"x": 0.5}), 40_000),
    "variables": (lambda n: (variables(n)[0], {f"v{k}": 1.0 for k in range(n)}), 10_000),
}


def _seconds(source: str, at: dict) -> float:
    """CPU seconds of parse + evaluate, best of 2 (the box is shared)."""
    best = math.inf
    for _ in range(2):
        t0 = time.process_time()
        evaluate(parse(source), at)
        best = min(best, time.process_time() - t0)
    return best


def _peak_bytes(source: str, at: dict) -> int:
    """Peak memory traced by tracemalloc during parse + evaluate (deterministic)."""
    tracemalloc.start()
    try:
        evaluate(parse(source), at)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
def test_time_and_memory_grow_linearly(shape):
    """Quadrupling the input costs about 4x, not 16x: the ratios must stay under 7.

    CPU time at n/4 and n; peak memory (tracemalloc, which slows Python ~8x) at n/16 and n/4.
    """
    make, n = SHAPES[shape]
    t_small, t_full = _seconds(*make(n // 4)), _seconds(*make(n))
    m_small, m_full = _peak_bytes(*make(n // 16)), _peak_bytes(*make(n // 4))
    assert m_full / m_small < 7.0, (m_small, m_full)
    assert t_full / max(t_small, 1e-3) < 7.0, (t_small, t_full)


# ================================================================== numbers


@pytest.mark.parametrize("formula, stdout", [
    ("1e-999999", "value\t0.0\n"),  # underflows to 0: a defined result
    ("0^0", "value\t1.0\n"),
    ("(-8)^3", "value\t-512.0\n"),  # a negative base with an integer exponent
    ("cbrt(-8)", "value\t-2.0\n"),  # the real cube root (which (-8)^(1/3) is not)
    ("0" * 997 + "123", "value\t123.0\n"),  # 1,000 digits that fit a double
    ("1" + "0" * 300, "value\t1e+300\n"),
])
def test_number_with_a_defined_result(formula, stdout, run):
    result = plain(run, formula)
    assert result.code == 0, result
    assert result.stdout == stdout


POW_DOMAIN = ("it needs a positive base, or a zero base with a non-negative exponent, "
              "or a negative base with an integer exponent")


@pytest.mark.parametrize("args, code, stderr", [
    (["1e999999"], 2,
     "Error: number out of range: 1e999999 is too large for a double-precision float\n"
     "  1e999999\n  ^^^^^^^^\n"),
    (["1" * 1000], 2,
     "Error: number out of range: " + "1" * 40 + "... is too large for a double-precision float\n"
     "  " + "1" * 72 + "...\n  " + "^" * 73 + "\n"),
    (["x + " + "9" * 1000, "--at", "x=1"], 2,
     "Error: number out of range: " + "9" * 40 + "... is too large for a double-precision float\n"
     "  x + " + "9" * 68 + "...\n      " + "^" * 69 + "\n"),
    (["10^10^10"], 3,
     "Error: pow overflows at node n4: the result for 10, 10^10 = 1e+10 is too large for a "
     "double-precision float\n  10^10^10\n  ^^^^^^^^\n"),
    (["exp(1000)"], 3,
     "Error: exp overflows at node n1: the result for 1000 is too large for a double-precision "
     "float\n  exp(1000)\n  ^^^^^^^^^\n"),
    (["0^-1"], 3,
     f"Error: pow is not defined at 0, -1: {POW_DOMAIN} (at node n2)\n  0^-1\n  ^^^^\n"),
    (["(-8)^(1/3)"], 3,
     f"Error: pow is not defined at -8, 1/3 = 0.333333: {POW_DOMAIN} (at node n4)\n"
     "  (-8)^(1/3)\n  ^^^^^^^^^^\n"),
    (["x^y", "--at", "x=-2,y=0.5"], 3,
     f"Error: pow is not defined at x = -2, y = 0.5: {POW_DOMAIN} (at node n2)\n  x^y\n  ^^^\n"),
    # x^y at a negative x and an integer y has a value, but no derivative in y (x^y is not
    # defined for y near 3): the gradient is reported as not finite.
    (["x^y", "--at", "x=-2,y=3"], 3,
     "Error: the gradient is not finite at node n2 (pow): the local gradient of pow with respect "
     "to input 2 is not finite at x = -2, y = 3\n  x^y\n  ^^^\nnot finite: df/dy = nan\n"),
])
def test_number_with_a_clear_error(args, code, stderr, run):
    assert_error(plain(run, *args), code, stderr)


def test_negative_base_with_an_integer_exponent_has_a_gradient_in_the_base(run):
    result = plain(run, "x^3", "--at", "x=-2")
    assert result.code == 0, result
    assert result.stdout == "value\t-8.0\nx\t12.0\n"


def test_negative_base_gradient_in_the_base_only(run):
    # d(x^y)/dx = y·x^(y-1) = 12 exists at x = -2, y = 3; only d/dy does not. Asking for the
    # gradient with respect to x alone must give it, not fail on the partial nobody asked for.
    result = plain(run, "x^y", "--at", "x=-2,y=3", "--wrt", "x")
    assert result.code == 0, result
    assert result.stdout == "value\t-8.0\nx\t12.0\n"


def test_numbers_never_escape_as_python_errors():
    # The library raises only adiff's own errors for the same inputs.
    for source in ["10^10^10", "exp(1000)", "0^-1", "(-8)^(1/3)", "9^9^9^9", "exp(exp(exp(9)))"]:
        with pytest.raises(EvalError):
            evaluate(parse(source), {})
    for source in ["1e999999", "1" * 1000, "-1e400"]:
        with pytest.raises(InputError):
            parse(source)


# ================================================================== text


@pytest.mark.parametrize("formula, stderr", [
    ("", "Error: the formula is empty\n"),
    (" \t\n\r\n  \f", "Error: the formula is empty\n"),
    ("# only a comment", "Error: the formula has no statements (only comments or separators)\n"),
    ("# one\n;\n   # two\n;;", "Error: the formula has no statements (only comments or separators)\n"),
])
def test_nothing_to_evaluate(formula, stderr, run):
    assert_error(plain(run, formula), 2, stderr)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x0b", "\x1b", "\x7f", "\x85", "\u200f",
                                  "\u202e", "\u2066", "\ufeff"])
def test_control_and_format_characters(char, run):
    result = plain(run, f"x{char}+1", "--at", "x=1")
    assert_error(result, 2, f"Error: syntax error at line 1, column 2: unexpected character "
                            f"U+{ord(char):04X}\n  x\N{REPLACEMENT CHARACTER}+1\n   ^\n")


def test_form_feed_is_whitespace(run):
    result = plain(run, "x\f+1", "--at", "x=1")
    assert result.code == 0, result
    assert result.stdout == "value\t2.0\nx\t1.0\n"


@pytest.mark.parametrize("where", ["expr", "stdin", "file"])
def test_nul_bytes(where, run, tmp_path):
    text = "x\x00 + 1"
    if where == "expr":
        result = plain(run, text, "--at", "x=1")
    elif where == "stdin":
        result = plain(run, "-", "--at", "x=1", input=text.encode())
    else:
        path = tmp_path / "nul.adiff"
        path.write_bytes(text.encode())
        result = plain(run, "-f", str(path), "--at", "x=1")
    assert_error(result, 2, "Error: syntax error at line 1, column 2: unexpected character U+0000\n"
                            "  x\N{REPLACEMENT CHARACTER} + 1\n   ^\n")


@pytest.mark.parametrize("data, byte, offset", [
    (b"x + \xff\xfe", 0xFF, 4),  # not UTF-8 at all
    (b"x + \xce", 0xCE, 4),  # a truncated two-byte sequence
    (b"\xc0\xaf", 0xC0, 0),  # an overlong encoding of '/'
    (b"x + \xed\xa0\x80", 0xED, 4),  # an encoded surrogate
    (b"\xff\xfex\x00", 0xFF, 0),  # UTF-16 with its byte-order mark
])
def test_invalid_utf8_on_stdin(data, byte, offset, run):
    result = plain(run, "-", "--at", "x=1", input=data)
    assert_error(result, 2, f"Error: standard input is not valid UTF-8 (byte 0x{byte:02x} at "
                            f"offset {offset})\n")


def test_invalid_utf8_in_a_file_names_the_file(run, tmp_path):
    path = tmp_path / "latin1.adiff"
    path.write_bytes("θ = 1; θ*café".encode()[:-2] + "é".encode("latin-1"))  # café in Latin-1
    assert_error(plain(run, "-f", str(path)), 2,
                 f"Error: {path} is not valid UTF-8 (byte 0xe9 at offset 14)\n")


def test_utf8_byte_order_mark_is_skipped(run):
    result = plain(run, "-", "--at", "x=2", input=b"\xef\xbb\xbfx^2")
    assert result.code == 0, result
    assert result.stdout == "value\t4.0\nx\t4.0\n"


@pytest.mark.parametrize("name", ["אב", "اب", "שלום"])
def test_right_to_left_names(name, run):
    result = plain(run, f"{name} * 2 + 1", "--at", f"{name}=3")
    assert result.code == 0, result
    assert result.stdout == f"value\t7.0\n{name}\t2.0\n"


def test_combining_characters_name_one_variable(run):
    # "é" typed as e + U+0301 and as U+00E9 is one name (NFC), in the formula and in --at.
    result = plain(run, "e\u0301 * \u00e9", "--at", "\u00e9=3")
    assert result.code == 0, result
    assert result.stdout == "value\t9.0\n\u00e9\t6.0\n"
    result = plain(run, "\u00e9 + 1", "--at", "e\u0301=3")
    assert result.code == 0, result
    assert result.stdout == "value\t4.0\n\u00e9\t1.0\n"


@pytest.mark.parametrize("name", [
    "x\u0302",  # x-hat: x + a combining circumflex, which has no precomposed form
    "नमस्ते",  # Devanagari: the virama and vowel signs are combining marks (Mn, Mc)
    "שָׁלוֹם",  # Hebrew with vowel points (Mn)
])
def test_names_with_combining_marks(name, run):
    # Unicode words include their combining marks (Python identifiers do too:
    # name.isidentifier() is True for each); a name is not cut at its first mark.
    assert name.isidentifier()
    result = plain(run, f"{name} * 2 + 1", "--at", f"{name}=3")
    assert result.code == 0, result
    assert result.stdout == f"value\t7.0\n{name}\t2.0\n"


def test_100000_character_name(run):
    name = "a" * 100_000
    result = plain(run, f"{name} * 2", "--at", f"{name}=3")
    assert result.code == 0, result
    assert result.stdout == f"value\t6.0\n{name}\t2.0\n"


def test_100000_character_name_unbound_gives_a_short_message(run):
    # The message names the variable, but a 100,000-character name must not make a
    # 200,000-character error message: it is cut, like long tokens and literals are.
    result = plain(run, "a" * 100_000)
    assert result.code == 2, result
    assert result.stderr.startswith("Error: no value for the variable aaaaaaaaaa")
    assert len(result.stderr) < 1000, len(result.stderr)


@pytest.mark.parametrize("formula, stderr", [
    ("__import__('os').system('id')",
     "Error: syntax error at line 1, column 12: unexpected character \"'\"\n"
     "  __import__('os').system('id')\n             ^\n"),
    ("().__class__",
     "Error: syntax error at line 1, column 2: unexpected ')'\n  ().__class__\n   ^\n"
     "expected: '(', '+', '-', a name, a number\nthis ')' has no matching '('\n"),
    ("x.__class__", "Error: syntax error at line 1, column 2: unexpected character '.'\n"
                    "  x.__class__\n   ^\n"),
    ("eval(1)", "Error: unknown function 'eval'\n  eval(1)\n  ^^^^\n"
                "see `adiff --help` for the functions\n"),
    ("exec(x)", "Error: unknown function 'exec'\n  exec(x)\n  ^^^^\n"
                "see `adiff --help` for the functions\n"),
    ("open(x)", "Error: unknown function 'open'\n  open(x)\n  ^^^^\n"
                "see `adiff --help` for the functions\n"),
    ("lambda: 0", "Error: syntax error at line 1, column 7: unexpected character ':'\n"
                  "  lambda: 0\n        ^\n"),
])
def test_python_code_is_not_evaluated(formula, stderr, run):
    assert_error(plain(run, formula), 2, stderr)


@pytest.mark.parametrize("formula, stderr", [
    ("$(id)", "Error: syntax error at line 1, column 1: unexpected character '$'\n  $(id)\n  ^\n"),
    ("`id`", "Error: syntax error at line 1, column 1: unexpected character '`'\n  `id`\n  ^\n"),
    ("x | cat", "Error: syntax error at line 1, column 3: unexpected character '|'\n  x | cat\n    ^\n"),
    ("x && y", "Error: syntax error at line 1, column 3: unexpected character '&'\n  x && y\n    ^\n"),
    ("x > /tmp/f", "Error: syntax error at line 1, column 3: unexpected character '>'\n"
                   "  x > /tmp/f\n    ^\n"),
    ("x; rm -rf /", "Error: syntax error at line 1, column 12: unexpected end of input\n"
                    "  x; rm -rf /\n             ^\nexpected: '(', '+', '-', a name, a number\n"),
])
def test_shell_metacharacters(formula, stderr, run):
    assert_error(plain(run, formula), 2, stderr)


def test_code_and_shell_text_run_nothing(tmp_path):
    """Through the installed entry point: text that would create a file in Python or a shell doesn't."""
    marker = tmp_path / "pwned"
    formulas = [f"__import__('os').system('touch {marker}')",
                f"x; touch {marker}",  # valid adiff: x, then touch/<path> divided
                f"$(touch {marker})", f"`touch {marker}`", f"x && touch {marker}"]
    env = {**os.environ, "NO_COLOR": "1"}
    for formula in formulas:
        proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "grad", formula, "--at", "x=1"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2, (formula, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith(("Error: ", "Warning: ")), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not marker.exists(), formula
    assert list(tmp_path.iterdir()) == []


def test_shell_text_that_happens_to_parse(run):
    # "touch /tmp/pwned" is the quotient touch/tmp/pwned of three unbound variables.
    result = plain(run, "x; touch /tmp/pwned")
    assert_error(result, 2, "Warning: line 1: the value of this statement is not used (the value "
                            "of a program is its last statement)\n"
                            "Error: no value for the variables touch, tmp, pwned\n"
                            "  x; touch /tmp/pwned\n     ^^^^^\nbind it with --at touch=...\n")


# ================================================================== bindings


@pytest.mark.parametrize("binding, stderr", [
    ("x=nan", "Error: --at x=nan: values must be finite numbers\n"),
    ("x=NaN", "Error: --at x=NaN: values must be finite numbers\n"),
    ("x=inf", "Error: --at x=inf: values must be finite numbers\n"),
    ("x=-inf", "Error: --at x=-inf: values must be finite numbers\n"),
    ("x=+Infinity", "Error: --at x=+Infinity: values must be finite numbers\n"),
    ("x=1e999", "Error: --at x=1e999: 1e999 is too large for a double-precision float\n"),
    ("x=1,x=2", "Error: --at: x is bound twice\n"),
])
def test_bad_binding(binding, stderr, run):
    assert_error(plain(run, "x", "--at", binding), 2, stderr)


def test_duplicate_binding_across_options(run):
    assert_error(plain(run, "x", "--at", "x=1", "--at", "x=1"), 2, "Error: --at: x is bound twice\n")


def test_unknown_name_is_a_warning(run):
    result = plain(run, "x", "--at", "x=1,y=2")
    assert result.code == 0, result
    assert result.stdout == "value\t1.0\nx\t1.0\n"
    assert result.stderr == "Warning: --at binds y, which the formula does not use\n"


def test_unknown_name_instead_of_the_right_one(run):
    result = plain(run, "theta * 2", "--at", "thetta=1")
    assert_error(result, 2, "Warning: --at binds thetta, which the formula does not use\n"
                            "Error: no value for the variable theta\n  theta * 2\n  ^^^^^\n"
                            "--at binds 'thetta': did you mean theta?\n")


def test_10000_unused_bindings(run):
    at = ",".join(f"v{k}={k}" for k in range(10_000))
    result = plain(run, "x", "--at", at + ",x=1")
    assert result.code == 0, result
    assert result.stdout == "value\t1.0\nx\t1.0\n"
    assert result.stderr == ("Warning: --at binds v0, v1, v2, v3, v4, v5, v6, v7, v8, v9 and 9,990 "
                             "more, which the formula does not use\n")


def test_10000_bindings_as_separate_options(run):
    source, _ = variables(10_000)
    args = []
    for k in range(10_000):
        args += ["--at", f"v{k}=2"]
    result = run("grad", source, *args, "--format", "json", "--nodes", "none", "--no-check")
    assert result.code == 0, result
    doc = result.json()
    assert doc["value"] == 20_000.0
    assert set(doc["gradient"].values()) == {1.0} and len(doc["gradient"]) == 10_000


# ================================================================== files


def test_missing_file(run, tmp_path):
    path = tmp_path / "nope.adiff"
    assert_error(plain(run, "-f", str(path)), 2, f"Error: cannot read {path}: no such file\n")


def test_directory_as_file(run, tmp_path):
    assert_error(plain(run, "-f", str(tmp_path)), 2, f"Error: cannot read {tmp_path}: it is a directory\n")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod 000 does not stop root from reading; "
                           "see test_unreadable_path_even_for_root")
def test_unreadable_file(run, tmp_path):
    path = tmp_path / "secret.adiff"
    path.write_text("x")
    path.chmod(0)
    assert_error(plain(run, "-f", str(path)), 2, f"Error: cannot read {path}: permission denied\n")


def test_unreadable_path_even_for_root(run, tmp_path):
    # Paths nobody can open, root included: a file used as a directory, a name too long.
    afile = tmp_path / "formula.adiff"
    afile.write_text("x")
    path = f"{afile}/x"
    assert_error(plain(run, "-f", path), 2, f"Error: cannot read {path}: Not a directory\n")
    path = str(tmp_path / ("a" * 300))
    assert_error(plain(run, "-f", path), 2, f"Error: cannot read {path}: File name too long\n")


def test_nul_byte_in_the_path(run):
    # Not reachable from a shell (argv cannot hold NUL), but the Python entry point can: still
    # bad input (exit 2) naming the path, not an internal error.
    result = plain(run, "-f", "a\x00b")
    assert result.code == 2, result
    assert result.stderr == "Error: cannot read 'a\\x00b': not a valid path\n"


def test_empty_file(run, tmp_path):
    path = tmp_path / "empty.adiff"
    path.write_bytes(b"")
    assert_error(plain(run, "-f", str(path)), 2, "Error: the formula is empty\n")


# ================================================================== fuzz findings
# Each input the fuzzer (fuzz/fuzz_parse.py) reported, as a regression test.

#: Fuzz finding 1 (run 1, after 111,428 executions): the printer's program for this input
#: evaluates to the same value but a gradient 1 ulp away (-2.5188001974218244 vs
#: -2.518800197421825). The assignment v = ... is used once, so the printer inlines it where
#: it is used; the reparsed graph is the same graph with its nodes in another order, and the
#: contributions to df/dx are summed in another order. The fuzz target had demanded equal
#: bits; the property is: the same value exactly, the same gradient to rounding.
FUZZ_ROUND_TRIP = (
    "# Aatan2 toudiff --at cb?tx=0.6,y=2,θ1=0.2\x00t                 # rebinding: from here on "
    "x meaZs x + ]\nv = max(x, yrelu25) + logsumexp(x, y) \\\n    + atan2(y, x)             # a "
    "trailing backse linesqrtcosh(x) + acot(x) + acvth(x) + acsc(x) + acsch(x) + asec(x) + "
    "asech(x) + asin(x) + asinh(x) + atan(x) + atan3(x, 0.5) + atanh(x) + cbrt(x) + cos(x) + "
    "cosh(x) + cot(x) +\\\n coth(x) + csc(x) + csch(x) + erf(8) + er + t*u + v / pi + eSTAR  "
    "      # the7 last(statement is the value\n")


def test_fuzz_finding_1_printed_program_gives_the_same_numbers():
    from autodiff_cli.language.printer import to_source

    at = {"x": -1.0, "yrelu25": 1e300, "y": -1e-300, "er": 700.0, "t": 0.5, "u": -1.5, "eSTAR": 2.0}
    graph = parse(FUZZ_ROUND_TRIP)
    printed = to_source(graph)
    assert printed == ("coth(x) + csc(x) + csch(x) + erf(8) + er + t*u + (max(x, yrelu25) + "
                       "logsumexp(x, y) + atan2(y, x))/pi + eSTAR")
    ev, ev2 = evaluate(graph, at), evaluate(parse(printed), at)
    assert ev2.value == ev.value
    assert ev2.gradient.keys() == ev.gradient.keys()
    for name, g in ev.gradient.items():
        assert abs(ev2.gradient[name] - g) <= 4 * len(graph) * sys.float_info.epsilon * abs(g), name


def test_fuzz_finding_1_through_the_cli(run):
    # The input as the fuzzer gave it: a NUL inside a comment is fine (comments run to the end
    # of the line), and so are names that merely contain function names (yrelu25, eSTAR).
    at = "x=-1,yrelu25=1e300,y=-1e-300,er=700,t=0.5,u=-1.5,eSTAR=2"
    result = run("grad", "-", "--at", at, "--format", "json", "--nodes", "none", input=FUZZ_ROUND_TRIP)
    assert result.code == 0, result
    # -2.518800197421824 is the correctly rounded truth (mpmath: -2.51880019742182409...);
    # before coth's derivative became -csch(x)^2 it was 1 ulp away, -2.5188001974218244.
    assert result.json()["gradient"]["x"] == -2.518800197421824


def test_the_fuzz_target_replays_its_seeds_and_findings(monkeypatch):
    """fuzz/fuzz_parse.py's TestOneInput on every seed and finding (atheris not needed)."""
    import importlib.util

    monkeypatch.setitem(sys.modules, "atheris", None)  # import it as CI would, without atheris
    spec = importlib.util.spec_from_file_location("fuzz_parse", ROOT / "fuzz" / "fuzz_parse.py")
    target = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(target)
    assert target.atheris is None
    seeds = sorted((ROOT / "fuzz" / "corpus").iterdir())
    assert len(seeds) >= 15
    for path in seeds:
        target.TestOneInput(path.read_bytes())
    for data in [FUZZ_ROUND_TRIP.encode(), b"", b"\xff", b"x\x00", b"1e999999", b"(" * 5000]:
        target.TestOneInput(data)
