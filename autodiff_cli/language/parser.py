"""Formula text -> computational graph, in one LALR pass without recursion.

Lark's LALR parser is iterative, and the graph is built by an *inline*
transformer: each grammar rule's callback appends a node as soon as the rule
is reduced, so no parse tree is ever built or walked (a tree walk would
recurse and die at a few hundred levels of nesting). Callbacks return
``(node id, start, end)`` so every occurrence carries its own source span.

Names resolve while parsing: statements are reduced in order, so a name
refers to the latest assignment before it (``x = x + 1`` reads the input
``x``), then to the constants ``pi`` and ``e``, and otherwise is an input
variable.

The program's outputs are its last statement: one expression or assignment,
or several expressions separated by commas (``r, theta``), each named by its
text as written; ``parse(..., outputs=["a", "b"])`` picks assigned names
instead (``--outputs``). A comma list that is not the last statement is an
error here (the grammar accepts it anywhere; see grammar/adiff.lark).

Each parse has a builder of its own, so parsing is reentrant (a parse may run
inside another, or in another thread). The parsers themselves are built once
per process: the fast loop's table is bound to a builder once per builder
object (builders are reused from a small pool, reset at every parse), and
Lark's inline transformer is one dispatcher (``_BUILDER``) that forwards each
callback to the builder of the parse under way in its context.
"""

from __future__ import annotations

import gc
import math
import re
import unicodedata
from array import array
from collections.abc import Sequence
from contextvars import ContextVar

from autodiff_cli.core import ops as _ops
from autodiff_cli.core.graph import Graph, ancestors, pruned, written
from autodiff_cli.core.ops import CONSTANTS, FUNCTIONS, OPS
from autodiff_cli.errors import InputError, caret_block, clip, escape_controls, line_col
from autodiff_cli.language.syntax import char_label

_VAR = OPS["var"]
_CONST = OPS["const"]
_BINARY = {name: OPS[name] for name in ("add", "sub", "mul", "div", "pow")}
_NEG = OPS["neg"]

#: Largest formula accepted by default, in characters (``--max-size``).
DEFAULT_MAX_SIZE = 16_000_000


def _name(token) -> str:
    text = str(token)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def suggest(name: str, candidates) -> str | None:
    """The nearest candidate to ``name``, for "did you mean" hints."""
    if len(name) > 100:  # difflib is quadratic; no real name is that long
        return None
    import difflib

    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


class Statement:
    __slots__ = ("name", "node", "start", "end")

    def __init__(self, name, node, start, end):
        self.name, self.node, self.start, self.end = name, node, start, end


class _Outputs:
    """The value of a statement of several expressions (``r, theta``): their
    ``(node, start, end)`` in order, and the statement's span."""

    __slots__ = ("items", "start", "end")

    def __init__(self, items):
        self.items = items
        self.start, self.end = items[0][1], items[-1][2]


