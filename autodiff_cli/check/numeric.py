"""Finite differences: the independent check of reverse mode.

The output as a function of one value -- an input, or any node of the graph --
is re-evaluated by re-running only the nodes above that value
(``Reevaluator``): found by a walk over each node's consumers (``Topology``),
so perturbing an input costs the number of nodes that depend on it, not the
size of the graph, in the same arithmetic as a full re-evaluation (bit for
bit; a wide logsumexp is updated from exact partial sums). Its derivative is
estimated by one of five methods:

* ``forward`` / ``backward``: (f(x ± h) - f(x)) / ±h, h = sqrt(eps)·max(1, |x|);
  error O(h) + O(eps/h), about 1e-8 relative at best.
* ``central`` (the default): (f(x + h) - f(x - h)) / 2h, h = cbrt(eps)·max(1, |x|);
  error O(h²) + O(eps/h), about 1e-10 relative at best.
* ``complex``: Im f(x + ih) / h with h = 1e-100·max(1, |x|), through every op's
  complex version (``Op.cvalue``). No subtraction, so no cancellation: exact to
  rounding. (The textbook h = 1e-20 fails where an intermediate derivative
  reaches ~1e20: its imaginary part is then O(1) and the step not linear.)
  Ops that are not analytic (abs, relu, max, min) or have no complex version
  (erf, erfc) have none; inputs whose value passes through one fall back to
  central differences, with central's tolerances, and say so.
* ``richardson``: Ridders' form of Richardson extrapolation -- central
  differences at h, h/2, h/4, ... from h = 2^-7·max(1, |x|), extrapolated to
  h = 0 in a Neville tableau, with an error estimate (the gap between
  successive extrapolants); it stops once that estimate has converged and then
  grown twice in a row. (Measured on 3,155 random-formula derivatives, outside
  rtol 1e-8: stopping at the first growth like Numerical Recipes' dfridr, from
  2^-4, 80; at the second growth, 4; from 2^-7, 1 -- a roundoff-bound case.)

Steps are made exactly representable (the divisor is the distance between the
two points actually evaluated). When x ± h leaves a function's domain (or the
range of doubles), the central difference turns one-sided on the side that
stays inside. A step below the spacing of doubles at x (x ± h == x) gives no
estimate, never a division by zero; a step shrunk near a kink stops there.

**Kinks.** Where the step straddles the kink of a piecewise op (abs, relu,
max, min, hypot) the difference measures a mix of two slopes. Every
re-evaluation watches those ops: when one behaves non-linearly over the step
(its change differs from its local derivative times its inputs' change by
more than 1% of the step), the step is shrunk until it no longer straddles
the kink. An input whose value feeds an op sitting exactly on its kink is not
differentiable there: that is a status of its own (``kink``), not a mismatch.

**Rule.** An estimate agrees when |ad - fd| <= atol + rtol·|fd| (numpy's
``allclose``; the atol covers gradients that are ~0, where any relative error
is meaningless). A comparison that fails is not yet a mismatch: it is
re-examined with more accurate estimates -- Richardson extrapolation; then,
when every op on the way is analytic, the complex step, which decides; then
Richardson from a 256× smaller first step -- and only a disagreement that
survives is a ``mismatch``. Without the complex step, a mismatch needs both
Richardson estimates to agree with each other and not with reverse mode; when
they cannot decide (their own error is not small against the disagreement)
the status is ``inconclusive``.

**Entry points.** ``check(ev, names, settings)`` judges each input of an
evaluation the caller already has (``adiff grad``'s column, ``adiff check``'s
points); ``check_nodes`` judges every intermediate node (``--per-node``) and
names the culprit. Data mode judges the summed loss (``batch.check_gradient``)
with the same ``judge``. ``check_hessian(ev, names, matrix, settings)`` judges
second derivatives against finite differences of the reverse-mode gradient
(``adiff hessian``'s check block, ``adiff check --order 2``).
"""

from __future__ import annotations

import math
import sys

from autodiff_cli.calculus.backends import _logsumexp
from autodiff_cli.core.graph import Graph

EPS = sys.float_info.epsilon
CENTRAL_STEP = EPS ** (1.0 / 3.0)  # 6.06e-06
ONE_SIDED_STEP = math.sqrt(EPS)  # 1.49e-08
COMPLEX_STEP = 1e-100
RICHARDSON_STEP = 2.0 ** -7  # Ridders' first step; the tableau halves it

METHODS = ("central", "forward", "backward", "complex", "richardson")

#: Relative default step of each method, multiplied by max(1, |x|).
STEPS = {
    "central": CENTRAL_STEP,
    "forward": ONE_SIDED_STEP,
    "backward": ONE_SIDED_STEP,
    "complex": COMPLEX_STEP,
    "richardson": RICHARDSON_STEP,
}

#: Default (rtol, atol) of each method. Measured on 20,000 random smooth
#: formulas at random in-domain points (31,621 gradients; tests/formulas.py),
#: against the complex step, the relative error of each plain estimate beyond
#: the atol was, at the 99th / 99.9th percentile:
#:   central 1.6e-7 / 4.9e-4, forward and backward 1.0e-6 / 1.2e-4,
#:   Richardson 1.8e-13 / 2.2e-9; reverse mode vs the complex step 0 / 5.7e-16
#:   (worst 3e-10, a cancelling rule).
#: Each rtol sits above the 99th percentile of its method, so 99.4% (central)
#: to 99.96% (Richardson) of correct gradients pass at once; the rest are
#: re-examined (``judge``). With that, all 33,933 gradients of those formulas
#: (erf/erfc ones included) pass with every method; on 10,000 formulas with
#: abs/relu/max/min as well, 17,839 pass, 742 sit on a kink (max(y, y) ties)
#: and 2 are inconclusive (atanh near its pole after erf: no complex step).
#: The atol covers gradients that are ~0, where relative errors mean nothing.
TOLERANCES = {
    "central": (1e-6, 1e-8),
    "forward": (1e-4, 1e-6),
    "backward": (1e-4, 1e-6),
    "complex": (1e-9, 1e-12),
    "richardson": (1e-8, 1e-10),
}
RTOL, ATOL = TOLERANCES["central"]

#: Perturbed evaluations per input of each method, before any re-examination
#: (Richardson: a central difference per step; it usually stops within ~10).
EVALUATIONS = {"central": 2, "forward": 1, "backward": 1, "complex": 1, "richardson": 20}
RULE = "|ad - fd| <= atol + rtol*|fd|"

