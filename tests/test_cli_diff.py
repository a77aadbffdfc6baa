"""adiff diff through the front door: outputs, the contract's JSON, --at against adiff grad,
--order against adiff hessian and SymPy, several outputs against adiff jacobian, errors,
streams and samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from autodiff_cli.calculus import engine
from autodiff_cli.language.parser import parse

from .conftest import ROOT, invoke

LOSS = "-log(sigmoid(t0 + t1*x1 + t2*x2))"
LOSS_AT = "t0=1,t1=1,x1=1,t2=2,x2=2"
SAMPLES = sorted((ROOT / "samples").glob("diff_*.adiff"))


def diff(*args, input=None, env=None):
    return invoke("diff", *args, input=input, env=env)


def diff_json(*args):
    result = diff(*args, "--format", "json")
    assert result.code == 0, result
    return result.json()


def close(a: float, b: float, rtol: float = 1e-12, scale: float = 0.0) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), scale)


def bindings(at: str) -> dict[str, float]:
    return {k: float(v) for k, v in (part.split("=") for part in at.split(","))}


def value_of(formula: str, at: dict) -> float:
    """A printed formula, parsed back by adiff and evaluated (forward pass only)."""
    return engine.value_at(parse(formula), at)


def program_values(program: str, at: dict) -> dict[str, float]:
    """Every output of the program form (its last statement: ``d_x, d_y``), by name."""
    graph = parse(program)
    values = engine.bind(graph, at)
    engine.forward(graph, values, local=False)
    return {name: values[k] for name, k in zip(graph.output_names, graph.outputs)}


# ---------------------------------------------------------------- the formats

def test_text_is_the_textbook_derivative():
    result = diff("x^2*sin(x)")
    assert (result.code, result.stdout, result.stderr) == (
        0, "∂f/∂x = 2*x*sin(x) + x^2*cos(x)\n", "")


def test_json_is_the_contracts_shape():
    doc = diff_json("x^2*sin(x)")
    assert list(doc) == ["expression", "wrt", "order", "derivatives", "program"]
    assert doc["expression"] == "x^2*sin(x)"
    assert doc["wrt"] == ["x"] and doc["order"] == 1
    assert doc["derivatives"] == {"x": "2*x*sin(x) + x^2*cos(x)"}
    assert doc["program"].splitlines()[-1] == "d_x"


def test_wrt_defaults_to_every_input_in_order_of_first_use():
    doc = diff_json("y*sin(x) + z*x")
    assert doc["wrt"] == ["y", "x", "z"] and list(doc["derivatives"]) == ["y", "x", "z"]
    doc = diff_json("y*sin(x) + z*x", "--wrt", "z,x")
    assert doc["wrt"] == ["z", "x"] and list(doc["derivatives"]) == ["z", "x"]
    assert doc["program"].splitlines()[-1] == "d_z, d_x"


def test_plain_is_key_tab_formula():
    result = diff("x*y + sin(x)", "--format", "plain")
    assert result.code == 0 and result.stderr == ""
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [fields[0] for fields in lines] == ["x", "y"]
    assert all(len(fields) == 2 for fields in lines)
    assert lines[1][1] == "x"


def test_plain_with_at_adds_the_value_and_each_derivatives_value():
    result = diff("x*y + sin(x)", "--at", "x=1,y=2", "--format", "plain")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "value\t2.8414709848078967"
    assert lines[2] == "y\tx\t1.0"
    assert lines[1].split("\t")[0] == "x" and float(lines[1].split("\t")[2]) == pytest.approx(
        2.5403023058681398, rel=1e-15)


def test_text_with_shared_statements_prints_them_first():
    doc = diff_json(LOSS)
    result = diff(LOSS)
    lines = result.stdout.splitlines()
    program = doc["program"].splitlines()
    names = program[-1].split(", ")
    shared = [line for line in program[:-1] if line.split(" = ")[0] not in names]
    assert lines[:len(shared)] == shared
    assert [line.split(" = ")[0] for line in lines[len(shared):]] == [
        "∂f/∂t0", "∂f/∂t1", "∂f/∂x1", "∂f/∂t2", "∂f/∂x2"]


def test_text_labels_of_higher_orders():
    result = diff("x^3*y^2", "--order", "3")
    assert [line.split(" = ")[0] for line in result.stdout.splitlines()
            if line.startswith("∂")] == ["∂³f/∂x³", "∂³f/∂x²∂y", "∂³f/∂x∂y²", "∂³f/∂y³"]


def test_text_in_ascii_where_stdout_cannot_write_symbols():
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "diff", "x^2*y", "--order", "2"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [line.split(" = ")[0] for line in proc.stdout.splitlines()] == [
        "d^2f/dx^2", "d^2f/(dx dy)", "d^2f/dy^2"]


# ---------------------------------------------------------------- correctness

def test_every_derivative_parses_back_and_agrees_with_reverse_mode():
    at = bindings(LOSS_AT)
    doc = diff_json(LOSS)
    ev = engine.evaluate(parse(LOSS), at)
    for name, formula in doc["derivatives"].items():
        assert close(value_of(formula, at), ev.gradient[name]), (name, formula)
        result = invoke("grad", formula, "--at", LOSS_AT, "--format", "json")
        assert result.code == 0, result  # adiff grad accepts it (the contract)
    values = program_values(doc["program"], at)
    assert list(values) == [f"d_{name}" for name in doc["wrt"]]
    for name in doc["wrt"]:
        assert close(values[f"d_{name}"], ev.gradient[name])


def test_the_lectures_loss():
    doc = diff_json(LOSS, "--at", LOSS_AT)
    assert doc["values"]["t0"] == pytest.approx(-0.00247, abs=5e-6)
    assert close(doc["values"]["t0"], -0.0024726231566347743)
    assert doc["check"]["ok"] is True


def test_at_equals_adiff_grads_gradient():
    for formula, at in [(LOSS, LOSS_AT), ("x*y + sin(x)", "x=1,y=2"),
                        ("z = x*y; w = sin(z)*z + y; w*w/(1 + x^2)", "x=0.3,y=-1.2"),
                        ("softplus(x) + tanh(x*y) + logsumexp(x, y, 1)", "x=-0.7,y=2.5")]:
        doc = diff_json(formula, "--at", at)
        grad = invoke("grad", formula, "--at", at, "--format", "json").json()
        assert doc["value"] == grad["value"]
        assert doc["gradient"] == grad["gradient"]  # the same reverse pass
        assert doc["check"]["reverse"] == grad["gradient"]
        for name, g in grad["gradient"].items():
            assert close(doc["values"][name], g), (formula, name)
        assert doc["check"]["ok"] is True
        assert list(doc)[:5] == ["expression", "wrt", "order", "derivatives", "program"]
        assert list(doc)[5:] == ["at", "value", "gradient", "values", "check"]


def test_at_text_shows_the_values_beside_reverse_mode():
    result = diff("x*y + sin(x)", "--at", "x=1,y=2")
    assert result.code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "∂f/∂x = y + cos(x)" and lines[1] == "∂f/∂y = x"
    assert "value 2.841470985   at x = 1, y = 2" in lines
    rows = [line for line in lines if "✓" in line]
    assert re.fullmatch(r"\s*∂f/∂x\s+2\.540302306\s+2\.540302306\s+0\s+✓ agree\s*", rows[0])
    assert re.fullmatch(r"\s*∂f/∂y\s+1\s+1\s+0\s+✓ agree\s*", rows[1])


def test_kinks_keep_their_conventions():
    """At the kink the printed derivative gives exactly the engine's convention."""
    cases = [("abs(x)", "x=0", {"x": 0.0}), ("relu(x)", "x=0", {"x": 0.0}),
             ("max(x, y)", "x=1,y=1", {"x": 0.5, "y": 0.5}),
             ("min(x, y, 2)", "x=2,y=2", {"x": 1 / 3, "y": 1 / 3}),
             ("abs(x - y)*y", "x=1,y=1", {"x": 0.0, "y": 0.0}),
             ("sign(x) + step(x)", "x=0", {"x": 0.0})]
    for formula, at, expected in cases:
        result = diff(formula, "--at", at, "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        grad = invoke("grad", formula, "--at", at, "--format", "json").json()
        assert doc["values"] == expected == grad["gradient"], formula
        for name, text in doc["derivatives"].items():
            assert value_of(text, bindings(at)) == expected[name], (formula, text)


def test_order_2_keys_and_agreement_with_adiff_hessian():
    formula, at = "x^3*y + exp(x*y) + sin(x)*z", "x=0.5,y=-1.5,z=2"
    doc = diff_json(formula, "--order", "2", "--at", at)
    assert list(doc["derivatives"]) == ["x,x", "x,y", "x,z", "y,y", "y,z", "z,z"]
    assert doc["order"] == 2 and doc["check"]["ok"] is True
    hessian = invoke("hessian", formula, "--at", at, "--format", "json")
    if hessian.code == 2 and "No such command" in hessian.stderr:
        pytest.skip("adiff hessian is not registered in this build")
    assert hessian.code == 0, hessian
    h = hessian.json()["hessian"]
    scale = max(abs(v) for row in h.values() for v in row.values())
    for key, value in doc["values"].items():
        a, b = key.split(",")
        assert close(value, h[a][b], 1e-12, scale), key
        assert value_of(doc["derivatives"][key], bindings(at)) == pytest.approx(value,
                                                                              rel=1e-14)


def test_order_3_against_sympy():
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y")
    f = x**3 * y**2 + sympy.sin(x * y) + sympy.exp(x) / y
    at = {"x": 0.7, "y": 1.3}
    doc = diff_json("x^3*y^2 + sin(x*y) + exp(x)/y", "--order", "3",
                    "--at", "x=0.7,y=1.3")
    assert list(doc["derivatives"]) == ["x,x,x", "x,x,y", "x,y,y", "y,y,y"]
    for key, formula in doc["derivatives"].items():
        exact = float(sympy.diff(f, *[sympy.Symbol(v) for v in key.split(",")]).subs(
            {x: sympy.Rational(7, 10), y: sympy.Rational(13, 10)}).evalf(30))
        assert close(doc["values"][key], exact, 1e-12, 1.0), (key, doc["values"][key], exact)
        assert close(value_of(formula, at), exact, 1e-12, 1.0), key
    assert doc["check"]["ok"] is True


def test_several_outputs_are_differentiated_each():
    program = "r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta"
    doc = diff_json(program, "--at", "x=0.6,y=0.8")
    assert doc["outputs"] == ["r", "theta"]
    assert list(doc["derivatives"]) == ["r/x", "r/y", "theta/x", "theta/y"]
    jacobian = invoke("jacobian", program, "--at", "x=0.6,y=0.8", "--format", "json").json()
    assert doc["value"] == jacobian["value"]
    for key, value in doc["values"].items():
        out, name = key.split("/")
        assert close(value, jacobian["jacobian"][out][name], 1e-12, 1.0), key
        assert doc["jacobian"][out][name] == jacobian["jacobian"][out][name]
    text = diff(program).stdout
    assert [line.split(" = ")[0] for line in text.splitlines() if line.startswith("∂")] == [
        "∂r/∂x", "∂r/∂y", "∂theta/∂x", "∂theta/∂y"]
    picked = diff_json(program, "--outputs", "theta")  # one output: the plain keys
    assert list(picked["derivatives"]) == ["x", "y"] and "outputs" not in picked


def test_an_output_that_is_not_a_name_keeps_its_text():
    result = diff("x*y, x + y")
    assert result.code == 0, result
    assert [line.split(" = ")[0] for line in result.stdout.splitlines()
            if line.startswith("∂")] == ["∂(x*y)/∂x", "∂(x*y)/∂y", "∂(x + y)/∂x",
                                        "∂(x + y)/∂y"]


def test_a_long_chain_stays_linear():
    """The chain family with reuse (f = x*y, then k times f = sin(f)*f + y): SymPy's printed
    diff swells to 200,718 characters at k = 10; adiff's program stays linear in k."""
    sizes = {}
    for k in (10, 100, 1000):
        program = "f = x*y\n" + "f = sin(f)*f + y\n" * k + "f"
        doc = diff_json(program, "--at", "x=0.5,y=0.3")
        assert doc["check"]["ok"] is True
        sizes[k] = len(doc["program"])
        at = {"x": 0.5, "y": 0.3}
        values = program_values(doc["program"], at)
        assert close(values["d_x"], doc["gradient"]["x"], 1e-9)
    assert sizes[10] < 200_718 / 50
    assert sizes[1000] < 12 * sizes[100]


def test_no_inputs():
    result = diff("2*pi + 1")
    assert (result.code, result.stdout, result.stderr) == (
        0, "The formula has no input variables: there is no derivative.\n", "")
    doc = diff_json("2*pi + 1")
    assert doc == {"expression": "2*pi + 1", "wrt": [], "order": 1, "derivatives": {},
                   "program": ""}


# ---------------------------------------------------------------- errors and streams

@pytest.mark.parametrize("args, stderr", [
    (["x*y", "--order", "0"], "Error: --order 0: the order of a derivative is a whole number "
                              "from 1 to 10\ne.g. --order 2 for second derivatives\n"),
    (["x*y", "--order", "11"], "Error: --order 11: the order of a derivative is a whole number "
                               "from 1 to 10\ne.g. --order 2 for second derivatives\n"),
    (["x*y", "--wrt", "z"], "Error: --wrt z: the formula has no input 'z'\n"
                            "its inputs are: x, y\n"),
    (["x*y", "--wrt", "xx"], "Error: --wrt xx: the formula has no input 'xx'\n"
                             "did you mean x?\n"),
    (["x*y", "--explain", "--format", "c"], "Error: --explain narrates in --format text, plain "
                                            "or json, not c\ndrop --explain, or use --format "
                                            "text\n"),
    (["+".join(f"x{i}" for i in range(200)), "--order", "2"],
     "Error: --order 2 over 200 inputs gives 20,100 derivatives, more than 10,000\n"
     "pick the inputs that matter with --wrt, e.g. --wrt x,y\n"),
    (["x +"], "Error: syntax error at line 1, column 4: unexpected end of input\n  x +\n"
              "     ^\nexpected: '(', '+', '-', a name, a number\n"),
])
def test_bad_input_exits_2(args, stderr):
    result = diff(*args)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == stderr


def test_order_must_be_a_number():
    result = diff("x", "--order", "two")
    assert result.code == 2 and result.stdout == ""
    assert "Invalid value for '--order': 'two' is not a valid integer." in result.stderr


def test_evaluation_errors_exit_3():
    result = diff("sqrt(x)", "--at", "x=0")
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.startswith("Error: the gradient is not finite at node n1 (sqrt)")
    result = diff("log(x)", "--at", "x=-1", "--format", "json")
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.startswith("Error: log is not defined at x = -1")


def test_unbound_and_unused_bindings():
    result = diff("x*y", "--at", "x=1")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: no value for the variable y")
    result = diff("x^2", "--at", "x=3,z=1", "--format", "plain")
    assert result.code == 0
    assert result.stderr == "Warning: --at binds z, which the formula does not use\n"
    assert result.stdout.splitlines()[0] == "value\t9.0"


def test_a_formula_may_start_with_a_minus_and_come_from_stdin_or_a_file(tmp_path):
    assert diff("-x^2").stdout == "∂f/∂x = -2*x\n"
    assert diff("-", input="x^2*sin(x)\n").stdout == "∂f/∂x = 2*x*sin(x) + x^2*cos(x)\n"
    path = tmp_path / "f.adiff"
    path.write_text("# a comment\nz = x*x\nz*x\n", encoding="utf-8")
    assert diff("-f", str(path)).stdout == "∂f/∂x = 3*x^2\n"


def test_hostile_input_never_gives_a_traceback():
    for args in (["", "--format", "json"], ["("], ["x +"], ["1/0", "--at", "x=1"],
                 ["log(-1)"], ["x=1;"], ["θ"], ["-" * 10000 + "x"],
                 ["x", "--at", "x=1", "--at", "x=2"], ["x", "--at", "x="],
                 ["x", "--order", "99999999999999999999"], ["x\x1b[31m"],
                 ["sin(" * 5000 + "x" + ")" * 5000, "--format", "latex"]):
        for fmt in ("text", "json", "python"):
            result = diff(*args, "--format", fmt)
            assert result.code in (0, 2, 3), (args, result)
            if result.code == 0 and fmt == "json":
                json.loads(result.stdout)


def test_no_colour_codes_with_no_color():
    result = diff("x*y", "--at", "x=1,y=2", env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "\x1b" not in result.stdout + result.stderr


def test_json_and_code_formats_do_not_import_rich():
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    for fmt in ("json", "python", "latex", "plain"):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autodiff_cli", "diff",
                               "x^2*sin(x)", "--at", "x=1", "--format", fmt],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        modules = {m.group(1) for m in re.finditer(r"import time:\s*\d+\s*\|\s*\d+\s*\|\s*(\S+)",
                                                   proc.stderr)}
        assert "autodiff_cli.calculus.derive" in modules  # the measurement works
        assert not any(m == "rich" or m.startswith("rich.") for m in modules), fmt


# ---------------------------------------------------------------- samples

def _sample_commands(path):
    return [line[4:] for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("# $ adiff diff ")]


def test_there_are_diff_samples():
    assert {p.name for p in SAMPLES} >= {"diff_logistic.adiff", "diff_chain.adiff",
                                         "diff_kinks.adiff"}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_runs_in_every_format_and_round_trips(path, monkeypatch, tmp_path):
    import shlex

    monkeypatch.chdir(ROOT)
    commands = _sample_commands(path)
    assert commands, f"{path.name} has no '# $ adiff diff ...' line"
    for command in commands:
        argv = shlex.split(command)[2:]
        doc = diff_json(*argv)
        at = doc.get("at")
        if at:
            assert doc["check"]["ok"] is True
            for key, formula in doc["derivatives"].items():
                assert close(value_of(formula, at), doc["values"][key], 1e-12, 1e-12), key
        for fmt in ("text", "plain", "latex", "python", "c"):
            if fmt in ("latex", "python", "c") and "--explain" in argv:
                continue
            result = diff(*argv, "--format", fmt)
            assert result.code == 0 and result.stdout, (command, fmt, result)
            if fmt == "python":
                compile(result.stdout, path.name, "exec")


def test_a_derivative_undefined_where_reverse_mode_has_a_value_exits_3():
    """d/dy x^y = x^y*log(x): at x = 0 reverse mode's pow rule gives 0, the formula's log(0)
    is undefined; the message names the derivative and the part."""
    assert invoke("grad", "x^y", "--at", "x=0,y=2", "--format", "json").json()["gradient"] == {
        "x": 0.0, "y": 0.0}
    result = diff("x^y", "--at", "x=0,y=2")
    assert (result.code, result.stdout) == (3, "")
    assert result.stderr == (
        "Error: the printed derivative ∂f/∂y cannot be evaluated at this point: log(x) is "
        "undefined there (log needs x > 0)\nreverse mode (adiff grad) has a value there: the "
        "formula agrees with it wherever each of its parts is defined\n")


def test_a_disagreement_would_be_reported(monkeypatch):
    """The check is live: were a printed derivative off, stderr and the JSON would say so."""
    from autodiff_cli.documents import diff as documents

    monkeypatch.setattr(documents, "RTOL", -1.0)  # nothing agrees any more
    monkeypatch.setattr(documents, "ATOL", -1.0)
    result = diff("x*y", "--at", "x=1,y=2", "--format", "json")
    assert result.code == 0
    assert result.json()["check"]["ok"] is False
    assert result.stderr == ("Warning: the printed derivatives disagree with reverse mode at this "
                             "point for ∂f/∂x, ∂f/∂y: this is a bug in adiff; please report it "
                             "with the command that caused it\n")


def test_a_full_or_closed_stdout_or_a_closed_pipe():
    def run(args, **kwargs):
        return subprocess.run([sys.executable, "-m", "autodiff_cli", "diff", *args], text=True,
                              capture_output=kwargs.pop("capture", True), timeout=120,
                              env={**os.environ, "NO_COLOR": "1"}, **kwargs)

    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "diff", "x^2*sin(x)",
                                   "--format", "python"], stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        assert proc.returncode == 74
        assert proc.stderr == "Error: cannot write to standard output: No space left on device\n"
    program = "f = x*y\n" + "f = sin(f)*f + y\n" * 3000 + "f"  # far more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "diff", program, "--format",
                             "c"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == ""
    assert run(["x^2"]).returncode == 0


