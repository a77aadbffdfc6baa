"""Formulas as LaTeX, and as Python and C code: a graph, its results and shared statements.

Everything here reads a ``core.graph.Graph`` (the formula's, or the derivative graph of
``calculus.derive``) and writes text without recursion -- derivative graphs can be
100,000 levels deep -- one explicit stack of pieces per expression, as
``language.printer.emit`` does for adiff's own syntax.

**What generated code may contain.** User text never reaches generated code except as
identifiers that are valid in the target language (``Names``) and numbers written from
their float values (``repr``, which reads back exactly in Python and in C), never from
the literal as typed. A name that is not a valid identifier, is a keyword, or would
shadow what the code uses (``math``, ``abs``, ``fabs`` in C, a helper) is *mangled*: a trailing
``_`` for a keyword (``return`` -> ``return_``), ASCII spellings for other characters in
C (``θ1`` -> ``theta1``, other letters as ``u`` + hex code), and a number appended on a
clash (``x_2``). Comments in the code say which input each mangled name is.

**Depth.** Python's compiler recurses over an expression (it fails at a few thousand
nested operations) and C compilers slow down on deep ones, so a node whose inline
expression would nest deeper than ``DEPTH`` operations becomes a statement of its own.

**Values.** The Python code computes every op as adiff's math backend does (``math``, and
helpers copied from the backend's stable forms for the ops ``math`` lacks: sigmoid,
softplus, sech, ...): it gives the same numbers, and raises ``ValueError``,
``ZeroDivisionError`` or ``OverflowError`` where adiff reports an evaluation error. The C
code uses ``math.h`` the same way (helpers for the same ops); outside the domain it gives
NaN or an infinity, as ``math.h`` does.
"""

from __future__ import annotations

import keyword
import unicodedata
from array import array

#: Operations an inline expression may nest before a node becomes a statement of its own.
DEPTH = 32

# Precedence levels (higher binds tighter), as in language/printer.py.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5
_INFIX = {"add": (_SUM, " + "), "sub": (_SUM, " - "), "mul": (_PRODUCT, "*"),
          "div": (_PRODUCT, "/")}


def _number(value: float) -> str:
    """A float as a literal that reads back to the same float in Python and in C."""
    return repr(float(value))


# ---------------------------------------------------------------- names

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
    "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi",
    "χ": "chi", "ψ": "psi", "ω": "omega", "ϑ": "vartheta", "ϕ": "varphi", "ϵ": "varepsilon",
    "ς": "varsigma", "ϱ": "varrho", "ϖ": "varpi",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi",
    "Σ": "Sigma", "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}

