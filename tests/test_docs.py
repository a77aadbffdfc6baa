"""Docs are executable: README examples and every sample run, with their shown output."""

from __future__ import annotations

import math
import re
import shlex

import pytest

from autodiff_cli.cli import cli
from autodiff_cli.core.ops import FUNCTIONS

from .conftest import ROOT, invoke, programs_needed, require_program

cli.list_commands(None)  # imports the modules that register the other commands

README = (ROOT / "README.md").read_text(encoding="utf-8")
SAMPLES = sorted((ROOT / "samples").glob("*.adiff"))


def _console_examples():
    """(command, expected output lines or None) for each `$ adiff` line in console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        current = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = [line[2:], []]
                examples.append(current)
            elif current is not None:
                current[1].append(line.rstrip())
    return [(cmd, out) for cmd, out in examples]


EXAMPLES = _console_examples()


def _run_shell_line(command: str):
    assert command.startswith("adiff "), command
    argv = shlex.split(command.split(" | ")[0])[1:]
    stdin = None
    if "<" in argv:
        k = argv.index("<")
        stdin = (ROOT / argv[k + 1]).read_text(encoding="utf-8")
        argv = argv[:k] + argv[k + 2:]
    for program in programs_needed(argv):
        require_program(program)
    return invoke(*argv, input=stdin, env={"COLUMNS": "100"})


def test_readme_has_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example(command, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = _run_shell_line(command)
    shown = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
    if " | " in command:
        assert result.code == 0, result
        return
    assert shown == expected, result


def _script_commands():
    """`adiff ...` lines of the ```sh blocks after the first, continuation lines joined."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)[1:]:
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line.startswith("adiff "):
                commands.append(re.split(r" > | \|\| ", line)[0])
    return commands


INLINE = sorted({c for c in re.findall(r"`(adiff [^`]+)`", README) + _script_commands()
                 if len(c.split()) > 2
                 and not any(w in c for w in ("…", "EXPR", "COMMAND", "..."))})


def test_readme_has_inline_examples():
    assert len(INLINE) >= 5


@pytest.mark.parametrize("command", INLINE)
def test_readme_inline_example_runs(command, tmp_path, monkeypatch):
    """Commands quoted in the text run too (in a scratch copy, since some write files)."""
    import shutil

    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    result = _run_shell_line(command)
    assert result.code == 0, result
    assert result.stdout or " -o " in command, result


def test_readme_setup_commands_come_first():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1).strip().splitlines()
    assert first_block == [
        "pip install . && adiff grad -f samples/logistic_sigmoid.adiff --at t0=1,t1=1,x1=1,t2=2,x2=2",
        "pip install '.[test]' && pytest",
    ]
    assert README.index("```sh") < README.index("```console")


def test_every_command_has_help_and_is_in_readme():
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"adiff {name}" in README, name
        result = invoke(name, "--help")
        assert result.code == 0 and "Usage: adiff " + name in result.stdout


def test_every_function_is_documented():
    for name in FUNCTIONS:
        assert f"| `{name}` |" in README, name


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_runs_and_agrees_with_finite_differences(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    commands = [line[4:] for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("# $ adiff ")]
    assert commands, f"{path.name} has no '# $ adiff ...' line"
    for command in commands:
        result = _run_shell_line(command + " --format json")
        assert result.code == 0, result
        doc = result.json()
        if "jacobian" in doc:  # adiff jacobian: one value per output
            assert all(math.isfinite(v) for v in doc["value"].values()), doc["value"]
            assert doc["check"]["ok"] is True, doc["check"]
            assert set(doc["wrt"]) == set(doc["at"])
            continue
        assert math.isfinite(doc["value"])
        assert doc["check"]["ok"] is True, doc["check"]
        assert set(doc["gradient"]) == set(doc["at"])


def test_samples_cover_the_lecture_loss_three_ways():
    names = {p.name for p in SAMPLES}
    assert {"logistic_raw.adiff", "logistic_sigmoid.adiff", "logistic_program.adiff",
            "fanout.adiff", "lecture.adiff"} <= names
    values = set()
    for name in ("logistic_raw", "logistic_sigmoid", "logistic_program", "lecture"):
        source = (ROOT / "samples" / f"{name}.adiff").read_text(encoding="utf-8")
        command = next(line[4:] for line in source.splitlines() if line.startswith("# $ adiff "))
        values.add(round(_run_shell_line(command + " --format json").json()["value"], 15))
    assert len(values) == 1  # the same loss, 0.0024756851377303...


def test_api_docstring_example():
    import doctest

    import autodiff_cli

    failures, tried = doctest.testmod(autodiff_cli)
    assert tried >= 3 and failures == 0


def _help_examples():
    commands = [cli] + list(cli.commands.values())
    lines = []
    for command in commands:
        for line in (command.help or "").splitlines():
            line = line.strip()
            if (line.startswith("adiff ") or line.startswith("echo ")) and "<" not in line:
                lines.append(line)
    return sorted(set(lines))


HELP_EXAMPLES = _help_examples()


@pytest.mark.parametrize("command", HELP_EXAMPLES)
def test_help_example_runs(command, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "samples", tmp_path / "samples")  # some examples write files
    monkeypatch.chdir(tmp_path)
    if command.startswith("adiff") and " | " not in command:
        result = _run_shell_line(command)
    else:  # "echo x | adiff ..." examples: feed the echoed text on stdin
        text, _, rest = command.partition(" | ")
        for program in programs_needed(shlex.split(rest)):
            require_program(program)
        result = invoke(*shlex.split(rest)[1:], input=shlex.split(text)[1] + "\n")
    assert result.code == 0, result


def test_help_has_examples():
    assert len(HELP_EXAMPLES) >= 8
