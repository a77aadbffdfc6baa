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
from autodiff_cli.documents.shared import as_result, data_entry, engine_entry, example_entries


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
        doc.update(engine_entry(result))
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


# ---------------------------------------------------------------- forward mode

def cost_entry(inputs: int) -> dict:
    """The lecture's cost argument for the gradient over N inputs, in passes over the graph:
    forward mode one tangent pass per input, reverse mode one backward pass, central
    differences two evaluations per input."""
    return {"inputs": inputs, "forward_mode": inputs, "reverse_mode": 1,
            "central_differences": 2 * inputs}


def _pass_entry(graph, fev, p: int, name: str | None) -> dict:
    """Tangent pass ``p`` of ``fev``: its seed, its steps (local × tangent = contribution,
    into each node a seeded input feeds), each such node's tangent, and the output's."""
    from autodiff_cli.calculus.forward import tangent_pass
    from autodiff_cli.calculus.steps import fed, tangent_steps

    seed = fev.seeds[p]
    variables = graph.variables
    seeded = [variables[n] for n, v in seed.items() if v != 0.0]
    tangents = tangent_pass(graph, fev.values, seed, fev.local)
    ops, labels = graph.ops, graph.labels
    steps = [{"node": f"n{s.node}", "op": ops[s.node].name, "from": f"n{s.input}",
              "local": num(s.local), "tangent": num(s.tangent), "contribution": num(s.contribution)}
             for s in tangent_steps(graph, fev.local, tangents, seeded)]
    mark = fed(graph, seeded)
    nodes = [{"node": f"n{i}", "op": ops[i].name, "label": labels[i], "tangent": num(tangents[i])}
             for i in range(len(graph)) if mark[i] and graph.inputs[i]]
    return {"wrt": name, "seed": {n: num(v) for n, v in seed.items()}, "steps": steps,
            "tangents": nodes, "derivative": num(tangents[graph.output])}


def forward_trace_document(graph, fev, wrt: list[str], direction: bool = False,
                           expanded: bool = False) -> dict:
    """``adiff trace --mode forward``: the forward values, then one tangent pass per input
    of ``wrt`` (or, with ``direction``, the one pass of ``fev`` along --direction), each pass
    computed again as it is written (memory: one pass at a time), and the cost argument."""
    from autodiff_cli.language.printer import to_source

    result = as_result(graph, fev)
    doc = {"expression": graph.source, "formula": to_source(graph, "; "), "expanded": expanded,
           "mode": "forward"}
    doc["at"] = result.at
    doc["value"] = num(fev.value)
    doc["output"] = f"n{graph.output}"
    doc["forward"] = Stream(_forward(graph, result))
    names = [None] if direction else list(wrt)
    doc["passes"] = Stream(_pass_entry(graph, fev, p, name) for p, name in enumerate(names))
    if direction:
        from autodiff_cli.documents.grad import directional_entry

        doc["directional"] = directional_entry(fev.seeds[0], fev.derivative[0], "forward")
    else:
        doc["gradient"] = {name: num(fev.derivative[p]) for p, name in enumerate(wrt)}
    doc["cost"] = cost_entry(len(graph.variables))
    return doc
