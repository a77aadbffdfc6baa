"""Forward mode: the tangent pass (calculus/forward.py) and `adiff grad --mode forward / --direction`.

The oracles are independent of adiff's calculus: mpmath's numerical differentiation of each
op's value at 50 digits (no derivative rule involved), and SymPy's symbolic derivative of the
same formula, built node by node from the parsed graph. Reverse mode is held to forward mode
as well (1e-14 relative), never alone.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import mpmath
import pytest
import sympy

from autodiff_cli.calculus import engine, forward
from autodiff_cli.calculus.steps import fed
from autodiff_cli.core.ops import OPS
from autodiff_cli.documents.base import encode
from autodiff_cli.errors import EvalError, InputError
from autodiff_cli.language.parser import parse

from .conftest import ROOT
from .test_precision import POINTS, TRUTH

LECTURE = str(ROOT / "samples" / "lecture.adiff")
LECTURE_AT = "θ0=1,θ1=1,x1=1,θ2=2,x2=2"
sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_formula import generate  # noqa: E402


def rel(a: float, b: float) -> float:
    """|a - b| relative to |b| (0 when both are 0)."""
    if a == b:
        return 0.0
    return abs(a - b) / abs(b) if b else math.inf


# ---------------------------------------------------------------- oracles

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
NAMES = ("x", "y", "z", "w")


def op_source(name: str, n: int) -> str:
    """A formula that is op ``name`` applied to the inputs x, y, ... (n of them)."""
    args = NAMES[:n]
    if name in _INFIX:
        return f"x {_INFIX[name]} y"
    if name == "neg":
        return "-x"
    if name == "logb":
        return "log(x, y)"
    return f"{name}({', '.join(args)})"


def mp_partials(name: str, args: tuple[float, ...]) -> list:
    """∂op/∂argᵢ by mpmath's numerical differentiation of the op's value at 50 digits."""
    value = TRUTH[name][0]
    out = []
    with mpmath.workdps(50):
        point = [mpmath.mpf(a) for a in args]
        for k in range(len(args)):
            order = [0] * len(args)
            order[k] = 1
            out.append(mpmath.diff(lambda *xs: value(*xs), point, tuple(order)))
    return out


def _sympy_table():
    s = sympy
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
        "exp": s.exp, "log": s.log, "sin": s.sin, "cos": s.cos, "tan": s.tan, "tanh": s.tanh,
        "sinh": s.sinh, "cosh": s.cosh, "sqrt": s.sqrt, "atan": s.atan, "asinh": s.asinh,
        "sigmoid": lambda a: 1 / (1 + s.exp(-a)), "softplus": lambda a: s.log(1 + s.exp(a)),
        "log1p": lambda a: s.log(1 + a), "expm1": lambda a: s.exp(a) - 1,
        "hypot": lambda a, b: s.sqrt(a * a + b * b), "atan2": s.atan2,
        "logb": lambda a, b: s.log(a) / s.log(b), "erf": s.erf,
    }


def sympy_of(graph):
    """The graph's output as a SymPy expression, built node by node (a loop, no recursion):
    only the structure comes from adiff's parser, the calculus is SymPy's."""
    table = _sympy_table()
    syms = {name: sympy.Symbol(name) for name in graph.variables}
    exprs: list = []
    for i, op in enumerate(graph.ops):
        if op.name == "var":
            exprs.append(syms[graph.labels[i]])
        elif op.name == "const":
            exprs.append(sympy.Float(graph.consts[i], 30))
        else:
            exprs.append(table[op.name](*[exprs[j] for j in graph.inputs[i]]))
    return exprs[graph.output], syms


def sympy_gradient(graph, at: dict[str, float]) -> dict[str, float]:
    f, syms = sympy_of(graph)
    subs = {syms[n]: sympy.Float(v, 30) for n, v in at.items() if n in syms}
    return {n: float(sympy.diff(f, s).evalf(30, subs=subs)) for n, s in syms.items()}


def magnitude(graph, at) -> dict[str, float]:
    """Σ over the paths from each input of |product of the locals|: the scale of the rounding
    error any order of summing the paths makes (what forward and reverse mode both sum)."""
    values = engine.bind(graph, at)
    locals_, _ = engine.forward(graph, values)
    absolute = [tuple(abs(x) for x in lo) for lo in locals_]
    grads = engine.backward(graph, values, absolute)
    return {n: grads[i] for n, i in graph.variables.items()}


# ---------------------------------------------------------------- tangent_pass, op by op

OP_CASES = [(name, args) for name in sorted(TRUTH) if name in OPS
            for args in (p if isinstance(p, tuple) else (p,) for p in POINTS[name]["ordinary"])]


@pytest.mark.parametrize("name, args", OP_CASES, ids=[f"{n}{a}" for n, a in OP_CASES])
def test_every_op_against_mpmath_and_reverse_mode(name, args):
    graph = parse(op_source(name, len(args)))
    assert graph.ops[graph.output].name == name
    at = dict(zip(NAMES, args))
    truth = mp_partials(name, args)
    for k, x in enumerate(NAMES[:len(args)]):
        if not mpmath.isfinite(truth[k]) or isinstance(truth[k], mpmath.mpc):
            continue  # e.g. d/db a^b at a negative base: not real
        fev = forward.forward_gradient(graph, at, [x])
        ev = engine.evaluate(graph, at, [x])
        got, want = fev.derivative[0], float(truth[k])
        assert rel(got, ev.grads[graph.variables[x]]) <= 1e-14, (name, args, x)
        if want == 0.0:
            assert abs(got) <= 1e-300, (name, args, x, got)
        else:
            assert rel(got, want) <= 1e-13, (name, args, x, got, want)


def test_tangent_pass_of_every_node_is_d_node_d_input():
    # x*y + sin(x) at (1, 2): the tangents of the x pass, node by node
    graph = parse("x*y + sin(x)")
    values = engine.bind(graph, {"x": 1.0, "y": 2.0})
    locals_, _ = engine.forward(graph, values)
    t = forward.tangent_pass(graph, values, {"x": 1.0}, locals_)
    assert t == [1.0, 0.0, 2.0, math.cos(1.0), 2.0 + math.cos(1.0)]
    assert forward.tangent_pass(graph, values, {"x": 1.0}) == t  # locals computed on the way
    t = forward.tangent_pass(graph, values, {"y": 1.0}, locals_)
    assert t == [0.0, 1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("source, at, want", [
    ("x*x", {"x": 3.0}, {"x": 6.0}),  # two edges to one input: both contributions
    ("x+x", {"x": 3.0}, {"x": 2.0}),
    ("y = x + 1; y*y", {"x": 2.0}, {"x": 6.0}),  # fan-out through a named value
    ("x*y*x", {"x": 2.0, "y": 5.0}, {"x": 20.0, "y": 4.0}),
    ("max(x, y, x)", {"x": 1.0, "y": 1.0}, {"x": 2 / 3, "y": 1 / 3}),  # the tie convention
    ("abs(x) + relu(y)", {"x": 0.0, "y": 0.0}, {"x": 0.0, "y": 0.0}),  # kinks: conventions
])
def test_fan_out_and_conventions_match_reverse_mode(source, at, want):
    graph = parse(source)
    fev = forward.forward_gradient(graph, at)
    ev = engine.evaluate(graph, at)
    assert forward.gradient(fev, list(graph.variables)) == ev.gradient == want


def test_an_input_not_seeded_cannot_spoil_the_pass():
    # sqrt'(0) is infinite, but the y pass never reaches sqrt: as reverse mode with --wrt y
    graph = parse("sqrt(x) + y")
    at = {"x": 0.0, "y": 1.0}
    assert forward.forward_gradient(graph, at, ["y"]).derivative == [1.0]
    assert engine.evaluate(graph, at, ["y"]).gradient["y"] == 1.0
    with pytest.raises(EvalError) as err:
        forward.forward_gradient(graph, at, ["x"])
    assert err.value.message == ("the tangent is not finite at node n1 (sqrt): the local "
                                 "gradient of sqrt is not finite at x = 0")
    assert err.value.hint == "not finite: df/dx = nan"
    assert err.value.span == (0, 7)


def test_inf_times_zero_is_nan_as_in_reverse_mode():
    # the x pass reaches sqrt through relu (local 0): 0 × inf is nan in both modes
    graph = parse("sqrt(relu(x))")
    with pytest.raises(EvalError):
        engine.evaluate(graph, {"x": -1.0})
    with pytest.raises(EvalError) as err:
        forward.forward_gradient(graph, {"x": -1.0})
    assert "n2 (sqrt)" in err.value.message


def test_an_overflowing_tangent_names_the_node():
    graph = parse("x*1e10 + 1")
    with pytest.raises(EvalError) as err:
        forward.directional(graph, {"x": 1.0}, {"x": 1e300})
    assert err.value.message == ("the tangent is not finite at node n2 (mul): local gradient "
                                 "× tangent overflows (1e+10 × 1e+300)")
    assert err.value.hint == "not finite: the derivative of f along (x=1e+300) = inf"


def test_seed_names_are_checked():
    graph = parse("alpha*x")
    values = engine.bind(graph, {"alpha": 1.0, "x": 2.0})
    engine.forward(graph, values)
    with pytest.raises(InputError) as err:
        forward.tangent_pass(graph, values, {"alpah": 1.0})
    assert err.value.message == "the direction names 'alpah', which is not an input of the formula"
    assert err.value.hint == "did you mean alpha?"
    with pytest.raises(InputError) as err:
        forward.tangent_pass(graph, values, {"x": math.inf})
    assert err.value.message == "the direction's component for x must be a finite number, not inf"


def test_several_outputs_are_checked_by_default():
    graph = parse("sqrt(x) + y")
    if not hasattr(graph, "with_output"):
        pytest.skip("this checkout's Graph has one output")
    values = engine.bind(graph, {"x": 0.0, "y": 1.0})
    engine.forward(graph, values)
    y = graph.variables["y"]
    view = graph.with_output(y)  # the outputs y and sqrt(x), as a program "..., y, sqrt(x)" has
    view.outputs = (y, 1)
    assert graph.ops[1].name == "sqrt"
    assert forward.tangent_pass(view, values, {"x": 1.0}, outputs=[y])[y] == 0.0
    with pytest.raises(EvalError) as err:
        forward.tangent_pass(view, values, {"x": 1.0})  # every output by default
    assert err.value.message.startswith("the tangent is not finite at node n1 (sqrt)")


def test_a_100000_deep_chain_needs_no_recursion():
    depth = 100_000
    graph = parse("-" * depth + "x", max_size=depth + 10)
    fev = forward.forward_gradient(graph, {"x": 2.0})
    assert fev.derivative == [1.0]  # an even number of minus signs
    assert fev.value == 2.0
    graph = parse("sin(" * depth + "x" + ")" * depth, max_size=6 * depth)
    # the chain rule by hand: d/dx sin(sin(...sin(x))) = Π cos(inner values)
    v, d = 0.7, 1.0
    for _ in range(depth):
        d *= math.cos(v)
        v = math.sin(v)
    fev = forward.forward_gradient(graph, {"x": 0.7})
    assert fev.value == v
    assert rel(fev.derivative[0], d) <= 1e-12


def test_random_formulas_against_sympy_and_reverse_mode():
    worst_sympy = worst_reverse = 0.0
    for seed in range(1, 11):
        f = generate(30, seed, "expr", nvars=4)
        graph = parse(f.text)
        names = list(graph.variables)
        fev = forward.forward_gradient(graph, f.point)
        ev = engine.evaluate(graph, f.point)
        truth = sympy_gradient(graph, f.point)
        scale = magnitude(graph, f.point)
        for p, name in enumerate(names):
            got = fev.derivative[p]
            back = ev.grads[graph.variables[name]]
            # forward and reverse sum the same path products in different orders
            worst_reverse = max(worst_reverse, abs(got - back) / max(abs(back), scale[name]))
            worst_sympy = max(worst_sympy, rel(got, truth[name]))
    assert worst_reverse <= 1e-14
    assert worst_sympy <= 1e-11


def test_big_random_formulas_forward_equals_reverse_to_1e_14():
    for seed in (1, 2, 3):
        f = generate(2000, seed, "expr", nvars=10)
        graph = parse(f.text)
        fev = forward.forward_gradient(graph, f.point)
        ev = engine.evaluate(graph, f.point)
        scale = magnitude(graph, f.point)
        for p, name in enumerate(graph.variables):
            back = ev.grads[graph.variables[name]]
            assert abs(fev.derivative[p] - back) <= 1e-14 * max(abs(back), scale[name]), name


def test_directional_is_the_gradient_dotted_with_the_direction():
    rng = random.Random(7)
    for seed in range(1, 6):
        f = generate(25, seed, "expr", nvars=4)
        graph = parse(f.text)
        v = {name: rng.uniform(-2, 2) for name in list(graph.variables)[:3]}
        got = forward.directional(graph, f.point, v)
        truth = sympy_gradient(graph, f.point)
        want = math.fsum(truth[n] * c for n, c in v.items())
        scale = math.fsum(abs(truth[n] * c) for n, c in v.items())
        assert abs(got - want) <= 1e-11 * max(abs(want), scale)


class _Counting:
    """An op whose local rule counts its calls (planted in a graph's op column)."""

    def __init__(self, op):
        self.op, self.calls = op, 0
        self.name = op.name

    def local(self, *args):
        self.calls += 1
        return self.op.local(*args)


def test_a_pass_computes_the_locals_of_the_nodes_its_seed_feeds_only():
    graph = parse("sin(x) + exp(y)*y")
    mark = fed(graph, [graph.variables["x"]])
    assert [graph.ops[i].name for i in range(len(graph)) if mark[i]] == ["var", "sin", "add"]
    values = engine.bind(graph, {"x": 0.5, "y": 2.0})
    locals_, _ = engine.forward(graph, values)
    counting = [_Counting(op) for op in graph.ops]
    graph.ops[:] = counting
    t = forward.tangent_pass(graph, values, {"x": 1.0})
    assert [c.name for c in counting if c.calls] == ["sin", "add"]
    assert all(c.calls <= 1 for c in counting)
    assert t[graph.output] == math.cos(0.5)
    for c in counting:
        c.calls = 0
    forward.tangent_pass(graph, values, {"x": 1.0, "y": 1.0}, locals_)
    assert not any(c.calls for c in counting)  # with the locals given: multiply and add only


# ---------------------------------------------------------------- adiff grad --mode forward

def test_grad_forward_json(run):
    r = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward", "--format", "json")
    assert r.code == 0 and r.stderr == "", r
    doc = r.json()
    assert list(doc) == ["expression", "mode", "at", "value", "gradient", "tangent_passes",
                         "nodes", "output", "kinks", "check"]
    assert doc["mode"] == "forward"
    assert doc["tangent_passes"] == 2
    assert doc["gradient"] == {"x": 2.0 + math.cos(1.0), "y": 1.0}
    assert doc["check"]["ok"] is True and doc["check"]["status"] == {"x": "ok", "y": "ok"}
    assert doc["nodes"][3] == {"id": "n3", "op": "sin", "label": "", "inputs": ["n0"],
                               "value": math.sin(1.0), "local": [math.cos(1.0)],
                               "tangent": {"x": math.cos(1.0), "y": 0.0}, "span": [6, 12]}
    assert [n["tangent"] for n in doc["nodes"]] == [
        {"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 1.0}, {"x": 2.0, "y": 1.0},
        {"x": math.cos(1.0), "y": 0.0}, {"x": 2.0 + math.cos(1.0), "y": 1.0}]


def test_grad_forward_is_grad_plus_mode(run):
    args = ["grad", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json"]
    back = run(*args).json()
    ahead = run(*args, "--mode", "forward").json()
    for key in ("expression", "at", "value", "output", "kinks"):
        assert ahead[key] == back[key]
    assert list(ahead["gradient"]) == list(back["gradient"])
    for name, g in back["gradient"].items():
        assert rel(ahead["gradient"][name], g) <= 1e-14
    for a, b in zip(ahead["nodes"], back["nodes"]):
        assert {k: v for k, v in a.items() if k != "tangent"} == \
            {k: v for k, v in b.items() if k != "grad"}
    assert ahead["check"]["ok"] is True


def test_grad_forward_against_sympy_through_the_cli(run):
    source = "z = t0 + t1*x1 + t2*x2; -log(sigmoid(z)) + 0.5*t1^2*atan(t2)"
    at = {"t0": 0.3, "t1": -1.2, "x1": 0.7, "t2": 2.5, "x2": -1.1}
    spec = ",".join(f"{k}={v}" for k, v in at.items())
    doc = run("grad", source, "--at", spec, "--mode", "forward", "--format", "json").json()
    truth = sympy_gradient(parse(source), at)
    assert set(doc["gradient"]) == set(truth)
    for name, g in doc["gradient"].items():
        assert rel(g, truth[name]) <= 1e-13, name


def test_reverse_mode_is_unchanged_byte_for_byte(run):
    for fmt in ("table", "json", "plain"):
        base = run("grad", "-f", LECTURE, "--at", LECTURE_AT, "--format", fmt)
        spelled = run("grad", "-f", LECTURE, "--at", LECTURE_AT, "--format", fmt, "--mode", "reverse")
        assert base.code == spelled.code == 0
        assert spelled.stdout == base.stdout and spelled.stderr == base.stderr
    assert "mode" not in base.stdout


def test_grad_forward_plain(run):
    r = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward", "--format", "plain",
            "--direction", "x=1,y=-1")
    assert r.code == 0 and r.stderr == ""
    assert r.stdout == ("value\t2.8414709848078967\nx\t2.5403023058681398\ny\t1.0\n"
                        "directional\t1.5403023058681398\n")


def test_grad_forward_table(run):
    r = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward", "--no-check",
            "--direction", "x=1,y=-1", env={"COLUMNS": "100"})
    assert r.code == 0 and r.stderr == "", r
    expected = (
        'f = x*y + sin(x)\n'
        'value 2.841470985   at x = 1, y = 2\n'
        'Nodes, forward mode: tangent = Σ local × tangent(input)                                       \n'
        '                                                                                              \n'
        '  id   label   op    inputs      value   local ∂node/∂input   ∂node/∂x   ∂node/∂y    along v  \n'
        ' ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ \n'
        '  n0   x       var                   1                               1          0          1  \n'
        '  n1   y       var                   2                               0          1         -1  \n'
        '  n2           mul   n0, n1          2                 2, 1          2          1          1  \n'
        '  n3           sin   n0       0.841471             0.540302   0.540302          0   0.540302  \n'
        '  n4           add   n2, n3    2.84147                 1, 1     2.5403          1     1.5403  \n'
        '                                                                                              \n'
        'Gradient                                    \n'
        '                                            \n'
        '  input   value   ∂f/∂input (forward mode)  \n'
        ' ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ \n'
        '  x           1                2.540302306  \n'
        '  y           2                          1  \n'
        '                                            \n'
        'finite-difference check skipped: turned off with --no-check\n'
        'Cost of the gradient over 2 inputs: forward mode 2 tangent passes (one per input), reverse mode 1 \n'
        'backward pass, central differences 4 evaluations; the derivative along v took 1 more tangent pass\n'
        'Derivative along v = (x = 1, y = -1): 1.540302306  (Σ ∂f/∂xᵢ·vᵢ from one tangent pass; v is not \n'
        'normalised)\n'
    )
    assert r.stdout == expected


def test_grad_forward_table_shows_at_most_8_tangent_columns(run):
    source = " + ".join(f"x{k}*x{k + 1}" for k in range(10))
    at = ",".join(f"x{k}=1" for k in range(11))
    r = run("grad", source, "--at", at, "--mode", "forward", "--no-check", env={"COLUMNS": "250"})
    assert r.code == 0, r
    header = next(line for line in r.stdout.splitlines() if "∂node/∂x0" in line)
    assert header.split()[-1] == "∂node/∂x7"
    assert ("(tangents of the first 8 passes shown; 3 more inputs: --format json has every pass)"
            in r.stdout)


def test_grad_forward_node_texts_match_the_entries():
    from autodiff_cli.documents.grad import forward_node_entry, forward_node_texts

    graph = parse("y = x*x; max(y, 2*x) + log(y)/x")
    fev = forward.forward_passes(graph, {"x": 2.0}, [{"x": 1.0}, {"x": -3.5}], keep=range(len(graph)))
    texts = list(forward_node_texts(graph, fev, ["x"], True))
    assert texts == [encode(forward_node_entry(graph, fev, ["x"], i, True)) for i in range(len(graph))]
    assert json.loads(texts[-1])["directional"] == -3.5 * fev.derivative[0]


def test_grad_forward_wrt(run):
    doc = run("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--mode", "forward", "--wrt", "y",
              "--format", "json").json()
    assert doc["gradient"] == {"y": 1.0} and doc["tangent_passes"] == 1
    assert doc["nodes"][2]["tangent"] == {"y": 1.0}
    assert list(doc["check"]["status"]) == ["y"]


def test_grad_forward_check_disagreement_would_be_reported(run):
    # the check judges the forward-mode numbers: they agree at an ordinary point ...
    doc = run("grad", "exp(x)*sin(y)", "--at", "x=0.5,y=2", "--mode", "forward",
              "--format", "json").json()
    assert doc["check"]["ok"] is True
    assert rel(doc["check"]["gradient"]["x"], doc["gradient"]["x"]) < 1e-8
    # ... and a kink is reported with the convention, as in reverse mode
    r = run("grad", "abs(x)", "--at", "x=0", "--mode", "forward", "--format", "json")
    assert r.code == 0
    assert r.json()["kinks"] == [{"node": "n1", "op": "abs", "convention": "d|x|/dx = 0 at x = 0"}]
    assert r.stderr == ("Warning: node n1 (abs) is at its kink (abs at 0), where it is not "
                        "differentiable; convention: d|x|/dx = 0 at x = 0\n")


def test_grad_forward_evaluation_error_is_exit_3(run):
    r = run("grad", "sqrt(x)", "--at", "x=0", "--mode", "forward")
    assert r.code == 3 and r.stdout == ""
    assert r.stderr == ("Error: the tangent is not finite at node n1 (sqrt): the local gradient "
                        "of sqrt is not finite at x = 0\n  sqrt(x)\n  ^^^^^^^\n"
                        "not finite: df/dx = nan\n")


def test_grad_forward_refuses_data(run):
    r = run("grad", "t*x", "--data", str(ROOT / "samples" / "logistic.csv"), "--at", "t=1",
            "--mode", "forward")
    assert r.code == 2 and r.stdout == ""
    assert r.stderr == ("Error: --mode forward works at a point (--at), not over --data\n"
                        "with --data the gradient of the loss is by reverse mode: drop --mode "
                        "forward (--direction works there too)\n")


def test_grad_forward_no_inputs(run):
    doc = run("grad", "2*3", "--mode", "forward", "--format", "json").json()
    assert doc["gradient"] == {} and doc["tangent_passes"] == 0 and doc["value"] == 6.0


# ---------------------------------------------------------------- --direction

def test_direction_json_per_contract(run):
    source = "x^2*sin(y) + exp(x*y)"
    at = {"x": 0.5, "y": -1.25}
    truth = sympy_gradient(parse(source), at)
    want = truth["x"] * 2.0 + truth["y"] * -0.5
    for mode in ("reverse", "forward"):
        r = run("grad", source, "--at", "x=0.5,y=-1.25", "--direction", "x=2,y=-0.5",
                "--mode", mode, "--format", "json")
        assert r.code == 0 and r.stderr == ""
        d = r.json()["directional"]
        assert list(d) == ["direction", "value", "method"]
        assert d["direction"] == {"x": 2.0, "y": -0.5} and d["method"] == "forward"
        assert rel(d["value"], want) <= 1e-14


def test_direction_is_not_normalised_and_unnamed_inputs_are_zero(run):
    doc = run("grad", "3*x + 5*y + 7*z", "--at", "x=0,y=0,z=0", "--direction", "y=10",
              "--format", "json").json()
    assert doc["directional"] == {"direction": {"y": 10.0}, "value": 50.0, "method": "forward"}


def test_direction_repeated_option_and_values_like_at(run):
    doc = run("grad", "x*y", "--at", "x=1,y=1", "--direction", "x=pi", "--direction", "y=-2e-1",
              "--format", "json").json()
    assert doc["directional"]["direction"] == {"x": math.pi, "y": -0.2}
    assert doc["directional"]["value"] == math.pi - 0.2


def test_direction_of_a_name_not_in_the_formula_suggests(run):
    r = run("grad", "alpha*x", "--at", "alpha=1,x=2", "--direction", "alpah=1")
    assert r.code == 2 and r.stdout == ""
    assert r.stderr == "Error: --direction alpah=1: the formula has no input 'alpah'\ndid you mean alpha?\n"
    r = run("grad", "x*y", "--at", "x=1,y=2", "--direction", "q=1")
    assert r.stderr == "Error: --direction q=1: the formula has no input 'q'\nits inputs are: x, y\n"


@pytest.mark.parametrize("spec, message", [
    ("x", "Error: --direction x: expected name=value, e.g. x=1\n"),
    ("x=", "Error: --direction x=: no value for x\n"),
    ("x=1,x=2", "Error: --direction: x is given twice\n"),
    ("x=nan", "Error: --direction x=nan: values must be finite numbers\n"),
    ("x=1e999", "Error: --direction x=1e999: 1e999 is too large for a double-precision float\n"),
    ("x=abc", "Error: --direction x=abc: 'abc' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (",", "Error: --direction needs name=value pairs, e.g. --direction x=1,y=0\n"),
])
def test_direction_bad_values_are_exit_2(spec, message, run):
    r = run("grad", "x*y", "--at", "x=1,y=2", "--direction", spec)
    assert (r.code, r.stdout, r.stderr) == (2, "", message)


def test_zero_direction_warns(run):
    r = run("grad", "x*y", "--at", "x=1,y=2", "--direction", "x=0", "--format", "plain")
    assert r.code == 0
    assert r.stderr == "Warning: the direction is zero: the derivative along it is 0\n"
    assert r.stdout.endswith("directional\t0.0\n")


def test_direction_overflow_is_exit_3(run):
    r = run("grad", "x*1e10", "--at", "x=1", "--direction", "x=1e300")
    assert r.code == 3 and r.stdout == ""
    assert r.stderr.startswith("Error: the tangent is not finite at node n2 (mul): local gradient "
                               "× tangent overflows (1e+10 × 1e+300)\n")


def test_direction_with_data_is_the_gradient_times_v(run):
    csv = str(ROOT / "samples" / "logistic.csv")
    program = str(ROOT / "samples" / "logistic_program.adiff")
    base = ["grad", "-f", program, "--data", csv, "--at", "t0=0.1,t1=-0.2,t2=0.3", "--format", "json"]
    doc = run(*base, "--direction", "t1=1,t2=2").json()
    g = doc["gradient"]
    assert doc["directional"] == {"direction": {"t1": 1.0, "t2": 2.0},
                                  "value": math.fsum([g["t1"], 2 * g["t2"]]), "method": "gradient"}
    columns = doc["data"]["columns"]
    r = run(*base, "--direction", f"{columns[0]}=1")
    assert r.code == 2
    assert r.stderr.startswith(f"Error: --direction {columns[0]}: {columns[0]} is a column of ")
    r = run(*base, "--wrt", "t0", "--direction", "t1=1")
    assert (r.code, r.stderr) == (2, "Error: --direction t1: --wrt leaves t1 out, so the gradient "
                                     "along it is not computed\nadd it to --wrt, e.g. --wrt t0,t1\n")


HOSTILE = [
    ["--mode", "sideways"], ["--direction", ""], ["--direction", "=1"], ["--direction", "x=1=2"],
    ["--direction", "θ=1"], ["--direction", "x=1", "--mode", "forward", "--wrt", "zz"],
    ["--direction", "x=\x1b[31m1"], ["--direction", "\u202ex=1"], ["--mode", "forward", "--nodes", "0"],
]


@pytest.mark.parametrize("extra", HOSTILE)
def test_hostile_options_never_trace_back(extra, run):
    r = run("grad", "x*y", "--at", "x=1,y=2", *extra)
    assert r.code == 2, r
    assert r.stdout == ""
    assert "\x1b" not in r.stderr and "\u202e" not in r.stderr


def test_a_real_process(tmp_path):
    out = subprocess.run([sys.executable, "-m", "autodiff_cli", "grad", "-log(sigmoid(z))",
                          "--at", "z=1", "--mode", "forward", "--direction", "z=2",
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == ""
    doc = json.loads(out.stdout)
    with mpmath.workdps(50):
        truth = mpmath.diff(lambda z: -mpmath.log(1 / (1 + mpmath.exp(-z))), 1)
    assert rel(doc["gradient"]["z"], float(truth)) <= 1e-15
    assert doc["directional"]["value"] == 2 * doc["gradient"]["z"]


def test_a_bounded_table_keeps_the_tangents_of_the_rows_it_shows(run):
    source = "sin(x)*y + exp(x) - x*y/3"
    full = run("grad", source, "--at", "x=1,y=2", "--mode", "forward", "--format", "json").json()
    r = run("grad", source, "--at", "x=1,y=2", "--mode", "forward", "--nodes", "5", "--no-check",
            env={"COLUMNS": "100"})
    assert r.code == 0
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()
            if line.strip().startswith("n") and line.split()[0][1:].isdigit()}
    assert sorted(rows, key=lambda n: int(n[1:])) == ["n0", "n1", "n2", "n8", "n9"]
    for node in full["nodes"]:
        if node["id"] in rows:
            t = node["tangent"]
            assert rows[node["id"]][-2:] == [f"{t['x']:.6g}", f"{t['y']:.6g}"]
    assert "5 of the nodes are not shown" in r.stdout
