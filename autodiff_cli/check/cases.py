"""Cases for `adiff check`: points, random samples, hand-written derivatives, spec files.

A *case* is one formula checked at one or more points: fixed points (``--at``
or ``at = {...}``) or random ones (``--samples N --seed S --range x=lo:hi``),
optionally against hand-written partial derivatives (``--expect x=EXPR``). With
``order = 2`` (``--order 2``) the case checks second derivatives instead: the exact
Hessian (``calculus/second.py``) against finite differences of the reverse-mode
gradient (``numeric.check_hessian``), one entry per pair of inputs with repetition
(``x,x``, ``x,y``, ``y,y``, in --wrt order), and ``--expect x,y=EXPR`` is a hand-written
second derivative.
Iterating a ``CaseRun`` checks the case's points one at a time and yields each
as a ``Point`` (the estimates and verdicts; ``documents.check`` makes the JSON
of it); a spec file (TOML) is a list of cases. The JUnit report of the results
is ``documents.junit``.
"""

from __future__ import annotations

import math
import random
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autodiff_cli.check.numeric import (
    CENTRAL_STEP,
    METHODS,
    Estimate,
    Settings,
    check,
    check_nodes,
    compare,
    step_error,
)
from autodiff_cli.errors import AdiffError, EvalError, InputError, clip, escape_controls
from autodiff_cli.language.bindings import parse_value

#: Interval each sampled input is drawn from when --range does not name it.
DEFAULT_RANGE = (-1.0, 1.0)
DEFAULT_SEED = 0

#: Random points one case may ask for (--samples, samples =). Points are made
#: and checked one at a time and memory does not grow with their number, but
#: time does: about 0.1 ms a point for a small formula here, so this many take
#: a couple of minutes. Far more is a mistake; a run can be split by --seed.
MAX_SAMPLES = 1_000_000
#: Points listed in "skipped_points" at most (all are counted in "skipped").
SKIPPED_LISTED = 1_000
#: Failing points each case keeps for its JUnit failure text.
FAILING_KEPT = 20
#: A spec file is read up to this size: it lists cases; big formulas go in
#: files of their own (file = "..."), each read up to --max-size.
SPEC_MAX_BYTES = 16 * 1024 * 1024

#: Why --order 2 has no complex step (the hint of the error that says so).
COMPLEX_ORDER2 = ("the complex step of the gradient would need every local derivative rule over "
                  "complex numbers, and the hand-written ones (pow, div, hypot, atan2, ...) "
                  "compare values, which complex numbers cannot; use central (the default), "
                  "forward, backward or richardson")

#: Statuses, worst first; a point passes when every input's status is "ok"
#: (or "kink" with --allow-kinks).
STATUSES = ("mismatch", "expect-mismatch", "inconclusive", "unavailable", "kink", "ok")


@dataclass
class Case:
    source: str
    name: str = ""
    points: list[dict[str, float]] = field(default_factory=lambda: [{}])
    samples: int | None = None
    seed: int = DEFAULT_SEED
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    expect: dict[str, str] = field(default_factory=dict)
    wrt: list[str] | None = None
    settings: Settings = field(default_factory=Settings)
    allow_kinks: bool = False
    nodes: bool = False
    max_size: int | None = None
    origin: str = ""  # where the case comes from, for messages ("grads.toml, case 2")
    file: str | None = None  # the spec's file = "...", as written, when the formula is in a file
    order: int = 1  # 1: gradients; 2: second derivatives (the Hessian's entries)


# ---------------------------------------------------------------- option parsing

def parse_ranges(specs, where: str = "--range") -> dict[str, tuple[float, float]]:
    """``x=-1:1,y=0.1:5`` (repeatable) -> {"x": (-1.0, 1.0), "y": (0.1, 5.0)}."""
    out: dict[str, tuple[float, float]] = {}
    for spec in specs:
        for item in spec.split(","):
            if not item.strip():
                continue
            name, eq, interval = item.partition("=")
            name = name.strip()
            lo, colon, hi = interval.partition(":")
            if not eq or not colon or not name:
                raise InputError(f"{where} {item.strip()}: expected name=low:high, e.g. x=-1:1")
            if name in out:
                raise InputError(f"{where}: {name} is given twice")
            out[name] = _interval(name, lo, hi, where)
    return out


def _interval(name: str, lo, hi, where: str) -> tuple[float, float]:
    a = parse_value(name, lo) if isinstance(lo, str) else _number(lo, f"{where} {name}")
    b = parse_value(name, hi) if isinstance(hi, str) else _number(hi, f"{where} {name}")
    if not a < b:
        raise InputError(f"{where} {name}: the low end {a:g} must be below the high end {b:g}")
    return a, b


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: expected a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise InputError(f"{where}: values must be finite numbers")
    return v


