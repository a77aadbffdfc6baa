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

from .cli import FormulaCommand, Problem, _warn_kinks, cli, data_options, data_settings, formula_options, warn
from .errors import InputError
from .render import emit, num
from .render.json_doc import Stream

GRAPH_FORMATS = ("tree", "dot", "mermaid", "json")
#: Files ``-o`` draws with Graphviz; other suffixes get the text of a format.
PICTURES = ("svg", "png", "pdf")
_FORMAT_OF_SUFFIX = {"dot": "dot", "gv": "dot", "mmd": "mermaid", "mermaid": "mermaid",
                     "json": "json"}
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


def graph_document(graph, ev=None, expanded: bool = False) -> dict:
    """Nodes and edges; with an evaluation, values, local gradients and gradients too."""
    doc = _head(graph, ev, expanded)
    doc["nodes"] = Stream(_node(graph, ev, i) for i in range(len(graph)))
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

def _draw(text: str, path: str, suffix: str) -> None:
    """Run Graphviz's dot to write a picture; exit 2 when it is not installed."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        raise InputError(
            f"cannot write {path}: a .{suffix} picture is drawn by Graphviz's `dot` program, "
            "which is not installed",
            hint="install Graphviz (apt install graphviz, dnf install graphviz, "
                 "brew install graphviz, or https://graphviz.org/download/), or write the DOT "
                 "text instead: --format dot -o graph.dot")
    try:
        done = subprocess.run([program, f"-T{suffix}", "-o", path], input=text.encode("utf-8"),
                              capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"cannot write {path}: running dot failed ({exc})") from None
    message = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise InputError(f"cannot write {path}: dot exited with status {done.returncode}"
                         + (f": {message}" if message else ""))
    for line in message.splitlines():
        warn(f"dot: {line}")


def _write(path: str, fmt: str, doc: dict, depth: int) -> None:
    from .render import graph as render

    try:
        with open(path, "w", encoding="utf-8") as fh:
            if fmt == "json":
                from .render.json_doc import write

                write(doc, out=fh)
            elif fmt == "tree":
                render.tree(doc, depth=depth, file=fh)
            else:
                fh.write(render.dot_text(doc) if fmt == "dot" else render.mermaid_text(doc))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


@cli.command(cls=FormulaCommand)
@formula_options(formats=GRAPH_FORMATS, default="tree")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write to FILE instead of stdout; .svg, .png and .pdf are drawn with "
                   "Graphviz's dot (the format follows the suffix: .dot, .mmd, .json).")
@click.option("--expand", is_flag=True, help=_EXPAND_HELP)
@click.option("--depth", type=click.IntRange(1), metavar="N",
              help="Tree levels shown below the output; deeper ones are folded "
                   "(default: as many as fit the width, 20 at 120 columns).")
@click.pass_context
def graph(ctx, expr, file, at, fmt, max_size, output, expand, depth):
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

    problem, g = _problem(expr, file, at, max_size, expand)
    ev = _evaluate(g, problem.at) if at else None
    doc = graph_document(g, ev, expand)
    if output is None:
        emit("graph", doc, fmt, depth=depth)
        return 0
    explicit = ctx.get_parameter_source("fmt") not in (ParameterSource.DEFAULT, None)
    suffix = os.path.splitext(output)[1][1:].lower()
    if suffix in PICTURES:
        if explicit and fmt != "dot":
            raise InputError(f"-o {output}: a .{suffix} file is drawn by Graphviz from DOT, "
                             f"so it cannot hold --format {fmt}",
                             hint="drop --format, or write a text file (e.g. -o graph."
                                  f"{_SUFFIX_OF_FORMAT[fmt]})")
        from .render.graph import dot_text

        _draw(dot_text(doc), output, suffix)
    else:
        _write(output, fmt if explicit else _FORMAT_OF_SUFFIX.get(suffix, "tree"), doc, depth)
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
