"""adiff jacobian: the matrix d output / d input, held to SymPy's Matrix.jacobian, both modes,
its finite-difference check, every output format and the errors."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest
import sympy

from autodiff_cli.calculus import engine
from autodiff_cli.language.parser import parse

from .conftest import ROOT

POLAR_SAMPLE = str(ROOT / "samples" / "polar.adiff")
CARTESIAN = "r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta"


def jacobian_json(run, *args):
    result = run("jacobian", *args, "--format", "json")
    assert result.code == 0, result
    return result.json(), result


def rel(a: float, b) -> float:
    b = float(b)
    return abs(a - b) / abs(b) if b else abs(a)


# ---------------------------------------------------------------- SymPy, the oracle

def test_polar_sample_against_sympy(run):
    doc, result = jacobian_json(run, "-f", POLAR_SAMPLE, "--at", "r=2,theta=0.5")
    assert result.stderr == ""
    r, t = sympy.symbols("r theta")
    f = sympy.Matrix([r * sympy.cos(t), r * sympy.sin(t)])
    exact = f.jacobian([r, t]).evalf(30, subs={r: 2, t: sympy.Rational(1, 2)})
    values = f.evalf(30, subs={r: 2, t: sympy.Rational(1, 2)})
    assert doc["outputs"] == ["x", "y"] and doc["wrt"] == ["r", "theta"]
    for p, out in enumerate(["x", "y"]):
        assert rel(doc["value"][out], values[p]) <= 2e-16
        for c, name in enumerate(["r", "theta"]):
            assert rel(doc["jacobian"][out][name], exact[p, c]) <= 4e-16, (out, name)
    # det = r: the area element r dr dθ
    j = doc["jacobian"]
    det = j["x"]["r"] * j["y"]["theta"] - j["x"]["theta"] * j["y"]["r"]
    assert rel(det, 2) <= 1e-15
    assert doc["check"]["ok"] is True and doc["check"]["agree"] == 4


def test_the_contract_example_against_sympy(run):
    doc, _ = jacobian_json(run, CARTESIAN, "--at", "x=1,y=2")
    x, y = sympy.symbols("x y")
    f = sympy.Matrix([sympy.sqrt(x**2 + y**2), sympy.atan2(y, x)])
    exact = f.jacobian([x, y]).evalf(30, subs={x: 1, y: 2})
    for p, out in enumerate(["r", "theta"]):
        for c, name in enumerate(["x", "y"]):
            assert rel(doc["jacobian"][out][name], exact[p, c]) <= 4e-16


def test_the_two_jacobians_are_inverse(run):
    # d(x, y)/d(r, θ) at (2, 0.5) times d(r, θ)/d(x, y) at the same point is the identity
    polar, _ = jacobian_json(run, "-f", POLAR_SAMPLE, "--at", "r=2,theta=0.5")
    x, y = polar["value"]["x"], polar["value"]["y"]
    cart, _ = jacobian_json(run, CARTESIAN, "--at", f"x={x!r},y={y!r}")
    a = [[polar["jacobian"][o][i] for i in ("r", "theta")] for o in ("x", "y")]
    b = [[cart["jacobian"][o][i] for i in ("x", "y")] for o in ("r", "theta")]
    for i in range(2):
        for k in range(2):
            entry = sum(a[i][m] * b[m][k] for m in range(2))
            assert abs(entry - (i == k)) <= 1e-15


_SYMPY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
    "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin, "cos": sympy.cos,
    "tanh": sympy.tanh, "sqrt": sympy.sqrt, "atan": sympy.atan, "atan2": sympy.atan2,
    "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)), "hypot": lambda a, b: sympy.sqrt(a * a + b * b),
}
_UNARY = ["exp", "log", "sin", "cos", "tanh", "sqrt", "atan", "sigmoid"]


def _expr(rng: random.Random, names: list[str], depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(names) if rng.random() < 0.8 else str(rng.choice([2, 3, 0.5]))
    r = rng.random()
    if r < 0.35:
        f = rng.choice(_UNARY)
        inner = _expr(rng, names, depth - 1)
        # log and sqrt of a square plus one: inside their domain everywhere
        return f"{f}(1 + ({inner})^2)" if f in ("log", "sqrt") else f"{f}({inner})"
    if r < 0.45:
        return f"{rng.choice(['atan2', 'hypot'])}({_expr(rng, names, depth - 1)}, " \
               f"1 + ({_expr(rng, names, depth - 1)})^2)"
    op = rng.choice("+-*")
    return f"({_expr(rng, names, depth - 1)} {op} {_expr(rng, names, depth - 1)})"


def random_program(rng: random.Random) -> str:
    """Shared statements, then 2-4 outputs over x, y, z (and the statements)."""
    names = ["x", "y", "z"]
    lines = []
    for k in range(rng.randint(0, 3)):
        lines.append(f"s{k} = {_expr(rng, names, 3)}")
        names.append(f"s{k}")
    outputs = list(dict.fromkeys(_expr(rng, names, 3) for _ in range(rng.randint(2, 4))))
    if len(outputs) < 2:
        outputs.append("x*y*z")
    return "\n".join(lines + [", ".join(outputs)])


def sympy_outputs(graph):
    """Every output as a SymPy expression, built node by node from the parsed structure (a
    loop): only the structure is adiff's, the calculus is SymPy's."""
    syms = {name: sympy.Symbol(name) for name in graph.variables}
    exprs: list = []
    for i, op in enumerate(graph.ops):
        if op.name == "var":
            exprs.append(syms[graph.labels[i]])
        elif op.name == "const":
            exprs.append(sympy.Float(graph.consts[i], 30))
        else:
            exprs.append(_SYMPY[op.name](*[exprs[j] for j in graph.inputs[i]]))
    return [exprs[k] for k in graph.outputs], syms


def magnitude(graph, at, k: int) -> dict[str, float]:
    """Σ over the paths from each input to output k of |product of the locals|: the scale of
    the rounding error any order of summing the paths makes (forward and reverse alike)."""
    values = engine.bind(graph, at)
    locals_, _ = engine.forward(graph, values)
    absolute = [tuple(abs(v) for v in lo) for lo in locals_]
    grads = engine.backward(graph.with_output(k), values, absolute)
    return {n: grads[i] for n, i in graph.variables.items()}


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_generated_programs_against_sympy(run, mode):
    """Values and entries within 1e-13 relative of SymPy's exact ones (30 digits); entries
    also within the rounding scale of the sum over paths (1e-15 of ``magnitude``), for
    entries whose paths cancel."""
    rng = random.Random(2026)
    compared = 0
    for _ in range(25):
        source = random_program(rng)
        graph = parse(source)
        at = {name: round(rng.uniform(-1.5, 1.5), 3) for name in graph.variables}
        spec = ",".join(f"{k}={v}" for k, v in at.items())
        result = run("jacobian", source, "--at", spec, "--mode", mode, "--format", "json")
        assert result.code == 0, (source, result)
        doc = result.json()
        assert doc["mode"] == mode and doc["check"]["ok"] is True, (source, doc["check"])
        exprs, syms = sympy_outputs(graph)
        matrix = sympy.Matrix(exprs).jacobian([syms[n] for n in doc["wrt"]])
        subs = {syms[n]: sympy.Float(v, 30) for n, v in at.items()}
        exact = matrix.evalf(30, subs=subs)
        for p, name in enumerate(doc["outputs"]):
            assert rel(doc["value"][name], exprs[p].evalf(30, subs=subs)) <= 1e-13, source
            scale = magnitude(graph, at, graph.outputs[p])
            for c, x in enumerate(doc["wrt"]):
                got, want = doc["jacobian"][name][x], float(exact[p, c])
                assert abs(got - want) <= 1e-13 * abs(want) + 1e-15 * scale[x], \
                    (source, name, x, got, want)
                compared += 1
    assert compared >= 150


# ---------------------------------------------------------------- the two modes

@pytest.mark.parametrize("source, at, mode, passes", [
    (CARTESIAN, "x=1,y=2", "reverse", 2),  # 2 outputs, 2 inputs: a tie goes to reverse
    ("x*y*z, x + y + z", "x=1,y=2,z=3", "reverse", 2),  # fewer outputs than inputs
    ("x*y, x + y, x - y, x/y", "x=1,y=2", "forward", 2),  # more outputs than inputs
])
def test_the_cheaper_mode_is_chosen(run, source, at, mode, passes):
    doc, _ = jacobian_json(run, source, "--at", at)
    assert (doc["mode"], doc["passes"]) == (mode, passes)


def test_an_output_listed_under_two_names_costs_one_pass(run):
    doc, _ = jacobian_json(run, "a = sin(x)*y; b = a; a, b", "--at", "x=1,y=2,z=3")
    assert doc["mode"] == "reverse" and doc["passes"] == 1
    assert doc["jacobian"]["a"] == doc["jacobian"]["b"]


def test_forced_modes_agree(run):
    source = "u = sin(x*y) + z; v = exp(-x^2)*u; w = atan2(u, 1 + v^2); u, v, w, u*v*w"
    at = "x=0.3,y=-1.2,z=0.7"
    reverse, _ = jacobian_json(run, source, "--at", at, "--mode", "reverse")
    forward, _ = jacobian_json(run, source, "--at", at, "--mode", "forward")
    auto, _ = jacobian_json(run, source, "--at", at)
    assert (reverse["mode"], reverse["passes"]) == ("reverse", 4)
    assert (forward["mode"], forward["passes"]) == ("forward", 3)
    assert auto["mode"] == "forward"
    for out in reverse["outputs"]:
        for x in reverse["wrt"]:
            a, b = reverse["jacobian"][out][x], forward["jacobian"][out][x]
            assert abs(a - b) <= 1e-14 * abs(a), (out, x)
    assert forward["jacobian"] == auto["jacobian"]


def test_one_output_is_a_one_row_jacobian_equal_to_grad(run):
    source = "-log(sigmoid(t0 + t1*x1))"
    at = "t0=0.5,t1=-1,x1=2"
    doc, _ = jacobian_json(run, source, "--at", at)
    grad = run("grad", source, "--at", at, "--format", "json").json()
    assert doc["outputs"] == [source]
    assert doc["value"] == {source: grad["value"]}
    assert doc["jacobian"] == {source: grad["gradient"]}


def test_wrt_picks_the_columns(run):
    doc, _ = jacobian_json(run, CARTESIAN, "--at", "x=1,y=2", "--wrt", "y")
    assert doc["wrt"] == ["y"] and set(doc["jacobian"]["r"]) == {"y"}
    assert doc["mode"] == "forward" and doc["passes"] == 1  # one input: one tangent pass


def test_an_output_that_does_not_depend_on_an_input(run):
    doc, _ = jacobian_json(run, "x*y, exp(z)", "--at", "x=1,y=2,z=0")
    assert doc["jacobian"] == {"x*y": {"x": 2.0, "y": 1.0, "z": 0.0},
                               "exp(z)": {"x": 0.0, "y": 0.0, "z": 1.0}}
    check = doc["check"]
    assert check["status"]["exp(z)"] == {"x": "ok", "y": "ok", "z": "ok"}
    assert check["jacobian"]["exp(z)"]["x"] == 0.0
    assert check["notes"]["exp(z)"]["x"] == "the output does not depend on x: both are exactly 0"


# ---------------------------------------------------------------- the JSON contract

def test_json_shape(run):
    doc, result = jacobian_json(run, CARTESIAN, "--at", "x=1,y=2")
    assert result.stderr == ""
    assert list(doc)[:3] == ["expression", "at", "outputs"]
    assert {"expression", "at", "outputs", "value", "jacobian", "check"} <= set(doc)
    assert doc["expression"] == CARTESIAN
    assert doc["at"] == {"x": 1.0, "y": 2.0}
    assert doc["outputs"] == ["r", "theta"]
    assert doc["value"] == {"r": 5 ** 0.5, "theta": math.atan2(2, 1)}
    assert list(doc["jacobian"]) == ["r", "theta"]
    assert list(doc["jacobian"]["r"]) == ["x", "y"]
    assert doc["nodes"] == {"r": "n7", "theta": "n8"} and doc["kinks"] == []
    check = doc["check"]
    assert check["ok"] is True and check["method"] == "central"
    assert set(check["jacobian"]) == {"r", "theta"}
    assert check["status"] == {"r": {"x": "ok", "y": "ok"}, "theta": {"x": "ok", "y": "ok"}}
    worst = check["worst"]
    assert worst["status"] == "ok"
    assert worst["jacobian"] == doc["jacobian"][worst["output"]][worst["input"]]

    def ratio(o, x):  # how near the tolerance an entry is
        return check["abs_error"][o][x] / (check["atol"] + check["rtol"] * abs(check["jacobian"][o][x]))

    nearest = max(((o, x) for o in doc["outputs"] for x in doc["wrt"]), key=lambda e: ratio(*e))
    assert (worst["output"], worst["input"]) == nearest
    assert worst["tolerance"] == check["atol"] + check["rtol"] * abs(worst["numeric"])


def test_json_is_strict_and_nothing_else_is_on_stdout(run):
    result = run("jacobian", "x, y", "--at", "x=1,y=2", "--format", "json")
    json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert result.stdout.count("\n") == 1


# ---------------------------------------------------------------- the table and plain

def test_table_of_the_polar_sample(run):
    result = run("jacobian", "-f", POLAR_SAMPLE, "--at", "r=2,theta=0.5", env={"COLUMNS": "100"})
    assert result.code == 0 and result.stderr == ""
    assert [line.rstrip() for line in result.stdout.splitlines()] == [
        "f = x = r*cos(theta); y = r*sin(theta); x, y",
        "outputs x, y   at r = 2, theta = 0.5",
        "Jacobian ∂output/∂input",
        "",
        "  output          value           ∂/∂r        ∂/∂theta   check",
        " ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
        "  x         1.755165124   0.8775825619   -0.9588510772   ✓ agree",
        "  y        0.9588510772   0.4794255386     1.755165124   ✓ agree",
        "",
        "reverse mode: 2 backward passes, one per output (forward mode: 2 tangent passes, one per "
        "input)",
        "finite differences: 4 of 4 entries agree; nearest to the tolerance: ∂x/∂r (rel err 1e-11)",
        "central differences, step h = 6.06e-06·max(1, |x|); they agree when |ad − fd| ≤ 1e-08 + "
        "1e-06·|fd|",
    ]


def test_a_wide_jacobian_is_shown_one_entry_per_line(run):
    inputs = [f"x{k}" for k in range(12)]
    source = f"{' + '.join(inputs)}, {' * '.join(inputs)}"
    at = ",".join(f"{x}=1" for x in inputs)
    result = run("jacobian", source, "--at", at, "--no-check", env={"COLUMNS": "80"})
    assert result.code == 0
    lines = result.stdout.splitlines()
    # (the heading takes two lines at 80 columns)
    assert lines[2] == "outputs x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11, …"
    assert lines[3].startswith("at x0 = 1, x1 = 1, ")  # too long to share the line
    assert lines[5].rstrip() == "Jacobian ∂output/∂input, one entry per line"
    assert sum(1 for line in lines if line.strip().startswith(("x0 +", "x0 *"))) == 24
    assert max(len(line.rstrip()) for line in lines) <= 80


def test_plain_is_a_matrix_with_a_header(run):
    result = run("jacobian", CARTESIAN, "--at", "x=1,y=2", "--format", "plain")
    assert result.code == 0
    assert result.stdout == ("output\tvalue\tx\ty\n"
                             "r\t2.23606797749979\t0.4472135954999579\t0.8944271909999159\n"
                             "theta\t1.1071487177940904\t-0.39999999999999997\t0.19999999999999998\n")


def test_names_are_escaped_in_the_table_and_plain(run):
    result = run("jacobian", "a\u202eb = x*2; a\u202eb, x", "--at", "x=1")
    assert result.code == 2  # U+202E is not part of a name (and not a valid character here)
    result = run("jacobian", "θ1 = x*2; θ1, x", "--at", "x=1", "--format", "plain")
    assert result.stdout.splitlines()[1] == "θ1\t2.0\t2.0"
    result = run("jacobian", "θ1 = x*2; θ1, x", "--at", "x=1", env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 0


def test_no_inputs_means_no_columns(run):
    result = run("jacobian", "2, 3*4")
    assert result.code == 0
    assert "The formula has no input variables: the Jacobian has no columns." in result.stdout
    doc, _ = jacobian_json(run, "2, 3*4")
    assert doc["jacobian"] == {"2": {}, "3*4": {}} and doc["mode"] == "forward" and doc["passes"] == 0


# ---------------------------------------------------------------- the check

def test_the_check_is_skipped_over_the_budget_and_forced_with_check(run):
    inputs = [f"x{k}" for k in range(60)]
    body = " + ".join(f"sin({x})*{x}" for x in inputs)
    source = ", ".join(f"{body} + {k}" for k in range(8))
    at = ",".join(f"{x}=0.5" for x in inputs)
    result = run("jacobian", source, "--at", at, "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert list(doc["check"]) == ["skipped"]
    assert result.stderr.startswith("Warning: finite-difference check skipped: it would cost up to ")
    assert "(2 × 8 outputs × 60 inputs × 1,508 nodes), over the budget of 1,000,000" in \
        result.stderr
    forced = run("jacobian", source, "--at", at, "--format", "json", "--check").json()
    assert forced["check"]["ok"] is True and forced["check"]["entries"] == 480
    off = run("jacobian", "x, y", "--at", "x=1,y=2", "--format", "json", "--no-check")
    assert off.json()["check"] == {"skipped": "turned off with --no-check"} and off.stderr == ""


def test_the_check_catches_a_wrong_rule(run, monkeypatch):
    import autodiff_cli.core.ops as ops

    bad = ops.OPS["sin"].replace(d=("1.001*cos(a)",))  # a wrong rule, planted
    monkeypatch.setitem(ops.FUNCTIONS["sin"], 1, bad)
    result = run("jacobian", "sin(x*y), x + y", "--at", "x=0.5,y=2", "--format", "json")
    assert result.code == 0  # as grad: a warning, the matrix is still printed
    doc = result.json()
    assert doc["check"]["ok"] is False
    assert doc["check"]["status"] == {"sin(x*y)": {"x": "mismatch", "y": "mismatch"},
                                      "x + y": {"x": "ok", "y": "ok"}}
    assert doc["check"]["worst"]["status"] == "mismatch"
    assert result.stderr == ("Warning: finite differences disagree with the Jacobian for "
                             "∂sin(x*y)/∂x, ∂sin(x*y)/∂y; see the table\n")
    table = run("jacobian", "sin(x*y), x + y", "--at", "x=0.5,y=2")
    assert "Entries finite differences do not confirm" in table.stdout
    assert "✗ DISAGREE" in table.stdout
    assert "finite differences: 2 of 4 entries agree (2 disagree)\n" in table.stdout


def test_a_kink_is_reported(run):
    result = run("jacobian", "abs(x), x*y", "--at", "x=0,y=2", "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert doc["jacobian"]["abs(x)"] == {"x": 0.0, "y": 0.0}
    assert doc["check"]["status"]["abs(x)"]["x"] == "kink"
    assert doc["kinks"] == [{"node": "n1", "op": "abs", "convention": doc["kinks"][0]["convention"]}]
    assert "is at its kink" in result.stderr
    table = run("jacobian", "abs(x), x*y", "--at", "x=0,y=2").stdout
    assert "finite differences: 3 of 4 entries agree (1 at a kink)\n" in table
    assert "∂abs(x)/∂x: not differentiable at this point (kink)\n" in table


# ---------------------------------------------------------------- errors

def test_errors(run):
    unbound = run("jacobian", CARTESIAN, "--at", "x=1")
    assert unbound.code == 2 and unbound.stdout == ""
    assert unbound.stderr.startswith("Error: no value for the variable y\n")
    domain = run("jacobian", "log(x), x", "--at", "x=-1")
    assert domain.code == 3 and domain.stdout == ""
    assert domain.stderr.startswith("Error: log is not defined at x = -1")
    infinite = run("jacobian", "sqrt(x), x", "--at", "x=0", "--mode", "reverse")
    assert infinite.code == 3
    assert infinite.stderr.startswith("Error: the gradient is not finite at node n1 (sqrt)")
    forward = run("jacobian", "sqrt(x), x", "--at", "x=0")  # 2 outputs, 1 input: forward
    assert forward.code == 3
    assert forward.stderr.startswith("Error: the tangent is not finite at node n1 (sqrt)")
    wrt = run("jacobian", CARTESIAN, "--at", "x=1,y=2", "--wrt", "yy")
    assert wrt.code == 2 and "did you mean y?" in wrt.stderr
    mode = run("jacobian", CARTESIAN, "--at", "x=1,y=2", "--mode", "sideways")
    assert mode.code == 2 and "'sideways' is not one of 'reverse', 'forward'" in mode.stderr


def test_a_formula_starting_with_minus(run):
    doc, _ = jacobian_json(run, "-x*y, -x", "--at", "x=1,y=2")
    assert doc["jacobian"] == {"-x*y": {"x": -2.0, "y": -1.0}, "-x": {"x": -1.0, "y": 0.0}}


def test_in_a_real_process():
    command = [sys.executable, "-m", "autodiff_cli", "jacobian", "-f", POLAR_SAMPLE,
               "--at", "r=2,theta=0.5", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["outputs"] == ["x", "y"]
    bad = subprocess.run(command[:4] + ["x, y", "--at", "x=1"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "no value for the variable y" in bad.stderr


def test_json_mode_imports_no_rich_and_no_numpy():
    code = ("import sys; from autodiff_cli.__main__ import main\n"
            "sys.argv = ['adiff', 'jacobian', 'x*y, x + y', '--at', 'x=1,y=2', '--format', 'json']\n"
            "try:\n    main()\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('rich', 'numpy', 'sympy', 'scipy') if m in sys.modules),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


@pytest.mark.parametrize("args", [
    [""], [","], ["x,"], [", x"], ["x, x"], ["1/0, x"], ["x, y", "--at", "x=1", "--at", "x=2"],
    ["x, y", "--at", "x="], ["x, y", "--outputs", ""], ["a = x; a, x", "--outputs", "a,a,a"],
    ["θ = x; θ, x", "--at", "x=1", "--outputs", "θ"], ["x\u200d, y", "--at", "x=1,y=1"],
    ["log(x), x", "--at", "x=0"], ["exp(x), x", "--at", "x=1000"], ["x, y", "--mode"],
])
def test_hostile_inputs_never_crash(run, args):
    result = run("jacobian", *args)  # run() fails on a traceback or a stray exception
    assert result.code in (0, 1, 2, 3), result
    if result.code:
        assert result.stdout == ""
        assert result.stderr.splitlines()[-1] and ("\nError: " in "\n" + result.stderr
                                                  or result.stderr.startswith("Usage: "))


def test_deep_and_wide_programs(run):
    deep = "-" * 20_000 + "x"
    doc, _ = jacobian_json(run, f"{deep}, x*y", "--at", "x=1,y=2", "--max-size", "100000")
    assert doc["jacobian"][deep] == {"x": 1.0, "y": 0.0}
    nested = "(" * 20_000 + "x" + ")" * 20_000
    doc, _ = jacobian_json(run, f"{nested}*2, y", "--at", "x=1,y=2", "--max-size", "100000")
    assert doc["jacobian"][f"{nested}*2"] == {"x": 2.0, "y": 0.0}
    many = ", ".join(f"x*{k}" for k in range(1, 3001))
    result = run("jacobian", many, "--at", "x=1.5")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert any("2,940 more outputs" in line for line in lines)  # the first and last 30 shown
    assert "forward mode: 1 tangent pass, one per input (reverse mode: 3,000 backward passes, " \
           "one per output)" in " ".join(result.stdout.split())
    doc, _ = jacobian_json(run, many, "--at", "x=1.5")
    assert len(doc["outputs"]) == 3000 and doc["jacobian"]["x*2999"] == {"x": 2999.0}
