"""The computational graph: nodes are operations, edges are values.

Nodes are stored column-wise (one list per field) because formulas can have a
million nodes. Node ``i`` has id ``n{i}``; ids follow creation order, which is
a topological order (every input of a node has a smaller id), so every walk
over the graph is a plain loop -- nothing here recurses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ops import OPS, Op

_VAR = OPS["var"]


@dataclass(frozen=True)
class Node:
    """A read-only view of one node, for renderers and the Python API."""

    id: int
    op: Op
    inputs: tuple[int, ...]
    label: str
    span: tuple[int, int]

    @property
    def name(self) -> str:
        return f"n{self.id}"


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
        self.kink_nodes = [i for i, op in enumerate(ops) if op.kink is not None]

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
