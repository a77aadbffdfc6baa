"""Find the grammar text and build the one Lark LALR parser (cached per user).

The grammar lives in ``grammar/adiff.lark`` at the top of the project. A wheel
ships it as ``autodiff_cli/grammar/adiff.lark`` (hatchling force-include);
a checkout or an editable install reads the top-level copy.

The analysed parser is cached in a per-user directory created with mode 0700
(``$XDG_CACHE_HOME/adiff`` or ``~/.cache/adiff``). Lark's own ``cache=True``
writes a predictable pickle in the shared temp directory, which another local
user could plant, so it is never used. If the directory cannot be made safe,
the parser is built without a cache.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat

GRAMMAR_NAME = "adiff.lark"


def grammar_text() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
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


def _cache_dir() -> str | None:
    """A directory only this user can write, or None."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "adiff")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return None
    except (OSError, AttributeError):  # AttributeError: no os.getuid (Windows)
        return None
    return path


_PARSER = None


def parser(transformer):
    """The LALR parser with ``transformer`` inlined (built once per process)."""
    global _PARSER
    if _PARSER is None:
        import lark

        text = grammar_text()
        options = dict(parser="lalr", lexer="contextual", transformer=transformer,
                       maybe_placeholders=True, propagate_positions=False)
        cache = None
        directory = _cache_dir()
        if directory is not None:
            import hashlib

            key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
            cache = os.path.join(directory, f"grammar-{lark.__version__}-{key}.lark-cache")
        try:
            _PARSER = lark.Lark(text, cache=cache or False, **options)
        except OSError:
            _PARSER = lark.Lark(text, **options)
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
TABLES_VERSION = 1


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
    Lark's own.
    """

    def __init__(self, data: dict, builder):
        import re

        self.regex = re.compile("|".join(f"(?P<{name}>{regexp})" for name, regexp in data["terminals"]),
                                data["flags"])
        self.ignore = frozenset(data["ignore"])
        rules = [(r["size"], r["origin"], None if r["unit"] else _callback(r, builder))
                 for r in data["rules"]]
        self.states = {int(state): {sym: (True, arg) if shift else (False, rules[arg])
                                    for sym, (shift, arg) in row.items()}
                       for state, row in data["states"].items()}
        self.start, self.end = data["start"], data["end"]

    def parse(self, text: str):
        match, ignore, new = self.regex.match, self.ignore, str.__new__
        states, end_state = self.states, self.end
        stack = [self.start]
        values: list = []
        pos, n = 0, len(text)
        token = None
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


_FAST = None


def fast_parser(builder):
    """The FastParser for ``builder``, from the per-user table cache (no Lark import)
    or built from Lark (and cached); None if Lark's internals are not as expected."""
    global _FAST
    if _FAST is None:
        _FAST = False
        text = grammar_text()
        directory = _cache_dir()
        if directory:
            import zlib  # a cheap checksum for the name; the file holds the whole grammar

            path = os.path.join(directory, f"tables-{TABLES_VERSION}-{zlib.crc32(text.encode()):08x}.json")
        else:
            path = None
        data = None
        if path:
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if data.get("grammar") != text or data.get("version") != TABLES_VERSION:
                    data = None
            except (OSError, ValueError, AttributeError):
                data = None
        if data is None:
            try:
                data = extract_tables(parser(builder))
            except Exception:  # noqa: BLE001 - Lark's internals differ: use Lark itself
                return None
            data["grammar"] = text
            if path:  # written whole, then renamed: readers never see half a file
                tmp = f"{path}.{os.getpid()}.tmp"
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        json.dump(data, fh)
                    os.replace(tmp, path)
                except OSError:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
        try:
            _FAST = FastParser(data, builder)
        except Exception:  # noqa: BLE001 - a damaged cache file: use Lark itself
            _FAST = False
    return _FAST or None
