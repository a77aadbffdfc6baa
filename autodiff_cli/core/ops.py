"""The op table: the only place that knows calculus.

Each row says once what an op is: its name (the JSON ``op`` and the grammar alias), its
arity, its value -- a primitive's name (``"sin"``) or a formula over primitives in adiff's
own syntax (``"1/cos(a)"``) -- and its local derivative for each input, a formula over
primitives in the inputs ``a``, ``b``, ... and the output ``out`` (``d=("cos(a)",)``), or
one of the few hand-written rules (``d=rule("pow")``, in ``calculus/rules.py``) where a
formula cannot state the piecewise or stable form. Then the domain in words (for error
messages), the display symbol, and for ops that are not differentiable everywhere, where
the kink is (``kink_at``: one Python expression that works for floats and NumPy arrays
alike, or a rule) and which convention the engine uses there.

What each primitive *is* comes from a backend (``calculus/backends.py``): math for floats,
NumPy for ``--data``, cmath for the complex step, dual numbers for forward mode,
expression nodes for symbolic derivatives. The interface the rest of adiff reads --
``op.value``, ``op.local``, ``op.kink``, ``op.cvalue``, ``op.array_value(np, ...)``,
``op.array_local(np, ...)``, ``op.array_kink(np, ...)`` -- is compiled from the row on
first use, once per op and backend, by the rule compiler registered with
``set_compiler``. This module is the bottom of the stack and imports none of it: the
compiler (``calculus/rules.py``) registers itself when ``autodiff_cli.calculus`` is
imported, which the package's API and the engine do; an op used before that asks the
package's front door (``autodiff_cli._install_compiler``) to import it, so
``from autodiff_cli.core.ops import OPS; OPS["sin"].value`` works on its own too. A
primitive with no analytic version (erf, abs) makes ``cvalue`` None for every op whose
value uses it, by itself.

Rules never raise for an ordinary point of the domain; a local derivative that does not
exist comes back as ``inf``/``nan`` (or raises an arithmetic error), and the engine turns
that into an evaluation error naming the node -- but only when a gradient actually has to
flow through that edge.

Every value and local derivative keeps full relative precision (tests/test_precision.py
holds every backend to mpmath at 1e-13) in the tails too: the stable forms are formulas
over stable primitives -- no ``1 - out²`` where ``out`` rounds to ±1 (tanh' = sech(a)²),
no ``a² ± 1`` that cancels near 1 or overflows for large ``a`` (asin' over
``(1 - a)(1 + a)``, atan' = ``(1/hypot(1, a))^2``, acosh' over ``sqrt(a - 1)·sqrt(a + 1)``),
no intermediate that overflows or goes subnormal when the result does not (``div_prod``:
n/(x·y) rounded once) -- and stable primitives (``sech``, ``sigmoid``, ``exp_neg_square``).
"""

from __future__ import annotations

import math


class Rule:
    """A hand-written rule, named in the table (``d=rule("pow")``); its code is
    ``calculus.rules.HAND[name]``.

    ``formulas`` optionally state what the rule computes at ordinary points (one per
    input, as a formula): the graph backend uses them for symbolic derivatives, and
    tests/test_rules.py holds the rule to them. ``each`` is the same for a variadic op:
    one formula in ``x`` (the input) and ``out``.
    """

    __slots__ = ("name", "formulas", "each")

    def __init__(self, name: str, formulas: tuple[str, ...] = (), each: str | None = None):
        self.name = name
        self.formulas = formulas
        self.each = each

    def __repr__(self) -> str:
        return f"rule({self.name!r})"


def rule(name: str, *formulas: str, each: str | None = None) -> Rule:
    """A hand-written rule (``calculus.rules.HAND[name]``), for the op table."""
    return Rule(name, formulas, each)


# ---------------------------------------------------------------- the compiler hook

_compiler = None


def set_compiler(compiler) -> None:
    """Register the rule compiler: ``compiler(op, what, backend)`` -> the op's ``what``
    ("value", "local", "kink") for ``backend`` ("math", "numpy", "cmath", ...), or None
    where the op has no such form. ``autodiff_cli.calculus`` registers its own on import."""
    global _compiler
    _compiler = compiler