def parse_expect(specs, order: int = 1) -> dict[str, str]:
    """``--expect x=EXPR`` (repeatable, one input each) -> {"x": "EXPR"}; with ``order`` 2,
    ``--expect x,y=EXPR`` (a second derivative, two inputs each) -> {"x,y": "EXPR"}.

    Only the first '=' separates the name: the EXPR may contain commas
    (``max(x, y)``) and even assignments (``s = sigmoid(x); s*(1 - s)``).
    """
    out: dict[str, str] = {}
    for spec in specs:
        name, eq, source = spec.partition("=")
        name = unicodedata.normalize("NFC", name.strip())
        if order == 2:
            pair = [part.strip() for part in name.split(",")]
            if not eq or len(pair) != 2 or not all(part.isidentifier() for part in pair):
                raise InputError(f"--expect {spec}: with --order 2, expected NAME,NAME=EXPR, a "
                                 "second derivative, e.g. --expect x,y=\"cos(y)\"",
                                 hint="x,x=EXPR is d²f/dx², x,y=EXPR is d²f/dxdy")
            name = ",".join(pair)
            if not source.strip():
                raise InputError(f"--expect {name}=: no second derivative formula for {name}")
            if name in out:
                raise InputError(f"--expect: {name} is given twice")
            out[name] = source
            continue
        if not eq or not name or not name.isidentifier():
            pair = [part.strip() for part in name.split(",")]
            two = eq and len(pair) == 2 and all(part.isidentifier() for part in pair)
            raise InputError(f"--expect {spec}: expected NAME=EXPR, e.g. --expect x=\"2*x\"",
                             hint="two names (x,y=EXPR) are a second derivative: add --order 2"
                             if two else None)
        if not source.strip():
            raise InputError(f"--expect {name}=: no derivative formula for {name}")
        comma = _top_level_comma(source)
        if comma is not None:
            rest = source[comma + 1:].strip()
            if "=" in rest.split("(")[0]:
                raise InputError(
                    f"--expect {name}={source}: one input per --expect",
                    hint=f"repeat the option: --expect {name}={source[:comma].strip()} "
                         f"--expect {rest}")
        if name in out:
            raise InputError(f"--expect: {name} is given twice")
        out[name] = source
    return out


def _top_level_comma(text: str) -> int | None:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            return i
    return None


# ---------------------------------------------------------------- sampling

def check_samples(n: int, where: str = "--samples") -> int:
    """``n`` itself, or an InputError when it is over ``MAX_SAMPLES``."""
    if n > MAX_SAMPLES:
        raise InputError(f"{where} {n:,}: at most {MAX_SAMPLES:,} random points per case",
                         hint="a point of a small formula takes about 0.1 ms, so that many take "
                              "minutes already; for more, run again with another --seed")
    return n


def _uniform(rng: random.Random, lo: float, hi: float) -> float:
    """A uniform draw from [lo, hi] that cannot overflow.

    ``rng.uniform`` is lo + (hi - lo)·u, which is what every seed has always
    given, and stays so where hi - lo is finite; -1e308:1e308 overflows that
    difference (to inf, so every point would be inf), and there the same u
    gives lo·(1 - u) + hi·u, whose terms have opposite signs.
    """
    u = rng.random()
    width = hi - lo
    if math.isfinite(width):
        return lo + width * u
    return lo * (1.0 - u) + hi * u


def iter_points(variables, fixed: dict[str, float], ranges: dict[str, tuple[float, float]],
                n: int, seed: int):
    """``n`` points, made one at a time: the inputs in ``fixed`` keep their value,
    the others are drawn uniformly from their range (default ``DEFAULT_RANGE``),
    in order of first appearance in the formula, from ``random.Random(seed)``:
    the same formula, ranges and seed give the same points on every run and
    platform. A point that is not finite is an input error (it cannot happen
    with finite ranges; this is the guard)."""
    rng = random.Random(seed)
    free = [(name, ranges.get(name, DEFAULT_RANGE)) for name in variables if name not in fixed]
    for _ in range(n):
        at = dict(fixed)
        for name, (lo, hi) in free:
            v = at[name] = _uniform(rng, lo, hi)
            if not math.isfinite(v):
                raise InputError(f"sampled {name} = {v!r} is not a finite number",
                                 hint=f"choose a finite interval with --range {name}=LO:HI")
        yield at


def sample_points(variables, fixed: dict[str, float], ranges: dict[str, tuple[float, float]],
                  n: int, seed: int) -> list[dict[str, float]]:
    """The points of ``iter_points`` as a list (for small ``n``)."""
    return list(iter_points(variables, fixed, ranges, n, seed))


