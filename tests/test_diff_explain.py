"""adiff diff --explain: the backward pass as the lecture narrates it, with formulas in place
of numbers -- held to exact text, and every formula of it to adiff trace's numbers."""

from __future__ import annotations

import pytest

from autodiff_cli.calculus import engine
from autodiff_cli.language.parser import parse

from .conftest import invoke

LOSS = "-log(sigmoid(t0 + t1*x1 + t2*x2))"
LOSS_AT = {"t0": 1.0, "t1": 1.0, "x1": 1.0, "t2": 2.0, "x2": 2.0}
AT_TEXT = "t0=1,t1=1,x1=1,t2=2,x2=2"


def explain(*args):
    result = invoke("diff", *args, "--explain")
    assert result.code == 0, result
    assert result.stderr == ""
    return result.stdout


def value(formula: str, at: dict) -> float:
    return engine.value_at(parse(formula), at)


def close(a: float, b: float, rtol: float = 1e-12) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def test_the_small_example_exactly():
    assert explain("x*y + sin(x)") == """\
Backward pass, from the output down: contribution = upstream × local

n4 = x*y + sin(x)   [the output, add]
    upstream      ∂f/∂n4 = 1
    to n2         local ∂n4/∂n2 = 1
                  contribution = 1 × 1 = 1
    to n3         local ∂n4/∂n3 = 1
                  contribution = 1 × 1 = 1

n3 = sin(x)   [sin]
    upstream      ∂f/∂n3 = 1
    to n0 x       local ∂n3/∂x = cos(x)
                  contribution = 1 × cos(x) = cos(x)

n2 = x*y   [mul]
    upstream      ∂f/∂n2 = 1
    to n0 x       local ∂n2/∂x = y
                  contribution = 1 × y = y
    to n1 y       local ∂n2/∂y = x
                  contribution = 1 × x = x

Each input's derivative: the contributions it receives, summed
    ∂f/∂x = y (from n2) + cos(x) (from n3) = y + cos(x)
    ∂f/∂y = x (from n2)

Simplified, with the parts the derivatives share as statements:
∂f/∂x = y + cos(x)
∂f/∂y = x
"""


def test_the_lectures_loss_from_the_output_down():
    """The slides' walk: L = -1·f9 with upstream 1 and local -1; f9 = log f8 with local
    1/f8; then sigmoid, the sum, and each θ's contribution, its input times the upstream."""
    text = explain(LOSS)
    lines = text.splitlines()
    assert lines[:11] == [
        "Backward pass, from the output down: contribution = upstream × local",
        "",
        "n11 = -log(sigmoid(t0 + t1*x1 + t2*x2))   [the output, neg]",
        "    upstream      ∂f/∂n11 = 1",
        "    to n10        local ∂n11/∂n10 = -1",
        "                  contribution = 1 × -1 = -1",
        "",
        "n10 = log(sigmoid(t0 + t1*x1 + t2*x2))   [log]",
        "    upstream      ∂f/∂n10 = -1",
        "    to n9         local ∂n10/∂n9 = 1/sigmoid(t0 + t1*x1 + t2*x2)",
        "                  contribution = -1 × 1/sigmoid(t0 + t1*x1 + t2*x2) = "
        "-1/sigmoid(t0 + t1*x1 + t2*x2)",
    ]
    headers = [line for line in lines if line.startswith("n") and "   [" in line]
    assert headers == [
        "n11 = -log(sigmoid(t0 + t1*x1 + t2*x2))   [the output, neg]",
        "n10 = log(sigmoid(t0 + t1*x1 + t2*x2))   [log]",
        "n9 = sigmoid(t0 + t1*x1 + t2*x2)   [sigmoid]",
        "n8 = t0 + t1*x1 + t2*x2   [add]",
        "n7 = t2*x2   [mul]",
        "n4 = t0 + t1*x1   [add]",
        "n3 = t1*x1   [mul]",
    ]
    targets = [line.split()[1:3] for line in lines if line.startswith("    to ")]
    assert targets == [["n10", "local"], ["n9", "local"], ["n8", "local"], ["n4", "local"],
                       ["n7", "local"], ["n5", "t2"], ["n6", "x2"], ["n0", "t0"],
                       ["n3", "local"], ["n1", "t1"], ["n2", "x1"]]
    k = lines.index("Each input's derivative: the contributions it receives, summed")
    results = lines[k + 1:k + 6]
    assert [r.split(" = ")[0] for r in results] == [
        "    ∂f/∂t0", "    ∂f/∂t1", "    ∂f/∂x1", "    ∂f/∂t2", "    ∂f/∂x2"]
    assert [r.rsplit(" ", 2)[-2:] for r in results] == [
        ["(from", "n4)"], ["(from", "n3)"], ["(from", "n3)"], ["(from", "n7)"], ["(from", "n7)"]]
    assert lines[k + 6:k + 8] == ["", "Simplified, with the parts the derivatives share as "
                                      "statements:"]
    # the simplified result is the command's usual output, after the narration
    assert text.endswith(invoke("diff", LOSS).stdout)


