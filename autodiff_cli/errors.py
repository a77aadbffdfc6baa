"""Errors are values with a location; the CLI maps them to exit codes in one place.

The library raises these and never prints or exits. ``span`` is a (start, end)
pair of character offsets into ``source`` (the formula as given), used to draw
the caret block under the offending text.
"""

from __future__ import annotations

import unicodedata


class AdiffError(Exception):
    exit_code = 70

    def __init__(self, message: str, *, source: str | None = None,
                 span: tuple[int, int] | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.span = span
        self.hint = hint

    def render(self) -> str:
        """The message, then the source line with carets under the span, then the hint."""
        lines = [f"Error: {self.message}"]
        if self.source is not None and self.span is not None:
            lines.extend(caret_block(self.source, *self.span))
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class InputError(AdiffError):
    """Bad input: syntax, unknown names, arity, bindings, options (exit 2)."""

    exit_code = 2


class EvalError(AdiffError):
    """A value outside an op's domain or a non-finite value/gradient (exit 3)."""

    exit_code = 3


def escape_controls(text: str) -> str:
    """User text made safe for a terminal: control and format characters as escapes.

    ESC, BEL, CR, a newline or a bidi override in a CSV header, a spec name, a
    path or a formula could clear the screen, plant a hyperlink or forge lines
    of output; every human-facing output (tables, plain, messages) passes user
    text through this. Tabs and newlines are escaped too: callers that want a
    multi-line text split it first. JSON needs none of this (it escapes itself).
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def clip(text: str, limit: int = 40) -> str:
    """User text (a name, a literal) cut to a readable length for messages."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def line_col(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of character offset ``pos``."""
    line = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return line, col


_WINDOW = 72  # characters of a long line shown around the caret


#: Invisible letters (category Lo, one column wide, so not caught below): two Hangul fillers.
#: (The wide fillers U+115F and U+3164 become "?" with the other wide characters.)
_INVISIBLE_LETTERS = frozenset("\u1160\uffa0")


def _printable(ch: str) -> str:
    # One display column per character so the caret lines up: control and
    # format characters (NUL, bidi overrides, ...) and combining marks are
    # shown as a visible placeholder.
    if ch == "\t":
        return " "
    if ch in _INVISIBLE_LETTERS:
        return "\N{REPLACEMENT CHARACTER}"
    cat = unicodedata.category(ch)
    if cat[0] == "C" or cat[0] == "M" or unicodedata.east_asian_width(ch) in ("W", "F"):
        return "\N{REPLACEMENT CHARACTER}" if cat[0] == "C" else "?"
    return ch


def caret_block(source: str, start: int, end: int) -> list[str]:
    """Two lines: the source line holding ``start`` (cut to a window), and carets."""
    start = max(0, min(start, len(source)))
    end = max(start + 1, min(end, len(source) + 1))
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    if line_end == -1:
        line_end = len(source)
    end = min(end, max(line_end, start + 1))
    lo, hi = line_start, line_end
    prefix = suffix = ""
    if hi - lo > _WINDOW:
        lo = max(line_start, start - _WINDOW // 3)
        hi = min(line_end, max(lo + _WINDOW, min(end, lo + _WINDOW)))
        if lo > line_start:
            prefix = "..."
        if hi < line_end:
            suffix = "..."
    text = "".join(_printable(c) for c in source[lo:hi])
    width = max(1, min(end, hi + 1) - start)
    carets = " " * (len(prefix) + start - lo) + "^" * width
    return ["  " + prefix + text + suffix, "  " + carets]
