"""Forward mode: tangents flowing from the inputs to the output, one pass per direction.

A tangent pass seeds each input ``x`` with a tangent ``v_x`` (how fast it moves) and walks
the nodes in creation (= topological) order, like ``engine.forward``::

    tangent(node) = Σ local[k] × tangent(input k)

with the same local gradients ``∂node/∂input`` the engine's forward pass computes from each
op's row of the table (``core/ops.py``) -- no derivative is written here. The output's tangent
is the directional derivative Σ ∂f/∂xᵢ·vᵢ; seeding one input with 1 gives ∂f/∂x, so the
gradient over N inputs costs N tangent passes, where reverse mode needs one backward pass.

Why the locals and not dual numbers (the tangent backend, ``rules.tangent(op)``): both are
derived from the same rows, but a dual number allocates an object per node and calls the
value and the local rule through a generic wrapper. Measured on a 10,000-op formula
(benchmarks/README.md, "Forward mode"): a pass over dual numbers 6.7× a plain evaluation, this
loop over the locals ``engine.forward`` already holds 0.40×, and the same loop computing each
local itself from the node values 0.90× (the backward pass: 0.69×).

Only inputs seeded with a non-zero tangent are sources: a node none of them feeds has tangent
0 without any arithmetic (and without computing its local), and a node that one feeds sums
the contributions of the inputs that do. That is exactly the sum over paths from the seeded
inputs that reverse mode computes for their gradients, so the two agree also where a local
gradient is infinite: ``inf × 0`` is ``nan`` in both, and an input not seeded cannot spoil the
result (``sqrt(x) + y`` at x = 0 has a finite derivative along y).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from autodiff_cli.calculus import engine
from autodiff_cli.core.graph import Graph
from autodiff_cli.errors import EvalError, InputError, clip, escape_controls

_isfinite = math.isfinite
_ARITH_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def _seed_nodes(graph: Graph, seed: Mapping[str, float]) -> list[tuple[int, float]]:
    """(node, tangent) of every input seeded with a non-zero tangent; InputError for a name
    the formula does not have or a tangent that is not a finite number."""
    variables = graph.variables
    out = []
    for name, v in seed.items():
        i = variables.get(name)
        if i is None:
            from autodiff_cli.language.parser import did_you_mean

            shown = escape_controls(clip(name, 80))
            raise InputError(f"the direction names '{shown}', which is not an input of the formula",
                             hint=did_you_mean(name, variables) or
                             f"its inputs are: {', '.join(list(variables)[:20]) or 'none'}")
        v = float(v)
        if not _isfinite(v):
            raise InputError(f"the direction's component for {escape_controls(clip(name))} "
                             f"must be a finite number, not {v!r}")
        if v != 0.0:
            out.append((i, v))
    return out


def _pass_given_locals(inputs, locals_, tangents, active) -> None:
    """The tangent pass over the local gradients of ``engine.forward``: multiply and add."""
    for i, ins in enumerate(inputs):
        k = len(ins)
        if k == 1:
            j = ins[0]
            if active[j]:
                active[i] = 1
                tangents[i] = locals_[i][0] * tangents[j]
        elif k == 2:  # the binary case is the general one below unrolled, for speed
            a, b = ins
            if active[a]:
                active[i] = 1
                lo = locals_[i]
                tangents[i] = lo[0] * tangents[a] + lo[1] * tangents[b] if active[b] \
                    else lo[0] * tangents[a]
            elif active[b]:
                active[i] = 1
                tangents[i] = locals_[i][1] * tangents[b]
        elif k:
            _sum_into(i, ins, locals_[i], tangents, active)


def _pass_own_locals(inputs, ops, values, tangents, active) -> None:
    """The tangent pass computing each local gradient it needs from the node values, by the
    op's rule (``op.local``); a rule that raises an arithmetic error gives nan, as in
    ``engine.forward``."""
    nan = math.nan
    for i, ins in enumerate(inputs):
        k = len(ins)
        if k == 1:
            j = ins[0]
            if active[j]:
                active[i] = 1
                try:
                    tangents[i] = ops[i].local(values[j], values[i])[0] * tangents[j]
                except _ARITH_ERRORS:
                    tangents[i] = nan
        elif k == 2:  # unrolled: no list of arguments (a comprehension is a call in 3.11)
            a, b = ins
            if active[a]:
                active[i] = 1
                try:
                    la, lb = ops[i].local(values[a], values[b], values[i])
                except _ARITH_ERRORS:
                    la = lb = nan
                tangents[i] = la * tangents[a] + lb * tangents[b] if active[b] else la * tangents[a]
            elif active[b]:
                active[i] = 1
                try:
                    lb = ops[i].local(values[a], values[b], values[i])[1]
                except _ARITH_ERRORS:
                    lb = nan
                tangents[i] = lb * tangents[b]
        elif k:
            for j in ins:
                if active[j]:
                    break
            else:
                continue
            args = [values[j] for j in ins]
            try:
                lo = ops[i].local(*args, values[i])
            except _ARITH_ERRORS:
                lo = (nan,) * k
            _sum_into(i, ins, lo, tangents, active)


def _sum_into(i: int, ins, lo, tangents, active) -> None:
    """tangent(i) = Σ local × tangent(input) over the inputs a seeded input feeds (if any)."""
    s = 0.0
    hit = False
    for j, lg in zip(ins, lo):
        if active[j]:
            s += lg * tangents[j]
            hit = True
    if hit:
        active[i] = 1
        tangents[i] = s


def tangent_pass(graph: Graph, values: Sequence[float], seed: Mapping[str, float],
                 locals_: Sequence | None = None, *,
                 outputs: Sequence[int] | None = None) -> list[float]:
    """tangent_pass(graph, values, seed, locals_=None, *, outputs=None) -> list[float]

    The tangent of every node (d node / d t along the input direction ``seed``: input name
    -> tangent; inputs not named have tangent 0), in node order, from one loop over the nodes.

    ``values`` are the node values of ``engine.forward`` (filled in place by it). ``locals_``
    are its local gradients when the caller has them (``engine.forward(graph, values)``
    returns them; pass them when making several passes at one point: a pass then only
    multiplies and adds); without them each local a pass needs is computed from ``values``
    by the op's rule, once per node that a seeded input feeds.

    The tangents of ``outputs`` (node ids, default every output of the graph:
    ``graph.outputs``, for a program with several, else ``[graph.output]``) must be finite, else
    EvalError (exit 3) names the node where the tangent first stopped being finite and why
    (a local gradient that is not finite there, or a product that overflows). Other nodes
    may hold inf/nan. InputError for a name that is not an input of the formula.
    """
    inputs, ops = graph.inputs, graph.ops
    n = len(inputs)
    tangents = [0.0] * n
    active = bytearray(n)  # some seeded input feeds the node
    for i, v in _seed_nodes(graph, seed):
        tangents[i] = v
        active[i] = 1
    with engine.no_gc():
        if locals_ is None:
            _pass_own_locals(inputs, ops, values, tangents, active)
        else:
            _pass_given_locals(inputs, locals_, tangents, active)
    outs = (getattr(graph, "outputs", None) or (graph.output,)) if outputs is None else outputs
    for k in outs:
        if not _isfinite(tangents[k]):
            raise _tangent_error(graph, values, locals_, tangents, active, k, seed)
    return tangents


def seed_text(seed: Mapping[str, float]) -> str:
    """'x' for a one-hot seed of x, else 'x=1, y=0.5' (for messages)."""
    nonzero = [(name, v) for name, v in seed.items() if v != 0.0]
    if len(nonzero) == 1 and nonzero[0][1] == 1.0:
        return escape_controls(clip(nonzero[0][0]))
    return ", ".join(f"{escape_controls(clip(name))}={engine.fmt(float(v))}" for name, v in nonzero)


def _tangent_error(graph: Graph, values, locals_, tangents, active, k: int, seed) -> EvalError:
    """Name the node where the tangent of output node ``k`` stopped being finite: the
    first node (in creation order) feeding ``k`` whose tangent is not finite, though the
    tangents it received are."""
    along = seed_text(seed)
    of = "f" if k == graph.output else f"({engine.describe(graph, k)})"
    what = f"d{of}/d{along}" if "=" not in along else f"the derivative of {of} along ({along})"
    hint = f"not finite: {what} = {engine.fmt(tangents[k])}"
    feeds = graph.ancestors([k])
    inputs, ops = graph.inputs, graph.ops
    for c in range(k + 1):
        if not (feeds[c] and active[c] and inputs[c]) or _isfinite(tangents[c]):
            continue
        ins = inputs[c]
        args = [values[j] for j in ins]
        if locals_ is not None:
            lo = locals_[c]
        else:
            try:
                lo = ops[c].local(*args, values[c])
            except _ARITH_ERRORS:
                lo = (math.nan,) * len(ins)
        shown = engine._args_text(graph, c, args)
        why = None
        for pos, (j, lg) in enumerate(zip(ins, lo)):
            if active[j] and not _isfinite(lg):
                which = f" with respect to input {pos + 1}" if len(ins) > 1 else ""
                why = f"the local gradient of {ops[c].name}{which} is not finite at {shown}"
                break
        if why is None:
            parts = [f"{engine.fmt(lg)} × {engine.fmt(tangents[j])}"
                     for j, lg in zip(ins, lo) if active[j]]
            why = f"local gradient × tangent overflows ({' + '.join(parts)})"
        return EvalError(f"the tangent is not finite at node {engine.describe(graph, c)}: {why}",
                         source=graph.source, span=(graph.starts[c], graph.ends[c]), hint=hint)
    return EvalError(f"the tangent of node {engine.describe(graph, k)} is not finite",
                     source=graph.source, span=(graph.starts[k], graph.ends[k]), hint=hint)


class ForwardEvaluation:
    """A point's forward pass and its tangent passes.

    ``engine.Evaluation``'s fields (graph, at, values, local, kinks), and per tangent pass,
    in the order asked: ``seeds[p]`` (input -> tangent), ``derivative[p]`` (the output's
    tangent) and, when kept, ``tangents[p]``: the tangents of the nodes ``kept`` (node ids,
    a range for all of them), in that order; ``tangent(p, i)`` reads one.
    """

    # A plain class: see engine.Evaluation (dataclasses cost start-up time).
    def __init__(self, graph: Graph, at: dict[str, float], values: list[float], local: list,
                 kinks: list[int], seeds: list[dict[str, float]], derivative: list[float],
                 tangents: list | None = None, kept: Sequence[int] | None = None):
        self.graph, self.at, self.values, self.local, self.kinks = graph, at, values, local, kinks
        self.seeds, self.derivative, self.tangents = seeds, derivative, tangents
        self.kept = kept
        self._position = None

    def __repr__(self) -> str:
        return (f"ForwardEvaluation(value={self.value!r}, at={self.at!r}, "
                f"{len(self.seeds)} tangent passes)")

    @property
    def value(self) -> float:
        return self.values[self.graph.output]

    def tangent(self, p: int, i: int) -> float | None:
        """Node i's tangent in pass p, or None when it was not kept."""
        if self.tangents is None:
            return None
        kept = self.kept
        if isinstance(kept, range) and kept.start == 0 and kept.step == 1:
            return self.tangents[p][i] if i < kept.stop else None
        if self._position is None:
            self._position = {k: n for n, k in enumerate(kept)}
        n = self._position.get(i)
        return None if n is None else self.tangents[p][n]

    def for_check(self, names: Sequence[str]):
        """An ``engine.Evaluation`` for the finite-difference check of the gradient passes
        (the first ``len(names)`` passes, one-hot in ``names``): the input nodes carry the
        forward-mode derivatives, the check's judge; the other nodes d output / d node from
        one backward pass over the same local gradients, which only the check's estimate
        of rounding noise reads (forward mode has no such per-node quantity)."""
        grads = engine.backward(self.graph, self.values, self.local, list(names))
        variables = self.graph.variables
        for p, name in enumerate(names):
            grads[variables[name]] = self.derivative[p]
        return engine.Evaluation(self.graph, self.at, self.values, self.local, grads, self.kinks)


