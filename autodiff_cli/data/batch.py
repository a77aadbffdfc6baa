"""Training over N examples (``--data``): a formula summed over the rows of a data file.

The lecture's last step: the loss is a sum over examples, L = L1 + L2 + ...,
every parameter feeds every Li, and its gradient is the sum of the incoming
gradients. Here the formula's variables that are columns of the data file
take one value per row; the others are parameters (``--at``). The graph is
evaluated once per chunk of rows over whole columns (NumPy arrays; the array
forms of the op table), the engine sums the per-row gradients into the shared
parameters (``engine.backward_array``), and the chunks' sums are added up, so
memory is bounded by the chunk size, not the file.

A pass gives a ``Totals``: the summed value and gradient, and (when asked)
what the documents show of every node and edge -- the same fields a point's
evaluation has, where a node whose value differs row by row has its sum over
the rows. ``documents`` builds the JSON of both alike.

Imported only in data mode: it imports NumPy, which plain ``adiff grad``
never loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autodiff_cli.calculus.engine import array_kinks, backward_array, evaluate, forward_array
from autodiff_cli.calculus.steps import Step, backward_steps
from autodiff_cli.check.numeric import EPS, NotAnalytic, OutOfDomain, Settings, judge
from autodiff_cli.core.graph import Graph
from autodiff_cli.data.reader import DataFile
from autodiff_cli.errors import EvalError, InputError, clip, escape_controls

REDUCES = ("sum", "mean")
#: --per-example lists every row; it is meant for small files.
PER_EXAMPLE_ROWS = 1000
#: adiff trace --data lists each row's loss and gradient up to this many rows.
TRACE_EXAMPLE_ROWS = 1000


# ---------------------------------------------------------------- the problem

class Setup:
    """A formula, its parameters and a data file: which variables are columns, which
    nodes vary row by row, and which need a gradient."""

    def __init__(self, graph: Graph, at: dict[str, float], data: DataFile, reduce: str = "sum",
                 wrt: list[str] | None = None):
        self.graph, self.at, self.data, self.reduce = graph, dict(at), data, reduce
        variables = graph.variables
        position, shown = data.position, data.shown  # column name -> index; the file's name
        for name in at:
            if name in position:
                col = data.starts[position[name]]
                raise InputError(f"{shown}:1:{col}: {name!r} is a column of {shown} and is "
                                 f"also bound by --at {name}=...; a name is either a column or a "
                                 "parameter", hint=f"drop {name} from --at, or rename the column")
        _refuse_constant_columns(graph, data)
        self.columns = [n for n in variables if n in position]
        self.params = [n for n in variables if n not in position]
        missing = [n for n in self.params if n not in at]
        if missing:
            name = missing[0]
            i = variables[name]
            shown_columns = ", ".join(escape_controls(clip(c)) for c in data.columns[:12]) \
                + (", ..." if len(data.columns) > 12 else "")
            if data.looks_headerless():
                hint = f"the first line of {shown} looks like data: the file needs a header " \
                       "line naming the columns"
            elif len(data.columns) == 1 and any(c in data.columns[0] for c in ",;\t|"):
                hint = "is the delimiter right? choose it with --delimiter"
            else:
                hint = f"bind it with --at {name}=... if it is a parameter"
            raise InputError(f"{shown}:1:1: the formula needs {name!r}, which is neither a "
                             f"column of {shown} (its columns: {shown_columns}) nor bound by --at",
                             source=graph.source, span=(graph.starts[i], graph.ends[i]), hint=hint)
        if wrt is None:
            self.wrt = list(self.params)
        else:
            for name in wrt:
                if name in position and name in variables:
                    raise InputError(f"--wrt {name}: {name} is a column of {shown}; gradients are "
                                     "with respect to the parameters"
                                     + (f" ({', '.join(self.params[:20])}"
                                        + (", ..." if len(self.params) > 20 else "") + ")"
                                        if self.params else ""))
            self.wrt = list(wrt)
        ops, inputs = graph.ops, graph.inputs
        varies, needs = [False] * len(graph), [False] * len(graph)
        column_set = set(self.columns)
        for i, ins in enumerate(inputs):
            if ins:
                varies[i] = any(varies[j] for j in ins)
                needs[i] = any(needs[j] for j in ins)
            elif ops[i].name == "var":
                varies[i] = graph.labels[i] in column_set
                needs[i] = not varies[i]
        self.varies, self.needs = varies, needs

    def row_text(self, chunk, r: int) -> str:
        return f"row {chunk.first + r + 1:,} of {self.data.shown}, line {chunk.line + r:,}"

    def initial(self, at: dict[str, float]) -> list:
        values: list = [0.0] * len(self.graph)
        for i, v in self.graph.consts.items():
            values[i] = v
        for name in self.params:
            values[self.graph.variables[name]] = float(at[name])
        return values


@dataclass
class Totals:
    """One pass over the data: the reduced value and gradients, and what the documents show.

    Read like a point's evaluation (``engine.Evaluation``): ``at``, ``value``,
    ``gradient``, and per node ``values``, ``local``, ``grads``, plus ``varies``
    (node i differs row by row: its value is the sum over the rows, its local
    gradients are per row, None here) and the kinks with their rows.
    """

    setup: Setup | None = None
    rows: int = 0
    value: float = 0.0
    gradient: dict = field(default_factory=dict)  # parameter -> dL/dparameter
    grads: list = field(default_factory=list)  # node -> summed gradient (None: no gradient)
    values: list = field(default_factory=list)  # node -> its value, or its sum over the rows
    local: list = field(default_factory=list)  # node -> local gradients, None when per row
    # (node, input position) -> the contribution summed over the rows, in the engine's order
    edges: dict = field(default_factory=dict)
    kink_rows: dict = field(default_factory=dict)  # node -> [rows, first row text]
    examples: dict | None = None
    noise: float = 0.0

    @property
    def at(self) -> dict[str, float]:
        """The parameters' values, in the formula's order."""
        setup = self.setup
        return {name: setup.at[name] for name in setup.params}

    @property
    def varies(self) -> list[bool]:
        return self.setup.varies

    @property
    def kinks(self) -> list[int]:
        """The nodes at their kink in some row, in id order."""
        return sorted(self.kink_rows)

    def steps(self):
        """The backward steps (``calculus.steps.Step``), each summed over the rows, in the
        engine's order: upstream is the node's summed gradient, local is None where it is
        per row, contribution the edge's summed contribution (a pass with ``edges``)."""
        inputs, grads, local, varies = self.setup.graph.inputs, self.grads, self.local, \
            self.setup.varies
        for (i, k), contribution in self.edges.items():
            yield Step(i, k, inputs[i][k], grads[i], None if varies[i] else local[i][k],
                       contribution)


