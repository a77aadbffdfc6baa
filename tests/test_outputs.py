"""Several outputs: the grammar's last statement `r, theta`, --outputs, the graph, the printer,
and the commands that need one output refusing several (exit 2, naming adiff jacobian)."""

from __future__ import annotations

import random

import pytest

from autodiff_cli.calculus import engine
from autodiff_cli.calculus.jacobian import jacobian
from autodiff_cli.cli.app import COMMANDS
from autodiff_cli.core.graph import Graph, written
from autodiff_cli.errors import AdiffError, InputError
from autodiff_cli.language.parser import parse
from autodiff_cli.language.printer import to_source

from .conftest import ROOT
from .formulas import formula

POLAR = "r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta"


# ---------------------------------------------------------------- the language

@pytest.mark.parametrize("source, names", [
    (POLAR, ("r", "theta")),
    ("x*y, x + y", ("x*y", "x + y")),
    ("x*y,x+y", ("x*y", "x+y")),
    ("  x *  y ,\tsin( x )  ", ("x * y", "sin( x )")),  # blanks collapsed, ends stripped
    ("x * \\\n y, y", ("x * y", "y")),  # a line continuation is a blank
    ("(x), x", ("(x)", "x")),  # as written: the parentheses are part of the name
    ("a = x; b = 2*x; a, b, a*b", ("a", "b", "a*b")),
    ("x, y\n", ("x", "y")),  # a file's trailing newline
    ("x, y  # the outputs\n\n;", ("x", "y")),  # then a comment and empty statements
    ("-2, x", ("-2", "x")),
    ("max(x, y), min(x, y)", ("max(x, y)", "min(x, y)")),  # the commas of a call stay inside
])
def test_the_last_statement_lists_the_outputs(source, names):
    graph = parse(source)
    assert graph.output_names == names
    assert len(graph.outputs) == len(names) and graph.several
    assert graph.output == graph.outputs[0]


def test_one_output_is_named_by_its_text_or_its_assignment():
    assert parse("x*y + sin(x)").output_names == ("x*y + sin(x)",)
    assert parse("z = x*y").output_names == ("z",)
    assert parse("z = x*y; z").output_names == ("z",)
    graph = parse("x")
    assert graph.outputs == (0,) and not graph.several


def test_outputs_share_nodes_and_the_graph_keeps_what_each_needs():
    graph = parse("a = x*y; unused = exp(z); b = a + 1; c = a; a, b, c")
    assert [op.name for op in graph.ops] == ["var", "var", "mul", "const", "add"]
    assert graph.outputs == (2, 4, 2)
    assert graph.output_names == ("a", "b", "c")


def test_an_output_listed_twice_is_refused(run):
    # an output's text names it in the results, so the same text twice is an error
    result = run("jacobian", "x, x", "--at", "x=1")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == ("Error: the output 'x' is listed twice\n"
                             "  x, x\n"
                             "     ^\n"
                             "each output is listed once (its text names it in the results)\n")


def test_same_node_under_two_names_is_two_outputs():
    graph = parse("a = x*y; b = a; a, b")
    assert graph.outputs == (2, 2) and graph.output_names == ("a", "b")


def test_outputs_anywhere_but_last_are_refused_with_a_caret(run):
    result = run("jacobian", "x, y\nz = x*y\nz", "--at", "x=1,y=2")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == (
        "Error: several outputs are allowed only in the last statement\n"
        "  x, y\n"
        "  ^^^^\n"
        "the outputs of a program are its last statement: move this list to the end, or "
        "assign each one (r = ...) and list their names last (r, theta)\n")


def test_an_assignment_of_a_list_says_how_to_write_it(run):
    result = run("jacobian", "a = x, y", "--at", "x=1,y=2")
    assert result.code == 2
    assert result.stderr == (
        "Error: syntax error at line 1, column 6: unexpected ','\n"
        "  a = x, y\n"
        "       ^\n"
        "expected: end of input, end of statement\n"
        "an assignment binds one name: assign each output on its own (r = ...; theta = ...), "
        "then list them as the last statement: r, theta\n")


