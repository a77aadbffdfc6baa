"""The computational graph: nodes are operations, edges are values.

Nodes are stored column-wise (one list per field) because formulas can have a
million nodes. Node ``i`` has id ``n{i}``; ids follow creation order, which is
a topological order (every input of a node has a smaller id), so every walk
over the graph is a plain loop -- nothing here recurses.

A graph has one output or several (``outputs``, node ids in the order the
program lists them, a node possibly more than once; ``output_names``, each
output's text as written: ``r``, ``theta``, ``x*y``). ``output`` is the first
output: the only one of a single-output graph, which is what every command but
``graph``, ``jacobian`` and ``diff`` needs (``cli/problem.py`` refuses several
outputs for them before anything reads ``output``).
"""

from __future__ import annotations

import re
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


def written(source: str, start: int, end: int) -> str:
    """``source[start:end]`` as an output's name: blanks and line continuations collapsed
    into single spaces (``x *  y`` -> ``x * y``), and stripped."""
    text = source[start:end]
    if any(c in text for c in _UNUSUAL_BLANKS) or "  " in text:
        text = _BLANKS.sub(" ", text)
    return text.strip()


_UNUSUAL_BLANKS = ("\\", "\t", "\n", "\r", "\f")
_BLANKS = re.compile(r"(?:[ \t\f\r]|\\[ \t]*\r?\n)+")


class Graph:
    __slots__ = ("source", "ops", "inputs", "labels", "starts", "ends", "consts",
                 "output", "outputs", "_names", "variables", "requires", "kink_nodes")

    def __init__(self, source: str, ops: list[Op], inputs: list[tuple[int, ...]],
                 labels: list[str], starts: Sequence[int], ends: Sequence[int],
                 consts: dict[int, float], output: int, outputs: Sequence[int] | None = None,
                 output_names: Sequence | None = None):
        """``outputs`` (default ``(output,)``) must start with ``output``; ``output_names``
        (default: each output's label, else its source text) holds one name per output,
        each a string or a ``(start, end)`` span of ``source`` (the text as written,
        read when asked for: a single output's name may be the whole formula)."""
        self.source = source
        self.ops = ops
        self.inputs = inputs
        self.labels = labels
        self.starts = starts
        self.ends = ends
        self.consts = consts  # node id -> value, for "const" nodes
        self.output = output
        self.outputs = (output,) if outputs is None else tuple(outputs)
        if self.outputs[0] != output:
            raise ValueError(f"the first output is n{self.outputs[0]}, not n{output}")
        if output_names is not None and len(output_names) != len(self.outputs):
            raise ValueError(f"{len(output_names)} names for {len(self.outputs)} outputs")
        self._names = None if output_names is None else tuple(output_names)
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

    @property
    def several(self) -> bool:
        """True when the graph has more than one output."""
        return len(self.outputs) > 1

    @property
    def output_names(self) -> tuple[str, ...]:
        """Each output's name: its text as written (``r``, ``theta``, ``x*y``), or the name
        ``--outputs`` gave; without names given, the output node's label or source text."""
        if self._names is None:
            return tuple(self.labels[k] or written(self.source, self.starts[k], self.ends[k])
                         or f"n{k}" for k in self.outputs)
        return tuple(n if isinstance(n, str) else written(self.source, n[0], n[1])
                     for n in self._names)

    def output_span(self, position: int) -> tuple[int, int] | None:
        """Where the output at ``position`` (0: the first) is written in the source, when its
        name is its text there (None for a name given by ``--outputs`` or an assignment)."""
        if self._names is None:
            return None
        name = self._names[position]
        return None if isinstance(name, str) else tuple(name)

    def outputs_in(self, new_id: Sequence[int]) -> dict:
        """This graph's outputs in a rewrite of it (``new_id[i]``: the id of node i there),
        as keyword arguments of ``pruned``, so a rewriter (``--expand``) keeps every output
        and its name: ``pruned(..., new_id[g.output], **g.outputs_in(new_id))``."""
        return {"outputs": [new_id[k] for k in self.outputs], "output_names": self._names}

    def with_output(self, k: int, name: str | None = None) -> Graph:
        """The same nodes (columns shared, nothing copied) with node ``k`` the only output.

        A cheap view for a pass from one output of several (``engine.backward`` starts
        at the output and reads only the nodes below it); nodes above ``k`` stay, so
        walks over every node (``engine.forward``) still see them. ``name``: the output's
        name (default: the first output at ``k``'s, else as for an unnamed output).
        """
        view = Graph.__new__(Graph)
        for slot in ("source", "ops", "inputs", "labels", "starts", "ends", "consts",
                     "variables", "requires", "kink_nodes"):
            setattr(view, slot, getattr(self, slot))
        view.output, view.outputs = k, (k,)
        if name is None and k in self.outputs and self._names is not None:
            name = self._names[self.outputs.index(k)]
        view._names = None if name is None else (name,)
        return view

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

    def pruned(self, output: int | None = None, keep: Sequence[int] | None = None, *,
               outputs: Sequence[int] | None = None) -> Graph:
        """The graph of the nodes its outputs depend on, renumbered in creation order; this
        graph itself when every node is kept.

        By default the outputs are the graph's own (all of them, with their names);
        ``output``: node ``output`` alone (named as it is here when it is one of the
        outputs); ``outputs``: those nodes, in that order (named likewise). ``keep``
        (default: the ancestors of the outputs) says which nodes stay when the caller has
        the marks already; it must hold the inputs of every node it holds, and the outputs.
        """
        if output is not None and outputs is not None:
            raise ValueError("give output or outputs, not both")
        if output is not None:
            outputs = (output,)
        if outputs is None:
            outputs, names = self.outputs, self._names
        else:
            outputs = tuple(outputs)
            names = None
            if self._names is not None:
                own = self._names
                names = tuple(own[self.outputs.index(k)] if k in self.outputs else
                              (self.labels[k] or (self.starts[k], self.ends[k]))
                              for k in outputs)
        return pruned(self.source, self.ops, self.inputs, self.labels, self.starts, self.ends,
                      self.consts, outputs[0], keep, self, outputs=outputs, output_names=names)


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
           keep: Sequence[int] | None = None, whole: Graph | None = None, *,
           outputs: Sequence[int] | None = None, output_names: Sequence | None = None) -> Graph:
    """The graph of the nodes its outputs depend on, from a graph's parts (a parser's or
    a rewriter's lists), renumbered in creation order; ``keep`` as for ``Graph.pruned``.

    ``outputs`` (default ``(output,)``; it starts with ``output``) and ``output_names``
    as for ``Graph``. When every node is kept the parts are used as they are (``whole``,
    the graph the parts are of, when given, is returned itself if its outputs are these).
    ``starts``/``ends`` keep their type (a list or an ``array``).
    """
    outputs = (output,) if outputs is None else tuple(outputs)
    names = None if output_names is None else tuple(output_names)
    if keep is None:
        keep = ancestors(inputs, outputs)
    if all(keep):
        if whole is not None and whole.outputs == outputs and whole._names == names:
            return whole
        return Graph(source, ops, inputs, labels, starts, ends, consts, output, outputs, names)
    new_id = [0] * len(ops)
    kept = [i for i in range(len(ops)) if keep[i]]
    for k, i in enumerate(kept):
        new_id[i] = k
    return _renumbered(source, ops, inputs, labels, starts, ends, consts, kept, new_id,
                       tuple(new_id[k] for k in outputs), names)


