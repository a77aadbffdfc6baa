"""Spec files (TOML), JUnit XML, and the option parsers of check/cases.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from autodiff_cli.check.cases import (
    DEFAULT_RANGE,
    load_spec,
    parse_expect,
    parse_ranges,
    sample_points,
)
from autodiff_cli.errors import InputError

GOOD = '''
# defaults for every case
rtol = 1e-7

[[case]]
name = "sigmoid"
expr = "sigmoid(x)"
at = {x = 0.3}
expect = {x = "sigmoid(x)*(1 - sigmoid(x))"}

[[case]]
name = "logistic loss"
file = "loss.adiff"
samples = 40
seed = 7
range = {t0 = [-2, 2], t1 = "-2:2", x1 = [0, 3]}
expect = {t0 = "sigmoid(t0 + t1*x1) - 1", t1 = "(sigmoid(t0 + t1*x1) - 1)*x1"}

[[case]]
name = "two points, complex step"
expr = "x*exp(y)"
at = [{x = 1, y = 0.5}, {x = -2, y = "pi"}]
method = "complex"
'''

WRONG = '''
[[case]]
name = "softplus by hand"
expr = "softplus(x)"
samples = 10
expect = {x = "exp(x)/(1 + exp(-x))"}
'''

BROKEN = '''
[[case]]
name = "typo"
expr = "sigmoid(x"
at = {x = 1}
'''

DOMAIN = '''
[[case]]
name = "log at a negative point"
expr = "log(x)"
at = {x = -1}
'''


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loss.adiff").write_text("z = t0 + t1*x1\n-log(sigmoid(z))\n", encoding="utf-8")

    def write(*parts, name="grads.toml"):
        path = tmp_path / name
        path.write_text("\n".join(parts), encoding="utf-8")
        return str(path)
    return write


def test_a_passing_spec(run, spec):
    result = run("check", "--spec", spec(GOOD), "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert doc["ok"] is True
    assert [(c["name"], c["points"], c["ok"]) for c in doc["suite"]] == [
        ("sigmoid", 1, True), ("logistic loss", 40, True), ("two points, complex step", 2, True)]
    names = [p["name"] for p in doc["cases"]]
    assert names == ["sigmoid"] + ["logistic loss"] * 40 + ["two points, complex step"] * 2
    loss = [p for p in doc["cases"] if p["name"] == "logistic loss"]
    assert all(-2 <= p["at"]["t0"] <= 2 and 0 <= p["at"]["x1"] <= 3 for p in loss)
    assert all(set(p["expected"]) == {"t0", "t1"} for p in loss)
    complex_points = [p for p in doc["cases"] if p["name"].startswith("two points")]
    assert complex_points[1]["at"]["y"] == pytest.approx(3.141592653589793)
    assert all(set(p["methods"].values()) == {"complex"} for p in complex_points)
    # the file's rtol applies to every case that does not set its own
    assert doc["rtol"] == 1e-7 and [c["rtol"] for c in doc["suite"]] == [1e-7, 1e-7, 1e-7]
    first = doc["cases"][0]
    assert first["tolerance"]["x"] == pytest.approx(1e-8 + 1e-7 * abs(first["numeric"]["x"]))


def test_a_wrong_hand_derivative_fails_the_spec(run, spec):
    result = run("check", "--spec", spec(GOOD, WRONG), "--format", "json")
    assert result.code == 1
    doc = result.json()
    [bad] = [c for c in doc["suite"] if not c["ok"]]
    assert bad["name"] == "softplus by hand" and bad["summary"]["expect-mismatch"] == 10
    assert "exp(x)/(1 + exp(-x))" in bad["failure"]


def test_bad_input_in_one_case_runs_the_others_and_exits_2(run, spec):
    result = run("check", "--spec", spec(GOOD, BROKEN, DOMAIN), "--format", "json")
    assert result.code == 2
    doc = result.json()
    by_name = {c["name"]: c for c in doc["suite"]}
    assert by_name["sigmoid"]["ok"] is True
    assert by_name["typo"]["exit_code"] == 2 and "syntax error" in by_name["typo"]["error"]
    assert by_name["log at a negative point"]["exit_code"] == 3
    assert "syntax error" in result.stderr


def test_an_evaluation_error_alone_exits_3(run, spec):
    assert run("check", "--spec", spec(GOOD, DOMAIN)).code == 3


@pytest.mark.parametrize("text, message", [
    ("[[case]]\nexpr = 'x'\nat = {x = 1}\nexpct = {x = '1'}", "unknown key 'expct'; did you mean 'expect'?"),
    ("rtoll = 1\n[[case]]\nexpr = 'x'\nat = {x = 1}", "unknown key 'rtoll'"),
    ("[[case]]\nexpr = 'x'\n", "no point"),
    ("[[case]]\nat = {x = 1}", "expr = "),
    ("[[case]]\nexpr = 'x'\nat = {x = 1}\nmethod = 'simpson'", "method = 'simpson'"),
    ("[[case]]\nexpr = 'x'\nsamples = 0", "samples = 0"),
    ("[[case]]\nexpr = 'x'\nsamples = 3\nrange = {x = [1, 0]}", "low end"),
    ("[[case]]\nexpr = 'x'\nat = {x = 1}\nrange = {x = [0, 1]}", "range needs samples"),
    ("[[case]]\nexpr = 'x'\nat = {x = 'nan'}", "finite"),
    ("[[case]]\nexpr = 'x'\nat = {x = 1}\nrtol = -1", "rtol = -1"),
    ("[[case]]\nfile = 'missing.adiff'\nat = {x = 1}", "cannot read"),
])
def test_malformed_cases_are_input_errors(run, spec, text, message):
    result = run("check", "--spec", spec(text))
    assert result.code == 2, result
    assert message in result.stderr


@pytest.mark.parametrize("text, message", [
    ("this is = = not toml", "is not valid TOML"),
    ("rtol = 1e-6", "no cases"),
])
def test_malformed_files_are_input_errors(run, spec, text, message):
    result = run("check", "--spec", spec(text))
    assert result.code == 2 and message in result.stderr and result.stdout == ""


def test_spec_excludes_formula_options(run, spec):
    result = run("check", "x", "--spec", spec(GOOD))
    assert result.code == 2 and "--spec runs the cases of a file" in result.stderr


def test_missing_spec_file(run, tmp_path):
    result = run("check", "--spec", str(tmp_path / "nope.toml"))
    assert result.code == 2 and "no such file" in result.stderr


def test_command_line_options_are_defaults_for_the_cases(run, spec):
    path = spec("[[case]]\nexpr = 'exp(x)'\nat = {x = 1}\n\n"
                "[[case]]\nexpr = 'exp(x)'\nat = {x = 1}\nmethod = 'central'")
    doc = run("check", "--spec", path, "--method", "richardson", "--format", "json").json()
    assert [c["method"] for c in doc["suite"]] == ["richardson", "central"]


# ---------------------------------------------------------------- JUnit

def _junit(path):
    root = ET.parse(path).getroot()  # raises if the file is not well-formed XML
    return root, root.find("testsuite")


def test_junit_report_counts_and_failure_text(run, spec, tmp_path):
    out = tmp_path / "report.xml"
    result = run("check", "--spec", spec(GOOD, WRONG, BROKEN), "--junit", str(out))
    assert result.code == 2
    root, suite = _junit(out)
    assert root.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "1")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")
    cases = {tc.get("name"): tc for tc in suite.findall("testcase")}
    assert list(cases) == ["sigmoid", "logistic loss", "two points, complex step",
                           "softplus by hand", "typo"]
    for name in ("sigmoid", "logistic loss", "two points, complex step"):
        assert cases[name].find("failure") is None and cases[name].find("error") is None
    failure = cases["softplus by hand"].find("failure")
    assert failure.get("type") == "expect-mismatch"
    message = failure.get("message")
    # the worst input, both values, the error and the tolerance
    assert message.startswith("x at (x=")
    assert "exp(x)/(1 + exp(-x))" in message and "reverse mode gives" in message
    assert "tolerance" in message and "|expected - reverse mode| =" in message
    assert "10 of 10 points failed" in failure.text
    error = cases["typo"].find("error")
    assert error.get("type") == "InputError" and "syntax error" in error.get("message")
    assert all(float(tc.get("time")) >= 0 for tc in cases.values())


def test_junit_for_a_single_command(run, tmp_path):
    out = tmp_path / "one.xml"
    result = run("check", "x^2", "--at", "x=3", "--expect", "x=3*x", "--junit", str(out))
    assert result.code == 1
    _, suite = _junit(out)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0")
    [tc] = suite.findall("testcase")
    assert tc.get("name") == "x^2" and "x at (x=3)" in tc.find("failure").get("message")


def test_junit_of_a_passing_run_has_no_failures(run, tmp_path):
    out = tmp_path / "ok.xml"
    assert run("check", "sin(x)", "--samples", "5", "--junit", str(out)).code == 0
    _, suite = _junit(out)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    assert "points checked: 5" in suite.find("testcase/system-out").text


def test_junit_unwritable_path_is_an_input_error(run, tmp_path):
    result = run("check", "x", "--at", "x=1", "--junit", str(tmp_path / "no" / "dir.xml"))
    assert result.code == 2 and "cannot write" in result.stderr


# ---------------------------------------------------------------- parsers

def test_parse_ranges():
    assert parse_ranges(["x=-1:1,y=0.1:5", "θ=pi:4"]) == {
        "x": (-1.0, 1.0), "y": (0.1, 5.0), "θ": (3.141592653589793, 4.0)}
    for bad in ("x=1", "x=2:1", "=0:1", "x=a:b", "x=0:inf"):
        with pytest.raises(InputError):
            parse_ranges([bad])
    with pytest.raises(InputError, match="twice"):
        parse_ranges(["x=0:1", "x=1:2"])


def test_parse_expect_splits_on_the_first_equals_only():
    assert parse_expect(["x=max(x, y)", "y = s = sigmoid(y); s"]) == {
        "x": "max(x, y)", "y": " s = sigmoid(y); s"}
    with pytest.raises(InputError) as exc:
        parse_expect(["x=2*x, y=3"])
    assert "--expect x=2*x --expect y=3" in exc.value.hint


def test_sample_points_are_seeded_and_keep_fixed_inputs():
    a = sample_points(["x", "y", "z"], {"y": 2.0}, {"x": (0.0, 10.0)}, 50, seed=3)
    b = sample_points(["x", "y", "z"], {"y": 2.0}, {"x": (0.0, 10.0)}, 50, seed=3)
    assert a == b and len(a) == 50
    assert all(p["y"] == 2.0 and 0 <= p["x"] <= 10 and DEFAULT_RANGE[0] <= p["z"] <= DEFAULT_RANGE[1]
               for p in a)
    assert a != sample_points(["x", "y", "z"], {"y": 2.0}, {"x": (0.0, 10.0)}, 50, seed=4)


def test_load_spec_reports_each_bad_case_separately(spec):
    cases, shared = load_spec(spec(GOOD, BROKEN), {"method": "forward"})
    assert shared == {"method": "forward", "rtol": 1e-7}
    assert len(cases) == 4 and not any(isinstance(c, InputError) for c in cases)
    cases, _ = load_spec(spec(GOOD, "[[case]]\nname = 'x'\nexpr = 1\nat = {x = 1}"), {})
    assert isinstance(cases[-1], InputError) and "case 4 (x)" in cases[-1].message
