"""Output: the only package that knows how results look.

Commands build one plain document (dicts and lists, the shape of the JSON
output) and hand it to ``emit``; the table, JSON and plain renderers all read
that same document. Each command has one module here (``render/grad.py``, ...)
with a ``table(doc, **options)`` and a ``plain(doc, **options)`` function;
JSON is generic (``json_doc.py``). Rich is imported only when a table is
printed (shared Rich helpers live in ``table.py``).
"""

from __future__ import annotations

import math
import os
import sys

FORMATS = ("table", "json", "plain")


def num(x):
    """A number for JSON: finite floats as they are, others as "nan"/"inf"/"-inf"."""
    if x is None or isinstance(x, str) or math.isfinite(x):
        return x
    return "nan" if x != x else ("inf" if x > 0 else "-inf")


def format_number(x, digits: int | None = 6) -> str:
    """One number formatter for table and plain output.

    ``digits=None`` gives the shortest text that reads back to the same float
    (plain output, for scripts); tables use 6 significant digits.
    """
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if not math.isfinite(x):
        return num(x)
    if digits is None:
        return repr(float(x))
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def color_enabled(stream=None) -> bool:
    """Colour follows the terminal and honours NO_COLOR / FORCE_COLOR."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def emit(kind: str, doc: dict, fmt: str, **options) -> None:
    """Write ``doc`` (the result of command ``kind``) to stdout as ``fmt``."""
    if fmt == "json":
        from .json_doc import write

        write(doc)
        return
    import importlib

    module = importlib.import_module(f"{__name__}.{kind}")
    getattr(module, fmt)(doc, **options)
