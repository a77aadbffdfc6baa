"""Tables never cut a number: every command's table at widths 0, 20, 40, 80 and 200.

For each command the JSON document says which numbers exist; the table output at
each width must show each of them whole (as tables round it: 6 to 10 significant
digits for values and gradients, 2 for errors), never a truncated prefix ("…"
beside a digit), never a number that the widest rendering does not also show
(a number cut at the right edge), and never nothing (COLUMNS=0 is 80).
"""

from __future__ import annotations

import re

import pytest

from autodiff_cli.render import format_number

from .conftest import ROOT, invoke

WIDTHS = (0, 20, 40, 80, 200)
LECTURE_AT = "θ0=1,θ1=1,x1=1,θ2=2,x2=2"
THETA = "t0=0.5,t1=-1.25,t2=0.3"
DATA = ("-f", "samples/logistic_program.adiff", "--data", "samples/logistic.csv", "--at", THETA)

COMMANDS = {
    "grad": ("grad", "-f", "samples/logistic_sigmoid.adiff", "--at", "t0=1,t1=1,x1=1,t2=2,x2=2"),
    "grad-fanout": ("grad", "-f", "samples/fanout.adiff", "--at", "x=0.123456789"),
    "diff": ("diff", "x*y + sin(x)", "--at", "x=1,y=2"),
    "jacobian": ("jacobian", "-f", "samples/polar.adiff", "--at", "r=2,theta=0.5"),
    "grad-data": ("grad", *DATA),
    "grad-per-example": ("grad", *DATA, "--per-example"),
    "check": ("check", "x*y + sin(x)", "--at", "x=1.2345678,y=-2.3456789"),
    "check-cases": ("check", "tanh(x)", "--samples", "4", "--range", "x=-3:3",
                    "--expect", "x=1 - tanh(x)"),
    "check-nodes": ("check", "-f", "samples/lecture.adiff", "--at", LECTURE_AT, "--nodes"),
    "check-spec": ("check", "--spec", "samples/grads.toml"),
    "check-data": ("check", *DATA),
    "trace": ("trace", "-f", "samples/lecture.adiff", "--at", LECTURE_AT),
    "trace-data": ("trace", *DATA),
}

# A number as a table prints it; not the digits of a name such as x1 or n10.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?")
CUT = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?…|…[-+]?\.?\d")
LEFT_OUT = re.compile(r"\(not shown for lack of width: ([^;]+);")

#: Which JSON numbers a column holds, for the columns a narrow table may leave out.
COLUMN_FIELDS = {"rel err": {"rel_error"}, "tolerance": {"tolerance"},
                 "local ∂node/∂input": {"local"}, "line": set(), "inputs": set(),
                 "point": set(), "value": set(), "x1": {"data"}, "x2": {"data"}, "y": {"data"},
                 "check": set()}


def run(args, width):
    result = invoke(*args, env={"COLUMNS": str(width)})
    assert result.code in (0, 1), result
    return result


def _numbers(doc, kinds: set[str]):
    """(value, digits allowed, field) for every number of the document a table shows."""
    values = range(6, 11)
    out = []

    def add(x, digits, field):
        if isinstance(x, float) and field not in kinds:
            out.append((x, digits, field))

    def per_input(d, field, digits):
        for v in (d.get(field) or {}).values():
            add(v, digits, field)

    several = "cases" in doc and len(doc["cases"]) > 1
    if "value" in doc and not isinstance(doc["value"], dict):
        add(doc["value"], values, "value")
    if "cases" not in doc:
        per_input(doc, "gradient", values)
    check = doc.get("check") or {}
    per_input(check, "gradient", values)
    per_input(check, "abs_error", (2,))
    per_input(check, "rel_error", (2,))
    if "jacobian" in doc:  # adiff jacobian: a value per output, a row per output
        per_input(doc, "value", values)
        for row in doc["jacobian"].values():
            for v in row.values():
                add(v, values, "jacobian")
    nodes = doc.get("nodes")
    for n in (nodes if isinstance(nodes, list) else []):
        add(n["value"], values, "value")
        add(n["grad"], values, "grad")
        for v in n.get("local") or []:
            add(v, values, "local")
    for p in doc.get("cases") or []:
        if not several and "suite" not in doc:
            add(p["value"], values, "value")
        if "suite" in doc:
            continue  # the suite table shows each case's summary, checked below
        per_input(p, "gradient", values)
        per_input(p, "numeric", values)
        per_input(p, "expected", values)
        per_input(p, "abs_error", (2,))
        per_input(p, "rel_error", (2,))
        per_input(p, "tolerance", (2,))
        for n in p.get("nodes") or []:
            add(n["grad"], values, "grad")
            add(n["numeric"], values, "numeric")
            add(n["abs_error"], (2,), "abs_error")
    for entry in doc.get("suite") or []:
        add(entry["rtol"], values, "rtol")
        add(entry["atol"], values, "atol")
    for ex in doc.get("examples") or []:
        add(ex["value"], values, "value")
        for v in ex["gradient"].values():
            add(v, values, "gradient")
        for v in ex["data"].values():
            add(v, values, "data")
    for f in doc.get("forward") or []:
        add(f["value"], values, "value")
    for s in doc.get("steps") or []:
        for field in ("upstream", "local", "contribution"):
            add(s[field], values, field)
    return out


