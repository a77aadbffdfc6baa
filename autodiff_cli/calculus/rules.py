"""The rule compiler: op-table formulas -> straight-line Python, once per (op, backend).

A row of the op table (``core/ops.py``) states its op once: the value (a primitive's name, or
a formula in adiff's own syntax over the inputs ``a``, ``b``, ...) and a local derivative
per input (formulas over the inputs and the output ``out``), or ``rule("pow", ...)`` for
one of the few hand-written rules below. This module turns those formulas into Python
source the first time an op is used with a backend (``backends.py``), ``compile()``s it
and hands back the function: ``op.value``, ``op.local``, ``op.cvalue``, ... are these
functions, built lazily. Only the op table is ever compiled, never user input.

How a formula becomes code: adiff's parser reads it into a graph (with
``parse(..., functions=formula_functions())``: the internal primitives of ``ops.PRIMITIVES``
are callable there, and only there); the nodes, in creation order, are
hash-consed across all the formulas of a rule (one ``tanh(a)`` for two uses), constant
subexpressions are folded with the math backend (``2/sqrt(pi)`` is one literal), and the
code is emitted with a temporary for each node used more than once and everything else
inline. ``+ - * /`` and unary minus are Python operators; ``x^2`` is ``x*x`` where the
backend says so; every other primitive is the backend's function itself, bound in the
generated function's globals. A value that is a primitive applied to the inputs in order
(``sin``) is the backend function itself, not a wrapper: ``OPS["sin"].value is math.sin``.

The hand-written rules (``HAND``) exist where a formula cannot state the piecewise or
stable form. Each is written once over a backend namespace ``ns`` (``ns.where``,
``ns.any``, ``ns.hypot``, ...), so the same code serves floats, arrays and duals: the
common case is computed for everything, and the rare case (a zero base, a subnormal
result) is fixed up only where ``ns.any`` finds one -- for floats, a plain ``if``.
"""

from __future__ import annotations

import math
import operator
import re

from autodiff_cli.calculus.backends import BACKENDS, DOWN, TINY, UP, Backend, Expr
from autodiff_cli.core.ops import Rule, rule  # noqa: F401 - the table's hand-written rule names; re-exported

_INF = math.inf
_NAN = math.nan
PARAMS = ("a", "b", "c", "d")  # the names of an op's inputs in its formulas


class RuleError(Exception):
    """A formula of the op table that does not compile (a bug in the table)."""


class NoImplementation(Exception):
    """A primitive the backend does not have (cmath: erf, abs): the op has no such form."""


# ---------------------------------------------------------------- parsing formulas

_PARSED: dict[str, object] = {}
_FUNCTIONS: dict = {}


def formula_functions() -> dict:
    """The functions the table's formulas may call: the language's, and the internal
    primitives (``ops.PRIMITIVES``), which user formulas may not."""
    if not _FUNCTIONS:
        from autodiff_cli.core import ops

        table = {name: dict(by_arity) for name, by_arity in ops.FUNCTIONS.items()}
        for name, op in ops.PRIMITIVES.items():
            table[name] = {op.arity: op}
        _FUNCTIONS.update(table)
    return _FUNCTIONS


def parse_formula(text: str):
    """The graph of one formula of the table (cached: the table is small and fixed)."""
    graph = _PARSED.get(text)
    if graph is None:
        from autodiff_cli.errors import InputError
        from autodiff_cli.language.parser import parse

        try:
            graph = parse(text, functions=formula_functions())
        except InputError as exc:
            raise RuleError(f"the op table's formula {text!r} does not parse: {exc}") from None
        _PARSED[text] = graph
    return graph


# ---------------------------------------------------------------- code generation

def _literal(v: float) -> str:
    if v != v:
        return "_nan"
    if v in (_INF, -_INF):
        return "_inf" if v > 0 else "(-_inf)"
    text = repr(float(v))
    return f"({text})" if text.startswith("-") else text


_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
#: The operators as functions (the same for every backend: Python's own operators), for a
#: value that is one operator applied to the inputs: ``OPS["add"].value is operator.add``.
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "neg": operator.neg}
#: A formula that is one number or one name needs no parse (``"1"``, ``"-1"``, ``"out"``).
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")


