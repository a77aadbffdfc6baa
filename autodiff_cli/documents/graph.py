"""The document of ``adiff graph``: every node and edge, with values and gradients at a point.

Plain data in the shape of the JSON output; ``render/graph.py`` draws it as a
tree, DOT or Mermaid. The nodes are a ``NodeStream``: streamed for JSON, DOT
and Mermaid, or looked up one at a time, so the tree builds only what it prints.

``outputs`` lists every output (``{"node", "name"}``); ``output`` is the first. With
several outputs and a point, ``value`` and ``gradient`` are keyed by output name (the
gradient is then the Jacobian: output -> input -> derivative), and each node carries
``grads`` (output name -> d output / d node) where a single output has ``grad``.
"""

from __future__ import annotations

from autodiff_cli.documents.base import Stream, num
from autodiff_cli.documents.shared import as_result, node_entry


class _Outputs:
    """A point's evaluation of every output of a graph (``calculus.jacobian.Jacobian`` with
    each output's gradients kept), read as a result whose ``grads`` are the first output's;
    ``by_output``: output name -> d output / d node for every node."""

    varies = setup = kink_rows = None

    def __init__(self, graph, jac):
        self.graph, self.jac = graph, jac
        self.by_output = {name: jac.grads[k] for name, k in zip(graph.output_names, graph.outputs)}
        self.values, self.local, self.kinks = jac.values, jac.local, jac.kinks
        self.grads = jac.grads[graph.output]

    @property
    def at(self) -> dict[str, float]:
        return {name: self.jac.at[name] for name in self.graph.variables}


def _node(graph, ev, i: int) -> dict:
    """Node ``i`` as the graph document shows it (``ev``: a result, or None)."""
    from autodiff_cli.calculus.expand import is_fused
    from autodiff_cli.language.printer import node_text

    entry = node_entry(graph, ev, i)
    if isinstance(ev, _Outputs):
        del entry["grad"]
        entry["grads"] = {name: num(grads[i]) for name, grads in ev.by_output.items()}
    op = graph.ops[i]
    entry["text"] = node_text(graph, i)
    entry["fused"] = is_fused(op)
    if entry["fused"]:
        entry["expand"] = op.expand or "log(exp(a1) + exp(a2) + ...)"
    return entry


def _edges(graph, result):
    for i, ins in enumerate(graph.inputs):
        for k, j in enumerate(ins):
            edge = {"from": f"n{j}", "to": f"n{i}", "position": k}
            if result is not None:
                edge["value"] = num(result.values[j])
                edge["local"] = num(result.local[i][k])
            yield edge


class NodeStream(Stream):
    """The nodes of a graph document: streamed (JSON, DOT, Mermaid), or looked up one
    at a time, so the tree view builds only the nodes it prints."""

    def __init__(self, graph, result):
        super().__init__(_node(graph, result, i) for i in range(len(graph)))
        self._graph, self._result = graph, result

    def __len__(self) -> int:
        return len(self._graph)

    def node(self, k: int) -> dict:
        return _node(self._graph, self._result, k)

    def position(self, node_id: str) -> int:
        return int(node_id[1:])

    def inputs(self, k: int):
        return self._graph.inputs[k]

    def all_inputs(self):
        return self._graph.inputs


def graph_document(graph, ev=None, expanded: bool = False) -> dict:
    """Nodes and edges; with an evaluation, values, local gradients and gradients too.

    ``ev``: None, a point's evaluation (``engine.Evaluation``), or for several outputs a
    ``calculus.jacobian.Jacobian`` made in reverse mode with its gradients kept."""
    from autodiff_cli.language.printer import to_source

    names = graph.output_names
    if getattr(ev, "rows", None) is not None:  # a Jacobian: several outputs at a point
        result = _Outputs(graph, ev)
    else:
        result = as_result(graph, ev)
    doc = {"expression": graph.source, "formula": to_source(graph, "; "), "expanded": expanded}
    if isinstance(result, _Outputs):
        jac = result.jac
        doc["at"] = result.at
        doc["value"] = {name: num(jac.value(p)) for p, name in enumerate(names)}
        doc["gradient"] = {name: {x: num(d) for x, d in zip(jac.wrt, jac.rows[p])}
                           for p, name in enumerate(names)}
    elif result is not None:
        doc["at"] = result.at
        doc["value"] = num(result.value)
        doc["gradient"] = {name: num(g) for name, g in result.gradient.items()}
    doc["output"] = f"n{graph.output}"
    doc["outputs"] = [{"node": f"n{k}", "name": name} for k, name in zip(graph.outputs, names)]
    doc["nodes"] = NodeStream(graph, result)
    doc["edges"] = Stream(_edges(graph, result))
    return doc