# ---------------------------------------------------------------- points and their verdicts

@dataclass
class Point:
    """One checked point: each input's estimate and verdict, before any document is made.

    ``status`` is each input's verdict with the one on ``--expect`` folded in;
    ``ok`` says whether the point passes (every status ``ok``, or ``kink`` with
    --allow-kinks; with --per-node, every node's too). ``documents.check`` turns
    it into the JSON-shaped point.
    """

    at: dict[str, float]  # the point: the formula's inputs (data mode: its parameters)
    value: float
    estimates: list[Estimate]
    status: dict[str, str]
    notes: dict[str, str]
    expected: dict  # input -> the --expect derivative's value, or the AdiffError evaluating it
    expect_errors: dict  # input -> |expected - reverse mode|, or None
    kinks: list[int]  # nodes sitting on their kink
    ok: bool
    nodes: list[Estimate] | None = None  # --per-node: every intermediate node's verdict
    culprit: dict | None = None  # --per-node: the local rule that looks wrong
    kink_rows: dict | None = None  # data mode: node -> [rows at its kink, the first such row]
    name: str = ""  # the case's name
    order: int = 1  # 2: the estimates are second derivatives ("x,y")
    gradient: dict | None = None  # order 2: the reverse-mode gradient at the point

    def estimate(self, name: str) -> Estimate:
        """The estimate of input ``name``."""
        return next(e for e in self.estimates if e.name == name)


def judge_point(case: Case, at: dict, value: float, estimates: list[Estimate], expected: dict,
                kinks: list[int], nodes: list[Estimate] | None = None, culprit: dict | None = None,
                kink_rows: dict | None = None, sources: dict | None = None,
                gradient: dict | None = None) -> Point:
    """The verdicts of one point: each input's status (reverse mode against finite
    differences, then against its --expect derivative), its notes, and the point's.
    ``sources``: the --expect formulas by estimate name (default ``case.expect``; for
    second derivatives, keyed "x,y" in --wrt order whichever way they were written)."""
    sources = case.expect if sources is None else sources
    status, notes, expect_errors = {}, {}, {}
    for e in estimates:
        st, note = e.status, e.note
        if e.name in expected and st != "kink":
            verdict, err, why = _expect_verdict(e, expected[e.name], sources[e.name],
                                                e.rtol, e.atol, case.order)
            expect_errors[e.name] = err
            if verdict:
                st = verdict
            if why:
                note = f"{why}; {note}" if note else why
        elif e.name in expected:
            expect_errors[e.name] = None
        status[e.name] = st
        if note:
            notes[e.name] = note
    passing = ("ok", "kink") if case.allow_kinks else ("ok",)
    ok = all(s in passing for s in status.values())
    if nodes is not None:
        ok = ok and all(e.status in passing for e in nodes)
    return Point(at, value, estimates, status, notes, expected, expect_errors, kinks, ok, nodes,
                 culprit, kink_rows, case.name, case.order, gradient)


def _finite(x) -> bool:
    return x is not None and x - x == 0.0  # not None, nan or ±inf


def ratio(point: Point, e: Estimate) -> float:
    """How far input ``e.name`` of ``point`` is from passing: its largest error (finite
    differences, or --expect) over its tolerance; errors and tolerances that are not
    finite numbers do not count (a failing input without them ranks worst)."""
    name = e.name
    err = e.abs_error
    vals = [err] if _finite(err) else []
    if point.expected:
        err = point.expect_errors.get(name)
        if _finite(err):
            vals.append(err)
    tol = e.tolerance
    if not vals or not _finite(tol):
        return math.inf if point.status[name] != "ok" else 0.0
    return max(vals) / tol if tol > 0 else math.inf


def rank(point: Point, e: Estimate) -> tuple:
    """Sort key of input ``e.name`` of a point: failing statuses first, then the largest
    ``ratio``."""
    return (STATUSES.index(point.status[e.name]), -ratio(point, e))


