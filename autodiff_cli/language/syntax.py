"""Find the grammar text and build the parsers: Lark's LALR parser and the fast loop.

The grammar lives in ``grammar/adiff.lark`` at the top of the project. A wheel
ships it as ``autodiff_cli/grammar/adiff.lark`` (hatchling force-include);
a checkout or an editable install reads the top-level copy.

The fast loop runs Lark's parse table, kept as JSON in a per-user cache
directory created with mode 0700 (``$XDG_CACHE_HOME/adiff``, or
``~/.cache/adiff`` when that variable is unset, empty or relative, as the XDG
spec says). A cache only ever saves time: the file is named by a hash of
everything the table depends on (the grammar text, adiff's, Lark's and
Python's versions and the file format), carries a SHA-256 of its content, and
is checked for shape and run on a few canary formulas before use. On any doubt
-- a bad checksum, a file that is not ours or not a regular file, a table that
fails a check -- it is rebuilt from the grammar, silently, and written whole
then renamed. If the directory cannot be made safe, nothing is cached.

Lark's own ``cache=`` (a pickle with no integrity check, which would also feed
a damaged table into the rebuilt one) is never used: Lark is built from the
grammar text, and only when a table must be made or a syntax error described.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys

GRAMMAR_NAME = "adiff.lark"


def grammar_text() -> str:
    # the package folder (this file is in autodiff_cli/language/)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # A wheel has the grammar beside this file; a checkout or an editable install
    # at the top of the project. Plain paths first: importing importlib.resources
    # (and pathlib with it) costs ~10 ms of start-up.
    for path in (os.path.join(here, "grammar", GRAMMAR_NAME),
                 os.path.join(os.path.dirname(here), "grammar", GRAMMAR_NAME)):
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                return fh.read()
    from importlib import resources

    res = resources.files("autodiff_cli").joinpath("grammar", GRAMMAR_NAME)
    if res.is_file():  # e.g. installed as a zip
        return res.read_text(encoding="utf-8")
    raise FileNotFoundError(f"grammar {GRAMMAR_NAME} not found beside {here} or in the checkout")


@functools.lru_cache(maxsize=1)
def name_regex():
    """The compiled NAME terminal of the grammar, for --at names and the printer."""
    m = re.search(r"^NAME:\s*/(.*)/\s*$", grammar_text(), flags=re.M)
    if m is None:  # pragma: no cover - the grammar defines NAME
        raise RuntimeError("grammar has no NAME terminal")
    return re.compile(m.group(1))


#: Unicode's Default_Ignorable_Code_Point characters (DerivedCoreProperties.txt): they
#: show as nothing, so a name holding one would print like another name. The grammar's
#: NAME does not match them; formulas and ``--at`` say which one was found.
IGNORABLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                       "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
                       "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")


def char_label(ch: str) -> str:
    """``U+200D ZERO WIDTH JOINER``: a character named so that it can be seen."""
    import unicodedata

    name = unicodedata.name(ch, None)
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def show_invisible(text: str) -> str:
    """``text`` with each invisible or control character written as an escape (``x\\u200dy``)."""
    from autodiff_cli.errors import escape_controls

    def escape(m):
        code = ord(m.group())
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return escape_controls(IGNORABLE.sub(escape, text))


def _cache_dir() -> str | None:
    """A directory only this user can write (made 0700 if need be), or None."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: ignored (XDG Base Directory spec)
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no home directory: no cache
            return None
        base = os.path.join(home, ".cache")
    path = os.path.join(base, "adiff")
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return None  # a symlink, a file, or someone else's directory
        if st.st_mode & 0o077:
            try:
                os.chmod(path, 0o700)
            except OSError:
                if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    return None
    except (OSError, AttributeError, ValueError):  # AttributeError: no os.getuid (Windows)
        return None
    return path


_PARSER = None


def parser(transformer):
    """The LALR parser with ``transformer`` inlined (built once per process, from the grammar)."""
    global _PARSER
    if _PARSER is None:
        import lark

        _PARSER = lark.Lark(grammar_text(), parser="lalr", lexer="contextual", transformer=transformer,
                            maybe_placeholders=True, propagate_positions=False)
    return _PARSER


# ---------------------------------------------------------------- the fast path

class Fallback(Exception):
    """The fast loop met something it does not handle: let Lark parse (and report) it."""


class _Token(str):
    """What the builder reads from a token: its text, type and span."""

    __slots__ = ("type", "start_pos", "end_pos")


class _Tree:
    """The value of a rule without a builder method (Lark's default ``Tree``)."""

    __slots__ = ("data", "children")

    def __init__(self, data, children):
        self.data, self.children = data, children


