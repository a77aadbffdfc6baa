"""Hash-consed smart constructors: formulas built simplified, for ``adiff diff``.

A ``Store`` holds one graph of nodes (the ops of ``core/ops.py``: var, const, add, mul, ...)
in creation order. Every node is hash-consed -- asking twice for ``cos(x)`` gives the same
node -- so common subexpressions are shared by construction. The smart constructors
(``add``, ``sub``, ``mul``, ``div``, ``neg``, ``pow``, ``call``) simplify as they build,
with bounded work per call (nothing recurses over a formula, and a node never costs more
than a fixed number of new nodes), so a derivative graph stays linear in its formula.

How: each node carries two *views*, computed once when it is created, from its inputs'
views, by flattening at most ``LIMIT`` entries:

* a product view ``(coef, factors)``: ``coef · Π base^exp`` (``factors`` a tuple of
  ``(base node, exponent node)``); ``-2*x/y^2`` is ``(-2, ((x, 1), (y, -2)))``;
* a sum view, a tuple of terms ``(coef, factors)`` in the order they are written; a
  constant term has ``factors == ()``: ``1 - 2*x`` is ``((1, ()), (-2, ((x, 1),)))``.

A constructor combines its inputs' views, brings the result to its normal form (the rewrite
table below), and emits it as nodes in the textbook order. A node whose flattened view
would exceed ``LIMIT`` entries is an atom in the views of the nodes built on it (so a chain
of 10,000 products costs a bounded amount per link, not a growing one).

The rewrite table -- what the normal forms do, all here, each held by a test
(tests/test_derive.py, ``REWRITES``) -- never changes a value where the original and the
result are both defined (up to rounding: reassociated floating-point operations):

=============================  =====================================================
rule                           example
=============================  =====================================================
constant folding               ``2*3*x`` -> ``6*x``; a function of constants only when
                               the result is a short number (``sqrt(4)`` -> ``2``, but
                               ``log(2)`` and ``sin(pi)`` stay); nothing that would
                               overflow or raise is folded (``1/0`` stays ``1/0``)
unit and zero                  ``x*1`` -> ``x``, ``x + 0`` -> ``x``, ``x*0`` -> ``0``,
                               ``x^1`` -> ``x``, ``x^0`` -> ``1``
signs pulled out               ``--x`` -> ``x``, ``x - -y`` -> ``x + y``,
                               ``(-x)*y`` -> ``-x*y``, ``a + -b`` -> ``a - b``,
                               ``-a + b`` -> ``b - a``, ``-a - b`` -> ``-(a + b)``
like terms                     ``x + x`` -> ``2*x``, ``2*x*y - x*y`` -> ``x*y``
like factors                   ``x*x`` -> ``x^2``, ``x^n*x`` -> ``x^(n+1)``,
                               ``x^y/x`` -> ``x^(y - 1)``, ``x/x`` -> ``1``
powers of products             ``(2*x)^2`` -> ``4*x^2``, ``(x^a)^n`` -> ``x^(a*n)``
                               (integer n only: ``(x^2)^0.5`` is ``|x|``, not ``x``)
division by a constant         ``x/2`` (kept as textbooks write it; ``0.5*x`` prints
                               ``x/2`` too), ``2*x/3``; ``0.1*x`` stays
common factor                  ``g*a + g*b`` -> ``g*(a + b)`` when a factor common to
                               every term has weight >= ``BIG`` (the other common
                               factors come along); not for ``x`` or ``sin(x)`` alone:
                               textbooks write ``3*x^2 + 2*x``
squares                        ``hypot(a, b)^2`` -> ``a^2 + b^2``,
                               ``sqrt(a)^2`` -> ``a``, ``abs(a)^2`` -> ``a^2``
parity                         ``cos(-x)`` -> ``cos(x)``, ``sin(-x)`` -> ``-sin(x)``
                               (the even and odd functions of ``EVEN`` / ``ODD``)
order                          factors: numbers, ``pi``/``e``, variables (in order
                               of first use), then the rest in creation order (the
                               formula's own values first: ``(x + 1)*cos(x)``, a
                               power with a symbolic exponent by its base:
                               ``y*x^(y - 1)``); denominators last:
                               ``2*x*sin(x)/y``; terms in the order they come (the
                               derivative of a sum of uses: as the uses are written,
                               ``1 + 2*x + 3*x^2``), a positive one first
=============================  =====================================================
"""

