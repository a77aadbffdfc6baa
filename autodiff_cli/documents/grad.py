"""The document of ``adiff grad``: value, gradient, every node, and the finite-difference column.

One document for a point and for a formula summed over a data file: in data
mode it adds ``data`` (the file), ``varies`` on each node, the kinks' rows and,
with ``--per-example``, each row's value and gradient (``examples``). Forward mode
(``--mode forward``) has its own document, grad's keys plus ``"mode": "forward"``, with each
node's tangents in place of its gradient; ``--direction`` adds ``directional`` to either.
"""

from __future__ import annotations

from math import isfinite as _isfinite

from autodiff_cli.check.numeric import ATOL, CENTRAL_STEP, RTOL, Estimate
from autodiff_cli.documents.base import Stream, encode, num
from autodiff_cli.documents.shared import (
    as_result,
    data_entry,
    engine_entry,
    example_entries,
    kink_entries,
    node_entry,
)


def nodes_stream(graph, result) -> Stream:
    """Every node's entry, streamed (a point's evaluation: written by ``node_texts``)."""
    result = as_result(graph, result)
    texts = None
    if result is not None and result.varies is None:
        texts = lambda: node_texts(graph, result.ev)  # noqa: E731
    return Stream((node_entry(graph, result, i) for i in range(len(graph))), texts)


def _num_text(x) -> str:
    """The JSON text of ``num(x)``: floats as ``json`` writes them."""
    if type(x) is float and _isfinite(x):
        return _float_repr(x)
    return encode(num(x))


def node_texts(graph, ev):
    """The JSON text of ``node_entry(graph, ev, i)`` for every node of a point's
    evaluation, built directly: twice as fast as building each dict and encoding it
    (tests check they agree)."""
    ops, inputs, labels, starts, ends = graph.ops, graph.inputs, graph.labels, graph.starts, graph.ends
    values, local, grads = ev.values, ev.local, ev.grads
    op_text = {op: encode(op.name) for op in set(ops)}
    text = _num_text
    for i in range(len(ops)):
        ins, lo, label = inputs[i], local[i], labels[i]
        if len(ins) == 1:
            ids, locs = f'"n{ins[0]}"', text(lo[0])
        elif len(ins) == 2:
            ids, locs = f'"n{ins[0]}", "n{ins[1]}"', f"{text(lo[0])}, {text(lo[1])}"
        else:
            ids, locs = ", ".join(f'"n{j}"' for j in ins), ", ".join(map(text, lo))
        yield (f'{{"id": "n{i}", "op": {op_text[ops[i]]}, "label": {encode(label) if label else EMPTY}, '
               f'"inputs": [{ids}], "value": {text(values[i])}, "local": [{locs}], '
               f'"grad": {text(grads[i])}, "span": [{starts[i]}, {ends[i]}]}}')


EMPTY = '""'
_float_repr = float.__repr__


def check_entry(estimates: list[Estimate] | None, skipped: str | None,
                rtol: float = RTOL, atol: float = ATOL) -> dict:
    """The finite-difference column: each input's estimate, errors and status, or why
    it was skipped."""
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


def grad_document(graph, result, wrt: list[str], estimates: list[Estimate] | None,
                  skipped: str | None, with_nodes: bool = True, examples: bool = False) -> dict:
    """The document of ``adiff grad`` for ``result`` (a point's evaluation, or a pass over
    a data file), differentiated by the inputs ``wrt``."""
    result = as_result(graph, result)
    doc = {"expression": graph.source}
    if result.setup is not None:
        doc["data"] = data_entry(result)
        doc.update(engine_entry(result))
    gradient = result.gradient
    doc["at"] = result.at
    doc["value"] = num(result.value)
    doc["gradient"] = {name: num(gradient[name]) for name in wrt}
    if with_nodes:
        doc["nodes"] = nodes_stream(graph, result)
    doc["output"] = f"n{graph.output}"
    doc["kinks"] = kink_entries(graph, result)
    doc["check"] = check_entry(estimates, skipped)
    if examples:
        doc["examples"] = list(example_entries(result))
    return doc


# ---------------------------------------------------------------- forward mode