def forward_passes(graph: Graph, at: Mapping[str, float], seeds: Sequence[Mapping[str, float]],
                   *, keep: Sequence[int] | None = None) -> ForwardEvaluation:
    """forward_passes(graph, at, seeds, *, keep=None) -> ForwardEvaluation

    One forward pass at ``at`` (values and local gradients, ``engine.forward``), then one
    tangent pass per seed (input -> tangent), in order. ``keep``: the node ids whose tangents
    are kept for every pass (``range(len(graph))`` for all: tables and traces), as arrays of
    doubles; by default only the output's tangent is. EvalError (exit 3) names the node where
    a value leaves its op's domain or a tangent stops being finite."""
    from array import array

    values = engine.bind(graph, at)
    with engine.no_gc():
        locals_, kinks = engine.forward(graph, values)
    derivative: list[float] = []
    kept_tangents: list | None = [] if keep is not None else None
    all_nodes = isinstance(keep, range) and keep == range(len(graph))
    out_seeds = [dict(seed) for seed in seeds]
    for seed in out_seeds:
        t = tangent_pass(graph, values, seed, locals_)
        derivative.append(t[graph.output])
        if kept_tangents is not None:
            kept_tangents.append(array("d", t) if all_nodes else array("d", (t[i] for i in keep)))
    return ForwardEvaluation(graph, dict(at), values, locals_, kinks, out_seeds, derivative,
                             kept_tangents, keep)


