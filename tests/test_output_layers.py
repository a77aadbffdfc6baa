"""The output half in layers: steps from the engine, one FD entry point, one Problem, one
document per command, graph walks as graph methods, commands loaded lazily, imports downward."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from array import array

import pytest

from autodiff_cli import evaluate, parse
from autodiff_cli.calculus.steps import backward_steps, steps

from .conftest import ROOT, invoke
from .formulas import smooth_case

DATA = ("-f", "samples/logistic_program.adiff", "--data", "samples/logistic.csv",
        "--at", "t0=0.5,t1=-1.25,t2=0.3")


@pytest.fixture
def chdir_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# ---------------------------------------------------------------- the engine's steps

def test_the_steps_add_up_to_the_engines_gradients_bit_for_bit():
    rng = random.Random(3)
    for _ in range(300):
        source, at = smooth_case(rng)
        graph = parse(source)
        ev = evaluate(graph, at)
        grads = [0.0] * len(graph)
        grads[graph.output] = 1.0
        seen = []
        for s in steps(ev):
            assert s.upstream == ev.grads[s.node] and s.local == ev.local[s.node][s.position]
            assert s.input == graph.inputs[s.node][s.position] and graph.requires[s.input]
            assert s.contribution == s.upstream * s.local
            grads[s.input] += s.contribution
            seen.append(s.node)
        assert seen == sorted(seen, reverse=True)  # from the output down, as the engine goes
        for i in range(len(graph)):
            if graph.requires[i]:
                assert grads[i] == ev.grads[i], (source, at, i)


def test_trace_shows_the_engines_steps():
    graph = parse("x*y + sin(x*y)")
    ev = evaluate(graph, {"x": 0.5, "y": 2.0})
    doc = invoke("trace", "x*y + sin(x*y)", "--at", "x=0.5,y=2", "--format", "json").json()
    assert [(s["node"], s["to"], s["upstream"], s["local"], s["contribution"])
            for s in doc["steps"]] == [
        (f"n{s.node}", f"n{s.input}", s.upstream, s.local, s.contribution) for s in steps(ev)]


def test_requires_leaves_out_constants():
    graph = parse("2*3 + x")
    ev = evaluate(graph, {"x": 1.0})
    assert [(s.node, s.input) for s in backward_steps(graph, ev.local, ev.grads)] == [(4, 3)]


def test_trace_data_sums_each_rows_steps(chdir_root):
    """Each step of trace --data is the sum over the rows of that row's own step."""
    doc = invoke("trace", *DATA, "--format", "json").json()
    program = (ROOT / "samples" / "logistic_program.adiff").read_text(encoding="utf-8")
    graph = parse(program)
    rows = (ROOT / "samples" / "logistic.csv").read_text(encoding="utf-8").split()
    header = rows[0].split(",")
    total: dict = {}
    for line in rows[1:]:
        at = {"t0": 0.5, "t1": -1.25, "t2": 0.3}
        at.update({c: float(v) for c, v in zip(header, line.split(",")) if c in graph.variables})
        for s in steps(evaluate(graph, at)):
            key = (f"n{s.node}", f"n{s.input}")
            total[key] = total.get(key, 0.0) + s.contribution
    assert len(doc["steps"]) > 5
    for s in doc["steps"]:
        assert s["contribution"] == pytest.approx(total[(s["node"], s["to"])], rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------- one FD entry point

def test_grad_evaluates_the_graph_once(monkeypatch):
    """grad's finite-difference column reads the evaluation grad has: one forward pass
    (it used to bind and run forward again for the column)."""
    import autodiff_cli.calculus.engine as engine

    calls = []
    real = engine.forward
    monkeypatch.setattr(engine, "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    doc = invoke("grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json").json()
    assert doc["check"]["ok"] is True and doc["check"]["status"] == {"x": "ok", "y": "ok"}
    assert len(calls) == 1


def test_grad_data_budget_is_the_same_decision(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a\n" + "".join(f"{k % 7}\n" for k in range(60_000)), encoding="utf-8")
    result = invoke("grad", "p*a + q", "--data", str(path), "--at", "p=1,q=2", "--format", "plain")
    assert result.code == 0, result
    assert result.stderr == (
        "Warning: finite-difference check skipped: it would cost 1,200,000 node evaluations "
        "(2 × 2 parameters × 5 nodes × 60,000 rows), over the budget of 1,000,000; force it "
        "with --check, or use adiff check --data\n")


# ---------------------------------------------------------------- one Problem

def test_check_names_the_unused_bindings_as_grad_does():
    names = ",".join(f"u{k}=1" for k in range(12))
    result = invoke("check", "x", "--at", f"x=1,{names}", "--format", "json")
    assert result.code == 0, result
    assert result.stderr == ("Warning: --at binds u0, u1, u2, u3, u4, u5, u6, u7, u8, u9 and 2 "
                             "more, which the formula does not use\n")


def test_check_data_wrt_is_resolved_as_everywhere(chdir_root):
    result = invoke("check", *DATA, "--wrt", "zz")
    assert result.code == 2
    assert result.stderr == ("Error: --wrt zz: the formula has no input 'zz'\n"
                             "its inputs are: t0, t1, x1, t2, x2, y\n")


def test_check_data_warns_when_the_formula_uses_no_column(chdir_root):
    result = invoke("check", "t0^2", "--data", "samples/logistic.csv", "--at", "t0=0.5",
                    "--format", "json")
    assert result.code == 0, result
    assert result.stderr == ("Warning: the formula uses no column of samples/logistic.csv (x1, "
                             "x2, y): every row gives the same value\n")


# ---------------------------------------------------------------- check --per-node

def test_the_per_node_check_has_its_own_name(chdir_root):
    args = ("check", "-f", "samples/lecture.adiff", "--at", "θ0=1,θ1=1,x1=1,θ2=2,x2=2",
            "--format", "json")
    new = invoke(*args, "--per-node")
    assert new.code == 0 and new.stderr == ""
    assert all(n["status"] == "ok" for n in new.json()["cases"][0]["nodes"])
    old = invoke(*args, "--nodes")
    assert old.stdout == new.stdout
    assert old.stderr == ("Note: adiff check --nodes is now --per-node (in adiff grad, --nodes "
                          "says which node rows to show)\n")
    help_text = invoke("check", "--help").stdout
    assert "--per-node" in help_text and "--nodes" not in help_text


def test_per_node_cannot_be_combined_with_data(chdir_root):
    result = invoke("check", *DATA, "--per-node")
    assert (result.code, result.stderr) == (2, "Error: --per-node cannot be combined with --data\n")


# ---------------------------------------------------------------- graph walks

def test_ancestors_and_pruned():
    graph = parse("a = x*y; b = sin(x); a + 1")
    marks = graph.ancestors([graph.output])
    assert all(marks)  # the parser already pruned b
    g = parse("x*y + sin(z)")
    mul = g.inputs[g.output][0]
    assert [g.labels[i] for i in range(len(g)) if g.ancestors([mul])[i]] == ["x", "y", ""]
    assert g.pruned() is g
    # the graph of the product alone: renumbered in creation order, the output remapped
    sub = g.pruned(mul)
    assert len(sub) == 3 and sub.output == 2 and list(sub.variables) == ["x", "y"]
    assert sub.inputs == [(), (), (0, 1)]
    assert evaluate(sub, {"x": 2.0, "y": 3.0}).value == 6.0


def test_pruned_keeps_constants_and_the_position_type():
    from autodiff_cli.core.graph import pruned
    from autodiff_cli.core.ops import OPS

    ops = [OPS["const"], OPS["var"], OPS["const"], OPS["mul"]]
    inputs = [(), (), (), (1, 2)]
    g = pruned("2; x*3", ops, inputs, ["", "x", "", ""], array("q", [0, 3, 5, 3]),
               array("q", [1, 4, 6, 6]), {0: 2.0, 2: 3.0}, 3)
    assert len(g) == 3 and g.consts == {1: 3.0} and g.inputs == [(), (), (0, 1)]
    assert isinstance(g.starts, array) and list(g.starts) == [3, 5, 3]


# ---------------------------------------------------------------- lazy commands

def _loaded(args) -> tuple[str, set[str]]:
    """(stdout, the adiff modules loaded) of a run of ``adiff ARGS`` in a fresh process."""
    code = ("import sys\nfrom autodiff_cli.cli import main\n"
            f"sys.argv = ['adiff'] + {args!r}\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "sys.stderr.write(' '.join(sorted(m for m in sys.modules if m.startswith('autodiff'))))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout, set(done.stderr.split())


def test_grad_loads_only_its_own_command():
    out, modules = _loaded(["grad", "x", "--at", "x=1", "--format", "json"])
    assert json.loads(out)["value"] == 1.0
    assert "autodiff_cli.cli.grad" in modules  # the measurement works
    others = {"autodiff_cli.cli.check", "autodiff_cli.cli.graph", "autodiff_cli.cli.trace",
              "autodiff_cli.documents.check", "autodiff_cli.check.cases", "autodiff_cli.data.batch",
              "autodiff_cli.render.table"}
    assert not modules & others, modules & others
    _, modules = _loaded(["check", "x", "--at", "x=1", "--format", "json"])
    assert "autodiff_cli.cli.check" in modules and "autodiff_cli.cli.graph" not in modules


# ---------------------------------------------------------------- imports go downward
# (tests/test_layers.py holds the rule for every module; here, what render may read)

def test_render_reads_documents_only():
    """render imports nothing of the layers that compute (check, data, calculus, language):
    what it shows is in the documents (errors' escaping is the one helper it shares)."""
    from .test_layers import MODULES, _imports, _module_name, layer_of

    seen = 0
    for path in MODULES:
        module = _module_name(path)
        if layer_of(module) != "render":
            continue
        seen += 1
        for line, target in _imports(path):
            if target.startswith("autodiff_cli.") and layer_of(target) is not None:
                assert layer_of(target) in ("errors", "documents", "render"), (module, line, target)
    assert seen >= 6


def test_nothing_below_the_cli_recomputes_upstream_times_local():
    """Upstream × local is the engine's (calculus/steps.py): the documents, batch and
    the CLI read steps, they do not multiply gradients by local gradients again."""
    pattern = re.compile(r"\b(?:g|upstream|grads?\[[^\]]*\])\s*\*\s*(?:ev\.)?(?:locals_|local|lo|lg)\b")
    from .test_layers import MODULES, _module_name, layer_of

    above = [p for p in MODULES
             if layer_of(_module_name(p)) in ("check", "data", "documents", "render", "cli")]
    assert len(above) > 20
    for path in above:
        assert not pattern.search(path.read_text(encoding="utf-8")), _module_name(path)
    # the pattern finds what the documents and batch used to do
    assert pattern.search("c = g * locals_[i][k]") and pattern.search("upstream * local[k]")
