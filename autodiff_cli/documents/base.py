"""The number encoding and the streaming JSON array every document uses.

JSON is strict (no NaN/Infinity tokens): ``num`` writes a non-finite number as
the string "nan", "inf" or "-inf". ``Stream`` is an array made lazily, so a
million-node graph never exists twice in memory; ``encode`` is the JSON
encoder of one value (the writer in ``render/json_doc.py`` uses the same).
"""

from __future__ import annotations

import json
import math

#: The JSON text of one value: strict (a NaN or an infinity that slipped past ``num``
#: is an error, not invalid JSON), Unicode kept, ", " and ": " separators.
encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def num(x):
    """A number for JSON: finite floats as they are, others as "nan"/"inf"/"-inf"."""
    if x is None or isinstance(x, str) or math.isfinite(x):
        return x
    return "nan" if x != x else ("inf" if x > 0 else "-inf")


class Stream:
    """A lazily produced JSON array: ``Stream(generator_of_items)``.

    ``texts``, when given, is a function returning the JSON text of each item
    (the same text ``encode(item)`` gives): the JSON writer uses it instead of
    encoding the items, which is faster for big arrays.
    """

    def __init__(self, items, texts=None):
        self.items = items
        self.texts = texts
