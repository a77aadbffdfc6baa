"""Training over N examples (--data): the loss summed over the rows of a data file (issue 6)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from autodiff_cli.cli import options as cli
from autodiff_cli.core.ops import FUNCTIONS, OPS
from autodiff_cli.data import batch
from autodiff_cli.data.reader import DEFAULT_CHUNK_ROWS

from .conftest import ROOT, invoke

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_logistic_csv import rows as logistic_rows  # noqa: E402

SAMPLE = "samples/logistic.csv"
LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
THETA = {"t0": 0.3, "t1": -0.7, "t2": 0.45}
AT = ",".join(f"{k}={v}" for k, v in THETA.items())


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def grad_json(*args, input=None):
    result = invoke("grad", *args, "--format", "json", input=input)
    assert result.code == 0, result
    return result.json()


def sample_rows() -> list[dict[str, float]]:
    with open(ROOT / SAMPLE, encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.fixture
def chdir_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# ---------------------------------------------------------------- the lecture's point

def test_per_example_contributions_sum_to_the_total(chdir_root):
    doc = grad_json(LOSS, "--data", SAMPLE, "--at", AT, "--per-example")
    examples = doc["examples"]
    assert len(examples) == doc["data"]["rows"] == len(sample_rows()) == 12
    assert [e["row"] for e in examples] == list(range(1, 13))
    assert [e["line"] for e in examples] == list(range(2, 14))
    # L = L1 + L2 + ... and dL/dθ = dL1/dθ + dL2/dθ + ...
    assert rel(math.fsum(e["value"] for e in examples), doc["value"]) < 1e-13
    for name in THETA:
        assert rel(math.fsum(e["gradient"][name] for e in examples), doc["gradient"][name]) < 1e-13
    # Each row's entry is that row: its data and its own loss.
    for e, row in zip(examples, sample_rows()):
        assert e["data"] == {"y": row["y"], "x1": row["x1"], "x2": row["x2"]}
        z = THETA["t0"] + THETA["t1"] * row["x1"] + THETA["t2"] * row["x2"]
        p = 1 / (1 + math.exp(-z))
        assert rel(e["value"], -(row["y"] * math.log(p) + (1 - row["y"]) * math.log(1 - p))) < 1e-12
        assert rel(e["gradient"]["t1"], (p - row["y"]) * row["x1"]) < 1e-9


def test_summed_gradient_equals_the_sum_of_single_row_grad_results(chdir_root):
    total = grad_json(LOSS, "--data", SAMPLE, "--at", AT)
    singles = []
    for row in sample_rows():
        at = ",".join(f"{k}={v!r}" for k, v in {**THETA, **row}.items())
        singles.append(grad_json(LOSS, "--at", at))
    assert rel(math.fsum(s["value"] for s in singles), total["value"]) < 1e-12
    for name in THETA:
        assert rel(math.fsum(s["gradient"][name] for s in singles), total["gradient"][name]) < 1e-12
    assert set(total["gradient"]) == set(THETA) == set(total["at"])
    assert total["check"]["ok"] is True


def test_mean_is_the_sum_divided_by_the_rows(chdir_root):
    summed = grad_json(LOSS, "--data", SAMPLE, "--at", AT)
    mean = grad_json(LOSS, "--data", SAMPLE, "--at", AT, "--reduce", "mean", "--per-example")
    n = summed["data"]["rows"]
    assert mean["data"]["reduce"] == "mean" and summed["data"]["reduce"] == "sum"
    assert rel(mean["value"] * n, summed["value"]) < 1e-14
    for name in THETA:
        assert rel(mean["gradient"][name] * n, summed["gradient"][name]) < 1e-14
        assert rel(math.fsum(e["gradient"][name] for e in mean["examples"]) / n,
                   mean["gradient"][name]) < 1e-13
    assert mean["check"]["ok"] is True


def test_shared_subexpressions_and_a_constant_output():
    # exp(t) and t^2 are shared by every row: their gradients are summed over the rows.
    data = "x\n1\n3\n-2.5\n"
    doc = grad_json("exp(t)*x + t^2", "--data", "-", "--at", "t=0.5", input=data)
    xs, t, n = [1, 3, -2.5], 0.5, 3
    assert rel(doc["value"], math.exp(t) * sum(xs) + n * t * t) < 1e-15
    assert rel(doc["gradient"]["t"], math.exp(t) * sum(xs) + 2 * n * t) < 1e-15
    nodes = {d["id"]: d for d in doc["nodes"]}
    assert nodes["n1"]["op"] == "exp" and nodes["n1"]["varies"] is False
    assert rel(nodes["n1"]["grad"], sum(xs)) < 1e-15  # dL/d exp(t) = sum of the x's
    # A formula that uses no column is the same in every row: L = N f.
    result = invoke("grad", "t^2", "--data", "-", "--at", "t=3", "--format", "json", input=data)
    assert result.code == 0, result
    assert result.json()["value"] == 27.0 and result.json()["gradient"] == {"t": 18.0}
    assert "uses no column" in result.stderr


# ---------------------------------------------------------------- chunks

def _write_logistic(path, n, seed=3, trailing_newline=True):
    text = "x1,x2,y\n" + "".join(logistic_rows(n, seed, 6))
    path.write_text(text if trailing_newline else text.rstrip("\n"), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_chunked_and_unchunked_agree(tmp_path, trailing_newline):
    path = _write_logistic(tmp_path / "d.csv", 2003, trailing_newline=trailing_newline)
    at = "t0=0.2,t1=1.5,t2=-0.8"
    whole = grad_json(LOSS, "--data", path, "--at", at, "--no-check", "--chunk-size", "1000000")
    assert whole["data"]["rows"] == 2003
    for size in ("1", "7", "500", "2002", "2003"):
        part = grad_json(LOSS, "--data", path, "--at", at, "--no-check", "--chunk-size", size)
        assert part["data"]["rows"] == 2003
        assert rel(part["value"], whole["value"]) < 1e-12, size
        for name in ("t0", "t1", "t2"):
            assert rel(part["gradient"][name], whole["gradient"][name]) < 1e-12, (size, name)
        # Every node's summed gradient too, not just the parameters'.
        for a, b in zip(part["nodes"], whole["nodes"]):
            if b["grad"] is not None:
                assert rel(a["grad"], b["grad"]) < 1e-12, (size, b["id"])


def test_chunked_and_unchunked_agree_through_the_library(tmp_path):
    from autodiff_cli.data.reader import DataFile
    from autodiff_cli.language.parser import parse

    path = _write_logistic(tmp_path / "d.csv", 1500, seed=9)
    graph = parse(LOSS)
    results = []
    for size in (1500, 64, 3):
        setup = batch.Setup(graph, THETA, DataFile(path, chunk_rows=size))
        results.append(batch.run(setup, details=True, edges=True))
    for other in results[1:]:
        assert other.rows == 1500
        assert rel(other.value, results[0].value) < 1e-12
        for name in THETA:
            assert rel(other.gradient[name], results[0].gradient[name]) < 1e-12
        for k, v in results[0].edges.items():
            assert rel(other.edges[k], v) < 1e-12


def test_the_cli_default_chunk_size_is_the_readers():
    assert cli.DATA_CHUNK_ROWS == DEFAULT_CHUNK_ROWS


# ---------------------------------------------------------------- bad data

BAD = [
    # (file name, content, extra args, "line:column", words in the message)
    ("nonnum.csv", "x,y\n1,2\n3,abc\n", (), "3:3", "'abc' in column y is not a number"),
    ("ragged.csv", "x,y\n1,2\n3\n", (), "3:2", "this row has 1 cell, the header has 2"),
    ("ragged_more.csv", "x,y\n1,2\n3,4,5\n", (), "3:5", "this row has 3 cells, the header has 2"),
    ("wider_than_header.csv", "x,y\n1,2,3\n4,5,6\n", (), "2:5", "this row has 3 cells"),
    # An unused column: loadtxt reads a subset, so the cells of each line are counted first.
    ("ragged_unused.csv", "x,y,z\n1,2,3\n4,5\n6,7,8\n", (), "3:4", "this row has 2 cells"),
    ("ragged_compensated.csv", "x,y,z\n1,2,3,9\n4,5\n", (), "2:7", "this row has 4 cells"),
    ("missing.csv", "x\n1\n2\n", (), "1:1", "the formula needs 'y'"),
    ("empty.csv", "", (), "1:1", "the data file is empty"),
    ("header_only.csv", "x,y\n", (), "2:1", "a header but no rows"),
    ("blank_inside.csv", "x,y\n1,2\n\n3,4\n", (), "3:1", "blank line inside the data"),
    ("nan.csv", "x,y\n1,2\n1,nan\n", (), "3:3", "'nan' in column y is not a finite number"),
    ("huge.csv", "x,y\n1,1e999\n", (), "2:3", "too large"),
    ("empty_cell.csv", "x,y\n1,\n", (), "2:3", "the cell of column y is empty"),
    ("duplicate.csv", "x,x,y\n1,2,3\n", (), "1:3", "names column 'x' twice"),
    ("unnamed.csv", "x,,y\n1,2,3\n", (), "1:3", "column 2 of the header has no name"),
    ("utf8.csv", b"x,y\n1,2\n3,\xff\n", (), "3:3", "not valid UTF-8"),
    ("quote.csv", 'x,y\n1,"2\n', (), "2:3", "a quoted cell is not closed"),
    ("column_is_param.csv", "x,y,a\n1,2,3\n", (), "1:5", "'a' is a column"),
    ("tabs.tsv", "x\ty\n1\tz\n", (), "2:3", "'z' in column y is not a number"),
    ("semicolons.txt", "x;y\n1;2\n2;q\n", ("--delimiter", ";"), "3:3", "'q' in column y"),
]


@pytest.mark.parametrize("name, content, extra, where, words", BAD, ids=[b[0] for b in BAD])
def test_bad_data_is_an_input_error_at_file_line_column(tmp_path, name, content, extra, where,
                                                        words):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = invoke("grad", "a*x + log(y)", "--data", str(path), "--at", "a=2", *extra)
    assert result.code == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {path}:{where}: "), result.stderr
    assert words in result.stderr


@pytest.mark.parametrize("size", ["1000", "7", "1"])
def test_a_bad_cell_far_down_is_found_in_its_chunk(tmp_path, size):
    # The fast path parses whole chunks; the error must still name the right line.
    lines = ["x,y"] + [f"{k},{k + 1}" for k in range(1, 301)]
    lines[250] = "250,oops"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("grad", "a*x + y", "--data", str(path), "--at", "a=1", "--chunk-size", size)
    assert result.code == 2, result
    assert result.stderr.startswith(f"Error: {path}:251:5: 'oops' in column y is not a number")


def test_trailing_blank_lines_crlf_quotes_and_stdin_are_fine(tmp_path):
    ok = {"trailing.csv": "x,y\n1,2\n3,4\n\n\n", "crlf.csv": "x,y\r\n1,2\r\n3,4\r\n",
          "quoted.csv": 'x,"y"\n"1",2\n3,"4"\n', "extra_text_column.csv": "x,name,y\n1,ann,2\n3,bob,4\n"}
    for name, text in ok.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        doc = grad_json("a*x + y", "--data", str(tmp_path / name), "--at", "a=2")
        assert doc["value"] == 2 * 4 + 6 and doc["gradient"] == {"a": 4.0}, name
    doc = grad_json("a*x + y", "--data", "-", "--at", "a=2", input="x\ty\n1\t2\n3\t4\n")
    assert doc["value"] == 14.0 and doc["data"]["file"] == "<stdin>"


def test_option_errors():
    r = invoke("grad", "x", "--at", "x=1", "--reduce", "mean")
    assert r.code == 2 and "--reduce needs --data FILE" in r.stderr
    r = invoke("grad", "x", "--at", "x=1", "--per-example")
    assert r.code == 2 and "--per-example needs --data FILE" in r.stderr
    r = invoke("grad", "-", "--data", "-", "--at", "a=1", input="x\n1\n")
    assert r.code == 2 and "cannot come from there too" in r.stderr
    r = invoke("grad", "a*x", "--data", f"{ROOT}/{SAMPLE}", "--at", "a=1", "--wrt", "x1")
    assert r.code == 2
    r = invoke("grad", "a*x1", "--data", f"{ROOT}/{SAMPLE}", "--at", "a=1", "--wrt", "x1")
    assert r.code == 2 and "x1 is a column" in r.stderr
    r = invoke("grad", "a*x1", "--data", f"{ROOT}/{SAMPLE}", "--at", "a=1", "--delimiter", "ab")
    assert r.code == 2 and "--delimiter 'ab'" in r.stderr
    r = invoke("grad", "a*x1", "--data", "/nonexistent/d.csv", "--at", "a=1")
    assert r.code == 2 and r.stderr == "Error: cannot read /nonexistent/d.csv: no such file\n"
    r = invoke("check", "a*x1", "--data", f"{ROOT}/{SAMPLE}", "--at", "a=1", "--samples", "3")
    assert r.code == 2 and "--samples cannot be combined with --data" in r.stderr
    r = invoke("check", "a*x1", "--data", f"{ROOT}/{SAMPLE}", "--at", "a=1", "--method", "complex")
    assert r.code == 2 and "--method complex is not available with --data" in r.stderr


def test_per_example_refuses_large_files(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "PER_EXAMPLE_ROWS", 10)
    path = _write_logistic(tmp_path / "d.csv", 11)
    r = invoke("grad", LOSS, "--data", path, "--at", AT, "--per-example", "--chunk-size", "4")
    assert r.code == 2 and "more than 10 rows" in r.stderr


# ---------------------------------------------------------------- evaluation errors

def test_a_domain_error_names_the_node_and_the_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x\n5\n4\n3\n1\n0.5\n", encoding="utf-8")
    for size in ("100", "2"):
        r = invoke("grad", "log(x - a)", "--data", str(path), "--at", "a=2", "--chunk-size", size)
        assert r.code == 3, r
        first = r.stderr.splitlines()[0]
        assert first == (f"Error: log is not defined at x - a = -1 (row 4 of {path}, line 5): "
                         "it needs x > 0 (at node n3)"), first


def test_a_non_finite_gradient_names_the_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x\n4\n1\n0\n2\n", encoding="utf-8")
    r = invoke("grad", "sqrt(x*t)", "--data", str(path), "--at", "t=1", "--chunk-size", "2")
    assert r.code == 3, r
    assert "the gradient is not finite" in r.stderr
    assert f"(in row 3 of {path}, line 4)" in r.stderr


def test_kinks_are_counted_over_the_rows():
    r = invoke("grad", "relu(t*x)", "--data", "-", "--at", "t=1", "--format", "json",
               input="x\n1\n0\n-1\n0\n")
    assert r.code == 0, r
    assert r.json()["kinks"][0]["rows"] == 2
    assert "is at its kink (relu) in 2 rows (the first: row 2" in r.stderr
    assert r.json()["check"]["status"] == {"t": "kink"}


# ---------------------------------------------------------------- trace and check

def test_trace_shows_the_summation_step(chdir_root):
    r = invoke("trace", LOSS, "--data", SAMPLE, "--at", AT, "--format", "json")
    assert r.code == 0, r
    doc = r.json()
    grad = grad_json(LOSS, "--data", SAMPLE, "--at", AT)
    assert doc["gradient"] == grad["gradient"]
    steps = doc["steps"]
    nodes = {n["id"]: n for n in grad["nodes"]}
    # The summation steps are exactly the edges from a per-row value into a parameter.
    summation = {(s["node"], s["to"]) for s in steps if s["summation"]}
    expected = {(n["id"], j) for n in grad["nodes"] if n["varies"] for j in n["inputs"]
                if nodes[j]["op"] == "var" and not nodes[j]["varies"]}
    assert summation == expected and len(summation) == 6
    # Each value's gradient is the sum of the contributions it receives.
    for entry in doc["sums"]:
        total = math.fsum(c["value"] for c in entry["contributions"])
        assert rel(total, entry["grad"]) < 1e-12, entry["node"]
        assert rel(entry["grad"], nodes[entry["node"]]["grad"]) < 1e-12
    # And the rows are there: L = L1 + ... + L12.
    assert len(doc["examples"]) == 12
    assert rel(math.fsum(e["value"] for e in doc["examples"]), doc["value"]) < 1e-13


def test_trace_table_marks_the_summation(chdir_root):
    r = invoke("trace", "-f", "samples/logistic_program.adiff", "--data", SAMPLE, "--at", AT)
    assert r.code == 0, r
    assert r.stdout.count("← Σ over the rows") == 3 + 1  # three parameter edges, and the legend
    assert "Examples: L = L1 + … + L12, and ∂L/∂θ = ∂L1/∂θ + … + ∂L12/∂θ" in r.stdout


def test_trace_of_a_shared_subexpression_adds_up():
    r = invoke("trace", "exp(t)*x + t^2", "--data", "-", "--at", "t=0.5", "--format", "json",
               input="x\n1\n3\n")
    assert r.code == 0, r
    doc = r.json()
    sums = {s["node"]: s for s in doc["sums"]}
    t = sums["n0"]
    assert rel(math.fsum(c["value"] for c in t["contributions"]), doc["gradient"]["t"]) < 1e-15
    assert rel(doc["gradient"]["t"], math.exp(0.5) * 4 + 2 * 2 * 0.5) < 1e-15


def test_check_data_agrees(chdir_root):
    r = invoke("check", LOSS, "--data", SAMPLE, "--at", AT, "--format", "json")
    assert r.code == 0, r
    doc = r.json()
    assert doc["ok"] is True and doc["data"]["rows"] == 12
    (case,) = doc["cases"]
    grad = grad_json(LOSS, "--data", SAMPLE, "--at", AT)
    assert case["gradient"] == grad["gradient"]
    assert set(case["status"].values()) == {"ok"}
    r = invoke("check", LOSS, "--data", SAMPLE, "--at", AT, "--method", "richardson")
    assert r.code == 0 and "L = the sum of f over the 12 rows of samples/logistic.csv" in r.stdout


def test_check_data_catches_a_wrong_array_rule(chdir_root, monkeypatch):
    # A wrong local derivative for sigmoid, planted as a formula (so in every backend's
    # form, the NumPy one --data uses included), must make check --data fail, and grad warn.
    sigmoid = OPS["sigmoid"]
    wrong = sigmoid.replace(d=("1.1*out*(1 - out)",))
    monkeypatch.setitem(FUNCTIONS["sigmoid"], 1, wrong)
    r = invoke("check", LOSS, "--data", SAMPLE, "--at", AT, "--format", "json")
    assert r.code == 1, r
    assert set(r.json()["cases"][0]["status"].values()) == {"mismatch"}
    r = invoke("grad", LOSS, "--data", SAMPLE, "--at", AT)
    assert r.code == 0 and "finite differences disagree with reverse mode" in r.stderr


# ---------------------------------------------------------------- the op table's array forms

_POINTS = (-2.5, -1.2, -1.0, -0.7, -0.3, 0.0, 0.4, 0.9, 1.0, 1.5, 3.0)


def _arg_sets(op):
    if op.arity is None:
        return [xs for xs in itertools.product(_POINTS[::2], repeat=3)] + [(p,) for p in _POINTS]
    return list(itertools.product(_POINTS, repeat=op.arity))


def _float_forms(op, args):
    """(value or None when outside the domain, locals with nan where the rule fails, kink)."""
    try:
        v = op.value(*args)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None, None, None
    if not math.isfinite(v):
        return None, None, None
    try:
        loc = tuple(float(x) for x in op.local(*args, v))
    except (ValueError, ZeroDivisionError, OverflowError):
        loc = (math.nan,) * len(args)
    return v, loc, (bool(op.kink(*args)) if op.kink else None)


OPERATIONS = [op for op in OPS.values() if op.kind != "leaf"]


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_op_has_array_forms_that_match_its_float_forms(op):
    sets = _arg_sets(op)
    k = len(sets[0]) if op.arity is not None else None
    groups = [sets] if k is not None else [[s for s in sets if len(s) == n] for n in (1, 3)]
    checked = 0
    for group in groups:
        cols = [np.array(c) for c in zip(*group)]
        # Every argument an array; and each argument in turn a float shared by every row.
        variants = [cols] + [[float(group[0][m]) if q == m else c for q, c in enumerate(cols)]
                             for m in range(len(cols)) if len(cols) > 1]
        for variant in variants:
            with np.errstate(all="ignore"):
                values = np.asarray(op.array_value(np, *variant), dtype=float)
                local = [np.broadcast_to(np.asarray(x, dtype=float), values.shape)
                         for x in op.array_local(np, *variant, values)]
                kink = None if op.kink is None else \
                    np.broadcast_to(np.asarray(op.array_kink(np, *variant)), values.shape)
            assert values.shape == (len(group),)
            for r in range(len(group)):
                args = tuple(float(c) if isinstance(c, float) else float(c[r]) for c in variant)
                v, loc, knk = _float_forms(op, args)
                if v is None:
                    # Outside the domain: the array form must not give a finite value
                    # (the engine turns a non-finite one into the error for the row).
                    assert not math.isfinite(values[r]), (op.name, args, values[r])
                    continue
                checked += 1
                assert values[r] == pytest.approx(v, rel=1e-12, abs=1e-300), (op.name, args)
                for lf, la in zip(loc, (x[r] for x in local)):
                    assert math.isfinite(lf) == math.isfinite(la), (op.name, args, lf, la)
                    if math.isfinite(lf):
                        assert la == pytest.approx(lf, rel=1e-11, abs=1e-15), (op.name, args)
                if kink is not None:
                    assert bool(kink[r]) == knk, (op.name, args)
    assert checked >= 3, op.name


def test_ops_module_does_not_import_numpy():
    source = (ROOT / "autodiff_cli" / "core" / "ops.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import numpy|from numpy)", source, flags=re.M)
    package = ROOT / "autodiff_cli"
    modules = [package / "calculus" / "engine.py", *sorted((package / "cli").glob("*.py")),
               *sorted((package / "documents").glob("*.py"))]
    assert len(modules) > 10  # the command line's and the documents' modules are there
    for path in modules:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^(import numpy|from numpy)", text, flags=re.M), path.name


# ---------------------------------------------------------------- start-up, progress, docs

def _imported(args):
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autodiff_cli", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    modules = {m.group(1) for m in re.finditer(r"import time:\s*\d+\s*\|\s*\d+\s*\|\s*(\S+)",
                                               proc.stderr)}
    return proc, modules


def test_numpy_is_imported_only_in_data_mode():
    proc, modules = _imported(["grad", "x", "--at", "x=1", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] == 1.0
    assert "click" in modules and "autodiff_cli.language.parser" in modules  # the measurement works
    assert not any(m == "numpy" or m.startswith("numpy.") for m in modules)
    # The counterpart, so that the assertion above can fail.
    proc, modules = _imported(["grad", "a*x1", "--data", SAMPLE, "--at", "a=1", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "numpy" in modules


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(tmp_path):
    from autodiff_cli.data.reader import DataFile
    from autodiff_cli.render.progress import RowProgress

    path = _write_logistic(tmp_path / "d.csv", 50)
    data = DataFile(path, chunk_rows=10)
    shown = _Terminal()
    bar = RowProgress(data, stream=shown, delay=0.0)
    quiet = io.StringIO()
    silent = RowProgress(data, stream=quiet, delay=0.0)
    for chunk in data.chunks(["x1"]):
        bar(chunk.first + chunk.rows)
        silent(chunk.first + chunk.rows)
    bar.close()
    silent.close()
    assert "rows" in shown.getvalue() and quiet.getvalue() == ""
    # Through the CLI, stderr is not a terminal: warnings only, no bar.
    r = invoke("grad", LOSS, "--data", path, "--at", AT, "--format", "json", "--chunk-size", "5")
    assert r.code == 0 and r.stderr == ""


README_COMMAND = ("adiff grad \"-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + "
                  "t1*x1 + t2*x2)))\" --data samples/logistic.csv --at t0=0,t1=0,t2=0")


def test_the_readme_example_runs(chdir_root):
    import shlex

    argv = shlex.split(README_COMMAND)[1:]
    r = invoke(*argv, env={"COLUMNS": "100"})
    assert r.code == 0, r
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[1] == "L = the sum of f over the 12 rows of samples/logistic.csv (columns y, x1, x2)"
    # At θ = 0 every row's loss is log 2, and dL/dθ0 = Σ (1/2 - y) = 12/2 - 5.
    assert lines[2].startswith("value 8.317766167   at t0 = 0, t1 = 0, t2 = 0")
    assert 12 * math.log(2) == pytest.approx(8.317766167, abs=1e-9)
    assert re.search(r"t0\s+0\s+1\s+1\s+\S+\s+\S+\s+✓ agree", r.stdout)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if "## Training over N examples" in readme:  # once merged, test_docs compares every line
        assert f"$ {README_COMMAND}" in readme