@pytest.mark.parametrize("source, column, expected", [
    ("x,", 3, "end of input"),
    ("x,,y", 3, "','"),
    ("x, y,", 6, "end of input"),
])
def test_a_list_missing_an_output_is_a_syntax_error(run, source, column, expected):
    result = run("jacobian", source, "--at", "x=1,y=2")
    assert result.code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: syntax error at line 1, column {column}: unexpected {expected}"
    assert lines[1:] == [f"  {source}", "  " + " " * (column - 1) + "^",
                         "expected: '(', '+', '-', a name, a number"]


def test_a_decimal_comma_is_warned_about(run):
    result = run("jacobian", "2*x*1,5", "--at", "x=1", "--format", "plain")
    assert result.code == 0
    assert result.stderr == ("Warning: line 1: '1,5' is read as two outputs, 1 and 5 (for the "
                             "number, write 1.5: the decimal point is '.')\n")
    assert result.stdout == "output\tvalue\tx\n2*x*1\t2.0\t2.0\n5\t5.0\t0.0\n"


# ---------------------------------------------------------------- --outputs

def test_outputs_option_picks_assigned_names_in_its_order():
    warnings: list[str] = []
    graph = parse("u = x*y; v = x + y; w = u*v; w - 1", outputs=["w", "u", "w"], warnings=warnings)
    assert graph.output_names == ("w", "u")  # each once
    assert [graph.ops[k].name for k in graph.outputs] == ["mul", "mul"]
    assert warnings == ["line 1: the value of the last statement is not used (--outputs names "
                        "the outputs)"]
    # the latest binding of a name is the output
    rebound = parse("a = x; a = a*2; a + 1", outputs=["a"])
    assert [op.name for op in rebound.ops] == ["var", "const", "mul"]


def test_outputs_option_errors(run):
    program = "speed = x*y; angle = atan2(y, x); speed"
    result = run("jacobian", program, "--outputs", "sped,angle", "--at", "x=1,y=2")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == "Error: --outputs sped: the program assigns no 'sped'\ndid you mean speed?\n"
    result = run("jacobian", program, "--outputs", "x", "--at", "x=1,y=2")
    assert result.stderr == ("Error: --outputs x: 'x' is an input of the formula, not a name it "
                             "assigns\nassign it to make it an output (e.g. out = x)\n")
    result = run("jacobian", program, "--outputs", "zz", "--at", "x=1,y=2")
    assert result.stderr == ("Error: --outputs zz: the program assigns no 'zz'\n"
                             "it assigns: speed, angle\n")
    result = run("jacobian", "x*y", "--outputs", "q", "--at", "x=1,y=2")
    assert result.stderr == ("Error: --outputs q: the program assigns no 'q'\n"
                             "it assigns no names (name = expression)\n")
    result = run("jacobian", program, "--outputs", " , ", "--at", "x=1,y=2")
    assert result.code == 2
    assert result.stderr == ("Error: --outputs needs names the program assigns, e.g. "
                             "--outputs r,theta\n")