from __future__ import annotations

import math

from autodiff_cli.core.ops import OPS, Op

#: A view flattens at most this many factors (or terms); beyond, the node is an atom.
LIMIT = 8
#: The weight (operations in a node's tree) from which a factor common to every term of a
#: sum is pulled out of it.
BIG = 4
_CAP = 1 << 30

_VAR, _CONST = OPS["var"], OPS["const"]
_ADD, _SUB, _MUL, _DIV, _NEG, _POW = (OPS[n] for n in ("add", "sub", "mul", "div", "neg", "pow"))
#: Functions whose even powers have a simpler form (the "squares" rules).
_SQUARES = ("hypot", "sqrt", "abs")
#: f(-x) = f(x) and f(-x) = -f(x).
EVEN = frozenset({"cos", "cosh", "sec", "sech", "abs"})
ODD = frozenset({"sin", "tan", "cot", "csc", "sinh", "tanh", "coth", "csch", "asin", "atan",
                 "asinh", "atanh", "acsc", "acsch", "acoth", "erf", "sign", "cbrt"})
#: Constants printed by name; they stay atoms (``2*pi``, ``pi/2``), never folded into numbers.
NAMED = {math.pi: "pi", math.e: "e"}
#: Integer divisors tried when printing a coefficient as a fraction (``x/3``, ``2*x/3``).
_DIVISORS = range(2, 101)

_isfinite = math.isfinite


def const_text(v: float) -> str:
    """A constant as adiff reads it back to the same float: ``2``, ``0.5``, ``-3``, ``1e-07``."""
    named = NAMED.get(v)
    if named is not None:
        return named
    if _isfinite(v) and v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def is_short(v: float) -> bool:
    """A number worth folding a function of constants into: ``2``, ``0.5``, ``-1``, ``100``."""
    return _isfinite(v) and v not in NAMED and len(const_text(v)) <= 6