#: Bump when the layout of the table file changes.
TABLES_VERSION = 2


def extract_tables(lark_parser) -> dict:
    """Lark's LALR table, terminals and callback shapes as plain JSON data.

    Reads Lark internals (``parser.parser.parser``, the callback wrappers of
    ``parse_tree_builder``); anything unexpected raises, and the caller then
    keeps using Lark for every parse.
    """
    from lark.lexer import Token
    from lark.parse_tree_builder import ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift

    conf = lark_parser.lexer_conf
    # the order of Lark's basic lexer: alternatives are tried first to last
    terminals = sorted(conf.terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                      -len(t.pattern.value), t.name))
    inner = lark_parser.parser.parser.parser
    table = inner.parse_table
    rules, index = [], {}

    def rule_id(rule):
        if rule not in index:
            cb = inner.callbacks[rule]
            entry = {"origin": rule.origin.name, "size": len(rule.expansion),
                     "callback": rule.alias or rule.options.template_source or rule.origin.name,
                     "include": None, "append_none": 0, "expand1": False}
            if hasattr(cb, "to_include"):  # ChildFilter*: drops tokens, inlines _rules, adds None
                entry["include"] = [list(t) + [0] * (3 - len(t)) for t in cb.to_include]
                entry["append_none"] = getattr(cb, "append_none", 0)
                cb = cb.node_builder
            if isinstance(cb, ExpandSingleChild):
                entry["expand1"] = True
                cb = cb.node_builder
            if getattr(cb, "__name__", None) != entry["callback"] and \
                    getattr(cb, "args", None) != (entry["callback"],):
                raise ValueError(f"unexpected callback for {rule}: {cb!r}")
            entry["method"] = hasattr(cb, "__self__")
            # ?rule: other -- the value is the single child, only the state changes
            entry["unit"] = (entry["expand1"] and entry["include"] is None and entry["size"] == 1
                             and not rule.alias)
            index[rule] = len(rules)
            rules.append(entry)
        return index[rule]

    states = {str(state): {sym: [1, arg] if action is Shift else [0, rule_id(arg)]
                           for sym, (action, arg) in row.items()}
              for state, row in table.states.items()}
    if not isinstance(Token("X", "y"), str):
        raise ValueError("tokens are not strings")
    return {"version": TABLES_VERSION, "terminals": [[t.name, t.pattern.to_regexp()] for t in terminals],
            "flags": conf.g_regex_flags, "ignore": sorted(conf.ignore), "states": states, "rules": rules,
            "start": table.start_states["start"], "end": table.end_states["start"]}


class FastParser:
    """Lark's own LALR table and callbacks, run in a tight loop with a one-regex lexer.

    Lark's parse loop spends most of its time in per-token overhead: a
    ``Token(...)`` built through a keyword-checking ``__new__``, line and
    column counting, and a dict lookup keyed by ``Rule`` objects (whose
    ``__hash__``/``__eq__`` are Python code) at every reduction. This loop
    reads the same parse table (saved as JSON in the per-user cache, so the
    fast path does not even import Lark), gives the builder the same children,
    and skips the unit reductions (``?rule: other``).

    It accepts exactly what Lark accepts: the terminals of this grammar do not
    overlap (except ``**``/``*``, where both lexers take the longest), so a
    basic lexer produces the tokens Lark's contextual lexer would whenever the
    parse succeeds. On an unexpected character or token it raises
    ``Fallback`` and the caller reparses with Lark, so every syntax error is
    Lark's own (tests/test_lalr_differential.py holds the loop to Lark on
    samples, the fuzz corpus and generated sentences).

    The callbacks are bound into the table: ``bind(builder)`` makes a table for
    another builder (once per builder object: parser.py keeps a small pool), and
    ``parse(text, table)`` builds into that one, so every parse can have a builder
    of its own without anything being rebuilt per parse.
    """

    def __init__(self, data: dict, builder):
        import re

        self.regex = re.compile("|".join(f"(?P<{name}>{regexp})" for name, regexp in data["terminals"]),
                                data["flags"])
        self.ignore = frozenset(data["ignore"])
        self._rules, self._states = data["rules"], data["states"]
        self.states = self.bind(builder)
        self.start, self.end = data["start"], data["end"]
        # A sound table reduces at most ~(rules + 1) times per token; a table that loops
        # (reducing without reading) is stopped by this budget instead of running forever.
        self.reductions_per_char = 2 * (len(self._rules) + 2)

    def bind(self, builder) -> dict:
        """The parse table with ``builder``'s callbacks in its reductions, for
        ``parse(text, table)``: bind once per builder object, parse with it many times."""
        rules = [(r["size"], r["origin"], None if r["unit"] else _callback(r, builder))
                 for r in self._rules]
        return {int(state): {sym: (True, arg) if shift else (False, rules[arg])
                             for sym, (shift, arg) in row.items()}
                for state, row in self._states.items()}

    def parse(self, text: str, table: dict | None = None):
        """The value of ``text``: built by the builder of ``table`` (from ``bind``), by
        default the one this parser was made with."""
        match, ignore, new = self.regex.match, self.ignore, str.__new__
        states, end_state = self.states if table is None else table, self.end
        stack = [self.start]
        values: list = []
        pos, n = 0, len(text)
        token = None
        budget = self.reductions_per_char * (n + 2)
        while True:
            if pos < n:
                m = match(text, pos)
                if m is None:
                    raise Fallback
                end = m.end()
                kind = m.lastgroup
                if kind in ignore:
                    pos = end
                    continue
                token = new(_Token, m.group())
                token.type, token.start_pos, token.end_pos = kind, pos, end
                pos = end
            else:
                kind = "$END"
            while True:
                action = states[stack[-1]].get(kind)
                if action is None:
                    raise Fallback
                shift, arg = action
                if shift:
                    stack.append(arg)
                    values.append(token)
                    break
                size, origin, callback = arg
                budget -= 1
                if not budget:
                    raise RuntimeError("the parse table loops")
                if callback is None:  # ?rule: other -- the child is the value
                    del stack[-1]
                else:
                    if size:
                        children = values[-size:]
                        del stack[-size:]
                        del values[-size:]
                    else:
                        children = []
                    values.append(callback(children))
                stack.append(states[stack[-1]][origin][1])
                if kind == "$END" and stack[-1] == end_state:
                    return values[-1]


