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

from autodiff_cli.calculus.engine import (
    array_kinks,
    backward_array,
    checked_nodes,
    evaluate,
    forward_array,
)
from autodiff_cli.calculus.steps import Step, backward_steps
from autodiff_cli.check.numeric import EPS, NotAnalytic, OutOfDomain, Settings, judge
from autodiff_cli.core.graph import Graph, merged
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
    nodes vary row by row, and which need a gradient.

    ``engine`` evaluates the passes: None for this process (chunk by chunk), or a
    ``distributed.DaskEngine`` (``--engine dask``), which ``Problem.setup`` sets.
    """

    engine = None

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
        self.checked = checked_nodes(graph)  # the nodes a pass tests for inf and nan
        self._plan = None

    def plan(self) -> Plan:
        """The graph as a plain pass evaluates it over the rows (made once)."""
        if self._plan is None:
            self._plan = Plan(self)
        return self._plan

    def __getstate__(self):
        """Pickled for the Dask workers: the formula and the roles of its variables, not
        the data file (a worker opens its own partition) nor the engine. The graph's ops
        go by name (a row's compiled rules do not pickle) and are looked up again in the
        worker's op table."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("data", "engine", "_plan")}
        graph = self.graph
        fields = {k: getattr(graph, k) for k in Graph.__slots__ if hasattr(graph, k)}
        fields["ops"] = [op.name for op in graph.ops]
        state["graph"] = fields
        return state

    def __setstate__(self, state):
        from autodiff_cli.core.ops import OPS

        fields = state.pop("graph")
        graph = Graph.__new__(Graph)
        for k, v in fields.items():
            setattr(graph, k, v)
        graph.ops = [OPS[name] for name in fields["ops"]]
        self.__dict__.update(state, graph=graph, data=None, _plan=None)

    def row_text(self, chunk, r: int) -> str:
        """Where row ``r`` of ``chunk`` is: ``row 4 of d.csv, line 5`` (its own file's)."""
        return chunk.row_text(r)

    def initial(self, at: dict[str, float], graph: Graph | None = None) -> list:
        """The values every row shares, of the nodes of ``graph`` (default: the formula's;
        or its ``plan``'s): constants and parameters."""
        graph = self.graph if graph is None else graph
        values: list = [0.0] * len(graph)
        for i, v in graph.consts.items():
            values[i] = v
        for name in self.params:
            values[graph.variables[name]] = float(at[name])
        return values


class Plan:
    """What a pass that wants only the value and the gradient (no per-node sums, no rows
    listed) evaluates: the formula with its equal subexpressions merged
    (``core.graph.merged``; ``sigmoid(z)`` written twice in a loss is computed once), its
    varying and needing nodes, and for each merged node the formula's nodes it stands for
    (a kink is reported at each of them). Values are the same floats; gradients differ
    from the formula's own pass by rounding only."""

    def __init__(self, setup: Setup):
        graph, new_id = merged(setup.graph)
        self.graph = graph
        self.same = graph is setup.graph
        if self.same:  # nothing merges: the formula's own pass (``members`` is not needed)
            self.varies, self.needs, self.members = setup.varies, setup.needs, None
            self.checked = setup.checked
            return
        self.checked = checked_nodes(graph)
        varies, needs = [False] * len(graph), [False] * len(graph)
        self.members: list[list[int]] = [[] for _ in range(len(graph))]
        for i, k in enumerate(new_id):
            varies[k] = setup.varies[i]
            needs[k] = setup.needs[i]
            self.members[k].append(i)
        self.varies, self.needs = varies, needs


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
    engine: str | None = None  # "dask" when the partitions ran on a Dask cluster
    partitions: int | None = None  # how many, then

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
#
# A pass is a scan of chunks into a ``Partial`` (the sums of those chunks), then
# ``finish``: the partials combined into a ``Totals``. The one-process engine scans
# every chunk of the file into one partial; the Dask engine (``data.distributed``)
# scans each partition on a worker and combines the partials here, with the same
# code. Value and gradients are kept as each chunk's sum and added up with
# ``math.fsum`` (correctly rounded, so the order of the partials does not matter),
# the per-node sums of ``details``/``edges`` with compensated (two-sum) addition.

class Pass:
    """What a pass computes (picklable: the Dask engine sends it to the workers)."""

    __slots__ = ("details", "edges", "per_example", "noise", "value_only")

    def __init__(self, details: bool = False, edges: bool = False, per_example: int = 0,
                 noise: bool = False, value_only: bool = False):
        self.details, self.edges, self.per_example = details, edges, per_example
        self.noise, self.value_only = noise, value_only

    def __getstate__(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state):
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)

    @property
    def sums(self) -> bool:
        """Per-node sums are kept (tables, trace, the noise estimate)."""
        return self.details or self.edges or self.noise


