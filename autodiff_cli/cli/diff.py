"""adiff diff: the derivative itself, as a formula (and as LaTeX, Python or C).

The calculus is ``calculus.derive`` (reverse mode over the graph, each node's rule from
its row of the op table); this module reads the formula, asks for the derivatives,
evaluates them at --at when given, and hands one document (``documents.diff``) to one
renderer (``render.diff``).
"""

from __future__ import annotations

import click

from autodiff_cli.cli.messages import warn
from autodiff_cli.cli.options import (
    FormulaCommand,
    expand_option,
    formula_options,
    outputs_option,
    wrt_option,
)
from autodiff_cli.cli.problem import Problem
from autodiff_cli.errors import EvalError, InputError
from autodiff_cli.render import emit

FORMATS = ("text", "plain", "json", "latex", "python", "c")
#: --order N: each order differentiates the whole derivative graph again, which grows it by
#: a constant factor; past this the output is no longer something to read.
MAX_ORDER = 10
#: Derivatives one run may print (inputs^order grows fast): past this, --wrt picks fewer.
MAX_DERIVATIVES = 10_000
#: --explain writes formulas out in full: formulas (and written-out nodes) up to this size.
EXPLAIN_NODES = 120
#: Formats that --explain narrates in (the code formats are for programs, not students).
EXPLAINED = ("text", "plain", "json")


@click.command(cls=FormulaCommand)
@formula_options(formats=FORMATS, default="text")
@wrt_option("Differentiate with respect to these inputs only (default: every input, in the "
            "order of first use).")
@click.option("--order", "order", type=int, default=1, show_default=True, metavar="N",
              help=f"The order of the derivatives: 2 gives every second derivative "
                   f"(∂²f/∂x∂y), up to {MAX_ORDER}.")
@click.option("--explain", is_flag=True,
              help="Narrate the derivation: the backward pass node by node, upstream × local "
                   "= contribution, with formulas in place of numbers.")
@outputs_option("Differentiate these names the program assigns (its outputs, in this order) "
                "instead of its last statement.")
@expand_option("Rewrite fused ops (sigmoid, tanh, ...) into primitive ops first, and "
               "differentiate that.")
def diff(expr, file, at, fmt, max_size, wrt, order, explain, outputs, expand):
    """The derivatives of EXPR as formulas, simplified, with shared subexpressions.

    Each derivative is a formula in adiff's own language that `adiff grad`
    accepts; the program form shares what the derivatives have in common as
    statements. With --at, each derivative's value there is shown beside
    reverse mode's. --format latex, python or c writes the same derivatives
    as LaTeX, as a Python module or as a C function.

    \b
      adiff diff "x^2*sin(x)"
      adiff diff "x*y + sin(x)" --at x=1,y=2
      adiff diff "-log(sigmoid(t0 + t1*x1 + t2*x2))" --wrt t0 --explain
      adiff diff "x^3*y" --order 2 --format json
      adiff diff "x^2*sin(x)" --format latex
      adiff diff -f samples/diff_logistic.adiff --format python
    """
    if not 1 <= order <= MAX_ORDER:
        raise InputError(f"--order {order}: the order of a derivative is a whole number from 1 "
                         f"to {MAX_ORDER}", hint="e.g. --order 2 for second derivatives")
    if explain and order > 1:
        raise InputError(f"--explain narrates the backward pass of first derivatives, not of "
                         f"--order {order}",
                         hint="drop --order to see how the first derivatives arise")
    if explain and fmt not in EXPLAINED:
        raise InputError(f"--explain narrates in --format text, plain or json, not {fmt}",
                         hint="drop --explain, or use --format text")
    from autodiff_cli.documents.diff import Code, diff_document

    problem = Problem(expr, file, at, max_size, expand=expand, outputs="several", select=outputs)
    graph = problem.graph
    names = problem.wrt(wrt)
    outputs = _outputs(graph)
    _check_count(len(names), order, len(outputs))
    if explain:
        _explainable(graph)  # before the work: a refusal is cheap
    d = None
    if names:
        from autodiff_cli.calculus.derive import differentiate

        d = differentiate(graph, wrt=names, order=order)
    keys = list(d.keys) if d is not None else []
    # Each format prints what it needs (writing a big derivative out costs as much as
    # finding it): plain the standalone formulas, text the program, JSON both.
    standalone = d is not None and fmt in ("json", "plain")
    derivatives = {key: d.standalone(key) if standalone else None for key in keys}
    program = d.program() if d is not None and fmt in ("json", "text") else ""
    derivation = None
    if explain:
        from autodiff_cli.documents.diff import derivation_entries

        derivation = derivation_entries(d.derivation, graph) if d is not None else []
    point = _point(problem, d, names, order, outputs) if problem.at else None
    doc = diff_document(graph, names, order, keys, derivatives, program,
                        outputs=[name for name, _ in outputs] if graph.several else None,
                        derivation=derivation, point=point)
    if point is not None and not doc["check"]["ok"]:
        bad = [_label(key) for key, ok in _agreement(point).items() if not ok]
        warn(f"the printed derivatives disagree with reverse mode at this point for "
             f"{', '.join(bad[:5])}{' and more' if len(bad) > 5 else ''}: this is a bug in "
             "adiff; please report it with the command that caused it")
    emit("diff", doc, fmt, code=Code(graph, outputs, d, keys))
    return 0


