"""README's "Fitting parameters" section is real output: its table (a ```text block, because the
fit's wall-clock time in it changes from run to run) is compared line by line with adiff's, the
time masked; docs/fit.svg is what docs/make_figures.sh's command draws. (The ```console blocks
and inline commands are run by test_docs.py.)"""

from __future__ import annotations

import re
import shlex

import pytest

from .conftest import ROOT, invoke

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Fitting parameters: `adiff fit`")[1].split("\n## ")[0]
TIME = re.compile(r"(passes over the data.*), [0-9][0-9.,]*(e[-+]?\d+)? s$")


def _masked(lines):
    return [TIME.sub(r"\1, <time> s", line) for line in lines]


def test_the_section_is_there_before_exit_status():
    assert README.index("## Fitting parameters: `adiff fit`") < README.index("## Exit status")
    assert "![" in SECTION and "(docs/fit.svg)" in SECTION


def test_the_table_in_the_readme_is_real_output(monkeypatch):
    blocks = re.findall(r"```text\n(\$ adiff fit .*?)```", SECTION, flags=re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    for block in blocks:
        command, *shown = block.rstrip("\n").split("\n")
        r = invoke(*shlex.split(command[len("$ adiff "):]), env={"COLUMNS": "100"})
        assert r.code == 0, r
        got = [line.rstrip() for line in (r.stdout + r.stderr).splitlines()]
        assert _masked(got) == _masked([line.rstrip() for line in shown])
        assert any(TIME.search(line) for line in got)  # the time is there, and masked


def test_docs_fit_svg_is_what_make_figures_draws(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    script = (ROOT / "docs" / "make_figures.sh").read_text(encoding="utf-8")
    line = next(x for x in script.splitlines() if x.startswith("adiff fit ") and "docs/fit.svg" in x)
    argv = shlex.split(line.split(" > ")[0])[1:]
    target = tmp_path / "fit.svg"
    argv[argv.index("docs/fit.svg")] = str(target)
    monkeypatch.chdir(ROOT)
    r = invoke(*argv)
    assert r.code == 0, r
    assert target.read_bytes() == (ROOT / "docs" / "fit.svg").read_bytes()