class Partial:
    """The sums of some chunks of a pass: each chunk's value and gradient sums (kept
    apart, for ``math.fsum``), and with ``Pass.sums`` per-node compensated sums
    (``hi`` + ``lo``), the kinks' rows and, with ``per_example``, the rows themselves
    (None once there are more than asked for)."""

    def __init__(self, n: int, params: list[str], opts: Pass):
        self.rows = 0
        self.value_parts: list[float] = []
        self.grad_parts: dict[str, list[float]] = {name: [] for name in params}
        self.kink_rows: dict = {}  # node -> [rows, first row text]
        self.noise = 0.0
        self.examples = None
        self.too_many = False  # more rows than --per-example lists
        if opts.sums:
            self.values, self.values_lo = [0.0] * n, [0.0] * n  # varying: summed; shared: v
            self.grads, self.grads_lo = [0.0] * n, [0.0] * n
            self.local: list = [None] * n
            self.edges: dict = {}  # (node, position) -> [hi, lo]
        if opts.per_example:
            self.examples = []  # a dict of whole columns per chunk (``_examples``)


def _add(hi: list, lo: list, i: int, x: float) -> None:
    """hi[i] + lo[i] += x, compensated (Knuth's two-sum): the rounding error goes to lo."""
    h = hi[i]
    s = h + x
    b = s - h
    lo[i] += (h - (s - b)) + (x - b)
    hi[i] = s


def _result(hi: float, lo: float) -> float:
    return hi + lo if math.isfinite(hi) else hi


def run(setup: Setup, *, details: bool = False, edges: bool = False, per_example: int = 0,
        examples_or_error: bool = True, noise: bool = False, progress=None) -> Totals:
    """Value and gradient of the sum (or mean) of the formula over every row.

    ``details``: every node's summed value and gradient (for tables and JSON);
    ``edges``: every edge's summed contribution (for trace); ``per_example``:
    at most this many rows get their own value and gradient (more is an error, or
    with ``examples_or_error`` off, no rows are listed). ``progress(rows)`` is
    called as rows are done. On the Dask engine (``setup.engine``) the partitions
    are scanned on the cluster and combined here, to the same numbers.
    """
    opts = Pass(details, edges, per_example, noise)
    engine = setup.engine
    if engine is not None and engine.covers(setup):
        partials = engine.scan(setup, setup.at, opts, progress)
    else:
        engine = None
        partials = [scan(setup, setup.data.chunks(setup.columns), setup.at, opts, progress,
                         too_many="error" if examples_or_error else "drop")]
    t = finish(setup, partials, opts, examples_or_error)
    if engine is not None:
        t.engine, t.partitions = engine.name, len(partials)
    return t


def scan(setup: Setup, chunks, at: dict[str, float], opts: Pass, progress=None,
         too_many: str = "flag") -> Partial:
    """The sums of a pass over ``chunks`` at the parameters ``at``, chunk by chunk.

    ``too_many``: what happens when there are more rows than ``opts.per_example``:
    "error" (an InputError), "drop" (no rows listed) or "flag" (``Partial.too_many``,
    for the caller to decide: a Dask partition does not know the others' rows).
    """
    # A plain pass (value and gradient only) evaluates the plan, the formula with its
    # equal subexpressions merged; per-node sums and listed rows need the formula's nodes.
    plan = setup.plan() if not opts.sums and not opts.per_example else None
    if plan is not None and plan.same:
        plan = None
    graph = setup.graph if plan is None else plan.graph
    varies, needs, checked = (setup.varies, setup.needs, setup.checked) if plan is None else \
        (plan.varies, plan.needs, plan.checked)
    out = graph.output
    variables = graph.variables
    p = Partial(len(setup.graph), setup.params, opts)
    value_parts = p.value_parts
    base = setup.initial(at, graph)
    wrt_ids = [variables[name] for name in setup.wrt]
    param_ids = [(variables[name], p.grad_parts[name]) for name in setup.params]
    value_only, sums = opts.value_only, opts.sums
    for chunk in chunks:
        values = list(base)
        for name in setup.columns:
            values[variables[name]] = chunk.columns[name]
        rows = chunk.rows
        try:
            locals_ = forward_array(graph, values, np, varies, needs,
                                    lambda r, c=chunk: setup.row_text(c, r), local=not value_only,
                                    checked=checked)
        except EvalError:
            if plan is not None:  # the formula's own pass names the node as the user sees it
                _formula_pass(setup, chunk, at, local=not value_only)
            raise
        y = values[out]
        value_parts.append(float(y.sum()) if varies[out] else y * rows)
        if value_only:
            p.rows += rows
            continue
        for i, count, first in array_kinks(graph, values, np, varies):
            for m in (i,) if plan is None else plan.members[i]:
                entry = p.kink_rows.setdefault(m, [0, setup.row_text(chunk, first)])
                entry[0] += rows if count < 0 else count
        grads = backward_array(graph, locals_, np, varies, needs, rows)
        if not all(math.isfinite(grads[k]) for k in wrt_ids):
            if plan is not None:  # named through the formula's own nodes
                values, locals_ = _formula_pass(setup, chunk, at)
            _gradient_failure(setup, chunk, values, locals_)
        for k, parts in param_ids:
            parts.append(grads[k])
        if sums:
            _accumulate(setup, p, values, locals_, grads, rows, opts)
        if p.examples is not None:
            if p.rows + rows > opts.per_example:
                if too_many == "error":
                    raise InputError(f"--per-example lists every row, and {setup.data.shown} has "
                                     f"more than {opts.per_example:,} rows",
                                     hint="drop --per-example for large files")
                p.examples, p.too_many = None, True
            else:
                _examples(setup, p.examples, chunk, values, locals_)
        p.rows += rows
        if progress:
            progress(p.rows)
    return p