def compiled(op: Op, what: str, backend: str):
    """``op``'s ``what`` for ``backend``, from the registered compiler."""
    if _compiler is None:
        from autodiff_cli import _install_compiler  # the package's front door knows who compiles

        _install_compiler()
        if _compiler is None:
            raise RuntimeError("no rule compiler is registered for the op table: import "
                               "autodiff_cli.calculus (it registers one) before using an op")
    return _compiler(op, what, backend)


#: The compiled attributes of an op: attribute -> (what, backend). ``value``, ``local``,
#: ``kink``, ``cvalue`` are the interface; the ``_numpy_*`` ones serve ``array_*``.
#:   value(a, ...) -> float; local(a, ..., out) -> (d out/d a, ...); kink(a, ...) -> bool
#:   (None when the op has no kink); cvalue(z, ...) -> complex, the analytic extension for
#:   the complex step (None when a primitive of the value has none: abs, relu, max, min,
#:   erf, erfc); only its imaginary part is used, the real part is taken from ``value``.
COMPILED = {
    "value": ("value", "math"), "local": ("local", "math"), "kink": ("kink", "math"),
    "cvalue": ("value", "cmath"), "_numpy_value": ("value", "numpy"),
    "_numpy_local": ("local", "numpy"), "_numpy_kink": ("kink", "numpy"),
}


class Op:
    """One row of the table (read-only). Fields, in order:

    - ``name``, ``arity`` (None: variadic, at least ``min_arity`` inputs);
    - ``formula``: the value, a primitive's name or a formula in the inputs a, b, ...
      (None for leaves);
    - ``d``: the local derivative d out / d input, one formula per input, in the inputs
      and ``out``; or a hand-written rule (``rule("pow")``);
    - ``domain``: the domain in words, for error messages; ``symbol``: how tables, DOT
      and the printer show it; ``kind``: "leaf", "infix", "prefix" or "function";
    - ``kink_at``: for non-differentiable points, a Python expression in the inputs that
      is true at the kink (for floats and arrays: ``(a == 0.0) & (b == 0.0)``), or a rule;
      ``convention``: the derivative the engine uses at the kink;
    - ``min_arity``; ``expand``: a formula in the inputs a, b computing the same value from
      primitive ops (ops with one are "fused" nodes that --expand can rewrite);
      ``aliases``: the names a formula may call it by;
    - ``carries``: the inputs (letters) through which inf and nan always come out: where
      such an input is inf or nan, so is the value, whatever the other inputs (over NumPy
      arrays). ``a + b`` carries both (inf - inf is nan), ``a/b`` only a (1/inf is 0),
      ``exp`` neither (exp(-inf) is 0). The data engine tests a node's values for inf and
      nan only where they could be lost: before an op that does not carry them, and at
      the output (``engine.checked_nodes``). A claim here is a promise tests/test_ops.py
      holds the NumPy backend to.

    A plain class rather than a frozen dataclass: the table is built at every start-up
    and creating a dataclass (with the ``dataclasses`` module itself) costs ~2 ms there.
    Ops compare by identity; ``op.replace(d=...)`` gives a changed copy (how tests plant
    a wrong rule).
    """

    FIELDS = ("name", "arity", "formula", "d", "domain", "symbol", "kind", "kink_at",
              "convention", "min_arity", "expand", "aliases", "carries")

    def __init__(self, name: str, arity: int | None, formula: str | None = None,
                 d: tuple[str, ...] | Rule = (), domain: str | None = None, symbol: str = "",
                 kind: str = "function", kink_at: str | Rule | None = None,
                 convention: str = "", min_arity: int = 1, expand: str | None = None,
                 aliases: tuple[str, ...] = (), carries: str = ""):
        self.__dict__.update(name=name, arity=arity, formula=formula, d=d, domain=domain,
                             symbol=symbol, kind=kind, kink_at=kink_at, convention=convention,
                             min_arity=min_arity, expand=expand, aliases=aliases,
                             carries=carries)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}: an op is read-only")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}: an op is read-only")

    def replace(self, **changes) -> Op:
        """A new op with these fields changed (compiled forms are not carried over)."""
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"Op has no field {sorted(unknown)[0]!r}")
        return Op(**{f: changes.get(f, self.__dict__[f]) for f in self.FIELDS})

    def __repr__(self) -> str:
        return f"Op({self.name!r}, {self.arity!r}, {self.formula!r}, d={self.d!r})"

    def __getattr__(self, name):
        # Only for attributes not found otherwise: the compiled ones, compiled on first
        # access and then plain attributes of the op (the hot loop reads them directly).
        spec = COMPILED.get(name)
        if spec is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        fn = compiled(self, *spec)
        self.__dict__[name] = fn
        return fn

    # The same rules over NumPy arrays, for ``--data`` (one element per row of a data
    # file); any argument may be a float (a value the same in every row). ``np`` is the
    # caller's NumPy (the backend imports the same module).
    def array_value(self, np, *args):
        return self._numpy_value(*args)

    def array_local(self, np, *args) -> tuple:
        return self._numpy_local(*args)

    def array_kink(self, np, *args):
        return self._numpy_kink(*args)

    def arity_text(self) -> str:
        if self.arity is None:
            return f"at least {self.min_arity} argument{'s' if self.min_arity != 1 else ''}"
        return f"{self.arity} argument{'s' if self.arity != 1 else ''}"


