"""adiff trace --mode forward: the tangent passes, node by node, from the inputs up.

Each pass is held to its own arithmetic (contribution = local × tangent, a node's tangent
the sum of its contributions), to the reverse trace, and to SymPy's gradient.
"""

from __future__ import annotations

import math

import pytest

from autodiff_cli.language.parser import parse

from .conftest import ROOT
from .test_forward import magnitude, sympy_gradient

LECTURE = str(ROOT / "samples" / "lecture.adiff")
LECTURE_AT = "θ0=1,θ1=1,x1=1,θ2=2,x2=2"
LECTURE_POINT = {"θ0": 1.0, "θ1": 1.0, "x1": 1.0, "θ2": 2.0, "x2": 2.0}


def rel(a, b):
    return 0.0 if a == b else abs(a - b) / abs(b)


def lecture_doc(run, *extra):
    r = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--mode", "forward", "--format", "json",
            *extra)
    assert r.code == 0 and r.stderr == "", r
    return r.json()


def test_json_shape(run):
    doc = run("trace", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward",
              "--format", "json").json()
    assert list(doc) == ["expression", "formula", "expanded", "mode", "at", "value", "output",
                         "forward", "passes", "gradient", "cost"]
    assert doc["mode"] == "forward"
    assert [p["wrt"] for p in doc["passes"]] == ["x", "y"]
    assert all(list(p) == ["wrt", "seed", "steps", "tangents", "derivative"] for p in doc["passes"])
    assert all(list(s) == ["node", "op", "from", "local", "tangent", "contribution"]
               for p in doc["passes"] for s in p["steps"])
    x, y = doc["passes"]
    assert x["seed"] == {"x": 1.0} and y["seed"] == {"y": 1.0}
    assert x["steps"] == [
        {"node": "n2", "op": "mul", "from": "n0", "local": 2.0, "tangent": 1.0, "contribution": 2.0},
        {"node": "n3", "op": "sin", "from": "n0", "local": math.cos(1.0), "tangent": 1.0,
         "contribution": math.cos(1.0)},
        {"node": "n4", "op": "add", "from": "n2", "local": 1.0, "tangent": 2.0, "contribution": 2.0},
        {"node": "n4", "op": "add", "from": "n3", "local": 1.0, "tangent": math.cos(1.0),
         "contribution": math.cos(1.0)}]
    assert x["tangents"] == [{"node": "n2", "op": "mul", "label": "", "tangent": 2.0},
                             {"node": "n3", "op": "sin", "label": "", "tangent": math.cos(1.0)},
                             {"node": "n4", "op": "add", "label": "", "tangent": 2.0 + math.cos(1.0)}]
    assert y["steps"] == [
        {"node": "n2", "op": "mul", "from": "n1", "local": 1.0, "tangent": 1.0, "contribution": 1.0},
        {"node": "n4", "op": "add", "from": "n2", "local": 1.0, "tangent": 1.0, "contribution": 1.0}]
    assert doc["gradient"] == {"x": 2.0 + math.cos(1.0), "y": 1.0}
    assert doc["cost"] == {"inputs": 2, "forward_mode": 2, "reverse_mode": 1,
                           "central_differences": 4}


def test_lecture_passes_against_the_reverse_trace_and_sympy(run):
    doc = lecture_doc(run)
    back = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json").json()
    truth = sympy_gradient(parse(open(LECTURE, encoding="utf-8").read()), LECTURE_POINT)
    assert [p["wrt"] for p in doc["passes"]] == ["θ1", "x1", "θ2", "x2", "θ0"]
    for p in doc["passes"]:
        name = p["wrt"]
        assert p["derivative"] == doc["gradient"][name]
        assert rel(p["derivative"], back["gradient"][name]) <= 1e-14
        assert rel(p["derivative"], truth[name]) <= 1e-13
    assert doc["cost"] == {"inputs": 5, "forward_mode": 5, "reverse_mode": 1,
                           "central_differences": 10}
    assert doc["forward"] == back["forward"]


