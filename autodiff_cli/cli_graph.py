"""adiff graph and adiff trace: the computational graph and the backward pass, shown.

``graph`` draws the graph (a tree in the terminal, Graphviz DOT, Mermaid or
JSON; with ``--at`` every node carries its value and the gradient of the
output). ``trace`` narrates the backward pass as the lecture does: at each
node, upstream gradient × local gradient = the contribution passed to each
input, and a value used several times receives the sum of its contributions.
Both accept ``--expand`` to rewrite fused ops into primitives first.

The documents built here are plain data (the shape of the JSON output); the
renderers in ``render/graph.py`` and ``render/trace.py`` read them.
"""

from __future__ import annotations

import os

import click

from .cli import (
    FormulaCommand,
    Problem,
    _warn_kinks,
    cli,
    data_options,
    data_settings,
    formula_options,
    note,
    warn,
)
from .errors import InputError, escape_controls
from .render import emit, num
from .render.json_doc import Stream

GRAPH_FORMATS = ("tree", "dot", "mermaid", "json")
#: Files ``-o`` draws with Graphviz; other suffixes get the text of a format.
PICTURES = ("svg", "png", "pdf")
_FORMAT_OF_SUFFIX = {"dot": "dot", "gv": "dot", "mmd": "mermaid", "mermaid": "mermaid",
                     "json": "json", "txt": "tree"}
KNOWN_SUFFIXES = (".svg, .png, .pdf (a picture drawn by Graphviz's dot), .dot or .gv (DOT), "
                  ".mmd or .mermaid (Mermaid), .json, .txt (the tree)")
#: Seconds ``dot`` may take for ``-o picture`` before it is stopped (--dot-timeout).
DOT_TIMEOUT = 60.0
#: Above this many nodes, ``-o picture`` says first that dot may take a while.
DOT_BIG = 2_000
_SUFFIX_OF_FORMAT = {"dot": "dot", "mermaid": "mmd", "json": "json", "tree": "txt"}
#: Rows per section of the trace table by default (the first and the last ones).
TRACE_ROWS = 60

_EXPAND_HELP = ("Rewrite fused ops (sigmoid, softplus, tanh, logsumexp, sec, ...) into "
                "primitive ops first, e.g. sigmoid(z) -> 1/(1 + exp(-z)).")


# ---------------------------------------------------------------- documents

def _node(graph, ev, i: int) -> dict:
    from .expand import is_fused
    from .printer import node_text
    from .report import node_entry

    entry = node_entry(graph, ev, i)
    op = graph.ops[i]
    entry["text"] = node_text(graph, i)
    entry["fused"] = is_fused(op)
    if entry["fused"]:
        entry["expand"] = op.expand or "log(exp(a1) + exp(a2) + ...)"
    return entry


def _edges(graph, ev):
    for i, ins in enumerate(graph.inputs):
        for k, j in enumerate(ins):
            edge = {"from": f"n{j}", "to": f"n{i}", "position": k}
            if ev is not None:
                edge["value"] = num(ev.values[j])
                edge["local"] = num(ev.local[i][k])
            yield edge


def _head(graph, ev, expanded: bool) -> dict:
    from .printer import to_source

    doc = {"expression": graph.source, "formula": to_source(graph, "; "), "expanded": expanded}
    if ev is not None:
        doc["at"] = {name: ev.at[name] for name in graph.variables}
        doc["value"] = num(ev.value)
        doc["gradient"] = {name: num(ev.grads[i]) for name, i in graph.variables.items()}
    doc["output"] = f"n{graph.output}"
    return doc


class NodeStream(Stream):
    """The nodes of a graph document: streamed (JSON, DOT, Mermaid), or looked up one
    at a time, so the tree view builds only the nodes it prints."""

    def __init__(self, graph, ev):
        super().__init__(_node(graph, ev, i) for i in range(len(graph)))
        self._graph, self._ev = graph, ev

    def __len__(self) -> int:
        return len(self._graph)

    def node(self, k: int) -> dict:
        return _node(self._graph, self._ev, k)

    def position(self, node_id: str) -> int:
        return int(node_id[1:])

    def inputs(self, k: int):
        return self._graph.inputs[k]

    def all_inputs(self):
        return self._graph.inputs


def graph_document(graph, ev=None, expanded: bool = False) -> dict:
    """Nodes and edges; with an evaluation, values, local gradients and gradients too."""
    doc = _head(graph, ev, expanded)
    doc["nodes"] = NodeStream(graph, ev)
    doc["edges"] = Stream(_edges(graph, ev))
    return doc


def _forward(graph, ev):
    from .printer import node_text

    for i in range(len(graph)):
        yield {"node": f"n{i}", "op": graph.ops[i].name, "label": graph.labels[i],
               "text": node_text(graph, i), "inputs": [f"n{j}" for j in graph.inputs[i]],
               "value": num(ev.values[i])}


