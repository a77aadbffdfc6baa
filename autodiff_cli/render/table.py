"""Shared Rich helpers for the table renderers. User text goes in as ``Text``, never markup.

``Grid`` is the one way a renderer prints a table. It fits the table to the
console's width without ever cutting a number: a number column is exactly as
wide as its widest number and never shrinks; what gives way is, in order,
the headers (wrapped at their spaces), the padding, the text columns (labels,
inputs, points: clipped with "…" at a boundary that leaves every number whole;
the JSON has the full text), then the columns a table can best do without
(named in a line under it). When even that does not fit, the table is printed
stacked: one "header: value" line per cell, which fits any width a number
fits in. Every printed number is whole or absent, never cut.
"""

from __future__ import annotations

import re
from collections import deque
from itertools import islice

from rich import box
from rich.cells import cell_len, get_character_cell_size
from rich.console import Console
from rich.text import Text

from autodiff_cli.render import color_enabled, format_number, limited_encoding, safe, sym

_EXPR_SHOWN = 200  # characters of a long formula shown in headings
#: The narrowest console adiff lays out for; COLUMNS=0 (or unset and unknown) means 80.
MIN_WIDTH = 20
DEFAULT_WIDTH = 80

#: Column kinds. NUM: numbers (never cut). KEY: short fixed words and ids (never cut).
#: TEXT: clipped at the end. LIST: ", "-separated items, clipped between items.
NUM, KEY, TEXT, LIST = "num", "key", "text", "list"
#: Text columns shrink to this many cells before columns are left out, then to _HARD.
_SOFT, _HARD = 12, 4

#: SIMPLE_HEAVY drawn in ASCII, for outputs that cannot encode "━".
_ASCII_SIMPLE = box.Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True)

# A number as tables print it (with thousands separators, as in "1,234 more"):
# a clip never ends inside one.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?"
                     r"|(?<![\w.])[-+]?\.\d+(?:[eE][-+]?\d+)?")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 here, which means "check disagreed" in adiff's
        # contract; let the CLI's single handler exit quietly instead.
        raise BrokenPipeError


def console() -> Console:
    """A Console for stdout, created per call so NO_COLOR / FORCE_COLOR / COLUMNS are read now.

    NO_COLOR turns every style off (also bold), whatever FORCE_COLOR says; a width
    of 0 (``COLUMNS=0``) is taken as unknown (80), and a tiny one as MIN_WIDTH.
    """
    colour = color_enabled()
    out = _Console(highlight=False, soft_wrap=False, emoji=False, markup=False,
                   color_system="auto" if colour else None,
                   no_color=not colour)
    width = out.width
    if width <= 0:
        out.width = DEFAULT_WIDTH
    elif width < MIN_WIDTH:
        out.width = MIN_WIDTH
    return out


def heavy_box():
    return _ASCII_SIMPLE if limited_encoding() else box.SIMPLE_HEAVY


def ellipsis() -> str:
    return sym("…")


def short(text: str) -> str:
    """A formula or program on one line for headings: comments dropped, statements
    joined with '; ', cut to a readable length (never inside a number), made safe."""
    lines = (line.split("#", 1)[0].strip() for line in text.replace("\\\n", " ").splitlines())
    text = "; ".join(" ".join(line.split()) for line in lines if line)
    if len(text) > _EXPR_SHOWN:
        cut = _number_safe_cut(text, _EXPR_SHOWN)
        text = text[:cut].rstrip() + " " + ellipsis()
    return safe(text)


def heading(out, formula: str) -> None:
    """The 'f = formula' line every command starts with."""
    line = Text()
    line.append("f = ", style="bold")
    line.append(short(formula))
    out.print(line)


def at_text(at: dict, many: str = "inputs") -> str:
    """'   at x = 1, y = 2' (or the count of bindings when that is long)."""
    text = ", ".join(f"{safe(k)} = {format_number(v)}" for k, v in at.items())
    if not text:
        return ""
    return f"   at {text}" if len(text) < 400 else f"   at {len(at):,} {many}"


def value_line(out, value, at: dict, many: str = "inputs") -> None:
    line = Text()
    line.append("value ", style="bold")
    line.append(format_number(value, 10), style="bold green")
    line.append(at_text(at, many))
    out.print(line)


def note(out, text: str, style: str | None = "dim") -> None:
    """A line of adiff's own words (made safe for the output's encoding)."""
    out.print(Text(sym(text), style=style or ""))


def numbers(values) -> str:
    return ", ".join(format_number(v) for v in values)