def _fold(name: str, args: list[float]) -> float:
    """A constant subexpression, evaluated once with the math backend."""
    if name == "add":
        return args[0] + args[1]
    if name == "sub":
        return args[0] - args[1]
    if name == "mul":
        return args[0] * args[1]
    if name == "div":
        return args[0] / args[1]
    if name == "neg":
        return -args[0]
    return resolve(BACKENDS["math"], name)(*args)


def resolve(backend: Backend, name: str):
    """The backend's implementation of primitive ``name``; an op whose value is a formula
    (``sec``) is that formula compiled for the backend. NoImplementation if there is none."""
    table = backend.table
    if name in _OPERATORS and name not in table:
        return _OPERATORS[name]
    if name in table:
        impl = table[name]
        if impl is None:
            raise NoImplementation(name)
        return impl
    from autodiff_cli.core.ops import OPS

    op = OPS.get(name)
    if op is None or op.kind == "leaf" or _bare(op):
        raise RuleError(f"the {backend.name} backend has no primitive {name!r}")
    impl = compiled(op, "value", backend.name)
    if impl is None:
        raise NoImplementation(name)
    return impl


class _Code:
    """Formulas of one rule as one DAG of hash-consed nodes, then as Python source."""

    def __init__(self, backend: Backend, params: tuple[str, ...]):
        self.backend = backend
        self.params = params
        self.nodes: list[tuple] = []  # ("arg", name) | ("const", v) | (op name, child ids)
        self.index: dict = {}
        self.env: dict = {"__builtins__": {}, "_inf": _INF, "_nan": _NAN}

    def _intern(self, key) -> int:
        k = self.index.get(key)
        if k is None:
            k = self.index[key] = len(self.nodes)
            self.nodes.append(key)
        return k

    def add(self, text: str) -> int:
        """The node of one formula's value."""
        atom = text.strip()
        if _NUMBER.fullmatch(atom):
            return self._intern(("const", repr(float(atom))))
        if atom.isidentifier() and atom in self.params:
            return self._intern(("arg", atom))
        graph = parse_formula(text)
        ids: list[int] = []
        for i, op in enumerate(graph.ops):
            name = op.name
            if name == "var":
                label = graph.labels[i]
                if label not in self.params:
                    raise RuleError(f"the formula {text!r} uses {label!r}; it may use only "
                                    f"{', '.join(self.params)}")
                key = ("arg", label)
            elif name == "const":
                v = graph.consts[i]
                key = ("const", repr(v))
            else:
                kids = tuple(ids[j] for j in graph.inputs[i])
                if all(self.nodes[k][0] == "const" for k in kids):
                    v = _fold(name, [float(self.nodes[k][1]) for k in kids])
                    key = ("const", repr(v))
                else:
                    key = (name, kids)
            ids.append(self._intern(key))
        return ids[graph.output]

    def _square(self, key) -> bool:
        name, kids = key
        return (name == "pow" and self.backend.square and self.nodes[kids[1]][0] == "const"
                and float(self.nodes[kids[1]][1]) == 2.0)

    def source(self, fname: str, roots: list[int], tuple_out: bool) -> str:
        refs = [0] * len(self.nodes)
        for k in roots:
            refs[k] += 1
        for key in self.nodes:
            if key[0] not in ("arg", "const"):
                for c in key[1]:
                    refs[c] += 1
                if self._square(key):
                    refs[key[1][0]] += 1  # x*x names x once
        names: dict[int, str] = {}
        lines: list[str] = []

        def text(k: int) -> str:
            if k in names:
                return names[k]
            key = self.nodes[k]
            if key[0] == "arg":
                return key[1]
            if key[0] == "const":
                return _literal(float(key[1]))
            name, kids = key
            args = [text(c) for c in kids]
            if name in _INFIX:
                return f"({args[0]} {_INFIX[name]} {args[1]})"
            if name == "neg":
                return f"(-{args[0]})"
            if self._square(key):
                return f"({args[0]} * {args[0]})"
            fn = f"_{name}"
            if fn not in self.env:
                self.env[fn] = resolve(self.backend, name)
            return f"{fn}({', '.join(args)})"

        for k, key in enumerate(self.nodes):
            if key[0] not in ("arg", "const") and refs[k] > 1:
                lines.append(f"t{k} = {text(k)}")
                names[k] = f"t{k}"
        outs = [text(k) for k in roots]
        ret = f"({', '.join(outs)},)" if tuple_out else outs[0]
        body = "".join(f"    {line}\n" for line in lines)
        return f"def {fname}({', '.join(self.params)}):\n{body}    return {ret}\n"

    def function(self, fname: str, roots: list[int], tuple_out: bool, label: str):
        src = self.source(fname, roots, tuple_out)
        code = compile(src, f"<adiff rule: {label}>", "exec")
        exec(code, self.env)  # noqa: S102 - source generated from the op table only
        fn = self.env[fname]
        SOURCES[label] = src
        return fn