class _Builder:
    """The inline transformer: one method per grammar alias.

    One parse at a time: ``begin`` resets the state for a new one, with the table of
    function names it resolves calls in (``functions``: name -> {arity: op}).
    """

    def __init__(self) -> None:
        self.begin("")
        self._fast = self._table = None  # the fast parser and its table bound to this builder

    def begin(self, source: str, functions: dict | None = None) -> None:
        self.source = source
        self.functions = FUNCTIONS if functions is None else functions
        self.ops: list = []
        self.inputs: list = []
        self.labels: list = []
        # spans as machine integers: 8 bytes each instead of a list slot plus an
        # int object (36 bytes); indexing works as for a list
        self.starts = array("q")
        self.ends = array("q")
        self.consts: dict[int, float] = {}
        self.env: dict[str, int] = {}  # names bound by assignments
        self.vars: dict[str, int] = {}  # input variables
        self.statements: list[Statement] = []

    def _node(self, op, inputs, label, start, end) -> int:
        i = len(self.ops)
        self.ops.append(op)
        self.inputs.append(inputs)
        self.labels.append(label)
        self.starts.append(start)
        self.ends.append(end)
        return i

    def _error(self, message, start, end, hint=None):
        return InputError(message, source=self.source, span=(start, end), hint=hint)

    # -- leaves
    def number(self, c):
        tok = c[0]
        value = float(tok)  # the NUMBER regex admits only ASCII decimal literals
        start, end = tok.start_pos, tok.end_pos
        if math.isinf(value):
            raise self._error(f"number out of range: {_short(str(tok))} is too large for a "
                              "double-precision float", start, end)
        i = self._node(_CONST, (), str(tok), start, end)
        self.consts[i] = value
        return (i, start, end)

    def name(self, c):
        tok = c[0]
        name = _name(tok)
        start, end = tok.start_pos, tok.end_pos
        i = self.env.get(name)
        if i is None:
            i = self.vars.get(name)
        if i is None:
            if name in CONSTANTS:
                i = self._node(_CONST, (), name, start, end)
                self.consts[i] = CONSTANTS[name]
            elif name in self.functions:
                raise self._error(f"{name} is a function: call it as {name}(...)", start, end)
            else:
                i = self.vars[name] = self._node(_VAR, (), name, start, end)
        return (i, start, end)

    # -- operators
    def _binary(self, c, op):
        a, b = c[0], c[-1]
        return (self._node(op, (a[0], b[0]), "", a[1], b[2]), a[1], b[2])

    def add(self, c):
        return self._binary(c, _BINARY["add"])

    def sub(self, c):
        return self._binary(c, _BINARY["sub"])

    def mul(self, c):
        return self._binary(c, _BINARY["mul"])

    def div(self, c):
        return self._binary(c, _BINARY["div"])

    def pow(self, c):
        return self._binary(c, _BINARY["pow"])

    def neg(self, c):
        tok, (i, occ_start, end) = c
        start = tok.start_pos
        if (i == len(self.ops) - 1 and self.ops[i] is _CONST and self.starts[i] == occ_start
                and self.ends[i] == end):
            # -2 is one constant node, not neg(2): fold into the literal just made
            # (only a bare literal: not a name bound to one, not "(2)").
            self.consts[i] = -self.consts[i]
            self.labels[i] = "-" + self.labels[i]
            self.starts[i] = start
            return (i, start, end)
        return (self._node(_NEG, (i,), "", start, end), start, end)

    def pos(self, c):
        tok, (i, _, end) = c
        return (i, tok.start_pos, end)

    def call(self, c):
        tok, args, rpar = c[0], c[-2], c[-1]
        args = args or []
        name = _name(tok)
        start, end = tok.start_pos, rpar.end_pos
        functions = self.functions
        if name not in functions:
            near = suggest(name, functions)
            hint = f"did you mean {near}?{lookalike_note(name, near)}" if near else \
                "see `adiff --help` for the functions"
            raise self._error(f"unknown function {clip(name)!r}", start, tok.end_pos, hint)
        op = _ops.lookup(name, len(args), functions)
        if op is None:
            raise self._error(
                f"{name} takes {_ops.arity_text(name, functions)}, got {len(args)}", start, end)
        return (self._node(op, tuple(a[0] for a in args), "", start, end), start, end)

    def paren(self, c):
        lpar, (i, _, _), rpar = c
        return (i, lpar.start_pos, rpar.end_pos)

    def args(self, c):
        return c

    # -- statements
    def assign(self, c):
        tok, (i, _, end) = c
        name = _name(tok)
        self.env[name] = i
        if not self.labels[i]:
            self.labels[i] = name
        self.statements.append(Statement(name, i, tok.start_pos, end))
        return (i, tok.start_pos, end, name)

    def outputs(self, c):
        return _Outputs(c)

    def start(self, c):
        return c

    def _bound_table(self, fast):
        """``fast``'s parse table with this builder's callbacks (bound once per builder)."""
        if self._fast is not fast:
            self._table = fast.bind(self)
            self._fast = fast
        return self._table


#: The grammar callbacks: the public methods of the builder.
_CALLBACKS = tuple(name for name, v in vars(_Builder).items()
                   if callable(v) and not name.startswith("_") and name != "begin")

#: The builder of the parse under way in this context (thread, task): what ``_BUILDER``
#: forwards Lark's callbacks to.
_CURRENT: ContextVar[_Builder] = ContextVar("adiff_parse_builder")