def _shown(x: float, digits, tokens: set[str]) -> bool:
    return any(format_number(x, d) in tokens for d in digits)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_no_number_is_ever_cut(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = COMMANDS[name]
    doc = invoke(*args, "--format", "json").json()
    wide = run(args, 200).stdout
    assert not LEFT_OUT.search(" ".join(wide.split())), wide
    # A number shown at some width is shown at 200 too, or it is a rounding of a
    # number of the document (a narrow check table shows 7 digits instead of 9).
    known = set(NUMBER.findall(wide)) | {format_number(x, d) for x, digits, _ in
                                         _numbers(doc, set()) for d in digits}
    for width in WIDTHS:
        out = run(args, width).stdout
        assert out.strip(), f"width {width}: nothing printed"
        assert not CUT.search(out), f"width {width}: a cut number\n{out}"
        tokens = set(NUMBER.findall(out))
        assert tokens <= known, (width, tokens - known, out)
        left_out = set()
        for match in LEFT_OUT.finditer(" ".join(out.split())):  # the note may wrap
            for header in match.group(1).split(", "):
                left_out |= COLUMN_FIELDS[header]
        missing = [(x, field) for x, digits, field in _numbers(doc, left_out)
                   if not _shown(x, digits, tokens)]
        assert not missing, (width, missing[:5], out)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_columns_0_is_an_unknown_width_not_an_empty_table(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert run(COMMANDS[name], 0).stdout == run(COMMANDS[name], 80).stdout


def test_the_readme_first_command_piped_shows_its_gradients_whole(monkeypatch):
    """80 columns (a pipe): the gradient table keeps every column and every digit."""
    monkeypatch.chdir(ROOT)
    out = run(COMMANDS["grad"], 80).stdout
    assert out.count("-0.002472623157") == 3 and out.count("-0.004945246313") == 2, out
    assert out.count("-0.004945246312") == 2 and out.count("6.8e-09") == 3, out
    assert "…" not in out and "not shown" not in out


def test_a_table_too_wide_for_the_terminal_is_stacked_with_whole_numbers(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = run(COMMANDS["grad"], 40).stdout
    lines = out.splitlines()
    k = lines.index("input: t2")
    assert lines[k:k + 8] == ["input: t2", "  value: 2", "  ∂f/∂input (reverse mode): ",
                              "-0.004945246313", "  central diff.: -0.004945246312",
                              "  abs err: 1.2e-12", "  rel err: 2.5e-10", "  ✓ agree"]


def test_columns_left_out_are_named(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = run(COMMANDS["check-cases"], 80).stdout
    assert "(not shown for lack of width: rel err, tolerance; --format json has every value)" \
        in out, out
    header = next(line for line in out.splitlines() if line.startswith("#  point"))
    assert header.split() == ["#", "point", "input", "reverse", "mode", "numeric", "expected",
                              "abs", "err", "status"]


def test_a_long_point_is_clipped_between_bindings(run):
    """30 inputs: the point column shows whole bindings, then "…" (the JSON has them all)."""
    formula = " + ".join(f"v{k}*v{k}" for k in range(30))
    result = run("check", formula, "--samples", "2", env={"COLUMNS": "120"})
    assert result.code == 0, result
    doc = run("check", formula, "--samples", "2", "--format", "json").json()
    bindings = {", ".join(f"{k}={format_number(v, 4)}" for k, v in p["at"].items())
                for p in doc["cases"]}
    points = re.findall(r"^\d  (v0=.*?…)", result.stdout, flags=re.M)
    assert len(points) >= 2, result.stdout
    for point in points:
        assert re.fullmatch(r"(v\d+=-?\d\.\d+(e-\d+)?, )+…", point), point
        assert any(b.startswith(point[:-1]) for b in bindings), point


def test_labels_are_clipped_but_the_json_has_them_whole(run):
    label = "a_really_long_intermediate_name_" * 3
    result = run("grad", f"{label} = x*y; {label} + 1", "--at", "x=1.5,y=2.5",
                 env={"COLUMNS": "80"})
    assert label not in result.stdout and label[:8] in result.stdout
    assert "3.75" in result.stdout and "4.75" in result.stdout
    doc = run("grad", f"{label} = x*y; {label} + 1", "--at", "x=1.5,y=2.5",
              "--format", "json").json()
    assert label in [n["label"] for n in doc["nodes"]]
