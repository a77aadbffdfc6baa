"""The engine: the only place that knows the chain rule.

Two plain loops over the nodes in creation (= topological) order:

* ``forward``: each node's value, and its local gradient per input edge
  (d node / d input), stored as data so tables and traces read the same numbers;
* ``backward``: the gradient of the output for every node, in reverse order:
  ``grad[input] += grad[node] * local`` -- the ``+=`` is where the
  contributions of a value used several times are summed.
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager

from autodiff_cli import calculus  # noqa: F401 - registers the op table's rule compiler
from autodiff_cli.calculus.rules import PARAMS  # the names of an op's inputs: a, b, ...
from autodiff_cli.core.graph import Graph
from autodiff_cli.errors import EvalError, InputError, clip

_isfinite = math.isfinite
_ARITH_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


@contextmanager
def no_gc():
    """Cyclic GC off for a pass over a big graph.

    The passes allocate one tuple per node and free nothing, so every
    collection is wasted work, and a generation-2 collection traverses the
    whole graph. Nothing here makes reference cycles: memory is still freed
    by reference counting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def fmt(x: float) -> str:
    """A short number for messages: exact when that is short (1e-320), else 6 digits."""
    text = repr(x)
    if text.endswith(".0"):
        text = text[:-2]
    return text if len(text) <= 10 else f"{x:.6g}"


def describe(graph: Graph, i: int) -> str:
    """'n3 (log)' or "n3 'z' (add)" for messages."""
    op = graph.ops[i]
    label = graph.labels[i]
    if op.name in ("var", "const"):
        return f"n{i} {label!r}"
    return f"n{i} {label!r} ({op.name})" if label else f"n{i} ({op.name})"


def _args_text(graph: Graph, i: int, values) -> str:
    """'x = 0, n3 = 0.333' -- literals show just their value."""
    parts = []
    for j, v in zip(graph.inputs[i], values):
        op, label = graph.ops[j], graph.labels[j]
        if op.name == "const":
            parts.append(fmt(v))
            continue
        if not label:
            text = " ".join(graph.text(j).split())
            label = text if len(text) <= 30 else f"n{j}"
        parts.append(f"{label} = {fmt(v)}")
    return ", ".join(parts)


def _domain_error(graph: Graph, i: int, args, exc: BaseException | None, row: str = "") -> EvalError:
    """The error for node i at ``args``; ``row`` names the data row in data mode."""
    op = graph.ops[i]
    shown = _args_text(graph, i, args)
    in_row = f" ({row})" if row else ""
    where = f"node n{i}" + (f" {graph.labels[i]!r}" if graph.labels[i] else "")
    if exc is None or isinstance(exc, OverflowError):
        message = f"{op.name} overflows at {where}: the result for {shown}{in_row} is too large " \
                  "for a double-precision float"
    elif isinstance(exc, ZeroDivisionError) and op.name == "div":
        message = f"division by zero at {where}: the divisor {shown.split(', ')[-1]}{in_row}"
    else:
        needs = f": it needs {op.domain}" if op.domain else ""
        message = f"{op.name} is not defined at {shown}{in_row}{needs} (at {where})"
    error = EvalError(message, source=graph.source, span=(graph.starts[i], graph.ends[i]))
    error.node = i
    return error


def bind(graph: Graph, at: dict[str, float]) -> list[float]:
    """Initial values: constants and bound variables; InputError for unbound ones."""
    values = [0.0] * len(graph)
    for i, v in graph.consts.items():
        values[i] = v
    missing = []
    for name, i in graph.variables.items():
        v = at.get(name)
        if v is None:
            missing.append((name, i))
        else:
            values[i] = float(v)
    if missing:
        name, i = missing[0]
        from autodiff_cli.language.parser import lookalike_note, suggest

        others = [n for n in at if n not in graph.variables]
        near = suggest(name, others)
        names = ", ".join(clip(n) for n, _ in missing[:10])
        if len(missing) > 10:
            names += f" and {len(missing) - 10:,} more"
        # a look-alike (Cyrillic х for x) prints like the name it is not: say which it is
        hint = f"--at binds {clip(near)!r}: did you mean {clip(name)}?{lookalike_note(name, near)}" \
            if near else f"bind it with --at {clip(name)}=..."
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"no value for the variable{plural} {names}", source=graph.source,
                         span=(graph.starts[i], graph.ends[i]), hint=hint)
    return values


