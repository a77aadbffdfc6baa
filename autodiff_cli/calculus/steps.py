"""The backward pass, step by step: what ``trace`` narrates and the documents show.

The engine's backward pass visits the nodes from the output down and, for each
input edge, adds upstream × local to the input's gradient:
``grads[input] += grads[node] * local``. ``backward_steps`` yields those same
products, one ``Step`` per edge, in the engine's order, from the local and
output gradients an evaluation holds -- so a trace, a document or a sum over
data rows reads the steps here instead of multiplying again, and the
contributions a value receives add up to its gradient exactly as the engine
added them.

Only edges into values that depend on an input are steps (``requires``): a
constant needs no gradient. Works for floats and, in data mode, for NumPy
arrays (a node whose value differs row by row has per-row gradients).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple


class Step(NamedTuple):
    """One edge of the backward pass: ``contribution = upstream × local`` flows from
    ``node`` into its input number ``position``, node ``input``."""

    node: int
    position: int
    input: int
    upstream: float  # d output / d node
    local: float  # d node / d input
    contribution: float  # upstream × local: what the input receives from this node


def backward_steps(graph, local: Sequence, grads: Sequence,
                   requires: Sequence[bool] | None = None) -> Iterator[Step]:
    """The steps of the backward pass in the engine's order (from the output down, each
    node's inputs in order), from the local gradients ``local[i][k]`` and the output's
    gradients ``grads[i]`` of an evaluation.

    ``requires[i]`` (default ``graph.requires``): node i needs a gradient; edges into
    nodes that do not are left out, as are nodes that need none themselves.
    """
    if requires is None:
        requires = graph.requires
    inputs = graph.inputs
    for i in range(graph.output, -1, -1):
        ins = inputs[i]
        if not ins or not requires[i]:
            continue
        upstream = grads[i]
        loc = local[i]
        for k, j in enumerate(ins):
            if requires[j]:
                lg = loc[k]
                yield Step(i, k, j, upstream, lg, upstream * lg)


def steps(ev) -> Iterator[Step]:
    """The backward steps of an evaluation (``engine.Evaluation``: graph, local, grads)."""
    return backward_steps(ev.graph, ev.local, ev.grads)


__all__ = ["Step", "backward_steps", "steps"]
