"""Renderers for ``adiff graph``: a Rich tree, Graphviz DOT and a Mermaid flowchart.

All three read the same document (see ``documents.graph.graph_document``): nodes
with their op, label, formula text and, when evaluated, value, local
gradients and gradient of the output; edges from each input to its consumer.
DOT and Mermaid are plain strings (no Rich), written line by line. Every walk
is a loop: the tree is built with an explicit stack, shows a shared node's
inputs once (later uses point back to it), folds levels deeper than
``depth`` and stops after TREE_NODES nodes; it looks up only the nodes it
prints, so its memory does not grow with the graph.

User text (names, formula text) is shown with control characters escaped;
a stream whose encoding cannot hold a character gets ASCII symbols in the
tree and character references in DOT (``&#952;``) and Mermaid (``#952;``),
which both tools turn back into the character.
"""

from __future__ import annotations

import codecs
import sys
from array import array

from autodiff_cli.errors import escape_controls
from autodiff_cli.render import format_number

#: Tree levels shown by default: as many as leave this many columns for the labels
#: (each level indents by 4), but at least MIN_DEPTH.
LABEL_ROOM = 40
MIN_DEPTH = 8
#: Nodes the tree shows at most (a terminal view; DOT and JSON hold any graph).
TREE_NODES = 10_000
_TEXT_SHOWN = 48  # characters of a node's formula shown in DOT/Mermaid labels
_CAPTION_SHOWN = 100

_UNICODE = {"more": "…", "fold": "⋯", "up": "↑", "d": "∂"}
_ASCII = {"more": "...", "fold": "...", "up": "^", "d": "d"}


def _is_utf(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "utf-8").name.startswith("utf")
    except LookupError:
        return False


def _symbols(encoding: str | None) -> dict[str, str]:
    """The tree's symbols: Unicode when ``encoding`` holds them (and box drawing), else ASCII."""
    try:
        "".join(_UNICODE.values()).encode(encoding or "utf-8")
        "├──│└".encode(encoding or "utf-8")
        return _UNICODE
    except (UnicodeEncodeError, LookupError):
        return _ASCII


def _clip(text: str, limit: int, more: str = "…") -> str:
    """``text`` on one line, control characters escaped, cut to ``limit`` characters.

    Only the first few times ``limit`` characters are looked at, so a
    megabyte formula costs no more than a short one.
    """
    head = text[:4 * limit + 16]
    short = escape_controls(" ".join(head.split()))
    if len(short) > limit or len(head) < len(text):
        short = short[:limit - len(more)] + more
    return short


def _role(node: dict) -> str:
    return {"var": "input", "const": "constant"}.get(node["op"], "operation")


def _at_text(doc: dict, limit: int | None = None) -> str:
    """"x = 1, y = 2"; with ``limit``, only the bindings that fit in about that many characters."""
    parts, size = [], 0
    for k, v in doc.get("at", {}).items():
        part = f"{k} = {format_number(v)}"
        parts.append(part)
        size += len(part) + 2
        if limit is not None and size > 4 * limit:
            parts.append("...")  # cut by the caller's _clip anyway
            break
    return ", ".join(parts)


def _output_ids(doc: dict) -> set[str]:
    """The ids of every output node (documents before several outputs name one)."""
    return {o["node"] for o in doc.get("outputs", ())} or {doc["output"]}


def _several(doc: dict) -> bool:
    return len(doc.get("outputs", ())) > 1


def _caption(doc: dict, d: str = "∂") -> str:
    parts = [f"f = {_clip(doc['formula'], _CAPTION_SHOWN)}"]
    if "at" in doc:
        at = _at_text(doc, _CAPTION_SHOWN)
        parts.append(f"at {_clip(at, _CAPTION_SHOWN)}" if at else "")
        grad = f"grad OUTPUT = {d}OUTPUT/{d}node" if _several(doc) else f"grad = {d}f/{d}node"
        parts.append(f"edge labels: local gradient {d}node/{d}input; {grad}")
    return "\n".join(p for p in parts if p)