class _Dispatch:
    """The transformer the process-wide parsers are built with (Lark's inline transformer,
    the fast loop's table checks): each callback forwards to the builder of the parse
    under way (``_CURRENT``), so one Lark parser serves every parse, nested or not."""


def _forward(name: str):
    def callback(self, children):
        return getattr(_CURRENT.get(), name)(children)
    callback.__name__ = callback.__qualname__ = name
    return callback


for _callback_name in _CALLBACKS:
    setattr(_Dispatch, _callback_name, _forward(_callback_name))
del _callback_name

_BUILDER = _Dispatch()

#: Idle builders (each keeps its bound fast table); a parse takes one or makes one, and
#: gives it back reset. Never more than the parses once under way at the same time, and
#: never more than _POOL_SIZE.
_POOL: list[_Builder] = []
_POOL_SIZE = 8


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------- syntax errors

_FRIENDLY = {
    "NUMBER": "a number", "NAME": "a name", "$END": "end of input",
    "_SEP": "end of statement", "POW": "'^'", "LPAR": "'('", "RPAR": "')'",
}


def _describe(terminal: str, parser) -> str:
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    try:
        pattern = parser.get_terminal(terminal).pattern
        if pattern.type == "str":
            return repr(pattern.value)
    except (KeyError, AttributeError):
        pass
    return terminal.lower()


def _expected(names, parser) -> str:
    words = sorted({_describe(t, parser) for t in names})
    return ", ".join(words)


#: The operand just before an offset: a number, a name or ')'. Searched in a window of
#: the source, not all of it: ``$``-anchored searches retry at every start (quadratic).
_OPERAND = re.compile(r"((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|\w+|\))$")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEPARATED = re.compile(r"[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?")  # 1_000_000.5
_WINDOW = 200
_BASES = {"x": (16, "hexadecimal", "[0-9a-fA-F]+"), "o": (8, "octal", "[0-7]+"),
          "b": (2, "binary", "[01]+")}
_SUPERSCRIPT = {"\u2070": "0", "\u00b9": "1", "\u00b2": "2", "\u00b3": "3", "\u2074": "4",
                "\u2075": "5", "\u2076": "6", "\u2077": "7", "\u2078": "8", "\u2079": "9",
                "\u207a": "+", "\u207b": "-"}
_UNSUPERSCRIPT = str.maketrans(_SUPERSCRIPT)


def _operand_before(source: str, pos: int, strip: bool = True) -> tuple[str, int] | None:
    """The operand ending just before ``pos`` (after blanks, if ``strip``) and its start."""
    lo = max(0, pos - _WINDOW)
    before = source[lo:pos]
    if strip:
        before = before.rstrip()
    m = _OPERAND.search(before)
    if m is None or (m.start() == 0 and lo > 0):  # none, or longer than the window
        return None
    return m.group(1), lo + m.start()


def _number_hint(prev: str, start: int, source: str, pos: int, token: str) -> str | None:
    """A token glued to the number literal ``prev``: ``0x10``, ``1_000``, ``1e``, ``1.5.2``."""
    if prev == "0" and token[:1].lower() in _BASES:
        base, what, digits = _BASES[token[0].lower()]
        if re.fullmatch(digits, token[1:]):
            value = int(token[1:], base) if len(token) <= 13 else None
            return f"{what} literals are not supported; " + \
                (f"write {value}" if value is not None else "write the number in decimal")
    if token.startswith("_") and re.fullmatch(r"[0-9_]*[0-9][0-9_]*", token):
        literal = _SEPARATED.match(source, start).group().rstrip("_")
        plain = literal.replace("_", "")
        if len(literal) <= 40 and _NUMBER.fullmatch(plain):
            return f"digit separators are not supported; write {plain}"
        return "digit separators are not supported; write the number without _"
    has_exponent = "e" in prev or "E" in prev
    if token in ("e", "E") and not has_exponent:
        sign = source[pos + 1:pos + 2]
        sign = sign if sign in ("+", "-") else ""
        times = f"{prev}*e for Euler's number" if token == "e" else f"{prev}*E to multiply by E"
        return f"write {prev}{token}{sign}3 for an exponent or {times}"
    if token.startswith(".") and _NUMBER.fullmatch(token):
        return "an exponent is a whole number" if has_exponent else "a number has at most one decimal point"
    return None


