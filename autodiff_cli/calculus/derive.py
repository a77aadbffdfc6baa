"""Symbolic derivatives: reverse mode over the formula graph, with nodes for numbers.

``differentiate(graph, wrt, order)`` runs the backward pass of ``engine.backward`` once per
output, but the "numbers" it multiplies and sums are nodes of a new graph (a
``simplify.Store``): the gradient of the output at each node, ``upstream``, times each
local derivative, ``local``, is that node input's ``contribution``, and the contributions a
value receives from its several uses are summed. The local derivatives are the op table's
own rules (``rules.symbolic(op, n)``: each row's formulas over its inputs and ``out``),
instantiated on the node's inputs by the store's smart constructors, which simplify as they
build. No derivative is written here: a new row of the table is differentiated by itself.

Because the pass runs over the *graph* (a value used twice is one node) and every node it
builds is hash-consed, the derivative graph of all the inputs is a small constant times the
formula's size (the cheap-gradient principle), where differentiating the expression *tree*
(what SymPy, Maxima and qalc do) grows without bound on formulas that reuse values.
``--order N`` differentiates the derivative graph again, with the same pass.

Three things of the op table have no user-language form, and are written here, once, as
formulas of the language that give exactly the same values (``TRANSLATE``, ``SHARES``):

* ``div_prod(n, x, y)`` (n/(x·y) rounded once) is ``n/(x*y)``;
* ``exp_neg_square(a)`` (exp(-a²) with the rounding of a² put back) is ``exp(-a^2)``;
* the tie shares of ``max`` and ``min`` (the gradient split evenly among tied arguments)
  are, for two arguments, ``(1 + sign(a - b))/2`` (1, 0, or 1/2 at a tie: exactly the
  engine's convention), and for n, ``i_k/(i_1 + ... + i_n)`` with the indicator of a tie with
  the result ``i_k = 1 - sign(out - x_k)`` (max; ``1 - sign(x_k - out)`` for min).

Constants the rule compiler folded from formulas such as ``log(2)`` or ``2/sqrt(pi)`` are
written as those formulas again (``RULE_CONSTANTS``), when the value matches exactly.

The formula is copied into the store with only the rewrites that keep every value the
same float (``Store.exact``: ``1 + 0.5^2`` is 1.25, ``x*1`` is ``x``), so the derivatives use
the very values the engine computes; ``--explain`` narrates a copy as written. The
contributions to a value used several times are summed in the order the uses are written.

Nothing recurses over the formula: the pass is one loop from the output down, and the
store's constructors do bounded work per node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations_with_replacement

from autodiff_cli.calculus import rules
from autodiff_cli.calculus.engine import no_gc
from autodiff_cli.calculus.simplify import Store
from autodiff_cli.core.graph import Graph, ancestors, pruned
from autodiff_cli.core.ops import OPS, PRIMITIVES
from autodiff_cli.errors import InputError

#: The internal primitives of the op table as formulas of the language (inputs a, b, c).
TRANSLATE = {
    "div_prod": "a/(b*c)",
    "exp_neg_square": "exp(-a^2)",
}
#: Tie shares of max and min of two arguments: d out / d a, d out / d b.
SHARES = {
    "max": ("(1 + sign(a - b))/2", "(1 + sign(b - a))/2"),
    "min": ("(1 + sign(b - a))/2", "(1 + sign(a - b))/2"),
}
#: For n > 2 arguments: the indicator that input ``a`` ties with the result ``out``.
TIE = {"max": "1 - sign(out - a)", "min": "1 - sign(a - out)"}
#: Formulas for constants the rule compiler folded, written back when the value is exact.
RULE_CONSTANTS = ("log(2)", "log(10)", "2/sqrt(pi)", "sqrt(pi)", "sqrt(2)", "pi/2")

_PARAMS = {"a": 0, "b": 1, "c": 2, "d": 3}


# ---------------------------------------------------------------- formulas of the language

_FORMULAS: dict[str, Graph] = {}


def _formula(text: str) -> Graph:
    graph = _FORMULAS.get(text)
    if graph is None:
        from autodiff_cli.language.parser import parse

        graph = _FORMULAS[text] = parse(text)
    return graph


def instantiate(store: Store, text: str, env: dict[str, int]) -> int:
    """Formula ``text`` built in ``store`` by its smart constructors, its variables bound to
    the nodes of ``env``."""
    g = _formula(text)
    ids = []
    for i, op in enumerate(g.ops):
        name = op.name
        if name == "var":
            ids.append(env[g.labels[i]])
        elif name == "const":
            ids.append(store.const(g.consts[i]))
        else:
            ids.append(store.apply(op, tuple(ids[j] for j in g.inputs[i])))
    return ids[g.output]


_CONSTANT_TEXT: dict[float, str] = {}


def rule_constant(store: Store, v: float) -> int:
    """A constant of a rule: ``log(2)`` when it is log(2) exactly, else the number."""
    if v == 1.0:
        return store.ONE
    if not _CONSTANT_TEXT:
        from autodiff_cli.calculus.engine import value_at

        for text in RULE_CONSTANTS:
            _CONSTANT_TEXT[value_at(_formula(text), {})] = text
    text = _CONSTANT_TEXT.get(v)
    if text is not None:
        return instantiate(store, text, {})
    text = _CONSTANT_TEXT.get(-v)
    if text is not None:
        return store.neg(instantiate(store, text, {}))
    return store.const(v)


# ---------------------------------------------------------------- the op table's rules

_TEMPLATES: dict = {}


def _compile(expr) -> list[tuple]:
    """An expression of ``rules.symbolic`` as straight-line instructions (postorder; shared
    subexpressions once): ``("arg", k)``, ``("out",)``, ``("num", v)``,
    ``("share", "max", k, slots)``, ``(op name, slots)``. The last one is the value."""
    instrs: list[tuple] = []
    slot: dict[int, int] = {}
    keep = []  # the expressions, alive while their ids are keys
    stack = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if id(e) in slot:
            continue
        op = e.op
        share = op in ("max_share", "min_share")
        kids = e.args[1:] if share else e.args
        if op == "var":
            name = e.args[0]
            instr = ("out",) if name == "out" else (
                ("arg", _PARAMS[name]) if name in _PARAMS else ("arg", int(name[1:]) - 1))
        elif op == "const":
            instr = ("num", float(e.args[0]))
        else:
            if not done:
                stack.append((e, True))
                stack.extend((c, False) for c in reversed(kids) if id(c) not in slot)
                continue
            slots = tuple(slot[id(c)] for c in kids)
            instr = ("share", op[:3], int(e.args[0].args[0]), slots) if share else (op, slots)
        keep.append(e)
        slot[id(e)] = len(instrs)
        instrs.append(instr)
    return instrs


def template(op, n: int) -> tuple[list[tuple], ...]:
    """The local derivatives of ``op`` with ``n`` inputs, one instruction list per input."""
    key = (op, n)  # (the op itself: a planted row of a test is another op)
    t = _TEMPLATES.get(key)
    if t is None:
        t = _TEMPLATES[key] = tuple(_compile(e) for e in rules.symbolic(op, n))
    return t


def _share(store: Store, which: str, k: int, xs: list[int], out: int) -> int:
    n = len(xs)
    if n == 1:
        return store.ONE
    if n == 2:
        return instantiate(store, SHARES[which][k], {"a": xs[0], "b": xs[1]})
    ties = [instantiate(store, TIE[which], {"a": x, "out": out}) for x in xs]
    return store.div(ties[k], store.total(ties))


def local(store: Store, op, args: tuple[int, ...], out: int, position: int) -> int:
    """d out / d input ``position`` of node ``out`` = ``op(args)``: the row's rule, built."""
    program = template(op, len(args))[position]
    if len(program) == 1:  # "1", "b", "out": most rules of arithmetic
        ins = program[0]
        kind = ins[0]
        if kind == "arg":
            return args[ins[1]]
        if kind == "num":
            return rule_constant(store, ins[1])
        if kind == "out":
            return out
    vals: list[int] = []
    push = vals.append
    for ins in program:
        kind = ins[0]
        if kind == "arg":
            push(args[ins[1]])
        elif kind == "out":
            push(out)
        elif kind == "num":
            push(rule_constant(store, ins[1]))
        elif kind == "share":
            slots = ins[3]  # the inputs, then out
            push(_share(store, ins[1], ins[2], [vals[s] for s in slots[:-1]], vals[slots[-1]]))
        else:
            xs = tuple(vals[s] for s in ins[1])
            o = OPS.get(kind)
            if o is not None:
                push(store.apply(o, xs))
            elif kind in TRANSLATE:
                push(instantiate(store, TRANSLATE[kind], dict(zip("abc", xs))))
            else:  # pragma: no cover - a new internal primitive needs a TRANSLATE entry
                raise RuntimeError(f"adiff diff cannot write the internal primitive {kind!r} "
                                   f"of {op.name}'s rule (PRIMITIVES: {sorted(PRIMITIVES)})")
    return vals[-1]


