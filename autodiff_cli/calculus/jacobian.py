"""The Jacobian of a program with several outputs: d output / d input for every pair.

One forward pass at the point (values and local gradients, ``engine.forward``), then
whichever costs fewer passes over the graph:

* reverse mode: one backward pass per output (``engine.backward`` from that output: the
  graph seen with it as its only output, ``Graph.with_output``), each giving a row;
* forward mode: one tangent pass per input (``forward.tangent_pass``, seeded with 1 on that
  input), each giving a column.

Both read the local gradients the forward pass computed from each op's row of the table
(``core/ops.py``); nothing here knows an op. An output listed twice costs one pass. Ties
go to reverse mode (its pass reads only the nodes below the output).
"""

from __future__ import annotations

from collections.abc import Sequence

from autodiff_cli.calculus import engine
from autodiff_cli.core.graph import Graph

MODES = ("reverse", "forward")


def passes(mode: str, outputs: int, inputs: int) -> int:
    """Passes over the graph mode ``mode`` needs for ``outputs`` distinct outputs and
    ``inputs`` inputs (after the one forward pass both make)."""
    return outputs if mode == "reverse" else inputs


def cheaper(outputs: int, inputs: int) -> str:
    """The mode with fewer passes: reverse for outputs <= inputs, else forward."""
    return "reverse" if outputs <= inputs else "forward"


class Jacobian:
    """The Jacobian at a point, and the forward pass it came from.

    ``rows[p][c]`` is d outputs[p] / d wrt[c]; ``value(p)`` the output's value; ``values``,
    ``local``, ``kinks`` as in ``engine.Evaluation`` (of the whole graph); ``mode`` and
    ``passes``: how the matrix was computed; ``grads``: with ``keep`` in reverse mode, each
    distinct output node -> the gradient of that output with respect to every node.
    """

    # read as a point's result by the documents (documents/shared.py): no data file
    kink_rows = varies = setup = None

    # A plain class: see engine.Evaluation (dataclasses cost start-up time).
    def __init__(self, graph: Graph, at: dict[str, float], wrt: list[str], values: list[float],
                 local: list, kinks: list[int], mode: str, passes: int,
                 rows: list[list[float]], grads: dict[int, list[float]] | None):
        self.graph, self.at, self.wrt = graph, at, wrt
        self.values, self.local, self.kinks = values, local, kinks
        self.mode, self.passes, self.rows, self.grads = mode, passes, rows, grads

    def __repr__(self) -> str:
        return (f"Jacobian(mode={self.mode!r}, outputs={list(self.graph.output_names)!r}, "
                f"wrt={self.wrt!r}, rows={self.rows!r})")

    def value(self, p: int) -> float:
        return self.values[self.graph.outputs[p]]

    def entry(self, p: int, name: str) -> float:
        return self.rows[p][self.wrt.index(name)]


def jacobian(graph: Graph, at: dict[str, float], wrt: Sequence[str] | None = None,
             mode: str | None = None, *, keep: bool = False) -> Jacobian:
    """jacobian(graph, at, wrt=None, mode=None, *, keep=False) -> Jacobian

    d output / d input for every output of ``graph`` and every input of ``wrt`` (default:
    every input, in order of first use), at the point ``at``. ``mode``: "reverse",
    "forward", or None for the one with fewer passes (``cheaper``). ``keep`` (reverse
    mode): keep each output's gradient with respect to every node (``adiff graph``).

    InputError for an unbound input; EvalError (exit 3) for a value outside an op's domain
    or a derivative that is not finite, naming the node where it arose.
    """
    names = list(graph.variables) if wrt is None else list(wrt)
    distinct = list(dict.fromkeys(graph.outputs))
    if mode is None:
        mode = cheaper(len(distinct), len(names))
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    values = engine.bind(graph, at)
    variables = graph.variables
    columns = [variables[name] for name in names]
    kept: dict[int, list[float]] | None = {} if keep and mode == "reverse" else None
    by_node: dict[int, list[float]] = {}
    with engine.no_gc():
        locals_, kinks = engine.forward(graph, values)
        if mode == "reverse":
            for k in distinct:
                grads = engine.backward(graph.with_output(k), values, locals_, names)
                by_node[k] = [grads[i] for i in columns]
                if kept is not None:
                    kept[k] = grads
        else:
            from autodiff_cli.calculus.forward import tangent_pass

            for k in distinct:
                by_node[k] = [0.0] * len(names)
            for c, name in enumerate(names):
                tangents = tangent_pass(graph, values, {name: 1.0}, locals_, outputs=distinct)
                for k in distinct:
                    by_node[k][c] = tangents[k]
    rows = [list(by_node[k]) for k in graph.outputs]
    return Jacobian(graph, dict(at), names, values, locals_, kinks, mode,
                    passes(mode, len(distinct), len(names)), rows, kept)


__all__ = ["MODES", "Jacobian", "cheaper", "jacobian", "passes"]
