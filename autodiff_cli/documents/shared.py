"""What several documents show alike: a result, a node, its kinks, the data file.

A *result* is what the documents read of an evaluation, one point's or a pass
over a data file's rows; both have the same fields:

* ``at``: the bound values shown (a point: every input of the formula; data:
  the parameters), in the formula's order; ``value``; ``gradient``: name ->
  d output / d name (a point: every input; data: every parameter);
* per node: ``values``, ``local`` (local gradients), ``grads`` (d output / d node);
* ``kinks``: the nodes sitting on their kink; ``steps()``: the backward pass's
  steps (``calculus.steps.Step``) in the engine's order;
* data mode only (None for a point): ``varies`` (node i differs row by row: its
  value is the sum over the rows and its local gradients are per row), ``setup``
  (the formula and the data file: ``batch.Setup``), ``kink_rows`` (node -> [rows
  at the kink, the first such row]).

A point's evaluation (``engine.Evaluation``) is read through ``PointResult``; a
pass over data (``batch.Totals``) has these fields itself.
"""

from __future__ import annotations

from autodiff_cli.documents.base import num


class PointResult:
    """A point's evaluation (``engine.Evaluation``) read as a result (see the module)."""

    __slots__ = ("graph", "ev")
    varies = None
    setup = None
    kink_rows = None

    def __init__(self, graph, ev):
        self.graph, self.ev = graph, ev

    @property
    def at(self) -> dict[str, float]:
        at = self.ev.at
        return {name: at[name] for name in self.graph.variables}

    @property
    def value(self) -> float:
        return self.ev.value

    @property
    def gradient(self) -> dict[str, float]:
        grads = self.ev.grads
        return {name: grads[i] for name, i in self.graph.variables.items()}

    @property
    def values(self):
        return self.ev.values

    @property
    def local(self):
        return self.ev.local

    @property
    def grads(self):
        return self.ev.grads

    @property
    def kinks(self) -> list[int]:
        return self.ev.kinks

    def steps(self):
        from autodiff_cli.calculus.steps import backward_steps

        return backward_steps(self.graph, self.ev.local, self.ev.grads)


def as_result(graph, ev):
    """``ev`` as a result: None stays None, a pass over data is one already, and a
    point's evaluation is read through ``PointResult``."""
    if ev is None or isinstance(ev, PointResult) or getattr(ev, "setup", None) is not None:
        return ev
    return PointResult(graph, ev)


def node_entry(graph, result, i: int) -> dict:
    """Node ``i``: its op, label, inputs and, with a result, its value, local gradients and
    gradient (data mode: ``varies``, and no local gradients where they are per row)."""
    result = as_result(graph, result)
    entry = {
        "id": f"n{i}",
        "op": graph.ops[i].name,
        "label": graph.labels[i],
        "inputs": [f"n{j}" for j in graph.inputs[i]],
    }
    if result is not None:
        varies = result.varies
        per_row = False
        if varies is not None:
            per_row = entry["varies"] = varies[i]
        entry["value"] = num(result.values[i])
        entry["local"] = None if per_row and graph.inputs[i] else \
            [num(x) for x in (result.local[i] or ())]
        entry["grad"] = num(result.grads[i])
    entry["span"] = [graph.starts[i], graph.ends[i]]
    return entry


def kink_entries(graph, result) -> list[dict]:
    """The nodes sitting on their kink and the convention used there (data mode: in how
    many rows, and the first)."""
    ops = graph.ops
    rows = result.kink_rows
    if rows is None:
        return [{"node": f"n{i}", "op": ops[i].name, "convention": ops[i].convention}
                for i in result.kinks]
    return [{"node": f"n{i}", "op": ops[i].name, "convention": ops[i].convention, "rows": count,
             "first": first} for i, (count, first) in sorted(rows.items())]


def engine_entry(result) -> dict:
    """``"engine"`` and ``"partitions"`` of a pass that ran on Dask (``--engine dask``), else {}."""
    engine = getattr(result, "engine", None)
    return {} if engine is None else {"engine": engine, "partitions": result.partitions}


def data_entry(result) -> dict:
    """The data file of a pass over data: its name, rows, the columns used, delimiter, reduction."""
    setup = result.setup
    return {"file": setup.data.name, "rows": result.rows, "columns": list(setup.columns),
            "delimiter": setup.data.delimiter, "reduce": setup.reduce}


def example_entries(result):
    """Each row's own value and gradient (``--per-example``; trace lists them for small files)."""
    setup, ex = result.setup, result.examples
    for k in range(len(ex["value"])):
        yield {"row": int(ex["first"][k]) + 1, "line": int(ex["line"][k]),
               "data": {c: float(ex["data"][c][k]) for c in setup.columns},
               "value": num(float(ex["value"][k])),
               "gradient": {name: num(float(ex["gradient"][name][k])) for name in setup.wrt}}
