"""The command line's input side: formulas that look like options, bounded reads of
-f and stdin, control characters in messages, and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT


def plain(run, *args, **kwargs):
    return run(*args, "--format", "plain", **kwargs)


# ---------------------------------------------------------------- formulas that start with --

@pytest.mark.parametrize("formula, stdout", [
    ("--x", "value\t1.0\nx\t1.0\n"),
    ("--(x)", "value\t1.0\nx\t1.0\n"),
    ("--sin(x)", "value\t0.8414709848078965\nx\t0.5403023058681398\n"),
    ("--x*2", "value\t2.0\nx\t2.0\n"),
])
def test_a_formula_may_start_with_two_minuses(run, formula, stdout):
    result = plain(run, "grad", formula, "--at", "x=1")
    assert (result.code, result.stdout, result.stderr) == (0, stdout, "")


def test_two_minuses_before_the_options_and_with_other_commands(run):
    assert plain(run, "grad", "--at", "x=1", "--x").stdout == "value\t1.0\nx\t1.0\n"
    assert plain(run, "grad", "--at=x=1", "--x").stdout == "value\t1.0\nx\t1.0\n"
    assert plain(run, "trace", "--x", "--at", "x=1").code == 0
    result = run("graph", "--theta", "--at", "theta=2", "--format", "json")
    assert result.code == 0 and result.json()["formula"] == "--theta"


def test_an_unknown_option_is_still_an_error_and_says_how_to_pass_such_a_formula(run):
    result = run("grad", "--bogus", "--at", "x=1")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.endswith(
        "Error: No such option '--bogus'. If --bogus is the formula, put it last, after --: "
        "adiff grad [OPTIONS] -- --bogus\n")
    # ... and then it works that way
    result = run("grad", "--at", "bogus=3", "--format", "plain", "--", "--bogus")
    assert (result.code, result.stdout) == (0, "value\t3.0\nbogus\t1.0\n")


def test_an_unknown_option_beside_a_formula_gets_no_formula_hint(run):
    result = run("grad", "--bogus", "x", "--at", "x=1")
    assert result.code == 2
    assert result.stderr.endswith("Error: No such option '--bogus'.\n")
    result = run("grad", "--chek", "x", "--at", "x=1")
    assert result.code == 2
    assert "Did you mean" in result.stderr and "after --" not in result.stderr


def test_an_unbound_double_minus_name_is_an_option_error(run):
    # --x with nothing binding x: an unknown option (perhaps a typo), with the way out.
    result = run("graph", "--x")
    assert result.code == 2
    assert result.stderr.endswith("If --x is the formula, put it last, after --: "
                                  "adiff graph [OPTIONS] -- --x\n")
    assert run("graph", "--", "--x").code == 0


# ---------------------------------------------------------------- bounded reads

def _adiff(args, stdin=None, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "autodiff_cli", *args], cwd=ROOT, stdin=stdin,
                          capture_output=True, timeout=timeout, env=env)


needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")


@needs_dev_zero
@pytest.mark.parametrize("args", [["-f", "/dev/zero"], ["-f", "-"], ["-"]])
def test_an_endless_input_stops_at_the_size_limit(args):
    with open("/dev/zero", "rb") as zero:
        done = _adiff(["grad", *args, "--at", "x=1", "--max-size", "1000"], stdin=zero)
    where = "/dev/zero" if args[-1] == "/dev/zero" else "standard input"
    assert done.returncode == 2
    assert done.stderr.decode() == (f"Error: the formula in {where} is longer than 1,000 "
                                    "characters, the limit\nraise the limit with --max-size\n")


@needs_dev_zero
def test_an_endless_input_stops_at_the_default_limit_too():
    with open("/dev/zero", "rb") as zero:
        done = _adiff(["graph", "-"], stdin=zero, timeout=120)
    assert done.returncode == 2
    assert done.stderr.decode().startswith("Error: the formula in standard input is longer "
                                           "than 16,000,000 characters, the limit\n")


def test_the_limit_counts_characters_not_bytes(run, tmp_path):
    path = tmp_path / "f.adiff"
    formula = "θ" + "+θ" * 499  # 999 characters, 1,498 bytes
    path.write_text(formula, encoding="utf-8")
    result = plain(run, "grad", "-f", str(path), "--at", "θ=1", "--max-size", "999")
    assert (result.code, result.stdout) == (0, "value\t500.0\nθ\t500.0\n")
    result = plain(run, "grad", "-f", str(path), "--at", "θ=1", "--max-size", "998")
    assert result.code == 2
    assert result.stderr == ("Error: the formula is 999 characters long, over the limit of 998\n"
                             "raise the limit with --max-size\n")
    result = plain(run, "grad", "-", "--at", "θ=1", "--max-size", "998", input=formula)
    assert result.code == 2 and "999 characters long" in result.stderr


# ---------------------------------------------------------------- control characters

def test_wrt_names_cannot_forge_lines_or_send_escapes(run):
    result = run("grad", "x", "--at", "x=1", "--wrt", "a\nError: fake\x1b[31m")
    assert result.code == 2
    assert result.stderr == ("Error: --wrt a\\nError: fake\\x1b[31m: the formula has no input "
                             "'a\\nError: fake\\x1b[31m'\nits inputs are: x\n")


def test_paths_in_messages_are_escaped(run, tmp_path):
    path = str(tmp_path / "no\x1b[2Jsuch\nfile")
    result = run("grad", "-f", path, "--at", "x=1")
    assert result.code == 2
    shown = path.replace("\x1b", "\\x1b").replace("\n", "\\n")
    assert result.stderr == f"Error: cannot read {shown}: no such file\n"


def test_bad_option_values_in_messages_are_escaped(run):
    result = run("grad", "x", "--at", "x=1", "--nodes", "\x07\x1b]0;title\x07")
    assert result.code == 2
    assert result.stderr == ("Error: --nodes \\x07\\x1b]0;title\\x07: expected a positive number, "
                             "'all' or 'none'\n")


def test_every_error_message_is_escaped(run, monkeypatch):
    # A message built anywhere (here: an internal error quoting the exception) reaches
    # the terminal with its control characters escaped.
    import autodiff_cli.calculus.engine

    def boom(*args, **kwargs):
        raise RuntimeError("bad \x1b[31mred")

    monkeypatch.setattr(autodiff_cli.calculus.engine, "evaluate", boom)
    result = run("grad", "x", "--at", "x=1")
    assert result.code == 70
    assert "\x1b" not in result.stderr and "bad \\x1b[31mred" in result.stderr


# ---------------------------------------------------------------- shell completion

def _entry_point() -> str:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["scripts"]["adiff"]


@pytest.mark.parametrize("entry", ["autodiff_cli.cli:main", "pyproject"])
def test_bash_completion_through_the_entry_point(entry):
    module, function = (_entry_point() if entry == "pyproject" else entry).split(":")
    code = f"from {module} import {function}; {function}()"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "_ADIFF_COMPLETE": "bash_source"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "_adiff_completion() {" in done.stdout
    assert "complete -o nosort -F _adiff_completion adiff" in done.stdout
    env = {**env, "_ADIFF_COMPLETE": "bash_complete", "COMP_WORDS": "adiff gr", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert (done.returncode, done.stdout) == (0, "plain,grad\nplain,graph\n")
