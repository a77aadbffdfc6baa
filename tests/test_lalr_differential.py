"""The fast LALR runtime (syntax.FastParser) against Lark's own parser, and a builder per parse.

``parse()`` runs the fast loop, which reads Lark's parse table; on a syntax error the loop gives
up (``syntax.Fallback``) and Lark parses again and describes the error. Here both paths are
driven explicitly, each into a fresh builder (``parser._run``'s two branches), on every file of
``samples/``, the fuzz corpus and a few thousand generated sentences (a seeded random generator
over the grammar, plus mutations of its sentences), and must agree exactly:

* where Lark builds a graph, the fast loop builds the same one: ops (the same objects), inputs,
  labels, spans, constants, output, variables, and the same warnings;
* where Lark raises a syntax error, the fast loop falls back (and never builds a graph), and
  ``parse()`` raises Lark's error: the same message, hint and span;
* where the builder refuses what the grammar accepts (an unknown function, a wrong arity, a
  number out of range, a function used as a value), both raise the same error.

The second half: each parse has a builder of its own, so a parse inside a parse (from a
callback) and parses in several threads at once build the right graphs, by either path.
"""

from __future__ import annotations

import random
import sys
import threading
import unicodedata

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from autodiff_cli.core.ops import FUNCTIONS, PRIMITIVES
from autodiff_cli.errors import InputError
from autodiff_cli.language import parser, syntax
from autodiff_cli.language.parser import parse

from .conftest import ROOT

# ------------------------------------------------------------------ the two paths


def snapshot(graph) -> dict:
    """Everything a graph holds, as plain data (ops by name; their identity is checked apart)."""
    return {"ops": [op.name for op in graph.ops], "inputs": list(graph.inputs),
            "labels": list(graph.labels), "starts": list(graph.starts), "ends": list(graph.ends),
            "consts": dict(graph.consts), "output": graph.output, "outputs": graph.outputs,
            "output_names": graph.output_names,
            "variables": dict(graph.variables), "source": graph.source}


def _graph_of(run, source: str, functions=None):
    """("graph", snapshot, ops, warnings) | ("error", message, hint, span) | ("fallback",)."""
    builder = parser._Builder()
    builder.begin(source, functions)
    try:
        results = run(builder, source)
        warnings: list[str] = []
        graph = parser._finish(builder, results, warnings)
    except syntax.Fallback:
        return ("fallback",)
    except InputError as exc:
        return ("error", str(exc), exc.hint, exc.span)
    return ("graph", snapshot(graph), graph.ops, warnings)


def fast_path(source: str, functions=None):
    fast = syntax.fast_parser(parser._BUILDER)
    assert fast is not None, "the fast loop is not available"
    return _graph_of(lambda b, text: fast.parse(text, b._bound_table(fast)), source, functions)


def lark_path(source: str, functions=None):
    return _graph_of(lambda b, text: parser._lark_parse(text, b), source, functions)


def public(source: str, functions=None):
    try:
        warnings: list[str] = []
        graph = parse(source, warnings=warnings, functions=functions)
    except InputError as exc:
        return ("error", str(exc), exc.hint, exc.span)
    return ("graph", snapshot(graph), graph.ops, warnings)


def agree(raw: str, functions=None) -> str:
    """Assert that the two paths (and ``parse()``) agree on ``raw``; the kind of outcome."""
    try:
        source = parser._prepared(raw)
    except InputError:
        return "refused"  # empty or too long: neither parser runs
    lark, fast = lark_path(source, functions), fast_path(source, functions)
    if lark[0] == "graph":
        assert fast[0] == "graph", (source, fast)
        assert fast[1] == lark[1], source
        assert all(a is b for a, b in zip(fast[2], lark[2])), source  # the very same ops
        assert fast[3] == lark[3], source  # warnings
        kind = "graph"
    elif lark[1].startswith("syntax error"):
        assert fast == ("fallback",), (source, lark, fast)
        kind = "syntax"
    else:  # the builder refused it, in the same callback on both paths
        assert fast == lark, source
        kind = "refused by the builder"
    assert public(raw, functions) == lark, source  # parse() itself: Lark's graph, or error
    return kind


# ------------------------------------------------------------------ files


def _files():
    paths = sorted((ROOT / "samples").iterdir()) + sorted((ROOT / "fuzz" / "corpus").iterdir())
    return [p for p in paths if p.is_file()]


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_and_corpus_file(path):
    # as `adiff -f` reads it (the CSV and TOML files are syntax errors: the fallback is tested)
    agree(path.read_bytes().decode("utf-8", errors="replace"))