def _callback(rule: dict, builder):
    """The callback Lark would build for ``rule``: filter children, expand a single one, call."""
    name = rule["callback"]
    if rule["method"]:
        call = getattr(builder, name)
    else:
        def call(children, _name=name):
            return _Tree(_name, children)
    if rule["expand1"]:
        inner = call

        def call(children, _inner=inner):
            return children[0] if len(children) == 1 else _inner(children)
    include = rule["include"]
    if include is None:
        return call
    append_none = rule["append_none"]
    if not append_none and all(not expand and not none for _, expand, none in include):
        keep = tuple(i for i, _, _ in include)
        if len(keep) == 2:
            a, b = keep

            def two(children, _call=call):
                return _call([children[a], children[b]])
            return two

        def pick(children, _call=call):
            return _call([children[i] for i in keep])
        return pick

    def general(children, _call=call):
        filtered = []
        for i, expand, none in include:
            if none:
                filtered += [None] * none
            if expand:
                if filtered:
                    filtered += children[i].children
                else:  # left recursion (a list of statements): reuse the list, as Lark does
                    filtered = children[i].children
            else:
                filtered.append(children[i])
        if append_none:
            filtered += [None] * append_none
        return _call(filtered)
    return general


# ---------------------------------------------------------------- the table cache

_MAGIC = "adiff-tables"
_MAX_TABLES = 1 << 20  # bytes; the table is ~11 KB


