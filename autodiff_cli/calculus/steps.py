"""The backward pass, step by step: what ``trace`` narrates and the documents show
(and a tangent pass's steps, for ``trace --mode forward``).

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


class TangentStep(NamedTuple):
    """One edge of a tangent pass (forward mode): ``contribution = local × tangent`` flows
    into ``node`` from its input number ``position``, node ``input``; the node's tangent
    is the sum of its contributions."""

    node: int
    position: int
    input: int
    local: float  # d node / d input
    tangent: float  # the input's tangent, d input / d t
    contribution: float  # local × tangent


def fed(graph, seeded: Sequence[int]) -> bytearray:
    """fed[i] is 1 when one of the nodes ``seeded`` is node i or feeds it: the nodes a
    tangent pass seeding them computes (``calculus.forward.tangent_pass``); one loop up."""
    inputs = graph.inputs
    mark = bytearray(len(inputs))
    for i in seeded:
        mark[i] = 1
    for i, ins in enumerate(inputs):
        if ins and not mark[i]:
            for j in ins:
                if mark[j]:
                    mark[i] = 1
                    break
    return mark


def tangent_steps(graph, local: Sequence, tangents: Sequence[float],
                  seeded: Sequence[int]) -> Iterator[TangentStep]:
    """The steps of one tangent pass in its order (the nodes in creation order, each
    node's inputs in order), from the local gradients ``local[i][k]`` and the pass's
    ``tangents``: only edges from a node one of the ``seeded`` input nodes feeds -- the
    others carry tangent 0 and the pass skips them -- so a node's contributions add up to
    its tangent exactly as ``tangent_pass`` added them."""
    mark = fed(graph, seeded)
    inputs = graph.inputs
    for i, ins in enumerate(inputs):
        if not ins or not mark[i]:
            continue
        loc = local[i]
        for k, j in enumerate(ins):
            if mark[j]:
                lg, t = loc[k], tangents[j]
                yield TangentStep(i, k, j, lg, t, lg * t)


__all__ = ["Step", "TangentStep", "backward_steps", "fed", "steps", "tangent_steps"]
