"""Graph -> formula text, with as few parentheses as the grammar allows.

Two uses: ``node_text`` shows one node in terms of its inputs ("θ1*x1",
"1/n15"; inputs that are operations are named by their id), for the labels
of ``adiff graph`` and ``adiff trace``; ``to_source`` prints a whole graph as
a program that parses back to the same graph -- a value used by several
nodes becomes an assignment (``t1 = x + 1``), so nothing is printed twice.

Both are iterative (an explicit stack; formulas can be 100,000 levels deep).
Precedence follows grammar/adiff.lark: ``+ -`` < ``* /`` < unary ``-`` <
``^`` < atoms. ``+ - * /`` are left-associative, so a right operand of the same
level keeps its parentheses (``a - (b - c)``, and ``a + (b + c)`` too: without
them it would parse as a different graph). Power is right-associative and its
base must be an atom: ``(-x)^2``, ``(a^b)^c``, but ``a^b^c`` and ``2^-x``.

A bare literal after a minus sign is one constant node (``-2``), while
``-(2)`` stays ``neg(2)``; so a ``neg`` of a constant node -- which arises
from names (``a = 2; -a``) or from ``--expand`` (``sigmoid(2)``) -- prints
as ``-(2)`` and parses back to the same graph.
"""

from __future__ import annotations

from autodiff_cli.core.graph import Graph
from autodiff_cli.core.ops import CONSTANTS, FUNCTIONS
from autodiff_cli.language.syntax import name_regex

# Precedence levels (higher binds tighter).
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5
_INFIX = {"add": (_SUM, " + "), "sub": (_SUM, " - "), "mul": (_PRODUCT, "*"),
          "div": (_PRODUCT, "/"), "pow": (_POWER, "^")}


def function_name(op) -> str:
    """The name a formula calls ``op`` by: ``log`` for log and logb, ``sigmoid``, ..."""
    return op.aliases[0] if op.aliases else op.name


def _precedence(graph: Graph, i: int) -> int:
    name = graph.ops[i].name
    if name == "const":
        return _UNARY if graph.labels[i].startswith("-") else _ATOM
    if name == "var":
        return _ATOM
    if name == "neg":
        return _UNARY
    infix = _INFIX.get(name)
    return infix[0] if infix else _ATOM


def emit(graph: Graph, root: int, ref) -> str:
    """Text of node ``root``; ``ref(j)`` names input ``j`` (an atom) or returns None to inline it."""
    ops, inputs, labels = graph.ops, graph.inputs, graph.labels
    out: list[str] = []
    stack: list = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, str):
            out.append(item)
            continue
        i, parens = item
        op = ops[i]
        name = op.name
        ins = inputs[i]
        if not ins:
            body = [labels[i]]
        elif name in _INFIX:
            level, symbol = _INFIX[name]
            a, b = ins
            if name == "pow":
                left = _precedence(graph, a) < _ATOM
                right = _precedence(graph, b) < _UNARY
            else:
                left = _precedence(graph, a) < level
                right = _precedence(graph, b) <= level
            body = [_child(a, left, ref), symbol, _child(b, right, ref)]
        elif name == "neg":
            a = ins[0]
            # A constant keeps its parentheses: "-2" would read as one literal.
            paren = ops[a].name == "const" or _precedence(graph, a) < _UNARY
            body = ["-", _child(a, paren, ref)]
        else:
            body = [function_name(op), "("]
            for k, a in enumerate(ins):
                if k:
                    body.append(", ")
                body.append(_child(a, False, ref))
            body.append(")")
        if parens:
            body = ["(", *body, ")"]
        for piece in reversed(body):
            push(piece)
    return "".join(out)


def _child(j: int, parens: bool, ref):
    name = ref(j)
    return name if name is not None else (j, parens)


def node_text(graph: Graph, i: int) -> str:
    """Node ``i`` in terms of its inputs: leaves by their label, operations by id.

    ``θ1*x1``, ``1/n15``, ``log(n16)``; a leaf is its own label (``x``, ``-1``).
    """
    ops, inputs, labels = graph.ops, graph.inputs, graph.labels

    def ref(j):
        if inputs[j]:
            return f"n{j}"
        # A constant is inlined so that "-1" gets its parentheses where needed.
        return labels[j] if ops[j].name == "var" else None

    return emit(graph, i, ref)


