"""Tab-separated lines for cut/awk: ``name<TAB>number``, full precision."""

from __future__ import annotations

import sys

from . import format_number


def _line(*fields) -> str:
    return "\t".join(format_number(f, None) if not isinstance(f, str) else f for f in fields)


def grad(doc: dict, **_options) -> None:
    lines = [_line("value", doc["value"])]
    lines.extend(_line(name, g) for name, g in doc["gradient"].items())
    sys.stdout.write("\n".join(lines) + "\n")
