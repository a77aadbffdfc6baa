"""What reaches the terminal: control characters, NO_COLOR, and outputs that cannot encode Unicode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import ROOT

# ---------------------------------------------------------------- control characters

ESCAPES = "\x1b[2J\x1b]8;;http://evil\x07"  # clear the screen; plant a hyperlink
IN_PATH = "\x1b[2J\x1b]8;;evil\x07"  # the same, without the slashes a file name cannot hold
RAW = ("\x1b", "\x07", "\r")


@pytest.fixture
def evil_dir(tmp_path):
    folder = tmp_path / f"e{IN_PATH}"
    folder.mkdir()
    (folder / "d.csv").write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    return folder


def _clean(text: str) -> None:
    for ch in RAW:
        assert ch not in text, repr(text)


@pytest.mark.parametrize("command", ["grad", "trace", "check"])
def test_a_data_path_with_escape_sequences_is_shown_escaped(run, evil_dir, command):
    path = str(evil_dir / "d.csv")
    result = run(command, "x*t", "--data", path, "--at", "t=1")
    assert result.code == 0, result
    _clean(result.stdout)
    shown = " ".join(result.stdout.split())  # the heading may wrap
    assert "\\x1b[2J\\x1b]8;;evil\\x07" in shown, result.stdout


def test_a_spec_path_with_escape_sequences_is_shown_escaped(run, evil_dir):
    spec = evil_dir / "s.toml"
    spec.write_text('[[case]]\nname = "ok"\nexpr = "x*x"\nat = {x = 1}\n', encoding="utf-8")
    result = run("check", "--spec", str(spec))
    assert result.code == 0, result
    _clean(result.stdout)
    title = result.stdout.split("\ncase ")[0]
    assert title.startswith("Spec ") and title.endswith("\\x1b[2J\\x1b]8;;evil\\x07/s.toml"), title


SPEC = ('[[case]]\nname = "evil\\nforged\\t1\\u001b[2J"\nexpr = "x*x"\nat = {x = 1}\n'
        '[[case]]\nname = "wrong"\nexpr = "x*x"\nat = {x = 1}\nexpect = {x = "3*x"}\n')


def test_a_case_name_with_a_newline_does_not_forge_table_rows(run, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC, encoding="utf-8")
    result = run("check", "--spec", str(spec))
    assert result.code == 1, result
    _clean(result.stdout)
    rows = [line for line in result.stdout.splitlines() if line.startswith("evil")]
    assert len(rows) == 1 and rows[0].split()[:2] == ["evil\\nforged\\t1\\x1b[2J", "central"], \
        result.stdout
    assert not any(line.startswith(("forged", "1")) for line in result.stdout.splitlines())


def test_a_case_name_with_a_newline_does_not_forge_plain_rows(run, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.replace("wrong", "evil\\nx\\ty"), encoding="utf-8")
    result = run("check", "--spec", str(spec), "--format", "plain")
    assert result.code == 1, result
    _clean(result.stdout)
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 2 + 2, lines  # header, one row per case, two '#' lines
    header = lines[0].split("\t")
    for line in lines[1:3]:
        assert len(line.split("\t")) == len(header), line
    cases = sorted(line.split("\t")[0] for line in lines[1:3])
    assert cases == ["evil\\nforged\\t1\\x1b[2J", "evil\\nx\\ty"]


def test_an_expected_derivative_with_escapes_in_a_comment_is_shown_escaped(run):
    result = run("check", "tanh(x)", "--at", "x=0.5", "--expect", f"x=1 - tanh(x) # {ESCAPES}")
    assert result.code == 1, result
    _clean(result.stdout)
    assert "\\x1b[2J" in result.stdout


# ---------------------------------------------------------------- NO_COLOR

BOTH = {"NO_COLOR": "1", "FORCE_COLOR": "1"}


@pytest.mark.parametrize("args", [
    ("grad", "x*y", "--at", "x=1,y=2"),
    ("grad", "x*y", "--at", "x=1,y=2,z=3"),  # a warning on stderr too
    ("check", "x*y", "--at", "x=1,y=2"),
    ("check", "x*y", "--at", "x=1,y=2", "--expect", "x=3*y"),
    ("trace", "x*y", "--at", "x=1,y=2"),
    ("check", "--spec", "samples/grads.toml"),
    ("grad", "x1*t", "--data", "samples/logistic.csv", "--at", "t=1", "--per-example"),
    ("trace", "x1*t", "--data", "samples/logistic.csv", "--at", "t=1"),
])
def test_no_color_wins_over_force_color(run, args, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run(*args, env=BOTH)
    assert result.code in (0, 1), result
    assert "\x1b[" not in result.stdout and "\x1b[" not in result.stderr, result
    assert result.stdout.startswith(("f = ", "Spec "))


def test_force_color_alone_still_colours(run):
    result = run("grad", "x*y", "--at", "x=1,y=2", env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert "\x1b[1m" in result.stdout


# ---------------------------------------------------------------- encodings (real processes)

ASCII = {"PYTHONUTF8": "0", "LC_ALL": "C", "PYTHONIOENCODING": ""}
CP1252 = {"PYTHONIOENCODING": "cp1252", "LC_ALL": "C.UTF-8"}


@pytest.fixture(scope="module")
def theta_files(tmp_path_factory):
    """θ only inside files: under LC_ALL=C the command line itself cannot carry it."""
    folder = tmp_path_factory.mktemp("theta")
    (folder / "f.adiff").write_text("θ = 2*x\nθ*x*sin(x)\n", encoding="utf-8")
    (folder / "d.csv").write_text("θ,x\n1.5,2\n-0.5,3\n", encoding="utf-8")
    (folder / "loss.adiff").write_text("z = θ*t + x\nz*z\n", encoding="utf-8")
    return folder


def _commands(folder, formats):
    f, data, loss = str(folder / "f.adiff"), str(folder / "d.csv"), str(folder / "loss.adiff")
    out = []
    for fmt in formats:
        out += [
            ("grad", "-f", f, "--at", "x=2", "--format", fmt),
            ("check", "-f", f, "--at", "x=2", "--format", fmt),
            ("trace", "-f", f, "--at", "x=2", "--format", fmt),
            ("grad", "-f", loss, "--data", data, "--at", "t=0.5", "--per-example", "--format", fmt),
            ("check", "-f", loss, "--data", data, "--at", "t=0.5", "--format", fmt),
            ("trace", "-f", loss, "--data", data, "--at", "t=0.5", "--format", fmt),
        ]
    return out


def _adiff(args, env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    full.update(env)
    full.pop("NO_COLOR", None)
    full.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", *args], capture_output=True,
                          env=full, cwd=ROOT, timeout=120)
    return args, proc


def _run_all(commands, env):
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda args: _adiff(args, env), commands))


@pytest.mark.parametrize("env", [ASCII, CP1252], ids=["LC_ALL=C", "cp1252"])
def test_every_command_and_format_survives_an_output_without_unicode(env, theta_files):
    encoding = "ascii" if env is ASCII else "cp1252"
    # cp1252: the tables (its plain and JSON are in test_the_issue_command_under_cp1252)
    formats = ("table", "plain", "json") if env is ASCII else ("table",)
    for args, proc in _run_all(_commands(theta_files, formats), env):
        where = f"{' '.join(args[:1] + args[-2:])}: {proc.stderr.decode(errors='replace')}"
        assert proc.returncode == 0, where
        assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr, where
        text = proc.stdout.decode(encoding)  # strictly: every byte is of that encoding
        if args[-1] == "json":
            assert text.isascii(), where
            doc = json.loads(text)
            if "--data" in args:
                assert "θ" in doc["data"]["columns"], where
            else:
                assert doc["expression"].startswith("θ = 2*x"), where
        elif args[-1] == "table":
            assert "\\u03b8" in text, where  # θ, deliberately escaped
            assert "━" not in text and "∂" not in text, where
            if args[0] == "grad" and "--data" not in args:
                assert "ok agree" in text and "df/dinput" in text, where
        if args[0] == "trace" and "--data" in args and args[-1] == "plain":
            assert "forward\tn0\tvar\t\\u03b8\t" in text, where


def test_the_issue_command_under_cp1252(theta_files):
    """`adiff grad "θ*x" --at θ=1,x=2` in all three formats (the command line is UTF-8)."""
    commands = [("grad", "θ*x", "--at", "θ=1,x=2", "--format", fmt)
                for fmt in ("table", "plain", "json")]
    results = {args[-1]: proc for args, proc in _run_all(commands, CP1252)}
    for fmt, proc in results.items():
        assert proc.returncode == 0, (fmt, proc.stderr)
        assert b"Traceback" not in proc.stderr
    assert json.loads(results["json"].stdout)["gradient"] == {"θ": 2.0, "x": 1.0}
    assert results["plain"].stdout.decode("cp1252").splitlines() == [
        "value\t2.0", "\\u03b8\t2.0", "x\t1.0"]
    table = results["table"].stdout.decode("cp1252")
    assert "f = \\u03b8*x" in table and "at \\u03b8 = 1, x = 2" in table