#: Outputs whose gradient a DOT or Mermaid node label lists (then "...").
_LABEL_GRADS = 4
_NAME_SHOWN = 16


def _label_lines(node: dict) -> list[str]:
    """Lines of a node's label in DOT and Mermaid (user text with control characters escaped)."""
    role = _role(node)
    name = escape_controls(node["label"])
    if role == "constant":
        return [name]
    if role == "input":
        lines = [f"{name}  ({node['id']})"]
    else:
        head = f"{node['op']}  {node['id']}" + (f"  '{name}'" if name else "")
        lines = [head, _clip(node["text"], _TEXT_SHOWN)]
    if "value" in node:
        lines.append(f"= {format_number(node['value'])}")
        if "grads" in node:  # several outputs: the gradient of each
            grads = list(node["grads"].items())
            for name, g in grads[:_LABEL_GRADS]:
                lines.append(f"grad {_clip(name, _NAME_SHOWN)}: {format_number(g)}")
            if len(grads) > _LABEL_GRADS:
                lines.append(f"(and {len(grads) - _LABEL_GRADS:,} more outputs)")
        else:
            lines.append(f"grad {format_number(node['grad'])}")
    return lines


def _write_lines(lines, reference) -> None:
    """Lines to stdout; characters its encoding cannot hold become ``reference(code)``."""
    out = sys.stdout
    write = out.write
    encoding = getattr(out, "encoding", None) or "utf-8"
    if _is_utf(encoding):
        for line in lines:
            write(line + "\n")
        return
    for line in lines:
        try:
            line.encode(encoding)
        except UnicodeEncodeError:
            line = "".join(ch if _encodes(ch, encoding) else reference(ord(ch)) for ch in line)
        except LookupError:
            pass
        write(line + "\n")


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


# ---------------------------------------------------------------- Graphviz DOT

_DOT_STYLE = {
    "input": 'shape=box, style="rounded,filled", fillcolor="#dbeafe", color="#1d4ed8"',
    "constant": ('shape=box, style="rounded,dashed", color="#9ca3af", fontcolor="#4b5563", '
                 'width=0.4, height=0.3, margin="0.06,0.03"'),
    "operation": 'shape=ellipse, style=filled, fillcolor="#ffffff", color="#374151"',
    "fused": 'shape=ellipse, style=filled, fillcolor="#ede9fe", color="#6d28d9"',
}
_DOT_OUTPUT = 'shape=ellipse, style=filled, fillcolor="#fef3c7", color="#b45309", penwidth=2, peripheries=2'


