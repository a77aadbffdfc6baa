"""adiff graph: the tree, Graphviz DOT, Mermaid and JSON views of the computational graph."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

LECTURE = str(ROOT / "samples" / "lecture.adiff")
LECTURE_AT = "θ0=1,θ1=1,x1=1,θ2=2,x2=2"
SNAPSHOTS = ROOT / "tests" / "snapshots"
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed "
                               "(apt install graphviz)")


def snapshot(name: str, text: str) -> None:
    """Compare with tests/snapshots/NAME; UPDATE_SNAPSHOTS=1 rewrites it (review the diff)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; create it with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def sample_at(name: str) -> list[str]:
    """The --at arguments of the '# $ adiff grad ...' line of a sample."""
    text = (ROOT / "samples" / name).read_text(encoding="utf-8")
    line = re.search(r"^# \$ adiff .*$", text, flags=re.M).group(0)
    return re.findall(r"--at (\S+)", line)


# ---------------------------------------------------------------- snapshots

def test_tree_of_the_lecture_example(run):
    r = run("graph", "-f", LECTURE, "--at", LECTURE_AT)
    assert r.code == 0, r
    assert r.stderr == ""
    snapshot("graph_lecture_tree.txt", r.stdout)


def test_mermaid_of_the_lecture_example(run):
    r = run("graph", "-f", LECTURE, "--at", LECTURE_AT, "--format", "mermaid")
    assert r.code == 0, r
    snapshot("graph_lecture.mmd", r.stdout)


def test_tree_without_values(run):
    r = run("graph", "x*y + sin(x)")
    assert r.code == 0, r
    assert r.stdout == (
        "f = x*y + sin(x)\n"
        "n4 = n2 + n3\n"
        "├── n2 = x*y\n"
        "│   ├── n0 x (input)\n"
        "│   └── n1 y (input)\n"
        "└── n3 = sin(x)\n"
        "    └── n0 x (input)\n")


# ---------------------------------------------------------------- the lecture's numbers