#: The generated source of every compiled rule, by "op what backend" (for tests and debugging).
SOURCES: dict[str, str] = {}


def _bare(op) -> bool:
    """The op's value is a primitive applied to its inputs (``value="sin"``)."""
    return op.formula is not None and op.formula.isidentifier()


def _params(op, n: int | None = None) -> tuple[str, ...]:
    n = op.arity if n is None else n
    if n > len(PARAMS):
        raise RuleError(f"{op.name}: formulas take at most {len(PARAMS)} inputs")
    return PARAMS[:n]


def _leaf_value():
    return _NAN


def _leaf_local(out):
    return ()


# ---------------------------------------------------------------- compiling an op

def compile_value(op, backend: Backend):
    """The op's value over ``backend`` (None: the backend has no such form, e.g. cmath erf)."""
    if op.kind == "leaf":  # a leaf's value comes from the graph; no complex version
        return _leaf_value if backend.name == "math" else None
    try:
        if _bare(op):
            return resolve(backend, op.formula)
        if op.arity is None:
            raise RuleError(f"{op.name}: a variadic op's value must be a primitive")
        code = _Code(backend, _params(op))
        root = code.add(op.formula)
        key = code.nodes[root]
        if key[0] not in ("arg", "const") and not code._square(key) \
                and [code.nodes[c] for c in key[1]] == [("arg", p) for p in code.params]:
            return resolve(backend, key[0])  # sin(a), a + b: the primitive itself
        return code.function(f"{op.name}_value", [root], False, f"{op.name} value {backend.name}")
    except NoImplementation:
        return None


def compile_local(op, backend: Backend):
    """(a, b, ..., out) -> the local derivatives, over ``backend``."""
    if op.kind == "leaf":
        return _leaf_local
    d = op.d
    if isinstance(d, Rule):
        if backend.name == "graph":
            return _symbolic_rule(op, d)
        if "where" not in backend.table:
            return None  # cmath: the complex step needs values only
        return HAND[d.name](backend.ns)
    if op.arity is None or len(d) != op.arity:
        raise RuleError(f"{op.name}: needs one derivative formula per input")
    try:
        code = _Code(backend, (*_params(op), "out"))
        roots = [code.add(f) for f in d]
        return code.function(f"{op.name}_local", roots, True, f"{op.name} local {backend.name}")
    except NoImplementation:
        return None


def compile_kink(op, backend: Backend):
    """(a, b, ...) -> true at the kink: one expression for floats and arrays, or a rule."""
    spec = op.kink_at
    if spec is None:
        return None
    if isinstance(spec, Rule):
        return HAND[spec.name](backend.ns) if "has_tie" in backend.table else None
    if backend.name != "math":
        return compiled(op, "kink", "math")  # the same expression serves every backend
    params = ", ".join(_params(op))
    src = f"def {op.name}_kink({params}):\n    return {spec}\n"
    code = compile(src, f"<adiff rule: {op.name} kink>", "exec")
    env: dict = {"__builtins__": {}}
    exec(code, env)  # noqa: S102 - the op table's own kink expression
    SOURCES[f"{op.name} kink"] = src
    return env[f"{op.name}_kink"]


_COMPILERS = {"value": compile_value, "local": compile_local, "kink": compile_kink}


