"""Strict JSON on stdout: one document, no NaN/Infinity tokens.

Non-finite numbers are already strings (``render.num``); ``allow_nan=False``
turns any slip into an error instead of invalid JSON. Lists of nodes are
written one element at a time so a million-node graph never exists twice in
memory.
"""

from __future__ import annotations

import json
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


def write(doc, out=None) -> None:
    out = out or sys.stdout
    buf = []
    size = 0
    for piece in chunks(doc):
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