def _steps(graph, ev):
    """The backward pass edge by edge, in the engine's order (so the sums match it exactly).

    Only edges into values that depend on an input are steps: a constant
    needs no gradient.
    """
    requires, inputs, ops = graph.requires, graph.inputs, graph.ops
    for i in range(graph.output, -1, -1):
        ins = inputs[i]
        if not ins or not requires[i]:
            continue
        upstream = ev.grads[i]
        local = ev.local[i]
        for k, j in enumerate(ins):
            if requires[j]:
                yield i, ops[i].name, j, upstream, local[k], upstream * local[k]


def _sums(graph, ev) -> list[dict]:
    """Each value's incoming contributions and their sum, in the order gradients complete."""
    received: dict[int, list] = {}
    for i, _op, j, _up, _local, contribution in _steps(graph, ev):
        received.setdefault(j, []).append({"from": f"n{i}", "value": num(contribution)})
    return [{"node": f"n{j}", "label": graph.labels[j], "grad": num(ev.grads[j]),
             "contributions": received[j]}
            for j in sorted(received, reverse=True)]


def trace_document(graph, ev, expanded: bool = False) -> dict:
    """The forward values, the backward steps and each value's summed contributions."""
    doc = _head(graph, ev, expanded)
    gradient = doc.pop("gradient")
    doc["forward"] = Stream(_forward(graph, ev))
    doc["steps"] = Stream(
        {"node": f"n{i}", "op": op, "to": f"n{j}", "upstream": num(up), "local": num(local),
         "contribution": num(contribution)}
        for i, op, j, up, local, contribution in _steps(graph, ev))
    doc["sums"] = _sums(graph, ev)
    doc["gradient"] = gradient
    return doc


# ---------------------------------------------------------------- shared steps

def _problem(expr, file, at, max_size, expand):
    problem = Problem(expr, file, at, max_size)
    graph = problem.graph
    if expand:
        from .expand import expand as expand_graph

        graph = expand_graph(graph)
    return problem, graph


def _evaluate(graph, at):
    from .engine import evaluate

    ev = evaluate(graph, at)
    _warn_kinks(graph, ev)
    return ev


def _rows(spec: str | None, fmt: str):
    if spec is None:
        return TRACE_ROWS if fmt == "table" else None
    if spec == "all":
        return None
    if spec.isdigit() and int(spec) > 0:
        return int(spec)
    raise InputError(f"--rows {spec}: expected a positive number or 'all'")


# ---------------------------------------------------------------- adiff graph

def _target(path: str):
    """A writer for ``-o path``: atomic (a temporary file beside it, renamed when complete),
    except for an existing device or pipe (/dev/stdout, a FIFO), which is written in place."""
    import contextlib
    import stat

    try:
        special = not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path)
    except (OSError, ValueError):
        special = False
    if special:
        return contextlib.closing(open(path, "wb"))
    from .files import atomic_write

    return atomic_write(path, "wb")


def _cannot_write(path: str, exc: OSError) -> InputError:
    return InputError(f"cannot write {escape_controls(path)}: {exc.strerror or exc}")


def _draw(text: str, path: str, suffix: str, timeout: float, nodes: int) -> None:
    """Run Graphviz's dot to write a picture; exit 2 when it is not installed or fails.

    dot writes to its stdout, which is the temporary file beside ``path``: the
    path never reaches dot's command line (a path like "-x.svg" is no option),
    and ``path`` is replaced only by a complete picture.
    """
    import shutil
    import subprocess

    shown = escape_controls(path)
    program = shutil.which("dot")
    if program is None:
        raise InputError(
            f"cannot write {shown}: a .{suffix} picture is drawn by Graphviz's `dot` program, "
            "which is not installed",
            hint="install Graphviz (apt install graphviz, dnf install graphviz, "
                 "brew install graphviz, or https://graphviz.org/download/), or write the DOT "
                 "text instead: --format dot -o graph.dot")
    if nodes > DOT_BIG:
        note(f"drawing {nodes:,} nodes with Graphviz's dot may take a while "
             f"(it is stopped after {timeout:g} s; --dot-timeout changes that)")
    try:
        with _target(path) as fh:
            try:
                done = subprocess.run([program, f"-T{suffix}"], input=text.encode("utf-8"),
                                      stdout=fh, stderr=subprocess.PIPE, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise InputError(f"cannot write {shown}: dot did not finish within {timeout:g} s",
                                 hint="raise the limit with --dot-timeout SECONDS, or write the "
                                      "DOT text (--format dot -o graph.dot) and draw it "
                                      "yourself") from None
            except (OSError, subprocess.SubprocessError) as exc:
                raise InputError(f"cannot write {shown}: running dot failed ({exc})") from None
            message = done.stderr.decode("utf-8", "replace").strip()
            if done.returncode != 0:
                raise InputError(f"cannot write {shown}: dot exited with status {done.returncode}"
                                 + (f": {message}" if message else ""))
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    for line in message.splitlines():
        warn(f"dot: {line}")


def _write(path: str, fmt: str, doc: dict, depth: int) -> None:
    import io

    from .render import graph as render

    try:
        with _target(path) as raw:
            fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            try:
                if fmt == "json":
                    from .render.json_doc import write

                    write(doc, out=fh)
                elif fmt == "tree":
                    render.tree(doc, depth=depth, file=fh)
                else:
                    lines = render.dot_lines(doc) if fmt == "dot" else render.mermaid_lines(doc)
                    for line in lines:
                        fh.write(line + "\n")
                fh.flush()
            finally:
                fh.detach()
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _output_kind(output: str, fmt: str, explicit: bool) -> tuple[str, str]:
    """("picture", suffix) or ("text", format) for ``-o output``; unknown suffixes are errors."""
    suffix = os.path.splitext(output)[1][1:].lower()
    shown = escape_controls(output)
    if suffix in PICTURES:
        if explicit and fmt != "dot":
            raise InputError(f"-o {shown}: a .{suffix} file is drawn by Graphviz from DOT, "
                             f"so it cannot hold --format {fmt}",
                             hint="drop --format, or write a text file (e.g. -o graph."
                                  f"{_SUFFIX_OF_FORMAT[fmt]})")
        return "picture", suffix
    if explicit:
        return "text", fmt
    if suffix not in _FORMAT_OF_SUFFIX:
        what = f"a .{escape_controls(suffix)} file" if suffix else "a file without a suffix"
        raise InputError(f"-o {shown}: adiff cannot write {what}",
                         hint="the suffix says what to write: " + KNOWN_SUFFIXES
                              + "; or name the format with --format")
    return "text", _FORMAT_OF_SUFFIX[suffix]


@cli.command(cls=FormulaCommand)
@formula_options(formats=GRAPH_FORMATS, default="tree")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write to FILE instead of stdout; .svg, .png and .pdf are drawn with "
                   "Graphviz's dot (the format follows the suffix: .dot, .gv, .mmd, .json, "
                   ".txt for the tree).")