class Store:
    """One hash-consed graph, built by smart constructors (see the module note).

    Columns as in ``core.graph.Graph`` (``ops``, ``inputs``, ``labels``, ``consts``), in
    creation order; ``node(op, inputs)`` adds a node as it is (hash-consed, no rewriting:
    how a formula is copied in), the constructors add simplified ones.
    """

    def __init__(self):
        self.ops: list[Op] = []
        self.inputs: list[tuple[int, ...]] = []
        self.labels: list[str] = []
        self.consts: dict[int, float] = {}
        self.numbers: dict[int, float] = {}  # const nodes that are plain numbers (not pi, e)
        self._index: dict = {}
        self.pv: list = []  # product view per node
        self.sv: list = []  # sum view per node; None: the product view's one term (terms())
        self._rank: dict[int, tuple] = {}  # the factor order of leaves (else (3, id))
        self.weight: list[int] = []
        self.var_rank: dict[str, int] = {}
        self.canonical: list[bool] = []  # the node is a normal form (see mul)
        self._ratio_cache: dict[float, tuple[int, int] | None] = {}
        self._emitted: dict = {}  # product view -> its node
        self.ZERO = self.const(0.0)
        self.ONE = self.const(1.0)
        self.TWO = self.const(2.0)

    def __len__(self) -> int:
        return len(self.ops)

    # ------------------------------------------------------------ raw nodes

    def _append(self, op: Op, ins: tuple[int, ...], label: str, key) -> int:
        k = len(self.ops)
        self._index[key] = k
        self.ops.append(op)
        self.inputs.append(ins)
        self.labels.append(label)
        return k

    def var(self, name: str) -> int:
        key = ("var", name)
        k = self._index.get(key)
        if k is None:
            k = self._append(_VAR, (), name, key)
            rank = self.var_rank.setdefault(name, len(self.var_rank))
            atom = ((k, self.ONE),)
            self.pv.append((1.0, atom))
            self.sv.append(None)
            self._rank[k] = (2, rank)
            self.weight.append(0)
            self.canonical.append(True)
        return k

    def const(self, v: float) -> int:
        v = float(v)
        key = ("const", v, math.copysign(1.0, v) < 0.0)
        k = self._index.get(key)
        if k is None:
            k = self._append(_CONST, (), const_text(v), key)
            self.consts[k] = v
            if v in NAMED:
                atom = ((k, self.ONE),)
                self.pv.append((1.0, atom))
                self.sv.append(None)
                self._rank[k] = (1, k)
            else:
                self.numbers[k] = v
                self.pv.append((v, ()))
                self.sv.append(None)
                self._rank[k] = (0, k)
            self.weight.append(0)
            self.canonical.append(True)
        return k

    def node(self, op: Op, ins: tuple[int, ...], label: str = "", canonical: bool = False,
             view=None) -> int:
        """Node ``op(ins)`` as it is (hash-consed); ``label`` names it if it is new or unnamed.
        ``canonical``: the node is a normal form (what a constructor emitted); ``view``: its
        product view when the caller knows it (else computed from the inputs')."""
        key = (op, ins)
        k = self._index.get(key)
        if k is not None:
            if label and not self.labels[k]:
                self.labels[k] = label
            if canonical:
                self.canonical[k] = True
            return k
        if view is None:
            p, s = self._views(op, ins)  # (may add constants: before this node is appended)
        else:
            p, s = view, None
        k = self._append(op, ins, label, key)
        weight = self.weight
        w = 1
        for j in ins:
            w += weight[j]
        weight.append(w if w < _CAP else _CAP)
        atom = ((k, self.ONE),)
        if p is None:
            p = (1.0, atom)
        if s == ():
            s = None  # an atom: its one term
        self.pv.append(p)
        self.sv.append(s)
        self.canonical.append(canonical or op.kind == "function")
        return k

    def _views(self, op: Op, ins: tuple[int, ...]):
        """The product view (None: an atom) and the sum view (None: the product's one term;
        (): an atom) of a new node ``op(ins)``, from its inputs' views."""
        name = op.name
        p = None
        if name == "mul":
            pa, pb = self.pv[ins[0]], self.pv[ins[1]]
            c = pa[0] * pb[0]
            f = pa[1] + pb[1]
            if len(f) <= LIMIT and _isfinite(c):
                p = (c, self._norm(f))
        elif name == "div":
            pa, pb = self.pv[ins[0]], self.pv[ins[1]]
            inv = self._inverse(pb)
            if inv is not None:
                c = pa[0] / pb[0]
                f = pa[1] + inv
                if len(f) <= LIMIT and _isfinite(c):
                    p = (c, self._norm(f))
        elif name == "neg":
            pa = self.pv[ins[0]]
            return (-pa[0], pa[1]), tuple((-c, f) for c, f in self.terms(ins[0]))
        elif name == "pow":
            p = self._pow_view(ins[0], ins[1])
            if p is not None:
                p = (p[0], self._norm(p[1]))
        elif name == "add" or name == "sub":
            sa, sb = self.terms(ins[0]), self.terms(ins[1])
            if name == "sub":
                sb = tuple((-c, f) for c, f in sb)
            t = sa + sb
            return None, (t if len(t) <= LIMIT else ())
        return p, None

    def _norm(self, factors):
        """Factors with equal bases and numeric exponents merged, x^0 dropped, sorted: the
        key of a term, so that ``x*x`` and ``x^2`` are like terms (adds only constants)."""
        if len(factors) < 2:
            return factors
        numbers = self.numbers
        merged: dict[int, int] = {}
        rest = []
        for b, e in factors:
            old = merged.get(b)
            if old is None:
                merged[b] = e
            else:
                n1, n2 = numbers.get(old), numbers.get(e)
                if n1 is None or n2 is None:
                    rest.append((b, e))
                else:
                    merged[b] = self.const(n1 + n2)
        out = [(b, e) for b, e in merged.items() if e != self.ZERO] + rest
        out.sort(key=self._factor_order)
        return tuple(out)

    def terms(self, k: int) -> tuple:
        """Node ``k``'s sum view: its terms ``(coef, factors)``, a constant's with no factors."""
        s = self.sv[k]
        if s is not None:
            return s
        c, f = self.pv[k]
        return ((c, f),) if f or c != 0.0 else ()

    def _inverse(self, p):
        """The factors of 1 / (a product view), or None when it has no flat inverse (a zero
        coefficient, a symbolic exponent)."""
        c, f = p
        if c == 0.0:
            return None
        out = []
        for b, e in f:
            n = self.numbers.get(e)
            if n is None:
                return None
            out.append((b, self.const(-n)))
        return tuple(out)

    def _pow_view(self, a: int, e: int):
        n = self.numbers.get(e)
        pa = self.pv[a]
        if n is None:  # a symbolic exponent
            if pa[0] == 1.0 and len(pa[1]) == 1 and pa[1][0][1] == self.ONE:
                return 1.0, ((pa[1][0][0], e),)
            return 1.0, ((a, e),)
        if n == int(n) and abs(n) <= 64:
            try:
                c = math.pow(pa[0], n)
            except (OverflowError, ValueError, ZeroDivisionError):
                return None
            out = []
            for b, k in pa[1]:
                m = self.numbers.get(k)
                if m is None:
                    return None
                out.append((b, self.const(m * n)))
            return (c, tuple(out)) if _isfinite(c) else None
        if pa[0] == 1.0 and len(pa[1]) == 1 and pa[1][0][1] == self.ONE:
            return 1.0, ((pa[1][0][0], e),)
        return 1.0, ((a, e),)

    # ------------------------------------------------------------ normal forms

    def _add_exp(self, e1: int, e2: int) -> int:
        n1, n2 = self.numbers.get(e1), self.numbers.get(e2)
        if n1 is not None and n2 is not None:
            return self.const(n1 + n2)
        return self.add(e1, e2)

    def _canon_prod(self, c: float, factors) -> tuple[float, list]:
        """Equal bases merged (exponents added), x^0 dropped, the squares rewritten, sorted."""
        merged: dict[int, int] = {}
        for b, e in factors:
            old = merged.get(b)
            merged[b] = e if old is None else self._add_exp(old, e)
        out = []
        rewritten = []
        for b, e in merged.items():
            if e == self.ZERO:
                continue
            n = self.numbers.get(e)
            if n is not None and n % 2.0 == 0.0 and self.ops[b].name in _SQUARES:
                # hypot(a, b)^2 = a^2 + b^2, sqrt(a)^2 = a, abs(a)^2 = a^2
                op = self.ops[b].name
                ins = self.inputs[b]
                if op == "hypot":
                    base = self.add(self.pow(ins[0], self.TWO), self.pow(ins[1], self.TWO))
                    rewritten.append(self.pow(base, self.const(n / 2.0)))
                elif op == "sqrt":
                    rewritten.append(self.pow(ins[0], self.const(n / 2.0)))
                else:
                    rewritten.append(self.pow(ins[0], e))
                continue
            out.append((b, e))
        if rewritten:
            for k in rewritten:
                p = self.pv[k]
                if _isfinite(c * p[0]):
                    c *= p[0]
                    out.extend(p[1])
                else:  # (overflow: keep the factor whole)
                    out.append((k, self.ONE))
            return self._canon_prod(c, out)
        out.sort(key=self._factor_order)
        return c, out

    def _factor_order(self, factor):
        """Numbers, pi and e, variables (in order of first use), then the rest in creation
        order -- a power with a symbolic exponent among the rest, by its base."""
        b, e = factor
        if e in self.numbers:
            return self._rank.get(b) or (3, b)
        return (3, b)

    def _ratio(self, m: float):
        """(n, d) with m == n/d for small integers, d > 1, when a fraction reads better."""
        cache = self._ratio_cache
        if m in cache:
            return cache[m]
        found = None
        for d in _DIVISORS:
            n = m * d
            if n < 1e6 and n == int(n) and n / d == m:
                n = int(n)
                if n == 1 and d % 10 == 0 and str(d).strip("0") == "1":
                    break  # 0.1, 0.01: decimals read better
                if n == 1 or len(repr(m)) > 8:
                    found = (n, d)
                break
        cache[m] = found
        return found

    def _emit_prod(self, c: float, factors) -> int:
        """Nodes for the normal product ``c · Π factors``: ``-2*x*sin(x)/y^2``."""
        if c == 0.0:
            return self.ZERO
        if not factors:
            return self._number(c)
        one = self.ONE
        if c == 1.0 and len(factors) == 1 and factors[0][1] == one:
            return factors[0][0]
        key = (c, tuple(factors))
        k = self._emitted.get(key)
        if k is not None:
            return k
        k = self._emitted[key] = self._emit_new(c, factors)
        return k

    def _emit_new(self, c: float, factors) -> int:
        one = self.ONE
        node, numbers = self.node, self.numbers
        top, bottom = [], []
        for b, e in factors:
            n = numbers.get(e)
            if n is not None and n < 0.0:
                bottom.append(b if n == -1.0 else node(_POW, (b, self.const(-n))))
            else:
                top.append(b if e == one else node(_POW, (b, e)))
        m = abs(c)
        negative = c < 0.0
        ratio = self._ratio(m) if m != 1.0 else None
        if ratio is not None:
            n, d = ratio
            if n != 1:
                top.insert(0, self.const(float(n)))
            bottom.insert(0, self.const(float(d)))
        elif m != 1.0:
            top.insert(0, self.const(m))
        if negative:
            if top and top[0] in numbers:
                top[0] = self.const(-numbers[top[0]])
            elif top:
                top[0] = node(_NEG, (top[0],))
            else:
                top.append(self.const(-1.0))
        pv = self.pv
        num = top[0] if top else one
        c0, f0 = pv[num]
        for f in top[1:]:
            # a prefix of a normal product is normal: its view is the concatenation
            c1, f1 = pv[f]
            c0, f0 = c0 * c1, f0 + f1
            num = node(_MUL, (num, f), view=(c0, f0) if len(f0) <= LIMIT else None)
        if bottom:
            den = bottom[0]
            c0, f0 = pv[den]
            for f in bottom[1:]:
                c1, f1 = pv[f]
                c0, f0 = c0 * c1, f0 + f1
                den = node(_MUL, (den, f), view=(c0, f0) if len(f0) <= LIMIT else None)
            small = len(factors) <= LIMIT
            num = node(_DIV, (num, den), view=(c, tuple(factors)) if small else None)
        self.canonical[num] = True
        if len(factors) <= LIMIT:
            # the view the node was made from (a whole factor stays one), not its structure's
            f = tuple(factors)
            self.pv[num] = (c, f)
            self.sv[num] = None
        return num

    def _number(self, c: float) -> int:
        """A constant result: ``2/3`` rather than 0.6666666666666666 (the same float)."""
        if len(repr(c)) > 8:
            ratio = self._ratio(abs(c))
            if ratio is not None:
                n, d = ratio
                k = self.node(_DIV, (self.const(math.copysign(n, c)), self.const(float(d))))
                self.canonical[k] = True
                return k
        return self.const(c)

    def _prod(self, c: float, factors) -> int:
        if not factors or c == 0.0:
            return self._emit_prod(c, ())
        c, factors = self._canon_prod(c, factors)
        return self._emit_prod(c, factors)

    def _canon_sum(self, terms) -> list:
        """Like terms merged (constants into the first constant), zero terms dropped."""
        where: dict = {}
        out: list = []
        for c, f in terms:
            k = where.get(f)
            if k is not None and _isfinite(out[k][0] + c):
                out[k][0] += c
            else:  # a new term (or one whose coefficient would overflow: kept apart)
                where[f] = len(out)
                out.append([c, f])
        return [(c, f) for c, f in out if c != 0.0]

    def _sum(self, terms) -> int:
        return self._emit_prod(*self._sum_view(terms))

    def _sum_view(self, terms):
        """The normal form of a sum of terms, as a product view: one term, a common factor
        times a sum, or a sum node as the one factor."""
        terms = self._canon_sum(terms)
        if not terms:
            return 0.0, ()
        if len(terms) == 1:
            return terms[0]
        opened = [(c, self._open(f)) for c, f in terms]
        common = self._common(opened)
        if common:
            rest = []
            for (c, o), (_, g) in zip(opened, terms):
                f = list(o)
                for x in common:
                    f.remove(x)
                if f and o is not g:  # an opened product: its factors among the others
                    c, f = self._canon_prod(c, f)
                rest.append((c, tuple(f)))
            inner = self._sum(rest)
            c, f = self._canon_prod(1.0, [*common, (inner, self.ONE)])
            return c, tuple(f)
        return 1.0, ((self._emit_sum(terms), self.ONE),)

    def _open(self, factors) -> tuple:
        """A term's factors with the products among them (a product kept whole as one factor
        of a larger one) opened, one level: where to look for a factor common to every term."""
        pv, one = self.pv, self.ONE
        out = None
        for k, (b, e) in enumerate(factors):
            p = pv[b]
            if e == one and p[0] == 1.0 and len(p[1]) > 1:
                if out is None:
                    out = list(factors[:k])
                out.extend(p[1])
            elif out is not None:
                out.append((b, e))
        return factors if out is None else tuple(out)

    def _common(self, terms) -> list:
        """The factors every term of a sum has (same base and exponent), when one of them is
        big (weight >= BIG); else none."""
        first = terms[0][1]
        if not first:
            return []
        cands = list(dict.fromkeys(first))
        for _, f in terms[1:]:
            if not f:
                return []
            cands = [x for x in cands if x in f]
            if not cands:
                return []
        weight = self.weight
        return cands if any(weight[b] >= BIG for b, _ in cands) else []

    def _emit_sum(self, terms) -> int:
        """Nodes for a normal sum: a positive term first (``b - a``), ``-(a + b)`` when every
        term is negative."""
        if all(c < 0.0 for c, _ in terms):
            return self.node(_NEG, (self._emit_sum([(-c, f) for c, f in terms]),),
                             canonical=True)
        if terms[0][0] < 0.0:
            k = next(i for i, (c, _) in enumerate(terms) if c > 0.0)
            terms = [terms[k], *terms[:k], *terms[k + 1:]]
        node = self.node
        acc = None
        for c, f in terms:
            m = abs(c)
            t = self._number(m) if not f else self._emit_prod(m, f)
            if acc is None:
                acc = t
            else:
                acc = node(_SUB if c < 0.0 else _ADD, (acc, t))
        self.canonical[acc] = True
        return acc

    # ------------------------------------------------------------ smart constructors

    def add(self, a: int, b: int) -> int:
        if b == self.ZERO and self.canonical[a]:
            return a
        if a == self.ZERO and self.canonical[b]:
            return b
        return self._sum(self.terms(a) + self.terms(b))

    def sub(self, a: int, b: int) -> int:
        if b == self.ZERO and self.canonical[a]:
            return a
        return self._sum(self.terms(a) + tuple((-c, f) for c, f in self.terms(b)))

    def neg(self, a: int) -> int:
        return self._sum(tuple((-c, f) for c, f in self.terms(a)))

    def total(self, nodes) -> int:
        """The sum of ``nodes``, in that order (the contributions to a value used several
        times)."""
        if len(nodes) == 1:
            return nodes[0]
        of = self.terms
        terms: list = []
        for k in nodes:
            terms.extend(of(k))
        return self._sum(terms)

    # ------------------------------------------------------------ products as numbers
    # The backward pass multiplies and sums product views (``(coef, factors)``) instead of
    # nodes, so the contributions it sums away are never built; ``vnode`` builds one.

    ZERO_VIEW = (0.0, ())
    ONE_VIEW = (1.0, ())

    def vmul(self, pa, pb):
        """The product of two product views (normal form); a side with too many factors to
        flatten stays one factor (built)."""
        if not pa[1] and pa[0] == 1.0:
            return pb
        if not pb[1] and pb[0] == 1.0:
            return pa
        c = pa[0] * pb[0]
        if c == 0.0:
            return 0.0, ()
        fa, fb = pa[1], pb[1]
        if not _isfinite(c):
            k = self.node(_MUL, (self._emit_prod(*pa), self._emit_prod(*pb)))
            return 1.0, ((k, self.ONE),)
        if len(fa) + len(fb) > LIMIT:
            if len(fa) >= len(fb):
                fa = ((self._emit_prod(1.0, fa), self.ONE),)
            else:
                fb = ((self._emit_prod(1.0, fb), self.ONE),)
        if len(fb) == 1 and fa:
            f = self._insert(fa, fb[0])
            if f is not None:
                return c, f
        elif len(fa) == 1 and fb:
            f = self._insert(fb, fa[0])
            if f is not None:
                return c, f
        c, f = self._canon_prod(c, fa + fb)
        return c, tuple(f)

    def _insert(self, factors, factor):
        """A normal factor tuple with one new factor put in its place, when nothing merges
        or is rewritten (else None: the general normal form)."""
        b = factor[0]
        for x, _ in factors:
            if x == b:
                return None
        if self.ops[b].name in _SQUARES:
            return None
        order = self._factor_order
        k = order(factor)
        for i, f in enumerate(factors):
            if order(f) > k:
                return factors[:i] + (factor,) + factors[i:]
        return factors + (factor,)

    def vtotal(self, views):
        """The sum of product views, in that order, as a product view."""
        if len(views) == 1:
            return views[0]
        sv, one = self.sv, self.ONE
        terms: list = []
        for c, f in views:
            s = sv[f[0][0]] if len(f) == 1 and f[0][1] == one and (c == 1.0 or c == -1.0) \
                else None
            if s is not None and len(s) > 1:  # (a sum node: its terms)
                terms.extend(s if c == 1.0 else [(-t, g) for t, g in s])
            else:
                terms.append((c, f))
        return self._sum_view(terms)

    def vnode(self, view) -> int:
        """The node of a product view."""
        return self._emit_prod(*view)

    def mul(self, a: int, b: int) -> int:
        pa, pb = self.pv[a], self.pv[b]
        if not pa[1] and pa[0] == 1.0 and self.canonical[b]:
            return b
        if not pb[1] and pb[0] == 1.0 and self.canonical[a]:
            return a
        if len(pa[1]) + len(pb[1]) > LIMIT:
            # too many factors to flatten: the larger product stays one factor
            if len(pa[1]) >= len(pb[1]) and self.canonical[a]:
                pa = (1.0, ((a, self.ONE),))
            elif self.canonical[b]:
                pb = (1.0, ((b, self.ONE),))
        c = pa[0] * pb[0]
        if not _isfinite(c):
            return self.node(_MUL, (a, b))
        return self._prod(c, pa[1] + pb[1])

    def div(self, a: int, b: int) -> int:
        pa, pb = self.pv[a], self.pv[b]
        if not pb[1] and pb[0] == 1.0 and self.canonical[a]:
            return a
        inv = self._inverse(pb)
        c = pa[0] / pb[0] if inv is not None else math.inf
        if not _isfinite(c):
            return self.node(_DIV, (a, b))
        return self._prod(c, pa[1] + inv)

    def pow(self, a: int, e: int) -> int:
        n = self.numbers.get(e)
        if n is not None:
            if n == 1.0:
                return a
            if n == 0.0:
                return self.ONE
            base = self.numbers.get(a)
            if base is not None:
                try:
                    v = math.pow(base, n)
                except (OverflowError, ValueError, ZeroDivisionError):
                    return self.node(_POW, (a, e))
                return self.const(v) if is_short(v) else self.node(_POW, (a, e))
        p = self._pow_view(a, e)
        if p is None:
            return self.node(_POW, (a, e))
        return self._prod(p[0], p[1])

    def call(self, op: Op, args: tuple[int, ...]) -> int:
        """``op(args)`` for a function op: folded when every argument is a number and the
        result is short, ``f(-x)`` by parity, else the node."""
        consts = self.consts  # numbers, pi and e: log(e) is 1, sin(pi) stays
        if all(a in consts for a in args):
            try:
                v = op.value(*[consts[a] for a in args])
            except (OverflowError, ValueError, ZeroDivisionError):
                v = math.nan
            if is_short(v):
                return self.const(v)
        if len(args) == 1 and (op.name in EVEN or op.name in ODD):
            s = self.terms(args[0])
            if len(s) == 1 and s[0][0] < 0.0:
                inner = self.call(op, (self.neg(args[0]),))
                return inner if op.name in EVEN else self.neg(inner)
        return self.node(op, args)

    def exact(self, op: Op, ins: tuple[int, ...]):
        """``op(ins)`` rewritten where the result has the very same floating-point value
        (where it is defined): constants folded node by node, as the engine computes them,
        when the result is a short number (``1 + 0.5^2`` is 1.25; ``1/3`` stays), ``x - x``, ``x*1``,
        ``x/1``, ``x + 0``, ``x - 0``, ``x*0``, ``0/x``, ``--x``, ``x^1``, ``x^0``. None when
        none applies."""
        numbers = self.numbers
        name = op.name
        if all(a in numbers for a in ins):
            try:
                v = op.value(*[numbers[a] for a in ins])
            except (OverflowError, ValueError, ZeroDivisionError):
                return None
            return self.const(v) if is_short(v) else None  # (1/3 stays 1/3)
        zero, one = self.ZERO, self.ONE
        if len(ins) == 2:
            a, b = ins
            if name == "sub":
                return zero if a == b else (a if b == zero else None)
            if name == "add":
                return a if b == zero else (b if a == zero else None)
            if name == "mul":
                if a == zero or b == zero:
                    return zero
                return a if b == one else (b if a == one else None)
            if name == "div":
                return a if b == one else (zero if a == zero else None)
            if name == "pow":
                return a if b == one else (one if b == zero else None)
        elif name == "neg" and self.ops[ins[0]] is _NEG:
            return self.inputs[ins[0]][0]
        return None

    def apply(self, op: Op, args: tuple[int, ...]) -> int:
        """The smart constructor of ``op``."""
        name = op.name
        if name == "add":
            return self.add(*args)
        if name == "sub":
            return self.sub(*args)
        if name == "mul":
            return self.mul(*args)
        if name == "div":
            return self.div(*args)
        if name == "neg":
            return self.neg(*args)
        if name == "pow":
            return self.pow(*args)
        return self.call(op, args)


__all__ = ["Store", "const_text", "is_short", "LIMIT", "BIG", "EVEN", "ODD", "NAMED"]
