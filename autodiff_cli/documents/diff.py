"""The document of ``adiff diff``: each derivative as a formula, the program that shares
their common parts, and, with ``--at``, their values beside reverse mode's.

The JSON shape is the contract's (``expression``, ``wrt``, ``order``, ``derivatives``,
``program``); a formula with several outputs adds ``outputs``, ``--explain`` adds
``derivation`` (the backward pass with formulas in place of numbers), and ``--at`` adds
``at``, ``value``, ``gradient`` (or ``jacobian``), each derivative's value (``values``)
and ``check``: those values beside reverse mode's.

``Code`` carries what the LaTeX, Python and C renderers write from: graphs, not text.
"""

from __future__ import annotations

from autodiff_cli.documents.base import num

#: Printed derivatives agree with reverse mode when |formula - reverse| <= RTOL·max(|..|) + ATOL.
#: Both are exact computations of the same derivative; only the rounding differs (in another
#: order of operations), so this is far above what they differ by and far below any bug.
RTOL = 1e-9
ATOL = 1e-12


def split_key(key: str) -> tuple[str | None, list[str]]:
    """(output, [variables]) of a derivative's key: ``"x"`` -> (None, ["x"]), ``"x,y"`` ->
    (None, ["x", "y"]), ``"r/x"`` -> ("r", ["x"]). Variable names never hold "/" or ","; an
    output's name may (``x/y``), so the output is everything before the last "/"."""
    output, slash, variables = key.rpartition("/")
    return (output if slash else None), variables.split(",")


class Code:
    """What ``--format latex|python|c`` write: the formula's graph and outputs, and the
    derivative graph (``calculus.derive``): its roots by key, each one's identifier, and the
    statements it shares (name, node id), in dependency order."""

    def __init__(self, graph, outputs: list[tuple[str, int]], derivative, keys: list[str]):
        self.graph = graph
        self.outputs = outputs  # (name, node id in graph), one per output
        self.inputs = list(graph.variables)
        self.keys = keys
        # value_roots: the outputs' nodes in the derivative graph (which holds the formula
        # too), so that code computes what the value and the derivatives share once
        if derivative is None:  # nothing to differentiate
            self.derivative, self.roots, self.names, self.statements = None, {}, {}, []
            self.value_roots = None
        else:
            self.derivative = derivative.graph
            self.roots = dict(derivative.roots)
            self.names = dict(derivative.names)
            self.statements = list(derivative.statements)
            roots = getattr(derivative, "value_roots", None)
            self.value_roots = list(roots.values()) if roots and len(roots) == len(outputs) \
                else None


class Point:
    """The numbers of ``--at``: the formula's value(s) and gradient (or Jacobian) by reverse
    mode, each printed derivative evaluated there, and the reverse-mode value it is checked
    against (``reference``; for order N >= 2, reverse mode over the printed order N - 1
    derivative, ``method`` says so)."""

    def __init__(self, at: dict, value, gradient: dict, values: dict, reference: dict,
                 method: str):
        self.at, self.value, self.gradient = at, value, gradient
        self.values, self.reference, self.method = values, reference, method


def agree(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL


def _rel_error(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def check_entry(point: Point) -> dict:
    values, reference = point.values, point.reference
    return {
        "method": point.method,
        "rule": "|formula - reverse| <= rtol*max(|formula|, |reverse|) + atol",
        "rtol": RTOL,
        "atol": ATOL,
        "reverse": {key: num(reference[key]) for key in values},
        "abs_error": {key: num(abs(values[key] - reference[key])) for key in values},
        "rel_error": {key: num(_rel_error(values[key], reference[key])) for key in values},
        "status": {key: "ok" if agree(values[key], reference[key]) else "mismatch"
                   for key in values},
        "ok": all(agree(values[key], reference[key]) for key in values),
    }


def derivation_entries(derivation, graph) -> list[dict]:
    """The backward pass with formulas (``calculus.derive``'s ``Derivation`` per output) as
    plain data, one entry per output: ``steps`` from the output down -- each node's
    ``formula``, its ``upstream`` derivative (for a value used several times, the
    ``contributions`` it sums, each ``from`` the node that sent it) and, per input ``edge``,
    the ``local`` derivative and the ``contribution`` = upstream × local -- then ``results``:
    each input's derivative, the sum of the contributions it receives. A single output is
    called ``f``, as in ∂f/∂x."""
    entries = []
    for der in derivation:
        received: dict[int, list[dict]] = {}
        for step in der.steps:
            for edge in step.edges:
                received.setdefault(edge.input, []).append(
                    {"from": f"n{step.node}", "value": edge.contribution})
        steps = []
        for step in der.steps:
            entry = {"node": f"n{step.node}", "op": step.op, "formula": step.text,
                     "upstream": step.upstream}
            got = received.get(step.node, [])
            if len(got) > 1:
                entry["contributions"] = got
            entry["edges"] = [{"to": f"n{e.input}", "formula": e.input_text, "local": e.local,
                               "contribution": e.contribution} for e in step.edges]
            steps.append(entry)
        results = []
        for result in der.results:
            node = graph.variables.get(result.variable)
            entry = {"input": result.variable, "node": None if node is None else f"n{node}",
                     "contributions": received.get(node, []), "derivative": result.formula}
            results.append(entry)
        output = der.output if graph.several else "f"
        entries.append({"output": output, "steps": steps, "results": results})
    return entries


def diff_document(graph, wrt: list[str], order: int, keys: list[str], derivatives: dict,
                  program: str, outputs: list[str] | None = None, derivation=None,
                  point: Point | None = None) -> dict:
    """The document of ``adiff diff``: ``derivatives`` maps each key to its standalone
    formula, ``program`` is the whole program; ``outputs`` (the names of several outputs),
    ``derivation`` (--explain) and ``point`` (--at) when given. A format that does not show
    one of the two texts gets it empty (None for each formula, "" for the program): writing
    a big derivative out costs as much as finding it."""
    doc: dict = {"expression": graph.source, "wrt": list(wrt), "order": order}
    if outputs is not None:
        doc["outputs"] = list(outputs)
    doc["derivatives"] = {key: derivatives[key] for key in keys}
    doc["program"] = program
    if derivation is not None:
        doc["derivation"] = derivation
    if point is not None:
        doc["at"] = dict(point.at)
        if outputs is None:
            doc["value"] = num(point.value)
            doc["gradient"] = {name: num(g) for name, g in point.gradient.items()}
        else:
            doc["value"] = {name: num(v) for name, v in point.value.items()}
            doc["jacobian"] = {out: {name: num(g) for name, g in row.items()}
                               for out, row in point.gradient.items()}
        doc["values"] = {key: num(point.values[key]) for key in keys}
        doc["check"] = check_entry(point)
    return doc


__all__ = ["ATOL", "RTOL", "Code", "Point", "agree", "check_entry", "derivation_entries",
           "diff_document", "split_key"]
