"""Second derivatives: the Hessian by forward-over-reverse, at a point and summed over data rows.

Forward-over-reverse: for each input x_j, one tangent pass of the whole reverse-mode
computation. The forward pass and every node's local gradients are evaluated over dual
numbers v + ε·dv/dx_j (the tangent backend: each op's value and local-derivative rule
from its row of the op table, lifted generically -- ``rules.compiled(op, "value",
"tangent")`` and ``compiled(op, "local", "tangent")``, no per-op code), then the engine's
own backward loop (``engine.backward``, the one chain rule) runs over those duals. The
tangent part of input x_i's gradient is then ∂/∂x_j (∂f/∂x_i) = H[i][j], exact to rounding:
no finite difference is taken anywhere. n inputs cost n such passes; a node whose value
does not depend on x_j keeps its float value and local gradients in pass j.

Why not reverse over the symbolic gradient graph: that graph is a few times the size of
the formula and has to be built (and pruned) first, then swept n times; the tangent pass
re-uses the formula's own graph and the float evaluation, and visits only the nodes that
depend on x_j. Both need n sweeps for the n columns.

**Symmetry.** Column j comes from pass j, so H[i][j] and H[j][i] are computed by
different passes; they agree to rounding for every formula whose second derivatives
exist. ``hessian`` compares the two triangles (``SYM_RTOL``), reports the
matrix once, symmetrised (the mean of the two), when they agree, and otherwise reports it
as computed with ``symmetric`` false (a rule whose second derivative is wrong would show
here first).

**Kinks.** The first derivative at a kink is the op's documented convention (d|x|/dx = 0
at 0, relu'(0) = 0, a max tie splits the gradient evenly): the real parts of the tangent
pass are the float evaluation's own numbers. The second derivative is the derivative of
that convention's rule along x_j: for the piecewise-linear ops (abs, relu, max, min, sign,
step) it is 0 on both sides of the kink and is reported as 0 at the kink too (a sharp
corner's curvature is not a number); hypot at (0, 0) also contributes 0. The evaluation's
``kinks`` say where that happens, and the commands warn.

**Data.** ``summed_hessian`` is the same over the rows of a chunk of a data file: duals
whose parts are NumPy arrays (``backends.ArrayDual``, lifted from ``op.array_value`` and
``op.array_local``), the engine's data-mode backward loop (``engine.backward_array``), and
the sums over the rows of the loss, its gradient and its Hessian with respect to the
parameters (for ``adiff fit --method newton``).
"""

from __future__ import annotations

import math

from autodiff_cli.calculus import engine
from autodiff_cli.calculus.backends import ArrayDual, Dual
from autodiff_cli.calculus.engine import describe, fmt
from autodiff_cli.calculus.rules import compiled
from autodiff_cli.errors import EvalError

_ARITH = (ValueError, ZeroDivisionError, OverflowError)
_NAN = math.nan
_isfinite = math.isfinite

#: The two triangles agree to rounding when the asymmetry -- the largest |H[i][j] - H[j][i]|
#: relative to max(|H[i][j]|, |H[j][i]|, SYM_FLOOR·max|H|), so that entries that are ~0 next
#: to the matrix's scale are measured against that scale -- is at most SYM_RTOL.
#: Measured on 5,000 random smooth formulas of depth 4 (tests/formulas.py) at random points:
#: at most 2.0e-12 (atan2(tan(logsumexp(0.5, y))*z, z), an entry cancelling from larger
#: terms), 3e-13 for all the others; SYM_RTOL leaves a wide margin above that and is still
#: far below what a wrong rule gives (O(1)).
SYM_RTOL = 1e-9
SYM_FLOOR = 1e-3

#: An eigenvalue counts as zero when |λ| <= EIGEN_RTOL·max|λ| (relative to the largest:
#: the Hessian's own rounding is relative to its scale, and so is eigvalsh's).
EIGEN_RTOL = 1e-10
#: The point is critical (a candidate minimum, maximum or saddle) when every
#: |∂f/∂x_i| <= CRITICAL_ATOL (the atol of the finite-difference checks).
CRITICAL_ATOL = 1e-8

_TANGENT: dict = {}


