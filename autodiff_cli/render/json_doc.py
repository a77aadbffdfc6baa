"""Strict JSON on stdout: one document, no NaN/Infinity tokens.

Non-finite numbers are already strings (``documents.num``); the encoder's
``allow_nan=False`` turns any slip into an error instead of invalid JSON. Lists of nodes are
written one element at a time so a million-node graph never exists twice in
memory. On a stdout that cannot encode every character (``LC_ALL=C``,
cp1252) the document is written in ASCII, every other character as a
``\\uXXXX`` escape, as ``json.dumps(ensure_ascii=True)`` does: still the same
JSON, and readable by any parser.
"""

from __future__ import annotations

import re
import sys

from autodiff_cli.documents.base import Stream
from autodiff_cli.documents.base import encode as _dumps

__all__ = ["Stream", "ascii_json", "chunks", "dumps", "write"]


def chunks(doc):
    """The JSON text of ``doc`` in pieces; ``Stream`` values are expanded lazily."""
    yield "{"
    first = True
    for key, value in doc.items():
        yield ("" if first else ", ") + _dumps(key) + ": "
        first = False
        if isinstance(value, Stream):
            yield "["
            sep = "\n  "
            for text in (value.texts() if value.texts else map(_dumps, value.items)):
                yield sep + text
                sep = ",\n  "
            yield "]"
        elif isinstance(value, dict) and any(isinstance(v, Stream) for v in value.values()):
            yield from chunks(value)
        else:
            yield _dumps(value)
    yield "}"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
#: A lone surrogate (a path given in undecodable bytes) cannot be encoded even in UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xd800 + (code >> 10):04x}\\u{0xdc00 + (code & 0x3ff):04x}"


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character escaped (they can only be inside strings)."""
    return text if text.isascii() else _NON_ASCII.sub(_escape, text)


def _unicode_json(text: str) -> str:
    return text if text.isascii() else _SURROGATE.sub(_escape, text)


def write(doc, out=None) -> None:
    from autodiff_cli.render import limited_encoding

    out = out or sys.stdout
    pieces = map(ascii_json if limited_encoding(out) else _unicode_json, chunks(doc))
    buf = []
    size = 0
    for piece in pieces:
        buf.append(piece)
        size += len(piece)
        if size > 1 << 16:
            out.write("".join(buf))
            buf, size = [], 0
    buf.append("\n")
    out.write("".join(buf))
    out.flush()


def dumps(doc) -> str:
    return "".join(chunks(doc))