# ---------------------------------------------------------------- the backward pass

class _Record:
    """What one backward pass did, for ``--explain``: per node visited, its upstream, the
    contributions summed into it, and per input edge (position, input, local, contribution)."""

    __slots__ = ("root", "visits", "results")

    def __init__(self, root: int):
        self.root = root
        self.visits: list[tuple] = []  # (node, upstream, summed, edges)
        self.results: dict[int, tuple] = {}  # variable node -> (upstream, summed)


def backward(store: Store, root: int, targets: Sequence[int], record: _Record | None = None,
             where: dict[int, int] | None = None) -> dict[int, int]:
    """The derivative of node ``root`` with respect to each variable node in ``targets``:
    variable node -> node of the derivative (absent: 0). One loop from ``root`` down; the
    contributions to a node are summed, in the order of its uses (by ``where``: node -> where
    it is written in the source, when given; else in creation order), when the loop reaches it.
    The numbers of the pass are the store's product views (``Store.vmul``, ``vtotal``): only
    what the derivatives keep is built."""
    inputs, ops, pv = store.inputs, store.ops, store.pv
    targets = [t for t in targets if t <= root]
    if not targets:
        return {}
    low = min(targets)
    need = bytearray(root + 1)
    for t in targets:
        need[t] = 1
    for i in range(low + 1, root + 1):
        for j in inputs[i]:
            if need[j]:
                need[i] = 1
                break
    target_set = set(targets)
    got: dict[int, list] = {root: [(root + 1, 0, store.ONE_VIEW)]}
    result: dict[int, int] = {}
    vmul, vtotal = store.vmul, store.vtotal
    for i in range(root, low - 1, -1):
        parts = got.pop(i, None)
        if parts is None:
            continue
        if len(parts) == 1:
            upstream = parts[0][2]
        else:
            if where is None:
                parts.sort(key=_use_order)
            else:
                parts.sort(key=lambda p: (_used_at(where, p), p[0], p[1]))
            upstream = vtotal([p[2] for p in parts])
        if i in target_set:
            if upstream[0] != 0.0:
                result[i] = store.vnode(upstream)
            if record is not None:
                record.results[i] = (upstream, [p[2] for p in parts] if len(parts) > 1 else [])
            continue
        if upstream[0] == 0.0:
            continue
        ins = inputs[i]
        edges = [] if record is not None else None
        for pos, j in enumerate(ins):
            if not need[j]:
                continue
            loc = local(store, ops[i], ins, i, pos)
            c = vmul(upstream, pv[loc])
            if edges is not None:
                edges.append((pos, j, loc, c))
            if c[0] != 0.0:
                got.setdefault(j, []).append((i, pos, c))
        if record is not None:
            record.visits.append((i, upstream, [p[2] for p in parts] if len(parts) > 1 else [],
                                  edges))
    return result