def _missing_operator_hint(source: str, pos: int, token_text: str,
                           functions=FUNCTIONS) -> str | None:
    """'2x' -> 'write 2*x'; 'sin x' -> 'write sin(x)'; '0x10' -> 'write 16'."""
    found = _operand_before(source, pos)
    if found is None:
        return None
    prev, start = found
    glued = start + len(prev) == pos
    if glued and _NUMBER.fullmatch(prev) and not (start and (source[start - 1].isalnum()
                                                             or source[start - 1] in "._")):
        hint = _number_hint(prev, start, source, pos, token_text)
        if hint:
            return hint
    if len(token_text) > 40 or len(prev) > 40:
        return f"there is no implicit multiplication: insert * before {_short(token_text)!r}"
    if prev in functions and re.fullmatch(r"\w+", token_text or ""):
        return f"to call a function use parentheses: write {prev}({token_text})"
    if prev == ")" or token_text == "(":
        return f"there is no implicit multiplication: insert * before {token_text!r}"
    return f"there is no implicit multiplication: write {prev}*{token_text}"


def _superscript_hint(source: str, pos: int) -> str:
    """'x²' -> 'write x^2'."""
    end = pos
    while end < len(source) and end - pos < 40 and source[end] in _SUPERSCRIPT:
        end += 1
    exponent = source[pos:end].translate(_UNSUPERSCRIPT)
    base = None
    found = _operand_before(source, pos, strip=False)
    if found and found[0] != ")":
        base = found[0]
    elif found:  # '(x+1)²', 'sin(x)²': the group, and the function called on it
        depth, i = 0, pos - 1
        while i >= max(0, pos - 40):
            depth += {")": 1, "(": -1}.get(source[i], 0)
            if depth == 0:
                name = _operand_before(source, i, strip=False)
                if name and name[0] != ")" and not _NUMBER.fullmatch(name[0]):
                    i = name[1]
                base = source[i:pos]
                break
            i -= 1
    if base and len(base) <= 40 and "\n" not in base and re.fullmatch(r"[+-]?[0-9]+", exponent):
        return f"superscripts are not powers here: write {base}^{exponent}"
    return "superscripts are not powers here: write the exponent after ^, as in x^2"


def _in_assignment(source: str, pos: int) -> bool:
    """True when the statement around offset ``pos`` starts ``name =``."""
    start = max(source.rfind(";", 0, pos), source.rfind("\n", 0, pos)) + 1
    from autodiff_cli.language.syntax import name_regex

    head = source[start:min(pos, start + 256)].lstrip(" \t\f\r")
    m = name_regex().match(head)
    return m is not None and head[m.end():].lstrip(" \t").startswith("=")


def lookalike_note(typed: str, near: str) -> str:
    """For a "did you mean" that would print like what was typed (``ѕin`` with a Cyrillic
    ѕ, and ``sin``): which character differs. Empty when the two look different."""
    if len(typed) != len(near) or typed == near:
        return ""
    for a, b in zip(typed, near):
        if a != b:
            if a.isascii() and b.isascii():
                return ""
            return f" ({a!r} in {clip(typed)} is {char_label(a)}, not {b!r})"
    return ""


def did_you_mean(name: str, candidates) -> str | None:
    """"did you mean x?" for the nearest candidate (with the look-alike note when the two
    print alike), or None when no candidate is near."""
    near = suggest(name, candidates)
    return f"did you mean {near}?{lookalike_note(name, near)}" if near else None