def _refuse_constant_columns(graph: Graph, data: DataFile) -> None:
    """A column named like a constant (``e``, ``pi``) that the formula uses as the constant.

    In a formula ``e`` is always the constant (unless the program assigns it first), so
    such a column could never reach the formula: refuse rather than silently use 2.718...
    A column the formula does not refer to may be named anything.
    """
    from autodiff_cli.core.ops import CONSTANTS

    named = [c for c in CONSTANTS if c in data.position]
    if not named:
        return
    source, labels, starts, ends, consts = graph.source, graph.labels, graph.starts, \
        graph.ends, graph.consts
    for i in consts:  # const nodes only: linear in the formula's constants
        name = labels[i].lstrip("-")
        if name not in named:
            continue
        # Written in the formula as the constant (``e``; ``-e`` and ``- -e`` fold into one
        # node), not made by --expand (acot's template uses pi, spanning the whole call).
        if "".join(source[starts[i]:ends[i]].split()).lstrip("-") != name:
            continue
        shown = data.shown
        col = data.starts[data.position[name]]
        raise InputError(f"{shown}:1:{col}: column {name} of {shown} is named like the constant "
                         f"{name}, which the formula uses: {name} is a constant and cannot be a "
                         "column", source=source, span=(starts[i], ends[i]),
                         hint=f"rename the column in the header (e.g. to {name}_) and use that name "
                              "in the formula")


# ---------------------------------------------------------------- a pass over the data