class Tally:
    """The counts of a stream of points and its worst failing input, in bounded memory.

    Points are counted as they come, the first ``keep`` failing points are kept
    (for the JUnit text), the worst (point, input) is remembered.
    """

    def __init__(self, keep: int = FAILING_KEPT):
        self.points = 0
        self.counts = dict.fromkeys(STATUSES, 0)
        self.failing = 0  # failing points
        self.kept: list[Point] = []  # the first ``keep`` failing points
        self.keep = keep
        self._key = None
        self._worst = None  # (failing point, its index among the failing ones, input)

    def add(self, p: Point) -> None:
        self.points += 1
        counts = self.counts
        for st in p.status.values():
            counts[st] = counts.get(st, 0) + 1
        if p.ok:
            return
        index = self.failing
        self.failing += 1
        if len(self.kept) < self.keep:
            self.kept.append(p)
        for e in p.estimates:
            k = rank(p, e)
            if self._key is None or k < self._key:
                self._key, self._worst = k, (p, index, e.name)

    def summary(self) -> dict:
        return {"points": self.points, "gradients": sum(self.counts.values()), **self.counts}

    def worst(self) -> tuple[Point, int, str] | None:
        """(point, its index among the failing points, input) of the worst failing input,
        or None when none failed."""
        return self._worst