def _use_order(part):
    return part[0], part[1]


def _used_at(where, part) -> float:
    w = where.get(part[0])
    return w[part[1]] if w is not None else math.inf


# ---------------------------------------------------------------- the API

class Derivatives:
    """The derivatives of a formula, as one graph (see ``differentiate``).

    ``keys``: ``"x"``, ``"y"``; order N: ``"x,x"``, ``"x,y"``, ...; several outputs:
    ``"r/x"``, ``"theta/x"``. ``graph``: a ``core.graph.Graph`` holding every derivative
    (and the formula's outputs, ``value_roots``), hash-consed and simplified; its outputs are
    the derivatives in key order (the values', when there is none). ``roots``: key -> node;
    ``names``: key -> the identifier of the derivative in the program form (``d_x``,
    ``d_x_y``, ``d_r_x``).
    """

    def __init__(self, source: Graph, wrt: list[str], order: int, keys: list[str],
                 graph: Graph, roots: dict[str, int], names: dict[str, str],
                 value_roots: dict[str, int], store: Store, store_roots: dict[str, int],
                 output_names: list[str]):
        self.source = source
        self.wrt = wrt
        self.order = order
        self.keys = keys
        self.graph = graph
        self.roots = roots
        self.names = names
        self.value_roots = value_roots
        self._store = store
        self._store_roots = store_roots
        self._output_names = output_names
        self._layout = None
        self._derivation = None
        self._label_set = None
        self.outputs = list(value_roots)

    def __repr__(self) -> str:
        return f"Derivatives(keys={self.keys!r}, {len(self.graph):,} nodes)"

    @property
    def taken(self) -> set[str]:
        """Names the program form does not assign to shared values: the formula's
        variables and assigned names, the functions and constants, the derivatives' names."""
        from autodiff_cli.language.program import reserved

        return (reserved(self.source) | set(self.names.values())
                | {label for label in self.source.labels if label})

    def _labels(self) -> set[str]:
        """Assigned names of the formula a shared value may keep (``z``): those assigned once."""
        if self._label_set is None:
            self._label_set = self._kept_labels()
        return self._label_set

    def _kept_labels(self) -> set[str]:
        seen: dict[str, int] = {}
        src = self.source
        for i, label in enumerate(src.labels):
            if label and src.ops[i].name not in ("var", "const"):
                seen[label] = seen.get(label, 0) + 1
        from autodiff_cli.language.program import reserved

        bad = reserved(src) | set(self.names.values())
        return {label for label, n in seen.items() if n == 1 and label not in bad}

    def layout(self):
        """The program form's statements and roots (``language.program.Layout``)."""
        if self._layout is None:
            from autodiff_cli.language.program import layout

            taken = self.taken - self._labels()
            self._layout = layout(self.graph, [(self.names[k], self.roots[k]) for k in self.keys],
                                  taken, self._labels())
        return self._layout

    @property
    def statements(self) -> list[tuple[str, int]]:
        """The shared subexpressions of the program form, ``(name, node)`` in dependency order."""
        return self.layout().statements

    def program(self, sep: str = "\n") -> str:
        """Every derivative: the shared statements, ``d_x = ...`` for each key, and last the
        several-outputs statement ``d_x, d_y`` (key order)."""
        from autodiff_cli.language.program import program

        with no_gc():  # (printing makes no cycles; a collection would walk the whole store)
            return program(self.graph, self.layout(), sep)

    def standalone(self, key: str, sep: str = "; ") -> str:
        """One derivative in adiff syntax: a plain formula, or the statements it needs
        (``t1 = ...; ...``) then the formula."""
        from autodiff_cli.language.program import formula

        labels = self._labels()
        with no_gc():
            return formula(self.graph, self.roots[key], self.taken - labels, labels, sep)

    @property
    def derivation(self) -> list:
        """The first-order backward pass as the lecture narrates it, one ``Derivation`` per
        output (see ``Derivation``); texts are formulas, written when read."""
        if self._derivation is None:
            self._derivation = _derivation(self)
        return self._derivation