def compiled(op, what: str, backend: str):
    """``op``'s ``what`` ("value", "local", "kink") for ``backend``, compiled on first use."""
    cache = op.__dict__.setdefault("_compiled", {})
    key = (what, backend)
    try:
        return cache[key]
    except KeyError:
        pass
    fn = _COMPILERS[what](op, BACKENDS[backend])
    cache[key] = fn
    return fn


# ---------------------------------------------------------------- graph and tangent backends

def _symbolic_rule(op, r: Rule):
    """The graph backend's form of a hand-written rule: its stated ordinary-point formulas."""
    if r.each is not None:
        each = r.each

        def local(*args):
            code = _Code(BACKENDS["graph"], ("x", "out"))
            root = code.add(each)
            fn = code.function(f"{op.name}_each", [root], False, f"{op.name} each graph")
            return tuple(Expr.of(fn(x, args[-1])) for x in args[:-1])
        return local
    if r.formulas:
        code = _Code(BACKENDS["graph"], (*_params(op), "out"))
        roots = [code.add(f) for f in r.formulas]
        return code.function(f"{op.name}_local", roots, True, f"{op.name} local graph")

    def opaque(*args):  # max/min: the tie share has no formula
        return tuple(Expr(f"{op.name}_share", (Expr("const", (float(k),)), *map(Expr.of, args)))
                     for k in range(len(args) - 1))
    return opaque


def symbolic(op, n: int | None = None) -> tuple[Expr, ...]:
    """The op's local derivatives as expressions in its inputs ``a``, ``b``, ... and ``out``
    (graph backend); ``n`` inputs for a variadic op (named ``x1``, ``x2``, ...)."""
    local = compiled(op, "local", "graph")
    if op.arity is None:
        names = [f"x{k + 1}" for k in range(n or op.min_arity)]
    else:
        names = list(_params(op))
    args = [Expr("var", (name,)) for name in names] + [Expr("var", ("out",))]
    return tuple(Expr.of(x) for x in local(*args))


def tangent(op):
    """The op's value over dual numbers (tangent backend): forward mode."""
    return compiled(op, "value", "tangent")


# ---------------------------------------------------------------- the hand-written rules
# Each is written once, as a function of the backend namespace ``ns`` that returns the rule
# (inputs, then the output -> local derivatives) with the namespace's functions bound.
# Conditions use only comparisons, ``&`` and ``|`` (Python bools, NumPy arrays and, on
# duals, comparisons of the values). ``c is not False and any_(c)`` is the test "is there
# an element where c holds": for a float it is False at the cost of an ``is``, so the
# fix-ups for the rare cases cost the hot loop nothing; for an array it is ``np.any``.

def div_rule(ns):
    any_, where, div_prod = ns.any, ns.where, ns.div_prod

    def div_local(a, b, out):
        # -a/b² as -out/b, unless out went subnormal (and lost digits) on the way.
        db = -out / b
        lost = abs(out) < TINY
        if lost is not False and any_(lost):
            db = where(lost & (a != 0.0), -div_prod(a, b, b), db)
        return 1.0 / b, db
    return div_local


