"""``--at x=1,y=2``: bindings of input variables to finite numbers.

Values are matched against our own pattern before ``float()``, because
``float`` also accepts ``1_000``, ``nan``, ``inf``, surrounding spaces and
non-ASCII digits.
"""

from __future__ import annotations

import math
import re
import unicodedata

from autodiff_cli.core.ops import CONSTANTS, FUNCTIONS
from autodiff_cli.errors import InputError
from autodiff_cli.language.syntax import IGNORABLE, char_label, name_regex, show_invisible

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_VALUE = re.compile(rf"([+-]?)(?:({_NUMBER})|(pi|e))", re.ASCII)


def parse_value(name: str, text: str) -> float:
    m = _VALUE.fullmatch(text.strip())
    if m is None:
        low = text.strip().lower().lstrip("+-")
        if low in ("nan", "inf", "infinity"):
            raise InputError(f"--at {name}={text}: values must be finite numbers")
        raise InputError(f"--at {name}={text}: {text.strip()!r} is not a number "
                         "(write e.g. 1.5, -2e-3 or pi)")
    sign, number, const = m.groups()
    value = float(number) if number else CONSTANTS[const]
    if not math.isfinite(value):
        raise InputError(f"--at {name}={text}: {number} is too large for a double-precision float")
    return -value if sign == "-" else value


def parse_bindings(specs: tuple[str, ...] | list[str]) -> dict[str, float]:
    """Parse repeated ``--at`` options; each is a comma-separated list of name=value."""
    at: dict[str, float] = {}
    for spec in specs:
        offset = 0
        for item in spec.split(","):
            item_start, offset = offset, offset + len(item) + 1
            if not item.strip():
                if spec.strip():
                    continue  # tolerate "x=1," and "x=1,,y=2"
                raise InputError("--at needs name=value pairs, e.g. --at x=1,y=2")
            name, eq, text = item.partition("=")
            invisible = IGNORABLE.search(name)
            if invisible:
                _invisible_in_name(spec, item, item_start + invisible.start(), name.strip())
            name = name.strip()
            if not name.isascii():
                name = unicodedata.normalize("NFC", name)
            if not eq:
                raise InputError(f"--at {item.strip()}: expected name=value, e.g. {name or 'x'}=1")
            if not name_regex().fullmatch(name):
                raise InputError(f"--at {item.strip()}: {name!r} is not a variable name")
            if not text.strip():
                raise InputError(f"--at {item.strip()}: no value for {name}")
            if name in CONSTANTS:
                raise InputError(f"--at {item.strip()}: {name} is a constant and cannot be bound",
                                 hint=f"to use another value, assign it in the formula: "
                                      f"\"{name} = ...; ...\" or rename the variable")
            if name in FUNCTIONS:
                raise InputError(f"--at {item.strip()}: {name} is a function, not a variable")
            if name in at:
                raise InputError(f"--at: {name} is bound twice")
            at[name] = parse_value(name, text)
    return at


def _invisible_in_name(spec: str, item: str, pos: int, name: str):
    """A name holding a character that shows as nothing: it would print like another name."""
    raise InputError(f"--at {show_invisible(item.strip())}: invisible character {char_label(spec[pos])} "
                     f"in the name '{show_invisible(name)}'", source=spec, span=(pos, pos + 1),
                     hint="names may not contain invisible characters (two different names would "
                          "look the same): delete it")
