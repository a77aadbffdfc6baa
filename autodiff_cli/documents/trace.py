"""The document of ``adiff trace``: the forward values, the backward steps, each value's sum.

The steps are the engine's (``calculus.steps``; over data, each summed over the
rows by ``batch``): at each node, upstream gradient × local gradient = the
contribution passed to each input, in the engine's order, and a value used
several times receives the sum of its contributions. One document for a point
and for a formula summed over a data file; in data mode a node that differs
row by row says so (``varies``), a step from such a node is ``per_row``, and a
step where per-row contributions flow into a value every row shares is the
``summation`` step (dL/dθ = dL1/dθ + dL2/dθ + ...).
"""

from __future__ import annotations

from autodiff_cli.documents.base import Stream, num
from autodiff_cli.documents.shared import as_result, data_entry, example_entries


def _forward(graph, result):
    from autodiff_cli.language.printer import node_text

    varies = result.varies
    for i in range(len(graph)):
        entry = {"node": f"n{i}", "op": graph.ops[i].name, "label": graph.labels[i],
                 "text": node_text(graph, i), "inputs": [f"n{j}" for j in graph.inputs[i]]}
        if varies is not None:
            entry["varies"] = varies[i]
        entry["value"] = num(result.values[i])
        yield entry


def _steps(graph, result):
    ops, varies = graph.ops, result.varies
    for s in result.steps():
        entry = {"node": f"n{s.node}", "op": ops[s.node].name, "to": f"n{s.input}",
                 "upstream": num(s.upstream), "local": num(s.local),
                 "contribution": num(s.contribution)}
        if varies is not None:
            entry["per_row"] = varies[s.node]
            entry["summation"] = varies[s.node] and not varies[s.input]
        yield entry


def _sums(graph, result) -> list[dict]:
    """Each value's incoming contributions and their sum, in the order gradients complete."""
    varies = result.varies
    received: dict[int, list] = {}
    for s in result.steps():
        entry = {"from": f"n{s.node}", "value": num(s.contribution)}
        if varies is not None:
            entry["summation"] = varies[s.node] and not varies[s.input]
        received.setdefault(s.input, []).append(entry)
    grads = result.grads
    return [{"node": f"n{j}", "label": graph.labels[j], "grad": num(grads[j]),
             "contributions": received[j]}
            for j in sorted(received, reverse=True)]


def trace_document(graph, ev, expanded: bool = False) -> dict:
    """The forward values, the backward steps and each value's summed contributions of
    ``ev`` (a point's evaluation, or a pass over a data file with its edges summed)."""
    from autodiff_cli.language.printer import to_source

    result = as_result(graph, ev)
    doc = {"expression": graph.source, "formula": to_source(graph, "; "), "expanded": expanded}
    if result.setup is not None:
        doc["data"] = data_entry(result)
    doc["at"] = result.at
    doc["value"] = num(result.value)
    doc["output"] = f"n{graph.output}"
    doc["forward"] = Stream(_forward(graph, result))
    doc["steps"] = Stream(_steps(graph, result))
    doc["sums"] = _sums(graph, result)
    if result.setup is not None and result.examples is not None:
        doc["examples"] = list(example_entries(result))
    doc["gradient"] = {name: num(g) for name, g in result.gradient.items()}
    return doc