def test_each_pass_adds_up(run):
    doc = lecture_doc(run)
    for p in doc["passes"]:
        node_of = {f["label"]: f["node"] for f in doc["forward"] if f["op"] == "var"}
        tangent = {node_of[name]: v for name, v in p["seed"].items()}
        sums: dict[str, float] = {}
        for s in p["steps"]:
            # the input's tangent is the one the pass computed for it (or its seed)
            assert s["tangent"] == tangent[s["from"]], (p["wrt"], s)
            assert s["contribution"] == s["local"] * s["tangent"]
            sums[s["node"]] = sums.get(s["node"], 0.0) + s["contribution"]
            tangent[s["node"]] = sums[s["node"]]
        assert {t["node"]: t["tangent"] for t in p["tangents"]} == sums
        assert p["tangents"][-1]["node"] == doc["output"]
        assert p["tangents"][-1]["tangent"] == p["derivative"]


def test_lecture_numbers_of_the_theta1_pass(run):
    (p,) = lecture_doc(run, "--wrt", "θ1")["passes"]
    t = {x["node"]: x["tangent"] for x in p["tangents"]}
    assert t["n6"] == 1.0  # f1 = θ1·x1: ∂f1/∂θ1 = x1 = 1
    assert t["n13"] == -1.0  # f5 = -1·f4
    assert t["n14"] == pytest.approx(-math.exp(-6), rel=1e-15)  # e^f5 · (-1)
    assert p["derivative"] == pytest.approx(-0.0024726231566347743, rel=1e-14)


def test_wrt_picks_the_passes(run):
    doc = lecture_doc(run, "--wrt", "x2,θ0")
    assert [p["wrt"] for p in doc["passes"]] == ["x2", "θ0"]
    assert list(doc["gradient"]) == ["x2", "θ0"]
    assert doc["cost"]["inputs"] == 5  # the argument is about the whole gradient


def test_direction_is_one_pass(run):
    r = run("trace", "x*x + sin(x*y)", "--at", "x=1,y=2", "--direction", "x=1,y=-1",
            "--format", "json")
    assert r.code == 0 and r.stderr == ""
    doc = r.json()
    assert list(doc) == ["expression", "formula", "expanded", "mode", "at", "value", "output",
                         "forward", "passes", "directional", "cost"]
    (p,) = doc["passes"]
    assert p["wrt"] is None and p["seed"] == {"x": 1.0, "y": -1.0}
    truth = sympy_gradient(parse("x*x + sin(x*y)"), {"x": 1.0, "y": 2.0})
    assert rel(p["derivative"], truth["x"] - truth["y"]) <= 1e-14
    assert doc["directional"] == {"direction": {"x": 1.0, "y": -1.0}, "value": p["derivative"],
                                  "method": "forward"}


def test_table(run):
    r = run("trace", "x*x + sin(x*y)", "--at", "x=1,y=2", "--mode", "forward",
            env={"COLUMNS": "100"})
    assert r.code == 0 and r.stderr == ""
    expected = (
        'f = x*x + sin(x*y)\n'
        'value 1.909297427   at x = 1, y = 2\n'
        '\n'
        'Forward pass: the value of each node\n'
        ' n0  x  =                     1  input \n'
        ' n1     =  x*x      =         1        \n'
        ' n2  y  =                     2  input \n'
        ' n3     =  x*y      =         2        \n'
        ' n4     =  sin(n3)  =  0.909297        \n'
        ' n5     =  n1 + n4  =    1.9093        \n'
        '\n'
        'Tangent passes, from the inputs up: tangent(node) = Σ local × tangent(input); '
        'nodes the seeded input\n'
        'does not feed keep tangent 0 and are left out\n'
        '\n'
        'Pass 1 of 2, ∂/∂x: x starts with tangent 1, the other inputs with 0\n'
        '                                                                                                  \n'
        '  node   op    from   local ∂node/∂from   × tangent ∂from/∂x   = contribution   tangent ∂node/∂x  \n'
        ' ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ \n'
        '  n1     mul   n0 x                   1                    1                1                     \n'
        '               n0 x                   1                    1                1                  2  \n'
        '  n3     mul   n0 x                   2                    1                2                  2  \n'
        '  n4     sin   n3             -0.416147                    2        -0.832294          -0.832294  \n'
        '  n5     add   n1                     1                    2                2                     \n'
        '               n4                     1            -0.832294        -0.832294            1.16771  \n'
        '                                                                                                  \n'
        "  ∂f/∂x = the output's tangent = 1.16771\n"
        '\n'
        'Pass 2 of 2, ∂/∂y: y starts with tangent 1, the other inputs with 0\n'
        '                                                                                                  \n'
        '  node   op    from   local ∂node/∂from   × tangent ∂from/∂y   = contribution   tangent ∂node/∂y  \n'
        ' ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ \n'
        '  n3     mul   n2 y                   1                    1                1                  1  \n'
        '  n4     sin   n3             -0.416147                    1        -0.416147          -0.416147  \n'
        '  n5     add   n4                     1            -0.416147        -0.416147          -0.416147  \n'
        '                                                                                                  \n'
        "  ∂f/∂y = the output's tangent = -0.416147\n"
        '\n'
        "Gradient: the output's tangent in each input's pass\n"
        '  x: 1.16771\n'
        '  y: -0.416147\n'
        'Cost of the gradient over 2 inputs: forward mode 2 tangent passes (one per input), reverse mode 1 \n'
        'backward pass, central differences 4 evaluations (adiff trace without --mode forward shows the \n'
        'backward pass).\n'
    )
    assert r.stdout == expected