def _tangent_rules(op):
    """(value, local) of ``op`` over dual numbers, compiled once from its row."""
    pair = _TANGENT.get(op)
    if pair is None:
        pair = _TANGENT[op] = (compiled(op, "value", "tangent"), compiled(op, "local", "tangent"))
    return pair


def moved_by(graph, seed: int) -> bytearray:
    """moved[i] is 1 when node i's value depends on node ``seed`` (seed included)."""
    inputs = graph.inputs
    moved = bytearray(len(inputs))
    moved[seed] = 1
    for i in range(seed + 1, len(inputs)):
        for k in inputs[i]:
            if moved[k]:
                moved[i] = 1
                break
    return moved


def tangent_pass(graph, values: list[float], local: list, seed: int):
    """The forward pass over dual numbers seeded along node ``seed`` (an input): values and
    local gradients v + ε·dv/d(seed). ``values``/``local`` are a float evaluation's
    (``engine.evaluate``); a node that does not depend on the seed keeps its floats.

    A local gradient (or a value's tangent) that raises an arithmetic error becomes a dual
    with a NaN tangent, as the engine turns such a local gradient into NaN: it matters only
    if a second derivative asked for flows through it, and is then reported by name.
    """
    ops, inputs = graph.ops, graph.inputs
    vals = list(values)
    loc = list(local)
    vals[seed] = Dual(values[seed], 1.0)
    moved = moved_by(graph, seed)
    for i in range(seed + 1, len(ops)):
        if not moved[i]:
            continue
        value_of, local_of = _tangent_rules(ops[i])
        args = [vals[k] for k in inputs[i]]
        try:
            v = value_of(*args)
        except _ARITH:
            v = Dual(values[i], _NAN)
        vals[i] = v
        try:
            loc[i] = local_of(*args, v)
        except _ARITH:
            loc[i] = tuple(Dual(x, _NAN) for x in local[i])
    return vals, loc


def _tangent(x) -> float:
    return x.du if isinstance(x, Dual) else 0.0


def _finite_dual(x) -> bool:
    if isinstance(x, Dual):
        return _isfinite(x.re) and _isfinite(x.du)
    return _isfinite(x)


class Second:
    """The second derivatives of a formula at a point.

    ``names``: the inputs, in --wrt order; ``value``, ``gradient`` (name -> ∂f/∂name) from
    the float evaluation ``ev``; ``matrix[i][j]`` = ∂²f/∂x_i∂x_j as reported (symmetrised
    when the triangles agree); ``raw`` as the passes computed it (column j from pass j);
    ``asymmetry``: the largest relative difference between raw[i][j] and raw[j][i] (see
    ``SYM_RTOL``; 0 for one input); ``symmetric``: whether the triangles agree to rounding
    (asymmetry <= ``SYM_RTOL``); ``worst_pair``: (i, j) of the largest difference;
    ``kinks``: the nodes sitting on their kink.
    """

    def __init__(self, graph, ev, names: list[str], matrix: list[list[float]],
                 raw: list[list[float]], asymmetry: float, symmetric: bool, worst_pair=None):
        self.graph, self.ev, self.names = graph, ev, names
        self.matrix, self.raw = matrix, raw
        self.asymmetry, self.symmetric, self.worst_pair = asymmetry, symmetric, worst_pair

    @property
    def value(self) -> float:
        return self.ev.value

    @property
    def at(self) -> dict[str, float]:
        return self.ev.at

    @property
    def gradient(self) -> dict[str, float]:
        grads, variables = self.ev.grads, self.graph.variables
        return {name: grads[variables[name]] for name in self.names}

    @property
    def kinks(self) -> list[int]:
        return self.ev.kinks

    def entry(self, row: str, column: str) -> float:
        """∂²f/∂row∂column as reported."""
        return self.matrix[self.names.index(row)][self.names.index(column)]

    def as_dict(self) -> dict[str, dict[str, float]]:
        """{row: {column: ∂²f/∂row∂column}} in ``names`` order."""
        return {a: dict(zip(self.names, row)) for a, row in zip(self.names, self.matrix)}


