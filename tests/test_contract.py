"""The contract under hostile input: exact exit codes, never a traceback; a lean JSON start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff_cli import AdiffError, parse

from .conftest import invoke

DEEP = 10_000

HOSTILE = [
    # (id, arguments after "grad", stdin or None, exit code)
    ("empty", [""], None, 2),
    ("blank", ["   \n\t"], None, 2),
    ("open paren", ["("], None, 2),
    ("close paren", [")"], None, 2),
    ("dangling plus", ["x +"], None, 2),
    ("dangling power", ["x^", "--at", "x=1"], None, 2),
    ("empty call", ["sin()"], None, 2),
    ("div by zero", ["1/0"], None, 3),
    ("log of negative", ["log(-1)"], None, 3),
    ("zero to negative power", ["0^-1"], None, 3),
    ("complex root", ["(-8)^(1/3)"], None, 3),
    ("tower overflow", ["9^9^9"], None, 3),
    ("nested exp overflow", ["exp(exp(exp(10)))"], None, 3),
    ("trailing assignment", ["x=1;"], None, 0),
    ("only separators", [";;;"], None, 2),
    ("only a comment", ["# nothing"], None, 2),
    ("unbound unicode", ["θ"], None, 2),
    ("bound unicode", ["θ", "--at", "θ=1"], None, 0),
    ("NUL", ["a\x00b"], None, 2),
    ("only NUL", ["\x00"], None, 2),
    ("bell", ["x\x07+1", "--at", "x=1"], None, 2),
    ("escape sequence", ["\x1b[31mx", "--at", "x=1"], None, 2),
    ("vertical tab", ["x\x0b+1", "--at", "x=1"], None, 2),
    ("bidi override", ["x\u202e+1", "--at", "x=1"], None, 2),
    ("BOM in EXPR", ["\ufeffx", "--at", "x=1"], None, 2),
    ("python import", ["__import__('os').system('id')"], None, 2),
    ("dunder class", ["().__class__"], None, 2),
    ("attribute", ["x.real", "--at", "x=1"], None, 2),
    ("lambda", ["lambda: 1"], None, 2),
    ("string literal", ["'abc'"], None, 2),
    ("subscript", ["x[0]", "--at", "x=1"], None, 2),
    ("format string", ["{x}", "--at", "x=1"], None, 2),
    ("rich markup", ["[bold]x[/bold]", "--at", "x=1"], None, 2),
    ("deep nest", ["(" * DEEP + "x" + ")" * DEEP, "--at", "x=1"], None, 0),
    ("deep unclosed", ["(" * DEEP + "x", "--at", "x=1"], None, 2),
    ("deep unary", ["-" * DEEP + "x", "--at", "x=1"], None, 0),
    ("deep calls", ["sin(" * DEEP + "x" + ")" * DEEP, "--at", "x=1"], None, 0),
    ("huge literal", ["9" * 5000], None, 2),
    ("out of range literal", ["1e999"], None, 2),
    ("long name", ["a" * 100_000], None, 2),
    ("circular names", ["x = y; y = x; x"], None, 2),
    ("rebinding pi", ["pi = pi + 1; pi"], None, 0),
    ("function as variable", ["sin + 1"], None, 2),
    ("unknown function", ["system(1)"], None, 2),
    ("wrong arity", ["atan2(1)"], None, 2),
    ("max of one", ["max(x)", "--at", "x=1"], None, 0),
    ("min of one", ["min(x)", "--at", "x=1"], None, 0),
    ("bound twice", ["x", "--at", "x=1", "--at", "x=2"], None, 2),
    ("empty value", ["x", "--at", "x="], None, 2),
    ("no equals", ["x", "--at", "x"], None, 2),
    ("only separators in --at", ["x", "--at", "=,=,="], None, 2),
    ("nan value", ["x", "--at", "x=nan"], None, 2),
    ("inf value", ["x", "--at", "x=-inf"], None, 2),
    ("overflowing value", ["x", "--at", "x=1e999"], None, 2),
    ("underscore digits", ["x", "--at", "x=1_000"], None, 2),
    ("arabic digits", ["x", "--at", "x=١"], None, 2),
    ("binding a constant", ["x", "--at", "e=1"], None, 2),
    ("binding a function", ["x", "--at", "exp=1"], None, 2),
    ("over max size", ["x + 1", "--at", "x=1", "--max-size", "3"], None, 2),
    ("bad max size", ["x", "--max-size", "0"], None, 2),
    ("bad nodes", ["x", "--at", "x=1", "--nodes", "-5"], None, 2),
    ("bad wrt", ["x", "--at", "x=1", "--wrt", "q"], None, 2),
    ("bad format", ["x", "--at", "x=1", "--format", "yaml"], None, 2),
    ("stdin", ["-", "--at", "x=2"], "x^2", 0),
    ("invalid UTF-8 on stdin", ["-", "--at", "x=1"], b"x + \xff\xfe", 2),
    ("empty stdin", ["-"], "", 2),
    ("NUL on stdin", ["-"], "x\x00", 2),
    ("missing file", ["-f", "/nonexistent/formula.adiff"], None, 2),
    ("directory as file", ["-f", "/"], None, 2),
    ("gradient not finite", ["sqrt(x)", "--at", "x=0"], None, 3),
    ("value not finite", ["x*1e308*10", "--at", "x=1"], None, 3),
]


@pytest.mark.parametrize("args, stdin, code", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_input(args, stdin, code, run):
    result = run("grad", *args, input=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.code == code, result
    if code in (2, 3):
        assert result.stdout == ""
        assert "Error: " in result.stderr
        assert "internal error" not in result.stderr


def test_invalid_utf8_on_stdin_message(run):
    result = run("grad", "-", "--at", "x=1", input=b"x + \xff\xfe")
    assert result.stderr == "Error: standard input is not valid UTF-8 (byte 0xff at offset 4)\n"


def test_over_max_size_message(run):
    result = run("grad", "x + 1", "--at", "x=1", "--max-size", "3")
    assert result.stderr == ("Error: the formula is 5 characters long, over the limit of 3\n"
                             "raise the limit with --max-size\n")


def test_hostile_file_contents(run, tmp_path):
    path = tmp_path / "nul.adiff"
    path.write_bytes(b"x\x00 + 1")
    result = run("grad", "-f", str(path), "--at", "x=1")
    assert result.code == 2
    assert "Traceback" not in result.stderr


@given(text=st.text(max_size=40))
def test_any_text_parses_or_raises_an_input_error(text):
    try:
        parse(text)
    except AdiffError as err:
        assert err.exit_code == 2
        assert err.render().startswith("Error: ")


_ALPHABET = st.sampled_from(list("xy()+-*/^,;=.e0123456789 \n#") + ["sin", "log", "max", "**", "θ"])


@given(text=st.lists(_ALPHABET, max_size=25).map("".join))
def test_formula_like_text_exits_0_2_or_3(text):
    result = invoke("grad", text, "--at", "x=0.5,y=2", "--format", "json")
    assert result.code in (0, 2, 3), result
    if result.code == 0:
        json.loads(result.stdout)


# ------------------------------------------------------------------ start-up


def _imported_modules(args):
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autodiff_cli", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    modules = set()
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s*\d+\s*\|\s*\d+\s*\|\s*(\S+)", line)
        if m:
            modules.add(m.group(1))
    return proc, modules


def test_json_output_does_not_import_rich():
    proc, modules = _imported_modules(["grad", "x", "--at", "x=1", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] == 1.0
    assert "click" in modules and "autodiff_cli.language.parser" in modules  # the measurement works
    rich = sorted(m for m in modules if m == "rich" or m.startswith("rich."))
    assert not rich, rich


def test_plain_output_does_not_import_rich():
    proc, modules = _imported_modules(["grad", "x", "--at", "x=1", "--format", "plain"])
    assert proc.returncode == 0, proc.stderr
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


def test_table_output_does_import_rich():
    # The counterpart, so the two tests above cannot pass by not measuring anything.
    proc, modules = _imported_modules(["grad", "x", "--at", "x=1"])
    assert proc.returncode == 0, proc.stderr
    assert "rich" in modules


def test_json_grad_does_not_import_lark_once_the_tables_are_cached():
    _imported_modules(["grad", "x", "--at", "x=1", "--format", "json"])  # writes the cache
    proc, modules = _imported_modules(["grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert not any(m == "lark" or m.startswith("lark.") for m in modules)


def test_grad_does_not_import_what_it_does_not_use():
    # Each costs start-up time when a module on grad's path imports it at its top:
    # tempfile (with the random and shutil it pulls in) ~3 ms, needed only to write -o,
    # --junit or the cache; dataclasses (with copy) ~1 ms, plus ~0.3 ms per class created.
    _imported_modules(["grad", "x", "--at", "x=1", "--format", "json"])  # writes the cache
    proc, modules = _imported_modules(["grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "autodiff_cli.files" in modules  # the formula's reading goes through it
    unwanted = {"tempfile", "shutil", "random", "dataclasses"} & modules
    assert not unwanted, unwanted