def directional_entry(direction: dict[str, float], value: float, method: str) -> dict:
    """--direction: the direction as given (not normalised; inputs not named: 0), the
    derivative along it, Σ ∂f/∂xᵢ·vᵢ, and how it was computed: ``"forward"``, one tangent
    pass (at a point); ``"gradient"``, the gradient of the loss times v (over --data)."""
    return {"direction": dict(direction), "value": num(value), "method": method}


def forward_node_entry(graph, fev, wrt: list[str], i: int, direction: bool) -> dict:
    """Node ``i`` in forward mode: grad's node entry with ``tangent`` (input -> d node / d
    input, one per tangent pass) in place of ``grad`` (d output / d node, which only reverse
    mode computes); with --direction, ``directional``: the node's tangent along it."""
    entry = {
        "id": f"n{i}", "op": graph.ops[i].name, "label": graph.labels[i],
        "inputs": [f"n{j}" for j in graph.inputs[i]],
        "value": num(fev.values[i]), "local": [num(x) for x in (fev.local[i] or ())],
        "tangent": {name: num(fev.tangent(p, i)) for p, name in enumerate(wrt)},
    }
    if direction:
        entry["directional"] = num(fev.tangent(len(wrt), i))
    entry["span"] = [graph.starts[i], graph.ends[i]]
    return entry


def forward_node_texts(graph, fev, wrt: list[str], direction: bool):
    """The JSON text of ``forward_node_entry`` for every node, built directly (as
    ``node_texts``; tests check they agree)."""
    ops, inputs, labels, starts, ends = graph.ops, graph.inputs, graph.labels, graph.starts, graph.ends
    values, local = fev.values, fev.local
    op_text = {op: encode(op.name) for op in set(ops)}
    keys = [encode(name) + ": " for name in wrt]
    text = _num_text
    tangents = fev.tangents
    whole = fev.kept == range(len(graph))
    npass = len(wrt)
    for i in range(len(ops)):
        ins, label = inputs[i], labels[i]
        ids = ", ".join(f'"n{j}"' for j in ins)
        locs = ", ".join(map(text, local[i]))
        if whole:
            ts = [tangents[p][i] for p in range(npass + direction)]
        else:
            ts = [fev.tangent(p, i) for p in range(npass + direction)]
        tan = ", ".join(k + text(t) for k, t in zip(keys, ts))
        extra = f', "directional": {text(ts[npass])}' if direction else ""
        yield (f'{{"id": "n{i}", "op": {op_text[ops[i]]}, "label": {encode(label) if label else EMPTY}, '
               f'"inputs": [{ids}], "value": {text(values[i])}, "local": [{locs}], '
               f'"tangent": {{{tan}}}{extra}, "span": [{starts[i]}, {ends[i]}]}}')


def forward_grad_document(graph, fev, wrt: list[str], estimates: list[Estimate] | None,
                          skipped: str | None, with_nodes: bool = True,
                          direction: bool = False) -> dict:
    """The document of ``adiff grad --mode forward``: grad's keys plus ``"mode": "forward"``
    and ``tangent_passes``; ``fev`` (``calculus.forward.ForwardEvaluation``) has one pass per
    input of ``wrt``, in order, then (``direction``) the pass along --direction."""
    result = as_result(graph, fev)
    doc = {"expression": graph.source, "mode": "forward"}
    doc["at"] = result.at
    doc["value"] = num(fev.value)
    doc["gradient"] = {name: num(fev.derivative[p]) for p, name in enumerate(wrt)}
    doc["tangent_passes"] = len(fev.seeds)
    if with_nodes:
        doc["nodes"] = Stream((forward_node_entry(graph, fev, wrt, i, direction)
                               for i in range(len(graph))),
                              lambda: forward_node_texts(graph, fev, wrt, direction))
    doc["output"] = f"n{graph.output}"
    doc["kinks"] = kink_entries(graph, result)
    doc["check"] = check_entry(estimates, skipped)
    if direction:
        doc["directional"] = directional_entry(fev.seeds[len(wrt)], fev.derivative[len(wrt)],
                                               "forward")
    return doc