def _key_names(outputs: list[str], wrt: list[str], combos: list[tuple[int, ...]],
               taken: set[str]) -> tuple[list[str], dict[str, str]]:
    """Keys (``x``, ``x,y``, ``r/x``) and their identifiers (``d_x``, ``d_x_y``, ``d_r_x``)."""
    from autodiff_cli.language.program import is_name

    several = len(outputs) > 1
    named = all(is_name(o) for o in outputs)
    keys, names = [], {}
    used = set(taken)
    for k, out in enumerate(outputs):
        for combo in combos:
            variables = [wrt[i] for i in combo]
            key = ",".join(variables)
            stem = "_".join(variables)
            if several:
                key = f"{out}/{key}"
                stem = f"{out}_{stem}" if named else f"{k + 1}_{stem}"
            name = f"d_{stem}"
            if not is_name(name) or name in used:
                base = name if is_name(name) else f"d{len(keys) + 1}"
                n = 2
                name = f"{base}_{n}"
                while name in used or not is_name(name):
                    n += 1
                    name = f"{base}_{n}"
            used.add(name)
            keys.append(key)
            names[key] = name
    return keys, names


def copy_graph(store: Store, graph: Graph, exact: bool = True) -> list[int]:
    """``graph``'s nodes into ``store`` (hash-consed): old id -> new id. ``exact``: with the
    rewrites that give the very same floating-point value (``Store.exact``: ``1 + 0.5^2`` is
    ``1.25``, ``x*1`` is ``x``, ``sin(z - z)`` is ``0``), so the formula's values the
    derivatives use are the engine's, bit for bit; else as they are (``--explain`` narrates
    the formula as written)."""
    new = [0] * len(graph)
    ops, inputs, labels, consts = graph.ops, graph.inputs, graph.labels, graph.consts
    rewrite = store.exact if exact else None
    for i, op in enumerate(ops):
        name = op.name
        if name == "var":
            new[i] = store.var(labels[i])
        elif name == "const":
            new[i] = store.const(consts[i])
        else:
            ins = tuple(new[j] for j in inputs[i])
            k = rewrite(op, ins) if rewrite is not None else None
            new[i] = store.node(op, ins, labels[i]) if k is None else k
    return new