def _node(graph: Graph, i: int, args, local: bool):
    """One node's value and (if ``local``) local gradients from its input values."""
    op = graph.ops[i]
    try:
        v = op.value(*args)
    except _ARITH_ERRORS as exc:
        raise _domain_error(graph, i, args, exc) from None
    if not _isfinite(v):
        raise _domain_error(graph, i, args, None)
    if not local:
        return v, ()
    try:
        return v, op.local(*args, v)
    except _ARITH_ERRORS:
        return v, (math.nan,) * len(args)


def forward(graph: Graph, values: list[float], *, local: bool = True):
    """Fill ``values`` in place; return the local gradients (or None) and kink nodes.

    Raises EvalError at the first node whose value is outside its op's domain
    or not finite.
    """
    ops, inputs = graph.ops, graph.inputs
    locals_: list = [()] * len(ops) if local else None
    nan = math.nan
    for i, ins in enumerate(inputs):
        k = len(ins)
        if not k:
            continue
        op = ops[i]
        if k == 1:
            a = values[ins[0]]
            try:
                v = op.value(a)
            except _ARITH_ERRORS as exc:
                raise _domain_error(graph, i, (a,), exc) from None
            if not _isfinite(v):
                raise _domain_error(graph, i, (a,), None)
            values[i] = v
            if local:
                try:
                    locals_[i] = op.local(a, v)
                except _ARITH_ERRORS:
                    locals_[i] = (nan,)
        else:  # the unary case above is _node inlined, for speed
            values[i], loc = _node(graph, i, [values[j] for j in ins], local)
            if local:
                locals_[i] = loc
    kinks = [i for i in graph.kink_nodes
             if graph.ops[i].kink(*[values[j] for j in graph.inputs[i]])]
    return locals_, kinks


def backward(graph: Graph, values: list[float], locals_: list,
             wrt: list[str] | None = None) -> list[float]:
    """The gradient of the output with respect to every node.

    The gradients of the inputs named in ``wrt`` (default: all) must be finite;
    ``values`` is only read to name the culprit when one is not. The loop knows no
    number type: over dual numbers (values and local gradients carrying a tangent) it
    is the reverse sweep of forward-over-reverse second derivatives (``second.py``,
    which passes ``wrt=[]`` and judges the finiteness of both parts itself).
    """
    inputs = graph.inputs
    grads = [0.0] * len(inputs)
    grads[graph.output] = 1.0
    for i in range(graph.output, -1, -1):
        ins = inputs[i]
        if not ins:
            continue
        g = grads[i]
        loc = locals_[i]
        if len(ins) == 1:
            grads[ins[0]] += g * loc[0]
        else:
            for j, lg in zip(ins, loc):
                grads[j] += g * lg
    names = graph.variables if wrt is None else wrt
    if not all(_isfinite(grads[graph.variables[name]]) for name in names):
        raise _gradient_error(graph, values, locals_, grads, names)
    return grads


def _gradient_error(graph: Graph, values, locals_, grads, names) -> EvalError:
    """Name the node where a non-finite gradient arose.

    The highest node that needs a gradient and has a non-finite one received
    it from a consumer whose local gradient (or upstream × local) was not finite.
    """
    requires, inputs = graph.requires, graph.inputs
    bad = [name for name in names if not _isfinite(grads[graph.variables[name]])]
    hint = "not finite: " + ", ".join(f"df/d{name} = {fmt(grads[graph.variables[name]])}"
                                       for name in bad)
    # Only nodes that feed a requested input can be the culprit.
    feeds = [False] * len(grads)
    for name in bad:
        feeds[graph.variables[name]] = True
    for c, ins in enumerate(inputs):
        if any(feeds[j] for j in ins):
            feeds[c] = True
    k = max(i for i in range(len(grads))
            if requires[i] and feeds[i] and not _isfinite(grads[i]))
    for c in range(k + 1, len(inputs)):
        for pos, j in enumerate(inputs[c]):
            lg = locals_[c][pos]
            if j == k and not _isfinite(grads[c] * lg):
                op = graph.ops[c]
                shown = _args_text(graph, c, [values[x] for x in inputs[c]])
                if _isfinite(lg):
                    why = f"upstream gradient {fmt(grads[c])} × local gradient {fmt(lg)} overflows"
                else:
                    which = f" with respect to input {pos + 1}" if len(inputs[c]) > 1 else ""
                    why = f"the local gradient of {op.name}{which} is not finite at {shown}"
                return EvalError(f"the gradient is not finite at node {describe(graph, c)}: {why}",
                                 source=graph.source, span=(graph.starts[c], graph.ends[c]),
                                 hint=hint)
    return EvalError(f"the gradient of node {describe(graph, k)} is not finite",
                     source=graph.source, span=(graph.starts[k], graph.ends[k]), hint=hint)