class CaseResult:
    """What a case gave: counts, the worst failure, the first skipped points, or its error.

    Points are counted (``add``), not kept: a run streams them.
    """

    def __init__(self, case: Case):
        self.case = case
        self.error: AdiffError | None = None  # an input or evaluation error that stopped it
        self.seconds = 0.0
        self.used: set = set()  # variables of the formula and the expectations
        self.tally = Tally()
        self.skipped: list[dict] = []  # {"at", "reason"}, the first SKIPPED_LISTED
        self.skipped_count = 0

    def add(self, point: Point) -> None:
        """Count a checked point."""
        self.tally.add(point)

    def skip(self, at: dict, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < SKIPPED_LISTED:
            self.skipped.append({"at": at, "reason": reason})

    @property
    def count(self) -> int:
        return self.tally.points

    @property
    def ok(self) -> bool:
        return self.error is None and self.tally.failing == 0


def _expected(key: str, source: str, bound, kwargs: dict):
    """The graph of ``--expect key=source``: one formula whose names are all bound."""
    from autodiff_cli.language.parser import parse

    try:
        g = parse(source, **kwargs)
    except InputError as exc:
        exc.message = f"in --expect {key}: {exc.message}"
        raise
    _one_output(g, f"--expect {key}")
    unbound = [v for v in g.variables if v not in bound]
    if unbound:
        i = g.variables[unbound[0]]
        raise InputError(f"--expect {key}={source}: {unbound[0]!r} is neither an input of "
                         "the formula nor bound with --at", source=source,
                         span=(g.starts[i], g.ends[i]))
    return g


def _one_output(g, what: str) -> None:
    """An expected derivative is one formula: refuse a program with several outputs."""
    if g.several:
        raise InputError(f"{what}: the expected derivative has {len(g.outputs):,} outputs "
                         f"({', '.join(escape_controls(clip(n)) for n in g.output_names[:6])}); "
                         "it must be one formula", hint="end the program with one expression")


def prepare(case: Case, warn=None, graph=None):
    """Parse the formula (unless its ``graph`` is given) and the expectations; check names.

    Returns (graph, names, expect graphs). ``warn`` receives the parser's warnings.
    """
    from autodiff_cli.language.parser import did_you_mean, parse

    kwargs = {"max_size": case.max_size} if case.max_size else {}
    if graph is None:
        warnings: list[str] = []
        graph = parse(case.source, warnings=warnings, **kwargs)
        if warn:
            for message in warnings:
                warn(message)
    if graph.several:
        from autodiff_cli.language.parser import several_outputs_error

        raise several_outputs_error(graph, "adiff check")
    variables = graph.variables
    names = list(variables) if case.wrt is None else case.wrt
    for name in names:
        if name not in variables:
            raise InputError(f"--wrt {name}: the formula has no input {name!r}",
                             hint=did_you_mean(name, variables) or
                             f"its inputs are: {', '.join(list(variables)[:20]) or 'none'}")
    fixed = set().union(*(p.keys() for p in case.points))
    for name in case.ranges:
        if name not in variables:
            raise InputError(f"--range {name}: the formula has no input {name!r}",
                             hint=did_you_mean(name, variables))
        if name in fixed:
            raise InputError(f"--range {name}: {name} is fixed by --at; it cannot also be sampled")
    if case.order == 2:
        return graph, names, _second_expectations(case, graph, names, fixed, kwargs)
    expect = {}
    bound = set(variables) | fixed
    for name, source in case.expect.items():
        if name not in variables:
            raise InputError(f"--expect {name}: the formula has no input {name!r}",
                             hint=did_you_mean(name, variables))
        if name not in names:
            raise InputError(f"--expect {name}: {name} is not checked (--wrt {','.join(names)})",
                             hint="add it to --wrt, or drop the expectation")
        expect[name] = _expected(name, source, bound, kwargs)
    return graph, names, expect


def _second_expectations(case: Case, graph, names: list[str], fixed: set, kwargs) -> dict:
    """The --expect graphs of an order-2 case, keyed "x,y" with x before y in ``names``
    (the Hessian is symmetric: y,x names the same entry)."""
    from autodiff_cli.language.parser import did_you_mean

    variables = graph.variables
    position = {name: k for k, name in enumerate(names)}
    bound = set(variables) | fixed
    expect: dict = {}
    written: dict = {}
    for key, source in case.expect.items():
        pair = [part.strip() for part in key.split(",")]
        if len(pair) != 2 or not all(pair):
            raise InputError(f"--expect {key}: with order 2, name two inputs, e.g. x,y",
                             hint="x,x is d²f/dx², x,y is d²f/dxdy")
        for name in pair:
            if name not in variables:
                raise InputError(f"--expect {key}: the formula has no input {name!r}",
                                 hint=did_you_mean(name, variables))
            if name not in position:
                raise InputError(f"--expect {key}: {name} is not checked "
                                 f"(--wrt {','.join(names)})",
                                 hint="add it to --wrt, or drop the expectation")
        a, b = sorted(pair, key=position.__getitem__)
        canonical = f"{a},{b}"
        if canonical in expect:
            raise InputError(f"--expect {key}: the same second derivative as "
                             f"{written[canonical]} (the Hessian is symmetric)",
                             hint="give one of them")
        expect[canonical] = _expected(key, source, bound, kwargs)
        written[canonical] = key
    return expect


def second_pairs(n: int) -> list[tuple[int, int]]:
    """The entries an order-2 case checks: (i, j) with i <= j, row by row -- each pair of
    inputs once, with repetition (x,x, x,y, y,y), as ``adiff diff --order 2`` keys them."""
    return [(i, j) for i in range(n) for j in range(i, n)]


def points_of(case: Case, graph):
    """The case's points, made lazily when they are random."""
    if case.samples is None:
        return case.points
    return iter_points(graph.variables, case.points[0] if case.points else {}, case.ranges,
                       case.samples, case.seed)


def _check_step(case: Case, graph, names: list[str]) -> None:
    """A given step that is below the spacing of doubles at a point is an input error.

    Chosen over raising the step with a warning: a step of a few units in the
    last place gives an estimate that is all rounding error (relative error
    ~eps/h), so a raised step would only turn a crash into a meaningless
    verdict; the user asked for an impossible step and is told the usable
    scale instead. Checked before any point is checked: at each fixed value
    and at both ends of each sampled interval (the spacing grows with |x|, so
    the ends are the worst). The complex step subtracts nothing: any h works.
    """
    h = case.settings.step
    if h is None or case.settings.method == "complex":
        return
    fixed = set().union(*(p.keys() for p in case.points))
    for name in names:
        if case.samples is not None and name not in fixed:
            values = case.ranges.get(name, DEFAULT_RANGE)
        else:
            values = [p[name] for p in case.points if name in p]
        for x in values:
            why = step_error(x, h)
            if why:
                given = f"step = {h:g}" if case.origin else f"--step {h:g}"
                raise InputError(f"{given} cannot be used at {name} = {x:g}: {why}",
                                 hint="choose a step many times larger than that spacing, or "
                                      "leave the step out: the default scales with |x| "
                                      f"({CENTRAL_STEP:.3g}·max(1, |x|) for central differences)")


class CaseRun:
    """One case, checked point by point: iterate it for the checked points (``Point``).

    Creating it parses the formula (unless its ``graph`` is given) and the
    expectations and checks names and the step (input errors are raised here,
    before any point). Iterating checks each point, yields it and counts it in
    ``result``; a sampled point outside the formula's domain is counted as
    skipped. Nothing is kept per point (see ``CaseResult``), so memory does not
    grow with the number of points.
    """

    def __init__(self, case: Case, progress=None, warn=None, graph=None):
        self.case = case
        self.progress = progress
        self.result = CaseResult(case)
        self.graph, self.names, self.expect = prepare(case, warn, graph)
        _check_step(case, self.graph, self.names)
        self.result.used = set(self.graph.variables).union(
            *(g.variables for g in self.expect.values()))
        self.sources = None
        if case.order == 2:
            # the formulas by the entry they check ("x,y" in --wrt order)
            position = {name: k for k, name in enumerate(self.names)}
            self.sources = {}
            for key, source in case.expect.items():
                a, b = sorted((p.strip() for p in key.split(",")), key=position.__getitem__)
                self.sources[f"{a},{b}"] = source

    def cost(self) -> tuple[int, int, float]:
        """(points, inputs checked, dependents per input on average) of the finite differences."""
        from autodiff_cli.check.numeric import mean_dependents

        points = self.case.samples if self.case.samples is not None else len(self.case.points)
        if self.case.order == 2:
            # per column input: the nodes above it, then a whole backward pass
            return points, len(self.names), \
                mean_dependents(self.graph, self.names) + len(self.graph)
        return points, len(self.names), mean_dependents(self.graph, self.names)

    def __iter__(self):
        from autodiff_cli.calculus.engine import evaluate, value_at

        case, graph, names, expect = self.case, self.graph, self.names, self.expect
        result, progress = self.result, self.progress
        started = time.perf_counter()
        sampling = case.samples is not None
        try:
            for at in points_of(case, graph):
                try:
                    ev = evaluate(graph, at, names)
                except EvalError as exc:
                    if not sampling:
                        raise
                    result.skip(at, exc.message)
                    if progress:
                        progress()
                    continue
                if case.order == 2:
                    try:
                        point = self._second(ev, at)
                    except EvalError as exc:
                        if not sampling:
                            raise
                        result.skip(at, exc.message)
                        if progress:
                            progress()
                        continue
                    yield point
                    result.add(point)
                    if progress:
                        progress()
                    continue
                estimates = check(ev, names, case.settings)
                expected = {}
                for name, g in expect.items():
                    try:
                        expected[name] = value_at(g, at)
                    except EvalError as exc:
                        expected[name] = exc
                nodes = culprit = None
                if case.nodes:
                    nodes, culprit = check_nodes(ev, case.settings)
                point = judge_point(case, {name: ev.at[name] for name in graph.variables},
                                    ev.value, estimates, expected, ev.kinks, nodes, culprit)
                yield point
                # Counted once its consumer has taken it (made its document, say): a
                # point whose document was never made (an interrupt) is not counted.
                result.add(point)
                if progress:
                    progress()
        finally:
            result.seconds = time.perf_counter() - started
        if sampling and not result.count:
            first = result.skipped[0]["reason"] if result.skipped else "no points"
            raise EvalError(f"all {result.skipped_count} sampled points are outside the "
                            f"formula's domain (the first: {first})",
                            hint="choose intervals inside the domain with --range, "
                                 "e.g. --range x=0.1:5")


    def _second(self, ev, at) -> Point:
        """One point of an order-2 case: the Hessian, its entries judged, the expectations."""
        from autodiff_cli.calculus.engine import value_at
        from autodiff_cli.calculus.second import hessian
        from autodiff_cli.check.numeric import check_hessian

        case, graph, names = self.case, self.graph, self.names
        second = hessian(graph, at, names, ev=ev)
        estimates = check_hessian(ev, names, second.matrix, case.settings,
                                  pairs=second_pairs(len(names)))
        expected = {}
        for key, g in self.expect.items():
            try:
                expected[key] = value_at(g, at)
            except EvalError as exc:
                expected[key] = exc
        gradient = {name: ev.grads[graph.variables[name]] for name in names}
        return judge_point(case, {name: ev.at[name] for name in graph.variables}, ev.value,
                           estimates, expected, ev.kinks, sources=self.sources,
                           gradient=gradient)


def _expect_verdict(e, expected, source: str, rtol: float, atol: float, order: int = 1):
    """(status, abs error, note) of a hand-written derivative against reverse mode (with
    ``order`` 2: a second derivative against the exact Hessian)."""
    what, ours = ("second derivative", "the Hessian (forward-over-reverse)") if order == 2 \
        else ("derivative", "reverse mode")
    if isinstance(expected, AdiffError):
        return "expect-mismatch", None, f"the expected {what} {source!r} cannot be " \
                                        f"evaluated here: {expected.message}"
    abs_error, _, ok = compare(expected, e.ad, rtol, atol)
    if ok:
        return None, abs_error, ""
    if e.status == "mismatch" and e.fd is not None and compare(expected, e.fd, rtol, atol)[2]:
        # The hand-written derivative agrees with the numbers, reverse mode does not.
        return None, abs_error, f"the expected {what} agrees with the numeric estimate; " \
                                f"{ours} does not (a bug in adiff: please report it)"
    return "expect-mismatch", abs_error, \
        f"the expected {what} {source!r} is {expected:.10g}, but {ours} gives " \
        f"{e.ad:.10g} (and the numeric estimate {_fmt(e.fd)})"


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.10g}"