def positions(store: Store, graph: Graph, copied: list[int]) -> dict[int, tuple[int, ...]]:
    """Store node -> where each of its inputs is used in the source (the first operand where
    the node starts, a later one after the operand before it ends; the first formula node,
    for a node the formula has twice): the order of a value's uses as the formula is read,
    so that the terms of ``x + x^2 + x^3``'s derivative come as written, ``1 + 2*x + 3*x^2``."""
    starts, ends, inputs = graph.starts, graph.ends, graph.inputs
    where: dict[int, tuple[int, ...]] = {}
    for i, k in enumerate(copied):
        ins = inputs[i]
        if ins and k not in where and len(ins) == len(store.inputs[k]):
            where[k] = (starts[i], *[ends[j] + 1 for j in ins[:-1]])
    return where


def differentiate(graph: Graph, wrt: Sequence[str] | None = None, order: int = 1) -> Derivatives:
    """Every partial derivative of ``graph``'s outputs of order ``order`` with respect to the
    variables ``wrt`` (default: every input, in order of first use), as formulas.

    A name in ``wrt`` the formula does not use has derivative 0. With ``order`` N the keys
    are the combinations with repetition of ``wrt`` (in ``wrt`` order): for ``x, y`` and 2,
    ``x,x``, ``x,y``, ``y,y``; ``x,y`` is d/dy of d/dx. A graph with several outputs gives
    ``output/variables`` keys, output by output.
    """
    if not isinstance(order, int) or order < 1:
        raise InputError(f"the order of the derivatives must be a whole number >= 1, not {order!r}")
    with no_gc():  # (many small tuples, no cycles: the collector would only walk them)
        return _differentiate(graph, wrt, order)