def _syntax_error(exc, source: str, parser, functions=FUNCTIONS) -> InputError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    from autodiff_cli.language.syntax import IGNORABLE, name_regex, show_invisible

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = source[pos] if pos < len(source) else ""
        invisible = bool(IGNORABLE.match(ch))
        shown = repr(ch) if ch.isprintable() and not invisible else f"U+{ord(ch):04X}"
        line, col = line_col(source, pos)
        hint = None
        what = f"unexpected character {shown}"
        if invisible:
            after = pos + 1
            while after < len(source) and after - pos < 64 and IGNORABLE.match(source, after):
                after += 1
            before = re.search(f"(?:{name_regex().pattern})$", source[max(0, pos - 64):pos])
            follows = after < len(source) and name_regex().fullmatch("a" + source[after])
            if (follows and (before or name_regex().match(source[after]))
                    or unicodedata.category(ch) == "Lo"):  # the Hangul fillers pass for letters
                # in a name, or just before one: say which character it is, as the name cannot
                rest = name_regex().match("a" + source[after:after + 64]).group()[1:] if follows else ""
                word = (before.group() if before else "") + source[pos:after] + rest
                what = f"invisible character {char_label(ch)} in the name '{show_invisible(word)}'"
                hint = ("names may not contain invisible characters (two different names would "
                        "look the same): delete it")
        elif ch in _SUPERSCRIPT:
            hint = _superscript_hint(source, pos)
        elif ch == "=":
            hint = "an assignment is `name = expression`, one per statement"
        elif ch in "[]{}":
            hint = "group with parentheses ( )"
        elif ch == ",":
            hint = ("commas separate function arguments, and the outputs of the last statement "
                    "(r, theta); separate statements with ; or a newline")
        return InputError(f"syntax error at line {line}, column {col}: {what}",
                          source=source, span=(pos, pos + 1), hint=hint)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        at_end = tok.type == "$END"
        pos = len(source) if at_end else tok.start_pos
        line, col = line_col(source, pos)
        if at_end:
            what = "unexpected end of input"
        elif tok.type == "_SEP":
            what = "unexpected end of statement" + (" (newline)" if str(tok) != ";" else " ';'")
        else:
            what = f"unexpected {_short(str(tok))!r}"
        expected = exc.accepts or exc.expected or set()
        lines = []
        if expected:
            lines.append(f"expected: {_expected(expected, parser)}")
        if tok.type in ("NAME", "NUMBER", "LPAR") and not at_end:
            hint = _missing_operator_hint(source, pos, str(tok) if tok.type != "LPAR" else "(",
                                          functions)
            if hint:
                lines.append(hint)
        if tok.type == "_SEP" and str(tok) != ";":
            lines.append("a newline ends a statement: end the line with \\ to continue it")
        if tok.type == "RPAR" and "RPAR" not in expected:
            lines.append("this ')' has no matching '('")
        if tok.type == "COMMA" and "COMMA" not in expected and _in_assignment(source, pos):
            lines.append("an assignment binds one name: assign each output on its own "
                         "(r = ...; theta = ...), then list them as the last statement: r, theta")
        return InputError(f"syntax error at line {line}, column {col}: {what}",
                          source=source, span=(pos, pos + max(1, len(str(tok)) if not at_end else 1)),
                          hint="\n".join(lines) or None)
    return InputError(f"syntax error: {exc}", source=source)


# ---------------------------------------------------------------- entry point

def parse(source: str, *, max_size: int = DEFAULT_MAX_SIZE, warnings: list | None = None,
          functions: dict | None = None, outputs: Sequence[str] | None = None) -> Graph:
    """Parse a formula or program into a graph of the nodes its outputs depend on.

    The outputs are the last statement's expressions (``graph.outputs``, named by their
    text as written: ``graph.output_names``), or, with ``outputs``, the names the program
    assigns, in that order (``--outputs a,b``; each once; InputError for a name it does not
    assign, with the nearest one).

    Statements whose result the outputs do not use are dropped from the graph;
    a message for each is appended to ``warnings`` when given. ``functions`` (name ->
    {arity: op}, ``None`` the variadic entry) is the table calls resolve in, instead of
    ``ops.FUNCTIONS`` (the op table's own formulas call internal primitives too).

    The fast loop (``syntax.FastParser``) parses; on a syntax error it gives up
    (``Fallback``) and Lark's own parser parses again and describes the error; if the fast
    loop's table breaks in a way a sound one cannot, it is dropped for good and Lark parses.
    """
    source = _prepared(source, max_size)
    try:
        b = _POOL.pop()  # a builder of this parse's own
    except IndexError:
        b = _Builder()
    try:
        return _finish(b, _run(b, source, functions), warnings, outputs)
    finally:
        b.begin("")  # drop references to the big lists
        if len(_POOL) < _POOL_SIZE:
            _POOL.append(b)


