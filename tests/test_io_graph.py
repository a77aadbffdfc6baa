"""adiff graph's output side: a tree that reads only what it prints, -o written
atomically, Graphviz run safely (a fake `dot` on PATH stands in for it: Graphviz need
not be installed), unknown suffixes refused, and user text escaped in every format."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest

from autodiff_cli.render import graph as render

from .conftest import ROOT

# ---------------------------------------------------------------- the tree reads what it prints


def test_the_tree_looks_up_only_the_nodes_it_prints(run, monkeypatch):
    import autodiff_cli.documents.graph as documents

    calls = []
    node = documents._node
    monkeypatch.setattr(documents, "_node", lambda graph, ev, i: calls.append(i) or
                        node(graph, ev, i))
    result = run("graph", "x" + "+x" * 5_000, "--at", "x=1")
    assert result.code == 0, result
    assert "⋯ 4,980 more levels below n4980" in result.stdout
    assert len(calls) < 50


def test_the_tree_stops_after_its_node_limit(run):
    names = [f"x{k}" for k in range(render.TREE_NODES + 500)]
    result = run("graph", f"logsumexp({', '.join(names)})")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert sum("(input)" in line for line in lines) == render.TREE_NODES - 1  # and the root
    assert lines[-1] == ("└── ⋯ the tree stops here: it shows at most 10,000 nodes "
                         "(--format dot or json holds the whole graph)")


def _peak_rss_kib(args) -> int:
    """Peak resident memory of one adiff process (its own, via wait4)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.stderr.read()
    return usage.ru_maxrss


def _tree_memory_against_the_graph_alone(tmp_path, ops: int) -> tuple[int, int]:
    path = tmp_path / "chain.adiff"
    path.write_text("x" + "+x" * ops, encoding="utf-8")
    # What any view of the graph holds: the graph and its formula as printed.
    graph_alone = _peak_rss_kib([sys.executable, "-c",
                                 "import sys; from autodiff_cli import parse; "
                                 "from autodiff_cli.language.printer import to_source; "
                                 "g = parse(open(sys.argv[1]).read(), max_size=10**8); "
                                 "to_source(g, '; ')", str(path)])
    tree = _peak_rss_kib([sys.executable, "-m", "autodiff_cli", "graph", "-f", str(path),
                          "--at", "x=1"])
    return tree, graph_alone


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4")
def test_the_tree_of_a_big_graph_costs_little_more_than_the_graph(tmp_path):
    tree, graph_alone = _tree_memory_against_the_graph_alone(tmp_path, 200_000)
    assert tree < graph_alone + 64 * 1024, (tree, graph_alone)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4")
def test_the_tree_of_a_million_node_graph(tmp_path):
    tree, graph_alone = _tree_memory_against_the_graph_alone(tmp_path, 1_000_000)
    assert tree < graph_alone + 128 * 1024, (tree, graph_alone)


# ---------------------------------------------------------------- -o: suffixes

def test_an_unknown_suffix_is_refused_with_the_known_ones(run, tmp_path):
    path = tmp_path / "g.bmp"
    result = run("graph", "x*y", "-o", str(path))
    assert result.code == 2
    assert result.stderr == (
        f"Error: -o {path}: adiff cannot write a .bmp file\n"
        "the suffix says what to write: .svg, .png, .pdf (a picture drawn by Graphviz's dot), "
        ".dot or .gv (DOT), .mmd or .mermaid (Mermaid), .json, .txt (the tree); "
        "or name the format with --format\n")
    assert not path.exists()
    result = run("graph", "x*y", "-o", str(tmp_path / "graph"))
    assert result.code == 2
    assert "adiff cannot write a file without a suffix" in result.stderr


def test_an_explicit_format_writes_any_suffix(run, tmp_path):
    path = tmp_path / "graph"
    assert run("graph", "x*y", "--format", "dot", "-o", str(path)).code == 0
    assert path.read_text(encoding="utf-8").startswith("digraph adiff {")


