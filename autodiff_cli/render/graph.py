"""Renderers for ``adiff graph``: a Rich tree, Graphviz DOT and a Mermaid flowchart.

All three read the same document (see ``cli_graph.graph_document``): nodes
with their op, label, formula text and, when evaluated, value, local
gradients and gradient of the output; edges from each input to its consumer.
DOT and Mermaid are plain strings (no Rich). Every walk is a loop: the tree
is built with an explicit stack, shows a shared node's inputs once (later
uses point back to it) and folds levels deeper than ``depth``.
"""

from __future__ import annotations

import sys

from . import format_number

#: Tree levels shown by default: as many as leave this many columns for the labels
#: (each level indents by 4), but at least MIN_DEPTH.
LABEL_ROOM = 40
MIN_DEPTH = 8
_TEXT_SHOWN = 48  # characters of a node's formula shown in DOT/Mermaid labels
_CAPTION_SHOWN = 100


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _index(nodes: list[dict]) -> dict[str, int]:
    return {n["id"]: k for k, n in enumerate(nodes)}


def _role(node: dict) -> str:
    return {"var": "input", "const": "constant"}.get(node["op"], "operation")


def _at_text(doc: dict) -> str:
    return ", ".join(f"{k} = {format_number(v)}" for k, v in doc.get("at", {}).items())


def _caption(doc: dict) -> str:
    parts = [f"f = {_clip(doc['formula'], _CAPTION_SHOWN)}"]
    if "at" in doc:
        at = _at_text(doc)
        parts.append(f"at {_clip(at, _CAPTION_SHOWN)}" if at else "")
        parts.append("edge labels: local gradient ∂node/∂input; grad = ∂f/∂node")
    return "\n".join(p for p in parts if p)


def _label_lines(node: dict) -> list[str]:
    """Lines of a node's label in DOT and Mermaid."""
    role = _role(node)
    name = node["label"]
    if role == "constant":
        return [name]
    if role == "input":
        lines = [f"{name}  ({node['id']})"]
    else:
        head = f"{node['op']}  {node['id']}" + (f"  '{name}'" if name else "")
        lines = [head, _clip(node["text"], _TEXT_SHOWN)]
    if "value" in node:
        lines.append(f"= {format_number(node['value'])}")
        lines.append(f"grad {format_number(node['grad'])}")
    return lines


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
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(_dot_string(line)[1:-1] for line in lines) + '"'


def dot_lines(doc: dict):
    """The DOT text, line by line (nodes then edges: inputs left, the output right)."""
    output = doc["output"]
    yield "digraph adiff {"
    yield (f'  graph [rankdir=LR, labelloc=t, fontname="Helvetica", fontsize=11, '
           f'label={_dot_label(_caption(doc).splitlines())}];')
    yield '  node [fontname="Helvetica", fontsize=10];'
    yield '  edge [fontname="Helvetica", fontsize=9, color="#4b5563", fontcolor="#6d28d9"];'
    for node in doc["nodes"].items:
        role = "fused" if node.get("fused") else _role(node)
        style = _DOT_OUTPUT if node["id"] == output else _DOT_STYLE[role]
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
    write = sys.stdout.write
    for line in dot_lines(doc):
        write(line + "\n")


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
    # Entity codes keep quotes and angle brackets from ending the label early.
    return (text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("\n", " "))


def mermaid_lines(doc: dict):
    output = doc["output"]
    for line in _caption(doc).splitlines():
        yield "%% " + line
    yield "flowchart LR"
    classes: dict[str, list[str]] = {}
    for node in doc["nodes"].items:
        role = "fused" if node.get("fused") else _role(node)
        opening, closing = _MERMAID_SHAPE[role]
        text = "<br/>".join(_mermaid_escape(line) for line in _label_lines(node))
        yield f"  {node['id']}{opening}{text}{closing}"
        classes.setdefault("output" if node["id"] == output else role, []).append(node["id"])
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
    write = sys.stdout.write
    for line in mermaid_lines(doc):
        write(line + "\n")


# ---------------------------------------------------------------- the tree

