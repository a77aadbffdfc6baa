"""adiff trace: the backward pass step by step, checked against its own arithmetic and adiff grad."""

from __future__ import annotations

import math
import os

import pytest

from .conftest import ROOT

LECTURE = str(ROOT / "samples" / "lecture.adiff")
LECTURE_AT = "θ0=1,θ1=1,x1=1,θ2=2,x2=2"
SNAPSHOTS = ROOT / "tests" / "snapshots"


def snapshot(name: str, text: str) -> None:
    """Compare with tests/snapshots/NAME; UPDATE_SNAPSHOTS=1 rewrites it (review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; create it with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_trace_of_the_lecture_example(run):
    r = run("trace", "-f", LECTURE, "--at", LECTURE_AT)
    assert r.code == 0, r
    assert r.stderr == ""
    snapshot("trace_lecture.txt", r.stdout)


def test_lecture_numbers(run):
    doc = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json").json()
    assert doc["value"] == pytest.approx(0.0024756851377, rel=1e-10)  # L = 0.00247...
    steps = {(s["node"], s["to"]): s for s in doc["steps"]}
    # L = -1·f9: ∂L/∂f9 = -1
    assert steps["n18", "n17"]["upstream"] == 1.0
    assert steps["n18", "n17"]["contribution"] == -1.0
    # f9 = log f8: local 1/f8 = 1.00247..., passing -1.00247... down
    assert steps["n17", "n16"]["upstream"] == -1.0
    assert steps["n17", "n16"]["local"] == pytest.approx(1.0024787521766663, rel=1e-12)
    # f8 = 1/f7: local -1/f7² = -0.9951...
    assert steps["n16", "n15"]["local"] == pytest.approx(-0.99506, rel=1e-5)
    assert steps["n16", "n15"]["contribution"] == pytest.approx(0.9975, rel=1e-4)
    # f6 = e^f5: local e^f5 = e^-6 = 0.00247...
    assert steps["n14", "n13"]["local"] == pytest.approx(math.exp(-6), rel=1e-12)
    assert steps["n14", "n13"]["contribution"] == pytest.approx(0.00247, rel=1e-2)
    forward = {f["node"]: f for f in doc["forward"]}
    assert forward["n6"]["text"] == "θ1*x1" and forward["n6"]["value"] == 1.0  # f1 = θ1·x1 = 1
    assert forward["n13"]["value"] == -6.0  # f5


def test_json_shape(run):
    doc = run("trace", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json").json()
    assert list(doc) == ["expression", "formula", "expanded", "at", "value", "output",
                         "forward", "steps", "sums", "gradient"]
    assert all(list(s) == ["node", "op", "to", "upstream", "local", "contribution"]
               for s in doc["steps"])
    assert doc["gradient"] == {"x": 2.5403023058681398, "y": 1.0}
    assert [f["node"] for f in doc["forward"]] == ["n0", "n1", "n2", "n3", "n4"]
    # reverse topological order
    assert [s["node"] for s in doc["steps"]] == ["n4", "n4", "n3", "n2", "n2"]


FORMULAS = [
    ("-f", LECTURE, "--at", LECTURE_AT),
    ("x*y + sin(x)", "--at", "x=1,y=2"),
    ("x*x", "--at", "x=3"),
    ("x + x + x*x*x", "--at", "x=-0.7"),
    ("-f", str(ROOT / "samples" / "fanout.adiff"), "--at", "x=0.5"),
    ("-f", str(ROOT / "samples" / "language.adiff"), "--at", "x=0.5,y=2,θ1=0.25"),
    ("-f", str(ROOT / "samples" / "logistic_program.adiff"), "--at", "t0=1,t1=1,x1=1,t2=2,x2=2,y=1"),
    ("-f", str(ROOT / "samples" / "kinks.adiff"), "--at", "x=0,y=1.5"),
    ("logsumexp(x, y, x*y) * tanh(y) / hypot(x, 3)", "--at", "x=0.3,y=-1.1"),
    ("logsumexp(x, y, x*y) * tanh(y) / hypot(x, 3)", "--at", "x=0.3,y=-1.1", "--expand"),
]


@pytest.mark.parametrize("args", FORMULAS)
def test_trace_arithmetic(run, args):
    """Each contribution is upstream × local; each value's contributions sum to its gradient."""
    trace = run("trace", *args, "--format", "json")
    assert trace.code == 0, trace
    doc = trace.json()
    grad = run("grad", *args, "--format", "json", "--no-check")
    assert grad.code == 0, grad
    nodes = {n["id"]: n for n in grad.json()["nodes"]}  # an independent record of the pass
    received: dict[str, list[float]] = {}
    for s in doc["steps"]:
        assert s["contribution"] == s["upstream"] * s["local"], s
        assert s["upstream"] == nodes[s["node"]]["grad"], s
        consumer = nodes[s["node"]]
        assert s["local"] in [consumer["local"][k]
                              for k, j in enumerate(consumer["inputs"]) if j == s["to"]], s
        received.setdefault(s["to"], []).append(s["contribution"])
    assert received, "no steps"
    for node, contributions in received.items():
        total = 0.0
        for c in contributions:  # in the trace's order, which is the engine's
            total += c
        assert total == nodes[node]["grad"], (node, contributions, nodes[node]["grad"])
    # the sums section says the same
    assert {e["node"]: [c["value"] for c in e["contributions"]] for e in doc["sums"]} == received
    assert all(e["grad"] == nodes[e["node"]]["grad"] for e in doc["sums"])
    # every edge into a value that depends on an input is a step, and only those
    depends = {n["id"] for n in nodes.values() if n["op"] == "var"}
    for n in nodes.values():  # ids are topological
        if any(j in depends for j in n["inputs"]):
            depends.add(n["id"])
    edges = sum(1 for n in nodes.values() for j in n["inputs"] if j in depends)
    assert len(doc["steps"]) == edges
    assert doc["gradient"] == grad.json()["gradient"]