def test_lecture_table_says_the_cost_argument(run):
    r = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--mode", "forward", env={"COLUMNS": "100"})
    assert r.code == 0 and r.stderr == ""
    for k, name in enumerate(["θ1", "x1", "θ2", "x2", "θ0"], 1):
        assert f"Pass {k} of 5, ∂/∂{name}: {name} starts with tangent 1, the other inputs with 0" \
            in r.stdout
    assert " ".join(r.stdout.split()).endswith(
        "Cost of the gradient over 5 inputs: forward mode 5 tangent passes (one per input), "
        "reverse mode 1 backward pass, central differences 10 evaluations (adiff trace without "
        "--mode forward shows the backward pass).")


def test_rows_bound_each_pass(run):
    r = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--mode", "forward", "--wrt", "θ2",
            "--rows", "4", env={"COLUMNS": "100"})
    assert r.code == 0
    assert r.stdout.count("more nodes") == 2  # the forward table and the pass
    assert "… 5 more nodes" in " ".join(r.stdout.split())


def test_plain(run):
    r = run("trace", "2*y + x", "--at", "x=1,y=3", "--mode", "forward", "--format", "plain")
    assert r.code == 0 and r.stderr == ""
    assert r.stdout == (
        "value\t7.0\n"
        "forward\tn0\tconst\t2\t2.0\nforward\tn1\tvar\ty\t3.0\nforward\tn2\tmul\t2*y\t6.0\n"
        "forward\tn3\tvar\tx\t1.0\nforward\tn4\tadd\tn2 + x\t7.0\n"
        "pass\t1\ty\n"
        "step\t1\tn2\tmul\tn1\t2.0\t1.0\t2.0\nstep\t1\tn4\tadd\tn2\t1.0\t2.0\t2.0\n"
        "tangent\t1\tn2\t2.0\ntangent\t1\tn4\t2.0\n"
        "pass\t2\tx\n"
        "step\t2\tn4\tadd\tn3\t1.0\t1.0\t1.0\n"
        "tangent\t2\tn4\t1.0\n"
        "grad\ty\t2.0\ngrad\tx\t1.0\n")


def test_plain_along_a_direction(run):
    r = run("trace", "x*y", "--at", "x=1,y=3", "--direction", "y=2", "--format", "plain")
    assert r.stdout.splitlines()[-4:] == ["pass\t1\tv", "step\t1\tn2\tmul\tn1\t1.0\t2.0\t2.0",
                                          "tangent\t1\tn2\t2.0", "directional\t2.0"]


def test_the_output_is_an_input(run):
    r = run("trace", "x", "--at", "x=1", "--mode", "forward")
    assert r.code == 0
    assert "  no steps: the output is the input x itself\n" in r.stdout
    doc = run("trace", "x", "--at", "x=1", "--mode", "forward", "--format", "json").json()
    assert doc["passes"] == [{"wrt": "x", "seed": {"x": 1.0}, "steps": [], "tangents": [],
                              "derivative": 1.0}]


