"""`adiff check` needs one output: a spec file's formula or an --expect formula with several is
refused (exit 2), never silently checked on its first output."""

from __future__ import annotations

from click.testing import CliRunner

from autodiff_cli.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_spec_file_formula_with_several_outputs_is_refused(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[[case]]\nexpr = "r = x*y; s = x + y; r, s"\nat = {x = 1, y = 2}\n',
                    encoding="utf-8")
    result = run("check", "--spec", str(spec))
    assert result.exit_code == 2, result.output
    assert "case 1" in result.stdout and "error (exit 2)" in result.stdout  # a case's error row
    assert "the formula has 2 outputs (r, s); adiff check needs one" in result.stderr
    assert "adiff jacobian" in result.stderr


def test_expect_formula_with_several_outputs_is_refused():
    result = run("check", "x*y", "--at", "x=1,y=2", "--expect", "x=y, x")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "--expect x: the expected derivative has 2 outputs (y, x); it must be one formula" \
        in result.stderr


def test_second_order_expect_with_several_outputs_is_refused():
    result = run("check", "x*y", "--at", "x=1,y=2", "--order", "2", "--expect", "x,y=1, 2")
    assert result.exit_code == 2, result.output
    assert "--expect x,y: the expected derivative has 2 outputs (1, 2); it must be one formula" \
        in result.stderr
