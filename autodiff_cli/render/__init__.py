"""Output: the only package that knows how results look.

Commands build one plain document (``documents/``: dicts and lists, the shape
of the JSON output) and hand it to ``emit``; the table, JSON and plain
renderers all read that same document, and nothing else: this package imports
nothing above ``documents``. Each command has one module here
(``render/grad.py``, ``check.py``, ``graph.py``, ``trace.py``), for a point and
for data mode alike, with a ``table(doc, **options)`` and a ``plain(doc,
**options)`` function; JSON is generic (``json_doc.py``). Rich is imported only
when a table is printed (shared Rich helpers live in ``table.py``); progress
bars on stderr are ``progress.py``.

Text that reaches stdout goes through one of two functions, so that no output
can crash or mislead on any terminal:

* ``safe(text)`` for text that comes from the user (names, labels, formulas,
  case names, paths, column names, messages that quote them): control
  characters become visible escapes (``errors.escape_controls``) and, when
  stdout's encoding cannot write a character (``LC_ALL=C``, cp1252), it is
  written as ``\\u03b8``;
* ``sym(text)`` for adiff's own text: when stdout cannot write one of its
  symbols, an ASCII stand-in (``d`` for ∂, ``ok`` for ✓, ``...`` for …).

On a UTF-8 stream both return the text unchanged (after the escaping).
"""

from __future__ import annotations

import codecs
import math
import os
import sys

from autodiff_cli.documents.base import num
from autodiff_cli.errors import escape_controls

FORMATS = ("table", "json", "plain")


def format_number(x, digits: int | None = 6) -> str:
    """One number formatter for table and plain output.

    ``digits=None`` gives the shortest text that reads back to the same float
    (plain output, for scripts); tables use 6 significant digits.
    """
    if x is None:
        return sym("—")
    if isinstance(x, str):
        return x
    if not math.isfinite(x):
        return num(x)
    if digits is None:
        return repr(float(x))
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def color_enabled(stream=None) -> bool:
    """Colour follows the terminal and honours NO_COLOR (which wins) / FORCE_COLOR."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------- output encoding

#: Encodings that can write every character.
_UNICODE = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
            "utf-32-be", "gb18030")
#: ASCII stand-ins for adiff's own symbols, used where stdout cannot write them.
GLYPHS = {
    "∂": "d", "✓": "ok", "✗": "X", "━": "-", "─": "-", "—": "-", "–": "-", "…": "...",
    "Σ": "sum", "←": "<-", "→": "->", "↑": "^", "×": "x", "≤": "<=", "≥": ">=", "−": "-",
    "·": "*", "≈": "~", "±": "+-", "θ": "theta", "½": "1/2", "²": "^2", "ᵢ": "i", "√": "sqrt",
    "∛": "cbrt",
}
_LIMITED: dict[str, str | None] = {}
_ENCODABLE: dict[tuple[str, str], bool] = {}


def limited_encoding(stream=None) -> str | None:
    """The codec of ``stream`` (stdout) when it cannot write every character, else None."""
    stream = stream if stream is not None else sys.stdout
    enc = getattr(stream, "encoding", None) or "utf-8"
    try:
        return _LIMITED[enc]
    except KeyError:
        pass
    try:
        name = codecs.lookup(enc).name
    except LookupError:
        name = "ascii"
    result = None if name in _UNICODE else name
    _LIMITED[enc] = result
    return result


def _encodable(ch: str, enc: str) -> bool:
    key = (ch, enc)
    ok = _ENCODABLE.get(key)
    if ok is None:
        try:
            ch.encode(enc)
            ok = True
        except UnicodeError:
            ok = False
        _ENCODABLE[key] = ok
    return ok


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else \
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(text: str) -> str:
    """User text for a human-facing output: control characters escaped, and characters
    that stdout cannot encode written as backslash escapes (never a crash)."""
    text = escape_controls(text)
    if text.isascii():
        return text
    enc = limited_encoding()
    if enc is None:
        return text
    return "".join(ch if ch.isascii() or _encodable(ch, enc) else _escaped(ch) for ch in text)


def sym(text: str) -> str:
    """adiff's own text (headers, marks, rules): symbols stdout cannot encode become
    ASCII stand-ins (∂ -> d, ✓ -> ok, … -> ...)."""
    if text.isascii():
        return text
    enc = limited_encoding()
    if enc is None:
        return text
    return "".join(ch if ch.isascii() or _encodable(ch, enc) else GLYPHS.get(ch) or _escaped(ch)
                   for ch in text)


def message(text: str) -> str:
    """A message that mixes adiff's words with user text (notes, kink conventions):
    control characters escaped, then symbols as for ``sym``."""
    return sym(escape_controls(text))


def emit(kind: str, doc: dict, fmt: str, **options) -> None:
    """Write ``doc`` (the result of command ``kind``) to stdout as ``fmt``."""
    if fmt == "json":
        from autodiff_cli.render.json_doc import write

        write(doc)
        return
    import importlib

    module = importlib.import_module(f"{__name__}.{kind}")
    getattr(module, fmt)(doc, **options)


#: How a comparison's status shows in tables (text, Rich style): one table for grad's
#: finite-difference column and for every table of check.
STATUS_MARKS = {
    "ok": ("✓ agree", "green"),
    "mismatch": ("✗ DISAGREE", "bold red"),
    "expect-mismatch": ("✗ EXPECT", "bold red"),
    "kink": ("~ kink", "yellow"),
    "inconclusive": ("? inconclusive", "yellow"),
    "unavailable": ("? n/a", "yellow"),
}


def mark(status: str) -> tuple[str, str]:
    """(text, style) of a comparison's status; an unknown status shows as itself."""
    text, style = STATUS_MARKS.get(status) or (safe(status), "yellow")
    return sym(text), style