def _outputs(graph) -> list[tuple[str, int]]:
    """(name, node id) of each output; a single output is "f"."""
    if not graph.several:
        return [("f", graph.output)]
    return list(zip(graph.output_names, graph.outputs))


def _explainable(graph) -> None:
    """Refuse --explain where the narration could not be read: it writes every node's formula
    out in full, which for a formula that reuses values grows with each reuse (the chain
    f = sin(f)*f + y doubles at every step)."""
    ops, inputs, labels = graph.ops, graph.inputs, graph.labels
    if len(ops) > EXPLAIN_NODES:
        raise InputError(f"--explain narrates formulas of up to {EXPLAIN_NODES:,} nodes; this one "
                         f"has {len(ops):,}",
                         hint="adiff trace shows the same backward pass with numbers, for "
                              "formulas of any size")
    assigned: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label and ops[i].name not in ("var", "const"):
            assigned[label] = assigned.get(label, 0) + 1
    size = [0] * len(ops)
    for i, ins in enumerate(inputs):
        if not ins:
            size[i] = 1
            continue
        size[i] = 1 + sum(1 if assigned.get(labels[j]) == 1 else size[j] for j in ins)
        if size[i] > EXPLAIN_NODES:
            raise InputError(
                f"--explain writes each node's formula out in full, and node n{i} of this "
                f"formula written out takes more than {EXPLAIN_NODES:,} operations",
                hint="name the values used more than once in a program (z = ...; ...), or use "
                     "adiff trace for the same backward pass with numbers")


def _check_count(inputs: int, order: int, outputs: int) -> None:
    """Refuse --order/--wrt combinations that would print more than MAX_DERIVATIVES."""
    from math import comb

    count = comb(inputs + order - 1, order) * outputs if inputs else 0
    if count > MAX_DERIVATIVES:
        raise InputError(
            f"--order {order} over {inputs:,} inputs{f' and {outputs:,} outputs' if outputs > 1 else ''} "
            f"gives {count:,} derivatives, more than {MAX_DERIVATIVES:,}",
            hint="pick the inputs that matter with --wrt, e.g. --wrt x,y")


def _agreement(point) -> dict:
    from autodiff_cli.documents.diff import agree

    return {key: agree(point.values[key], point.reference[key]) for key in point.values}


# ---------------------------------------------------------------- --at

def _point(problem: Problem, d, names: list[str], order: int, outputs):
    """The numbers of --at: the formula's value and gradient (Jacobian) by reverse mode,
    each derivative's formula evaluated there, and what reverse mode gives for it."""
    from autodiff_cli.calculus import engine
    from autodiff_cli.cli.problem import warn_kinks
    from autodiff_cli.documents.diff import Point

    graph, at = problem.graph, problem.at
    values = engine.bind(graph, at)
    with engine.no_gc():
        locals_, kinks = engine.forward(graph, values)
        rows = {}
        for name, k in outputs:
            view = graph.with_output(k) if graph.several else graph
            grads = engine.backward(view, values, locals_, names)
            rows[name] = {n: grads[graph.variables[n]] for n in names}
    warn_kinks(graph, engine.Evaluation(graph, at, values, locals_, [], kinks))
    if graph.several:
        value = {name: values[k] for name, k in outputs}
        gradient = rows
    else:
        value, gradient = values[graph.output], rows["f"]
    keys = list(d.keys) if d is not None else []
    formula_values = _derivative_values(d, at, keys)
    if order == 1:
        from autodiff_cli.documents.diff import split_key

        reference = {}
        for key in keys:
            out, variables = split_key(key)
            reference[key] = rows[out if out is not None else "f"][variables[0]]
        method = "reverse mode (the gradient adiff grad gives)"
    else:
        reference = _reverse_of_lower_order(problem.graph, names, order, at, keys)
        method = (f"reverse mode over the printed order-{order - 1} derivatives (the gradient "
                  f"adiff grad gives for each)")
    return Point(at, value, gradient, formula_values, reference, method)