def _dot_string(text: str) -> str:
    """A DOT string: control characters escaped, then backslashes and quotes, so that
    nothing in user text is read as DOT syntax or as one of dot's \\n, \\N, ... escapes."""
    return '"' + escape_controls(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(_dot_string(line)[1:-1] for line in lines) + '"'


def dot_lines(doc: dict):
    """The DOT text, line by line (nodes then edges: inputs left, the outputs right)."""
    outputs = _output_ids(doc)
    yield "digraph adiff {"
    yield (f'  graph [rankdir=LR, labelloc=t, fontname="Helvetica", fontsize=11, '
           f'label={_dot_label(_caption(doc).splitlines())}];')
    yield '  node [fontname="Helvetica", fontsize=10];'
    yield '  edge [fontname="Helvetica", fontsize=9, color="#4b5563", fontcolor="#6d28d9"];'
    for node in doc["nodes"].items:
        role = "fused" if node.get("fused") else _role(node)
        style = _DOT_OUTPUT if node["id"] in outputs else _DOT_STYLE[role]
        attrs = [f"label={_dot_label(_label_lines(node))}", style]
        if node.get("fused"):
            attrs.append(f"tooltip={_dot_string('fused: ' + node['expand'] + ' (see --expand)')}")
        yield f"  {node['id']} [{', '.join(attrs)}];"
    for edge in doc["edges"].items:
        label = f" [label={_dot_string(format_number(edge['local']))}]" if "local" in edge else ""
        yield f"  {edge['from']} -> {edge['to']}{label};"
    yield "}"


def dot_text(doc: dict) -> str:
    return "\n".join(dot_lines(doc)) + "\n"


def dot(doc: dict, **_options) -> None:
    _write_lines(dot_lines(doc), lambda code: f"&#{code};")


# ---------------------------------------------------------------- Mermaid

_MERMAID_SHAPE = {"input": ('(["', '"])'), "constant": ('["', '"]'),
                  "operation": ('("', '")'), "fused": ('("', '")')}
_MERMAID_CLASSES = (
    "  classDef input fill:#dbeafe,stroke:#1d4ed8",
    "  classDef constant fill:#f3f4f6,stroke:#9ca3af,stroke-dasharray:3 3",
    "  classDef operation fill:#ffffff,stroke:#374151",
    "  classDef fused fill:#ede9fe,stroke:#6d28d9",
    "  classDef output fill:#fef3c7,stroke:#b45309,stroke-width:3px",
)


def _mermaid_escape(text: str) -> str:
    # Entity codes keep quotes and angle brackets from ending the label early;
    # control characters are escaped (a newline would end the statement).
    return (escape_controls(text).replace("#", "#35;").replace('"', "#quot;")
            .replace("<", "#lt;").replace(">", "#gt;"))


def mermaid_lines(doc: dict):
    outputs = _output_ids(doc)
    for line in _caption(doc).splitlines():
        yield "%% " + line
    yield "flowchart LR"
    classes: dict[str, list[str]] = {}
    for node in doc["nodes"].items:
        role = "fused" if node.get("fused") else _role(node)
        opening, closing = _MERMAID_SHAPE[role]
        text = "<br/>".join(_mermaid_escape(line) for line in _label_lines(node))
        yield f"  {node['id']}{opening}{text}{closing}"
        classes.setdefault("output" if node["id"] in outputs else role, []).append(node["id"])
    for edge in doc["edges"].items:
        label = f'|"{_mermaid_escape(format_number(edge["local"]))}"|' if "local" in edge else ""
        yield f"  {edge['from']} -->{label} {edge['to']}"
    yield from _MERMAID_CLASSES
    for name, ids in classes.items():
        for k in range(0, len(ids), 50):
            yield f"  class {','.join(ids[k:k + 50])} {name}"


def mermaid_text(doc: dict) -> str:
    return "\n".join(mermaid_lines(doc)) + "\n"


def mermaid(doc: dict, **_options) -> None:
    _write_lines(mermaid_lines(doc), lambda code: f"#{code};")


# ---------------------------------------------------------------- the tree

class _ListNodes:
    """Random access to a document's nodes given as a list (``documents.graph.NodeStream``
    offers the same methods without building the list)."""

    def __init__(self, nodes):
        self.items = nodes if isinstance(nodes, list) else list(nodes)
        self._index = {n["id"]: k for k, n in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    def node(self, k: int) -> dict:
        return self.items[k]

    def position(self, node_id: str) -> int:
        return self._index[node_id]

    def all_inputs(self):
        index = self._index
        return ([index[j] for j in n["inputs"]] for n in self.items)

    def inputs(self, k: int):
        return [self._index[j] for j in self.items[k]["inputs"]]


def _view(nodes):
    return nodes if hasattr(nodes, "node") else _ListNodes(nodes.items)


def _tree_label(node: dict, parent: dict | None, position: int, shared: bool,
                symbols: dict = _UNICODE):
    """'n16 = 1/n15 = 0.997527   grad -1.00248   local 1.00248' (local: ∂parent/∂node)."""
    from rich.text import Text

    label = Text()
    label.append(node["id"], style="dim")
    role = _role(node)
    if node["label"] and role != "constant":
        label.append(" ")
        label.append(escape_controls(node["label"]), style="bold")
    if role == "operation":
        label.append(" = ")
        label.append(escape_controls(node["text"]), style="cyan")
        if node.get("fused"):
            label.append(" (fused)", style="dim")
    elif role == "constant":
        label.append(" = ")
        label.append(escape_controls(node["label"]))
        label.append(" (constant)", style="dim")
    else:
        label.append(" (input)", style="dim")
    if "value" in node and role != "constant":
        label.append(" = ")
        label.append(format_number(node["value"]), style="green")
        label.append("   grad ", style="dim")
        label.append(format_number(node["grad"]), style="bold")
    if parent is not None and "local" in parent:
        label.append("   local ", style="dim")
        label.append(format_number(parent["local"][position]), style="magenta")
    if shared:
        label.append(f"   {symbols['up']} see above", style="yellow")
    return label


def auto_depth(width: int) -> int:
    """Levels that fit ``width`` columns: 20 at 120 columns, 10 at 80."""
    return max(MIN_DEPTH, (width - LABEL_ROOM) // 4)


class _Heights:
    """Longest path from each node down to a leaf, computed on first use (a loop
    over the graph: ids are topological; 8 bytes a node)."""

    def __init__(self, view):
        self._view = view
        self._height = None

    def __getitem__(self, k: int) -> int:
        if self._height is None:
            height = array("q", bytes(8 * len(self._view)))
            for i, ins in enumerate(self._view.all_inputs()):
                if ins:
                    top = 0
                    for j in ins:
                        h = height[j]
                        if h > top:
                            top = h
                    height[i] = top + 1
            self._height = height
        return self._height[k]


def build_tree(nodes, output: str, depth: int, symbols: dict = _UNICODE,
               limit: int = TREE_NODES, heights=None):
    """(rich Tree, folded subtrees, back references, stopped) for the output and what it
    depends on. ``nodes`` is a list of node dicts or a ``NodeStream``; only the nodes
    shown are looked up, and at most ``limit`` of them."""
    from rich.text import Text
    from rich.tree import Tree

    view = nodes if hasattr(nodes, "node") else _ListNodes(nodes)
    height = heights or _Heights(view)
    expanded: set[int] = set()
    root = None
    folded = referenced = shown = 0
    stopped = False
    stack = [(view.position(output), None, 0, None, 0)]
    while stack:
        i, parent_tree, level, parent, position = stack.pop()
        if shown >= limit:
            parent_tree.add(Text(f"{symbols['fold']} the tree stops here: it shows at most "
                                 f"{limit:,} nodes (--format dot or json holds the whole graph)",
                                 style="yellow"))
            stopped = True
            break
        node = view.node(i)
        ins = view.inputs(i)
        shared = bool(ins) and i in expanded
        label = _tree_label(node, parent, position, shared, symbols)
        tree = Tree(label, guide_style="dim") if parent_tree is None else parent_tree.add(label)
        shown += 1
        root = root or tree
        referenced += shared
        if not ins or shared:
            continue
        if level >= depth:
            folded += 1
            below = height[i]
            tree.add(Text(f"{symbols['fold']} {below:,} more level{'s' if below != 1 else ''} "
                          f"below {node['id']} (use --depth to show more)", style="yellow"))
            continue
        expanded.add(i)
        for k in range(len(ins) - 1, -1, -1):
            stack.append((ins[k], tree, level + 1, node, k))
    return root, folded, referenced, stopped


def tree(doc: dict, depth: int | None = None, file=None, **_options) -> None:
    """Print the tree of the graph from the output down (to ``file``, or stdout).

    Each level indents by 4 columns and Rich drops lines that get no room, so
    the levels shown are limited by the width: on a terminal to what fits
    (with a note), while a pipe or a file is simply made wide enough.
    """
    from rich.console import Console
    from rich.text import Text

    from autodiff_cli.render.table import console

    out = console() if file is None else Console(file=file, width=120, no_color=True,
                                                  highlight=False, soft_wrap=False)
    symbols = _symbols(out.encoding)
    view = _view(doc["nodes"])
    heights = _Heights(view)
    notes = []
    fit = auto_depth(out.width)
    if depth is None:
        depth = fit
    elif depth > fit:
        needed = min(depth, max(heights[view.position(o)] for o in _output_ids(doc)))
        if needed > fit and out.is_terminal:
            notes.append(f"--depth {depth} does not fit {out.width} columns: {fit} levels shown "
                         "(widen the terminal, or pipe the output)")
            depth = fit
        elif needed > fit:
            out.width = 4 * needed + 2 * LABEL_ROOM
    heading = Text()
    heading.append("f = ", style="bold")
    heading.append(_clip(doc["formula"], 200, symbols["more"]))
    out.print(heading)
    if _several(doc):
        _trees(out, doc, view, heights, depth, symbols, notes)
        return
    if "value" in doc:
        line = Text()
        line.append("value ", style="bold")
        line.append(format_number(doc["value"], 10), style="bold green")
        at = _at_text(doc, 400)
        if at:
            line.append(f"   at {_clip(at, 400, symbols['more'])}")
        out.print(line)
    root, folded, referenced, stopped = build_tree(view, doc["output"], depth, symbols,
                                                   heights=heights)
    out.print(root)
    legend = [f"{symbols['up']} marks a value used again: its inputs are shown where it first "
              "appears"] if referenced else []
    if "value" in doc:
        d = symbols["d"]
        legend.insert(0, f"grad = {d}f/{d}node; local = {d}(node above)/{d}node, the local "
                         "gradient along that edge")
    if folded:
        legend.append(f"{folded:,} subtree{'s' if folded != 1 else ''} deeper than {depth} "
                      "levels folded (--depth N shows more)")
    for line in legend + notes:
        out.print(Text(line, style="dim"))


class _OutputView:
    """A document's nodes as the tree of one output of several sees them: each node's
    ``grad`` is the gradient of that output (``grads[name]``)."""

    def __init__(self, view, name: str):
        self._view, self._name = view, name

    def __len__(self) -> int:
        return len(self._view)

    def node(self, k: int) -> dict:
        node = self._view.node(k)
        grads = node.get("grads")
        return node if grads is None else {**node, "grad": grads[self._name]}

    def position(self, node_id: str) -> int:
        return self._view.position(node_id)

    def inputs(self, k: int):
        return self._view.inputs(k)

    def all_inputs(self):
        return self._view.all_inputs()


def _trees(out, doc: dict, view, heights, depth: int, symbols: dict, notes: list) -> None:
    """The trees of a graph with several outputs: one per output, from that output down,
    each node with that output's gradient; a shared value is expanded again in each tree."""
    from rich.text import Text

    outputs = doc["outputs"]
    at = _at_text(doc, 400) if "value" in doc else ""
    if at:
        out.print(Text(f"at {_clip(at, 400, symbols['more'])}"))
    limit = max(1_000, TREE_NODES // len(outputs))
    folded = referenced = 0
    for k, o in enumerate(outputs):
        name = o["name"]
        line = Text()
        line.append(f"output {k + 1} of {len(outputs)}: ", style="bold")
        line.append(_clip(name, 200, symbols["more"]), style="bold")
        if "value" in doc:
            line.append(" = ")
            line.append(format_number(doc["value"][name], 10), style="bold green")
        out.print(line)
        root, f, r, _ = build_tree(_OutputView(view, name), o["node"], depth, symbols,
                                   limit=limit, heights=heights)
        out.print(root)
        folded += f
        referenced += r
    legend = [f"{symbols['up']} marks a value used again in the same tree: its inputs are "
              "shown where it first appears"] if referenced else []
    if "value" in doc:
        d = symbols["d"]
        legend.insert(0, f"grad = {d}(the tree's output)/{d}node; local = {d}(node above)/"
                         f"{d}node, the local gradient along that edge")
    if folded:
        legend.append(f"{folded:,} subtree{'s' if folded != 1 else ''} deeper than {depth} "
                      "levels folded (--depth N shows more)")
    for line in legend + notes:
        out.print(Text(line, style="dim"))