# ---------------------------------------------------------------- data mode
# Over the rows of a data file (``--data``) a node's value is an array, one
# element per row, when a data column feeds it (``varies``), else one float for
# every row. The loss is the sum over rows, L = L1 + L2 + ..., so a value shared
# by every row receives the sum of its rows' contributions: that sum is taken
# where a per-row gradient flows into a shared value. NumPy comes in as ``np``.

def checked_nodes(graph: Graph) -> list[bool]:
    """The nodes whose values ``forward_array`` tests for inf and nan: each output, each
    node nothing reads, and each node that an op reads without carrying inf and nan
    through (``Op.carries``: exp(-inf) is 0). Every other node's inf or nan reaches one of
    these, so testing them finds every one (the message still names the first node)."""
    ops, inputs = graph.ops, graph.inputs
    checked = [False] * len(inputs)
    read = [False] * len(inputs)
    for ins, op in zip(inputs, ops):
        carries = op.carries
        for k, j in enumerate(ins):
            read[j] = True
            if not checked[j] and (k >= len(PARAMS) or PARAMS[k] not in carries):
                checked[j] = True
    for k in graph.outputs:
        checked[k] = True
    return [c or not r for c, r in zip(checked, read)]


def forward_array(graph: Graph, values: list, np, varies: list[bool], needs: list[bool],
                  row_text=None, local: bool = True, checked: list[bool] | None = None):
    """Data mode: fill ``values`` in place (arrays for varying nodes, floats for the
    others) and return the local gradients of the edges a gradient will use.

    A row outside an op's domain raises EvalError naming the node and, through
    ``row_text(r)`` (r: 0-based index into the arrays), the row. ``checked``
    (``checked_nodes``): test only these nodes' values for inf and nan (the error still
    names the first node that has one); None: every node's.
    """
    ops, inputs = graph.ops, graph.inputs
    locals_: list = [()] * len(ops)
    isfinite = np.isfinite
    with np.errstate(all="ignore"):
        for i, ins in enumerate(inputs):
            if not ins:
                continue
            op = ops[i]
            args = [values[j] for j in ins]
            wanted = local and any(needs[j] for j in ins)
            if not varies[i]:
                try:
                    values[i], loc = _node(graph, i, args, wanted)
                except EvalError:
                    if checked is None:
                        raise
                    _raise_first_nonfinite(graph, i, values, varies, np, row_text)
                    raise
                if wanted:
                    locals_[i] = loc
                continue
            v = op.array_value(np, *args)
            values[i] = v
            # A finite sum means every element is finite (the exact test only when it is not).
            if (checked is None or checked[i]) and not isfinite(v.sum()) \
                    and not isfinite(v).all():
                if checked is not None:
                    _raise_first_nonfinite(graph, i, values, varies, np, row_text)
                raise _array_domain_error(graph, i, values, np, row_text)
            if wanted:
                locals_[i] = op.array_local(np, *args, v)
    return locals_


def _raise_first_nonfinite(graph: Graph, i: int, values: list, varies: list[bool], np,
                           row_text) -> None:
    """Node ``i`` failed where only some nodes are tested: the error of the first varying
    node before it whose values hold inf or nan, if there is one (as a pass testing every
    node would have raised)."""
    inputs, isfinite = graph.inputs, np.isfinite
    for k in range(i):
        if varies[k] and inputs[k] and not isfinite(values[k]).all():
            raise _array_domain_error(graph, k, values, np, row_text)


def _array_domain_error(graph: Graph, i: int, values: list, np, row_text) -> EvalError:
    """The error of node ``i``, whose values are not all finite: at its first such row."""
    r = int(np.argmin(np.isfinite(values[i])))
    row = [float(a[r]) if isinstance(a, np.ndarray) else a for a in
           (values[j] for j in graph.inputs[i])]
    try:
        graph.ops[i].value(*row)
        exc = None
    except _ARITH_ERRORS as e:
        exc = e
    return _domain_error(graph, i, row, exc, row_text(r) if row_text else f"row {r + 1}")