def _lark_version() -> str:
    """Lark's version without importing it (the fast path never imports Lark)."""
    lark = sys.modules.get("lark")
    if lark is not None:
        return str(getattr(lark, "__version__", "unknown"))
    try:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find("lark", None) if find else None
            if spec is not None:
                break
        else:
            return "none"
        with open(spec.origin, encoding="utf-8") as fh:
            m = re.search(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", fh.read(1 << 16), re.M)
        return m.group(1) if m else "unknown"
    except Exception:  # noqa: BLE001 - a version we cannot read only makes the key coarser
        return "unknown"


def _sha256(data: bytes) -> str:
    """Hex SHA-256. CPython's own implementation when it has one: ``hashlib`` loads
    OpenSSL (~2 ms of every start-up; ``random`` avoids it the same way)."""
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


def tables_key(text: str) -> str:
    """SHA-256 (hex) of everything the table depends on."""
    from autodiff_cli import __version__

    parts = (_MAGIC, str(TABLES_VERSION), __version__, _lark_version(),
             "{}.{}".format(*sys.version_info[:2]), text)
    return _sha256("\0".join(parts).encode("utf-8", "surrogatepass"))


def tables_path(directory: str, key: str) -> str:
    return os.path.join(directory, f"tables-{key[:32]}.json")


def dump_tables(data: dict, key: str) -> bytes:
    """The file: one header line ``adiff-tables VERSION KEY SHA256``, then the JSON payload."""
    payload = json.dumps({**data, "key": key}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return f"{_MAGIC} {TABLES_VERSION} {key} {_sha256(payload)}\n".encode() + payload


def load_tables(raw: bytes, key: str) -> dict:
    """The payload of a table file, if its header and checksum are right; else ValueError."""
    header, newline, payload = raw.partition(b"\n")
    prefix = f"{_MAGIC} {TABLES_VERSION} {key} ".encode()
    if not newline or not header.startswith(prefix):
        raise ValueError("not a table file for this grammar and these versions")
    if header[len(prefix):] != _sha256(payload).encode():
        raise ValueError("checksum mismatch")
    data = json.loads(payload.decode("utf-8"))
    if not isinstance(data, dict) or data.get("key") != key:
        raise ValueError("payload for another key")
    return data


def _read_file(path: str) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of ours, not a symlink, and not huge."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > _MAX_TABLES:
            return None
        parts, size = [], 0
        while size <= _MAX_TABLES:
            block = os.read(fd, _MAX_TABLES + 1 - size)
            if not block:
                break
            parts.append(block)
            size += len(block)
        return b"".join(parts) if size <= _MAX_TABLES else None
    except (OSError, AttributeError):
        return None
    finally:
        os.close(fd)


def _write_file(path: str, content: bytes) -> None:
    """Write whole, then rename over ``path``: readers never see half a file. Best effort.

    Not ``files.atomic_write``: that writes *into* a FIFO or device found at the path (right
    for ``-o /dev/stdout``), where the cache must replace whatever is there. No fsync: a file
    torn by a crash fails its checksum and is rebuilt.
    """
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".tables-", suffix=".tmp", dir=os.path.dirname(path))
    except (OSError, ValueError):
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(exc, OSError):
            raise


def _is_int(x, lo: int, hi: int) -> bool:
    return type(x) is int and lo <= x < hi


def check_tables(data, builder) -> None:
    """Raise ValueError unless ``data`` is a well-formed table whose callbacks ``builder`` has.

    Checks types, that every index is in range, that every symbol is a terminal
    or a rule, that each rule's callback is a method of the builder exactly when
    the table says so, then runs the table on the canary formulas.
    """
    def need(ok, what):
        if not ok:
            raise ValueError(f"bad table: {what}")

    need(isinstance(data, dict), "not an object")
    need(set(data) == {"version", "terminals", "flags", "ignore", "states", "rules", "start", "end", "key"},
         "unexpected keys")
    need(data["version"] == TABLES_VERSION and type(data["version"]) is int, "version")
    terminals = data["terminals"]
    need(isinstance(terminals, list) and terminals, "terminals")
    need(_is_int(data["flags"], 0, 1 << 16), "flags")
    try:
        from re import _parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse
    names = set()
    for t in terminals:
        need(isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t)
             and t[0].isidentifier() and t[0].isascii() and t[0] not in names, "a terminal")
        # a terminal that can match nothing would let the loop read forever without moving
        need(sre_parse.parse(t[1], data["flags"]).getwidth()[0] > 0, f"the terminal {t[0]}")
        names.add(t[0])
    need(isinstance(data["ignore"], list) and all(isinstance(x, str) and x in names for x in data["ignore"]),
         "ignored terminals")
    rules, states = data["rules"], data["states"]
    need(isinstance(rules, list) and rules and isinstance(states, dict) and states, "rules, states")
    state_ids = set()
    for k in states:
        need(isinstance(k, str) and k.isascii() and k.isdigit() and str(int(k)) == k, "a state number")
        state_ids.add(int(k))
    need(state_ids == set(range(len(states))), "state numbers")
    origins = set()
    rule_keys = {"origin", "size", "callback", "include", "append_none", "expand1", "method", "unit"}
    for r in rules:
        need(isinstance(r, dict) and set(r) == rule_keys, "a rule's keys")
        need(isinstance(r["origin"], str) and r["origin"] not in names and isinstance(r["callback"], str),
             "a rule's names")
        need(_is_int(r["size"], 0, 64) and _is_int(r["append_none"], 0, 64), "a rule's sizes")
        need(all(type(r[k]) is bool for k in ("expand1", "method", "unit")), "a rule's flags")
        method = callable(getattr(builder, r["callback"], None)) and not r["callback"].startswith("_")
        need(r["method"] == method, f"the callback {r['callback']!r}")
        need(not r["unit"] or (r["expand1"] and r["include"] is None and r["size"] == 1), "a unit rule")
        include = r["include"]
        if include is not None:
            need(isinstance(include, list), "a rule's children")
            for item in include:
                need(isinstance(item, list) and len(item) == 3 and _is_int(item[0], 0, r["size"])
                     and type(item[1]) is bool and _is_int(item[2], 0, 64), "a rule's child")
        origins.add(r["origin"])
    n = len(states)
    for row in states.values():
        need(isinstance(row, dict), "a state")
        for sym, action in row.items():
            need(sym in names or sym in origins or sym == "$END", f"the symbol {sym!r}")
            need(isinstance(action, list) and len(action) == 2 and type(action[0]) is int, "an action")
            shift, arg = action
            need((shift == 1 and _is_int(arg, 0, n)) or (shift == 0 and _is_int(arg, 0, len(rules))),
                 "an action's target")
            need(shift == 1 or sym not in origins, "a reduction on a rule")
    need(_is_int(data["start"], 0, n) and _is_int(data["end"], 0, n), "start and end states")
    recorder = _Recorder({r["callback"] for r in rules if r["method"]})
    fast = FastParser(data, recorder)
    for formula, expected in CANARIES:
        try:
            got = fast.parse(formula)
        except Exception as exc:  # noqa: BLE001 - a broken table breaks here, not in a user's parse
            raise ValueError(f"bad table: canary {formula!r} raised {type(exc).__name__}") from None
        need(got == expected, f"canary {formula!r} gave {got!r}")