@click.option("--dot-timeout", "dot_timeout", type=click.FloatRange(0, min_open=True),
              default=DOT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="With -o picture: stop Graphviz's dot after this long.")
@click.option("--expand", is_flag=True, help=_EXPAND_HELP)
@click.option("--depth", type=click.IntRange(1), metavar="N",
              help="Tree levels shown below the output; deeper ones are folded "
                   "(default: as many as fit the width, 20 at 120 columns).")
@click.pass_context
def graph(ctx, expr, file, at, fmt, max_size, output, dot_timeout, expand, depth):
    """The computational graph of EXPR: nodes are ops, edges are values.

    With --at, every node carries its value and the gradient of the output
    (grad = ∂f/∂node), and every edge its local gradient (∂node/∂input).
    The tree starts at the output; a value used by several nodes has its
    inputs shown once. DOT reads left to right, inputs to output.

    \b
      adiff graph "x*y + sin(x)"
      adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2
      adiff graph "-log(sigmoid(z))" --at z=1 --expand --format mermaid
      adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2 -o lecture.svg
    """
    from click.core import ParameterSource

    kind = None
    if output is not None:
        explicit = ctx.get_parameter_source("fmt") not in (ParameterSource.DEFAULT, None)
        kind, what = _output_kind(output, fmt, explicit)
    problem, g = _problem(expr, file, at, max_size, expand)
    ev = _evaluate(g, problem.at) if at else None
    doc = graph_document(g, ev, expand)
    if output is None:
        emit("graph", doc, fmt, depth=depth)
    elif kind == "picture":
        from .render.graph import dot_text

        _draw(dot_text(doc), output, what, dot_timeout, len(g))
    else:
        _write(output, what, doc, depth)
    return 0


# ---------------------------------------------------------------- adiff trace

@cli.command(cls=FormulaCommand)
@formula_options
@click.option("--expand", is_flag=True, help=_EXPAND_HELP)
@click.option("--rows", "rows", metavar="N|all",
              help=f"Rows per section of the table (default {TRACE_ROWS}: the first and the "
                   "last ones; plain and JSON default all).")
@data_options
def trace(expr, file, at, fmt, max_size, expand, rows, data, reduce, delimiter, chunk_size):
    """The backward pass of EXPR step by step, as the lecture narrates it.

    First the forward pass (each node's value), then, in reverse topological
    order, each node's upstream gradient ∂f/∂node times its local gradient
    ∂node/∂input: the contribution passed to that input. A value used by
    several nodes receives several contributions, and its gradient is their sum.

    \b
      adiff trace "x*y + sin(x)" --at x=1,y=2
      adiff trace -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2
      adiff trace "-log(sigmoid(z))" --at z=1 --expand --format json
      adiff trace -f samples/logistic_program.adiff --data samples/logistic.csv --at t0=0,t1=0,t2=0

    With --data FILE, every row runs the same backward pass, and the trace
    shows the summation step: where per-row gradients flow into a parameter,
    the rows' contributions are added up (dL/dθ = dL1/dθ + dL2/dθ + ...).
    """
    settings = data_settings(data, reduce, delimiter, chunk_size)
    limit = _rows(rows, fmt)
    problem, g = _problem(expr, file, at, max_size, expand)
    if settings is not None:
        from .cli_data import trace_data

        return trace_data(g, problem.at, settings, expand, fmt, limit, expr, file)
    ev = _evaluate(g, problem.at)
    emit("trace", trace_document(g, ev, expand), fmt, limit=limit)
    return 0