def test_the_formulas_of_the_sample_spec():
    spec = tomllib.loads((ROOT / "samples" / "grads.toml").read_text(encoding="utf-8"))
    formulas = [case["expr"] for case in spec["case"] if "expr" in case]
    formulas += [f for case in spec["case"] for f in case.get("expect", {}).values()]
    assert len(formulas) >= 5
    assert {agree(f) for f in formulas} == {"graph"}


def test_the_canaries_and_the_op_table_formulas():
    from autodiff_cli.calculus import rules
    from autodiff_cli.core.ops import OPS

    assert {agree(formula) for formula, _ in syntax.CANARIES} == \
        {"graph", "refused by the builder", "refused"}  # "" is empty
    table = rules.formula_functions()
    texts = {op.formula for op in (*OPS.values(), *PRIMITIVES.values()) if op.formula}
    texts |= {op.expand for op in OPS.values() if op.expand}
    texts |= {f for op in (*OPS.values(), *PRIMITIVES.values()) if isinstance(op.d, tuple)
              for f in op.d}
    texts = {t for t in texts if not t.isidentifier()}  # "sin": a primitive's name, not parsed
    assert {agree(text, functions=table) for text in texts} == {"graph"}


# ------------------------------------------------------------------ generated sentences

NAMES = ("x", "y", "z", "t0", "x_1", "θ1", "x̂", "Ω", "é", "e\u0301", "pi", "e", "a", "b")
NUMBERS = ("0", "1", "2", "3.14", ".5", "3.", "007", "1e-3", "2.5E+10", "1e3", "6.02e23",
           "1e-999", "12345678901234567890")
#: Every function name with every arity it takes.
CALLS = sorted({(name, k) for name, by in FUNCTIONS.items() for k in by if k is not None}
               | {(name, k) for name, by in FUNCTIONS.items() if None in by for k in (1, 2, 4)})
#: What the builder refuses: a wrong arity, no arguments, an unknown or look-alike name.
BAD_CALLS = sorted({(name, 0) for name in FUNCTIONS} | {("log", 3), ("atan2", 1), ("sinn", 1),
                                                        ("foo", 2), ("ѕin", 1)})
BLANKS = ("", "", "", "", " ", " ", "  ", "\t", " \\\n ")