def _differentiate(graph: Graph, wrt: Sequence[str] | None, order: int) -> Derivatives:
    wrt = list(dict.fromkeys(graph.variables if wrt is None else wrt))
    store = Store()
    for name in graph.variables:  # variables ranked in order of first use
        store.var(name)
    copied = copy_graph(store, graph)
    outputs = list(graph.output_names)
    if len(set(outputs)) != len(outputs):  # pragma: no cover - the parser refuses duplicates
        outputs = [f"{name}#{k + 1}" for k, name in enumerate(outputs)]
    targets = [store.var(name) for name in wrt]
    combos = list(combinations_with_replacement(range(len(wrt)), order))
    store_roots: dict[str, int] = {}
    from autodiff_cli.language.program import reserved

    taken = reserved(graph) | {label for label in graph.labels if label}
    keys, names = _key_names(outputs, wrt, combos, taken)
    zero = store.ZERO
    per_output = len(combos)
    where = positions(store, graph, copied)
    for k in range(len(outputs)):
        current = {(): copied[graph.outputs[k]]}
        for level in range(order):
            nxt = {}
            for combo, node in current.items():
                start = combo[-1] if combo else 0
                if node == zero:
                    grads = {}
                else:  # (the uses of a formula's value as written; a derivative's, as built)
                    grads = backward(store, node, targets[start:], None,
                                     where if level == 0 else None)
                for m in range(start, len(wrt)):
                    nxt[(*combo, m)] = grads.get(targets[m], zero)
            current = nxt
        for c, combo in enumerate(combos):
            store_roots[keys[k * per_output + c]] = current[combo]
    value_store = {out: copied[graph.outputs[k]] for k, out in enumerate(outputs)}
    d_graph, mapping = _graph(store, [store_roots[key] for key in keys],
                              list(value_store.values()), [names[key] for key in keys])
    roots = {key: mapping[store_roots[key]] for key in keys}
    value_roots = {out: mapping[n] for out, n in value_store.items()}
    return Derivatives(graph, wrt, order, keys, d_graph, roots, names, value_roots, store,
                       store_roots, outputs)


def _graph(store: Store, roots: list[int], extra: list[int], names: list[str]):
    """The store's nodes that ``roots`` and ``extra`` depend on as a ``Graph`` whose outputs
    are ``roots``; and store id -> graph id for the nodes kept."""
    n = len(store)
    keep = ancestors(store.inputs, [*roots, *extra])
    new_id = {}
    k = 0
    for i in range(n):
        if keep[i]:
            new_id[i] = k
            k += 1
    zeros = [0] * n
    if not roots:  # nothing to differentiate: the graph of the values alone
        roots, names = extra, [f"value{k + 1}" for k in range(len(extra))]
    g = pruned("", store.ops, store.inputs, store.labels, zeros, zeros, store.consts, roots[0],
               keep, outputs=roots, output_names=names)
    return g, new_id


def store_graph(store: Store) -> Graph:
    """Every node of ``store`` as a ``Graph`` (output: its last node), for printing."""
    n = len(store)
    zeros = [0] * n
    return Graph("", store.ops, store.inputs, store.labels, zeros, zeros, store.consts, n - 1)


# ---------------------------------------------------------------- --explain

class Edge:
    """One input edge of a step: the input, the local derivative d node / d input (the op's
    rule, instantiated), and the contribution upstream × local (simplified)."""

    __slots__ = ("input", "position", "input_text", "local", "contribution")

    def __init__(self, input, position, input_text, local, contribution):
        self.input, self.position, self.input_text = input, position, input_text
        self.local, self.contribution = local, contribution

    def __repr__(self) -> str:
        return (f"Edge(n{self.input} {self.input_text!r}: local {self.local!r}, "
                f"contribution {self.contribution!r})")