def test_json_carries_the_lecture_numbers(run):
    r = run("graph", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json")
    assert r.code == 0, r
    doc = r.json()
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert doc["value"] == pytest.approx(0.0024756851377, rel=1e-10)
    f9 = nodes["n17"]  # f9 = log f8; L = -1·f9
    assert f9["op"] == "log" and f9["grad"] == -1.0  # ∂L/∂f9 = -1
    assert f9["local"][0] == pytest.approx(1.00247875, rel=1e-8)  # 1/f8
    f8 = nodes["n16"]  # f8 = 1/f7
    assert f8["op"] == "div" and f8["local"][1] == pytest.approx(-0.99506, rel=1e-5)  # -1/f7²
    f6 = nodes["n14"]  # f6 = e^f5
    assert f6["op"] == "exp" and f6["local"][0] == pytest.approx(0.002478752, rel=1e-6)


def test_json_agrees_with_grad(run):
    g = run("graph", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json").json()
    d = run("grad", "-f", LECTURE, "--at", LECTURE_AT, "--format", "json").json()
    assert g["gradient"] == d["gradient"]
    assert g["value"] == d["value"]
    for a, b in zip(g["nodes"], d["nodes"], strict=True):
        for key in ("id", "op", "label", "inputs", "value", "local", "grad", "span"):
            assert a[key] == b[key], (key, a, b)


def test_json_edges_follow_the_inputs(run):
    doc = run("graph", "a = x + 1; b = a*a; b + exp(a) + x", "--at", "x=0.5",
              "--format", "json").json()
    nodes = {n["id"]: n for n in doc["nodes"]}
    expected = [(j, n["id"], k) for n in doc["nodes"] for k, j in enumerate(n["inputs"])]
    assert [(e["from"], e["to"], e["position"]) for e in doc["edges"]] == expected
    for e in doc["edges"]:
        assert e["value"] == nodes[e["from"]]["value"]
        assert e["local"] == nodes[e["to"]]["local"][e["position"]]
    # a*a: two edges from the same node, both kept
    square = next(n for n in doc["nodes"] if n["label"] == "b")
    assert square["inputs"][0] == square["inputs"][1]
    assert doc["output"] == doc["nodes"][-1]["id"]
    assert doc["expanded"] is False and doc["formula"] == "a = x + 1; a*a + exp(a) + x"


def test_json_without_at_has_structure_only(run):
    doc = run("graph", "x*y", "--format", "json").json()
    assert "value" not in doc and "at" not in doc
    assert all("value" not in n and "grad" not in n for n in doc["nodes"])
    assert all("local" not in e for e in doc["edges"])
    assert [n["text"] for n in doc["nodes"]] == ["x", "y", "x*y"]


# ---------------------------------------------------------------- fan-out and depth

def test_tree_shows_a_shared_value_once(run):
    r = run("graph", "-f", str(ROOT / "samples" / "fanout.adiff"), "--at", "x=0.5")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    a_lines = [line for line in lines if "n2 a = x + 1" in line]
    assert len(a_lines) == 3  # used by a*a (twice) and exp(a)
    assert sum("↑ see above" in line for line in a_lines) == 2
    # its inputs (x and the constant 1) are listed once under it
    assert sum("n1 = 1 (constant)" in line for line in lines) == 1


def test_tree_does_not_blow_up_on_fan_out(run):
    # Printed as a tree without sharing this would have 2^40 leaves.
    lines = ["a0 = x + 1"] + [f"a{k} = a{k - 1}*a{k - 1}" for k in range(1, 41)] + ["a40"]
    r = run("graph", "\n".join(lines), "--depth", "100")
    assert r.code == 0, r
    assert len(r.stdout.splitlines()) < 100
    assert r.stdout.count("↑ see above") == 40


DEEP = "(" * 10_000 + "x" + "+1)" * 10_000


@pytest.mark.parametrize("fmt", ["tree", "dot", "mermaid", "json"])
def test_ten_thousand_deep_formula(run, fmt):
    r = run("graph", DEEP, "--at", "x=1", "--format", fmt)
    assert r.code == 0, r
    if fmt == "tree":
        assert "more levels below" in r.stdout
        assert "folded" in r.stdout
        assert len(r.stdout.splitlines()) < 100
    elif fmt == "dot":
        assert len(re.findall(r"^  n\d+ \[", r.stdout, flags=re.M)) == 20_001
        assert len(re.findall(r"^  n\d+ -> n\d+", r.stdout, flags=re.M)) == 20_000
    elif fmt == "mermaid":
        assert len(re.findall(r"^  n\d+ -->", r.stdout, flags=re.M)) == 20_000
    else:
        doc = r.json()
        assert len(doc["nodes"]) == 20_001 and doc["value"] == 10_001.0


def test_depth_option_folds_the_tree(run):
    r = run("graph", "-" * 50 + "x", "--depth", "3")
    assert r.code == 0, r
    assert "⋯ 47 more levels below n47 (use --depth to show more)" in r.stdout
    full = run("graph", "-" * 50 + "x", "--depth", "60")
    assert "more levels below" not in full.stdout
    assert len(full.stdout.splitlines()) > 50


# ---------------------------------------------------------------- DOT

def dot_statements(text: str) -> dict[str, str]:
    return dict(re.findall(r"^  (n\d+) \[(.*)\];$", text, flags=re.M))


def test_dot_structure(run):
    r = run("graph", "-f", LECTURE, "--at", LECTURE_AT, "--format", "dot")
    assert r.code == 0, r
    text = r.stdout
    assert text.startswith("digraph adiff {\n") and text.endswith("}\n")
    assert "rankdir=LR" in text
    nodes = dot_statements(text)
    assert len(nodes) == 19
    assert len(re.findall(r"^  n\d+ -> n\d+ \[label=", text, flags=re.M)) == 18
    # inputs, constants, operations and the output look different
    def style(n):
        return nodes[n][nodes[n].index("shape"):]

    inputs = {style(n) for n in ("n4", "n5", "n7", "n8", "n11")}
    constants = {style(n) for n in ("n0", "n1", "n2", "n3")}
    ops = {style(n) for n in ("n6", "n14", "n17")}
    output = style("n18")
    assert len(inputs) == len(constants) == len(ops) == 1
    assert len(inputs | constants | ops | {output}) == 4
    assert "peripheries=2" in output
    # labels: op, name, value and gradient; edges: the local gradient
    assert nodes["n16"].startswith('label="div  n16\\n1/n15\\n= 0.997527\\ngrad -1.00248"')
    assert nodes["n4"].startswith('label="θ1  (n4)\\n= 1\\ngrad -0.00247262"')
    assert '  n16 -> n17 [label="1.00248"];' in text
    assert '  n15 -> n16 [label="-0.995061"];' in text


@needs_dot
@pytest.mark.parametrize("args", [
    ["-f", LECTURE, "--at", LECTURE_AT],
    ["-f", LECTURE],
    ["-f", str(ROOT / "samples" / "fanout.adiff"), "--at", "x=0.5"],
    ["-f", str(ROOT / "samples" / "language.adiff"), "--at", "x=0.5,y=2,θ1=0.25"],
    ["-f", str(ROOT / "samples" / "logistic_sigmoid.adiff"), "--at", "t0=1,t1=1,x1=1,t2=2,x2=2"],
    ["-f", str(ROOT / "samples" / "logistic_sigmoid.adiff"), "--at", "t0=1,t1=1,x1=1,t2=2,x2=2",
     "--expand"],
    ["x*x + x"],
    ["a = 2; b = x; -a*b", "--at", "x=1"],
    ["2*3"],
])
def test_dot_renders_without_warnings(run, args):
    r = run("graph", *args, "--format", "dot")
    assert r.code == 0, r
    done = subprocess.run([DOT, "-Tsvg"], input=r.stdout.encode(), capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert b"<svg" in done.stdout


@needs_dot
def test_every_sample_renders(run):
    for path in sorted((ROOT / "samples").glob("*.adiff")):
        at = [a for v in sample_at(path.name) for a in ("--at", v)]
        r = run("graph", "-f", str(path), *at, "--format", "dot")
        assert r.code == 0, (path.name, r)
        done = subprocess.run([DOT, "-Tsvg"], input=r.stdout.encode(), capture_output=True,
                              timeout=120)
        assert done.returncode == 0 and done.stderr == b"", (path.name, done.stderr)


# ---------------------------------------------------------------- -o/--output

@needs_dot
@pytest.mark.parametrize("suffix, magic", [("svg", b"<svg"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_output_picture(run, tmp_path, suffix, magic):
    path = tmp_path / f"lecture.{suffix}"
    r = run("graph", "-f", LECTURE, "--at", LECTURE_AT, "-o", str(path))
    assert r.code == 0, r
    assert r.stdout == "" and r.stderr == ""
    assert magic in path.read_bytes()[:400]


def test_output_picture_without_graphviz(run, tmp_path):
    path = tmp_path / "g.svg"
    r = run("graph", "x*y", "-o", str(path), env={"PATH": str(tmp_path)})
    assert r.code == 2, r
    assert r.stderr.startswith(f"Error: cannot write {path}: a .svg picture is drawn by "
                               "Graphviz's `dot` program, which is not installed\n")
    assert "install Graphviz (apt install graphviz" in r.stderr
    assert "--format dot -o graph.dot" in r.stderr
    assert not path.exists()
    # the DOT text itself needs no Graphviz
    r = run("graph", "x*y", "--format", "dot", env={"PATH": str(tmp_path)})
    assert r.code == 0 and r.stdout.startswith("digraph")


@pytest.mark.parametrize("suffix, fmt", [("dot", "dot"), ("gv", "dot"), ("mmd", "mermaid"),
                                         ("json", "json"), ("txt", "tree")])
def test_output_text_follows_the_suffix(run, tmp_path, suffix, fmt):
    path = tmp_path / f"g.{suffix}"
    r = run("graph", "x*y + sin(x)", "--at", "x=1,y=2", "-o", str(path))
    assert r.code == 0, r
    assert r.stdout == ""
    shown = run("graph", "x*y + sin(x)", "--at", "x=1,y=2", "--format", fmt).stdout
    assert path.read_text(encoding="utf-8") == shown


def test_output_format_option_wins_over_suffix(run, tmp_path):
    path = tmp_path / "g.txt"
    assert run("graph", "x*y", "--format", "mermaid", "-o", str(path)).code == 0
    assert path.read_text(encoding="utf-8").splitlines()[1] == "flowchart LR"


def test_output_picture_with_another_format_is_an_error(run, tmp_path):
    r = run("graph", "x*y", "--format", "mermaid", "-o", str(tmp_path / "g.svg"))
    assert r.code == 2, r
    assert r.stderr == (f"Error: -o {tmp_path / 'g.svg'}: a .svg file is drawn by Graphviz from "
                        "DOT, so it cannot hold --format mermaid\n"
                        "drop --format, or write a text file (e.g. -o graph.mmd)\n")


def test_output_to_a_missing_directory(run, tmp_path):
    path = tmp_path / "missing" / "g.dot"
    r = run("graph", "x*y", "-o", str(path))
    assert r.code == 2, r
    assert r.stderr == f"Error: cannot write {path}: No such file or directory\n"


# ---------------------------------------------------------------- --expand and errors

def test_expand_rewrites_fused_nodes(run):
    fused = run("graph", "-log(sigmoid(z))", "--at", "z=1", "--format", "json").json()
    expanded = run("graph", "-log(sigmoid(z))", "--at", "z=1", "--expand",
                   "--format", "json").json()
    assert [n["op"] for n in fused["nodes"]] == ["var", "sigmoid", "log", "neg"]
    assert fused["nodes"][1]["fused"] is True
    assert fused["nodes"][1]["expand"] == "1/(1 + exp(-a))"
    assert [n["op"] for n in expanded["nodes"]] == [
        "var", "const", "const", "neg", "exp", "add", "div", "log", "neg"]
    assert expanded["expanded"] is True
    assert expanded["formula"] == "-log(1/(1 + exp(-z)))"
    assert math.isclose(expanded["gradient"]["z"], fused["gradient"]["z"], rel_tol=1e-12)
    tree = run("graph", "-log(sigmoid(z))")
    assert "n1 = sigmoid(z) (fused)" in tree.stdout


def test_formula_may_start_with_minus(run):
    r = run("graph", "-x", "--format", "json")
    assert r.code == 0, r
    assert [n["op"] for n in r.json()["nodes"]] == ["var", "neg"]


def test_evaluation_error_exits_3(run):
    r = run("graph", "log(x)", "--at", "x=-1")
    assert r.code == 3, r
    assert r.stderr.startswith("Error: log is not defined at x = -1")


def test_unbound_variable_exits_2(run):
    r = run("graph", "x*y", "--at", "x=1")
    assert r.code == 2, r
    assert r.stderr.startswith("Error: no value for the variable y")


def test_kink_is_warned(run):
    r = run("graph", "abs(x)", "--at", "x=0")
    assert r.code == 0, r
    assert "is at its kink" in r.stderr


def test_bad_format_exits_2(run):
    r = run("graph", "x", "--format", "table")
    assert r.code == 2, r
    assert "'table' is not one of 'tree', 'dot', 'mermaid', 'json'" in r.stderr


def test_mermaid_labels_are_escaped():
    from autodiff_cli.render.graph import _mermaid_escape

    assert _mermaid_escape('a"b<c>#d') == "a#quot;b#lt;c#gt;#35;d"


@pytest.mark.parametrize("args", [
    ["graph", "x*y", "--format", "dot"],
    ["graph", "x*y", "--format", "mermaid"],
    ["graph", "x*y", "--at", "x=1,y=2", "--format", "json"],
    ["trace", "x*y", "--at", "x=1,y=2", "--format", "json"],
    ["trace", "x*y", "--at", "x=1,y=2", "--format", "plain"],
])
def test_rich_is_imported_only_for_tables(args):
    code = ("import sys\nfrom autodiff_cli.cli import main\n"
            f"sys.argv = ['adiff'] + {args!r}\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "sys.stderr.write('RICH' if 'rich' in sys.modules else 'NO RICH')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith("NO RICH"), done.stderr
    if args[-1] == "json":
        json.loads(done.stdout)
