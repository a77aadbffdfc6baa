"""Strict JSON on stdout: one document, no NaN/Infinity tokens.

Non-finite numbers are already strings (``render.num``); ``allow_nan=False``
turns any slip into an error instead of invalid JSON. Lists of nodes are
written one element at a time so a million-node graph never exists twice in
memory. On a stdout that cannot encode every character (``LC_ALL=C``,
cp1252) the document is written in ASCII, every other character as a
``\\uXXXX`` escape, as ``json.dumps(ensure_ascii=True)`` does: still the same
JSON, and readable by any parser.
"""

from __future__ import annotations

import json
import re
import sys

_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


class Stream:
    """A lazily produced JSON array: ``Stream(generator_of_items)``.

    ``texts``, when given, is a function returning the JSON text of each item
    (the same text ``_dumps(item)`` gives): the JSON writer uses it instead of
    encoding the items, which is faster for big arrays.
    """

    def __init__(self, items, texts=None):
        self.items = items
        self.texts = texts


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
    from . import limited_encoding

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