#: A piecewise op "straddles its kink" over a step when its change departs
#: from the linear prediction by more than this fraction of its inputs' change.
KINK_NONLINEARITY = 0.01

_ARITH = (ValueError, ZeroDivisionError, OverflowError)
_isfinite = math.isfinite


class OutOfDomain(Exception):
    """A perturbed evaluation left an op's domain (or was not finite) at ``node``."""

    def __init__(self, node: int):
        super().__init__(node)
        self.node = node


class NotAnalytic(Exception):
    """The complex step met an op with no complex version at ``node``."""

    def __init__(self, node: int):
        super().__init__(node)
        self.node = node


# ---------------------------------------------------------------- re-evaluation

#: Cached downstream lists (node ids) per graph, at most this many ids in all:
#: with many points of one formula each input's list is found once.
DEPS_CACHE = 250_000
#: A logsumexp with at least this many inputs is re-evaluated incrementally
#: when few of them change (see ``_Logsumexp``).
WIDE = 32


class Topology:
    """What re-evaluation needs of a graph, built once per graph (O(nodes + edges)).

    The consumers of each node as compressed rows -- those of node j are
    ``targets[offsets[j]:offsets[j + 1]]``, ascending -- so the nodes that depend
    on an input are found by a walk over its consumers, in time proportional to
    their number (plus their edges), not to the size of the graph.
    """

    def __init__(self, graph: Graph):
        from array import array

        inputs = graph.inputs
        n = len(inputs)
        offsets = array("q", bytes(8 * (n + 1)))
        for ins in inputs:
            for j in ins:
                offsets[j + 1] += 1
        total = 0
        for j in range(n + 1):
            total += offsets[j]
            offsets[j] = total
        fill = array("q", offsets)
        targets = array("q", bytes(8 * total))
        for i, ins in enumerate(inputs):
            for j in ins:
                targets[fill[j]] = i
                fill[j] += 1
        self.graph = graph
        self.offsets = offsets
        self.targets = targets
        self.fns = [op.value for op in graph.ops]
        self.kinky = bytearray(1 if op.kink is not None else 0 for op in graph.ops)
        self._deps: dict[int, list[int]] = {}
        self._cached = 0
        self._mark = bytearray(n)
        self._getters: dict = {}

    def dependents(self, k: int) -> list[int]:
        """Ids of the nodes whose value depends on node k, ascending (= topological).

        A walk over consumers: first along the chain of single consumers from
        k (a formula is mostly such chains; ids ascend along them and nothing
        on them can be reached twice), then, from the first node with several
        consumers, a marked search whose nodes are sorted.
        """
        deps = self._deps.get(k)
        if deps is not None:
            return deps
        offsets, targets = self.offsets, self.targets
        out = []
        j = k
        while True:
            a = offsets[j]
            b = offsets[j + 1]
            if b - a != 1:
                break
            j = targets[a]
            out.append(j)
        if b - a > 1:
            mark = self._mark
            rest = []
            queue = [j]
            for j in queue:
                for p in range(offsets[j], offsets[j + 1]):
                    c = targets[p]
                    if not mark[c]:
                        mark[c] = 1
                        rest.append(c)
                        queue.append(c)
            for c in rest:
                mark[c] = 0
            rest.sort()
            out += rest
        if self._cached + len(out) <= DEPS_CACHE:
            self._deps[k] = out
            self._cached += len(out)
        return out

    def getter(self, i: int):
        """A C-speed gather of node i's input values (a tuple), for wide nodes."""
        g = self._getters.get(i)
        if g is None:
            import operator

            g = self._getters[i] = operator.itemgetter(*self.graph.inputs[i])
        return g


_TOPOLOGIES: list = []  # of the last two graphs (a check and the tiny graphs of ``culprit``)


#: Inputs whose dependents are counted to estimate the cost of a check.
COST_SAMPLE = 16


