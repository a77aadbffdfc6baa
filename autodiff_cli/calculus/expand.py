"""--expand: rewrite fused nodes (sigmoid, tanh, ...) into primitive ops.

The lecture's "simplifying the computation graph" in reverse: an op whose
row in the op table has an ``expand`` template (``sigmoid`` ->
``1/(1 + exp(-a))``) is one fused node by default; ``expand`` replaces each
such node by the template's nodes, with the template's inputs ``a``, ``b``
wired to the fused node's inputs. ``logsumexp`` takes any number of
arguments, so it is built directly as ``log(exp(a1) + exp(a2) + ...)``.

Templates are parsed once, on first use. The rewrite is one loop over the
nodes in creation order, so the result is again in topological order; new
nodes carry the fused node's span, and the template's output node inherits
the fused node's label (``p = sigmoid(z)`` keeps the name ``p``). Nodes no
longer used (a template may ignore an input) are pruned (``graph.pruned``).
"""

from __future__ import annotations

from autodiff_cli.core.graph import Graph, pruned
from autodiff_cli.core.ops import OPS, Op

#: Variadic ops expanded by a builder rather than a template.
_VARIADIC = ("logsumexp",)
_TEMPLATE_INPUTS = ("a", "b")

_templates: dict[str, Graph] = {}


def is_fused(op: Op) -> bool:
    """True for ops that ``expand`` rewrites into primitives."""
    return op.expand is not None or op.name in _VARIADIC


def fused_ops() -> list[Op]:
    return [op for op in OPS.values() if is_fused(op)]


def template(op: Op) -> Graph:
    """The parsed ``expand`` formula of ``op``, already free of fused nodes."""
    graph = _templates.get(op.name)
    if graph is None:
        from autodiff_cli.language.parser import parse

        graph = parse(op.expand)
        allowed = _TEMPLATE_INPUTS[:op.arity]
        extra = [name for name in graph.variables if name not in allowed]
        if extra:
            raise ValueError(f"the expand template of {op.name} uses {extra}; it may use "
                             f"only {', '.join(allowed)}")
        # A template may use another fused op; the op table is small and
        # finite, so this nesting is shallow (it is not a walk over a graph).
        if any(is_fused(o) for o in graph.ops):
            _templates[op.name] = graph  # guards against a template that uses itself
            graph = expand(graph)
        _templates[op.name] = graph
    return graph


class _Builder:
    """New graph columns, appended in topological order."""

    def __init__(self):
        self.ops: list[Op] = []
        self.inputs: list[tuple[int, ...]] = []
        self.labels: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.consts: dict[int, float] = {}

    def node(self, op: Op, inputs: tuple[int, ...], label: str, span: tuple[int, int]) -> int:
        k = len(self.ops)
        self.ops.append(op)
        self.inputs.append(inputs)
        self.labels.append(label)
        self.starts.append(span[0])
        self.ends.append(span[1])
        return k

    def const(self, value: float, label: str, span: tuple[int, int]) -> int:
        k = self.node(OPS["const"], (), label, span)
        self.consts[k] = value
        return k

    def splice(self, op: Op, args: tuple[int, ...], label: str, span) -> int:
        """Append the template of ``op`` applied to ``args``; the id of its output."""
        if op.name == "logsumexp":
            return self._logsumexp(args, label, span)
        t = template(op)
        where = [0] * len(t)
        for n in range(len(t)):
            top = t.ops[n]
            if top.name == "var":
                where[n] = args[_TEMPLATE_INPUTS.index(t.labels[n])]
            elif top.name == "const":
                where[n] = self.const(t.consts[n], t.labels[n], span)
            else:
                where[n] = self.node(top, tuple(where[j] for j in t.inputs[n]),
                                     label if n == t.output else "", span)
        return where[t.output]

    def _logsumexp(self, args, label, span) -> int:
        exp, add, log = OPS["exp"], OPS["add"], OPS["log"]
        total = None
        for a in args:
            e = self.node(exp, (a,), "", span)
            total = e if total is None else self.node(add, (total, e), "", span)
        return self.node(log, (total,), label, span)


def expand(graph: Graph) -> Graph:
    """A new graph with every fused node rewritten into primitives (``graph`` if none)."""
    if not any(is_fused(op) for op in graph.ops):
        return graph
    b = _Builder()
    new_id = [0] * len(graph)
    for i, op in enumerate(graph.ops):
        args = tuple(new_id[j] for j in graph.inputs[i])
        span = (graph.starts[i], graph.ends[i])
        if is_fused(op):
            new_id[i] = b.splice(op, args, graph.labels[i], span)
        elif op.name == "const":
            new_id[i] = b.const(graph.consts[i], graph.labels[i], span)
        else:
            new_id[i] = b.node(op, args, graph.labels[i], span)
    return pruned(graph.source, b.ops, b.inputs, b.labels, b.starts, b.ends, b.consts,
                  new_id[graph.output], **graph.outputs_in(new_id))


__all__ = ["expand", "is_fused", "fused_ops", "template"]