def pow_rule(ns):
    any_, where, log, mul_div, pow_total, fmod = (ns.any, ns.where, ns.log, ns.mul_div,
                                                  ns.pow_total, ns.fmod)

    def pow_local(a, b, out):
        # d/da a^b = b·a^(b-1): from out = a^b (exact to rounding, unlike b - 1) while out
        # is a normal float; from a^((b-1)/2) squared where out went subnormal or overflowed;
        # at a = 0 it is 0 for b > 1 or b == 0, 1 for b == 1, and infinite for 0 < b < 1
        # (the engine reports it if it is needed). d/db a^b = a^b·ln a, defined for a > 0;
        # 0 at a = 0 (b > 0); not defined for a negative base (only integer exponents exist).
        zero = a == 0.0
        some_zero = zero is not False and any_(zero)
        safe = where(zero, 1.0, a) if some_zero else a
        m = abs(out)
        lost = (m < TINY) | (m == _INF)  # out is not a normal float
        some_lost = lost is not False and any_(lost)
        q = out / safe
        da = b * q
        mq = abs(q)
        odd = (mq < TINY) | (mq == _INF)
        if odd is not False and any_(odd):  # out/a lost digits: b·out/a rounded once
            redo = odd & (m >= TINY) & (m < _INF) & (a != 0.0)
            da = where(redo, mul_div(b, out, safe), da)
        if some_lost:
            c = b - 1.0
            p = pow_total(abs(safe), c / 2.0)
            sign = where((a < 0.0) & (fmod(c, 2.0) != 0.0), -1.0, 1.0)
            da = where(lost & (a != 0.0), sign * (b * p) * p, da)
        if some_zero:
            # For b > 1 as b·a^(b - 1) (0 here), not the constant 0: over dual numbers its own
            # derivative along a is then right too (2 for a^2 at 0, a second derivative).
            above = b > 1.0
            power = b * pow_total(a, where(above, b - 1.0, 1.0))
            da = where(zero, where(above, power, where(b == 0.0, 0.0,
                                                       where(b == 1.0, 1.0, _INF))), da)
        pos = a > 0.0
        if pos is True:
            log_a = log(a)
            db = out * log_a
        else:
            log_a = log(where(pos, a, 1.0))
            db = where(pos, out * log_a, where(zero & (b > 0.0), 0.0, _NAN))
        if some_lost:
            redo = lost & pos & (out != _INF)
            if redo is not False and any_(redo):
                p = pow_total(where(pos, a, 1.0), b / 2.0)
                db = where(redo, (p * log_a) * p, db)
        return da, db
    return pow_local


def tie_rule(ns):
    def tie_share(*a):
        # The gradient is split evenly between the arguments equal to the result.
        best = a[-1]
        hits = [x == best for x in a[:-1]]
        ties = sum(hits)
        return tuple(h / ties for h in hits)
    return tie_share


def ties_rule(ns):
    return ns.has_tie  # (x1, x2, ...) -> some two are equal


def softmax_rule(ns):
    maximum, exp, total = ns.max, ns.exp, ns.sum

    def softmax(*a):
        # From the shifted exponentials: exp(x - out) would lose the denominator when out
        # rounds to max(x) (logsumexp(1e16, 1e16)).
        xs = a[:-1]
        m = maximum(*xs)
        es = [exp(x - m) for x in xs]
        s = total(es)
        return tuple(e / s for e in es)
    return softmax


def hypot_rule(ns):
    any_, where, hypot = ns.any, ns.where, ns.hypot

    def hypot_local(a, b, out):
        # a/out, b/out; at the origin (0, 0) by the convention; a subnormal out is first
        # scaled up exactly, so the divisions keep every digit.
        small = out < TINY
        if small is not False and any_(small):
            zero = out == 0.0
            a = where(small, a * UP, a)
            b = where(small, b * UP, b)
            h = where(zero, 1.0, where(small, hypot(a, b), out))
            return where(zero, 0.0, a / h), where(zero, 0.0, b / h)
        return a / out, b / out
    return hypot_local


def atan2_rule(ns):
    any_, where, hypot = ns.any, ns.where, ns.hypot

    def atan2_local(y, x, out):
        # (x, -y)/(x² + y²), divided by r twice so tiny arguments do not underflow; r
        # itself scaled exactly into the normal range when it is subnormal or overflows.
        r = hypot(x, y)
        odd = (r < TINY) | (r == _INF)
        if odd is not False and any_(odd):
            s = where(r < TINY, UP, where(r == _INF, DOWN, 1.0))
            x, y = x * s, y * s
            r = hypot(x, y)  # 0 at the origin: no gradient there (0/0)
            return ((x / r) / r) * s, ((-y / r) / r) * s
        return (x / r) / r, (-y / r) / r
    return atan2_local


#: The hand-written rules, by the name the op table gives them: ns -> the rule over ns.
HAND = {
    "div": div_rule, "pow": pow_rule, "max": tie_rule, "min": tie_rule, "ties": ties_rule,
    "logsumexp": softmax_rule, "hypot": hypot_rule, "atan2": atan2_rule,
}