def test_reverse_trace_is_unchanged(run):
    for fmt in ("table", "json", "plain"):
        a = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--format", fmt)
        b = run("trace", "-f", LECTURE, "--at", LECTURE_AT, "--format", fmt, "--mode", "reverse")
        assert a.code == b.code == 0 and a.stdout == b.stdout and a.stderr == b.stderr


@pytest.mark.parametrize("extra, message", [
    (["--wrt", "x"], "Error: --wrt needs --mode forward: it picks the tangent passes to show, "
                     "and the backward pass gives every input's gradient at once\n"
                     "add --mode forward, or drop --wrt\n"),
    (["--mode", "reverse", "--direction", "x=1"],
     "Error: --direction needs forward mode: a tangent pass along the direction\n"
     "drop --mode reverse (--direction implies --mode forward)\n"),
    (["--wrt", "x", "--direction", "y=1"],
     "Error: --wrt and --direction: give one of them\n"
     "--wrt picks one tangent pass per input; --direction makes one pass along it\n"),
    (["--mode", "forward", "--wrt", "q"], "Error: --wrt q: the formula has no input 'q'\n"
                                          "its inputs are: x, y\n"),
    (["--direction", "x=1,q=2"], "Error: --direction q=2: the formula has no input 'q'\n"
                                 "its inputs are: x, y\n"),
])
def test_option_errors_are_exit_2(extra, message, run):
    r = run("trace", "x*y", "--at", "x=1,y=3", *extra)
    assert (r.code, r.stdout, r.stderr) == (2, "", message)


def test_forward_trace_refuses_data(run):
    r = run("trace", "t*x", "--data", str(ROOT / "samples" / "logistic.csv"), "--at", "t=1",
            "--mode", "forward")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == ("Error: --mode forward works at a point (--at), not over --data\n"
                        "drop --data, or trace the backward pass over the rows (without --mode "
                        "forward)\n")


def test_evaluation_error_is_exit_3(run):
    r = run("trace", "log(x) + sqrt(y)", "--at", "x=1,y=0", "--mode", "forward")
    assert r.code == 3 and r.stdout == ""
    assert r.stderr.startswith("Error: the tangent is not finite at node n3 (sqrt): the local "
                               "gradient of sqrt is not finite at y = 0\n")
    # the x pass alone never reaches sqrt
    assert run("trace", "log(x) + sqrt(y)", "--at", "x=1,y=0", "--mode", "forward",
               "--wrt", "x").code == 0


def test_a_big_formula_streams_its_passes(run):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gen_formula import generate

    f = generate(3000, 4, "program", nvars=10)
    r = run("trace", f.text, "--at", f.at_spec(), "--mode", "forward", "--format", "json",
            "--max-size", "1000000")
    assert r.code == 0, r
    doc = r.json()
    back = run("grad", f.text, "--at", f.at_spec(), "--format", "json", "--nodes", "none",
               "--no-check", "--max-size", "1000000").json()
    scale = magnitude(parse(f.text, max_size=1_000_000), f.point)
    assert len(doc["passes"]) == 10
    for p in doc["passes"]:
        g = back["gradient"][p["wrt"]]
        assert abs(p["derivative"] - g) <= 1e-14 * max(abs(g), scale[p["wrt"]])


def test_expanded_and_fused_graphs_give_the_same_tangents(run):
    fused = run("trace", "-log(sigmoid(z))", "--at", "z=1", "--mode", "forward",
                "--format", "json").json()
    expanded = run("trace", "-log(sigmoid(z))", "--at", "z=1", "--mode", "forward", "--expand",
                   "--format", "json").json()
    assert expanded["expanded"] is True and fused["expanded"] is False
    assert len(expanded["passes"][0]["steps"]) > len(fused["passes"][0]["steps"])
    truth = -1 / (1 + math.exp(1.0))  # d/dz -log(sigmoid(z)) = sigmoid(z) - 1
    assert rel(fused["gradient"]["z"], truth) <= 1e-15
    assert rel(expanded["gradient"]["z"], truth) <= 1e-15