class Step:
    """One node of the backward pass, from the output down: ``node`` (its id in the
    formula's graph), ``op``, ``text`` (the node's formula, assigned names as names),
    ``upstream`` (d output / d node, a formula), ``summed`` (the contributions of a value used
    several times, summed into ``upstream``; empty for one use), ``edges``."""

    __slots__ = ("node", "op", "text", "upstream", "summed", "edges")

    def __init__(self, node, op, text, upstream, summed, edges):
        self.node, self.op, self.text = node, op, text
        self.upstream, self.summed, self.edges = upstream, summed, edges

    def __repr__(self) -> str:
        return f"Step(n{self.node} {self.text!r}: upstream {self.upstream!r}, {self.edges!r})"


class Result:
    """One input's derivative: the contributions summed (empty for one) and the result."""

    __slots__ = ("variable", "summed", "formula")

    def __init__(self, variable, summed, formula):
        self.variable, self.summed, self.formula = variable, summed, formula

    def __repr__(self) -> str:
        return f"Result({self.variable!r}: {self.formula!r}, summed {self.summed!r})"


class Derivation:
    """The backward pass of one output: ``steps`` from the output down, then ``results``
    (one per ``--wrt`` variable, in order)."""

    __slots__ = ("output", "steps", "results")

    def __init__(self, output, steps, results):
        self.output, self.steps, self.results = output, steps, results

    def __repr__(self) -> str:
        return f"Derivation({self.output!r}, {len(self.steps)} steps, {self.results!r})"


def _derivation(d: Derivatives) -> list[Derivation]:
    store = d._store
    from autodiff_cli.language.printer import emit

    # the formula as written (no rewrite: the narration follows its nodes, as trace does)
    copied = copy_graph(store, d.source, exact=False)
    targets = [store.var(name) for name in d.wrt]
    records = []
    with no_gc():
        where = positions(store, d.source, copied)
        for k, out in enumerate(d._output_names):
            rec = _Record(copied[d.source.outputs[k]])
            backward(store, rec.root, targets, rec, where)
            records.append((out, rec))
    node = store.vnode
    built = []  # the pass's numbers (product views) as nodes, before the graph is taken
    for _, rec in records:
        visits = [(i, node(up), [node(s) for s in summed],
                   [(pos, j, loc, node(c)) for pos, j, loc, c in edges])
                  for i, up, summed, edges in rec.visits]
        results = {k: (node(up), [node(s) for s in summed])
                   for k, (up, summed) in rec.results.items()}
        built.append((visits, results))
    g = store_graph(store)
    names = d._labels()
    labels = store.labels
    # formula nodes by their assigned names (those assigned once); the store id of each
    # formula node (the first formula node of a store node names it)
    formula_id: dict[int, int] = {}
    for i, k in enumerate(copied):
        formula_id.setdefault(k, i)
    forward = set(formula_id)

    def ref(j):
        if j in forward and labels[j] in names and store.ops[j].name not in ("var", "const"):
            return labels[j]
        return None

    def text(k: int) -> str:  # a formula, an assigned value by its name
        return ref(k) or emit(g, k, ref)

    out = []
    for (output, _), (visits, found) in zip(records, built):
        steps = []
        for i, upstream, summed, edges in visits:
            es = [Edge(formula_id.get(j, j), pos, text(j), text(loc), text(c))
                  for pos, j, loc, c in edges]
            steps.append(Step(formula_id.get(i, i), store.ops[i].name, emit(g, i, ref),
                              text(upstream), [text(s) for s in summed], es))
        results = []
        for name in d.wrt:
            k = store._index.get(("var", name))
            if k in found:
                upstream, summed = found[k]
                results.append(Result(name, [text(s) for s in summed], text(upstream)))
            else:
                results.append(Result(name, [], "0"))
        out.append(Derivation(output, steps, results))
    return out


__all__ = ["differentiate", "Derivatives", "Derivation", "Step", "Edge", "Result",
           "TRANSLATE", "SHARES", "TIE", "RULE_CONSTANTS", "backward", "local", "copy_graph"]