def test_fan_out_sum_is_shown(run):
    r = run("trace", "x*y + sin(x)", "--at", "x=1,y=2")
    assert r.code == 0, r
    assert "  x: 2 (from n2) + 0.540302 (from n3) = 2.5403\n" in r.stdout
    assert "  y: 1 (from n2)\n" in r.stdout


def test_internal_fan_out_is_summed_in_the_table(run):
    r = run("trace", "-f", str(ROOT / "samples" / "fanout.adiff"), "--at", "x=0.5")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Backward pass"))
    k = next(i for i, line in enumerate(lines) if i > start and line.split()[:2] == ["n2", "add"])
    assert "1.5 from n3" in lines[k]
    assert lines[k + 1].strip() == "+ 1.5 from n3"
    assert lines[k + 2].strip() == "+ 4.48169 from n4"
    assert lines[k + 3].strip() == "= 7.48169"
    assert "  x: 7.48169 (from n2) + 1 (from n6) = 8.48169\n" in r.stdout


def test_plain(run):
    r = run("trace", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "plain")
    assert r.code == 0, r
    assert r.stdout == (
        "value\t2.8414709848078967\n"
        "forward\tn0\tvar\tx\t1.0\n"
        "forward\tn1\tvar\ty\t2.0\n"
        "forward\tn2\tmul\tx*y\t2.0\n"
        "forward\tn3\tsin\tsin(x)\t0.8414709848078965\n"
        "forward\tn4\tadd\tn2 + n3\t2.8414709848078967\n"
        "step\tn4\tadd\tn2\t1.0\t1.0\t1.0\n"
        "step\tn4\tadd\tn3\t1.0\t1.0\t1.0\n"
        "step\tn3\tsin\tn0\t1.0\t0.5403023058681398\t0.5403023058681398\n"
        "step\tn2\tmul\tn0\t1.0\t2.0\t2.0\n"
        "step\tn2\tmul\tn1\t1.0\t1.0\t1.0\n"
        "grad\tx\t2.5403023058681398\n"
        "grad\ty\t1.0\n")


def test_output_that_is_an_input(run):
    r = run("trace", "x", "--at", "x=2")
    assert r.code == 0, r
    assert "no steps: the output is an input, its gradient is 1" in r.stdout
    assert "  x: 1 (the input is the output)" in r.stdout
    doc = run("trace", "x", "--at", "x=2", "--format", "json").json()
    assert doc["steps"] == [] and doc["sums"] == [] and doc["gradient"] == {"x": 1.0}


def test_constants_get_no_steps(run):
    doc = run("trace", "2*x + 3^2", "--at", "x=1", "--format", "json").json()
    assert [(s["node"], s["to"]) for s in doc["steps"]] == [("n6", "n2"), ("n2", "n1")]


def test_expand(run):
    fused = run("trace", "-log(sigmoid(z))", "--at", "z=1", "--format", "json").json()
    expanded = run("trace", "-log(sigmoid(z))", "--at", "z=1", "--expand", "--format", "json").json()
    assert [s["op"] for s in fused["steps"]] == ["neg", "log", "sigmoid"]
    assert [s["op"] for s in expanded["steps"]] == ["neg", "log", "div", "add", "exp", "neg"]
    assert expanded["expanded"] is True and expanded["formula"] == "-log(1/(1 + exp(-z)))"
    assert math.isclose(expanded["gradient"]["z"], fused["gradient"]["z"], rel_tol=1e-12)


DEEP = "(" * 10_000 + "x" + "+1)" * 10_000


@pytest.mark.parametrize("fmt", ["table", "json", "plain"])
def test_ten_thousand_deep_formula(run, fmt):
    r = run("trace", DEEP, "--at", "x=1", "--format", fmt)
    assert r.code == 0, r
    if fmt == "table":
        assert "more nodes" in r.stdout
        assert len(r.stdout.splitlines()) < 200
    elif fmt == "json":
        doc = r.json()
        assert len(doc["steps"]) == 10_000 and len(doc["forward"]) == 20_001
        assert doc["gradient"] == {"x": 1.0}
    else:
        assert r.stdout.count("\nstep\t") == 10_000


def test_rows_option(run):
    r = run("trace", DEEP, "--at", "x=1", "--rows", "4")
    assert r.code == 0, r
    assert "20,001 more nodes" not in r.stdout and "19,997 more nodes" in r.stdout
    assert run("trace", "x", "--at", "x=1", "--rows", "0").code == 2


def test_needs_values(run):
    r = run("trace", "x*y", "--at", "x=1")
    assert r.code == 2, r
    assert r.stderr.startswith("Error: no value for the variable y")


def test_evaluation_error_exits_3(run):
    r = run("trace", "sqrt(x)", "--at", "x=0")
    assert r.code == 3, r
    assert "not finite" in r.stderr


def test_formula_may_start_with_minus(run):
    r = run("trace", "-log(sigmoid(z))", "--at", "z=1", "--format", "plain")
    assert r.code == 0, r
    grad = run("grad", "-log(sigmoid(z))", "--at", "z=1", "--format", "plain")
    assert r.stdout.splitlines()[-1] == "grad\t" + grad.stdout.splitlines()[-1]