# ---------------------------------------------------------------- the table

_TIES = "at a tie the gradient is split evenly between the tied arguments"

_ROWS = (
    # leaves: their value comes from the graph (a literal or a binding)
    Op("var", 0, kind="leaf"),
    Op("const", 0, kind="leaf"),
    # arithmetic
    Op("add", 2, "a + b", d=("1", "1"), symbol="+", kind="infix", carries="ab"),
    Op("sub", 2, "a - b", d=("1", "-1"), symbol="-", kind="infix", carries="ab"),
    Op("mul", 2, "a*b", d=("b", "a"), symbol="*", kind="infix", carries="ab"),
    # -a/b² as -out/b, unless out went subnormal (and lost digits): then div_prod.
    Op("div", 2, "a/b", d=rule("div", "1/b", "-out/b"),
       domain="a nonzero divisor", symbol="/", kind="infix", carries="a"),
    Op("pow", 2, "pow", d=rule("pow", "b*out/a", "out*log(a)"),
       domain="a positive base, or a zero base with a non-negative exponent, "
              "or a negative base with an integer exponent",
       symbol="^", kind="infix", aliases=("pow",)),
    Op("neg", 1, "-a", d=("-1",), symbol="-", kind="prefix", carries="a"),
    # exponentials and logarithms
    Op("exp", 1, "exp", d=("out",)),
    Op("log", 1, "log", d=("1/a",), domain="x > 0", aliases=("log", "ln"), carries="a"),
    Op("logb", 2, "log(a)/log(b)", d=("div_prod(1, a, log(b))", "div_prod(-out, b, log(b))"),
       domain="x > 0 and a positive base other than 1", symbol="log", aliases=("log",),
       carries="a"),
    Op("log2", 1, "log2", d=("div_prod(1, a, log(2))",), domain="x > 0", carries="a"),
    Op("log10", 1, "log10", d=("div_prod(1, a, log(10))",), domain="x > 0", carries="a"),
    Op("log1p", 1, "log1p", d=("1/(1 + a)",), domain="x > -1", carries="a"),
    # expm1' = e^a, not out + 1 (which rounds e^-40 away).
    Op("expm1", 1, "expm1", d=("exp(a)",)),
    Op("sqrt", 1, "sqrt", d=("0.5/out",), domain="x >= 0", carries="a"),
    Op("cbrt", 1, "cbrt", d=("1/(3*out^2)",), carries="a"),
    # piecewise. sign and step jump at 0: their derivative is 0 on both sides, taken as 0
    # at the jump too (a finite difference across it measures the jump, not a slope).
    Op("sign", 1, "sign", d=("0",), kink_at="a == 0.0",
       convention="sign'(0) = 0 (the value jumps at 0; the derivative is 0 on both sides)"),
    Op("step", 1, "step", d=("0",), kink_at="a == 0.0",
       convention="step'(0) = 0 (the value jumps at 0; the derivative is 0 on both sides)"),
    Op("abs", 1, "abs", d=("sign(a)",), kink_at="a == 0.0", convention="d|x|/dx = 0 at x = 0",
       carries="a"),
    Op("relu", 1, "relu", d=("step(a)",), kink_at="a == 0.0", convention="relu'(0) = 0"),
    Op("max", None, "max", d=rule("max"), kink_at=rule("ties"), min_arity=1, convention=_TIES),
    Op("min", None, "min", d=rule("min"), kink_at=rule("ties"), min_arity=1, convention=_TIES),
    Op("hypot", 2, "hypot", d=rule("hypot", "a/out", "b/out"),
       kink_at="(a == 0.0) & (b == 0.0)",
       convention="the gradient of hypot at (0, 0) is taken as (0, 0)", expand="sqrt(a^2 + b^2)",
       carries="ab"),
    # trigonometric
    Op("sin", 1, "sin", d=("cos(a)",), carries="a"),
    Op("cos", 1, "cos", d=("-sin(a)",), carries="a"),
    Op("tan", 1, "tan", d=("1 + out^2",), expand="sin(a)/cos(a)", carries="a"),
    Op("sec", 1, "1/cos(a)", d=("out*tan(a)",), domain="cos(x) != 0", expand="1/cos(a)",
       carries="a"),
    Op("csc", 1, "1/sin(a)", d=("-out/tan(a)",), domain="sin(x) != 0", expand="1/sin(a)",
       carries="a"),
    Op("cot", 1, "1/tan(a)", d=("-(1 + out^2)",), domain="sin(x) != 0", expand="cos(a)/sin(a)",
       carries="a"),
    # (1 - a)(1 + a), not 1 - a², which cancels near |a| = 1.
    Op("asin", 1, "asin", d=("1/sqrt((1 - a)*(1 + a))",), domain="-1 <= x <= 1",
       aliases=("asin", "arcsin"), carries="a"),
    Op("acos", 1, "acos", d=("-1/sqrt((1 - a)*(1 + a))",), domain="-1 <= x <= 1",
       aliases=("acos", "arccos"), carries="a"),
    # 1/(1 + a²) as (1/hypot(1, a))²: a² overflows from 1.3e154.
    Op("atan", 1, "atan", d=("(1/hypot(1, a))^2",), aliases=("atan", "arctan")),
    # sqrt(a² - 1) as sqrt(|a| - 1)·sqrt(|a| + 1): no cancellation near 1, no overflow.
    Op("asec", 1, "asec", d=("m = abs(a); (1/m)/(sqrt(m - 1)*sqrt(m + 1))",),
       domain="|x| >= 1", expand="acos(1/a)"),
    Op("acsc", 1, "acsc", d=("m = abs(a); -(1/m)/(sqrt(m - 1)*sqrt(m + 1))",),
       domain="|x| >= 1", expand="asin(1/a)"),
    Op("acot", 1, "acot", d=("-(1/hypot(1, a))^2",), expand="pi/2 - atan(a)"),
    Op("atan2", 2, "atan2", d=rule("atan2", "b/(a^2 + b^2)", "-a/(a^2 + b^2)"),
       kink_at="(a == 0.0) & (b < 0.0)",
       convention="on the branch cut (y = 0, x < 0) the value jumps from pi to -pi; "
                  "the gradient is the one-sided limit, the same from both sides",
       domain="(y, x) != (0, 0) for the gradient", aliases=("atan2", "arctan2")),
    # hyperbolic
    Op("sinh", 1, "sinh", d=("cosh(a)",), carries="a"),
    Op("cosh", 1, "cosh", d=("sinh(a)",), carries="a"),
    # tanh' = sech², coth' = -csch²: 1 - out² would round to 0 once out rounds to ±1.
    Op("tanh", 1, "tanh", d=("sech(a)^2",), expand="(exp(a) - exp(-a))/(exp(a) + exp(-a))"),
    Op("sech", 1, "sech", d=("-out*tanh(a)",), expand="1/cosh(a)"),
    Op("csch", 1, "csch", d=("-out/tanh(a)",), domain="x != 0", expand="1/sinh(a)"),
    Op("coth", 1, "1/tanh(a)", d=("-csch(a)^2",), domain="x != 0", expand="cosh(a)/sinh(a)"),
    # hypot(1, a) and sqrt(a - 1)·sqrt(a + 1): a² overflows from 1.3e154.
    Op("asinh", 1, "asinh", d=("1/hypot(1, a)",), aliases=("asinh", "arcsinh"), carries="a"),
    Op("acosh", 1, "acosh", d=("1/(sqrt(a - 1)*sqrt(a + 1))",), domain="x >= 1",
       aliases=("acosh", "arccosh"), carries="a"),
    Op("atanh", 1, "atanh", d=("1/((1 - a)*(1 + a))",), domain="-1 < x < 1",
       aliases=("atanh", "arctanh"), carries="a"),
    Op("asech", 1, "asech", d=("-1/(a*sqrt((1 - a)*(1 + a)))",), domain="0 < x <= 1",
       expand="acosh(1/a)"),
    Op("acsch", 1, "acsch", d=("-(1/abs(a))/hypot(1, a)",), domain="x != 0",
       expand="asinh(1/a)"),
    # 1/(1 - a²) as 1/(1 - a)/(1 + a): (1 - a)(1 + a) overflows from 1.3e154.
    Op("acoth", 1, "acoth", d=("1/(1 - a)/(1 + a)",), domain="|x| > 1", expand="atanh(1/a)"),
    # machine learning
    # out·s(-a) = s(a)·s(-a): both factors are stable sigmoids, so it keeps full relative
    # precision in both tails, where out·(1 - out) would round to 0 for large a; and it is
    # the textbook form adiff diff prints.
    Op("sigmoid", 1, "sigmoid", d=("out*sigmoid(-a)",),
       expand="1/(1 + exp(-a))"),
    Op("softplus", 1, "softplus", d=("sigmoid(a)",), expand="log(1 + exp(a))"),
    Op("logsumexp", None, "logsumexp", d=rule("logsumexp", each="exp(x - out)"), min_arity=1),
    # exp(-a²) with the rounding error of a² put back (exp_neg_square).
    Op("erf", 1, "erf", d=("2/sqrt(pi)*exp_neg_square(a)",)),
    Op("erfc", 1, "erfc", d=("-2/sqrt(pi)*exp_neg_square(a)",)),
)