# ---------------------------------------------------------------- spec files

_TOP_KEYS = {"method", "rtol", "atol", "step", "samples", "seed", "range", "allow_kinks",
             "nodes", "order", "case"}
_CASE_KEYS = {"name", "expr", "file", "at", "samples", "seed", "range", "expect", "wrt",
              "method", "rtol", "atol", "step", "allow_kinks", "nodes", "order"}


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    return tomllib


def read_spec(path: str) -> dict:
    """The TOML document of a spec file ('-' for stdin), read up to ``SPEC_MAX_BYTES``.

    Every failure is an input error that names the file: unreadable, too big
    (``/dev/zero`` stops after the limit), not UTF-8, not TOML -- and TOML that
    the parser cannot hold: nesting a few hundred levels deep (it recurses)
    or an integer of more than 4,300 digits (Python's limit on int()).
    A byte order mark at the start is ignored.
    """
    from autodiff_cli.files import read_limited

    tomllib = _toml()
    shown = "standard input" if path == "-" else clip(path, 120)
    try:
        data = read_limited(path, SPEC_MAX_BYTES, "spec file", "--spec")
    except InputError as exc:
        if exc.message.endswith("the limit"):
            exc.hint = ("a spec lists cases; put big formulas in files of their own "
                        "(file = \"...\", each read up to --max-size)")
        raise
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                         f"offset {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{shown} is not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{shown} is nested too deeply to read (arrays or tables within each "
                         "other hundreds of levels deep)") from None
    except ValueError as exc:  # int() of more than 4,300 digits
        what = "an integer of more than 4,300 digits" if "digits" in str(exc) else \
            f"a value that cannot be read ({clip(str(exc), 80)})"
        raise InputError(f"{shown} has {what}") from None