def test_a_path_that_starts_with_a_dash(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("graph", "x*y", "-o", "-g.dot").code == 0
    assert (tmp_path / "-g.dot").read_text(encoding="utf-8").startswith("digraph adiff {")


# ---------------------------------------------------------------- -o: atomic

def _failing_after(lines: int, exc: BaseException):
    real = render.dot_lines

    def dot_lines(doc):
        for k, line in enumerate(real(doc)):
            if k == lines:
                raise exc
            yield line
    return dot_lines


@pytest.mark.parametrize("exc, code, stderr", [
    (OSError(28, "No space left on device"), 2, "Error: cannot write {path}: No space left on "
                                                "device\n"),
    (KeyboardInterrupt(), 130, "Interrupted.\n"),
])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(run, tmp_path, monkeypatch, exc,
                                                             code, stderr):
    path = tmp_path / "g.dot"
    path.write_text("the old graph\n", encoding="utf-8")
    monkeypatch.setattr(render, "dot_lines", _failing_after(3, exc))
    result = run("graph", "x*y + sin(x)", "-o", str(path))
    assert (result.code, result.stderr) == (code, stderr.format(path=path))
    assert path.read_text(encoding="utf-8") == "the old graph\n"
    assert sorted(os.listdir(tmp_path)) == ["g.dot"]


def test_a_fifo_is_written_in_place(run, tmp_path):
    fifo = tmp_path / "g.dot"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    result = run("graph", "x*y", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.code == 0, result
    assert received and received[0].startswith("digraph adiff {")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# ---------------------------------------------------------------- -o: Graphviz

FAKE_DOT = """#!/bin/sh
# A stand-in for Graphviz's dot: records its arguments, honours -o like dot does,
# and can be slow (FAKE_DOT_SLEEP) or fail after writing part of its output.
printf '%s\\n' "$@" > "$FAKE_DOT_ARGS"
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; shift; fi
  shift
done
[ -n "$FAKE_DOT_SLEEP" ] && sleep "$FAKE_DOT_SLEEP"
if [ -n "$out" ]; then exec >"$out"; fi
printf '<svg>'
if [ -n "$FAKE_DOT_FAIL" ]; then echo "Error: <stdin>: syntax error in line 1" >&2; exit 1; fi
cat
printf '</svg>'
"""


@pytest.fixture
def fake_dot(tmp_path):
    if shutil.which("sh") is None:
        pytest.skip("needs /bin/sh for the fake dot")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(FAKE_DOT, encoding="utf-8")
    dot.chmod(0o755)
    args = tmp_path / "dot-args"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "FAKE_DOT_ARGS": str(args), "FAKE_DOT_SLEEP": None, "FAKE_DOT_FAIL": None}
    work = tmp_path / "work"
    work.mkdir()
    return env, args, work


def test_dot_writes_through_a_temporary_file_and_never_sees_the_path(run, fake_dot,
                                                                     monkeypatch):
    env, args, work = fake_dot
    monkeypatch.chdir(work)
    result = run("graph", "x*y", "-o", "-x.svg", env=env)
    assert (result.code, result.stdout, result.stderr) == (0, "", "")
    assert args.read_text(encoding="utf-8") == "-Tsvg\n"
    picture = (work / "-x.svg").read_text(encoding="utf-8")
    assert picture.startswith("<svg>digraph adiff {") and picture.endswith("}\n</svg>")
    assert os.listdir(work) == ["-x.svg"]


def test_a_failing_dot_leaves_the_old_picture(run, fake_dot):
    env, _args, work = fake_dot
    path = work / "g.svg"
    path.write_text("<svg>old</svg>", encoding="utf-8")
    result = run("graph", "x*y", "-o", str(path), env={**env, "FAKE_DOT_FAIL": "1"})
    assert result.code == 2
    assert result.stderr == (f"Error: cannot write {path}: dot exited with status 1: "
                             "Error: <stdin>: syntax error in line 1\n")
    assert path.read_text(encoding="utf-8") == "<svg>old</svg>"
    assert os.listdir(work) == ["g.svg"]


def test_a_slow_dot_is_stopped(run, fake_dot):
    env, _args, work = fake_dot
    path = work / "g.svg"
    start = time.monotonic()
    result = run("graph", "x*y", "-o", str(path), "--dot-timeout", "0.5",
                 env={**env, "FAKE_DOT_SLEEP": "20"})
    assert time.monotonic() - start < 15
    assert result.code == 2
    assert result.stderr == (f"Error: cannot write {path}: dot did not finish within 0.5 s\n"
                             "raise the limit with --dot-timeout SECONDS, or write the DOT text "
                             "(--format dot -o graph.dot) and draw it yourself\n")
    assert os.listdir(work) == []


def test_a_big_graph_says_first_that_dot_may_take_a_while(run, fake_dot):
    env, _args, work = fake_dot
    result = run("graph", "x" + "+x" * 3_000, "-o", str(work / "g.png"), env=env)
    assert result.code == 0, result
    assert result.stderr == ("Note: drawing 3,001 nodes with Graphviz's dot may take a while "
                             "(it is stopped after 60 s; --dot-timeout changes that)\n")
    small = run("graph", "x*y", "-o", str(work / "h.png"), env=env)
    assert small.stderr == ""


# ---------------------------------------------------------------- user text in every format

def _doc(label: str, text: str) -> dict:
    from autodiff_cli.render.json_doc import Stream

    nodes = [{"id": "n0", "op": "var", "label": label, "inputs": [], "text": label},
             {"id": "n1", "op": "sin", "label": label, "inputs": ["n0"], "text": text}]
    return {"expression": text, "formula": text, "output": "n1",
            "nodes": Stream(nodes), "edges": Stream([{"from": "n0", "to": "n1", "position": 0}])}


HOSTILE = "a\x1b[2J\x07b\nc\u202ed"


def test_control_characters_are_escaped_in_dot():
    text = render.dot_text(_doc(HOSTILE, f"sin({HOSTILE})"))
    assert not any(ch in text for ch in "\x1b\x07\u202e")
    assert text.count("\n") == 8  # no line but the DOT's own
    assert 'n0 [label="a\\\\x1b[2J\\\\x07b\\\\nc\\\\u202ed  (n0)"' in text


def test_control_characters_are_escaped_in_mermaid():
    text = render.mermaid_text(_doc(HOSTILE, f"sin({HOSTILE})"))
    assert not any(ch in text for ch in "\x1b\x07\u202e")
    assert '  n0(["a\\x1b[2J\\x07b\\nc\\u202ed  (n0)"])' in text.splitlines()
    assert text.splitlines()[0] == "%% f = sin(a\\x1b[2J\\x07b c\\u202ed)"


def test_control_characters_are_escaped_in_the_tree(tmp_path):
    path = tmp_path / "tree.txt"
    with open(path, "w", encoding="utf-8") as fh:
        render.tree(_doc(HOSTILE, f"sin({HOSTILE})"), file=fh)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "f = sin(a\\x1b[2J\\x07b c\\u202ed)",
        "n1 a\\x1b[2J\\x07b\\nc\\u202ed = sin(a\\x1b[2J\\x07b\\nc\\u202ed)",
        "└── n0 a\\x1b[2J\\x07b\\nc\\u202ed (input)",
    ]


def test_dot_escapes_cannot_come_from_user_text():
    # \N, \G, \l ... mean something in a DOT label; user text keeps its backslashes.
    text = render.dot_text(_doc("x", "x\\N\\l\"y"))
    assert 'label="sin  n1  \'x\'\\nx\\\\N\\\\l\\"y"' in text