def finish(setup: Setup, partials: list[Partial], opts: Pass, examples_or_error: bool = True):
    """The partials of a pass (in the order of the rows) combined: a ``Totals``, or with
    ``opts.value_only`` the summed (or mean) value."""
    graph, data = setup.graph, setup.data
    rows = sum(p.rows for p in partials)
    value = math.fsum(x for p in partials for x in p.value_parts)
    if opts.value_only:
        return value / rows if setup.reduce == "mean" else value
    needs = setup.needs
    out = graph.output
    n = len(graph)
    t = Totals(setup, rows=rows, grads=[0.0 if needs[i] else None for i in range(n)],
               values=[0.0] * n, local=[None] * n)
    scale = 1.0 / rows if setup.reduce == "mean" else 1.0
    t.value = value * scale
    if not math.isfinite(t.value):
        raise EvalError(f"the {setup.reduce} of the formula over the {rows:,} rows of {data.shown} "
                        "overflows a double-precision float", source=graph.source,
                        span=(graph.starts[out], graph.ends[out]))
    t.gradient = {name: math.fsum(x for p in partials for x in p.grad_parts[name]) * scale
                  for name in setup.params}
    bad = [name for name in setup.wrt if not math.isfinite(t.gradient[name])]
    if bad:
        raise EvalError(f"the gradient summed over the {rows:,} rows overflows for "
                        f"{', '.join(bad)}")
    for p in partials:
        for i, (count, first) in p.kink_rows.items():
            entry = t.kink_rows.setdefault(i, [0, first])
            entry[0] += count
    if opts.sums:
        _combine(setup, t, partials, scale)
    if opts.per_example:
        if rows > opts.per_example or any(p.too_many for p in partials):
            if examples_or_error:
                raise InputError(f"--per-example lists every row, and {data.shown} has more than "
                                 f"{opts.per_example:,} rows", hint="drop --per-example for large files")
        else:
            t.examples = _joined_examples(setup, [part for p in partials for part in p.examples])
    return t


def _accumulate(setup, p: Partial, values, locals_, grads, rows, opts: Pass) -> None:
    """Add one chunk's per-node sums to the partial.

    A varying node's value and gradient are per row here and are summed; a shared
    node's gradient is already the sum over the chunk's rows, and adds up over chunks.
    """
    varies, needs, inputs = setup.varies, setup.needs, setup.graph.inputs

    def total(x):
        return float(x.sum()) if isinstance(x, np.ndarray) else x * rows

    details, noise = opts.details, opts.noise
    if details or noise:
        p_values, p_values_lo, p_grads, p_grads_lo = p.values, p.values_lo, p.grads, p.grads_lo
        for i in range(len(inputs)):
            v, g = values[i], grads[i]
            if details:
                if varies[i]:
                    _add(p_values, p_values_lo, i, total(v))
                else:
                    p_values[i] = v
                if needs[i]:
                    _add(p_grads, p_grads_lo, i, total(g) if varies[i] else g)
                if inputs[i]:
                    p.local[i] = None if varies[i] else locals_[i]
            if noise and needs[i]:
                p.noise += EPS * (total(np.abs(g * v)) if varies[i] else abs(g * v))
    if opts.edges:
        # The engine's steps over this chunk; a shared node's upstream is already summed
        # over the rows, a varying node's contributions are per row and are summed here.
        summed = p.edges
        for step in backward_steps(setup.graph, locals_, grads, needs):
            key = (step.node, step.position)
            c = step.contribution
            pair = summed.get(key)
            if pair is None:
                pair = summed[key] = [0.0, 0.0]
            _add_pair(pair, total(c) if varies[step.node] else c)


