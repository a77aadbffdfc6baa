"""Result documents: the plain data every renderer reads.

A document has the shape of the JSON output (see CONTRACT.md); table and
plain renderers format the same fields, so the three formats never disagree.
"""

from __future__ import annotations

from math import isfinite as _isfinite

from .engine import Evaluation
from .graph import Graph
from .numeric import ATOL, CENTRAL_STEP, RTOL, Estimate
from .render import num
from .render.json_doc import Stream


def node_entry(graph: Graph, ev: Evaluation | None, i: int) -> dict:
    op = graph.ops[i]
    entry = {
        "id": f"n{i}",
        "op": op.name,
        "label": graph.labels[i],
        "inputs": [f"n{j}" for j in graph.inputs[i]],
    }
    if ev is not None:
        entry["value"] = num(ev.values[i])
        entry["local"] = [num(x) for x in ev.local[i]]
        entry["grad"] = num(ev.grads[i])
    entry["span"] = [graph.starts[i], graph.ends[i]]
    return entry


def nodes_stream(graph: Graph, ev: Evaluation | None) -> Stream:
    texts = (lambda: node_texts(graph, ev)) if ev is not None else None
    return Stream((node_entry(graph, ev, i) for i in range(len(graph))), texts)


def _num_text(x) -> str:
    """The JSON text of ``num(x)``: floats as ``json`` writes them."""
    if type(x) is float and _isfinite(x):
        return _float_repr(x)
    from .render.json_doc import _dumps

    return _dumps(num(x))


def node_texts(graph: Graph, ev: Evaluation):
    """The JSON text of ``node_entry(graph, ev, i)`` for every node, built directly:
    twice as fast as building each dict and encoding it (tests check they agree)."""
    from .render.json_doc import _dumps

    ops, inputs, labels, starts, ends = graph.ops, graph.inputs, graph.labels, graph.starts, graph.ends
    values, local, grads = ev.values, ev.local, ev.grads
    op_text = {op: _dumps(op.name) for op in set(ops)}
    text = _num_text
    for i in range(len(ops)):
        ins, lo, label = inputs[i], local[i], labels[i]
        if len(ins) == 1:
            ids, locs = f'"n{ins[0]}"', text(lo[0])
        elif len(ins) == 2:
            ids, locs = f'"n{ins[0]}", "n{ins[1]}"', f"{text(lo[0])}, {text(lo[1])}"
        else:
            ids, locs = ", ".join(f'"n{j}"' for j in ins), ", ".join(map(text, lo))
        yield (f'{{"id": "n{i}", "op": {op_text[ops[i]]}, "label": {_dumps(label) if label else EMPTY}, '
               f'"inputs": [{ids}], "value": {text(values[i])}, "local": [{locs}], '
               f'"grad": {text(grads[i])}, "span": [{starts[i]}, {ends[i]}]}}')


EMPTY = '""'
_float_repr = float.__repr__


def kinked_inputs(graph: Graph, kinks: list[int]) -> set[str]:
    """Input variables that feed a node sitting on its kink."""
    if not kinks:
        return set()
    mark = [False] * len(graph)
    for k in kinks:
        mark[k] = True
    for i in range(max(kinks), -1, -1):
        if mark[i]:
            for j in graph.inputs[i]:
                mark[j] = True
    return {name for name, i in graph.variables.items() if mark[i]}


def kink_entries(graph: Graph, kinks: list[int]) -> list[dict]:
    return [{"node": f"n{i}", "op": graph.ops[i].name,
             "convention": graph.ops[i].convention} for i in kinks]


def comparison_fields(estimates: list[Estimate]) -> dict:
    """The per-input fields of a `check` point: reverse mode, the estimate, errors, verdict."""
    doc = {
        "gradient": {e.name: num(e.ad) for e in estimates},
        "numeric": {e.name: num(e.fd) for e in estimates},
        "abs_error": {e.name: num(e.abs_error) for e in estimates},
        "rel_error": {e.name: num(e.rel_error) for e in estimates},
        "tolerance": {e.name: num(e.tolerance) for e in estimates},
        "step": {e.name: e.step for e in estimates},
        "methods": {e.name: e.method for e in estimates},
        "status": {e.name: e.status for e in estimates},
    }
    if any(e.error is not None for e in estimates):
        doc["error_estimate"] = {e.name: num(e.error) for e in estimates}
    return doc


def check_entry(estimates: list[Estimate] | None, skipped: str | None,
                rtol: float = RTOL, atol: float = ATOL) -> dict:
    if estimates is None:
        return {"skipped": skipped or "turned off"}
    doc = {
        "method": "central",
        "step": CENTRAL_STEP,
        "rule": "|ad - fd| <= atol + rtol*|fd|",
        "rtol": rtol,
        "atol": atol,
        "steps": {e.name: e.step for e in estimates},
        "methods": {e.name: e.method for e in estimates},
        "gradient": {e.name: num(e.fd) for e in estimates},
        "abs_error": {e.name: num(e.abs_error) for e in estimates},
        "rel_error": {e.name: num(e.rel_error) for e in estimates},
        "status": {e.name: e.status for e in estimates},
        "ok": all(e.ok is not False for e in estimates),
    }
    notes = {e.name: e.note for e in estimates if e.note}
    if notes:
        doc["notes"] = notes
    return doc


def grad_document(graph: Graph, ev: Evaluation, wrt: list[str],
                  estimates: list[Estimate] | None, skipped: str | None,
                  with_nodes: bool = True) -> dict:
    doc = {
        "expression": graph.source,
        "at": {name: ev.at[name] for name in graph.variables},
        "value": num(ev.value),
        "gradient": {name: num(ev.grads[graph.variables[name]]) for name in wrt},
    }
    if with_nodes:
        doc["nodes"] = nodes_stream(graph, ev)
    doc["output"] = f"n{graph.output}"
    doc["kinks"] = kink_entries(graph, ev.kinks)
    doc["check"] = check_entry(estimates, skipped)
    return doc