def mean_dependents(graph: Graph, names: list[str]) -> float:
    """Nodes re-evaluated per perturbation of an input, on average over ``names``.

    Exact for up to COST_SAMPLE inputs; else the mean over that many spread
    evenly (they are counted anyway: the lists are cached for the check).
    """
    if not names:
        return 0.0
    topo = topology(graph)
    step = max(1, len(names) // COST_SAMPLE)
    picked = names[::step][:COST_SAMPLE]
    return sum(len(topo.dependents(graph.variables[n])) for n in picked) / len(picked)


def topology(graph: Graph) -> Topology:
    for topo in _TOPOLOGIES:
        if topo.graph is graph:
            return topo
    topo = Topology(graph)
    _TOPOLOGIES[:] = [topo] + _TOPOLOGIES[:1]
    return topo


class Reevaluator:
    """The graph's output as a function of one node's value.

    ``values`` (and ``local``/``grads`` when given) come from an evaluation at
    the point; a perturbation of node k re-runs only the nodes that depend on
    k, in id (= topological) order, on a scratch copy of the values (see
    ``scratch``) -- so one perturbed evaluation costs the number of nodes
    above k, not the size of the graph.
    """

    def __init__(self, graph: Graph, values: list[float], local: list | None = None,
                 grads: list[float] | None = None):
        self.graph = graph
        self.values = values
        self.local = local
        self.grads = grads
        self.topo = topology(graph)
        self._scratch: list | None = None
        self._dirty: int | None = None  # the node whose dependents the scratch may have changed
        self._dirty_deps: list[int] = []
        self._wide: dict[int, _Logsumexp | None] = {}

    def dependents(self, k: int) -> list[int]:
        """Ids of the nodes whose value depends on node k, ascending."""
        return self.topo.dependents(k)

    def scratch(self, k: int, deps: list[int]) -> list:
        """The values with node k free to perturb: nodes other than k and its
        dependents hold the point's values. The dependents of the last k may
        hold anything: each pass writes them in order before reading them, so
        they are restored only when another node is perturbed."""
        vals = self._scratch
        if vals is None:
            vals = self._scratch = list(self.values)
        elif self._dirty != k:
            base = self.values
            if self._dirty is not None:
                vals[self._dirty] = base[self._dirty]
                for i in self._dirty_deps:
                    vals[i] = base[i]
        self._dirty, self._dirty_deps = k, deps
        return vals

    def wide(self, i: int) -> _Logsumexp | None:
        """The incremental form of wide node i, when it has one."""
        if i not in self._wide:
            graph = self.graph
            ins = graph.inputs[i]
            self._wide[i] = _Logsumexp(ins, self.values) \
                if len(ins) >= WIDE and graph.ops[i].value is _logsumexp else None
        return self._wide[i]

    def function(self, k: int) -> NodeFunction:
        return NodeFunction(self, k)


class _Logsumexp:
    """logsumexp(x1, ..., xn) when a few of its inputs change: O(changed), not O(n).

    The math backend's logsumexp (``calculus.backends._logsumexp``) is
    m + log1p(fsum of exp(x - m) over all but the first maximum), m = max(xs).
    While the maximum keeps its value, the terms of the unchanged inputs are
    the same floats; ``partials`` is an exact expansion
    of the sum of all the point's terms (floats whose exact sum is that sum),
    so fsum(partials, minus the old terms, plus the new ones, minus the
    maximum's term exp(0) = 1) is the correctly rounded value of the same
    exact sum the full evaluation rounds: the same float, bit for bit. When
    the maximum moves, the full evaluation runs. The first ``_VERIFY``
    incremental values of a process are also evaluated in full and compared;
    a difference (the backend's logsumexp rewritten) turns the shortcut off.
    """

    def __init__(self, ins: tuple[int, ...], values: list[float]):
        xs = [values[j] for j in ins]
        self.m = m = max(xs)
        self.at_max = sum(1 for x in xs if x == m)
        self.where: dict[int, list[int]] = {}
        for p, j in enumerate(ins):
            self.where.setdefault(j, []).append(p)
        self.xs = xs
        self.partials = _expansion([math.exp(x - m) for x in xs])

    def value(self, changed, vals) -> float | None:
        """The value with the inputs in ``changed`` (node ids) at ``vals``; None: not here."""
        m, xs, where = self.m, self.xs, self.where
        terms = list(self.partials)
        lost = 0  # changed positions that held the maximum
        kept = False  # a changed position that has the maximum now
        for j in changed:
            positions = where.get(j)
            if positions is None:
                continue
            new = vals[j]
            if new > m:
                return None
            if new == m:
                kept = True
            t = math.exp(new - m)
            for p in positions:
                old = xs[p]
                if old == m:
                    lost += 1
                terms.append(-math.exp(old - m))
                terms.append(t)
        if lost >= self.at_max and not kept:
            return None  # the maximum went down
        terms.append(-1.0)  # the maximum's own term, exp(m - m)
        return m + math.log1p(math.fsum(terms))


_VERIFY = 16
_LSE_STATE = {"verified": 0, "off": False}


def _expansion(values) -> list[float]:
    """Non-overlapping floats whose exact sum is the exact sum of ``values`` (Shewchuk)."""
    partials: list[float] = []
    for x in values:
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]
    return partials


class NodeFunction:
    """f(t): the output when node k has the value t (real or complex)."""

    def __init__(self, ev: Reevaluator, k: int):
        self.ev = ev
        self.k = k
        self.x = ev.values[k]
        self.deps = ev.dependents(k)

    def real(self, t: float) -> tuple[float, int | None]:
        """(output, the first piecewise op that straddled its kink or None)."""
        if not _isfinite(t):
            raise OutOfDomain(self.k)  # x ± h overflowed
        ev = self.ev
        graph, base, local, topo = ev.graph, ev.values, ev.local, ev.topo
        inputs, fns, kinky = graph.inputs, topo.fns, topo.kinky
        vals = ev.scratch(self.k, self.deps)
        vals[self.k] = t
        kink = None
        for i in self.deps:
            ins = inputs[i]
            try:
                if len(ins) == 2:
                    v = fns[i](vals[ins[0]], vals[ins[1]])
                elif len(ins) == 1:
                    v = fns[i](vals[ins[0]])
                elif len(ins) < WIDE:
                    v = fns[i](*[vals[j] for j in ins])
                else:
                    v = self._wide(i, vals)
            except _ARITH:
                raise OutOfDomain(i) from None
            if not _isfinite(v):
                raise OutOfDomain(i)
            vals[i] = v
            if kinky[i] and kink is None and local is not None:
                if _straddles(v, base[i], [vals[j] for j in ins], [base[j] for j in ins],
                              local[i]):
                    kink = i
        return vals[graph.output], kink

    def _wide(self, i: int, vals) -> float:
        """A wide node's value: incrementally when only a few of its inputs changed."""
        topo = self.ev.topo
        inc = None if _LSE_STATE["off"] else self.ev.wide(i)
        if inc is not None:
            n = self.deps.index(i)  # the dependents before i, which may have changed
            if 2 * (n + 1) < len(self.ev.graph.inputs[i]):
                v = inc.value([self.k, *self.deps[:n]], vals)
                if v is not None:
                    if _LSE_STATE["verified"] >= _VERIFY:
                        return v
                    full = topo.fns[i](*topo.getter(i)(vals))
                    if full == v:
                        _LSE_STATE["verified"] += 1
                    else:
                        _LSE_STATE["off"] = True
                    return full
        return topo.fns[i](*topo.getter(i)(vals))

    def complex(self, t: complex) -> complex:
        """The output with node k at the complex value t (real parts stay the point's)."""
        graph, base = self.ev.graph, self.ev.values
        ops, inputs = graph.ops, graph.inputs
        vals = self.ev.scratch(self.k, self.deps)
        vals[self.k] = t
        for i in self.deps:
            op = ops[i]
            if op.cvalue is None:
                raise NotAnalytic(i)
            try:
                im = op.cvalue(*[vals[j] for j in inputs[i]]).imag
            except _ARITH:
                raise OutOfDomain(i) from None
            if not _isfinite(im):
                raise OutOfDomain(i)
            # Re f(x + ih) = f(x) - h²f''/2 + ... = f(x) exactly in doubles.
            vals[i] = complex(base[i], im)
        return vals[graph.output]

    def not_analytic(self) -> int | None:
        """The first node above k whose op has no complex version, or None."""
        ops = self.ev.graph.ops
        return next((i for i in self.deps if ops[i].cvalue is None), None)

    def noise(self) -> float:
        """Rounding noise of one evaluation of f: eps·Σ |∂f/∂node|·|node| over the nodes above k.

        Each node's rounding error (≈ eps·|value|) reaches the output scaled by
        the output's gradient with respect to that node.
        """
        grads, values = self.ev.grads, self.ev.values
        if grads is None:
            return EPS * abs(values[self.ev.graph.output])
        total = sum(abs(grads[i] * values[i]) for i in self.deps)
        return EPS * total if _isfinite(total) else math.inf