class _Recorder:
    """A builder that writes down what each callback is given: how the canaries see a parse."""

    def __init__(self, names):
        for name in names:
            setattr(self, name, functools.partial(_record, name))


def _record(name, children):
    shown = ("_" if c is None else c if isinstance(c, str) else "?" for c in children)
    return name + "(" + " ".join(shown) + ")"


#: Formulas and what Lark's own parser gives for them with ``_Recorder`` as the transformer
#: (tests/test_language_cache.py checks both ways). Together they reduce every rule of the
#: grammar, so a table whose actions or callbacks were swapped fails here.
CANARIES = (
    ("", "start(_)"),
    (";\n;", "start(_ _ _ _)"),
    ("x", "start(name(x))"),
    ("a = -b + +c*d - e/f^-g ** 2.5e+3; (sin()) # c\n\n k(1, .5, 7.) \\\n - θ1/f(z);",
     "start(assign(a sub(add(neg(- name(b)) mul(pos(+ name(c)) name(d))) div(name(e) pow(name(f) ^ "
     "neg(- pow(name(g) ** number(2.5e+3))))))) paren(( call(sin ( _ )) )) _ sub(call(k ( args(number(1) "
     "number(.5) number(7.)) )) div(name(θ1) call(f ( args(name(z)) )))) _)"),
    # several outputs: the commas of the list beside those of a call's arguments
    ("r = x; r, f(y, -z ^ 2), (z)\n",
     "start(assign(r name(x)) outputs(name(r) call(f ( args(name(y) neg(- pow(name(z) ^ "
     "number(2)))) )) paren(( name(z) ))) _)"),
)


_FAST = None


def fast_parser(builder):
    """The FastParser for ``builder``: from the per-user table cache (no Lark import) when
    that passes every check, else built from Lark (and cached); None if Lark's internals
    are not as expected."""
    global _FAST
    if _FAST is None:
        _FAST = False
        text = grammar_text()
        key = tables_key(text)
        directory = _cache_dir()
        path = tables_path(directory, key) if directory else None
        if path:
            try:
                raw = _read_file(path)
                if raw is not None:
                    data = load_tables(raw, key)
                    check_tables(data, builder)
                    _FAST = FastParser(data, builder)
                    return _FAST
            except Exception:  # noqa: BLE001 - any doubt about the file: rebuild it
                pass
        try:
            data = extract_tables(parser(builder))
            data["key"] = key
            check_tables(data, builder)
            fast = FastParser(data, builder)
        except Exception:  # noqa: BLE001 - Lark's internals differ: use Lark itself
            return None
        if path:
            _write_file(path, dump_tables({k: v for k, v in data.items() if k != "key"}, key))
        _FAST = fast
    return _FAST or None


def distrust_tables() -> None:
    """The fast loop failed in a way a sound table cannot: use Lark from now on, drop the file."""
    global _FAST
    _FAST = False
    directory = _cache_dir()
    if directory:
        try:
            os.unlink(tables_path(directory, tables_key(grammar_text())))
        except OSError:
            pass