def one_hot(wrt: Sequence[str]) -> list[dict[str, float]]:
    """The seeds of the gradient's passes: input x seeded with 1 (the others 0), per input."""
    return [{name: 1.0} for name in wrt]


def forward_gradient(graph: Graph, at: Mapping[str, float], wrt: Sequence[str] | None = None,
                     *, keep: Sequence[int] | None = None) -> ForwardEvaluation:
    """forward_gradient(graph, at, wrt=None, *, keep=None) -> ForwardEvaluation

    The gradient by forward mode: one tangent pass per input of ``wrt`` (default every
    input, in order of first use), each seeding that input with 1; ``.gradient(wrt)`` is
    {x: ∂f/∂x}. EvalError (exit 3) when a value is outside its op's domain or a derivative
    is not finite, naming the node."""
    names = list(graph.variables) if wrt is None else list(wrt)
    return forward_passes(graph, at, one_hot(names), keep=keep)


def gradient(fev: ForwardEvaluation, wrt: Sequence[str]) -> dict[str, float]:
    """{x: ∂f/∂x} from the first ``len(wrt)`` passes of ``fev`` (one-hot in ``wrt``)."""
    return {name: fev.derivative[p] for p, name in enumerate(wrt)}


def directional(graph: Graph, at: Mapping[str, float], direction: Mapping[str, float]) -> float:
    """Σ ∂f/∂xᵢ·vᵢ for the direction ``direction`` (input -> vᵢ; not named: 0) from one tangent
    pass, each local gradient computed on the way."""
    values = engine.bind(graph, at)
    with engine.no_gc():
        engine.forward(graph, values, local=False)
    return tangent_pass(graph, values, direction)[graph.output]


__all__ = ["ForwardEvaluation", "directional", "forward_gradient", "forward_passes", "gradient",
           "one_hot", "seed_text", "tangent_pass"]