def run(setup: Setup, *, details: bool = False, edges: bool = False, per_example: int = 0,
        examples_or_error: bool = True, noise: bool = False, progress=None) -> Totals:
    """Value and gradient of the sum (or mean) of the formula over every row.

    ``details``: every node's summed value and gradient (for tables and JSON);
    ``edges``: every edge's summed contribution (for trace); ``per_example``:
    at most this many rows get their own value and gradient (more is an error, or
    with ``examples_or_error`` off, no rows are listed).
    """
    graph, data = setup.graph, setup.data
    varies, needs = setup.varies, setup.needs
    out = graph.output
    n = len(graph)
    variables = graph.variables
    t = Totals(setup, grads=[0.0 if needs[i] else None for i in range(n)], values=[0.0] * n,
               local=[None] * n)
    value_parts: list[float] = []
    grad_parts: dict[str, list[float]] = {name: [] for name in setup.params}
    examples = {"first": [], "line": [], "value": [], "data": {c: [] for c in setup.columns},
                "gradient": {name: [] for name in setup.params}} if per_example else None
    base = setup.initial(setup.at)
    for chunk in data.chunks(setup.columns):
        values = list(base)
        for name in setup.columns:
            values[variables[name]] = chunk.columns[name]
        rows = chunk.rows
        locals_ = forward_array(graph, values, np, varies, needs,
                                lambda r, c=chunk: setup.row_text(c, r))
        for i, count, first in array_kinks(graph, values, np, varies):
            entry = t.kink_rows.setdefault(i, [0, setup.row_text(chunk, first)])
            entry[0] += rows if count < 0 else count
        grads = backward_array(graph, locals_, np, varies, needs, rows)
        for name in setup.wrt:
            if not math.isfinite(grads[variables[name]]):
                _gradient_failure(setup, chunk, values, locals_)
        y = values[out]
        value_parts.append(float(y.sum()) if varies[out] else y * rows)
        for name in setup.params:
            grad_parts[name].append(grads[variables[name]])
        if details or edges or noise:
            _accumulate(setup, t, values, locals_, grads, rows, details, edges, noise)
        if examples is not None and t.rows + rows > per_example:
            if examples_or_error:
                raise InputError(f"--per-example lists every row, and {data.shown} has more than "
                                 f"{per_example:,} rows", hint="drop --per-example for large files")
            examples = None
        if examples is not None:
            _examples(setup, examples, chunk, values, locals_)
        t.rows += rows
        if progress:
            progress(t.rows)
    scale = 1.0 / t.rows if setup.reduce == "mean" else 1.0
    t.value = math.fsum(value_parts) * scale
    if not math.isfinite(t.value):
        raise EvalError(f"the {setup.reduce} of the formula over the {t.rows:,} rows of {data.shown} "
                        "overflows a double-precision float", source=graph.source,
                        span=(graph.starts[out], graph.ends[out]))
    t.gradient = {name: math.fsum(parts) * scale for name, parts in grad_parts.items()}
    bad = [name for name in setup.wrt if not math.isfinite(t.gradient[name])]
    if bad:
        raise EvalError(f"the gradient summed over the {t.rows:,} rows overflows for "
                        f"{', '.join(bad)}")
    if details or edges or noise:
        t.grads = [None if g is None else g * scale for g in t.grads]
        t.values = [v * scale if varies[i] else v for i, v in enumerate(t.values)]
        t.edges = {k: v * scale for k, v in t.edges.items()}
        t.noise *= scale
    if examples is not None:
        t.examples = {k: (np.concatenate(v) if isinstance(v, list) else
                          {c: np.concatenate(a) for c, a in v.items()})
                      for k, v in examples.items()}
    return t


def _accumulate(setup, t: Totals, values, locals_, grads, rows, details, edges, noise) -> None:
    """Add one chunk's per-node sums to the totals.

    A varying node's value and gradient are per row here and are summed; a shared
    node's gradient is already the sum over the chunk's rows, and adds up over chunks.
    """
    varies, needs, inputs = setup.varies, setup.needs, setup.graph.inputs

    def total(x):
        return float(x.sum()) if isinstance(x, np.ndarray) else x * rows

    if details or noise:
        for i in range(len(inputs)):
            v, g = values[i], grads[i]
            if details:
                t.values[i] = t.values[i] + total(v) if varies[i] else v
                if needs[i]:
                    t.grads[i] += total(g) if varies[i] else g
                if inputs[i]:
                    t.local[i] = None if varies[i] else locals_[i]
            if noise and needs[i]:
                t.noise += EPS * (total(np.abs(g * v)) if varies[i] else abs(g * v))
    if edges:
        # The engine's steps over this chunk; a shared node's upstream is already summed
        # over the rows, a varying node's contributions are per row and are summed here.
        summed = t.edges
        for step in backward_steps(setup.graph, locals_, grads, needs):
            key = (step.node, step.position)
            c = step.contribution
            summed[key] = summed.get(key, 0.0) + (total(c) if varies[step.node] else c)