def _tree_label(node: dict, parent: dict | None, position: int, shared: bool):
    """'n16 = 1/n15 = 0.997527   grad -1.00248   local 1.00248' (local: ∂parent/∂node)."""
    from rich.text import Text

    label = Text()
    label.append(node["id"], style="dim")
    role = _role(node)
    if node["label"] and role != "constant":
        label.append(" ")
        label.append(node["label"], style="bold")
    if role == "operation":
        label.append(" = ")
        label.append(node["text"], style="cyan")
        if node.get("fused"):
            label.append(" (fused)", style="dim")
    elif role == "constant":
        label.append(" = ")
        label.append(node["label"])
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
        label.append("   ↑ see above", style="yellow")
    return label


def auto_depth(width: int) -> int:
    """Levels that fit ``width`` columns: 20 at 120 columns, 10 at 80."""
    return max(MIN_DEPTH, (width - LABEL_ROOM) // 4)


def _heights(inputs: list[list[int]]) -> list[int]:
    """Longest path from each node down to a leaf (a loop: ids are topological)."""
    height = [0] * len(inputs)
    for i, ins in enumerate(inputs):
        if ins:
            height[i] = 1 + max(height[j] for j in ins)
    return height


def build_tree(nodes: list[dict], output: str, depth: int):
    """(rich Tree, folded subtrees, back references) for the output and what it depends on."""
    from rich.text import Text
    from rich.tree import Tree

    index = _index(nodes)
    inputs = [[index[j] for j in n["inputs"]] for n in nodes]
    height = _heights(inputs)
    expanded = [False] * len(nodes)
    root = None
    folded = referenced = 0
    stack = [(index[output], None, 0, None, 0)]
    while stack:
        i, parent_tree, level, parent, position = stack.pop()
        node = nodes[i]
        ins = inputs[i]
        shared = bool(ins) and expanded[i]
        label = _tree_label(node, nodes[parent] if parent is not None else None, position, shared)
        tree = Tree(label, guide_style="dim") if parent_tree is None else parent_tree.add(label)
        root = root or tree
        referenced += shared
        if not ins or shared:
            continue
        if level >= depth:
            folded += 1
            tree.add(Text(f"⋯ {height[i]:,} more level{'s' if height[i] != 1 else ''} below "
                          f"{node['id']} (use --depth to show more)", style="yellow"))
            continue
        expanded[i] = True
        for k in range(len(ins) - 1, -1, -1):
            stack.append((ins[k], tree, level + 1, i, k))
    return root, folded, referenced


def tree(doc: dict, depth: int | None = None, file=None, **_options) -> None:
    """Print the tree of the graph from the output down (to ``file``, or stdout).

    Each level indents by 4 columns and Rich drops lines that get no room, so
    the levels shown are limited by the width: on a terminal to what fits
    (with a note), while a pipe or a file is simply made wide enough.
    """
    from rich.console import Console
    from rich.text import Text

    from .table import console

    out = console() if file is None else Console(file=file, width=120, no_color=True,
                                                  highlight=False, soft_wrap=False)
    nodes = doc["nodes"].items
    nodes = nodes if isinstance(nodes, list) else list(nodes)
    notes = []
    fit = auto_depth(out.width)
    if depth is None:
        depth = fit
    elif depth > fit:
        index = _index(nodes)
        tallest = _heights([[index[j] for j in n["inputs"]] for n in nodes])[index[doc["output"]]]
        needed = min(depth, tallest)
        if needed > fit and out.is_terminal:
            notes.append(f"--depth {depth} does not fit {out.width} columns: {fit} levels shown "
                         "(widen the terminal, or pipe the output)")
            depth = fit
        elif needed > fit:
            out.width = 4 * needed + 2 * LABEL_ROOM
    heading = Text()
    heading.append("f = ", style="bold")
    heading.append(_clip(doc["formula"], 200))
    out.print(heading)
    if "value" in doc:
        line = Text()
        line.append("value ", style="bold")
        line.append(format_number(doc["value"], 10), style="bold green")
        at = _at_text(doc)
        if at:
            line.append(f"   at {_clip(at, 400)}")
        out.print(line)
    root, folded, referenced = build_tree(nodes, doc["output"], depth)
    out.print(root)
    legend = ["↑ marks a value used again: its inputs are shown where it first appears"] \
        if referenced else []
    if "value" in doc:
        legend.insert(0, "grad = ∂f/∂node; local = ∂(node above)/∂node, the local gradient "
                         "along that edge")
    if folded:
        legend.append(f"{folded:,} subtree{'s' if folded != 1 else ''} deeper than {depth} "
                      "levels folded (--depth N shows more)")
    for line in legend + notes:
        out.print(Text(line, style="dim"))