def test_every_formula_of_the_lectures_derivation_is_trace_s_number():
    """Each upstream, local and contribution formula, evaluated at the lecture's point, is
    the number adiff trace shows for that step; the results are adiff grad's gradient."""
    doc = invoke("diff", LOSS, "--explain", "--format", "json").json()
    trace = invoke("trace", LOSS, "--at", AT_TEXT, "--format", "json").json()
    numbers = {(s["node"], s["to"]): s for s in trace["steps"]}
    [derivation] = doc["derivation"]
    assert derivation["output"] == "f"
    seen = 0
    for step in derivation["steps"]:
        for edge in step["edges"]:
            t = numbers[(step["node"], edge["to"])]
            assert close(value(step["upstream"], LOSS_AT), t["upstream"]), step
            assert close(value(edge["local"], LOSS_AT), t["local"]), edge
            assert close(value(edge["contribution"], LOSS_AT), t["contribution"]), edge
            seen += 1
    assert seen == len(trace["steps"]) == 11
    for result in derivation["results"]:
        assert close(value(result["derivative"], LOSS_AT), trace["gradient"][result["input"]])
    # the lecture's number: dL/dθ0 = -0.00247
    t0 = next(r for r in derivation["results"] if r["input"] == "t0")
    assert value(t0["derivative"], LOSS_AT) == pytest.approx(-0.00247, abs=5e-6)


def test_fan_out_contributions_are_summed():
    """A value used twice receives two contributions, named by the node that sent each."""
    doc = invoke("diff", "z = x*y; sin(z)*z + y", "--explain", "--format", "json").json()
    [derivation] = doc["derivation"]
    z = next(s for s in derivation["steps"] if s["node"] == "n2")
    assert sorted(c["from"] for c in z["contributions"]) == ["n3", "n4"]
    at = {"x": 0.5, "y": -1.25}

    def named(formula):  # the narration writes the assigned name z where it can
        return value(f"z = x*y; {formula}", at)

    total = sum(named(c["value"]) for c in z["contributions"])
    assert close(named(z["upstream"]), total)
    y = next(r for r in derivation["results"] if r["input"] == "y")
    assert sorted(c["from"] for c in y["contributions"]) == ["n2", "n5"]
    grad = engine.evaluate(parse("z = x*y; sin(z)*z + y"), at).gradient
    assert close(named(y["derivative"]), grad["y"])
    text = explain("z = x*y; sin(z)*z + y")
    assert "    ∂f/∂y = x*(z*cos(z) + sin(z)) (from n2) + 1 (from n5) = " in text