def load_spec(path: str, defaults: dict, max_size: int | None = None,
              allow_any_path: bool = False) -> tuple[list[Case | InputError], dict]:
    """The cases of a TOML spec file (a malformed case becomes its InputError),
    and the defaults they share (command-line options, then the file's top-level keys).

    Precedence: a case's own keys, then the file's top-level keys, then the
    command-line options (``defaults``), then the built-in defaults. A case's
    ``file`` is read relative to the spec's directory and must stay inside it
    (``allow_any_path`` lifts that).
    """
    data = read_spec(path)
    _unknown(data, _TOP_KEYS, path)
    cases = data.get("case")
    if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
        raise InputError(f"{path}: no cases: add [[case]] tables, e.g.\n"
                         "  [[case]]\n  expr = \"sigmoid(x)\"\n  at = {x = 0.3}")
    shared = {**defaults, **{k: v for k, v in data.items() if k != "case"}}
    base = (Path.cwd() if path == "-" else Path(path).resolve().parent)
    out: list[Case | InputError] = []
    for n, raw in enumerate(cases, 1):
        name = raw.get("name") if isinstance(raw.get("name"), str) else None
        # Messages are for people: a newline or ESC in a name is shown escaped.
        where = f"{path}, case {n}" + (f" ({escape_controls(clip(name, 80))})" if name else "")
        try:
            out.append(_case(raw, shared, base, where, n, max_size, allow_any_path))
        except InputError as exc:
            exc.message = f"{where}: {exc.message}" if not exc.message.startswith(path) \
                else exc.message
            exc.case_name = name if name is not None else f"case {n}"
            out.append(exc)
    return out, shared


def _formula_file(base: Path, given: str, max_size: int | None, allow_any_path: bool) -> str:
    """The formula in a case's ``file``: relative to the spec, inside its directory.

    An untrusted spec must not read ``/proc/self/environ`` or ``../../.ssh/id_rsa``
    and show it in error messages or a JUnit report: a path that resolves
    (symbolic links followed) outside the spec's directory is refused unless
    --allow-any-path. Read up to --max-size bytes (``/dev/zero`` stops there).
    """
    from autodiff_cli.files import decode_utf8, read_limited
    from autodiff_cli.language.parser import DEFAULT_MAX_SIZE

    shown = clip(given, 120)
    if "\0" in given:
        raise InputError(f"file = {clip(repr(given), 120)}: not a valid path")
    target = (base / given).resolve()
    if not allow_any_path and not target.is_relative_to(base):
        raise InputError(f"file = {escape_controls(shown)!r} is outside the spec's directory "
                         f"{escape_controls(clip(str(base), 120))}",
                         hint="a spec reads formula files next to it; pass --allow-any-path "
                              "to read this one")
    limit = max_size or DEFAULT_MAX_SIZE
    data = read_limited(str(target), limit, "formula file", "--max-size")
    return decode_utf8(data, f"file = {escape_controls(shown)!r}")


def _unknown(table: dict, allowed: set, where: str) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise InputError(f"{where}: unknown key {key!r}"
                             + (f"; did you mean {near[0]!r}?" if near else ""),
                             hint="keys: " + ", ".join(sorted(allowed)))