def hessian(graph, at: dict[str, float], wrt: list[str] | None = None, *, ev=None,
            progress=None) -> Second:
    """The Hessian of the graph's output at ``at`` with respect to ``wrt`` (default: every
    input, in order of first use), by forward-over-reverse: one tangent pass per input.

    ``ev``: the point's float evaluation when the caller has it (``engine.evaluate``);
    otherwise it is made here, which raises EvalError for a value outside an op's domain or
    a non-finite gradient. A second derivative that is not finite is an EvalError naming
    the node where it arose. ``progress()`` is called after each pass.
    """
    names = list(graph.variables) if wrt is None else list(wrt)
    if ev is None:
        ev = engine.evaluate(graph, at, names)
    variables = graph.variables
    rows = [variables[name] for name in names]
    n = len(names)
    raw = [[0.0] * n for _ in range(n)]
    with engine.no_gc():
        for j, name in enumerate(names):
            vals, loc = tangent_pass(graph, ev.values, ev.local, variables[name])
            grads = engine.backward(graph, vals, loc, [])
            for i, k in enumerate(rows):
                h = _tangent(grads[k])
                if not _isfinite(h):
                    raise _second_error(graph, vals, loc, grads, names[i], name)
                raw[i][j] = h
            if progress:
                progress()
    matrix, asymmetry, symmetric, worst = symmetrised(raw)
    return Second(graph, ev, names, matrix, raw, asymmetry, symmetric, worst)


def symmetrised(raw: list[list[float]]):
    """(matrix, asymmetry, symmetric, worst pair): the mean of the two triangles when they
    agree to rounding (asymmetry <= ``SYM_RTOL``), else ``raw`` itself; the asymmetry (see
    ``SYM_RTOL``) and the (i, j) where it is largest."""
    n = len(raw)
    floor = SYM_FLOOR * max((abs(x) for row in raw for x in row), default=0.0)
    asymmetry, worst = 0.0, None
    for i in range(n):
        for j in range(i + 1, n):
            a, b = raw[i][j], raw[j][i]
            d = abs(a - b)
            if d:
                rel = d / max(abs(a), abs(b), floor)
                if rel > asymmetry:
                    asymmetry, worst = rel, (i, j)
    if asymmetry > SYM_RTOL:
        return [list(row) for row in raw], asymmetry, False, worst
    matrix = [list(row) for row in raw]
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i][j] = matrix[j][i] = 0.5 * (raw[i][j] + raw[j][i])
    return matrix, asymmetry, True, worst


def _second_error(graph, vals, loc, grads, row: str, column: str) -> EvalError:
    """Name the node where the non-finite ∂²f/∂row∂column arose (pass along ``column``).

    A value whose tangent is not finite is the origin when there is one (the first in
    creation order): its local derivative is not finite there. Otherwise, as for the
    gradient (``engine._gradient_error``): the highest node whose tangent gradient is not
    finite received it from a consumer whose local gradient's tangent (or upstream × local)
    is not finite.
    """
    what = f"the second derivative d²f/d{row}d{column} is not finite"
    hint = "the gradient is finite here, but it changes without bound along " + column
    inputs = graph.inputs
    for i, v in enumerate(vals):
        if isinstance(v, Dual) and not _isfinite(v.du):
            shown = engine._args_text(graph, i, [_real(vals[k]) for k in inputs[i]])
            return EvalError(f"{what}: the derivative of node {describe(graph, i)} along "
                             f"{column} is not finite at {shown}", source=graph.source,
                             span=(graph.starts[i], graph.ends[i]), hint=hint)
    feeds = bytearray(len(inputs))
    feeds[graph.variables[row]] = 1
    for c, ins in enumerate(inputs):
        for k in ins:
            if feeds[k]:
                feeds[c] = 1
                break
    bad = [i for i in range(len(inputs)) if feeds[i] and not _finite_dual(grads[i])]
    k = max(bad) if bad else graph.variables[row]
    for c in range(k + 1, len(inputs)):
        for pos, j in enumerate(inputs[c]):
            if j != k:
                continue
            lg = loc[c][pos]
            if _finite_dual(grads[c] * lg):
                continue
            shown = engine._args_text(graph, c, [_real(vals[x]) for x in inputs[c]])
            which = f" with respect to input {pos + 1}" if len(inputs[c]) > 1 else ""
            if _finite_dual(lg):
                why = f"upstream × local gradient overflows along {column}"
            else:
                why = f"the derivative along {column} of its local gradient{which} is not " \
                      f"finite at {shown}"
            return EvalError(f"{what} at node {describe(graph, c)}: {why}", source=graph.source,
                             span=(graph.starts[c], graph.ends[c]), hint=hint)
    return EvalError(f"{what} at node {describe(graph, k)}", source=graph.source,
                     span=(graph.starts[k], graph.ends[k]), hint=hint)


