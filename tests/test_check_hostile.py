"""adiff check under hostile input, through the front door: ranges that overflow,
steps below the spacing of doubles, hostile spec files (deep nesting, huge
integers, /dev/zero, paths outside the spec's directory, control characters in
names), many samples in bounded memory, the cost stated up front, and a JUnit
report that is well-formed, never stale and written even when stdout closes early."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from autodiff_cli.check import cases as spec_module

from .conftest import ROOT


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADIFF", "COLUMNS"))}
    env.update(NO_COLOR="1", PYTHONPATH=str(ROOT))
    return env


# ---------------------------------------------------------------- sampling

def test_a_range_as_wide_as_the_doubles_samples_finite_points(run):
    """-1e308:1e308: lo + u·(hi - lo) overflowed (hi - lo = inf), every point was inf;
    the table said FAILED and JSON exited 70 (inf is not JSON)."""
    result = run("check", "x", "--samples", "3", "--range", "x=-1e308:1e308", "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    xs = [p["at"]["x"] for p in doc["cases"]]
    assert len(xs) == 3 and all(math.isfinite(x) and -1e308 <= x <= 1e308 for x in xs)
    assert len(set(xs)) == 3 and doc["summary"]["ok"] == 3
    table = run("check", "x", "--samples", "3", "--range", "x=-1e308:1e308")
    assert table.code == 0 and "OK: 3 of 3 gradients agree at 3 points." in table.stdout
    assert "inf" not in table.stdout


def test_narrow_ranges_keep_the_points_of_every_seed():
    # where hi - lo is finite the draw is rng.uniform's, as before
    import random

    rng = random.Random(42)
    want = [rng.uniform(-3.0, 3.0) for _ in range(5)]
    got = [p["x"] for p in spec_module.sample_points(["x"], {}, {"x": (-3.0, 3.0)}, 5, 42)]
    assert got == want


# ---------------------------------------------------------------- steps

@pytest.mark.parametrize("formula, at, step, spacing", [
    ("x^3", "x=1", "1e-17", "2.22e-16"),
    ("x^2", "x=1e20", "1e-5", "1.64e+04"),
])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_step_below_the_spacing_of_doubles_is_an_input_error(run, formula, at, step, spacing,
                                                               fmt):
    """They exited 70 (ZeroDivisionError)."""
    result = run("check", formula, "--at", at, "--step", step, "--format", fmt)
    assert result.code == 2, result
    assert result.stdout == ""
    x = at.split("=")[1]
    assert f"--step {float(step):g} cannot be used at x = {float(x):g}" in result.stderr
    assert f"below the spacing of doubles there ({spacing})" in result.stderr


def test_the_step_is_checked_at_the_ends_of_a_sampled_range(run, tmp_path):
    result = run("check", "x^2", "--samples", "50", "--range", "x=-1:1e20", "--step", "1e-5")
    assert result.code == 2 and result.stdout == ""
    assert "cannot be used at x = 1e+20" in result.stderr
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nexpr = 'x^3'\nat = {x = 1}\nstep = 1e-17\n", encoding="utf-8")
    result = run("check", "--spec", str(spec), "--format", "json")
    assert result.code == 2
    assert "step = 1e-17 cannot be used at x = 1" in result.json()["suite"][0]["error"]
    # the complex step subtracts nothing: any step works
    assert run("check", "x^3", "--at", "x=1", "--step", "1e-17", "--method", "complex").code == 0


def test_a_step_that_collapses_while_avoiding_a_kink_does_not_crash(run):
    """The step is shrunk by 16 near a kink; from --step 1e-14 at 1 + 2^-52 it
    reached x ± h == x and divided by zero (exit 70)."""
    result = run("check", "abs(x - 1)", "--at", "x=1.0000000000000002", "--step", "1e-14",
                 "--format", "json")
    assert result.code == 0, result
    assert result.json()["cases"][0]["status"] == {"x": "ok"}


def test_an_intermediate_node_below_the_step_is_not_a_crash(run):
    # n2 = x + 1e20 = 1e20: --step 1e-5 cannot move it; that estimate is redone, not divided by 0
    result = run("check", "(x + 1e20) - 1e20", "--at", "x=1", "--step", "1e-5", "--nodes",
                 "--format", "json")
    assert result.code in (0, 1), result
    assert [n["id"] for n in result.json()["cases"][0]["nodes"]] == ["n2", "n4"]


# ---------------------------------------------------------------- hostile spec files

@pytest.mark.parametrize("text, message", [
    ("x = " + "[" * 1000 + "]" * 1000 + "\n", "is nested too deeply to read"),
    ("x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n", "is nested too deeply to read"),
    ("rtol = " + "1" * 5000 + "\n", "has an integer of more than 4,300 digits"),
])
def test_toml_the_parser_cannot_hold_is_an_input_error(run, tmp_path, text, message):
    """tomllib raises RecursionError / ValueError for these: exit 70 before."""
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    result = run("check", "--spec", str(path))
    assert result.code == 2, result
    assert result.stdout == ""
    assert f"Error: {path} {message}" in result.stderr


def test_a_spec_with_a_byte_order_mark(run, tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[[case]]\nexpr = 'sin(x)'\nat = {x = 1}\n")
    result = run("check", "--spec", str(path))
    assert result.code == 0, result
    # a formula file with one too
    (tmp_path / "f.adiff").write_bytes(b"\xef\xbb\xbfx^2\n")
    path.write_text("[[case]]\nfile = 'f.adiff'\nat = {x = 1}\n", encoding="utf-8")
    assert run("check", "--spec", str(path)).code == 0


def test_a_spec_that_never_ends_is_cut_at_16_mib(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "autodiff_cli", "check", "--spec", "/dev/zero"],
                            capture_output=True, text=True, env=_env(), timeout=60)
    assert result.returncode == 2, result
    assert "spec file /dev/zero is larger than 16 MiB, the limit" in result.stderr
    assert time.monotonic() - started < 30


def test_a_formula_file_that_never_ends_is_cut_at_max_size(run, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[[case]]\nfile = '/dev/zero'\nat = {x = 1}\n", encoding="utf-8")
    result = run("check", "--spec", str(path), "--allow-any-path", "--max-size", "1000")
    assert result.code == 2, result
    assert "formula file /dev/zero is larger than 1,000 bytes, the limit" in result.stderr


@pytest.fixture
def secret_layout(tmp_path):
    """specs/ holds the spec; outside it, a file with a secret in it."""
    specs = tmp_path / "specs"
    (specs / "sub").mkdir(parents=True)
    (tmp_path / "secret.adiff").write_text("SECRET_TOKEN_abc123\n", encoding="utf-8")
    (specs / "sub" / "ok.adiff").write_text("x^2\n", encoding="utf-8")
    (specs / "link.adiff").symlink_to(tmp_path / "secret.adiff")
    return specs


@pytest.mark.parametrize("given", ["../secret.adiff", "link.adiff", "{abs}", "/proc/self/environ",
                                   "sub/../../secret.adiff"])
def test_a_spec_file_path_outside_the_spec_directory_is_refused(run, secret_layout, tmp_path,
                                                                given):
    given = given.replace("{abs}", str(tmp_path / "secret.adiff"))
    path = secret_layout / "s.toml"
    path.write_text(f"[[case]]\nname = 'leak'\nfile = '{given}'\nat = {{x = 1}}\n",
                    encoding="utf-8")
    report = tmp_path / "report.xml"
    result = run("check", "--spec", str(path), "--junit", str(report), "--format", "json",
                 env={"LEAKED_VALUE": "s3cr3t-in-the-environment"})
    assert result.code == 2, result
    assert "is outside the spec's directory" in result.stderr
    assert "--allow-any-path" in result.stderr
    everything = result.stdout + result.stderr + report.read_text(encoding="utf-8")
    assert "SECRET_TOKEN" not in everything and "s3cr3t" not in everything


def test_allow_any_path_reads_outside_and_inside_paths_still_work(run, secret_layout, tmp_path):
    path = secret_layout / "s.toml"
    path.write_text("[[case]]\nfile = 'sub/ok.adiff'\nat = {x = 1}\n", encoding="utf-8")
    assert run("check", "--spec", str(path)).code == 0
    path.write_text("[[case]]\nfile = '../secret.adiff'\nat = {x = 1}\n", encoding="utf-8")
    result = run("check", "--spec", str(path), "--allow-any-path")
    # read now: the formula is a variable with no value -- its own error, nothing more
    assert result.code == 2 and "SECRET_TOKEN_abc123" in result.stderr
    assert run("check", "x", "--at", "x=1", "--allow-any-path").code == 2


def test_a_formula_file_is_named_not_quoted_in_the_report(run, secret_layout, tmp_path):
    path = secret_layout / "s.toml"
    path.write_text("[[case]]\nname = 'sq'\nfile = 'sub/ok.adiff'\nat = {x = 1}\n",
                    encoding="utf-8")
    report = tmp_path / "r.xml"
    result = run("check", "--spec", str(path), "--junit", str(report), "--format", "json")
    assert result.code == 0
    out = ET.parse(report).getroot().find("testsuite/testcase/system-out").text
    assert out.splitlines()[0] == "file: sub/ok.adiff"
    entry = result.json()["suite"][0]
    assert entry["file"] == "sub/ok.adiff" and entry["expression"] == "x^2\n"


def test_a_case_name_with_a_newline_is_raw_in_json_and_escaped_on_stderr(run, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[case]]\nname = "two\\nlines \\u001b[2J"\nexpr = "x +"\nat = {x = 1}\n'
                    '[[case]]\nname = "fine\\tname"\nexpr = "x"\nat = {x = 1}\n', encoding="utf-8")
    result = run("check", "--spec", str(path), "--format", "json")
    assert result.code == 2
    doc = result.json()
    assert [c["name"] for c in doc["suite"]] == ["two\nlines \x1b[2J", "fine\tname"]
    assert doc["cases"][0]["name"] == "fine\tname"
    assert "(two\\nlines \\x1b[2J)" in result.stderr and "\x1b" not in result.stderr


# ---------------------------------------------------------------- many samples

def test_samples_beyond_the_cap_are_refused_at_once(run, tmp_path):
    started = time.monotonic()
    result = run("check", "x*y", "--samples", "1000000000")
    assert result.code == 2 and result.stdout == ""
    assert "--samples 1,000,000,000: at most 1,000,000 random points per case" in result.stderr
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nexpr = 'x'\nsamples = 1000000000\n", encoding="utf-8")
    result = run("check", "--spec", str(spec))
    assert result.code == 2 and "samples = 1,000,000,000: at most 1,000,000" in result.stderr
    assert time.monotonic() - started < 10


def test_many_samples_stream_the_same_document(run):
    """JSON streams the cases; the summary fields come after them and count every point."""
    args = ("x^3", "--samples", "2500", "--expect", "x=3*x*abs(x)", "--seed", "9")
    result = run("check", *args, "--format", "json")
    assert result.code == 1
    doc = result.json()
    assert len(doc["cases"]) == 2500 and doc["ok"] is False
    bad = sum(1 for p in doc["cases"] if not p["ok"])
    assert doc["summary"]["expect-mismatch"] == bad and doc["summary"]["ok"] == 2500 - bad
    assert doc["worst"]["status"] == "expect-mismatch"
    assert list(doc)[-5:] == ["ok", "skipped", "summary", "worst", "skipped_points"]
    # the table keeps only what it shows, but counts every point
    table = run("check", *args)
    assert table.code == 1
    assert f"FAILED: {bad} expect-mismatch (of 2500 gradients) at 2500 points." in table.stdout
    plain = run("check", *args, "--format", "plain")
    rows = [line for line in plain.stdout.splitlines() if not line.startswith("#")]
    assert len(rows) == 2500 and "# ok\tfalse" in plain.stdout


def _peak_rss_kib(n: int) -> int:
    code = ("import resource, subprocess, sys\n"
            f"subprocess.run([sys.executable, '-m', 'autodiff_cli', 'check', 'x*y + sin(x)', "
            f"'--samples', '{n}', '--format', 'json'], stdout=subprocess.DEVNULL, check=False)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=900)
    return int(out.stdout.strip())


@pytest.mark.slow
def test_memory_does_not_grow_with_samples():
    """--samples 200000 kept every point document (3.3 KB each: 658 MB); the
    points are now made and written one at a time."""
    small, big = _peak_rss_kib(20_000), _peak_rss_kib(200_000)
    assert big < 1.5 * small, (small, big)


def test_memory_does_not_grow_with_samples_quick():
    small, big = _peak_rss_kib(500), _peak_rss_kib(5_000)
    assert big < small + 8_000, (small, big)  # 4,500 more points kept would be 15 MB more


# ---------------------------------------------------------------- cost

def test_the_cost_is_stated_up_front_when_it_is_large(run):
    n = 1500
    formula = "+".join(f"x{i}" for i in range(n))
    result = run("check", formula, "--samples", "1", "--format", "json")
    assert result.code == 0, result
    # x_k feeds the n - k last additions: ~750 nodes each on average (counted on 16 inputs)
    found = re.fullmatch(r"Note: check: 2 × 1,500 inputs × ~([\d,]+) nodes each = ([\d,]+) node "
                         r"evaluations \(central; a comparison that fails is re-examined at a few "
                         r"times that\)\n", result.stderr)
    assert found, result.stderr
    each, total = (int(g.replace(",", "")) for g in found.groups())
    assert 650 <= each <= 850 and abs(total - 2 * n * each) <= 2 * n
    small = run("check", "x*y", "--at", "x=1,y=2", "--format", "json")
    assert small.stderr == ""


def test_a_wide_logsumexp_is_checked_quickly(run):
    """logsumexp of 5,000 inputs: 2 × 5,000 re-evaluations of a 5,000-input op
    took 6 s of CPU (25,000 inputs: 2 min 15 s); each is now O(1): 0.3 s."""
    n = 5000
    formula = "logsumexp(" + ", ".join(f"x{i}" for i in range(n)) + ")"
    started = time.process_time()
    result = run("check", formula, "--samples", "1", "--format", "json")
    assert result.code == 0, result
    assert time.process_time() - started < 2.0


# ---------------------------------------------------------------- JUnit

HOSTILE = ["bell \u0007 ring", "esc \u001b[31m red", "not a char \ufffe", "nul \u0000 too"]


@pytest.mark.parametrize("name", HOSTILE)
def test_junit_is_well_formed_with_control_characters(run, tmp_path, name):
    """Every case passes, yet the XML was not well-formed (XML 1.0 has no \\x07)."""
    escaped = json.dumps(name)[1:-1]
    spec = tmp_path / "s.toml"
    spec.write_text(f'[[case]]\nname = "{escaped}"\nexpr = "sin(x)"\nat = {{x = 1}}\n'
                    f'[[case]]\nname = "wrong {escaped}"\nexpr = "x^2"\nat = {{x = 1}}\n'
                    f'expect = {{x = "3*x # {escaped}"}}\n'
                    f'[[case]]\nname = "broken {escaped}"\nexpr = "x + # {escaped}"\n'
                    f'at = {{x = 1}}\n', encoding="utf-8")
    report = tmp_path / "r.xml"
    result = run("check", "--spec", str(spec), "--junit", str(report))
    assert result.code == 2
    root = ET.parse(report).getroot()  # raises if not well-formed
    cases = root.findall("testsuite/testcase")
    shown = name.replace("\u0007", "\\x07").replace("\u001b", "\\x1b") \
        .replace("\ufffe", "\\ufffe").replace("\u0000", "\\x00")
    assert [c.get("name") for c in cases] == [shown, f"wrong {shown}", f"broken {shown}"]
    failure = cases[1].find("failure")
    assert f"'3*x # {shown}'" in failure.get("message") and shown in failure.text
    assert cases[2].find("error") is not None


def test_junit_of_a_single_check_that_cannot_run(run, tmp_path):
    """Exit 2 or 3 used to write no report at all."""
    report = tmp_path / "r.xml"
    assert run("check", "log(x)", "--at", "x=-1", "--junit", str(report)).code == 3
    [tc] = ET.parse(report).getroot().findall("testsuite/testcase")
    assert tc.get("name") == "log(x)" and tc.find("error").get("type") == "EvalError"
    assert run("check", "x +", "--at", "x=1", "--junit", str(report)).code == 2
    [tc] = ET.parse(report).getroot().findall("testsuite/testcase")
    assert tc.find("error").get("type") == "InputError"
    assert "syntax error" in tc.find("error").get("message")
    spec = tmp_path / "missing.toml"
    assert run("check", "--spec", str(spec), "--junit", str(report)).code == 2
    [tc] = ET.parse(report).getroot().findall("testsuite/testcase")
    assert tc.get("name") == str(spec) and "no such file" in tc.find("error").get("message")


def test_an_interrupted_run_does_not_leave_the_last_report(run, tmp_path, monkeypatch):
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nname = 'one'\nexpr = 'x'\nat = {x = 1}\n"
                    "[[case]]\nname = 'two'\nexpr = 'sin(x)'\nat = {x = 1}\n", encoding="utf-8")
    report = tmp_path / "r.xml"
    assert run("check", "--spec", str(spec), "--junit", str(report)).code == 0
    assert 'failures="0" errors="0"' in report.read_text(encoding="utf-8")
    import autodiff_cli.documents.check as documents

    real = documents.point_document

    def stop(case, *args):
        if case.name == "two":
            raise KeyboardInterrupt
        return real(case, *args)

    monkeypatch.setattr(documents, "point_document", stop)
    assert run("check", "--spec", str(spec), "--junit", str(report)).code == 130
    root = ET.parse(report).getroot()
    assert root.get("errors") == "1"
    names = [(tc.get("name"), tc.find("error") is not None)
             for tc in root.findall("testsuite/testcase")]
    assert names == [("one", False), ("two", False), ("interrupted", True)]


def test_a_killed_run_leaves_no_report_rather_than_the_last_one(tmp_path):
    """A run killed before it writes (SIGKILL, a CI timeout) used to leave the
    previous run's report, which looked like its own."""
    report = tmp_path / "r.xml"
    report.write_text("<testsuites tests='1' failures='0' errors='0'/>", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "check", "x*y", "--samples",
                             "100000", "--format", "json", "--junit", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
    try:
        assert proc.stdout.read(1) == b"{"  # it is checking points
        proc.kill()
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -9
    assert not report.exists()


def test_the_report_is_written_whole_when_stdout_closes_early(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nname = 'many'\nexpr = 'x*y'\nsamples = 3000\n"
                    "[[case]]\nname = 'last'\nexpr = 'sin(x)'\nat = {x = 1}\n", encoding="utf-8")
    report = tmp_path / "r.xml"
    command = f"{sys.executable} -m autodiff_cli check --spec {spec} --format json " \
              f"--junit {report} | head -c 100; echo \"${{PIPESTATUS[0]}}\""
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=_env(),
                         timeout=300)
    assert out.stdout.endswith("141\n"), out
    root = ET.parse(report).getroot()
    assert root.get("tests") == "2"
    outs = [tc.find("system-out").text for tc in root.findall("testsuite/testcase")]
    assert "points checked: 3000" in outs[0] and "points checked: 1" in outs[1]


def test_an_unwritable_report_is_an_input_error(run, tmp_path):
    result = run("check", "x", "--at", "x=1", "--junit", str(tmp_path / "no" / "r.xml"))
    assert result.code == 2 and "cannot write" in result.stderr


# ---------------------------------------------------------------- reproducible JSON

def test_two_runs_of_a_spec_give_byte_identical_json(run, tmp_path):
    """The suite entries carried wall-clock seconds."""
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nname = 'a'\nexpr = 'sigmoid(x)'\nsamples = 50\nseed = 3\n"
                    "[[case]]\nname = 'b'\nexpr = 'x*exp(y)'\nat = [{x = 1, y = 2}, {x = 0, y = 1}]\n",
                    encoding="utf-8")
    a = run("check", "--spec", str(spec), "--format", "json")
    b = run("check", "--spec", str(spec), "--format", "json")
    assert a.code == 0 and a.stdout == b.stdout
    assert "seconds" not in a.stdout
    single = [run("check", "x^2", "--samples", "20", "--format", "json").stdout for _ in range(2)]
    assert single[0] == single[1]