def _case(raw: dict, defaults: dict, base: Path, where: str, n: int, max_size,
          allow_any_path: bool = False) -> Case:
    _unknown(raw, _CASE_KEYS, where)
    get = lambda key: raw.get(key, defaults.get(key))  # noqa: E731
    if ("expr" in raw) == ("file" in raw):
        raise InputError("give the formula as expr = \"...\" or file = \"path\" (one of them)")
    file = None
    if "expr" in raw:
        source = _typed(raw["expr"], str, "expr")
    else:
        file = _typed(raw["file"], str, "file")
        source = _formula_file(base, file, max_size, allow_any_path)
    name = _typed(raw.get("name", f"case {n}"), str, "name")
    points = _points(raw.get("at"))
    samples = get("samples")
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise InputError(f"samples = {samples!r}: expected a positive whole number")
        check_samples(samples, "samples =")
        if len(points) > 1:
            raise InputError("with samples, 'at' fixes some inputs: give one table, not a list")
    elif "at" not in raw:
        raise InputError("no point: give at = {x = ...} or samples = N")
    seed = get("seed")
    if seed is None:
        seed = DEFAULT_SEED
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed = {seed!r}: expected a whole number")
    rng = get("range")
    if rng is None:
        ranges = {}
    elif isinstance(rng, str):
        ranges = parse_ranges([rng], "range")
    elif isinstance(rng, dict):
        ranges = {}
        for key, value in rng.items():
            if isinstance(value, str):
                lo, colon, hi = value.partition(":")
                if not colon:
                    raise InputError(f"range {key} = {value!r}: expected \"low:high\"")
                ranges[key] = _interval(key, lo, hi, "range")
            elif isinstance(value, list) and len(value) == 2:
                ranges[key] = _interval(key, value[0], value[1], "range")
            else:
                raise InputError(f"range {key} = {value!r}: expected [low, high] or \"low:high\"")
    else:
        raise InputError(f"range = {rng!r}: expected a table like {{x = [-1, 1]}} or \"x=-1:1\"")
    if ranges and samples is None:
        raise InputError("range needs samples = N")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict) or not all(isinstance(v, str) for v in expect.values()):
        raise InputError("expect: expected a table of input = \"derivative formula\"")
    wrt = raw.get("wrt", defaults.get("wrt"))
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()]
    elif wrt is not None and not (isinstance(wrt, list) and all(isinstance(w, str) for w in wrt)):
        raise InputError(f"wrt = {wrt!r}: expected a list of input names")
    method = get("method") or "central"
    if method not in METHODS:
        raise InputError(f"method = {method!r}: expected one of {', '.join(METHODS)}")
    order = get("order")
    if order is None:
        order = 1
    elif isinstance(order, bool) or not isinstance(order, int) or order not in (1, 2):
        raise InputError(f"order = {order!r}: expected 1 (gradients) or 2 (second derivatives)")
    if order == 2:
        if method == "complex":
            raise InputError("method = \"complex\" is not available with order = 2",
                             hint=COMPLEX_ORDER2)
        if get("nodes"):
            raise InputError("nodes = true checks first derivatives node by node; it cannot be "
                             "combined with order = 2")
    rtol, atol, step = get("rtol"), get("atol"), get("step")
    for key, v in (("rtol", rtol), ("atol", atol), ("step", step)):
        if v is not None:
            v = _number(v, key)
            if v < 0 or (key == "step" and v == 0):
                raise InputError(f"{key} = {v:g}: must be {'positive' if key == 'step' else '>= 0'}")
    rtol, atol, step = (None if v is None else float(v) for v in (rtol, atol, step))
    return Case(source=source, name=name, points=points, samples=samples, seed=seed,
                ranges=ranges, expect=dict(expect), wrt=wrt,
                settings=Settings(method, rtol, atol, step),
                allow_kinks=bool(_typed(get("allow_kinks") or False, bool, "allow_kinks")),
                nodes=bool(_typed(get("nodes") or False, bool, "nodes")),
                max_size=max_size, origin=where, file=file, order=order)


def _typed(v, kind, key):
    if not isinstance(v, kind) or (kind is not bool and isinstance(v, bool)):
        raise InputError(f"{key} = {v!r}: expected {'a string' if kind is str else kind.__name__}")
    return v


def _points(at) -> list[dict[str, float]]:
    if at is None:
        return [{}]
    tables = at if isinstance(at, list) else [at]
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError("at: expected a table like {x = 0.3} or a list of them")
    out = []
    for t in tables:
        point = {}
        for name, v in t.items():
            point[name] = parse_value(name, v) if isinstance(v, str) else _number(v, f"at {name}")
        out.append(point)
    return out