def _real(x):
    return x.re if isinstance(x, Dual) else x


# ---------------------------------------------------------------- definiteness

class Curvature:
    """What the Hessian says about the point: eigenvalues (ascending), the matrix's
    definiteness, whether the point is critical, and so what it is.

    ``definiteness``: "positive definite", "negative definite", "indefinite", "positive
    semi-definite", "negative semi-definite" or "zero"; ``point``: "minimum", "maximum",
    "saddle" or "degenerate" at a critical point (every |∂f/∂x| <= ``CRITICAL_ATOL``), and
    "not critical" elsewhere (the second-derivative test is about critical points);
    ``zero``: the threshold under which |λ| counts as zero (``EIGEN_RTOL``·max|λ|).
    """

    RULE = (f"an eigenvalue counts as zero when |λ| ≤ {EIGEN_RTOL:g}·max|λ|; the point is "
            f"critical when every |∂f/∂x| ≤ {CRITICAL_ATOL:g}")

    def __init__(self, eigenvalues: list[float], definiteness: str, point: str, critical: bool,
                 zero: float, text: str):
        self.eigenvalues, self.definiteness, self.point = eigenvalues, definiteness, point
        self.critical, self.zero, self.text = critical, zero, text

    def __repr__(self) -> str:
        return (f"Curvature({self.point!r}, {self.definiteness!r}, "
                f"eigenvalues={self.eigenvalues!r})")


def curvature(matrix: list[list[float]], gradient: list[float]) -> Curvature | None:
    """Eigenvalues (NumPy's ``eigvalsh`` of the symmetric part) and the second-derivative
    test; None for a 0 × 0 matrix (a formula without inputs)."""
    n = len(matrix)
    if not n:
        return None
    import numpy as np

    h = np.array(matrix, dtype=np.float64)
    eigenvalues = [float(x) for x in np.linalg.eigvalsh(0.5 * (h + h.T))]
    biggest = max(abs(x) for x in eigenvalues)
    zero = EIGEN_RTOL * biggest
    pos = sum(1 for x in eigenvalues if x > zero)
    neg = sum(1 for x in eigenvalues if x < -zero)
    flat = n - pos - neg
    if pos == n:
        kind = "positive definite"
    elif neg == n:
        kind = "negative definite"
    elif pos and neg:
        kind = "indefinite"
    elif pos:
        kind = "positive semi-definite"
    elif neg:
        kind = "negative semi-definite"
    else:
        kind = "zero"
    critical = all(abs(g) <= CRITICAL_ATOL for g in gradient)
    zeros = f"{flat} of the {n} eigenvalues {'is' if flat == 1 else 'are'} zero"
    if not critical:
        steepest = max(abs(g) for g in gradient)
        point = "not critical"
        directions = f"{flat} direction{'s' if flat != 1 else ''}"
        shape = {"positive definite": "curved upwards in every direction (convex here)",
                 "negative definite": "curved downwards in every direction (concave here)",
                 "indefinite": "curved upwards along some directions and downwards along others "
                               "(saddle-shaped)",
                 "zero": "flat to second order"}.get(
            kind, f"{zeros}, so it is flat to second order along {directions}")
        text = f"not a critical point (the gradient is not zero: max |∂f/∂x| = " \
               f"{fmt(steepest)}); the Hessian is {kind}: {shape}"
    elif kind == "positive definite":
        point, text = "minimum", "a local minimum: the gradient is zero and every eigenvalue " \
                                 "is positive"
    elif kind == "negative definite":
        point, text = "maximum", "a local maximum: the gradient is zero and every eigenvalue " \
                                 "is negative"
    elif kind == "indefinite":
        point, text = "saddle", "a saddle point: the gradient is zero and the eigenvalues " \
                                "have both signs"
    else:
        point = "degenerate"
        text = f"degenerate: the gradient is zero and the Hessian is {kind} ({zeros}), so " \
               "the second-derivative test cannot decide; higher-order terms do"
    return Curvature(eigenvalues, kind, point, critical, zero, text)