def array_kinks(graph: Graph, values: list, np, varies: list[bool]) -> list[tuple[int, int, int]]:
    """(node, rows at the kink, first such row index) for each node sitting on its kink."""
    out = []
    with np.errstate(all="ignore"):
        for i in graph.kink_nodes:
            op = graph.ops[i]
            args = [values[j] for j in graph.inputs[i]]
            if varies[i]:
                hit = np.asarray(op.array_kink(np, *args))
                count = int(np.count_nonzero(hit))
                if count:
                    out.append((i, count, int(np.argmax(hit))))
            elif op.kink(*args):
                out.append((i, -1, 0))  # every row
    return out


def backward_array(graph: Graph, locals_: list, np, varies: list[bool], needs: list[bool],
                   rows: int, per_row: bool = False, total=None) -> list:
    """The gradient of L = sum over the rows of the output, for every node that ``needs`` one.

    A varying node's gradient is per row (an array, or a float meaning the same
    in every row); a shared node's is summed over the rows -- the lecture's
    dL/dθ = dL1/dθ + dL2/dθ + ... With ``per_row`` nothing is summed: every
    gradient is that of one row's output (an array or a float for every row).

    ``total(c)``, when given, is the sum over the rows of a per-row contribution ``c``
    for numbers other than floats and arrays (dual numbers with array parts: second
    derivatives, ``calculus/second.py``); by default an array is summed and a float,
    the same in every row, is multiplied by ``rows``.
    """
    inputs = graph.inputs
    grads: list = [0.0] * len(inputs)
    out = graph.output
    grads[out] = 1.0 if (varies[out] or per_row) else float(rows)
    ndarray = np.ndarray
    exact = (float, ndarray)  # x * 1.0 is x itself, to the bit, for these
    with np.errstate(all="ignore"):
        for i in range(out, -1, -1):
            ins = inputs[i]
            if not ins or not needs[i]:
                continue
            g = grads[i]
            summing = varies[i] and not per_row
            for j, lg in zip(ins, locals_[i]):
                if not needs[j]:
                    continue
                # An add's local gradient 1, or the output's upstream 1: no array product.
                if lg.__class__ is float and lg == 1.0 and g.__class__ in exact:
                    c = g
                elif g.__class__ is float and g == 1.0 and lg.__class__ in exact:
                    c = lg
                else:
                    c = g * lg
                if summing and not varies[j]:
                    # The summation step: per-row contributions into a shared value.
                    if total is not None:
                        grads[j] = grads[j] + total(c)
                    else:
                        grads[j] += float(c.sum()) if isinstance(c, ndarray) else c * rows
                else:
                    grads[j] = grads[j] + c
    return grads


class Evaluation:
    """Values, local gradients and output gradients of one evaluation."""

    # A plain class, not a dataclass: creating a dataclass costs ~0.3 ms at import, and
    # every command imports this module at start-up.
    def __init__(self, graph: Graph, at: dict[str, float], values: list[float], local: list,
                 grads: list[float], kinks: list[int] | None = None):
        self.graph, self.at, self.values, self.local, self.grads = graph, at, values, local, grads
        self.kinks = [] if kinks is None else kinks

    def __repr__(self) -> str:
        return (f"Evaluation(value={self.value!r}, at={self.at!r}, "
                f"{len(self.values):,} nodes, kinks={self.kinks!r})")

    @property
    def value(self) -> float:
        return self.values[self.graph.output]

    @property
    def gradient(self) -> dict[str, float]:
        """d output / d input for every input variable, by name."""
        return {name: self.grads[i] for name, i in self.graph.variables.items()}


def evaluate(graph: Graph, at: dict[str, float], wrt: list[str] | None = None) -> Evaluation:
    """Forward and backward pass at the point ``at`` (name -> value).

    Raises EvalError when a gradient asked for (``wrt``, default all inputs) is
    not finite; others may be inf/nan in the result.
    """
    values = bind(graph, at)
    with no_gc():
        locals_, kinks = forward(graph, values)
        grads = backward(graph, values, locals_, wrt)
    return Evaluation(graph, dict(at), values, locals_, grads, kinks)


def value_at(graph: Graph, at: dict[str, float]) -> float:
    """The output's value only (no local gradients): used by finite differences."""
    values = bind(graph, at)
    forward(graph, values, local=False)
    return values[graph.output]