def _prepared(source: str, max_size: int = DEFAULT_MAX_SIZE) -> str:
    """The text the parsers read: checked for size and content, NFC-normalized."""
    if len(source) > max_size:
        raise InputError(f"the formula is {len(source):,} characters long, over the limit of "
                         f"{max_size:,}", hint="raise the limit with --max-size")
    if not source.strip():
        raise InputError("the formula is empty")
    if not source.isascii():
        # One spelling per name: "é" typed as e + U+0301 is the same name as "é".
        source = unicodedata.normalize("NFC", source)
    return source


def _run(b: _Builder, source: str, functions):
    """The statements' values, built into ``b``: by the fast loop, else by Lark."""
    from autodiff_cli.language.syntax import Fallback, distrust_tables, fast_parser

    fast = fast_parser(_BUILDER)  # None if Lark's internals are not as expected
    b.begin(source, functions)
    enabled = gc.isenabled()
    gc.disable()  # the parse allocates many small objects and frees none: GC only costs
    try:
        if fast is None:
            return _lark_parse(source, b)
        try:
            return fast.parse(source, b._bound_table(fast))
        except Fallback:  # a syntax error: let Lark find and describe it
            b.begin(source, functions)
            return _lark_parse(source, b)
        except (InputError, MemoryError):
            raise
        except Exception:  # noqa: BLE001 - a table that passed its checks and still broke
            distrust_tables()
            b.begin(source, functions)
            return _lark_parse(source, b)
    finally:
        if enabled:
            gc.enable()


def _finish(b: _Builder, results, warnings: list | None, picked=None) -> Graph:
    """The graph of the program's outputs from the builder's nodes and the statements'
    values (``results``, as a parser returns them); warnings for unused statements.
    ``picked``: assigned names to take as the outputs instead (``--outputs``)."""
    source = b.source
    results = [r for r in results if r is not None]
    if not results:
        raise InputError("the formula has no statements (only comments or separators)")
    for r in results[:-1]:
        if type(r) is _Outputs:  # the grammar accepts a comma list as any statement
            raise InputError(
                "several outputs are allowed only in the last statement", source=source,
                span=(r.start, r.end),
                hint="the outputs of a program are its last statement: move this list to the "
                     "end, or assign each one (r = ...) and list their names last (r, theta)")
    last = results[-1]
    if warnings is not None:
        for r in results[:-1]:
            if len(r) == 3:  # an expression statement (assignments carry their name)
                line, _ = line_col(source, r[1])
                warnings.append(f"line {line}: the value of this statement is not used "
                                "(the value of a program is its last statement)")
    if picked is not None:
        outputs, names = _picked(b, picked)
        if warnings is not None and (type(last) is _Outputs or len(last) == 3):
            line, _ = line_col(source, last.start if type(last) is _Outputs else last[1])
            warnings.append(f"line {line}: the value of the last statement is not used "
                            "(--outputs names the outputs)")
    elif type(last) is _Outputs:
        if warnings is not None:
            glued = _decimal_comma(source, last)
            if glued:
                line, _ = line_col(source, last.start)
                whole, fraction = glued
                warnings.append(f"line {line}: '{whole},{fraction}' is read as two outputs, "
                                f"{whole} and {fraction} (for the number, write "
                                f"{whole}.{fraction}: the decimal point is '.')")
        outputs = [item[0] for item in last.items]
        names = [(item[1], item[2]) for item in last.items]
        seen: dict[str, int] = {}
        for k, (start, end) in enumerate(names):
            text = written(source, start, end)
            if text in seen:
                raise InputError(f"the output {clip(text)!r} is listed twice", source=source,
                                 span=(start, end),
                                 hint="each output is listed once (its text names it in the "
                                      "results)")
            seen[text] = k
    elif len(last) == 4:
        outputs, names = [last[0]], [last[3]]
    else:
        outputs, names = [last[0]], [(last[1], last[2])]
    output = outputs[0]
    if (len(results) == 1 and len(outputs) == 1 and type(last) is not _Outputs
            and len(last) == 3 and output == len(b.ops) - 1):
        # One expression: every node built is an input of a later one, up to the
        # last (the output), so there is nothing to prune.
        return Graph(source, b.ops, b.inputs, b.labels, b.starts, b.ends, b.consts, output,
                     output_names=names)
    keep = ancestors(b.inputs, outputs)
    if warnings is not None:
        for st in b.statements:
            if not keep[st.node]:
                line, _ = line_col(source, st.start)
                warnings.append(f"line {line}: {st.name!r} is assigned but its value is never used")
    return pruned(source, b.ops, b.inputs, b.labels, b.starts, b.ends, b.consts, output, keep,
                  outputs=outputs, output_names=names)