def test_the_json_shape():
    doc = invoke("diff", "x*y + sin(x)", "--explain", "--format", "json").json()
    assert list(doc) == ["expression", "wrt", "order", "derivatives", "program", "derivation"]
    assert doc["derivation"] == [{
        "output": "f",
        "steps": [
            {"node": "n4", "op": "add", "formula": "x*y + sin(x)", "upstream": "1",
             "edges": [{"to": "n2", "formula": "x*y", "local": "1", "contribution": "1"},
                       {"to": "n3", "formula": "sin(x)", "local": "1", "contribution": "1"}]},
            {"node": "n3", "op": "sin", "formula": "sin(x)", "upstream": "1",
             "edges": [{"to": "n0", "formula": "x", "local": "cos(x)",
                        "contribution": "cos(x)"}]},
            {"node": "n2", "op": "mul", "formula": "x*y", "upstream": "1",
             "edges": [{"to": "n0", "formula": "x", "local": "y", "contribution": "y"},
                       {"to": "n1", "formula": "y", "local": "x", "contribution": "x"}]}],
        "results": [
            {"input": "x", "node": "n0", "contributions": [{"from": "n3", "value": "cos(x)"},
                                                          {"from": "n2", "value": "y"}],
             "derivative": "y + cos(x)"},
            {"input": "y", "node": "n1", "contributions": [{"from": "n2", "value": "x"}],
             "derivative": "x"}]}]


def test_plain_records():
    result = invoke("diff", "x*y + sin(x)", "--explain", "--format", "plain")
    assert result.code == 0
    assert result.stdout.splitlines() == [
        "step\tf\tn4\tadd\tx*y + sin(x)\t1",
        "edge\tf\tn4\tn2\t1\t1",
        "edge\tf\tn4\tn3\t1\t1",
        "step\tf\tn3\tsin\tsin(x)\t1",
        "edge\tf\tn3\tn0\tcos(x)\tcos(x)",
        "step\tf\tn2\tmul\tx*y\t1",
        "edge\tf\tn2\tn0\ty\ty",
        "edge\tf\tn2\tn1\tx\tx",
        "result\tf\tx\ty + cos(x)",
        "result\tf\ty\tx",
        "x\ty + cos(x)",
        "y\tx",
    ]


def test_several_outputs_narrate_each():
    text = explain("x*y, x + y")
    assert text.startswith("Backward pass of (x*y), from the output down: contribution = "
                           "upstream × local\n\nn2 = x*y   [the output, mul]\n"
                           "    upstream      ∂(x*y)/∂n2 = 1\n")
    assert "\nBackward pass of (x + y), from the output down" in text


def test_wrt_narrates_only_the_paths_to_those_inputs():
    text = explain(LOSS, "--wrt", "t0")
    assert "to n0 t0" in text and "to n1 t1" not in text
    assert [line for line in text.splitlines() if line.startswith("    ∂f/∂")] == [
        line for line in text.splitlines() if line.startswith("    ∂f/∂t0")]


@pytest.mark.parametrize("args, stderr", [
    (["x*y", "--explain", "--order", "2"],
     "Error: --explain narrates the backward pass of first derivatives, not of --order 2\n"
     "drop --order to see how the first derivatives arise\n"),
    (["x*y", "--explain", "--format", "latex"],
     "Error: --explain narrates in --format text, plain or json, not latex\n"
     "drop --explain, or use --format text\n"),
    (["f = x*y\n" + "f = sin(f)*f + y\n" * 8 + "f", "--explain"],
     "Error: --explain writes each node's formula out in full, and node n16 of this formula "
     "written out takes more than 120 operations\nname the values used more than once in a "
     "program (z = ...; ...), or use adiff trace for the same backward pass with numbers\n"),
    (["+".join(f"x{i}" for i in range(80)), "--explain"],
     "Error: --explain narrates formulas of up to 120 nodes; this one has 159\n"
     "adiff trace shows the same backward pass with numbers, for formulas of any size\n"),
])
def test_what_explain_refuses(args, stderr):
    result = invoke("diff", *args)
    assert (result.code, result.stdout, result.stderr) == (2, "", stderr)


def test_explain_in_ascii():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "diff", "x*y", "--explain"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:4] == [
        "Backward pass, from the output down: contribution = upstream x local", "",
        "n2 = x*y   [the output, mul]", "    upstream      df/dn2 = 1"]