def limit_rows(items, limit):
    """(head, tail, hidden): the first and last rows of an iterator, bounded memory."""
    if limit is None:
        return list(items), [], 0
    head = list(islice(items, max(1, limit - limit // 2)))
    tail = deque(maxlen=limit // 2)
    total = len(head)
    for item in items:
        tail.append(item)
        total += 1
    return head, list(tail), total - len(head) - len(tail)


# ---------------------------------------------------------------- clipping

def _number_safe_cut(text: str, cut: int) -> int:
    """``cut``, moved back to the start of a number it would split."""
    for m in _NUMBER.finditer(text, max(0, cut - 40)):
        if m.start() >= cut:
            break
        if m.start() < cut < m.end():
            return m.start()
    return cut


def _prefix(text: str, room: int) -> int:
    """The length of the longest prefix of ``text`` at most ``room`` cells wide."""
    used = 0
    for i, ch in enumerate(text):
        used += get_character_cell_size(ch)
        if used > room:
            return i
    return len(text)


def clip(text: str, width: int, kind: str = TEXT) -> str:
    """``text`` in at most ``width`` cells, ending in "…" when cut. A number is never
    split (the cut moves before it); a LIST is cut between its ", "-separated items."""
    if cell_len(text) <= width:
        return text
    mark = ellipsis()
    room = width - cell_len(mark)
    if room <= 0:
        return mark if cell_len(mark) <= width else ""
    cut = _prefix(text, room)
    if kind == LIST:
        k = text.rfind(", ", 0, cut)
        cut = k + 2 if k >= 0 and k + 2 <= cut else 0
    else:
        cut = _number_safe_cut(text, cut)
    return text[:cut] + mark


# ---------------------------------------------------------------- the grid

def _width(text: str) -> int:
    return max(cell_len(line) for line in text.split("\n")) if text else 0


class _Column:
    __slots__ = ("header", "kind", "justify", "style", "drop", "cells_width", "first_width",
                 "header_width", "header_word")

    def __init__(self, header, kind, justify, style, drop):
        self.header = header
        self.kind = kind
        self.justify = justify
        self.style = style
        self.drop = drop
        self.cells_width = 0
        self.first_width = 0  # LIST: the widest first item (and ", …" after it)
        self.header_width = _width(header)
        self.header_word = max((cell_len(w) for w in header.split()), default=0)


class Grid:
    """A table fitted to the console width (see the module docstring).

    Cells are strings already made safe (``safe``/``sym``/``format_number``), or
    (string, style) pairs; "\\n" in a cell starts a new line within it.
    ``compact`` is the tighter style (no outer edge, padding on the right only);
    a wide table switches to it before it shrinks anything. A column with a
    ``drop`` rank may be left out (1 first, then 2, ...) when the table would
    otherwise be stacked; a line under the table names what was left out.
    """

    def __init__(self, title: str | None = None, *, compact: bool = False,
                 show_header: bool = True, boxed: bool = True):
        self.title = title
        self.compact = compact
        self.show_header = show_header
        self.boxed = boxed
        self.columns: list[_Column] = []
        self.rows: list[tuple[str, list, str | None]] = []  # (kind, cells, style)

    def column(self, header: str = "", kind: str = TEXT, justify: str | None = None,
               style: str | None = None, drop: int | None = None) -> None:
        if justify is None:
            justify = "right" if kind == NUM else "left"
        self.columns.append(_Column(header, kind, justify, style, drop))

    def _add(self, kind, cells, style):
        cells = [("", None) if c is None else (c if isinstance(c, tuple) else (c, None))
                 for c in cells]
        cells += [("", None)] * (len(self.columns) - len(cells))
        for col, (text, _) in zip(self.columns, cells):
            w = _width(text)
            if w > col.cells_width:
                col.cells_width = w
            if col.kind == LIST and text:
                first, _, more = text.partition(", ")
                w = cell_len(first) + (2 + cell_len(ellipsis()) if more else 0)
                if w > col.first_width:
                    col.first_width = w
        self.rows.append((kind, cells, style))

    def row(self, *cells, style: str | None = None) -> None:
        self._add("row", cells, style)

    def marker(self, *cells, style: str | None = None) -> None:
        """A row that stands for rows not shown ("…  1,234 more")."""
        self._add("marker", cells, style)

    def section(self) -> None:
        self.rows.append(("section", [], None))

    # ---------------------------------------------------------- layout

    def _style(self, compact: bool) -> dict:
        if compact:
            return {"show_edge": False, "padding": (0, 1, 0, 0), "pad_edge": True}
        return {"show_edge": True, "padding": (0, 1), "pad_edge": True}

    def _overhead(self, compact: bool, n: int) -> int:
        """Cells a table of ``n`` columns spends on edges, separators and padding."""
        left, right = (0, 1) if compact else (1, 1)
        extra = ((0 if compact else 2) + (n - 1)) if self.boxed else 0
        return extra + n * (left + right)

    def _minimum(self, col: _Column, level: int) -> int:
        """The narrowest this column may be at ``level`` (0: natural ... 4: tightest)."""
        content = col.cells_width
        if col.kind in (TEXT, LIST) and level >= 3:
            content = min(content, _SOFT if level == 3 else _HARD)
            if col.kind == LIST:  # the first item stays whole
                content = max(content, min(col.first_width, col.cells_width))
        if not self.show_header:
            head = 0
        elif level == 0:
            head = col.header_width
        else:  # wrapped at its spaces, never folded inside a word
            head = col.header_word
        return max(content, head, 1)

    def _natural(self, col: _Column) -> int:
        return max(col.cells_width, col.header_width if self.show_header else 0, 1)

    def _levels(self):
        """(level, compact) in the order they are tried: natural, headers wrapped, the
        compact style, text columns clipped (level 3); level 4 clips text columns
        hard, and is tried last."""
        levels = [(0, self.compact), (1, self.compact)]
        if not self.compact:
            levels += [(0, True), (1, True)]
        return levels + [(3, True)]

    def _attempts(self, tightest: int):
        """(dropped rank, level, compact): every level with all columns, then each drop
        rank in turn, then level 4 with every droppable column left out."""
        ranks = sorted({c.drop for c in self.columns if c.drop is not None})
        for rank in [0] + ranks:
            for level, compact in self._levels():
                if level <= tightest:
                    yield rank, level, compact
            if tightest < 4:
                return
        if tightest >= 4:
            yield (ranks[-1] if ranks else 0), 4, True

    def layout(self, width: int, tightest: int = 4):
        """(compact, {column index: width}) that fits ``width`` cells, shrinking at most
        to level ``tightest``; None when nothing fits (the table is printed stacked)."""
        for rank, level, compact in self._attempts(tightest):
            shown = [k for k, c in enumerate(self.columns) if c.drop is None or c.drop > rank]
            room = width - self._overhead(compact, len(shown))
            natural = [self._natural(self.columns[k]) for k in shown]
            if sum(natural) <= room:
                return compact, dict(zip(shown, natural))
            mins = [self._minimum(self.columns[k], level) for k in shown]
            if sum(mins) <= room:
                clipped = [self.columns[k].kind in (TEXT, LIST) for k in shown]
                widths = _shrink(natural, mins, room, clipped)
                return compact, {k: self._balanced(self.columns[k], w, m)
                                 for k, w, m in zip(shown, widths, mins)}
        return None

    def _balanced(self, col: _Column, width: int, least: int) -> int:
        """The narrowest width, not under ``least``, at which the header wraps into as
        few lines as at ``width`` ("∂f/∂input" over "(reverse mode)", not
        "∂f/∂input (reverse" over "mode)")."""
        least = max(least, col.cells_width)  # only the header gives way here
        if not self.show_header or width >= col.header_width or width <= least:
            return width
        words = [cell_len(w) for w in col.header.split()]
        lines = _lines(words, width)
        while width > least and _lines(words, width - 1) == lines:
            width -= 1
        return width

    def fits(self, width: int, tightest: int = 4) -> bool:
        return self.layout(width, tightest) is not None

    def print(self, out) -> None:
        if not self.columns:
            return
        from rich.measure import Measurement

        fitted = self.layout(out.width)
        if fitted is not None:
            table, width = self._table(*fitted)
            # Rich agrees with the layout (a slip would let it squeeze a number column)
            if Measurement.get(out, out.options.update_width(10_000), table).maximum <= width:
                if self.title and cell_len(self.title) > width:
                    # a title wider than its table is a line of its own, not squeezed into it
                    out.print(Text(self.title, style="bold"))
                    table.title = None
                out.print(table)
                left_out = [" ".join(c.header.split()) for k, c in enumerate(self.columns)
                            if k not in fitted[1]]
                if left_out:
                    note(out, f"(not shown for lack of width: {', '.join(left_out)}; "
                              "--format json has every value)")
                return
        self._stacked(out)

    def _table(self, compact: bool, widths: dict[int, int]):
        from rich.table import Table

        style = self._style(compact)
        title = Text(self.title, style="bold") if self.title else None
        table = Table(box=heavy_box() if self.boxed else None, title=title, title_justify="left",
                      show_header=self.show_header, highlight=False, **style)
        shown = [(k, self.columns[k], w) for k, w in widths.items()]
        for _, col, w in shown:
            header = Text(col.header, no_wrap=False, overflow="fold")
            table.add_column(header, justify=col.justify, style=col.style, width=w, no_wrap=True,
                             overflow="ellipsis")
        for kind, cells, row_style in self.rows:
            if kind == "section":
                table.add_section()
                continue
            table.add_row(*[_cell(*cells[k], w, col.kind) for k, col, w in shown],
                          style=row_style)
        return table, sum(widths.values()) + self._overhead(compact, len(widths))

    def _stacked(self, out) -> None:
        """One 'header: value' line per cell; the first column's cell starts each row."""
        if self.title:
            out.print(Text(self.title, style="bold"))
        for kind, cells, row_style in self.rows:
            if kind == "section":
                continue
            if kind == "marker" or not self.show_header:
                words = [text for text, _ in cells if text]
                out.print(Text("  ".join(words), style=row_style or ""))
                continue
            for k, ((text, cell_style), col) in enumerate(zip(cells, self.columns)):
                if not text:
                    continue
                lines = text.split("\n")
                line = Text("" if k == 0 else "  ", style=row_style or "")
                if col.header:
                    line.append(" ".join(col.header.split()) + ": ")
                line.append(lines[0], style=cell_style or col.style or "")
                out.print(line)
                for more in lines[1:]:
                    out.print(Text("    " + more, style=cell_style or col.style or ""))


def _cell(text: str, style, width: int, kind: str):
    if kind in (TEXT, LIST):
        text = "\n".join(clip(line, width, kind) for line in text.split("\n"))
    # The widths fit every cell; should Rich ever squeeze one, it shows "…", never a
    # silently shortened number.
    return Text(text, style=style or "", no_wrap=True, overflow="ellipsis")


def _lines(words: list[int], width: int) -> int:
    """Lines a header of words this wide takes, wrapped at spaces into ``width`` cells."""
    lines, used = 1, -1
    for w in words:
        if used + 1 + w > width and used >= 0:
            lines, used = lines + 1, w
        else:
            used += 1 + w
    return lines


def _shrink(natural: list[int], mins: list[int], room: int,
            clipped: list[bool] | None = None) -> list[int]:
    """Widths between ``mins`` and ``natural`` summing to at most ``room``: the widest
    columns give way first (a common ceiling); cells left over go back to clipped text
    columns first, then to a column they make whole."""
    def at(ceiling):
        return [min(n, max(m, ceiling)) for n, m in zip(natural, mins)]

    lo, hi = 0, max(natural)
    while lo < hi:  # the largest ceiling that fits
        mid = (lo + hi + 1) // 2
        if sum(at(mid)) <= room:
            lo = mid
        else:
            hi = mid - 1
    widths = at(lo)
    spare = room - sum(widths)
    clipped = clipped or [False] * len(widths)
    for k in sorted(range(len(widths)), key=lambda k: not clipped[k]):
        short = natural[k] - widths[k]
        if spare <= 0:
            break
        if short > 0 and (clipped[k] or short <= spare):
            give = min(short, spare)
            widths[k] += give
            spare -= give
    return widths


# ---------------------------------------------------------------- the node table

def node_table(nodes, limit, output_id: str, grad_header: str = "grad ∂f/∂node") -> tuple[Grid, int]:
    grid = Grid(sym("Nodes"))
    grid.column("id", KEY, style="dim")
    grid.column("label", TEXT)
    grid.column("op", KEY, style="cyan")
    grid.column("inputs", LIST, style="dim", drop=2)
    grid.column("value", NUM)
    grid.column(sym("local ∂node/∂input"), LIST, justify="right", drop=1)
    grid.column(sym(grad_header), NUM, style="bold")
    head, tail, hidden = limit_rows(iter(nodes), limit)

    def add(n):
        style = "bold" if n["id"] == output_id else None
        grid.row(n["id"], safe(n["label"]), n["op"], ", ".join(n["inputs"]),
                 format_number(n["value"]), numbers(n["local"]) if n["local"] else "",
                 format_number(n["grad"]), style=style)

    for n in head:
        add(n)
    if hidden:
        grid.marker(ellipsis(), f"{hidden:,} more")
    for n in tail:
        add(n)
    return grid, hidden