def test_random_formulas_and_programs_round_trip_through_the_json():
    """Generated formulas (and programs that name a part of them): every standalone formula
    and the program parse back and give the reverse-mode gradient adiff grad gives."""
    import random

    from .formulas import smooth_case

    rng = random.Random(7)
    checked = 0
    for n in range(40):
        source, at = smooth_case(rng, depth=4)
        if n % 2:  # a program: the formula's value named, then used twice
            source = f"v = {source}\nv*v + v"
        point = ",".join(f"{k}={v!r}" for k, v in at.items())
        result = diff(source, "--at", point, "--format", "json")
        if result.code == 3:  # a part undefined where reverse mode has a value (tested above)
            continue
        assert result.code == 0, result
        doc = result.json()
        assert doc["check"]["ok"] is True, (source, doc["check"])
        grad = engine.evaluate(parse(source), at).gradient
        scale = max(1.0, *(abs(g) for g in grad.values()))
        for name, formula in doc["derivatives"].items():
            assert close(value_of(formula, at), grad[name], 1e-9, 1e-3 * scale), (source, name)
        values = program_values(doc["program"], at)
        for name in doc["wrt"]:
            assert close(values[f"d_{name}"], grad[name], 1e-9, 1e-3 * scale), (source, name)
        checked += 1
    assert checked >= 30