_DIGITS_BEFORE = re.compile(r"(?<![\w.])[0-9]+$")
_DIGITS_AFTER = re.compile(r"[0-9]+(?![\w.])")


def _decimal_comma(source: str, last: _Outputs) -> tuple[str, str] | None:
    """('1', '5') when two outputs are glued digits around a comma (``x*1,5``): most likely
    a number written with a decimal comma."""
    items = last.items
    for (_, _, end), (_, start, _) in zip(items, items[1:]):
        if start == end + 1 and source[end] == ",":
            before = _DIGITS_BEFORE.search(source, max(0, end - 40), end)
            after = _DIGITS_AFTER.match(source, start, start + 40)
            if before and after:
                return before.group(), after.group()
    return None


def several_outputs_error(graph: Graph, command: str) -> InputError:
    """The error of ``command`` ("adiff grad"), which needs one output, given ``graph`` with
    several: their names, a caret under the list, and where to go instead."""
    names = graph.output_names
    shown = ", ".join(escape_controls(clip(n)) for n in names[:6]) + (
        f" and {len(names) - 6:,} more" if len(names) > 6 else "")
    first, last = graph.output_span(0), graph.output_span(len(names) - 1)
    span = (first[0], last[1]) if first and last else None
    return InputError(
        f"the formula has {len(names):,} outputs ({shown}); {command} needs one",
        source=graph.source if span else None, span=span,
        hint="adiff jacobian gives the derivatives of every output (adiff graph draws them); "
             "for one of them, end the program with that output alone")


def _picked(b: _Builder, picked) -> tuple[list[int], list[str]]:
    """The nodes and names of ``--outputs``: names the program assigns (its latest binding
    of each), each once, in the order given."""
    names = list(dict.fromkeys(picked))
    if not names:
        raise InputError("--outputs needs names the program assigns, e.g. --outputs r,theta")
    env = b.env
    nodes = []
    for name in names:
        i = env.get(name)
        if i is None:
            shown = escape_controls(clip(name, 80))
            if name in b.vars:
                raise InputError(f"--outputs {shown}: '{shown}' is an input of the formula, not "
                                 "a name it assigns",
                                 hint=f"assign it to make it an output (e.g. out = {shown})")
            assigned = list(env)
            raise InputError(f"--outputs {shown}: the program assigns no '{shown}'",
                             hint=did_you_mean(name, assigned) or
                             (f"it assigns: {', '.join(clip(a) for a in assigned[:20])}"
                              if assigned else "it assigns no names (name = expression)"))
        nodes.append(i)
    return nodes, names


def _lark_parse(source: str, builder: _Builder):
    """Lark's own parse, inline transformer and all, into ``builder``; its errors become
    InputError."""
    from lark.exceptions import UnexpectedInput

    from autodiff_cli.language.syntax import parser as get_parser

    lark_parser = get_parser(_BUILDER)
    token = _CURRENT.set(builder)
    try:
        return lark_parser.parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, lark_parser, builder.functions) from None
    finally:
        _CURRENT.reset(token)


__all__ = ["parse", "suggest", "caret_block", "several_outputs_error", "DEFAULT_MAX_SIZE"]