# ---------------------------------------------------------------- data: summed over rows

class SummedHessian:
    """The loss summed over the rows of a chunk, with its gradient and Hessian.

    ``rows``; ``names``: the parameters, in order; ``value`` = Σ_rows f; ``gradient[i]`` =
    Σ_rows ∂f/∂θ_i; ``hessian[i][j]`` = Σ_rows ∂²f/∂θ_i∂θ_j (symmetrised as ``hessian``
    does; ``symmetric``/``asymmetry`` as there); ``kinks``: node -> rows of the chunk where
    it sits on its kink. Chunks add up with ``+``; ``scaled(1/rows)`` gives the mean.
    """

    def __init__(self, names: list[str], rows: int, value: float, gradient: list[float],
                 hessian: list[list[float]], kinks: dict | None = None,
                 symmetric: bool = True, asymmetry: float = 0.0):
        self.names, self.rows, self.value = names, rows, value
        self.gradient, self.hessian = gradient, hessian
        self.kinks = {} if kinks is None else kinks
        self.symmetric, self.asymmetry = symmetric, asymmetry

    def __add__(self, other: SummedHessian) -> SummedHessian:
        if other.names != self.names:
            raise ValueError("summed Hessians of different parameters")
        kinks = dict(self.kinks)
        for i, count in other.kinks.items():
            kinks[i] = kinks.get(i, 0) + count
        n = len(self.names)
        return SummedHessian(
            self.names, self.rows + other.rows, self.value + other.value,
            [a + b for a, b in zip(self.gradient, other.gradient)],
            [[self.hessian[i][j] + other.hessian[i][j] for j in range(n)] for i in range(n)],
            kinks, self.symmetric and other.symmetric, max(self.asymmetry, other.asymmetry))

    def scaled(self, factor: float) -> SummedHessian:
        """Value, gradient and Hessian times ``factor`` (1/rows: the mean over the rows)."""
        return SummedHessian(self.names, self.rows, self.value * factor,
                             [g * factor for g in self.gradient],
                             [[h * factor for h in row] for row in self.hessian], dict(self.kinks),
                             self.symmetric, self.asymmetry)

    def gradient_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.gradient))

    def hessian_dict(self) -> dict[str, dict[str, float]]:
        return {a: dict(zip(self.names, row)) for a, row in zip(self.names, self.hessian)}

    def __repr__(self) -> str:
        return (f"SummedHessian(rows={self.rows}, value={self.value!r}, "
                f"gradient={self.gradient!r}, hessian={self.hessian!r})")


def _array_tangent_rules(op):
    key = ("array", op)
    pair = _TANGENT.get(key)
    if pair is None:
        pair = _TANGENT[key] = (compiled(op, "value", "tangent_array"),
                                compiled(op, "local", "tangent_array"))
    return pair


