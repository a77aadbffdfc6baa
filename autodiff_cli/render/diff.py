"""Renderers for ``adiff diff``: the derivatives as text, plain lines, LaTeX, Python and C.

``text`` and ``plain`` read the document of ``documents.diff`` (its ``program`` holds the
shared statements and each derivative in terms of them); ``latex``, ``python`` and ``c``
write from the graphs (``code``: a ``documents.diff.Code``) through ``render/code.py``,
which never embeds user text in code except as validated identifiers and numbers.
"""

from __future__ import annotations

import sys

from autodiff_cli.render import format_number, limited_encoding, mark, safe, sym

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _split(key: str) -> tuple[str | None, list[str]]:
    from autodiff_cli.documents.diff import split_key

    return split_key(key)


def _groups(variables: list[str]) -> list[tuple[str, int]]:
    """x, x, y -> [(x, 2), (y, 1)]: runs of the same variable (keys list them in --wrt order)."""
    groups: list[tuple[str, int]] = []
    for v in variables:
        if groups and groups[-1][0] == v:
            groups[-1] = (v, groups[-1][1] + 1)
        else:
            groups.append((v, 1))
    return groups


def _is_name(text: str) -> bool:
    return text.isidentifier()


def partial(key: str, of: str = "f") -> str:
    """The derivative a key names, as a reader writes it: ∂f/∂x, ∂²f/∂x∂y, ∂³f/∂x²∂y,
    ∂r/∂x (several outputs: the output's name, in parentheses when it is not a name);
    in ASCII (d^2f/dx dy) where stdout cannot write ∂ and superscripts."""
    output, variables = _split(key)
    if output is not None:
        of = output if _is_name(output) else f"({output})"
    n = len(variables)
    groups = _groups(variables)
    if limited_encoding() is None:
        top = "∂" + (str(n).translate(_SUPERSCRIPTS) if n > 1 else "")
        bottom = "".join("∂" + safe(v) + (str(k).translate(_SUPERSCRIPTS) if k > 1 else "")
                         for v, k in groups)
        return f"{top}{safe(of)}/{bottom}"
    top = "d" + (f"^{n}" if n > 1 else "")
    bottom = " ".join("d" + safe(v) + (f"^{k}" if k > 1 else "") for v, k in groups)
    return f"{top}{safe(of)}/{bottom}" if len(groups) == 1 else f"{top}{safe(of)}/({bottom})"


