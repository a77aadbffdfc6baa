"""--expand: fused ops rewritten into primitives give the same values and gradients."""

from __future__ import annotations

import math

import pytest

from autodiff_cli.calculus.engine import evaluate
from autodiff_cli.calculus.expand import expand, fused_ops, is_fused, template
from autodiff_cli.core.ops import OPS
from autodiff_cli.language.parser import parse
from autodiff_cli.language.printer import function_name, to_source

# Points inside each op's domain, away from its kinks and poles. Ops not listed
# take DEFAULT; a binary op must be listed (the test fails otherwise).
DEFAULT = (-1.7, -0.6, 0.3, 0.9, 2.2)
POINTS = {
    "asec": (-2.5, -1.3, 1.2, 3.0),
    "acsc": (-2.5, -1.3, 1.2, 3.0),
    "acoth": (-2.5, -1.3, 1.2, 3.0),
    "asech": (0.1, 0.45, 0.8),
    "hypot": ((0.3, -1.2), (2.0, 0.5), (-1.5, -0.7), (1e-3, 4.0)),
    "logsumexp": ((0.3,), (0.3, -1.2), (2.0, 0.5, -1.0), (1.0, 1.0, 1.0, 1.0), (-3.0, 0.25)),
}
NAMES = ("a", "b", "c", "d")


def _cases():
    for op in fused_ops():
        points = POINTS.get(op.name, DEFAULT if op.arity == 1 else None)
        assert points is not None, f"give test points for the fused op {op.name}"
        for point in points:
            yield pytest.param(op.name, point if isinstance(point, tuple) else (point,),
                               id=f"{op.name}-{point}")


def test_fused_ops_are_the_ops_with_a_template():
    names = {op.name for op in fused_ops()}
    assert names == {op.name for op in OPS.values() if op.expand} | {"logsumexp"}
    assert {"sigmoid", "softplus", "tanh", "logsumexp", "sec"} <= names


@pytest.mark.parametrize("name, point", list(_cases()))
def test_fused_and_expanded_gradients_agree(name, point):
    op = OPS[name]
    args = NAMES[:len(point)]
    # Each argument goes through a little arithmetic so the gradient flows
    # through more than one node on either side of the fused one.
    source = f"3*{function_name(op)}({', '.join(f'{a}*1' for a in args)}) + a"
    fused = parse(source)
    expanded = expand(fused)
    assert any(o is op for o in fused.ops)
    assert not any(is_fused(o) for o in expanded.ops), to_source(expanded)
    at = dict(zip(args, point))
    f, e = evaluate(fused, at), evaluate(expanded, at)
    assert math.isclose(e.value, f.value, rel_tol=1e-12, abs_tol=0), (e.value, f.value)
    for x in args:
        assert math.isclose(e.gradient[x], f.gradient[x], rel_tol=1e-12, abs_tol=0), \
            (x, e.gradient[x], f.gradient[x])


def test_sigmoid_expands_as_in_the_lecture():
    g = expand(parse("-log(sigmoid(t0 + t1*x1 + t2*x2))"))
    assert to_source(g) == "-log(1/(1 + exp(-(t0 + t1*x1 + t2*x2))))"


def test_logsumexp_expands_to_log_of_a_sum_of_exps():
    assert to_source(expand(parse("logsumexp(x, y, 2*z)"))) == "log(exp(x) + exp(y) + exp(2*z))"
    assert to_source(expand(parse("logsumexp(x)"))) == "log(exp(x))"


def test_new_nodes_carry_the_fused_nodes_span_and_label():
    source = "z = a + b; p = sigmoid(z); p*(1 - p)"
    g = parse(source)
    i = next(k for k, op in enumerate(g.ops) if op.name == "sigmoid")
    span = (g.starts[i], g.ends[i])
    assert source[span[0]:span[1]] == "sigmoid(z)"
    e = expand(g)
    new = [k for k in range(len(e)) if (e.starts[k], e.ends[k]) == span]
    # 1/(1 + exp(-a)) in parse order; the input a is wired, not copied.
    assert [e.ops[k].name for k in new] == ["const", "const", "neg", "exp", "add", "div"]
    # The template's output inherits the name; its other nodes are unnamed.
    named = [e.labels[k] for k in new if e.labels[k] and e.ops[k].name != "const"]
    assert named == ["p"]
    assert e.ops[e.inputs[e.output][0]].name == "div"  # p*(...) now reads the div node
    # Nodes outside the fused one keep their spans.
    assert source[e.starts[e.output]:e.ends[e.output]] == "p*(1 - p)"


def test_expansion_preserves_topological_order_and_variables():
    g = expand(parse("tanh(y) * sec(x) + logsumexp(x, y, 1) + hypot(y, x)"))
    for i, ins in enumerate(g.inputs):
        assert all(j < i for j in ins)
    assert list(g.variables) == ["y", "x"]
    assert g.output == len(g) - 1


def test_graph_without_fused_nodes_is_returned_as_is():
    g = parse("x*y + sin(x)")
    assert expand(g) is g


def test_templates_are_parsed_once():
    op = OPS["sigmoid"]
    assert template(op) is template(op)


def test_deep_chain_of_fused_nodes():
    # softplus keeps the gradient well away from 0 through 10,000 levels
    # (nested sigmoids would underflow it to 0 and prove nothing).
    depth = 10_000
    g = parse("softplus(" * depth + "x" + ")" * depth)
    e = expand(g)
    assert len(e) == 1 + 4 * depth  # x, then const 1, exp, add, log per level
    f, x = evaluate(g, {"x": 0.5}), evaluate(e, {"x": 0.5})
    assert f.gradient["x"] > 1e-5
    assert math.isclose(x.value, f.value, rel_tol=1e-12, abs_tol=0)
    assert math.isclose(x.gradient["x"], f.gradient["x"], rel_tol=1e-12, abs_tol=0)


def test_grad_expand_option(run):
    args = ["grad", "-log(sigmoid(t0 + t1*x1))", "--at", "t0=1,t1=1,x1=1", "--format", "json"]
    fused = run(*args)
    expanded = run(*args, "--expand")
    assert fused.code == expanded.code == 0, (fused, expanded)
    f, e = fused.json(), expanded.json()
    assert [n["op"] for n in f["nodes"]].count("sigmoid") == 1
    assert "sigmoid" not in [n["op"] for n in e["nodes"]]
    assert len(e["nodes"]) == len(f["nodes"]) + 5
    for name in f["gradient"]:
        assert math.isclose(e["gradient"][name], f["gradient"][name], rel_tol=1e-12)
    assert e["check"]["ok"] is True