_C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
_Imaginary _Noreturn _Static_assert _Thread_local alignas alignof bool constexpr false
nullptr static_assert thread_local true typeof typeof_unqual asm fortran main
""".split())

#: What a C variable must not be named: the <math.h> functions the code calls (a parameter
#: named ``sin`` would hide the function) and the object-like macros <math.h> defines (a
#: variable named ``NAN`` would be replaced by the preprocessor). Other <math.h> names, like
#: the Bessel function ``y1``, are hidden harmlessly by a variable and stay as they are.
_MATH_H = frozenset("""
pow exp log log2 log10 log1p expm1 sqrt cbrt fabs hypot sin cos tan asin acos atan atan2
sinh cosh tanh asinh acosh atanh erf erfc copysign frexp ldexp
HUGE_VAL HUGE_VALF HUGE_VALL INFINITY NAN FP_NAN FP_INFINITE FP_ZERO FP_SUBNORMAL FP_NORMAL
FP_FAST_FMA FP_FAST_FMAF FP_FAST_FMAL FP_ILOGB0 FP_ILOGBNAN MATH_ERRNO MATH_ERREXCEPT
math_errhandling float_t double_t M_E M_LOG2E M_LOG10E M_LN2 M_LN10 M_PI M_PI_2 M_PI_4
M_1_PI M_2_PI M_2_SQRTPI M_SQRT2 M_SQRT1_2 NULL errno
""".split())


def _ascii_spelling(name: str) -> str:
    """``name`` in ASCII letters, digits and underscores (Greek letters spelled out)."""
    out = []
    for ch in unicodedata.normalize("NFC", name):
        if ch.isascii():
            out.append(ch if (ch.isalnum() or ch == "_") else "_")
        elif ch in _GREEK:
            out.append(_GREEK[ch])
        else:
            out.append(f"u{ord(ch):04x}")
    text = "".join(out)
    return text if text and not text[0].isdigit() else "v" + text


def python_identifier(name: str) -> str:
    """``name`` as a Python identifier: kept when it is one (and stays itself under Python's
    NFKC normalisation of identifiers), else spelled in ASCII; keywords get a trailing _."""
    if not (name.isidentifier() and unicodedata.normalize("NFKC", name) == name):
        name = _ascii_spelling(name)
    if keyword.iskeyword(name):
        name += "_"
    return name


def c_identifier(name: str) -> str:
    """``name`` as a C identifier: ASCII only; C keywords, <math.h> names and reserved
    spellings (``__x``, ``_X``) get a trailing or leading letter."""
    if not (name.isascii() and name.isidentifier()):
        name = _ascii_spelling(name)
    if name.startswith("__") or (name.startswith("_") and name[1:2].isupper()):
        name = "v" + name
    if name in _C_KEYWORDS or name in _MATH_H:
        name += "_"
    return name


class Names:
    """Identifiers handed out once each: ``take(wanted)`` gives ``wanted`` made valid for
    the language (``valid``) and unlike every name already given or ``reserved``."""

    def __init__(self, valid, reserved=()):
        self.valid = valid
        self.taken = set(reserved)

    def take(self, wanted: str) -> str:
        name = self.valid(wanted)
        if name in self.taken:
            k = 2
            while f"{name}_{k}" in self.taken:
                k += 1
            name = f"{name}_{k}"
        self.taken.add(name)
        return name


# ---------------------------------------------------------------- straight-line code

class Block:
    """What to write of one graph: ``results`` (name, node id) computed from the graph's
    inputs, after the shared ``statements`` (name, node id, in dependency order).
    ``share``: also make a statement of every other operation used more than once (a
    graph that has no statements of its own, like the formula itself)."""

    def __init__(self, graph, results, statements=(), share: bool = False):
        self.graph = graph
        self.results = list(results)
        self.statements = list(statements)
        self.share = share


def lower(block: Block, depth: int = DEPTH) -> tuple[list[int], dict[int, str | None]]:
    """(the nodes that become statements, in creation order; name of each, None where
    the caller names it), so that no statement's expression nests deeper than ``depth``
    operations: the given statements, the shared nodes (``block.share``), and the nodes
    where an expression would grow deeper. One loop over the nodes, no recursion."""
    graph = block.graph
    inputs = graph.inputs
    named: dict[int, str | None] = {node: name for name, node in block.statements}
    mark = graph.ancestors([node for _, node in block.results])
    if block.share:
        uses = array("l", [0]) * len(inputs)
        for i in range(len(inputs)):
            if mark[i]:
                for j in inputs[i]:
                    uses[j] += 1
        for i in range(len(inputs)):
            if mark[i] and uses[i] > 1 and inputs[i] and i not in named:
                named[i] = None
    level = array("l", [0]) * len(inputs)
    for i in range(len(inputs)):
        if not mark[i] or not inputs[i]:
            continue
        d = 1 + max((0 if j in named else level[j]) for j in inputs[i])
        if d > depth:
            named.setdefault(i, None)
            d = 0
        level[i] = d
    return sorted(i for i in named if mark[i] and inputs[i]), named


class Target:
    """How one language writes an expression: calls, operators, numbers (Python or C)."""

    #: op name -> function the code calls (or a helper's name), with ``{}`` for the args.
    calls: dict[str, str] = {}
    helpers: dict[str, tuple[str, tuple[str, ...]]] = {}  # op -> (source, helpers it needs)

    def __init__(self):
        self.used: dict[str, None] = {}  # helpers used, in order of first use

    def call(self, op, n: int) -> tuple[str, str, str]:
        """(text before the arguments, separator, text after) of a call to ``op``."""
        name = op.name
        if name in self.helpers:
            self._use(name)
        fn = self.calls.get(name)
        if fn is None:
            raise ValueError(f"no {type(self).__name__} form for op {name!r}")
        return fn, ", ", ")"

    def _use(self, name: str) -> None:
        if name in self.used:
            return
        for dep in self.helpers[name][1]:
            self._use(dep)
        self.used[name] = None

    def helper_sources(self) -> list[str]:
        return [self.helpers[name][0] for name in self.used]


def expression(graph, root: int, ref, target: Target) -> str:
    """The text of node ``root`` in ``target``'s syntax; ``ref(j)`` names input ``j`` (or
    returns None to write it inline). Iterative: one stack of pieces."""
    ops, inputs, consts = graph.ops, graph.inputs, graph.consts
    out: list[str] = []
    stack: list = [(root, False)]
    pop, push = stack.pop, stack.append

    def prec(j: int) -> int:
        if ref(j) is not None:
            return _ATOM
        name = ops[j].name
        if name == "const":
            return _UNARY if consts[j] < 0 or str(consts[j])[0] == "-" else _ATOM
        if name == "neg":
            return _UNARY
        infix = _INFIX.get(name)
        return infix[0] if infix else _ATOM

    def child(j: int, parens: bool):
        name = ref(j)
        return name if name is not None else (j, parens)

    while stack:
        item = pop()
        if isinstance(item, str):
            out.append(item)
            continue
        i, parens = item
        op = ops[i]
        name = op.name
        ins = inputs[i]
        if name == "const":
            body = [target.number(consts[i])]
        elif not ins:
            raise ValueError(f"an input variable (node n{i}) must be named by ref")
        elif name in _INFIX:
            level, symbol = _INFIX[name]
            a, b = ins
            body = [child(a, prec(a) < level), symbol, child(b, prec(b) <= level)]
        elif name == "neg":
            a = ins[0]
            # never "--x" (C's decrement) and never "- -2.0": the operand in parentheses
            paren = prec(a) < _ATOM and ref(a) is None
            body = ["-", child(a, paren)]
        else:
            body = target.call_body(op, ins, child)
        if parens:
            body = ["(", *body, ")"]
        for piece in reversed(body):
            push(piece)
    return "".join(out)


class Python(Target):
    """Python 3 with ``math``: the ops ``math`` has are called there, the others are helpers."""

    calls = {
        "pow": "math.pow(", "exp": "math.exp(", "log": "math.log(", "log2": "math.log2(",
        "log10": "math.log10(", "log1p": "math.log1p(", "expm1": "math.expm1(",
        "sqrt": "math.sqrt(", "abs": "abs(", "max": "max(", "min": "min(",
        "hypot": "math.hypot(", "sin": "math.sin(", "cos": "math.cos(", "tan": "math.tan(",
        "asin": "math.asin(", "acos": "math.acos(", "atan": "math.atan(",
        "atan2": "math.atan2(", "sinh": "math.sinh(", "cosh": "math.cosh(",
        "tanh": "math.tanh(", "asinh": "math.asinh(", "acosh": "math.acosh(",
        "atanh": "math.atanh(", "erf": "math.erf(", "erfc": "math.erfc(",
    }
    helpers = {
        "cbrt": ('def _adiff_cbrt(a):\n'
                 '    return math.copysign(math.pow(abs(a), 1.0 / 3.0), a)\n\n\n'
                 '_adiff_cbrt = getattr(math, "cbrt", _adiff_cbrt)', ()),
        "logb": ("def _adiff_logb(a, b):\n    return math.log(a) / math.log(b)", ()),
        "sign": ("def _adiff_sign(a):\n    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)",
                 ()),
        "step": ("def _adiff_step(a):\n    return 1.0 if a > 0.0 else 0.0", ()),
        "relu": ("def _adiff_relu(a):\n    return a if a > 0.0 else 0.0", ()),
        "sec": ("def _adiff_sec(a):\n    return 1.0 / math.cos(a)", ()),
        "csc": ("def _adiff_csc(a):\n    return 1.0 / math.sin(a)", ()),
        "cot": ("def _adiff_cot(a):\n    return 1.0 / math.tan(a)", ()),
        "coth": ("def _adiff_coth(a):\n    return 1.0 / math.tanh(a)", ()),
        "sec_root": ("def _adiff_sec_root(a):\n"
                     "    m = abs(a)\n"
                     "    return math.sqrt(m - 1.0) * math.sqrt(m + 1.0)", ()),
        "asec": ("def _adiff_asec(a):\n"
                 "    t = math.atan(_adiff_sec_root(a))\n"
                 "    return t if a > 0.0 else math.pi - t", ("sec_root",)),
        "acsc": ("def _adiff_acsc(a):\n"
                 "    return math.copysign(math.atan2(1.0, _adiff_sec_root(a)), a)",
                 ("sec_root",)),
        "acot": ("def _adiff_acot(a):\n"
                 "    if a > 0.0:\n        return math.atan(1.0 / a)\n"
                 "    if a < 0.0:\n        return math.pi + math.atan(1.0 / a)\n"
                 "    return math.pi / 2.0", ()),
        "sech": ("def _adiff_sech(a):\n"
                 "    x = abs(a)\n"
                 "    if x > 710.0:\n        return 2.0 * math.exp(-x)\n"
                 "    return 1.0 / math.cosh(x)", ()),
        "csch": ("def _adiff_csch(a):\n"
                 "    if abs(a) > 710.0:\n        return math.copysign(2.0 * math.exp(-abs(a)), a)\n"
                 "    return 1.0 / math.sinh(a)", ()),
        "asech": ("def _adiff_asech(a):\n"
                  "    if not 0.0 < a <= 1.0:\n"
                  '        raise ValueError("math domain error")\n'
                  "    s = math.sqrt((1.0 - a) * (1.0 + a))\n"
                  "    if a >= 0.5:\n        return math.log1p(((1.0 - a) + s) / a)\n"
                  "    return math.log(1.0 + s) - math.log(a)", ()),
        "acsch": ("def _adiff_acsch(a):\n"
                  "    if abs(a) >= 1e-300:\n        return math.asinh(1.0 / a)\n"
                  "    return math.copysign(math.log(2.0) - math.log(abs(a)), a)", ()),
        "acoth": ("def _adiff_acoth(a):\n"
                  "    m = abs(a)\n"
                  "    if not m > 1.0:\n"
                  '        raise ValueError("math domain error")\n'
                  "    return math.copysign(0.5 * math.log1p(2.0 / (m - 1.0)), a)", ()),
        "sigmoid": ("def _adiff_sigmoid(a):\n"
                    "    if a >= 0.0:\n        return 1.0 / (1.0 + math.exp(-a))\n"
                    "    z = math.exp(a)\n"
                    "    return z / (1.0 + z)", ()),
        "softplus": ("def _adiff_softplus(a):\n"
                     "    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))", ()),
        "logsumexp": ("def _adiff_logsumexp(*xs):\n"
                      "    m = max(xs)\n"
                      "    k = xs.index(m)\n"
                      "    rest = math.fsum(math.exp(x - m) for i, x in enumerate(xs) if i != k)\n"
                      "    return m + math.log1p(rest)", ()),
        "div_prod": ("def _adiff_div_prod(n, x, y):\n"
                     "    t = x * y\n"
                     "    if 2.2250738585072014e-308 <= abs(t) < math.inf:\n"
                     "        return n / t\n"
                     "    mn, en = math.frexp(n)\n"
                     "    mx, ex = math.frexp(x)\n"
                     "    my, ey = math.frexp(y)\n"
                     "    m = mn / (mx * my)\n"
                     "    try:\n"
                     "        return math.ldexp(m, en - ex - ey)\n"
                     "    except OverflowError:\n"
                     "        return math.copysign(math.inf, m)", ()),
        "exp_neg_square": ("def _adiff_exp_neg_square(a):\n"
                           "    p = a * a\n"
                           "    if p > 746.0:\n"
                           "        return 0.0\n"
                           "    c = 134217729.0 * a\n"
                           "    hi = c - (c - a)\n"
                           "    lo = a - hi\n"
                           "    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo\n"
                           "    return math.exp(-p) * (1.0 - err)", ()),
    }

    def __init__(self):
        super().__init__()
        self.calls = {**Python.calls, **{name: f"_adiff_{name}(" for name in Python.helpers}}

    @staticmethod
    def number(value: float) -> str:
        return _number(value)

    def call_body(self, op, ins, child) -> list:
        fn, sep, end = self.call(op, len(ins))
        body = [fn]
        for k, a in enumerate(ins):
            if k:
                body.append(sep)
            body.append(child(a, False))
        body.append(end)
        return body


class C(Target):
    """C99 with <math.h>; helpers (static functions) for the ops it lacks."""

    calls = {
        "pow": "pow(", "exp": "exp(", "log": "log(", "log2": "log2(", "log10": "log10(",
        "log1p": "log1p(", "expm1": "expm1(", "sqrt": "sqrt(", "cbrt": "cbrt(",
        "abs": "fabs(", "hypot": "hypot(", "sin": "sin(", "cos": "cos(", "tan": "tan(",
        "asin": "asin(", "acos": "acos(", "atan": "atan(", "atan2": "atan2(",
        "sinh": "sinh(", "cosh": "cosh(", "tanh": "tanh(", "asinh": "asinh(",
        "acosh": "acosh(", "atanh": "atanh(", "erf": "erf(", "erfc": "erfc(",
    }
    helpers = {
        "logb": ("static double adiff_logb(double a, double b) { return log(a) / log(b); }", ()),
        "sign": ("static double adiff_sign(double a) "
                 "{ return a > 0.0 ? 1.0 : (a < 0.0 ? -1.0 : 0.0); }", ()),
        "step": ("static double adiff_step(double a) { return a > 0.0 ? 1.0 : 0.0; }", ()),
        "relu": ("static double adiff_relu(double a) { return a > 0.0 ? a : 0.0; }", ()),
        "max": ("static double adiff_max(double a, double b) { return b > a ? b : a; }", ()),
        "min": ("static double adiff_min(double a, double b) { return b < a ? b : a; }", ()),
        "sec": ("static double adiff_sec(double a) { return 1.0 / cos(a); }", ()),
        "csc": ("static double adiff_csc(double a) { return 1.0 / sin(a); }", ()),
        "cot": ("static double adiff_cot(double a) { return 1.0 / tan(a); }", ()),
        "coth": ("static double adiff_coth(double a) { return 1.0 / tanh(a); }", ()),
        "sec_root": ("static double adiff_sec_root(double a)\n{\n"
                     "    double m = fabs(a);\n"
                     "    return sqrt(m - 1.0) * sqrt(m + 1.0);\n}", ()),
        "asec": ("static double adiff_asec(double a)\n{\n"
                 "    double t = atan(adiff_sec_root(a));\n"
                 "    return a > 0.0 ? t : 3.141592653589793 - t;\n}", ("sec_root",)),
        "acsc": ("static double adiff_acsc(double a)\n{\n"
                 "    return copysign(atan2(1.0, adiff_sec_root(a)), a);\n}", ("sec_root",)),
        "acot": ("static double adiff_acot(double a)\n{\n"
                 "    if (a > 0.0) return atan(1.0 / a);\n"
                 "    if (a < 0.0) return 3.141592653589793 + atan(1.0 / a);\n"
                 "    return 1.5707963267948966;\n}", ()),
        "sech": ("static double adiff_sech(double a)\n{\n"
                 "    double x = fabs(a);\n"
                 "    return x > 710.0 ? 2.0 * exp(-x) : 1.0 / cosh(x);\n}", ()),
        "csch": ("static double adiff_csch(double a)\n{\n"
                 "    return fabs(a) > 710.0 ? copysign(2.0 * exp(-fabs(a)), a) : 1.0 / sinh(a);\n}",
                 ()),
        "asech": ("static double adiff_asech(double a)\n{\n"
                  "    if (!(a > 0.0 && a <= 1.0)) return NAN;\n"
                  "    double s = sqrt((1.0 - a) * (1.0 + a));\n"
                  "    if (a >= 0.5) return log1p(((1.0 - a) + s) / a);\n"
                  "    return log(1.0 + s) - log(a);\n}", ()),
        "acsch": ("static double adiff_acsch(double a)\n{\n"
                  "    if (fabs(a) >= 1e-300) return asinh(1.0 / a);\n"
                  "    return copysign(log(2.0) - log(fabs(a)), a);\n}", ()),
        "acoth": ("static double adiff_acoth(double a)\n{\n"
                  "    double m = fabs(a);\n"
                  "    if (!(m > 1.0)) return NAN;\n"
                  "    return copysign(0.5 * log1p(2.0 / (m - 1.0)), a);\n}", ()),
        "sigmoid": ("static double adiff_sigmoid(double a)\n{\n"
                    "    if (a >= 0.0) return 1.0 / (1.0 + exp(-a));\n"
                    "    double z = exp(a);\n"
                    "    return z / (1.0 + z);\n}", ()),
        "softplus": ("static double adiff_softplus(double a)\n{\n"
                     "    return (a > 0.0 ? a : 0.0) + log1p(exp(-fabs(a)));\n}", ()),
        "logsumexp": ("static double adiff_logsumexp(int n, const double *x)\n{\n"
                      "    int k = 0;\n"
                      "    for (int i = 1; i < n; i++) if (x[i] > x[k]) k = i;\n"
                      "    double m = x[k], s = 0.0, c = 0.0;\n"
                      "    for (int i = 0; i < n; i++) {\n"
                      "        if (i == k) continue;\n"
                      "        double t = exp(x[i] - m), u = s + t;\n"
                      "        c += fabs(s) >= fabs(t) ? (s - u) + t : (t - u) + s;\n"
                      "        s = u;\n"
                      "    }\n"
                      "    return m + log1p(s + c);\n}", ()),
        "div_prod": ("static double adiff_div_prod(double n, double x, double y)\n{\n"
                     "    double t = x * y;\n"
                     "    if (fabs(t) >= 2.2250738585072014e-308 && fabs(t) <= 1.7976931348623157e308)\n"
                     "        return n / t;\n"
                     "    int en, ex, ey;\n"
                     "    double mn = frexp(n, &en), mx = frexp(x, &ex), my = frexp(y, &ey);\n"
                     "    return ldexp(mn / (mx * my), en - ex - ey);\n}", ()),
        "exp_neg_square": ("static double adiff_exp_neg_square(double a)\n{\n"
                           "    double p = a * a;\n"
                           "    if (p > 746.0) return 0.0;\n"
                           "    double c = 134217729.0 * a, hi = c - (c - a), lo = a - hi;\n"
                           "    double err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo;\n"
                           "    return exp(-p) * (1.0 - err);\n}", ()),
    }

    def __init__(self):
        super().__init__()
        self.calls = {**C.calls, **{name: f"adiff_{name}(" for name in C.helpers}}

    @staticmethod
    def number(value: float) -> str:
        return _number(value)

    def call_body(self, op, ins, child) -> list:
        name = op.name
        if name in ("max", "min"):
            # adiff_max(a, adiff_max(b, c)): the first of the largest, as Python's max
            self._use(name)
            fn = f"adiff_{name}("
            if len(ins) == 1:
                return [child(ins[0], False)]
            body = []
            for a in ins[:-1]:
                body += [fn, child(a, False), ", "]
            return [*body, child(ins[-1], False), ")" * (len(ins) - 1)]
        if name == "logsumexp":
            self._use(name)
            body = [f"adiff_logsumexp({len(ins)}, (const double[]){{"]
            for k, a in enumerate(ins):
                if k:
                    body.append(", ")
                body.append(child(a, False))
            return [*body, "})"]
        fn, sep, end = self.call(op, len(ins))
        body = [fn]
        for k, a in enumerate(ins):
            if k:
                body.append(sep)
            body.append(child(a, False))
        body.append(end)
        return body


def straight_line(blocks: list[Block], target: Target, names: Names,
                  variables: dict[str, str]) -> list[tuple[str, str, bool]]:
    """(identifier, expression, is a result) for every statement of ``blocks``, in order.

    ``variables`` maps each input's adiff name to its identifier; a block's statement and
    result names are given out by ``names`` (results are the caller's: already taken).
    """
    lines: list[tuple[str, str, bool]] = []
    counter = 0
    for block in blocks:
        graph = block.graph
        ops, labels = graph.ops, graph.labels
        nodes, named = lower(block)
        given: dict[int, str] = {}

        def ref(j, given=given, ops=ops, labels=labels):
            if ops[j].name == "var":
                return variables[labels[j]]
            return given.get(j)

        for i in nodes:
            wanted = named[i]
            if wanted is None:  # a value used more than once, or a cut in a deep expression
                counter += 1
                wanted = f"v{counter}"
            ident = names.take(wanted)
            text = expression(graph, i, ref, target)
            given[i] = ident
            lines.append((ident, text, False))
        for ident, node in block.results:
            text = ref(node)
            if text is None:
                text = expression(graph, node, ref, target)
            lines.append((ident, text, True))
    return lines


# ---------------------------------------------------------------- LaTeX

#: op -> LaTeX function name (written before \left( ... \right)).
_LATEX_FUNCTIONS = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "sec": r"\sec", "csc": r"\csc",
    "cot": r"\cot", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "coth": r"\coth",
    "asin": r"\arcsin", "acos": r"\arccos", "atan": r"\arctan",
    "asec": r"\operatorname{arcsec}", "acsc": r"\operatorname{arccsc}",
    "acot": r"\operatorname{arccot}", "sech": r"\operatorname{sech}",
    "csch": r"\operatorname{csch}", "asinh": r"\operatorname{arsinh}",
    "acosh": r"\operatorname{arcosh}", "atanh": r"\operatorname{artanh}",
    "asech": r"\operatorname{arsech}", "acsch": r"\operatorname{arcsch}",
    "acoth": r"\operatorname{arcoth}", "atan2": r"\operatorname{atan2}",
    "log": r"\ln", "log2": r"\log_{2}", "log10": r"\log_{10}", "max": r"\max", "min": r"\min",
    "sigmoid": r"\sigma", "softplus": r"\operatorname{softplus}", "relu": r"\operatorname{ReLU}",
    "sign": r"\operatorname{sign}", "step": r"\operatorname{step}", "erf": r"\operatorname{erf}",
    "erfc": r"\operatorname{erfc}",
}


def latex_name(name: str) -> str:
    """An identifier as LaTeX: ``x``, ``x_{1}`` (x1, x_1), ``\\theta_{0}`` (theta0, θ0),
    ``\\mathrm{loss}``, ``x_{\\mathrm{max}}``. Names are grammar identifiers (letters,
    digits, underscores, marks): nothing in them is a LaTeX command."""
    base, sep, sub = name.partition("_")
    if not sep:
        k = len(name)
        while k > 1 and name[k - 1].isdigit():
            k -= 1
        base, sub = name[:k], name[k:]
    if not base or (sep and not sub):  # _x, x_: as they are
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    head = _latex_word(base)
    if not sub:
        return head
    return f"{head}_{{{sub if sub.isdigit() else _latex_word(sub)}}}"


_GREEK_WORDS = frozenset(_GREEK.values())


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return "\\" + _GREEK[word]
    if word in _GREEK_WORDS:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + word.replace("_", r"\_") + "}"


def latex_number(value: float) -> str:
    """A float as LaTeX: 2, 0.5, -3, 1.5 \\cdot 10^{-8}."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    mantissa, e, exponent = text.partition("e")
    if not e:
        return text
    exponent = str(int(exponent))
    if mantissa in ("1", "-1"):
        return ("-" if mantissa == "-1" else "") + f"10^{{{exponent}}}"
    return f"{mantissa} \\cdot 10^{{{exponent}}}"


def latex(graph, root: int, ref) -> str:
    """Node ``root`` as LaTeX math; ``ref(j)`` names input ``j`` (LaTeX) or returns None to
    write it inline. Products are juxtaposed after a number or before a function
    (``2 x \\sin\\left(x\\right)``) and written with ``\\cdot`` otherwise; quotients are
    ``\\frac``; powers put the exponent in braces. Iterative."""
    ops, inputs, consts = graph.ops, graph.inputs, graph.consts
    e_is_taken = "e" in graph.variables
    out: list[str] = []
    stack: list = [(root, False)]
    pop, push = stack.pop, stack.append

    def negative(j: int) -> bool:
        return ops[j].name == "const" and str(consts[j])[0] == "-"

    def prec(j: int) -> int:
        if ref(j) is not None:
            return _ATOM
        name = ops[j].name
        if name == "const":
            return _UNARY if negative(j) else _ATOM
        if name == "neg":
            return _UNARY
        if name in ("add", "sub"):
            return _SUM
        if name == "mul":
            return _PRODUCT
        if name == "pow" or (name == "exp" and not e_is_taken):
            return _POWER
        return _ATOM

    def base_parens(j: int) -> bool:
        """Whether ``j`` needs parentheses as the base of a power."""
        if ref(j) is not None:
            return False
        name = ops[j].name
        if name == "const":
            return negative(j) or "e" in repr(consts[j])
        if name == "exp":
            return not e_is_taken
        return name in ("add", "sub", "mul", "div", "neg", "pow", "div_prod", "exp_neg_square")

    def first(j: int) -> str:
        """The kind of the first symbol of ``j`` written inline: digit, minus, letter, command."""
        for _ in range(64):
            if ref(j) is not None:
                return "letter"
            name = ops[j].name
            if name == "const":
                return "minus" if negative(j) else "digit"
            if name == "var":
                return "letter"
            if name == "neg":
                return "minus"
            if name in ("add", "sub"):  # a left operand of a sum is never in parentheses
                j = inputs[j][0]
                continue
            if name in ("mul", "pow"):
                a = inputs[j][0]
                if (prec(a) < _PRODUCT) if name == "mul" else base_parens(a):
                    return "command"  # \left(
                j = a
                continue
            if name == "exp" and not e_is_taken:
                return "letter"
            return "command"
        return "command"

    def child(j: int, parens: bool):
        name = ref(j)
        return name if name is not None else (j, parens)

    def args(ins) -> list:
        body = [r"\left("]
        for k, a in enumerate(ins):
            if k:
                body.append(", ")
            body.append(child(a, False))
        body.append(r"\right)")
        return body

    while stack:
        item = pop()
        if isinstance(item, str):
            out.append(item)
            continue
        i, parens = item
        op = ops[i]
        name = op.name
        ins = inputs[i]
        if name == "const":
            body = [latex_number(consts[i])]
        elif not ins:
            raise ValueError(f"an input variable (node n{i}) must be named by ref")
        elif name in ("add", "sub"):
            a, b = ins
            right = prec(b) <= _SUM if name == "sub" else prec(b) < _SUM
            right = right or prec(b) == _UNARY  # a + (-b), a - (-2)
            body = [child(a, False), " + " if name == "add" else " - ", child(b, right)]
        elif name == "mul":
            a, b = ins
            right = prec(b) < _PRODUCT or prec(b) == _UNARY
            left = prec(a) < _PRODUCT
            starts = "command" if right else first(b)
            if starts in ("digit", "minus"):
                sep = r" \cdot "
            elif (ops[a].name == "const" and ref(a) is None and not left) or starts == "command":
                sep = " "
            else:
                sep = r" \cdot "
            body = [child(a, left), sep, child(b, right)]
        elif name == "div":
            a, b = ins
            body = [r"\frac{", child(a, False), "}{", child(b, False), "}"]
        elif name == "pow":
            a, b = ins
            body = [child(a, base_parens(a)), "^{", child(b, False), "}"]
        elif name == "neg":
            a = ins[0]
            body = ["-", child(a, prec(a) < _PRODUCT or prec(a) == _UNARY)]
        elif name == "exp":
            body = ([r"\exp"] + args(ins)) if e_is_taken else ["e^{", child(ins[0], False), "}"]
        elif name == "sqrt":
            body = [r"\sqrt{", child(ins[0], False), "}"]
        elif name == "cbrt":
            body = [r"\sqrt[3]{", child(ins[0], False), "}"]
        elif name == "abs":
            body = [r"\left|", child(ins[0], False), r"\right|"]
        elif name == "logb":
            body = [r"\log_{", child(ins[1], False), "}", r"\left(", child(ins[0], False),
                    r"\right)"]
        elif name == "log1p":
            body = [r"\ln\left(1 + ", child(ins[0], False), r"\right)"]
        elif name == "expm1":
            body = ([r"\left(\exp\left(", child(ins[0], False), r"\right) - 1\right)"]
                    if e_is_taken else [r"\left(e^{", child(ins[0], False), r"} - 1\right)"])
        elif name == "hypot":
            a, b = ins
            body = [r"\sqrt{", child(a, base_parens(a)), "^{2} + ", child(b, base_parens(b)),
                    "^{2}}"]
        elif name == "logsumexp":
            body = [r"\ln\left("]
            for k, a in enumerate(ins):
                body += ([" + "] if k else []) + (
                    [r"\exp\left(", child(a, False), r"\right)"] if e_is_taken
                    else ["e^{", child(a, False), "}"])
            body.append(r"\right)")
        elif name == "div_prod":
            n, x, y = ins
            body = [r"\frac{", child(n, False), "}{", child(x, prec(x) < _PRODUCT), " ",
                    child(y, prec(y) < _PRODUCT or prec(y) == _UNARY), "}"]
        elif name == "exp_neg_square":
            body = ["e^{-", child(ins[0], base_parens(ins[0])), "^{2}}"]
        else:
            fn = _LATEX_FUNCTIONS.get(name, r"\operatorname{" + name.replace("_", r"\_") + "}")
            body = [fn, *args(ins)]
        if parens:
            body = [r"\left(", *body, r"\right)"]
        for piece in reversed(body):
            push(piece)
    return "".join(out)


__all__ = ["Block", "C", "DEPTH", "Names", "Python", "c_identifier", "expression", "latex",
           "latex_name", "latex_number", "lower", "python_identifier", "straight_line"]