#: Internal primitives: callable in the table's formulas, not in user formulas. Each has a
#: value in every backend (calculus/backends.py) and derivatives, like any op.
PRIMITIVES: dict[str, Op] = {op.name: op for op in (
    Op("div_prod", 3, "div_prod", d=("div_prod(1, b, c)", "-out/b", "-out/c")),
    Op("exp_neg_square", 1, "exp_neg_square", d=("-2*a*out",)),
)}

OPS: dict[str, Op] = {op.name: op for op in _ROWS}


def _build_functions() -> dict[str, dict[int | None, Op]]:
    """Function name as written -> {arity: op}; ``None`` is the variadic entry.

    A function op is callable by its own name unless ``aliases`` lists the
    names explicitly (``log``/``ln``, ``log(x, base)``, ``pow(a, b)``).
    """
    table: dict[str, dict[int | None, Op]] = {}
    for op in _ROWS:
        names = op.aliases or ((op.name,) if op.kind == "function" else ())
        for name in names:
            table.setdefault(name, {})[op.arity] = op
    return table


#: Functions callable by name in formulas: name -> {arity (None = variadic): op}.
FUNCTIONS: dict[str, dict[int | None, Op]] = _build_functions()

#: Named constants; a program may assign these names, ``--at`` may not bind them.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def lookup(name: str, nargs: int, functions: dict | None = None) -> Op | None:
    """The op for ``name(...)`` with ``nargs`` arguments, or None for a wrong arity;
    ``functions`` is the table to look in (default ``FUNCTIONS``)."""
    by_arity = (FUNCTIONS if functions is None else functions)[name]
    op = by_arity.get(nargs)
    if op is None:
        variadic = by_arity.get(None)
        if variadic is not None and nargs >= variadic.min_arity:
            op = variadic
    return op


def arity_text(name: str, functions: dict | None = None) -> str:
    """'1 argument', '1 or 2 arguments', 'at least 1 argument' for error messages."""
    by_arity = (FUNCTIONS if functions is None else functions)[name]
    if None in by_arity:
        return by_arity[None].arity_text()
    counts = sorted(k for k in by_arity if k is not None)
    if len(counts) == 1:
        return by_arity[counts[0]].arity_text()
    return " or ".join(str(c) for c in counts) + " arguments"