def _straddles(v, v0, args, args0, loc) -> bool:
    linear = v0
    change = 0.0
    for lg, a, a0 in zip(loc, args, args0):
        linear += lg * (a - a0)
        change += abs(a - a0)
    deviation = abs(v - linear)
    return deviation > KINK_NONLINEARITY * change + 4.0 * EPS * (abs(v) + abs(v0))


# ---------------------------------------------------------------- estimates

class _Record:
    """A plain record class: fields given by ``__init__``, compared and shown field by
    field. (Not dataclasses: creating them, and importing ``dataclasses``, costs every
    start-up ~1.5 ms, and every ``grad`` imports this module.)"""

    FIELDS: tuple[str, ...] = ()

    def __eq__(self, other):
        return type(other) is type(self) and all(
            getattr(self, f) == getattr(other, f) for f in self.FIELDS)

    __hash__ = None  # mutable, like the dataclasses these were

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(
            f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"


class Numeric(_Record):
    """One finite-difference estimate: ``value`` (None: no estimate could be made), the
    ``step`` and ``method`` actually used, the estimate's own ``error`` estimate when known,
    a ``note``, and a ``kink`` the step could not avoid."""

    FIELDS = ("value", "step", "method", "error", "note", "kink")

    def __init__(self, value: float | None, step: float, method: str,
                 error: float | None = None, note: str = "", kink: int | None = None):
        self.value, self.step, self.method = value, step, method
        self.error, self.note, self.kink = error, note, kink


def _central(fn: NodeFunction, x: float, h: float) -> tuple[float, int | None]:
    # Divide by the distance between the points actually evaluated.
    xp, xm = x + h, x - h
    fp, kp = fn.real(xp)
    fm, km = fn.real(xm)
    return (fp - fm) / (xp - xm), kp if kp is not None else km


def _one_sided(fn: NodeFunction, x: float, h: float, sign: float, f0: float):
    xs = x + sign * h
    fs, k = fn.real(xs)
    return (fs - f0) / (xs - x), k


def _describe(graph: Graph, i: int) -> str:
    return f"{graph.ops[i].name} (n{i})"


def _shrinking(x: float, first: float, attempts: int = 6, factor: float = 16.0):
    """first, first/16, ...: the steps to try, while x ± h still differs from x."""
    h = first
    for _ in range(attempts):
        if not collapses(x, h):
            yield h
        else:
            return
        h /= factor


def collapses(x: float, h: float) -> bool:
    """True when x + h or x - h rounds to x: no difference can be taken with step h."""
    return x + h == x or x - h == x


def step_error(x: float, h: float) -> str | None:
    """Why a given step cannot be used at x (it is below the spacing of doubles there), or None."""
    if not collapses(x, h):
        return None
    return (f"it is below the spacing of doubles there ({math.ulp(x):.3g}): x ± h rounds to x, "
            "so no difference can be taken")


def _collapsed(method: str, x: float, h: float) -> Numeric:
    return Numeric(None, h, method, note=f"the step h = {h:.3g} is below the spacing of doubles "
                                         f"at {x:.6g}: x ± h rounds to x")


def step_for(method: str, x: float, step: float | None = None) -> float:
    """The default step of ``method`` at x (or the given one), made representable."""
    h = step if step is not None else STEPS[method] * max(1.0, abs(x))
    if method == "complex":
        return h
    r = (x + h) - x
    if not _isfinite(r):  # x + h overflows: made representable on the other side
        r = x - (x - h)
    return r if 0.0 < r < math.inf else h


def estimate(fn: NodeFunction, method: str, step: float | None = None) -> Numeric:
    """d output / d node by ``method``, with the fallbacks described in the module docstring."""
    x = fn.x
    graph = fn.ev.graph
    f0 = fn.ev.values[graph.output]
    if method == "richardson":
        return ridders(fn, step_for("richardson", x, step))
    if method == "complex":
        bad = fn.not_analytic()
        if bad is None:
            h = step_for("complex", x, step)
            try:
                return Numeric(fn.complex(complex(x, h)).imag / h, h, "complex")
            except OutOfDomain as exc:
                note = f"the complex step failed at {_describe(graph, exc.node)}"
        else:
            op = graph.ops[bad]
            # Ops with a kink are piecewise, not analytic; the others (erf, erfc)
            # have no complex version in the standard library.
            why = "is not analytic" if op.kink is not None else "has no complex version"
            note = f"no complex step through {_describe(graph, bad)}: {op.name} {why}"
        out = estimate(fn, "central")
        out.note = "; ".join(n for n in (note + "; central differences used", out.note) if n)
        return out
    if method in ("forward", "backward"):
        sign = 1.0 if method == "forward" else -1.0
        order = ((sign, method), (-sign, "backward" if method == "forward" else "forward"))
        return _one_sided_estimate(fn, x, f0, step_for(method, x, step), order, "")
    # central
    note = ""
    h0 = step_for("central", x, step)
    if collapses(x, h0):
        return _collapsed("central", x, h0)
    for h in _shrinking(x, h0):
        try:
            d, kink = _central(fn, x, h)
        except OutOfDomain as exc:
            why = "x ± h is beyond the largest double" if exc.node == fn.k else \
                f"x ± h leaves the domain of {_describe(graph, exc.node)}"
            h1 = step_for("forward", x)
            return _one_sided_estimate(
                fn, x, f0, h1, ((1.0, "forward"), (-1.0, "backward")), why)
        if kink is None:
            return Numeric(d, h, "central", note=note)
        note = f"the step was shrunk to h = {h / 16:.3g} to avoid the kink of " \
               f"{_describe(graph, kink)}"
    return Numeric(d, h, "central", kink=kink,
                   note=f"{_describe(graph, kink)} is within {h:.3g} of its kink")


def _one_sided_estimate(fn, x, f0, h, order, why) -> Numeric:
    graph = fn.ev.graph
    for n, (sign, name) in enumerate(order):
        if n:
            note = (f"{why}; " if why else "") + f"the other side leaves the domain: {name} " \
                "difference used"
        else:
            note = f"{why}: {name} difference used" if why else ""
        if collapses(x, h):
            return _collapsed(name, x, h)
        try:
            for hh in _shrinking(x, h):
                d, kink = _one_sided(fn, x, hh, sign, f0)
                if kink is None:
                    return Numeric(d, hh, name, note=note)
            return Numeric(d, hh, name, kink=kink,
                           note=f"{_describe(graph, kink)} is within {hh:.3g} of its kink")
        except OutOfDomain:
            continue
    return Numeric(None, h, order[0][1], note="x ± h leaves the domain on both sides")


#: Ridders' parameters: step ratio, steps tried at most, tableau width, and the
#: growth of the error estimate at which the extrapolation stops.
RIDDERS_RATIO = 2.0
RIDDERS_STEPS = 40
RIDDERS_WIDTH = 10
RIDDERS_SAFE = 2.0
RIDDERS_CONVERGED = 1e-3
RIDDERS_PATIENCE = 2


def ridders(fn: NodeFunction, h0: float) -> Numeric:
    """Richardson extrapolation of central differences over h0, h0/2, ... (Ridders' method).

    Steps whose difference leaves the domain or straddles a kink are skipped
    and the tableau restarts below them. Returns the extrapolant with the
    smallest error estimate (floored at the rounding noise of its step).
    """
    x = fn.x
    ratio2 = RIDDERS_RATIO * RIDDERS_RATIO
    prev: list[float] | None = None
    best, best_err, best_h = None, math.inf, h0
    first = None  # the first plain difference, if nothing better is found
    skipped = ""
    h = h0
    growing = 0
    for _ in range(RIDDERS_STEPS):
        if h <= 0.0 or collapses(x, h):
            break
        try:
            d, kink = _central(fn, x, h)
        except OutOfDomain as exc:
            skipped = f"steps over {h:.3g} leave the domain of {_describe(fn.ev.graph, exc.node)}"
            prev, h = None, h / RIDDERS_RATIO
            continue
        if kink is not None:
            skipped = f"steps over {h:.3g} straddle the kink of {_describe(fn.ev.graph, kink)}"
            prev, h = None, h / RIDDERS_RATIO
            continue
        if first is None:
            first = (d, h)
        row = [d]
        if prev is not None:
            fac = ratio2
            for j in range(1, min(len(prev), RIDDERS_WIDTH) + 1):
                row.append((row[j - 1] * fac - prev[j - 1]) / (fac - 1.0))
                fac *= ratio2
                err = max(abs(row[j] - row[j - 1]), abs(row[j] - prev[j - 1]))
                if err <= best_err:
                    best, best_err, best_h = row[j], err, h
            # Stop when the error estimate grows again -- but only once it has
            # converged: early rows from a step that is too large are noise.
            if abs(row[-1] - prev[-1]) >= RIDDERS_SAFE * best_err \
                    and best_err <= RIDDERS_CONVERGED * abs(best):
                growing += 1
                if growing >= RIDDERS_PATIENCE:
                    break
            else:
                growing = 0
        prev = row
        h /= RIDDERS_RATIO
    if best is None:
        if first is None:
            return Numeric(None, h0, "richardson", note=skipped or "no step stays in the domain")
        best, best_h = first
    noise = fn.noise() / best_h
    error = max(best_err, noise)
    return Numeric(best, best_h, "richardson", error=error,
                   note=skipped if skipped else "")


# ---------------------------------------------------------------- comparing

def compare(ad: float, fd: float, rtol: float = RTOL, atol: float = ATOL):
    """(abs error, rel error, ok) under |ad - fd| <= atol + rtol·|fd|."""
    abs_error = abs(ad - fd)
    rel_error = abs_error / abs(fd) if fd != 0.0 else (0.0 if abs_error == 0.0 else math.inf)
    return abs_error, rel_error, abs_error <= atol + rtol * abs(fd)


class Settings(_Record):
    """How to check: the method, tolerances (None: the method's default) and step."""

    FIELDS = ("method", "rtol", "atol", "step")

    def __init__(self, method: str = "central", rtol: float | None = None,
                 atol: float | None = None, step: float | None = None):
        self.method, self.rtol, self.atol, self.step = method, rtol, atol, step

    def tolerances(self, method: str | None = None) -> tuple[float, float]:
        """(rtol, atol): the given ones, else the defaults of ``method`` (the one used)."""
        drtol, datol = TOLERANCES[method or self.method]
        return (drtol if self.rtol is None else self.rtol,
                datol if self.atol is None else self.atol)


class Estimate(_Record):
    """A reverse-mode derivative next to its numeric estimate, and the verdict.

    ``fd`` is None when no difference could be evaluated; ``method`` is the method whose
    estimate decided; ``ok`` None means neither agreement nor mismatch (see ``status``:
    ok, mismatch, kink, inconclusive or unavailable); ``tolerance`` is atol + rtol·|fd|;
    ``error`` the estimate's own error estimate, when known; ``attempts`` the (method,
    estimate) pairs tried before.
    """

    FIELDS = ("name", "ad", "fd", "step", "method", "abs_error", "rel_error", "ok", "note",
              "status", "tolerance", "error", "node", "rtol", "atol", "attempts")

    def __init__(self, name: str, ad: float, fd: float | None, step: float, method: str,
                 abs_error: float | None, rel_error: float | None, ok: bool | None,
                 note: str = "", status: str = "", tolerance: float | None = None,
                 error: float | None = None, node: int | None = None, rtol: float = RTOL,
                 atol: float = ATOL, attempts: list | None = None):
        self.name, self.ad, self.fd, self.step, self.method = name, ad, fd, step, method
        self.abs_error, self.rel_error, self.ok, self.note = abs_error, rel_error, ok, note
        self.status = status or {True: "ok", False: "mismatch"}.get(ok, "unavailable")
        self.tolerance, self.error, self.node = tolerance, error, node
        self.rtol, self.atol = rtol, atol
        self.attempts = [] if attempts is None else attempts


def judge(name: str, ad: float, fn: NodeFunction, settings: Settings, *,
          kink: bool = False, refine: bool = True) -> Estimate:
    """Compare ``ad`` with a numeric estimate of the same derivative and decide.

    ``kink``: the point sits exactly on a kink this value feeds: the estimate
    is made for the record, and the status is ``kink``.

    A failed comparison is re-examined (unless ``refine`` is off) with
    Richardson extrapolation from the default first step, then the complex
    step when every op above is analytic (decisive: it has no cancellation
    error), then Richardson from a 256× smaller first step. Without the
    complex step, a mismatch needs both Richardson estimates to agree with
    each other, within their own error estimates, and to disagree with ``ad``
    beyond the tolerance plus those errors; otherwise it is ``inconclusive``.
    """
    num = estimate(fn, settings.method, settings.step)
    rtol, atol = settings.tolerances(num.method if settings.method == "complex" else None)
    if not _isfinite(ad):
        return _estimate(name, ad, num, rtol, atol, fn, None, "unavailable",
                         "the reverse-mode gradient is not finite")
    if kink:
        return _estimate(name, ad, num, rtol, atol, fn, None, "kink",
                         "not differentiable at this point")
    usable = num.value is not None and num.kink is None
    if usable and compare(ad, num.value, rtol, atol)[2]:
        return _estimate(name, ad, num, rtol, atol, fn, True, "ok", num.note)
    if not refine:
        if num.kink is not None:
            return _estimate(name, ad, num, rtol, atol, fn, None, "kink", num.note)
        if num.value is None:
            return _estimate(name, ad, num, rtol, atol, fn, None, "unavailable", num.note)
        return _estimate(name, ad, num, rtol, atol, fn, False, "mismatch", num.note)
    if usable and num.method == "complex":
        # No cancellation error: the complex step is decisive.
        return _estimate(name, ad, num, rtol, atol, fn, False, "mismatch", num.note)
    tried = [num] if usable else []
    chain = []
    if num.method != "richardson":
        chain.append(("richardson", None))
    if fn.not_analytic() is None:
        chain.append(("complex", None))
    h0 = settings.step if num.method == "richardson" and settings.step else \
        step_for("richardson", fn.x)
    chain.append(("richardson", h0 / 256.0))
    for method, step in chain:
        better = estimate(fn, method, step)
        if better.value is None or better.kink is not None or better.method != method:
            continue
        before = list(tried)
        tried.append(better)
        if compare(ad, better.value, rtol, atol)[2]:
            return _estimate(name, ad, better, rtol, atol, fn, True, "ok",
                             _refined_note(before, better, ad, True), before)
        if method == "complex":
            return _estimate(name, ad, better, rtol, atol, fn, False, "mismatch",
                             _refined_note(before, better, ad, False), before)
    if not tried:
        if num.kink is not None:
            return _estimate(name, ad, num, rtol, atol, fn, None, "kink", num.note)
        return _estimate(name, ad, num, rtol, atol, fn, None, "unavailable",
                         num.note or "no finite difference could be evaluated")
    extrapolated = [t for t in tried if t.method == "richardson"]
    best = min(tried, key=lambda t: t.error if t.error is not None else math.inf)
    others = [t for t in tried if t is not best]
    if len(extrapolated) >= 2:
        r1, r2 = extrapolated[:2]
        e1, e2 = r1.error, r2.error
        consistent = abs(r1.value - r2.value) <= atol + rtol * abs(r1.value) + 2.0 * (e1 + e2)
        apart = all(abs(ad - r.value) > atol + rtol * abs(r.value) + 2.0 * r.error
                    for r in (r1, r2))
        if consistent and apart:
            return _estimate(name, ad, best, rtol, atol, fn, False, "mismatch",
                             _refined_note(others, best, ad, False), others)
    spread = max(t.value for t in tried) - min(t.value for t in tried)
    own = max(best.error if best.error is not None else math.inf, spread)
    return _estimate(name, ad, best, rtol, atol, fn, None, "inconclusive",
                     f"finite differences cannot decide here: their own error (about "
                     f"{own:.2g}, from rounding noise and the spread of the estimates) is not "
                     f"small against the disagreement ({abs(ad - best.value):.2g})", others)


def _refined_note(before: list[Numeric], used: Numeric, ad: float, agrees: bool) -> str:
    """How a re-examined comparison was decided, for the notes."""
    if not before:
        return used.note
    if agrees:
        text = "; ".join(f"the {b.method} estimate {b.value:.10g} was off by "
                         f"{abs(ad - b.value):.2g}" for b in before)
        text += f" (its step is too coarse here); {_NAMES[used.method]} agrees"
    else:
        text = "confirmed by " + ", ".join(
            f"{_NAMES[m.method]} ({m.value:.10g})" for m in before + [used])
    return text + (f" ({used.note})" if used.note else "")


_NAMES = {"central": "central differences", "forward": "a forward difference",
          "backward": "a backward difference", "complex": "the complex step",
          "richardson": "Richardson extrapolation"}


def _estimate(name, ad, num: Numeric, rtol, atol, fn, ok, status, note, attempts=()) -> Estimate:
    if num.value is None:
        abs_error = rel_error = tolerance = None
    else:
        abs_error, rel_error, _ = compare(ad, num.value, rtol, atol)
        tolerance = atol + rtol * abs(num.value)
    return Estimate(name, ad, num.value, num.step, num.method, abs_error, rel_error, ok,
                    note, status, tolerance, num.error, fn.k, rtol, atol,
                    [(a.method, a.value) for a in attempts])


# ---------------------------------------------------------------- whole points

def check(ev, names: list[str], settings: Settings | None = None, *, refine: bool = True,
          kink_estimates: bool = False, progress=None) -> list[Estimate]:
    """The finite-difference check: judge d output / d input for each input in ``names``.

    ``ev`` is the evaluation the caller already has (``engine.Evaluation``: graph,
    values, local gradients, gradients, kinks): nothing is bound or evaluated again,
    and each perturbation re-runs only the nodes above its input. ``settings``
    (default: central differences and their tolerances) say how (see ``judge``).

    An input that feeds a node sitting exactly on its kink is not differentiable
    there; its status is ``kink``. By default (``adiff check``) its estimate is
    made for the record only; with ``kink_estimates`` (the column of ``adiff
    grad``) it is made and re-examined as anywhere else, so the column shows the
    best estimate beside the kink's status.
    """
    graph = ev.graph
    settings = settings or Settings()
    fns = Reevaluator(graph, ev.values, ev.local, ev.grads)
    kinked = graph.ancestors(ev.kinks) if ev.kinks else None
    out = []
    for name in names:
        i = graph.variables[name]
        at_kink = kinked is not None and bool(kinked[i])
        e = judge(name, ev.grads[i], fns.function(i), settings,
                  kink=at_kink and not kink_estimates, refine=refine)
        if at_kink and kink_estimates:
            e.note = "not differentiable at this point (kink)"
            e.status = "kink"
            e.ok = e.ok or None
        out.append(e)
        if progress:
            progress()
    return out


# ---------------------------------------------------------------- second derivatives
# The Hessian (``calculus/second.py``) is checked against finite differences of the
# reverse-mode gradient: H[i][j] = ∂/∂x_j (∂f/∂x_i) is estimated by moving x_j and taking the
# whole gradient again (forward over the nodes above x_j, then the engine's backward pass),
# with the same estimators, rule and re-examination as first derivatives (``judge``). One
# perturbation of x_j gives every ∂f/∂x_i at once, so the entries of a column share their
# evaluations (``GradientColumn`` caches them by the point). There is no complex step: it
# would need every local derivative rule over complex numbers, and the hand-written ones
# compare values, which complex numbers cannot.

#: Gradients one column keeps, by the value of its input (Ridders' steps are the same for
#: every entry of a column).
GRADIENT_CACHE = 256
#: A piecewise op straddles its kink over a step of the gradient when one of its local
#: derivatives changes by more than this fraction of its size (relu' jumps from 0 to 1,
#: |x|' from -1 to 1, a max's share from 1 to 0); smooth ops change by O(h).
KINK_LOCAL_JUMP = 0.5


def _local_jumps(loc, loc0) -> bool:
    for a, b in zip(loc, loc0):
        if abs(a - b) > KINK_LOCAL_JUMP * max(abs(a), abs(b)):
            return True
    return False


class GradientColumn:
    """The reverse-mode gradient with input ``name`` moved to t: (∂f/∂x for each of
    ``names``, the first piecewise op that straddled its kink or None), cached by t.

    Only the nodes above the input are evaluated again (values and local gradients, as
    ``engine.forward`` does); the backward pass is the engine's, over the whole graph.
    """

    def __init__(self, ev, name: str, names: list[str]):
        from autodiff_cli.calculus.engine import backward

        graph = ev.graph
        self.ev, self.graph, self.name = ev, graph, name
        self.k = graph.variables[name]
        self.x = ev.values[self.k]
        self.rows = [graph.variables[n] for n in names]
        self.deps = topology(graph).dependents(self.k)
        self._backward = backward
        self._cache: dict = {}

    def at(self, t: float):
        hit = self._cache.get(t)
        if hit is None:
            try:
                hit = self._evaluate(t)
            except OutOfDomain as exc:
                hit = exc
            if len(self._cache) < GRADIENT_CACHE:
                self._cache[t] = hit
        if isinstance(hit, OutOfDomain):
            raise OutOfDomain(hit.node)
        return hit

    def _evaluate(self, t: float):
        if not _isfinite(t):
            raise OutOfDomain(self.k)
        graph, ev = self.graph, self.ev
        ops, inputs = graph.ops, graph.inputs
        base, base_local = ev.values, ev.local
        vals = list(base)
        loc = list(base_local)
        vals[self.k] = t
        kink = None
        nan = math.nan
        for i in self.deps:
            op = ops[i]
            ins = inputs[i]
            args = [vals[j] for j in ins]
            try:
                v = op.value(*args)
            except _ARITH:
                raise OutOfDomain(i) from None
            if not _isfinite(v):
                raise OutOfDomain(i)
            vals[i] = v
            try:
                lg = op.local(*args, v)
            except _ARITH:
                lg = (nan,) * len(args)
            loc[i] = lg
            if kink is None and op.kink_at is not None:
                if _straddles(v, base[i], args, [base[j] for j in ins], base_local[i]) or \
                        _local_jumps(lg, base_local[i]):
                    kink = i
        grads = self._backward(graph, vals, loc, [])
        g = [grads[r] for r in self.rows]
        if not all(_isfinite(x) for x in g):
            bad = next((i for i in self.deps if not all(_isfinite(x) for x in loc[i])),
                       graph.output)
            raise OutOfDomain(bad)
        return g, kink


class _FixedPoint:
    """What the estimators read of the evaluation at the point: the function's value there."""

    def __init__(self, graph: Graph, value: float):
        self.graph = graph
        self.values = {graph.output: value}
        self.grads = None


class GradientFunction:
    """∂f/∂x_i (``pos`` in the column's names) as a function of the column's input, for
    ``judge``: its ``real(t)``, rounding ``noise`` and no complex step."""

    def __init__(self, column: GradientColumn, pos: int, value: float, noise: float):
        self.column, self.pos = column, pos
        self.k, self.x = column.k, column.x
        self.ev = _FixedPoint(column.graph, value)
        self._noise = noise

    def real(self, t: float):
        g, kink = self.column.at(t)
        return g[self.pos], kink

    def complex(self, t):
        raise NotAnalytic(self.column.graph.output)

    def not_analytic(self) -> int:
        return self.column.graph.output

    def noise(self) -> float:
        return self._noise


def gradient_noise(ev, names: list[str]) -> list[float]:
    """Rounding noise of each ∂f/∂x_i of ``names``: eps times the sum over the paths from
    the output to x_i of |the product of the local gradients| -- the engine's backward pass
    over the absolute local gradients -- (each product and sum rounds once per node)."""
    from autodiff_cli.calculus.engine import backward

    graph = ev.graph
    absolute = [tuple(abs(x) for x in loc) for loc in ev.local]
    sums = backward(graph, ev.values, absolute, [])
    return [2.0 * EPS * sums[graph.variables[n]] for n in names]


def check_hessian(ev, names: list[str], matrix: list[list[float]],
                  settings: Settings | None = None, *, pairs=None, refine: bool = True,
                  kink_estimates: bool = False, progress=None) -> list[Estimate]:
    """Judge each second derivative ``matrix[i][j]`` = ∂²f/∂x_i∂x_j (rows and columns in
    ``names`` order) against finite differences of the reverse-mode gradient: the derivative
    of ∂f/∂x_i along x_j. Each estimate is named "x_i,x_j" (its ``node`` is x_j's).

    ``ev``: the point's float evaluation (``engine.evaluate``); ``pairs``: the (i, j) to
    judge, in order (default: every entry, row by row); ``settings``, ``refine`` as for
    ``check`` (the complex step is not available: such settings use central differences).
    An entry whose row or column input feeds a node sitting on its kink has status ``kink``;
    with ``kink_estimates`` its estimate is made and re-examined as anywhere else (the
    check block of ``adiff hessian``), else for the record only (``adiff check --order 2``).
    """
    graph = ev.graph
    settings = settings or Settings()
    if settings.method == "complex":
        settings = Settings("central", settings.rtol, settings.atol, None)
    n = len(names)
    if pairs is None:
        pairs = [(i, j) for i in range(n) for j in range(n)]
    kinked = graph.ancestors(ev.kinks) if ev.kinks else None
    noise = gradient_noise(ev, names)
    variables = graph.variables
    columns: dict[int, list[int]] = {}
    for i, j in pairs:
        columns.setdefault(j, []).append(i)
    kept: dict[int, GradientColumn] = {}

    def column_of(j: int) -> GradientColumn:
        col = kept.get(j)
        if col is None:
            if len(kept) >= COLUMNS_KEPT:
                del kept[next(iter(kept))]
            col = kept[j] = GradientColumn(ev, names[j], names)
        return col

    def function(i: int, j: int) -> GradientFunction:
        return GradientFunction(column_of(j), i, ev.grads[variables[names[i]]], noise[i])

    judged = {}
    for j, rows in columns.items():
        for i in rows:
            # ∂/∂x_j ∂f/∂x_i = ∂/∂x_i ∂f/∂x_j where both exist: either input on a kink's
            # way makes the entry a kink's
            at_kink = kinked is not None and bool(kinked[variables[names[j]]] or
                                                  kinked[variables[names[i]]])
            name = f"{names[i]},{names[j]}"
            e = judge(name, matrix[i][j], function(i, j), settings,
                      kink=at_kink and not kink_estimates, refine=refine)
            if refine and i != j and e.status in ("inconclusive", "unavailable"):
                e = _other_order(e, name, matrix[i][j], function(j, i), settings, names[i],
                                 names[j])
            if at_kink and kink_estimates:
                e.note = "not differentiable at this point (kink)"
                e.status = "kink"
                e.ok = e.ok or None
            judged[(i, j)] = e
            if progress:
                progress()
    return [judged[p] for p in pairs]


#: Gradient columns kept at once by ``check_hessian`` (each caches its gradients).
COLUMNS_KEPT = 4


def _other_order(e: Estimate, name: str, ad: float, fn: GradientFunction, settings: Settings,
                 row: str, column: str) -> Estimate:
    """An entry that finite differences along its column could not settle, estimated in the
    other order of differentiation -- ∂/∂row of ∂f/∂column, the same number for a function
    whose second derivatives are continuous -- which settles it when it agrees."""
    other = judge(name, ad, fn, settings)
    if other.status != "ok":
        return e
    other.note = (f"differences of ∂f/∂{row} along {column} could not settle it ({e.note}); "
                  f"those of ∂f/∂{column} along {row} (the same second derivative) agree")
    other.attempts = [(e.method, e.fd)] + other.attempts
    return other


def intermediate_nodes(graph: Graph) -> list[int]:
    """The nodes a gradient flows through from the inputs, leaves excluded."""
    return [i for i in range(len(graph)) if graph.inputs[i] and graph.requires[i]]


def check_nodes(ev, settings: Settings, progress=None) -> tuple[list[Estimate], dict | None]:
    """Judge d output / d node for every intermediate node of the evaluation ``ev`` (as
    for ``check``); name the culprit of a mismatch."""
    graph = ev.graph
    fns = Reevaluator(graph, ev.values, ev.local, ev.grads)
    kinked = graph.ancestors(ev.kinks)
    out = []
    for i in intermediate_nodes(graph):
        out.append(judge(f"n{i}", ev.grads[i], fns.function(i), settings, kink=bool(kinked[i])))
        if progress:
            progress()
    return out, culprit(ev, out, settings)


def local_derivative(op, args: list[float], pos: int) -> Numeric:
    """Ridders' estimate of d op / d args[pos] at ``args``: the op alone, as a tiny graph."""
    from autodiff_cli.core.graph import Graph as _Graph
    from autodiff_cli.core.ops import OPS

    n = len(args)
    ops = [OPS["const"]] * n + [op]
    g = _Graph("", ops, [()] * n + [tuple(range(n))], [""] * (n + 1), [0] * (n + 1),
               [0] * (n + 1), {j: a for j, a in enumerate(args)}, n)
    vals = list(args) + [op.value(*args)]
    return ridders(Reevaluator(g, vals).function(pos), step_for("richardson", args[pos]))


def culprit(ev, nodes: list[Estimate], settings: Settings):
    """Where a wrong gradient comes from: the local derivative that disagrees.

    The highest node whose gradient disagrees received it from its consumers,
    whose own gradients agree; so one of their local derivatives (an edge of
    the graph) is wrong. Each is re-estimated numerically on the op alone.
    """
    bad = [e.node for e in nodes if e.status == "mismatch"]
    if not bad:
        return None
    graph, values, local = ev.graph, ev.values, ev.local
    k = max(bad)
    rtol, atol = settings.tolerances()
    for c in range(k + 1, len(graph)):
        ins = graph.inputs[c]
        for pos, j in enumerate(ins):
            if j != k:
                continue
            args = [values[a] for a in ins]
            num = local_derivative(graph.ops[c], args, pos)
            rule = local[c][pos]
            if num.value is None:
                continue
            _, _, ok = compare(rule, num.value, rtol, atol)
            if not ok and abs(rule - num.value) > 2.0 * (num.error or 0.0):
                op = graph.ops[c].name
                return {"node": f"n{c}", "op": op, "input": f"n{k}", "position": pos + 1,
                        "local": rule, "numeric": num.value,
                        "message": f"the local derivative of n{c} ({op}) with respect to its "
                                   f"input {pos + 1} (n{k}) is {rule:.10g}, but numerically "
                                   f"{num.value:.10g}: the rule for {op} looks wrong"}
    return {"node": f"n{k}", "op": graph.ops[k].name, "input": None, "position": None,
            "local": None, "numeric": None,
            "message": f"the gradient first disagrees at n{k} ({graph.ops[k].name}); the local "
                       "derivatives of its consumers agree with finite differences"}