def _add_pair(pair: list, x: float) -> None:
    """pair[0] + pair[1] += x, compensated (as ``_add``)."""
    h = pair[0]
    s = h + x
    b = s - h
    pair[1] += (h - (s - b)) + (x - b)
    pair[0] = s


def _combine(setup, t: Totals, partials: list[Partial], scale: float) -> None:
    """The per-node sums of the partials, in the order of the rows, scaled (mean)."""
    varies, needs = setup.varies, setup.needs
    n = len(varies)
    hi, lo = list(partials[0].values), list(partials[0].values_lo)
    ghi, glo = list(partials[0].grads), list(partials[0].grads_lo)
    edges = {k: list(v) for k, v in partials[0].edges.items()}
    local = list(partials[0].local)
    for p in partials[1:]:
        for i in range(n):
            if varies[i]:
                _add(hi, lo, i, p.values[i])
                lo[i] += p.values_lo[i]
            elif p.rows:
                hi[i] = p.values[i]
            if needs[i]:
                _add(ghi, glo, i, p.grads[i])
                glo[i] += p.grads_lo[i]
            if p.local[i] is not None or varies[i]:
                local[i] = p.local[i]
        for key, (h, x) in p.edges.items():
            pair = edges.get(key)
            if pair is None:
                pair = edges[key] = [0.0, 0.0]
            _add_pair(pair, h)
            pair[1] += x
    t.noise = sum(p.noise for p in partials) * scale
    t.values = [_result(hi[i], lo[i]) * scale if varies[i] else hi[i] for i in range(n)]
    t.grads = [_result(ghi[i], glo[i]) * scale if needs[i] else None for i in range(n)]
    t.local = local
    t.edges = {k: _result(h, x) * scale for k, (h, x) in edges.items()}


def _examples(setup, ex: list, chunk, values, locals_) -> None:
    graph = setup.graph
    per_row = backward_array(graph, locals_, np, setup.varies, setup.needs, chunk.rows, per_row=True)
    rows = chunk.rows

    def column(x):
        return np.asarray(x, dtype=np.float64) * np.ones(rows) if not isinstance(x, np.ndarray) \
            or x.shape != (rows,) else x

    ex.append({"first": np.arange(chunk.first, chunk.first + rows),
               "line": np.arange(chunk.line, chunk.line + rows),
               "value": column(values[graph.output]),
               "data": {c: chunk.columns[c] for c in setup.columns},
               "gradient": {name: column(per_row[graph.variables[name]]) for name in setup.params}})


def _joined_examples(setup, parts: list[dict]) -> dict:
    """The rows of every chunk, in order, as whole columns (``Totals.examples``)."""
    if not parts:
        empty = np.zeros(0)
        return {"first": empty.astype(np.int64), "line": empty.astype(np.int64), "value": empty,
                "data": {c: empty for c in setup.columns},
                "gradient": {name: empty for name in setup.params}}
    return {"first": np.concatenate([e["first"] for e in parts]),
            "line": np.concatenate([e["line"] for e in parts]),
            "value": np.concatenate([e["value"] for e in parts]),
            "data": {c: np.concatenate([e["data"][c] for e in parts]) for c in setup.columns},
            "gradient": {name: np.concatenate([e["gradient"][name] for e in parts])
                         for name in setup.params}}


def _formula_pass(setup: Setup, chunk, at: dict[str, float], local: bool = True):
    """The values and local gradients of one chunk through the formula's own nodes (not
    the plan's): where a plain pass failed, so that the message names the node as the
    user's graph numbers it. A domain error is raised from here."""
    graph = setup.graph
    values = setup.initial(at)
    for name in setup.columns:
        values[graph.variables[name]] = chunk.columns[name]
    locals_ = forward_array(graph, values, np, setup.varies, setup.needs,
                            lambda r, c=chunk: setup.row_text(c, r), local=local)
    return values, locals_


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
    opts = Pass(value_only=True)
    if setup.engine is not None and setup.engine.covers(setup):
        partials = setup.engine.scan(setup, at, opts)
    else:
        partials = [scan(setup, setup.data.chunks(setup.columns), at, opts)]
    return finish(setup, partials, opts)


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