def _uses(graph: Graph) -> list[int]:
    uses = [0] * len(graph)
    for ins in graph.inputs:
        for j in ins:
            uses[j] += 1
    return uses


def _name_shared(shared, ops, labels, taken: set, names: dict) -> None:
    """Name each node of ``shared`` in ``names``: its own label when that is a usable name
    not ``taken``, else ``t1``, ``t2``, ...; every name given is added to ``taken``."""
    for i in shared:
        label = labels[i]
        if ops[i].name != "const" and name_regex().fullmatch(label) and label not in taken:
            names[i] = label
            taken.add(label)
    counter = 0
    for i in shared:
        if i not in names:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            names[i] = f"t{counter}"
            taken.add(names[i])


def to_source(graph: Graph, sep: str = "\n") -> str:
    """The graph as a program that parses back to the same graph (see the module note).

    Values used more than once (other than input variables, which are shared
    by name) are assigned first, in creation order, under their own name when
    they have a usable one, otherwise ``t1``, ``t2``, ...

    Several outputs end the program as one statement, ``r, theta``; an output named
    by an identifier the graph leaves free (``r``, not an input's name) is assigned
    under that name, so the outputs keep their names; one named by its text
    (``x*y``) is printed in place, and is then named by the printed text.
    """
    if graph.several:
        return _several_source(graph, sep)
    ops, labels, output = graph.ops, graph.labels, graph.output
    uses = _uses(graph)
    shared = [i for i in range(len(graph))
              if uses[i] > 1 and ops[i].name != "var" and i != output]
    taken = set(graph.variables) | set(CONSTANTS) | set(FUNCTIONS)
    names: dict[int, str] = {}
    _name_shared(shared, ops, labels, taken, names)

    # ``ref`` is asked only about inputs, never about the node being printed,
    # so a shared node's own statement prints its formula, not its name.
    lines = []
    for i in [*shared, output]:
        text = emit(graph, i, names.get)
        lines.append(f"{names[i]} = {text}" if i in names else text)
    return sep.join(lines)


def _several_source(graph: Graph, sep: str) -> str:
    """``to_source`` of a graph with several outputs."""
    ops, labels, outputs = graph.ops, graph.labels, graph.outputs
    uses = _uses(graph)
    for k in outputs:
        uses[k] += 1  # the last statement uses each output once more
    taken = set(graph.variables) | set(CONSTANTS) | set(FUNCTIONS)
    names: dict[int, str] = {}
    aliases: dict[int, list[str]] = {}  # node -> further names of it (a, b = a when both)
    last: list[str | None] = []  # the name each output is written as on the last line
    for k, name in zip(outputs, graph.output_names):
        if ops[k].name == "var" and name == labels[k]:
            last.append(name)
        elif name_regex().fullmatch(name) and name not in taken:
            taken.add(name)
            if k in names:
                aliases.setdefault(k, []).append(name)
            else:
                names[k] = name
            last.append(name)
        else:
            last.append(None)  # printed in place, or by the name its statement gets
    shared = [i for i in range(len(graph))
              if uses[i] > 1 and ops[i].name != "var" and i not in names]
    _name_shared(shared, ops, labels, taken, names)
    # Formulas name an input by its own name, never by an output's name for it (u = x):
    # that statement may come after them.
    refs = {k: name for k, name in names.items() if ops[k].name != "var"}.get
    lines = []
    for i in sorted(k for k in names if ops[k].name == "var"):  # an input under another name
        lines.append(f"{names[i]} = {labels[i]}")
        lines.extend(f"{alias} = {names[i]}" for alias in aliases.get(i, ()))
    for i in sorted(k for k in names if ops[k].name != "var"):
        lines.append(f"{names[i]} = {emit(graph, i, refs)}")
        lines.extend(f"{alias} = {names[i]}" for alias in aliases.get(i, ()))
    items = [name if name is not None else
             names.get(k) or (labels[k] if ops[k].name == "var" else emit(graph, k, refs))
             for k, name in zip(outputs, last)]
    lines.append(", ".join(items))
    return sep.join(lines)


__all__ = ["emit", "node_text", "to_source", "function_name"]