def program_parts(program: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(statements as (name, formula), the derivatives' names in the order of the keys) of
    the program form: "name = formula" lines, the last one the names, comma-separated."""
    lines = program.split("\n")
    statements = []
    for line in lines[:-1]:
        name, _, formula = line.partition(" = ")
        statements.append((name, formula))
    return statements, [n.strip() for n in lines[-1].split(",")] if lines[-1] else []


def _formulas(doc: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(shared statements, (key, formula in terms of them)) from the document's program."""
    keys = list(doc["derivatives"])
    statements, names = program_parts(doc["program"]) if keys else ([], [])
    if len(names) != len(keys):  # not the program form: each derivative on its own
        return [], list(doc["derivatives"].items())
    defined = dict(statements)
    own = set(names)
    shared = [(n, f) for n, f in statements if n not in own]
    return shared, [(key, defined.get(name, name)) for key, name in zip(keys, names)]


def _one_line(text: str) -> str:
    return "; ".join(line for line in text.split("\n") if line)


# ---------------------------------------------------------------- text and plain

def text(doc: dict, **_options) -> None:
    """The derivatives as a reader writes them: the shared statements, then one
    ``∂f/∂x = formula`` line per derivative; --explain narrates first; --at adds a table of
    each derivative's value beside reverse mode's."""
    write = sys.stdout.write
    if "derivation" in doc:
        explain_text(doc)
    if not doc["derivatives"]:
        write(sym("The formula has no input variables: there is no derivative.") + "\n")
    else:
        shared, formulas = _formulas(doc)
        for name, formula in shared:
            write(f"{safe(name)} = {safe(formula)}\n")
        for key, formula in formulas:
            write(f"{partial(key)} = {safe(formula)}\n")
    if "values" in doc:
        sys.stdout.flush()
        _values_table(doc)


def _values_table(doc: dict) -> None:
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, console, note, value_line

    out = console()
    out.print()
    if "outputs" in doc:
        from rich.text import Text

        line = Text()
        line.append("value ", style="bold")
        line.append(", ".join(f"{safe(n) if _is_name(n) else '(' + safe(n) + ')'} = "
                              f"{format_number(v, 10)}" for n, v in doc["value"].items()),
                    style="bold green")
        from autodiff_cli.render.table import at_text

        line.append(at_text(doc["at"]))
        out.print(line)
    else:
        value_line(out, doc["value"], doc["at"])
    if not doc["values"]:
        return
    check = doc["check"]
    grid = Grid(sym("Derivatives at the point"))
    grid.column("derivative", TEXT)
    grid.column("formula", NUM, style="bold")
    grid.column("reverse mode", NUM)
    grid.column("rel err", NUM, drop=1)
    grid.column("", KEY)
    for key, v in doc["values"].items():
        grid.row(partial(key), format_number(v, 10), format_number(check["reverse"][key], 10),
                 format_number(check["rel_error"][key], 2), mark(check["status"][key]))
    grid.print(out)
    if doc["order"] == 1:
        note(out, "formula: the printed derivative at the point; reverse mode: adiff grad's")
    else:
        note(out, f"formula: the printed derivative at the point; reverse mode: adiff grad's "
                  f"gradient of the order-{doc['order'] - 1} derivative")


def plain(doc: dict, **_options) -> None:
    """``key<TAB>formula`` lines (each formula standalone, on one line: statements
    separated by "; "); with --at, a ``value`` line first and each derivative's value as
    a third field; with --explain, the derivation's records first."""
    lines = []
    if "derivation" in doc:
        lines.extend(explain_plain(doc))
    if "values" in doc:
        if "outputs" in doc:
            lines.extend(f"value\t{safe(n)}\t{format_number(v, None)}"
                         for n, v in doc["value"].items())
        else:
            lines.append(f"value\t{format_number(doc['value'], None)}")
    for key, formula in doc["derivatives"].items():
        fields = [safe(key), safe(_one_line(formula))]
        if "values" in doc:
            fields.append(format_number(doc["values"][key], None))
        lines.append("\t".join(fields))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- --explain

def _times() -> str:
    return " × " if limited_encoding() is None else " * "


def _factor(text: str) -> str:
    """A formula as a factor of ``upstream × local``: in parentheses when it is a sum
    (a + or - outside any parentheses)."""
    depth = 0
    for k, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch in "+-" and 0 < k < len(text) - 1 and text[k - 1] == " " \
                and text[k + 1] == " ":
            return f"({text})"
    return text


def _of(output: str, several: bool) -> str:
    if not several:
        return "f"
    return output if _is_name(output) else f"({output})"


def _from_text(contributions: list[dict]) -> str:
    """'y (from n2) + cos(x) (from n3)', by the sending node, as a formula reads (the JSON
    keeps the order of the backward pass)."""
    ordered = sorted(contributions, key=lambda c: int(c["from"][1:]))
    return " + ".join(f"{safe(_factor(c['value']))} (from {c['from']})" for c in ordered)


def explain_lines(doc: dict) -> list[str]:
    """The derivation as the lecture narrates backprop, node by node from the output down:
    the node's formula, its upstream derivative (for a value used several times: the sum of
    what each use sent), and for each input the local derivative (the op's rule) and the
    contribution = upstream × local; then each input's derivative, the sum it receives."""
    d, times = sym("∂"), _times()
    several = len(doc["derivation"]) > 1
    lines = []
    for der in doc["derivation"]:
        of = safe(_of(der["output"], several))
        title = f"Backward pass of {of}" if several else "Backward pass"
        lines.append(sym(f"{title}, from the output down: contribution = upstream × local")
                     if limited_encoding() is None else
                     f"{title}, from the output down: contribution = upstream x local")
        names: dict[str, str] = {}  # node -> input name, for "to n0 x"
        for result in der["results"]:
            if result["node"] is not None:
                names[result["node"]] = result["input"]
        for k, step in enumerate(der["steps"]):
            node = step["node"]
            role = "the output" if k == 0 else step["op"]
            lines.append("")
            lines.append(f"{node} = {safe(step['formula'])}   [{safe(role) if k else role}"
                         f"{', ' + step['op'] if k == 0 else ''}]")
            upstream = f"{d}{of}/{d}{node} = "
            if "contributions" in step:
                upstream += f"{_from_text(step['contributions'])} = {safe(step['upstream'])}"
            else:
                upstream += safe(step["upstream"])
            lines.append(f"    upstream      {upstream}")
            for edge in step["edges"]:
                to = edge["to"]
                shown = names.get(to)
                target = f"{to} {safe(shown)}" if shown is not None else to
                wrt = safe(shown) if shown is not None else to
                lines.append(f"    to {target:<10} local {d}{node}/{d}{wrt} = {safe(edge['local'])}")
                lines.append(f"    {'':<13} contribution = {safe(_factor(step['upstream']))}{times}"
                             f"{safe(_factor(edge['local']))} = {safe(edge['contribution'])}")
        lines.append("")
        lines.append(sym("Each input's derivative: the contributions it receives, summed")
                     if limited_encoding() is None else
                     "Each input's derivative: the contributions it receives, summed")
        for result in der["results"]:
            name = safe(result["input"])
            got = result["contributions"]
            if len(got) > 1:
                text = f"{_from_text(got)} = {safe(result['derivative'])}"
            elif got:
                text = f"{safe(result['derivative'])} (from {got[0]['from']})"
            else:
                text = f"{safe(result['derivative'])} (the output does not depend on it)"
            lines.append(f"    {d}{of}/{d}{name} = {text}")
        lines.append("")
    lines.append(sym("Simplified, with the parts the derivatives share as statements:")
                 if limited_encoding() is None else
                 "Simplified, with the parts the derivatives share as statements:")
    return lines


def explain_text(doc: dict) -> None:
    sys.stdout.write("\n".join(explain_lines(doc)) + "\n")


def explain_plain(doc: dict) -> list[str]:
    """Tab-separated records of the derivation, for cut/awk: ``step`` (output, node, op,
    formula, upstream), ``sum`` (output, node, from, contribution) for a value used several
    times, ``edge`` (output, node, to, local, contribution), ``result`` (output, input,
    derivative)."""
    lines = []
    for der in doc["derivation"]:
        out = safe(der["output"] if len(doc["derivation"]) > 1 else "f")
        for step in der["steps"]:
            lines.append("\t".join(["step", out, step["node"], step["op"], safe(step["formula"]),
                                    safe(step["upstream"])]))
            for c in step.get("contributions", ()):
                lines.append("\t".join(["sum", out, step["node"], c["from"], safe(c["value"])]))
            for edge in step["edges"]:
                lines.append("\t".join(["edge", out, step["node"], edge["to"],
                                        safe(edge["local"]), safe(edge["contribution"])]))
        for result in der["results"]:
            lines.append("\t".join(["result", out, safe(result["input"]),
                                    safe(result["derivative"])]))
    return lines


# ---------------------------------------------------------------- LaTeX

def _latex_of(output: str | None, position: int) -> str:
    from autodiff_cli.render.code import latex_name

    if output is None:
        return "f"
    return latex_name(output) if _is_name(output) else f"f_{{{position + 1}}}"


def latex_partial(key: str, outputs: list[str] | None = None) -> str:
    r"""\frac{\partial f}{\partial x}, \frac{\partial^{2} f}{\partial x \partial y}, ..."""
    from autodiff_cli.render.code import latex_name

    output, variables = _split(key)
    position = outputs.index(output) if outputs and output in outputs else 0
    of = _latex_of(output, position)
    n = len(variables)
    top = r"\partial" + (f"^{{{n}}}" if n > 1 else "") + f" {of}"
    bottom = " ".join(r"\partial " + latex_name(v) + (f"^{{{k}}}" if k > 1 else "")
                      for v, k in _groups(variables))
    return rf"\frac{{{top}}}{{{bottom}}}"


def latex_lines(doc: dict, code) -> list[str]:
    """One equation per line: the shared statements, then each derivative."""
    from autodiff_cli.render.code import latex, latex_name

    if code.derivative is None:
        return []
    g = code.derivative
    shown: dict[int, str] = {}
    seen = {latex_name(v) for v in g.variables}
    lines = []

    def ref(j):
        if g.ops[j].name == "var":
            return latex_name(g.labels[j])
        return shown.get(j)

    for name, node in code.statements:
        text = latex(g, node, ref)
        mine = latex_name(name)
        if mine in seen:  # t_1 (a variable) and t1 (a statement) would print alike
            mine = r"\mathrm{" + name.replace("_", r"\_") + "}"
        seen.add(mine)
        shown[node] = mine
        lines.append(f"{mine} = {text}")
    outputs = doc.get("outputs")
    for key in code.keys:
        root = code.roots[key]
        text = ref(root) or latex(g, root, ref)
        lines.append(f"{latex_partial(key, outputs)} = {text}")
    return lines


def latex(doc: dict, code=None, **_options) -> None:
    """Each derivative as a LaTeX equation, one per line (for $...$ or an equation
    environment), shared statements first."""
    lines = latex_lines(doc, code)
    if lines:
        sys.stdout.write("\n".join(safe(line) for line in lines) + "\n")


# ---------------------------------------------------------------- Python and C

def _blocks(doc: dict, code, names, result_name):
    """The blocks of straight-line code: the value of each output, then each derivative,
    with their result identifiers given out by ``names``. The derivative graph holds the
    formula too (``code.value_roots``): one block then computes what they share once."""
    from autodiff_cli.render.code import Block

    several = "outputs" in doc
    values = []
    for k, (output, node) in enumerate(code.outputs):
        wanted = (output if several and _is_name(output) else
                  (f"value_{k + 1}" if several else "value"))
        ident = result_name("value", k, names.take(wanted))
        values.append((ident, node if code.value_roots is None else code.value_roots[k]))
    derivatives = []
    for k, key in enumerate(code.keys):
        derivatives.append((result_name("d", k, names.take(code.names[key])), code.roots[key]))
    if code.derivative is None:
        return [Block(code.graph, values, share=True)], values, derivatives
    if code.value_roots is None:
        return [Block(code.graph, values, share=True),
                Block(code.derivative, derivatives, code.statements)], values, derivatives
    return [Block(code.derivative, values + derivatives, code.statements, share=True)], \
        values, derivatives


def _comment_lines(doc: dict, code, values, derivatives, variables) -> list[str]:
    """What the function returns, in words: identifiers, ∂ labels and positions only (an
    output that is not a name is called by its position: code never holds formula text)."""
    lines = []
    several = "outputs" in doc
    shown = {}
    for k, (output, _) in enumerate(code.outputs):
        shown[output] = output if _is_name(output) else f"f{k + 1}"
    for k, ((ident, _), (output, _)) in enumerate(zip(values, code.outputs)):
        what = ("the value of the formula" if not several else
                f"the output {output}" if _is_name(output) else
                f"output {k + 1} of the program (f{k + 1})")
        lines.append(f"{ident} = {what}")
    for (ident, _), key in zip(derivatives, code.keys):
        output, variables_ = _split(key)
        label = key if output is None else f"{shown.get(output, output)}/{','.join(variables_)}"
        lines.append(f"{ident} = {partial(label)}")
    renamed = [(name, ident) for name, ident in variables.items() if name != ident]
    for name, ident in renamed:
        lines.append(f"{ident} is the input {name}")
    return lines


def python(doc: dict, code=None, **_options) -> None:
    """A Python module: ``f(inputs...)`` returns the value (one per output) and then each
    derivative, in the order of the keys; ``math`` only."""
    from autodiff_cli.render.code import Names, Python, python_identifier, straight_line

    target = Python()
    reserved = {"math", "abs", "max", "min", "f"} | {f"_adiff_{h}" for h in Python.helpers}
    names = Names(python_identifier, reserved)
    variables = {v: names.take(v) for v in code.inputs}
    blocks, values, derivatives = _blocks(doc, code, names, lambda kind, k, ident: ident)
    body = straight_line(blocks, target, names, variables)
    order = doc["order"]
    results = [ident for ident, _ in values] + [ident for ident, _ in derivatives]
    lines = [f"# Generated by adiff diff (order {order}): f({', '.join(variables.values())}) "
             f"returns ({', '.join(results)}{',' if len(results) == 1 else ''}), where"]
    lines += [f"#     {c}" for c in _comment_lines(doc, code, values, derivatives, variables)]
    lines += ["# Outside the formula's domain it raises ValueError, ZeroDivisionError or "
              "OverflowError,", "# where adiff reports an evaluation error.", "", "import math",
              ""]
    for source in target.helper_sources():
        lines += ["", source, ""]
    lines += ["", f"def f({', '.join(variables.values())}):"]
    for ident, expr, _ in body:
        lines.append(f"    {ident} = {expr}")
    lines.append(f"    return {', '.join(results)}{',' if len(results) == 1 else ''}")
    sys.stdout.write("\n".join(lines) + "\n")


def c(doc: dict, code=None, **_options) -> None:
    """A C function ``void f(double x, ..., double value[n], double d[m])``: it writes the
    value (one per output) to ``value`` and the derivatives, in the order of the keys, to
    ``d``; <math.h> only."""
    from autodiff_cli.render.code import C, Names, c_identifier, straight_line

    target = C()
    reserved = {"f", "value", "d"} | {f"adiff_{h}" for h in C.helpers}
    names = Names(c_identifier, reserved)
    variables = {v: names.take(v) for v in code.inputs}

    def slot(kind, k, ident):
        return f"{'value' if kind == 'value' else 'd'}[{k}]"

    blocks, values, derivatives = _blocks(doc, code, names, slot)
    body = straight_line(blocks, target, names, variables)
    n_values, n_d = len(values), len(derivatives)
    params = [f"double {v}" for v in variables.values()] + [f"double value[{n_values}]"]
    if n_d:
        params.append(f"double d[{n_d}]")
    signature = f"void f({', '.join(params)})"
    lines = [f"/* Generated by adiff diff (order {doc['order']}).",
             f" * {signature.replace('void ', '', 1)} sets"]
    lines += [f" *     {c}" for c in _comment_lines(doc, code, values, derivatives, variables)]
    lines += [" * Outside the formula's domain the results are NaN or infinite, as <math.h> "
              "gives them.", " */", "#include <math.h>"]
    for source in target.helper_sources():
        lines += ["", source]
    lines += ["", signature, "{"]
    for ident, expr, result in body:
        lines.append(f"    {ident} = {expr};" if result else f"    const double {ident} = {expr};")
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")


__all__ = ["c", "latex", "latex_lines", "latex_partial", "partial", "plain", "program_parts",
           "python", "text"]