def _examples(setup, ex, chunk, values, locals_) -> None:
    graph = setup.graph
    per_row = backward_array(graph, locals_, np, setup.varies, setup.needs, chunk.rows, per_row=True)
    rows = chunk.rows

    def column(x):
        return np.asarray(x, dtype=np.float64) * np.ones(rows) if not isinstance(x, np.ndarray) \
            or x.shape != (rows,) else x

    ex["first"].append(np.arange(chunk.first, chunk.first + rows))
    ex["line"].append(np.arange(chunk.line, chunk.line + rows))
    ex["value"].append(column(values[graph.output]))
    for c in setup.columns:
        ex["data"][c].append(chunk.columns[c])
    for name in setup.params:
        ex["gradient"][name].append(column(per_row[graph.variables[name]]))


def _gradient_failure(setup: Setup, chunk, values, locals_):
    """A parameter's gradient is not finite: name the row, and the node, where it arose."""
    graph = setup.graph
    per_row = backward_array(graph, locals_, np, setup.varies, setup.needs, chunk.rows, per_row=True)
    first = None
    for name in setup.wrt:
        g = np.asarray(per_row[graph.variables[name]], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(np.broadcast_to(g, (chunk.rows,))))
        if bad.size and (first is None or bad[0] < first):
            first = int(bad[0])
    if first is None:
        raise EvalError(f"the gradient summed over the rows of {setup.data.shown} overflows")
    at = dict(setup.at)
    at.update({c: float(chunk.columns[c][first]) for c in setup.columns})
    where = setup.row_text(chunk, first)
    try:
        evaluate(graph, at, setup.wrt)
    except EvalError as exc:
        exc.message = f"{exc.message} (in {where})"
        raise
    raise EvalError(f"the gradient is not finite in {where}", source=graph.source)


def summed_value(setup: Setup, at: dict[str, float]) -> float:
    """The sum (or mean) of the formula over the rows at the parameters ``at`` (forward only)."""
    graph = setup.graph
    parts, rows = [], 0
    base = setup.initial(at)
    for chunk in setup.data.chunks(setup.columns):
        values = list(base)
        for name in setup.columns:
            values[graph.variables[name]] = chunk.columns[name]
        forward_array(graph, values, np, setup.varies, setup.needs,
                      lambda r, c=chunk: setup.row_text(c, r), local=False)
        y = values[graph.output]
        parts.append(float(y.sum()) if setup.varies[graph.output] else y * chunk.rows)
        rows += chunk.rows
    total = math.fsum(parts)
    return total / rows if setup.reduce == "mean" else total


# ---------------------------------------------------------------- finite differences

class _Point:
    """What the estimators of check/numeric.py read of an evaluation."""

    def __init__(self, graph: Graph, value: float):
        self.graph = graph
        self.values = {graph.output: value}
        self.grads = None


class SummedFunction:
    """The summed loss as a function of one parameter, for ``numeric.judge``.

    Each evaluation is a pass over the data. There is no complex step over
    arrays: the estimators fall back to real differences.
    """

    def __init__(self, setup: Setup, name: str, value: float, noise: float):
        self.setup = setup
        self.name = name
        self.k = setup.graph.variables[name]
        self.x = setup.at[name]
        self.ev = _Point(setup.graph, value)
        self._noise = noise

    def real(self, t: float):
        try:
            return summed_value(self.setup, {**self.setup.at, self.name: t}), None
        except EvalError as exc:
            raise OutOfDomain(getattr(exc, "node", self.setup.graph.output)) from None

    def complex(self, t):
        raise NotAnalytic(self.setup.graph.output)

    def not_analytic(self) -> int:
        return self.setup.graph.output

    def noise(self) -> float:
        return self._noise


def kinked_params(setup: Setup, totals: Totals) -> set[str]:
    """The parameters that feed a node sitting on its kink in some row."""
    marks = setup.graph.ancestors(totals.kink_rows)
    return {name for name in setup.params if marks[setup.graph.variables[name]]}


def check_gradient(setup: Setup, totals: Totals, names: list[str], settings: Settings,
                   progress=None):
    """Each parameter's summed gradient against finite differences of the summed loss."""
    kinked = kinked_params(setup, totals)
    out = []
    for name in names:
        fn = SummedFunction(setup, name, totals.value, totals.noise)
        e = judge(name, totals.gradient[name], fn, settings, kink=name in kinked)
        out.append(e)
        if progress:
            progress()
    return out