def test_outputs_option_drops_what_the_picked_outputs_do_not_use(run):
    result = run("jacobian", "u = x*y; v = exp(z); w = u + 1; v", "--outputs", "w,u",
                 "--at", "x=1,y=2,z=3", "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert doc["outputs"] == ["w", "u"] and doc["wrt"] == ["x", "y"]
    assert doc["jacobian"] == {"w": {"x": 2.0, "y": 1.0}, "u": {"x": 2.0, "y": 1.0}}
    assert result.stderr == (
        "Warning: line 1: the value of the last statement is not used (--outputs names the "
        "outputs)\n"
        "Warning: line 1: 'v' is assigned but its value is never used\n"
        "Warning: --at binds z, which the formula does not use\n")


# ---------------------------------------------------------------- the graph

def test_graph_checks_its_outputs():
    ops = parse("x + 1").ops
    with pytest.raises(ValueError):
        Graph("", ops, [(), (), (0, 1)], ["x", "1", ""], [0, 0, 0], [1, 1, 1], {1: 1.0}, 2,
              outputs=(1, 2))
    with pytest.raises(ValueError):
        Graph("", ops, [(), (), (0, 1)], ["x", "1", ""], [0, 0, 0], [1, 1, 1], {1: 1.0}, 2,
              outputs=(2, 1), output_names=("a",))


def test_pruned_keeps_every_output_and_its_name():
    graph = parse("a = x*y; b = exp(z); c = a + b; a, c, b")
    same = graph.pruned()
    assert same is graph  # nothing to drop
    one = graph.pruned(output=graph.outputs[0])
    assert one.output_names == ("a",) and not one.several
    assert sorted(one.variables) == ["x", "y"] and len(one) == 3
    two = graph.pruned(outputs=[graph.outputs[2], graph.outputs[0]])
    assert two.output_names == ("b", "a") and len(two) == 5
    assert [two.ops[k].name for k in two.outputs] == ["exp", "mul"]


def test_with_output_is_a_view_for_one_backward_pass():
    graph = parse(POLAR)
    view = graph.with_output(graph.outputs[1])
    assert view.inputs is graph.inputs and view.ops is graph.ops  # nothing copied
    assert view.output_names == ("theta",) and view.outputs == (graph.outputs[1],)
    values = engine.bind(graph, {"x": 1.0, "y": 2.0})
    locals_, _ = engine.forward(graph, values)
    grads = engine.backward(view, values, locals_)
    assert grads[graph.variables["x"]] == pytest.approx(-0.4, rel=1e-15)  # -y/(x² + y²)
    assert grads[graph.variables["y"]] == pytest.approx(0.2, rel=1e-15)  # x/(x² + y²)
    assert grads[graph.outputs[0]] == 0.0  # r is not below theta


def test_written_collapses_blanks():
    assert written("  a \\\n  +\tb  ", 0, 14) == "a + b"
    assert written("x", 0, 1) == "x"


# ---------------------------------------------------------------- the printer

def same_outputs(g1: Graph, g2: Graph) -> None:
    """g1 and g2 are the same graph up to node numbering, from every output (a loop)."""
    assert len(g1) == len(g2) and len(g1.outputs) == len(g2.outputs)
    match: dict[int, int] = {}
    stack = list(zip(g1.outputs, g2.outputs))
    while stack:
        a, b = stack.pop()
        if a in match:
            assert match[a] == b
            continue
        match[a] = b
        assert g1.ops[a] is g2.ops[b]
        if g1.ops[a].name == "var":
            assert g1.labels[a] == g2.labels[b]
        if g1.ops[a].name == "const":
            assert g1.consts[a] == g2.consts[b]
        stack.extend(zip(g1.inputs[a], g2.inputs[b]))
    assert len(match) == len(g1) == len(set(match.values()))


@pytest.mark.parametrize("source, printed, names", [
    (POLAR, "r = sqrt(x^2 + y^2)\ntheta = atan2(y, x)\nr, theta", ("r", "theta")),
    # an output named by its text is then named by the printed text
    ("x*y, x+y", "x*y, x + y", ("x*y", "x + y")),
    ("a = x*y; b = a; a, b", "a = x*y\nb = a\na, b", ("a", "b")),
    ("u = x; u, y", "u = x\nu, y", ("u", "y")),
    ("a = x*y; a + 1, a*2, a", "a = x*y\na + 1, a*2, a", ("a + 1", "a*2", "a")),
    ("x, y", "x, y", ("x", "y")),
    ("s = x + 1; t = s*s; s*2, t", "s = x + 1\nt = s*s\ns*2, t", ("s*2", "t")),
])
def test_several_outputs_print_as_a_program_that_parses_back(source, printed, names):
    graph = parse(source)
    text = to_source(graph)
    assert text == printed
    again = parse(text)
    same_outputs(graph, again)
    assert again.output_names == names
    assert to_source(again) == text  # a fixpoint


def test_an_output_name_the_graph_cannot_keep_becomes_its_text():
    # x is the input's name, so the output x = x + 1 is printed in place
    graph = parse("x = x + 1; x, y")
    text = to_source(graph)
    assert text == "x + 1, y"
    assert parse(text).output_names == ("x + 1", "y")
    same_outputs(graph, parse(text))


def test_generated_programs_with_several_outputs_round_trip():
    rng = random.Random(12)
    at = {"x": 0.7, "y": 1.3, "z": -0.4}
    for _ in range(200):
        lines = [f"v{k} = {formula(rng, 3)}" for k in range(rng.randint(1, 3))]
        names = [f"v{k}" for k in range(len(lines))]
        items = [rng.choice(names) if rng.random() < 0.5 else formula(rng, 2)
                 for _ in range(rng.randint(2, 4))]
        items = list(dict.fromkeys(items))
        if len(items) < 2:
            continue
        source = "\n".join(lines + [", ".join(items)])
        graph = parse(source)
        text = to_source(graph)
        again = parse(text)
        same_outputs(graph, again)
        assert to_source(again) == text
        try:
            j1 = jacobian(graph, at)
        except AdiffError:  # outside a domain: the structure was checked above
            continue
        j2 = jacobian(again, at, j1.wrt)  # (the printed text may meet the inputs in another order)
        assert [j1.value(p) for p in range(len(items))] == \
            [j2.value(p) for p in range(len(items))], source
        assert j1.rows == j2.rows, source


# ---------------------------------------------------------------- one output needed

#: fit needs one output too, but asks for --data first (its own tests cover it)
NEEDS_ONE = [c for c in ("grad", "check", "trace", "hessian") if c in COMMANDS]


@pytest.mark.parametrize("command", NEEDS_ONE)
def test_commands_that_need_one_output_refuse_several(run, command):
    result = run(command, POLAR, "--at", "x=1,y=2")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == (
        f"Error: the formula has 2 outputs (r, theta); adiff {command} needs one\n"
        f"  {POLAR}\n"
        "                                            ^^^^^^^^\n"
        "adiff jacobian gives the derivatives of every output (adiff graph draws them); for one "
        "of them, end the program with that output alone\n")


@pytest.mark.skipif("fit" not in COMMANDS, reason="adiff fit is not registered (cli/app.py)")
def test_fit_refuses_several_outputs(run):
    result = run("fit", "t0*x1, t1*x2", "--data", str(ROOT / "samples" / "logistic.csv"),
                 "--params", "t0,t1")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == \
        "Error: the formula has 2 outputs (t0*x1, t1*x2); adiff fit needs one"


def test_the_refusal_comes_before_the_point_is_used(run):
    # no "unused --at" warning, no missing-variable error: the outputs are refused first
    result = run("grad", "x, y", "--at", "q=1")
    assert result.code == 2
    assert result.stderr.startswith("Error: the formula has 2 outputs (x, y); adiff grad needs one\n")


def test_a_decimal_comma_in_grad_is_refused_after_the_warning(run):
    result = run("grad", "x*1,5", "--at", "x=1")
    assert result.code == 2
    assert result.stderr.splitlines()[:2] == [
        "Warning: line 1: '1,5' is read as two outputs, 1 and 5 (for the number, write 1.5: "
        "the decimal point is '.')",
        "Error: the formula has 2 outputs (x*1, 5); adiff grad needs one"]


def test_many_outputs_are_listed_briefly(run):
    source = ", ".join(f"x*{k}" for k in range(1, 9))
    result = run("grad", source, "--at", "x=1")
    assert result.stderr.splitlines()[0] == (
        "Error: the formula has 8 outputs (x*1, x*2, x*3, x*4, x*5, x*6 and 2 more); adiff grad "
        "needs one")


def test_problem_refuses_unless_told_several(run):
    from autodiff_cli.cli.problem import Problem

    with pytest.raises(InputError, match="has 2 outputs"):
        Problem("x, y", None, (), 1000)
    problem = Problem("x, y", None, ("x=1,y=2",), 1000, outputs="several")
    assert problem.graph.output_names == ("x", "y")
    with pytest.raises(ValueError):
        Problem("x", None, (), 1000, outputs="many")


# ---------------------------------------------------------------- adiff graph

def test_graph_draws_a_tree_per_output(run):
    result = run("graph", POLAR, "--at", "x=1,y=2")
    assert result.code == 0 and result.stderr == ""
    assert result.stdout == (
        "f = r = sqrt(x^2 + y^2); theta = atan2(y, x); r, theta\n"
        "at x = 1, y = 2\n"
        "output 1 of 2: r = 2.236067977\n"
        "n7 r = sqrt(n6) = 2.23607   grad 1\n"
        "└── n6 = n2 + n5 = 5   grad 0.223607   local 0.223607\n"
        "    ├── n2 = x^2 = 1   grad 0.223607   local 1\n"
        "    │   ├── n0 x (input) = 1   grad 0.447214   local 2\n"
        "    │   └── n1 = 2 (constant)   local 0\n"
        "    └── n5 = y^2 = 4   grad 0.223607   local 1\n"
        "        ├── n3 y (input) = 2   grad 0.894427   local 4\n"
        "        └── n4 = 2 (constant)   local 2.77259\n"
        "output 2 of 2: theta = 1.107148718\n"
        "n8 theta = atan2(y, x) = 1.10715   grad 1\n"
        "├── n3 y (input) = 2   grad 0.2   local 0.2\n"
        "└── n0 x (input) = 1   grad -0.4   local -0.4\n"
        "grad = ∂(the tree's output)/∂node; local = ∂(node above)/∂node, the local gradient "
        "along that edge\n")


def test_graph_json_keys_values_and_gradients_by_output(run):
    result = run("graph", POLAR, "--at", "x=1,y=2", "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert doc["outputs"] == [{"node": "n7", "name": "r"}, {"node": "n8", "name": "theta"}]
    assert doc["output"] == "n7"
    assert doc["value"] == {"r": 5 ** 0.5, "theta": pytest.approx(1.1071487177940904, rel=1e-15)}
    assert set(doc["gradient"]) == {"r", "theta"}
    assert doc["gradient"]["theta"]["x"] == pytest.approx(-0.4, rel=1e-15)
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert all("grad" not in n for n in nodes.values())
    assert nodes["n0"]["grads"] == {"r": pytest.approx(5 ** -0.5, rel=1e-15),
                                    "theta": pytest.approx(-0.4, rel=1e-15)}
    assert nodes["n7"]["grads"] == {"r": 1.0, "theta": 0.0}
    single = run("graph", "x*y", "--format", "json").json()
    assert single["outputs"] == [{"node": "n2", "name": "x*y"}]


def test_graph_dot_and_mermaid_mark_every_output(run):
    dot = run("graph", POLAR, "--at", "x=1,y=2", "--format", "dot").stdout
    outputs = [line for line in dot.splitlines() if "peripheries=2" in line]
    assert [line.split()[0] for line in outputs] == ["n7", "n8"]
    assert 'grad r: 0.447214\\ngrad theta: -0.4"' in dot
    assert "grad OUTPUT = ∂OUTPUT/∂node" in dot
    mermaid = run("graph", POLAR, "--format", "mermaid").stdout
    assert "  class n7,n8 output" in mermaid.splitlines()


def test_graph_picks_outputs_by_name(run):
    result = run("graph", "u = x*y; v = x + y; w = u*v", "--outputs", "u,v", "--format", "json")
    assert result.code == 0, result
    assert [o["name"] for o in result.json()["outputs"]] == ["u", "v"]


def test_graph_expand_keeps_every_output(run):
    result = run("graph", "sigmoid(x), tanh(y)", "--expand", "--format", "json")
    assert result.code == 0, result
    doc = result.json()
    assert [o["name"] for o in doc["outputs"]] == ["sigmoid(x)", "tanh(y)"]
    assert not any(n["fused"] for n in doc["nodes"])