class Sentences:
    """Random programs over the whole grammar (every terminal and rule), from a seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def blank(self) -> str:
        return self.rng.choice(BLANKS)

    def atom(self, depth: int) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.35:
            return self.rng.choice(NAMES if self.rng.random() < 0.6 else NUMBERS)
        if r < 0.36:
            return self.rng.choice(["1e999", *FUNCTIONS])  # too large; a function as a value
        if r < 0.7:
            name, k = self.rng.choice(BAD_CALLS if self.rng.random() < 0.03 else CALLS)
            args = [self.expr(depth - 1) for _ in range(k)]
            sep = "," + self.blank()
            return f"{name}({self.blank()}{sep.join(args)}{self.blank()})"
        return f"({self.blank()}{self.expr(depth - 1)}{self.blank()})"

    def unary(self, depth: int) -> str:
        r = self.rng.random()
        if r < 0.2:
            return self.rng.choice("-+") + self.blank() + self.unary(depth - 1)  # --+-x chains
        base = self.atom(depth)
        if r < 0.45:  # right-associative, the exponent signed: 2^-x^2
            return f"{base}{self.blank()}{self.rng.choice(['^', '**'])}{self.blank()}" \
                   f"{self.unary(depth - 1)}"
        return base

    def expr(self, depth: int = 3) -> str:
        out = self.unary(depth)
        for _ in range(self.rng.randint(0, 3)):
            op = self.rng.choice("+-*/")
            out += f"{self.blank()}{op}{self.blank()}{self.unary(depth - 1)}"
        return out

    def statement(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return self.blank()  # an empty statement
        if r < 0.45:
            name = self.rng.choice(NAMES + ("sin", "pi"))
            return f"{name}{self.blank()}={self.blank()}{self.expr()}"
        return self.expr()

    def outputs(self) -> str:
        """Several outputs: expressions separated by commas (``r, theta``)."""
        exprs = [self.expr(2) for _ in range(self.rng.randint(2, 4))]
        return ("," + self.blank()).join(exprs)

    def program(self) -> str:
        parts = [self.statement() for _ in range(self.rng.randint(1, 4))]
        if self.rng.random() < 0.2:  # the last statement (now and then another: refused)
            parts[-1 if self.rng.random() < 0.8 else 0] = self.outputs()
        text = parts[0]
        for part in parts[1:]:
            text += self.rng.choice([";", "\n", "\r\n", " ;\n", "\n# a comment\n", ";;"]) + part
        if self.rng.random() < 0.2:
            text += self.rng.choice([";", "\n", "  # the end", "\n\n"])
        return text

    def mutated(self, text: str) -> str:
        """``text`` with a few characters inserted, deleted or swapped: mostly syntax errors
        of every kind (a newline inside parentheses, a stray ')', '2x', 'x²', '$', ...)."""
        chars = list(text)
        for _ in range(self.rng.randint(1, 3)):
            k = self.rng.randrange(len(chars) + 1)
            r = self.rng.random()
            if r < 0.5:
                chars.insert(k, self.rng.choice("()+-*/^,;=\n#\\ x2.e[]$'²\u200b_"))
            elif r < 0.8 and chars:
                del chars[min(k, len(chars) - 1)]
            elif k < len(chars) - 1:
                chars[k], chars[k + 1] = chars[k + 1], chars[k]
        return "".join(chars)


N_SENTENCES = 1000


@pytest.mark.parametrize("seed", range(4))
def test_generated_sentences(seed):
    gen = Sentences(seed)
    kinds: dict[str, int] = {}
    for _ in range(N_SENTENCES // 2):
        text = gen.program()
        for sentence in (text, gen.mutated(text)):
            kind = agree(sentence)
            kinds[kind] = kinds.get(kind, 0) + 1
    # every kind of outcome is exercised, and many of each
    assert min(kinds.get(k, 0) for k in ("graph", "syntax", "refused by the builder")) >= 100, \
        kinds


def test_the_generator_covers_the_grammar():
    """Every alias of the grammar is reduced, every terminal lexed, in the sentences that
    parse: else a differential test over them would leave part of the table untested."""
    reduced: set[str] = set()
    terminals: set[str] = set()

    class Recording(parser._Builder):
        pass

    for name in parser._CALLBACKS:
        def record(self, c, _name=name, _original=getattr(parser._Builder, name)):
            reduced.add(_name)
            for t in c:
                if isinstance(t, str) and hasattr(t, "type"):
                    terminals.add(t.type)
            return _original(self, c)
        setattr(Recording, name, record)
    fast = syntax.fast_parser(parser._BUILDER)
    gen = Sentences(0)
    for _ in range(N_SENTENCES // 2):
        source = gen.program()
        b = Recording()
        b.begin(source)
        try:
            fast.parse(source, fast.bind(b))
        except (syntax.Fallback, InputError):
            pass
    assert reduced == set(parser._CALLBACKS), set(parser._CALLBACKS) - reduced
    assert terminals >= {"NAME", "NUMBER", "POW", "MINUS", "PLUS", "LPAR", "RPAR"}, terminals


def test_big_and_deep_inputs():
    gen = Sentences(99)
    big = ";\n".join(f"a{k} = {gen.expr(4)}" for k in range(300)) + "\na299"
    nested = "(" * 5000 + "x" + ")" * 5000
    chain = "-" * 3000 + "x^" * 500 + "2"
    for text in (big, nested, chain, "x+" * 5000 + "x"):
        agree(text)


def test_with_another_function_table():
    """``functions=``: the internal primitives are calls there and only there, on both paths."""
    from autodiff_cli.calculus.rules import formula_functions

    text = "div_prod(1, a, b) + exp_neg_square(a) * sign(a)"
    assert agree(text, functions=formula_functions()) == "graph"
    assert agree(text) == "refused by the builder"  # unknown function 'div_prod'
    with pytest.raises(InputError, match="unknown function 'div_prod'"):
        parse(text)


# ------------------------------------------------------------------ a builder per parse


def _reference(texts):
    return {t: snapshot(parse(t)) for t in texts}


@pytest.fixture(params=["fast", "lark"])
def path(request, monkeypatch):
    """Run each parse by the fast loop, or (the loop made unavailable) by Lark alone."""
    if request.param == "lark":
        monkeypatch.setattr(syntax, "_FAST", False)
    return request.param


class _ParsingTable(dict):
    """A function table that parses another formula each time a call is resolved: a parse
    inside a parse, from a builder callback (``call`` and ``name`` look names up here)."""

    def __init__(self, table, inner):
        super().__init__(table)
        self.inner, self.depth, self.graphs = inner, 0, []

    def __contains__(self, name):
        if not self.depth:
            self.depth += 1
            try:
                self.graphs.append(snapshot(parse(self.inner)))
            finally:
                self.depth -= 1
        return super().__contains__(name)


OUTER = "a = x*y + sin(x); b = exp(-a)/(1 + a^2); c = log(1 + b) - max(a, b, 1); c*c + z"
INNER = "p = 3*q - 1; r = sqrt(p^2 + 1); hypot(r, p) * tanh(q) + 7"


def test_a_parse_inside_a_parse_builds_both_graphs(path, monkeypatch):
    want = _reference([OUTER, INNER])
    table = _ParsingTable(FUNCTIONS, INNER)
    monkeypatch.setattr(parser, "FUNCTIONS", table)  # what parse() resolves calls in
    got = snapshot(parse(OUTER))
    monkeypatch.undo()
    assert len(table.graphs) >= 4  # one per call and per name looked up
    assert all(g == want[INNER] for g in table.graphs)
    assert got == want[OUTER]


def _program(rng: random.Random, statements: int) -> str:
    """A valid program of ``statements`` assignments, each using the ones before."""
    lines = []
    for k in range(statements):
        names = ["x", "y", "z", "2", "0.5", *(f"v{j}" for j in range(max(0, k - 3), k))]
        a, b, c = (rng.choice(names) for _ in range(3))
        f = rng.choice(["sin", "exp", "tanh", "sigmoid", "softplus", "atan"])
        lines.append(f"v{k} = {f}({a}*{b}) - {c}^2/(1 + max({a}, {b}, {c})^2)")
    return ";\n".join(lines) + f"\nv{statements - 1} + x"


def test_parses_in_threads_at_once_build_their_own_graphs(path):
    rng = random.Random(7)
    texts = [_program(rng, n) for n in (20, 30, 40, 50)]
    want = _reference(texts)
    errors: list = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: mid-parse
    try:
        def work(k):
            for r in range(15):
                t = texts[(k + r) % len(texts)]
                try:
                    got = snapshot(parse(t))
                except Exception as exc:  # noqa: BLE001 - a shared builder breaks here too
                    errors.append(repr(exc))
                    continue
                if got != want[t]:
                    errors.append(f"thread {k}: a wrong graph for formula {texts.index(t)}")
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:5]


def test_the_parsers_are_built_once_and_builders_reused():
    """No parser is rebuilt per parse: the fast loop's table is bound once per builder, and
    builders come back to a small pool (as many as parses were once under way at the same
    time, at most _POOL_SIZE), reset: they keep no formula's nodes alive."""
    parse("x + 1")
    fast = syntax.fast_parser(parser._BUILDER)
    size = len(parser._POOL)
    builder = parser._POOL[-1]  # the one that parse used (the pool is a stack)
    table = builder._table
    assert builder._fast is fast and table is not None
    for _ in range(50):
        parse("sin(x) * y")
        assert parser._POOL[-1] is builder and builder._table is table  # reused, not rebound
    assert syntax.fast_parser(parser._BUILDER) is fast and len(parser._POOL) == size
    assert all(b.ops == [] and b.source == "" for b in parser._POOL)
    assert len(parser._POOL) <= parser._POOL_SIZE


# ------------------------------------------------------------------ look-alike names


def test_the_missing_variable_hint_explains_a_lookalike(run):
    # thetа with a Cyrillic а (U+0430) prints like theta: "did you mean thetа?" alone reads as
    # nonsense, so the hint says which character differs.
    typed = "thet\u0430"
    assert unicodedata.name(typed[-1]) == "CYRILLIC SMALL LETTER A"
    result = run("grad", f"{typed}*x", "--at", "theta=1,x=2", "--format", "plain")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == (
        "Warning: --at binds theta, which the formula does not use\n"
        f"Error: no value for the variable {typed}\n"
        f"  {typed}*x\n"
        "  ^^^^^\n"
        f"--at binds 'theta': did you mean {typed}? ('\u0430' in {typed} is U+0430 CYRILLIC "
        "SMALL LETTER A, not 'a')\n")
    plain = run("grad", "thetb*x", "--at", "theta=1,x=2", "--format", "plain")
    assert plain.stderr.endswith("--at binds 'theta': did you mean thetb?\n")  # no note