def summed_hessian(graph, columns: dict, at: dict[str, float], wrt: list[str] | None = None,
                   *, row_text=None) -> SummedHessian:
    """The loss summed over the rows of one chunk of a data file, with its gradient and
    Hessian with respect to the parameters, by forward-over-reverse over array duals.

    - ``graph``: the formula (``Problem.graph``; its output is one row's loss);
    - ``columns``: {variable name: 1-D float64 NumPy array}, one element per row, every
      array of the same length (a chunk's ``columns`` for the setup's columns);
    - ``at``: {parameter: float} for every other variable of the formula;
    - ``wrt``: the parameters to differentiate by (default: every variable not in
      ``columns``, in order of first use);
    - ``row_text(r)``: names row r of the chunk in error messages (``Setup.row_text``).

    Returns a ``SummedHessian`` of sums, not means (divide by the rows for the mean:
    ``scaled``); the chunks of a file add up with ``+``. Raises EvalError, naming the node
    and the row, for a value outside an op's domain (as ``adiff grad --data`` does), and for
    a gradient or second derivative that is not finite.
    """
    import numpy as np

    variables = graph.variables
    params = [name for name in variables if name not in columns]
    names = list(params) if wrt is None else list(wrt)
    rows = None
    for col in columns.values():
        if rows is None:
            rows = len(col)
        elif len(col) != rows:
            raise ValueError("the columns of a chunk must have the same length")
    rows = rows or 0
    ops, inputs = graph.ops, graph.inputs
    n_nodes = len(ops)
    varies, needs = [False] * n_nodes, [False] * n_nodes
    for i, ins in enumerate(inputs):
        if ins:
            varies[i] = any(varies[k] for k in ins)
            needs[i] = any(needs[k] for k in ins)
        elif ops[i].name == "var":
            varies[i] = graph.labels[i] in columns
            needs[i] = not varies[i]
    values: list = [0.0] * n_nodes
    for i, v in graph.consts.items():
        values[i] = v
    for name in params:
        values[variables[name]] = float(at[name])
    for name, col in columns.items():
        if name in variables:
            values[variables[name]] = np.asarray(col, dtype=np.float64)
    # The float pass: domain errors named by node and row, the value and the gradient.
    local = engine.forward_array(graph, values, np, varies, needs, row_text)
    kinks = {i: (rows if count < 0 else count)
             for i, count, _ in engine.array_kinks(graph, values, np, varies)}
    grads = engine.backward_array(graph, local, np, varies, needs, rows)
    out = graph.output
    y = values[out]
    value = float(y.sum()) if varies[out] else y * rows
    gradient = [grads[variables[name]] for name in names]
    for name, g in zip(names, gradient):
        if not _isfinite(g):
            raise EvalError(f"the gradient summed over the rows is not finite for {name}",
                            source=graph.source, span=(graph.starts[out], graph.ends[out]))

    def total(c):
        """Σ over the rows of a per-row contribution (a dual with array parts)."""
        if isinstance(c, Dual):
            return ArrayDual(_row_sum(c.re, rows), _row_sum(c.du, rows))
        return _row_sum(c, rows)

    n = len(names)
    raw = [[0.0] * n for _ in range(n)]
    with np.errstate(all="ignore"), engine.no_gc():
        for j, name in enumerate(names):
            seed = variables[name]
            vals = list(values)
            loc = list(local)
            vals[seed] = ArrayDual(values[seed], 1.0)
            moved = moved_by(graph, seed)
            for i in range(seed + 1, n_nodes):
                if not moved[i]:
                    continue
                value_of, local_of = _array_tangent_rules(ops[i])
                args = [vals[k] for k in inputs[i]]
                try:
                    v = value_of(*args)
                except _ARITH:
                    v = ArrayDual(values[i], _NAN)
                vals[i] = v
                try:
                    loc[i] = local_of(*args, v)
                except _ARITH:
                    loc[i] = tuple(ArrayDual(x, _NAN) for x in local[i])
            dgrads = engine.backward_array(graph, loc, np, varies, needs, rows, total=total)
            for i, other in enumerate(names):
                h = _tangent(dgrads[variables[other]])
                h = float(h.sum()) if isinstance(h, np.ndarray) else float(h)
                if not _isfinite(h):
                    raise EvalError(f"the second derivative d²L/d{other}d{name} summed over the "
                                    "rows is not finite", source=graph.source,
                                    span=(graph.starts[out], graph.ends[out]),
                                    hint="the gradient is finite, but it changes without bound "
                                         f"along {name} in some row")
                raw[i][j] = h
    matrix, asymmetry, symmetric, _ = symmetrised(raw)
    return SummedHessian(names, rows, float(value), [float(g) for g in gradient], matrix, kinks,
                         symmetric, asymmetry)


def _row_sum(x, rows: int) -> float:
    """Σ over the rows of a per-row quantity: an array summed, a float (the same in every
    row) times ``rows``."""
    if hasattr(x, "sum") and getattr(x, "ndim", 0):
        return float(x.sum())
    return float(x) * rows


__all__ = ["CRITICAL_ATOL", "Curvature", "EIGEN_RTOL", "SYM_FLOOR", "SYM_RTOL", "Second",
           "SummedHessian", "curvature", "hessian", "moved_by", "summed_hessian", "symmetrised",
           "tangent_pass"]
