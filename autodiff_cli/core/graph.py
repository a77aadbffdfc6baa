"""The computational graph: nodes are operations, edges are values.

Nodes are stored column-wise (one list per field) because formulas can have a
million nodes. Node ``i`` has id ``n{i}``; ids follow creation order, which is
a topological order (every input of a node has a smaller id), so every walk
over the graph is a plain loop -- nothing here recurses.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

from autodiff_cli.core.ops import OPS, Op

_VAR = OPS["var"]


class Node:
    """A read-only view of one node, for renderers and the Python API."""

    # A plain class with read-only properties, not a frozen dataclass: creating one costs
    # ~0.3 ms at import, and every command imports this module at start-up.
    __slots__ = ("_id", "_op", "_inputs", "_label", "_span")

    def __init__(self, id: int, op: Op, inputs: tuple[int, ...], label: str,
                 span: tuple[int, int]):
        self._id, self._op, self._inputs, self._label, self._span = id, op, inputs, label, span

    id = property(lambda self: self._id)
    op = property(lambda self: self._op)
    inputs = property(lambda self: self._inputs)
    label = property(lambda self: self._label)
    span = property(lambda self: self._span)

    @property
    def name(self) -> str:
        return f"n{self._id}"

    def _key(self):
        return (self._id, self._op, self._inputs, self._label, self._span)

    def __eq__(self, other):
        return type(other) is Node and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Node(id={self._id!r}, op={self._op.name!r}, inputs={self._inputs!r}, "
                f"label={self._label!r}, span={self._span!r})")


class Graph:
    __slots__ = ("source", "ops", "inputs", "labels", "starts", "ends", "consts",
                 "output", "variables", "requires", "kink_nodes")

    def __init__(self, source: str, ops: list[Op], inputs: list[tuple[int, ...]],
                 labels: list[str], starts: Sequence[int], ends: Sequence[int],
                 consts: dict[int, float], output: int):
        self.source = source
        self.ops = ops
        self.inputs = inputs
        self.labels = labels
        self.starts = starts
        self.ends = ends
        self.consts = consts  # node id -> value, for "const" nodes
        self.output = output
        # Input variables, name -> node id, in order of first appearance.
        self.variables: dict[str, int] = {
            labels[i]: i for i, op in enumerate(ops) if op is _VAR}
        # requires[i]: the output's gradient must flow through node i because
        # some input variable feeds it.
        requires = [False] * len(ops)
        for i in self.variables.values():
            requires[i] = True
        for i, ins in enumerate(inputs):
            for j in ins:
                if requires[j]:
                    requires[i] = True
                    break
        self.requires = requires
        # from the row, not the compiled op.kink: building a graph compiles nothing
        self.kink_nodes = [i for i, op in enumerate(ops) if op.kink_at is not None]

    def __len__(self) -> int:
        return len(self.ops)

    def node(self, i: int) -> Node:
        return Node(i, self.ops[i], self.inputs[i], self.labels[i], (self.starts[i], self.ends[i]))

    def __iter__(self):
        return (self.node(i) for i in range(len(self.ops)))

    def text(self, i: int) -> str:
        """The source text of node ``i``."""
        return self.source[self.starts[i]:self.ends[i]]

    def edge_count(self) -> int:
        return sum(len(ins) for ins in self.inputs)

    def ancestors(self, nodes: Iterable[int]) -> bytearray:
        """mark[i] is 1 when node i is one of ``nodes`` or feeds one of them (directly or not)."""
        return ancestors(self.inputs, nodes)

    def pruned(self, output: int | None = None, keep: Sequence[int] | None = None) -> Graph:
        """The graph of the nodes ``output`` (default: the graph's output) depends on,
        renumbered in creation order, with ``output`` as its output; this graph itself when
        every node is kept. ``keep`` (default ``self.ancestors([output])``) says which nodes
        stay when the caller has the marks already; it must hold the inputs of every node
        it holds, and ``output``."""
        return pruned(self.source, self.ops, self.inputs, self.labels, self.starts, self.ends,
                      self.consts, self.output if output is None else output, keep, self)


def ancestors(inputs: Sequence[tuple[int, ...]], nodes: Iterable[int]) -> bytearray:
    """mark[i] is 1 when node i is one of ``nodes`` or one of their inputs, directly or not.

    ``inputs`` is a graph's (or a builder's) input lists in creation order; one
    loop down from the highest node marked, so nothing recurses.
    """
    mark = bytearray(len(inputs))
    top = -1
    for k in nodes:
        mark[k] = 1
        top = max(top, k)
    for i in range(top, -1, -1):
        if mark[i]:
            for j in inputs[i]:
                mark[j] = 1
    return mark


def pruned(source: str, ops: list[Op], inputs: list[tuple[int, ...]], labels: list[str],
           starts: Sequence[int], ends: Sequence[int], consts: dict[int, float], output: int,
           keep: Sequence[int] | None = None, whole: Graph | None = None) -> Graph:
    """The graph of the nodes ``output`` depends on, from a graph's parts (a parser's or
    a rewriter's lists), renumbered in creation order; ``keep`` as for ``Graph.pruned``.

    When every node is kept the parts are used as they are (``whole``, the graph the
    parts are of, when given, is returned itself). ``starts``/``ends`` keep their type
    (a list or an ``array``).
    """
    if keep is None:
        keep = ancestors(inputs, [output])
    if all(keep):
        return whole if whole is not None and whole.output == output else \
            Graph(source, ops, inputs, labels, starts, ends, consts, output)
    n = len(ops)
    new_id = [0] * n
    kept_ops, kept_inputs, kept_labels, kept_consts = [], [], [], {}
    kept_starts = array(starts.typecode) if isinstance(starts, array) else []
    kept_ends = array(ends.typecode) if isinstance(ends, array) else []
    for i in range(n):
        if keep[i]:
            k = new_id[i] = len(kept_ops)
            kept_ops.append(ops[i])
            kept_inputs.append(tuple(new_id[j] for j in inputs[i]))
            kept_labels.append(labels[i])
            kept_starts.append(starts[i])
            kept_ends.append(ends[i])
            if i in consts:
                kept_consts[k] = consts[i]
    return Graph(source, kept_ops, kept_inputs, kept_labels, kept_starts, kept_ends, kept_consts,
                 new_id[output])
