"""The plan of a plain pass over the data: equal subexpressions computed once (issue 14's
speed), with the formula's own numbers, kinks and messages."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import pytest

from autodiff_cli.core.graph import merged
from autodiff_cli.core.ops import OPS
from autodiff_cli.data import batch
from autodiff_cli.data.reader import DataFile
from autodiff_cli.language.parser import parse

from .conftest import ROOT, invoke

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
SHARED = "p = sigmoid(t0 + t1*x1 + t2*x2); -(y*log(p) + (1-y)*log(1-p))"
THETA = {"t0": 0.3, "t1": -0.7, "t2": 0.45}
SAMPLE = str(ROOT / "samples" / "logistic.csv")


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


# ---------------------------------------------------------------- core.graph.merged

def test_the_loss_merges_its_second_sigmoid():
    g = parse(LOSS)
    m, new_id = merged(g)
    assert len(g) == 26 and len(m) == 20
    # The second copy of t1*x1 + t2*x2 ... sigmoid(...) is the first one's nodes.
    sigmoids = [i for i in range(len(g)) if g.ops[i].name == "sigmoid"]
    assert len(sigmoids) == 2 and new_id[sigmoids[0]] == new_id[sigmoids[1]]
    assert [m.ops[i].name for i in range(len(m))].count("sigmoid") == 1
    assert m.variables.keys() == g.variables.keys()
    assert m.output == new_id[g.output] == len(m) - 1
    # the two constants 1 are one node; 1 - y and 1 - sigmoid stay apart
    assert sum(1 for i in m.consts) == 1
    assert [m.ops[i].name for i in range(len(m))].count("sub") == 2
    # the merged node keeps the first copy's span
    k = new_id[sigmoids[1]]
    assert (m.starts[k], m.ends[k]) == (g.starts[sigmoids[0]], g.ends[sigmoids[0]])


def test_nothing_to_merge_is_the_graph_itself():
    g = parse("x*y + sin(x)")
    m, new_id = merged(g)
    assert m is g and new_id == list(range(len(g)))


@pytest.mark.parametrize("formula, nodes", [
    ("x*0.0 + x*-0.0", 6),       # -0.0 is not 0.0: x*-0.0 is -0 for x > 0
    ("x*1 + x*1.0", 4),          # the same number however written
    ("x - y + (y - x)", 5),      # the order of the inputs matters
    ("max(x, y) + max(x, y, x)", 5),
    ("sin(x) + sin(x) + sin(x)", 4),
])
def test_what_is_equal(formula, nodes):
    m, _ = merged(parse(formula))
    assert len(m) == nodes


def test_several_outputs_are_mapped():
    g = parse("a = sin(x)*y; sin(x), a, sin(x)*y")
    m, new_id = merged(g)
    assert m.outputs == tuple(new_id[k] for k in g.outputs)
    assert m.outputs[1] == m.outputs[2]
    assert m.output_names == g.output_names


def test_a_long_formula_merges_in_a_loop():
    # 20,000 copies of sin(x): no recursion, one node each way
    g = parse(" + ".join(["sin(x)"] * 20_000))
    m, _ = merged(g)
    assert len(m) == 2 + 19_999


# ---------------------------------------------------------------- passes over the data

def _setup(formula, path, at, chunk_rows=7):
    return batch.Setup(parse(formula), at, DataFile(path, chunk_rows=chunk_rows))


def test_the_plain_pass_gives_the_formulas_numbers():
    plain = batch.run(_setup(LOSS, SAMPLE, THETA))
    nodes = batch.run(_setup(LOSS, SAMPLE, THETA), details=True)  # the formula's own nodes
    shared = batch.run(_setup(SHARED, SAMPLE, THETA))
    assert plain.value == nodes.value == shared.value  # the same floats, forward
    for name in THETA:
        assert rel(plain.gradient[name], nodes.gradient[name]) < 1e-14
        assert rel(plain.gradient[name], shared.gradient[name]) < 1e-14
    assert len(_setup(LOSS, SAMPLE, THETA).plan().graph) == 20
    assert len(_setup(SHARED, SAMPLE, THETA).plan().graph) == len(parse(SHARED)) - 1  # the 1s
    assert _setup("t*x1 + x2", SAMPLE, {"t": 1.0}).plan().same is True


def test_a_kink_is_reported_at_every_copy(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n0\n-1\n0\n", encoding="utf-8")
    g = parse("relu(t*x) + relu(t*x)")
    relus = [i for i in range(len(g)) if g.ops[i].name == "relu"]
    plain = batch.run(_setup("relu(t*x) + relu(t*x)", str(path), {"t": 1.0}, 2))
    nodes = batch.run(_setup("relu(t*x) + relu(t*x)", str(path), {"t": 1.0}, 2), details=True)
    assert plain.kinks == nodes.kinks == relus
    assert plain.kink_rows == nodes.kink_rows
    assert plain.kink_rows[relus[1]][0] == 2


def test_a_domain_error_in_a_copy_names_the_formulas_node(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x\n5\n4\n3\n1\n0.5\n", encoding="utf-8")
    formula = "sin(x) + sin(x) + log(x - a) + log(x - a)"
    # plain and unchecked: the one pass is a plain one, through the plan
    r = invoke("grad", formula, "--data", str(path), "--at", "a=2", "--chunk-size", "2",
               "--format", "plain", "--no-check")
    assert r.code == 3, r
    first = r.stderr.splitlines()[0]
    # n6 is the formula's first log; in the merged graph it has another number
    g = parse(formula)
    m, new_id = merged(g)
    logs = [i for i in range(len(g)) if g.ops[i].name == "log"]
    assert logs[0] == 6 and new_id[logs[0]] != 6
    assert first == (f"Error: log is not defined at x - a = -1 (row 4 of {path}, line 5): "
                     "it needs x > 0 (at node n6)"), first


def test_a_gradient_failure_in_a_copy_names_the_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x\n4\n1\n0\n2\n", encoding="utf-8")
    r = invoke("grad", "sqrt(x*t) + sqrt(x*t)", "--data", str(path), "--at", "t=1",
               "--chunk-size", "2", "--format", "plain", "--no-check")
    assert r.code == 3, r
    assert "the gradient is not finite" in r.stderr
    assert f"(in row 3 of {path}, line 4)" in r.stderr


def test_the_plan_goes_to_the_workers_unpickled():
    import pickle

    setup = _setup(LOSS, SAMPLE, THETA)
    setup.plan()
    copy = pickle.loads(pickle.dumps(setup))
    assert copy._plan is None  # made again where it is used
    assert len(copy.plan().graph) == 20


# ---------------------------------------------------------------- sigmoid over an array

def test_sigmoid_over_an_array_is_the_two_branch_form():
    a = np.array([0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 36.0, -36.0, 40.0, -745.0, -746.0,
                  710.0, -710.0, np.inf, -np.inf, np.nan, 1e308, -1e308])
    a = np.concatenate([a, np.random.default_rng(7).normal(scale=30.0, size=10_000)])
    keep = a.copy()
    got = OPS["sigmoid"].array_value(np, a)
    z = np.exp(-np.abs(a))
    with np.errstate(all="ignore"):
        want = np.where(a >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))
    assert np.array_equal(got, want, equal_nan=True)
    # zeros keep their sign too (a NaN's sign bit is not part of its value: IEEE 754 leaves
    # it unspecified, and the engine refuses a NaN whatever its sign)
    number = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[number]), np.signbit(want[number]))
    assert np.array_equal(a, keep, equal_nan=True)  # the input is left alone
    assert got is not a


# ---------------------------------------------------------------- the heap kept between chunks

@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.parametrize("variable", [None, "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"])
def test_data_mode_keeps_the_freed_heap_unless_the_environment_says(variable):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if variable:
        env[variable] = "131072"
    code = ("from autodiff_cli.data.reader import DataFile, keep_freed_heap; "
            f"DataFile({SAMPLE!r}); print(keep_freed_heap())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ("False" if variable else "True")


# ---------------------------------------------------------------- inf and nan tested where they could be lost

def test_the_loss_tests_its_values_before_sigmoid_and_at_the_output_only():
    from autodiff_cli.calculus.engine import checked_nodes

    m, _ = merged(parse(LOSS))
    checked = checked_nodes(m)
    assert [m.ops[i].name for i in range(len(m)) if checked[i] and m.inputs[i]] == ["add", "neg"]
    assert m.ops[m.inputs[[i for i in range(len(m)) if m.ops[i].name == "sigmoid"][0]][0]].name \
        == "add"


@pytest.mark.parametrize("seed", range(6))
def test_testing_fewer_nodes_finds_the_same_first_bad_node(seed):
    """forward_array testing only ``checked_nodes`` gives what testing every node gives:
    the same values, or the same error naming the same node and row, on random formulas
    over columns that leave the domains (zeros, negatives, huge values)."""
    import random

    from autodiff_cli.calculus.engine import checked_nodes, forward_array
    from autodiff_cli.errors import EvalError

    from .formulas import formula

    rng = random.Random(seed)
    data_rng = np.random.default_rng(seed)
    columns = {name: data_rng.choice([0.0, -1.0, 1e300, -1e300, 2.0, -0.0, 0.5, 800.0, -800.0],
                                     size=64)
               for name in ("x", "y", "z")}
    errors = 0
    for _ in range(150):
        g = parse(formula(rng, depth=5, piecewise=True))
        varies = [False] * len(g)
        for i, ins in enumerate(g.inputs):
            varies[i] = any(varies[j] for j in ins) if ins else g.ops[i].name == "var"
        if not varies[g.output]:
            continue
        needs = [False] * len(g)
        outcome = []
        for checked in (None, checked_nodes(g)):
            values = [0.0] * len(g)
            for i, v in g.consts.items():
                values[i] = v
            for name, i in g.variables.items():
                values[i] = columns[name]
            try:
                forward_array(g, values, np, varies, needs, local=False, checked=checked)
                outcome.append(("ok", values[g.output]))
            except EvalError as exc:
                outcome.append(("error", exc.message))
        (kind, a), (kind2, b) = outcome
        assert kind == kind2, (g.source, a, b)
        if kind == "ok":
            assert np.array_equal(a, b, equal_nan=True)
        else:
            errors += 1
            assert a == b, g.source
    assert errors > 20  # the columns do leave the domains
