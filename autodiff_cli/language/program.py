"""A graph with several roots printed as adiff programs, shared values as statements.

``layout(graph, roots, taken)`` decides which nodes become statements (``t1 = ...``) and
names them; ``program`` prints every root (``d_x = ...``) after those statements, ending with
the several-outputs statement (``d_x, d_y``); ``formula`` prints one root alone: a plain
formula when nothing is worth sharing, else the few statements it needs, then the formula.
The text of each statement comes from ``printer.emit`` (precedence and parentheses), so
everything printed here parses back (``language.parser.parse``) to the same values.

The sharing policy: a node is a statement when it is used more than once (by other nodes,
or as several roots) and writing it out at every use costs more than it saves: with ``n``
operations in its text (the statements it uses written as names) and ``u`` uses, when
``(u - 1)*(n - 1) > TINY - 1``. So a node of one operation -- ``sigmoid(x)``, ``x^2`` -- is
always written where it is used (``sigmoid(x)*(1 - sigmoid(x))`` reads better than
``t1*(1 - t1)``), one of two (``cos(x*y)``, ``sigmoid(-z)``) up to three times, one of three
(``sin(t1)*t1 + y``) twice, and anything larger once: a repeated subtree of a deep chain is
a statement. ``TINY`` = 3 because the expressions a reader takes in at a glance are up to
three operations; naming them only sends the reader back and forth. A node written k times
costs at most ``TINY`` operations per use, so the text stays linear in the graph.

Everything is one pass in creation order (a topological order) or an explicit stack
(``emit``): graphs may be 100,000 levels deep.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from autodiff_cli.core.graph import Graph
from autodiff_cli.core.ops import CONSTANTS, FUNCTIONS
from autodiff_cli.language.printer import emit

#: The sharing threshold (see the module note): a node of n operations used u times is
#: written at each use while (u - 1)*(n - 1) <= TINY - 1.
TINY = 3
#: Prefixes for the statements' names, the first one no name of the formula uses with digits.
PREFIXES = ("t", "u", "v", "w", "s", "tmp")
_BIG = 1 << 30
_NAME = None


def is_name(text: str) -> bool:
    """``text`` is an identifier of adiff's language (and not a function or a constant)."""
    global _NAME
    if _NAME is None:
        from autodiff_cli.language.syntax import name_regex

        _NAME = name_regex()
    return (bool(text) and _NAME.fullmatch(text) is not None and text not in FUNCTIONS
            and text not in CONSTANTS)


def reserved(graph: Graph) -> set[str]:
    """Names a program printed from ``graph`` must not assign: its variables, the language's
    functions and constants."""
    return set(graph.variables) | set(FUNCTIONS) | set(CONSTANTS)


class Layout:
    """Which nodes are statements and what they are called.

    ``statements``: ``(name, node)`` in dependency (creation) order; ``names``: node ->
    name for every statement; ``roots``: ``(name, node)`` as given.
    """

    def __init__(self, statements: list[tuple[str, int]], roots: list[tuple[str, int]]):
        self.statements = statements
        self.names = {node: name for name, node in statements}
        self.roots = roots

    def __repr__(self) -> str:
        return f"Layout(statements={self.statements!r}, roots={self.roots!r})"


def _prefix(taken: Iterable[str]) -> str:
    used = set()
    for name in taken:
        head = name.rstrip("0123456789")
        if head != name:
            used.add(head)
    for p in PREFIXES:
        if p not in used:
            return p
    return PREFIXES[0]


def layout(graph: Graph, roots: Sequence[tuple[str, int]], taken: Iterable[str] = (),
           labels: Iterable[str] = (), tiny: int = TINY) -> Layout:
    """The statements of a program printing ``roots`` (``(name, node)`` pairs) of ``graph``.

    ``taken``: names no statement may take (the formula's variables, the roots' names, ...);
    ``labels``: node labels a statement may keep as its name (a formula's assigned names,
    ``z``), when the node is a statement and the label is a valid name not ``taken``;
    other statements are ``t1``, ``t2``, ... (another letter when the formula has ``t1``).
    """
    inputs, ops = graph.inputs, graph.ops
    nodes = [k for _, k in roots]
    if not nodes:
        return Layout([], list(roots))
    mark = graph.ancestors(nodes)
    top = max(nodes)
    uses = [0] * (top + 1)
    for i in range(top + 1):
        if mark[i]:
            for j in inputs[i]:
                uses[j] += 1
    for k in nodes:
        uses[k] += 1
    size = [0] * (top + 1)
    chosen: list[int] = []
    statement = bytearray(top + 1)
    for i in range(top + 1):
        ins = inputs[i]
        if not mark[i] or not ins:
            continue
        s = 1
        for j in ins:
            if inputs[j] and not statement[j]:
                s += size[j]
        size[i] = s if s < _BIG else _BIG
        if uses[i] > 1 and (uses[i] - 1) * (s - 1) > tiny - 1:
            statement[i] = 1
            chosen.append(i)
    taken = set(taken)
    keep = set(labels) - taken
    counter_taken = taken | keep | {name for name, _ in roots}
    prefix = _prefix(counter_taken)
    statements = []
    counter = 0
    for i in chosen:
        label = graph.labels[i] if ops[i].name not in ("var", "const") else ""
        if label in keep and is_name(label):
            keep.discard(label)
            statements.append((label, i))
            continue
        counter += 1
        while f"{prefix}{counter}" in counter_taken:
            counter += 1
        statements.append((f"{prefix}{counter}", i))
    return Layout(statements, list(roots))


def expression(graph: Graph, node: int, names: dict[int, str] | None = None) -> str:
    """Node ``node`` as one expression, the nodes in ``names`` written by their names."""
    if names is None:
        return emit(graph, node, _inline)
    if node in names:
        return names[node]
    return emit(graph, node, names.get)


def _inline(j: int):
    return None


def program(graph: Graph, layout_: Layout, sep: str = "\n", last: bool = True) -> str:
    """Every statement, then ``name = expression`` for each root, then (``last``) the
    roots' names, comma-separated: the several-outputs statement."""
    names = layout_.names
    lines = [f"{name} = {emit(graph, node, names.get)}" for name, node in layout_.statements]
    for name, node in layout_.roots:
        lines.append(f"{name} = {expression(graph, node, names)}")
    if last and layout_.roots:
        lines.append(", ".join(name for name, _ in layout_.roots))
    return sep.join(lines)


def formula(graph: Graph, node: int, taken: Iterable[str] = (), labels: Iterable[str] = (),
            sep: str = "; ") -> str:
    """One root on its own: a plain formula, or ``t1 = ...; ...; formula`` when some value
    is worth sharing (only the statements this root needs)."""
    lay = layout(graph, [("", node)], taken, labels)
    if not lay.statements:
        return emit(graph, node, _inline)
    names = lay.names
    lines = [f"{name} = {emit(graph, k, names.get)}" for name, k in lay.statements]
    lines.append(expression(graph, node, names))
    return sep.join(lines)


__all__ = ["TINY", "Layout", "layout", "program", "formula", "expression", "is_name", "reserved"]