def _derivative_values(d, at: dict, keys: list[str]) -> dict:
    """Each derivative's value at ``at``, from the derivative graph (only the nodes the roots
    need are evaluated); an op outside its domain is an evaluation error naming the
    derivative."""
    if not keys:
        return {}
    from autodiff_cli.calculus import engine
    from autodiff_cli.core.graph import ancestors

    g = d.graph
    roots = [d.roots[key] for key in keys]
    keep = ancestors(g.inputs, roots)
    new_id, count = [0] * len(keep), 0
    for i, k in enumerate(keep):
        new_id[i] = count
        count += k
    top = max(roots)
    pruned = g.pruned(output=top, keep=keep)
    values = engine.bind(pruned, at)
    try:
        with engine.no_gc():
            engine.forward(pruned, values, local=False)
    except EvalError as exc:
        raise _derivative_error(d, pruned, keys, roots, new_id, exc) from None
    return {key: values[new_id[root]] for key, root in zip(keys, roots)}


def _label(key: str) -> str:
    """∂f/∂x, ∂²f/∂x∂y, ∂r/∂x: a key as messages name it."""
    from autodiff_cli.documents.diff import split_key

    output, variables = split_key(key)
    n = len(variables)
    top = "∂" + (str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) if n > 1 else "")
    return f"{top}{output or 'f'}/" + "".join(f"∂{v}" for v in variables)


def _derivative_error(d, pruned, keys, roots, new_id, exc: EvalError) -> EvalError:
    """A derivative's formula is undefined at the point where reverse mode is not."""
    from autodiff_cli.core.graph import ancestors
    from autodiff_cli.errors import clip
    from autodiff_cli.language.printer import emit as formula

    node = getattr(exc, "node", None)
    key = keys[0]
    if node is not None:
        for k, root in zip(keys, roots):
            if ancestors(pruned.inputs, [new_id[root]])[node]:
                key = k
                break
    budget = [60]

    def ref(j):  # inline up to a budget, then "…" (a DAG printed inline can be huge)
        if pruned.ops[j].name == "var":
            return pruned.labels[j]
        budget[0] -= 1
        return None if budget[0] > 0 else "…"

    where = formula(pruned, node, ref) if node is not None else ""
    op = pruned.ops[node].name if node is not None else ""
    needs = f" ({op} needs {pruned.ops[node].domain})" if node is not None and \
        pruned.ops[node].domain else ""
    return EvalError(f"the printed derivative {_label(key)} cannot be evaluated at this point: "
                     f"{clip(where, 120)} is undefined there{needs}",
                     hint="reverse mode (adiff grad) has a value there: the formula agrees "
                          "with it wherever each of its parts is defined")


def _reverse_of_lower_order(graph, names, order, at, keys) -> dict:
    """For each order-N key: reverse mode over the printed order N-1 derivative it extends
    (the key without its last variable), with respect to that last variable."""
    from autodiff_cli.calculus import engine
    from autodiff_cli.calculus.derive import differentiate
    from autodiff_cli.documents.diff import split_key

    lower = differentiate(graph, wrt=names, order=order - 1)
    cache: dict[str, dict] = {}
    reference = {}
    for key in keys:
        out, variables = split_key(key)
        prefix = ",".join(variables[:-1])
        if out is not None:
            prefix = f"{out}/{prefix}"
        grads = cache.get(prefix)
        if grads is None:
            sub = lower.graph.pruned(output=lower.roots[prefix])
            wrt = [n for n in names if n in sub.variables]
            try:
                ev = engine.evaluate(sub, at, wrt)
            except EvalError as exc:
                raise EvalError(f"reverse mode over the order-{order - 1} derivative for "
                                f"{prefix} fails at this point: {exc.message}") from None
            grads = cache[prefix] = {n: ev.gradient.get(n, 0.0) for n in names}
        reference[key] = grads[variables[-1]]
    return reference


__all__ = ["FORMATS", "MAX_DERIVATIVES", "MAX_ORDER", "diff"]