def _renumbered(source, ops, inputs, labels, starts, ends, consts, kept: list[int],
                new_id: list[int], outputs: tuple[int, ...], names) -> Graph:
    """The graph of the nodes ``kept`` (ids of the parts, in creation order), node
    ``kept[k]`` becoming node k and each input j becoming ``new_id[j]``; ``starts``/``ends``
    keep their type (a list or an ``array``)."""
    kept_ops, kept_inputs, kept_labels, kept_consts = [], [], [], {}
    kept_starts = array(starts.typecode) if isinstance(starts, array) else []
    kept_ends = array(ends.typecode) if isinstance(ends, array) else []
    for k, i in enumerate(kept):
        kept_ops.append(ops[i])
        kept_inputs.append(tuple(new_id[j] for j in inputs[i]))
        kept_labels.append(labels[i])
        kept_starts.append(starts[i])
        kept_ends.append(ends[i])
        if i in consts:
            kept_consts[k] = consts[i]
    return Graph(source, kept_ops, kept_inputs, kept_labels, kept_starts, kept_ends, kept_consts,
                 outputs[0], outputs, names)


def merged(graph: Graph) -> tuple[Graph, list[int]]:
    """The graph with equal subexpressions computed once, and ``new_id`` (node i of
    ``graph`` is node ``new_id[i]`` of the merged graph).

    Two nodes are equal when they apply the same op to the same (merged) inputs, or are
    the same variable, or constants of the same value (``sigmoid(z)`` written twice in a
    loss is one node). Every op is a pure function, so a merged node's value is the very
    float each copy had; its gradient is the sum of the copies', added up at the node
    instead of further down, which changes only the rounding. Each merged node keeps the
    first copy's label and span. One loop in id order (a topological order): nothing
    recurses. The graph itself (and ``new_id`` the identity) when nothing merges.
    """
    ops, inputs, labels, consts = graph.ops, graph.inputs, graph.labels, graph.consts
    n = len(ops)
    new_id = [0] * n
    seen: dict = {}
    keep = []
    for i in range(n):
        ins = tuple(new_id[j] for j in inputs[i])
        if ins:
            key = (ops[i].name, ins)
        elif i in consts:
            v = consts[i]
            key = ("const", v.hex() if isinstance(v, float) else repr(v))
        else:
            key = (ops[i].name, labels[i])
        k = seen.get(key)
        if k is None:
            k = seen[key] = len(keep)
            keep.append(i)
        new_id[i] = k
    if len(keep) == n:
        return graph, list(range(n))
    outputs = tuple(new_id[k] for k in graph.outputs)
    return _renumbered(graph.source, ops, inputs, labels, graph.starts, graph.ends, consts, keep,
                       new_id, outputs, graph._names), new_id
