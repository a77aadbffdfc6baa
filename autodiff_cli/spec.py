"""Cases for `adiff check`: points, random samples, hand-written derivatives, spec files, JUnit.

A *case* is one formula checked at one or more points: fixed points (``--at``
or ``at = {...}``) or random ones (``--samples N --seed S --range x=lo:hi``),
optionally against hand-written partial derivatives (``--expect x=EXPR``).
``run_case`` returns the case's points as plain documents (the ``cases`` of
the JSON output); a spec file (TOML) is a list of cases.
"""

from __future__ import annotations

import math
import random
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .bindings import parse_value
from .errors import AdiffError, EvalError, InputError, clip, escape_controls
from .numeric import METHODS, RULE, Settings, check_inputs, check_nodes, compare, step_error
from .render import num
from .report import comparison_fields, kink_entries

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


def parse_expect(specs) -> dict[str, str]:
    """``--expect x=EXPR`` (repeatable, one input each) -> {"x": "EXPR"}.

    Only the first '=' separates the name: the EXPR may contain commas
    (``max(x, y)``) and even assignments (``s = sigmoid(x); s*(1 - s)``).
    """
    out: dict[str, str] = {}
    for spec in specs:
        name, eq, source = spec.partition("=")
        name = unicodedata.normalize("NFC", name.strip())
        if not eq or not name or not name.isidentifier():
            raise InputError(f"--expect {spec}: expected NAME=EXPR, e.g. --expect x=\"2*x\"")
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


# ---------------------------------------------------------------- running a case

class Tally:
    """The counts of a stream of points and its worst failing input, in bounded memory.

    The same numbers as ``summary`` and ``worst`` over the whole list, without
    the list: points are counted as they come, the first ``keep`` failing
    points are kept (for the JUnit text), the worst one is remembered.
    """

    def __init__(self, keep: int = FAILING_KEPT):
        self.points = 0
        self.counts = dict.fromkeys(STATUSES, 0)
        self.failing = 0  # failing points
        self.kept: list[dict] = []  # the first ``keep`` failing points
        self.keep = keep
        self._key = None
        self._worst = None  # (failing point, its index among the failing ones, input)

    def add(self, p: dict) -> None:
        self.points += 1
        counts = self.counts
        for st in p["status"].values():
            counts[st] = counts.get(st, 0) + 1
        if p["ok"]:
            return
        index = self.failing
        self.failing += 1
        if len(self.kept) < self.keep:
            self.kept.append(p)
        for name, st in p["status"].items():
            k = (STATUSES.index(st), -_ratio(p, name))
            if self._key is None or k < self._key:
                self._key, self._worst = k, (p, index, name)

    def summary(self) -> dict:
        return {"points": self.points, "gradients": sum(self.counts.values()), **self.counts}

    def worst(self) -> dict | None:
        """``worst`` of the failing points (None when none failed)."""
        if self._worst is None:
            return None
        p, index, name = self._worst
        return _worst_entry(p, index, name)


class CaseResult:
    """What a case gave: counts, the worst failure, the first skipped points, or its error.

    ``points`` holds the case's point documents only when they are kept
    (``keep_points``); a run streams them instead and keeps their counts.
    """

    def __init__(self, case: Case, keep_points: bool = True):
        self.case = case
        self.error: AdiffError | None = None  # an input or evaluation error that stopped it
        self.seconds = 0.0
        self.used: set = set()  # variables of the formula and the expectations
        self.tally = Tally()
        self.skipped: list[dict] = []  # {"at", "reason"}, the first SKIPPED_LISTED
        self.skipped_count = 0
        self.points = _Kept(self) if keep_points else _Counted(self)

    def add(self, point: dict) -> None:
        """Count a checked point (``points.append`` does the same)."""
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


class _Kept(list):
    """The point documents of a case, kept; append counts them too."""

    def __init__(self, result: CaseResult):
        super().__init__()
        self._result = result

    def append(self, point: dict) -> None:
        self._result.add(point)
        super().append(point)


class _Counted(_Kept):
    """Points counted, not kept (a streamed run)."""

    def append(self, point: dict) -> None:
        self._result.add(point)


def prepare(case: Case, warn=None):
    """Parse the formula and the expectations; check names. Returns (graph, names, expect graphs)."""
    from .parser import parse, suggest

    kwargs = {"max_size": case.max_size} if case.max_size else {}
    warnings: list[str] = []
    graph = parse(case.source, warnings=warnings, **kwargs)
    if warn:
        for message in warnings:
            warn(message)
    variables = graph.variables
    names = list(variables) if case.wrt is None else case.wrt
    for name in names:
        if name not in variables:
            near = suggest(name, variables)
            raise InputError(f"--wrt {name}: the formula has no input {name!r}",
                             hint=f"did you mean {near}?" if near else
                             f"its inputs are: {', '.join(list(variables)[:20]) or 'none'}")
    fixed = set().union(*(p.keys() for p in case.points))
    for name in case.ranges:
        if name not in variables:
            near = suggest(name, variables)
            raise InputError(f"--range {name}: the formula has no input {name!r}",
                             hint=f"did you mean {near}?" if near else None)
        if name in fixed:
            raise InputError(f"--range {name}: {name} is fixed by --at; it cannot also be sampled")
    expect = {}
    bound = set(variables) | fixed
    for name, source in case.expect.items():
        if name not in variables:
            near = suggest(name, variables)
            raise InputError(f"--expect {name}: the formula has no input {name!r}",
                             hint=f"did you mean {near}?" if near else None)
        if name not in names:
            raise InputError(f"--expect {name}: {name} is not checked (--wrt {','.join(names)})",
                             hint="add it to --wrt, or drop the expectation")
        try:
            g = parse(source, **kwargs)
        except InputError as exc:
            exc.message = f"in --expect {name}: {exc.message}"
            raise
        unbound = [v for v in g.variables if v not in bound]
        if unbound:
            raise InputError(f"--expect {name}={source}: {unbound[0]!r} is neither an input of "
                             "the formula nor bound with --at", source=source,
                             span=(g.starts[g.variables[unbound[0]]], g.ends[g.variables[unbound[0]]]))
        expect[name] = g
    return graph, names, expect


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
                                      "(6.06e-06·max(1, |x|) for central differences)")


class CaseRun:
    """One case, checked point by point: iterate it for the point documents.

    Creating it parses the formula and the expectations and checks names and
    the step (input errors are raised here, before any point). Iterating
    checks each point, counts it in ``result`` and yields its document; a
    sampled point outside the formula's domain is counted as skipped. Nothing
    is kept per point (see ``CaseResult``), so memory does not grow with the
    number of points.
    """

    def __init__(self, case: Case, progress=None, warn=None, keep_points: bool = False):
        self.case = case
        self.progress = progress
        self.result = CaseResult(case, keep_points)
        self.graph, self.names, self.expect = prepare(case, warn)
        _check_step(case, self.graph, self.names)
        self.result.used = set(self.graph.variables).union(
            *(g.variables for g in self.expect.values()))

    def cost(self) -> tuple[int, int, float]:
        """(points, inputs checked, dependents per input on average) of the finite differences."""
        from .numeric import mean_dependents

        points = self.case.samples if self.case.samples is not None else len(self.case.points)
        return points, len(self.names), mean_dependents(self.graph, self.names)

    def __iter__(self):
        from .engine import evaluate, value_at

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
                estimates = check_inputs(graph, ev.values, ev.local, ev.grads, ev.kinks, names,
                                         case.settings)
                expected = {}
                for name, g in expect.items():
                    try:
                        expected[name] = value_at(g, at)
                    except EvalError as exc:
                        expected[name] = exc
                nodes = culprit = None
                if case.nodes:
                    nodes, culprit = check_nodes(graph, ev.values, ev.local, ev.grads, ev.kinks,
                                                 case.settings)
                point = point_document(case, graph, ev, estimates, expected, nodes, culprit)
                result.points.append(point)
                if progress:
                    progress()
                yield point
        finally:
            result.seconds = time.perf_counter() - started
        if sampling and not result.count:
            first = result.skipped[0]["reason"] if result.skipped else "no points"
            raise EvalError(f"all {result.skipped_count} sampled points are outside the "
                            f"formula's domain (the first: {first})",
                            hint="choose intervals inside the domain with --range, "
                                 "e.g. --range x=0.1:5")


def run_case(case: Case, progress=None, warn=None) -> CaseResult:
    """Check the case at each of its points, keeping them. Errors propagate."""
    run = CaseRun(case, progress, warn, keep_points=True)
    for _ in run:
        pass
    return run.result


def _expect_verdict(e, expected, source: str, rtol: float, atol: float):
    """(status, abs error, note) of a hand-written derivative against reverse mode."""
    if isinstance(expected, AdiffError):
        return "expect-mismatch", None, f"the expected derivative {source!r} cannot be " \
                                        f"evaluated here: {expected.message}"
    abs_error, _, ok = compare(expected, e.ad, rtol, atol)
    if ok:
        return None, abs_error, ""
    if e.status == "mismatch" and e.fd is not None and compare(expected, e.fd, rtol, atol)[2]:
        # The hand-written derivative agrees with the numbers, reverse mode does not.
        return None, abs_error, "the expected derivative agrees with the numeric estimate; " \
                                "reverse mode does not (a bug in adiff: please report it)"
    return "expect-mismatch", abs_error, \
        f"the expected derivative {source!r} is {expected:.10g}, but reverse mode gives " \
        f"{e.ad:.10g} (and the numeric estimate {_fmt(e.fd)})"


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.10g}"


def point_document(case: Case, graph, ev, estimates, expected, nodes, culprit) -> dict:
    status, notes, expect_values, expect_errors = {}, {}, {}, {}
    for e in estimates:
        st, note = e.status, e.note
        if e.name in expected and st != "kink":
            verdict, err, why = _expect_verdict(e, expected[e.name], case.expect[e.name],
                                                e.rtol, e.atol)
            value = expected[e.name]
            expect_values[e.name] = None if isinstance(value, AdiffError) else num(value)
            expect_errors[e.name] = num(err)
            if verdict:
                st = verdict
            if why:
                note = f"{why}; {note}" if note else why
        elif e.name in expected:
            value = expected[e.name]
            expect_values[e.name] = None if isinstance(value, AdiffError) else num(value)
            expect_errors[e.name] = None
        status[e.name] = st
        if note:
            notes[e.name] = note
    passing = ("ok", "kink") if case.allow_kinks else ("ok",)
    doc = {}
    if case.name:
        doc["name"] = case.name
    doc["at"] = {name: ev.at[name] for name in graph.variables}
    doc["value"] = num(ev.value)
    doc.update(comparison_fields(estimates))
    doc["status"] = status  # with the verdicts on --expect
    if expected:
        doc["expected"] = expect_values
        doc["expect_abs_error"] = expect_errors
    if notes:
        doc["notes"] = notes
    doc["kinks"] = kink_entries(graph, ev.kinks)
    ok = all(s in passing for s in status.values())
    if nodes is not None:
        doc["nodes"] = [{"id": f"n{e.node}", "op": graph.ops[e.node].name,
                         "label": graph.labels[e.node], "grad": num(e.ad), "numeric": num(e.fd),
                         "abs_error": num(e.abs_error), "rel_error": num(e.rel_error),
                         "tolerance": num(e.tolerance), "step": e.step, "method": e.method,
                         "status": e.status, **({"note": e.note} if e.note else {})}
                        for e in nodes]
        doc["culprit"] = culprit
        ok = ok and all(e.status in passing for e in nodes)
    doc["ok"] = ok
    return doc


# ---------------------------------------------------------------- summaries

def summary(points: list[dict]) -> dict:
    counts = dict.fromkeys(STATUSES, 0)
    for p in points:
        for st in p["status"].values():
            counts[st] = counts.get(st, 0) + 1
    return {"points": len(points), "gradients": sum(counts.values()), **counts}


def worst(points: list[dict]) -> dict | None:
    """The worst (point, input) of a run: failing statuses first, then the largest
    error relative to its tolerance."""
    best, key = None, None
    for index, p in enumerate(points):
        for name, st in p["status"].items():
            k = (STATUSES.index(st), -_ratio(p, name))
            if key is None or k < key:
                best, key = (index, name), k
    if best is None:
        return None
    index, name = best
    return _worst_entry(points[index], index, name)


def _worst_entry(p: dict, index: int, name: str) -> dict:
    out = {"case": index, "input": name, "status": p["status"][name], "at": p["at"],
           "gradient": p["gradient"][name], "numeric": p["numeric"][name],
           "abs_error": p["abs_error"][name], "rel_error": p["rel_error"][name],
           "tolerance": p["tolerance"][name]}
    if "name" in p:
        out["name"] = p["name"]
    if "expected" in p and name in p["expected"]:
        out["expected"] = p["expected"][name]
        out["expect_abs_error"] = p["expect_abs_error"][name]
    if name in p.get("notes", {}):
        out["note"] = p["notes"][name]
    return out


def _ratio(p: dict, name: str) -> float:
    errors = [p["abs_error"].get(name)]
    if "expect_abs_error" in p:
        errors.append(p["expect_abs_error"].get(name))
    tol = p["tolerance"].get(name)
    vals = [e for e in errors if isinstance(e, (int, float))]
    if not vals or not isinstance(tol, (int, float)):
        return math.inf if p["status"][name] != "ok" else 0.0
    return max(vals) / tol if tol > 0 else math.inf


def failure_text(w: dict) -> str:
    """One paragraph for a failing input: where, both values, errors, tolerance."""
    at = ", ".join(f"{k}={_short(v)}" for k, v in w["at"].items())
    head = f"{w['input']} at ({at})"
    status, note = w["status"], w.get("note", "")
    tolerance = f"tolerance {_short(w['tolerance'])}"
    if status == "expect-mismatch":
        err = w.get("expect_abs_error")
        size = f"; |expected - reverse mode| = {_short(err)} > {tolerance}" if err is not None else ""
        return f"{head}: wrong expected derivative: {note}{size}"
    if status == "kink":
        return f"{head}: not differentiable at this point (an op sits on its kink); " \
               f"reverse mode {_short(w['gradient'])}, numeric {_short(w['numeric'])}"
    values = f"reverse mode {_short(w['gradient'])}, numeric {_short(w['numeric'])}"
    errors = f"abs error {_short(w['abs_error'])}, rel error {_short(w['rel_error'])}"
    what = {"mismatch": "reverse mode disagrees with finite differences",
            "inconclusive": "inconclusive", "unavailable": "no numeric estimate"}.get(status, status)
    text = f"{head}: {what}: {values}; {errors}; {tolerance} ({RULE})"
    return text + (f"; {note}" if note else "")


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


# ---------------------------------------------------------------- spec files

_TOP_KEYS = {"method", "rtol", "atol", "step", "samples", "seed", "range", "allow_kinks",
             "nodes", "case"}
_CASE_KEYS = {"name", "expr", "file", "at", "samples", "seed", "range", "expect", "wrt",
              "method", "rtol", "atol", "step", "allow_kinks", "nodes"}


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
    from .files import read_limited

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
    from .files import read_limited
    from .parser import DEFAULT_MAX_SIZE

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
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"file = {escape_controls(shown)!r} is not valid UTF-8 (byte "
                         f"0x{data[exc.start]:02x} at offset {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


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
                max_size=max_size, origin=where, file=file)


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


# ---------------------------------------------------------------- JUnit XML

def junit(results: list[CaseResult], suite: str, interrupted: bool = False) -> bytes:
    """A JUnit XML report: one testcase per case; failures carry the worst input.

    Every text and attribute is made legal XML 1.0 (``xml_text``): a control
    character in a case name, a message or a formula would otherwise make the
    whole report unreadable. A formula read from a file is named by its path,
    not quoted. ``interrupted``: the run was stopped (Ctrl-C) after these
    cases; a last testcase says so, as an error.
    """
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.error is None and not r.ok)
    errors = sum(1 for r in results if r.error is not None) + (1 if interrupted else 0)
    tests = len(results) + (1 if interrupted else 0)
    total_time = sum(r.seconds for r in results)
    root = ET.Element("testsuites", name="adiff check", tests=str(tests),
                      failures=str(failures), errors=str(errors), time=f"{total_time:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(tests),
                       failures=str(failures), errors=str(errors), skipped="0",
                       time=f"{total_time:.3f}")
    classname = f"adiff.check.{_classname(suite)}"
    for r in results:
        name = r.case.name or _short_source(r.case.source)
        tc = ET.SubElement(ts, "testcase", classname=classname, name=name,
                           time=f"{r.seconds:.3f}")
        if r.error is not None:
            kind = "InputError" if isinstance(r.error, InputError) else "EvalError"
            el = ET.SubElement(tc, "error", message=r.error.message, type=kind)
            el.text = r.error.render()
        elif not r.ok:
            failing = r.tally.kept
            w = r.tally.worst()
            el = ET.SubElement(tc, "failure", message=failure_text(w), type=w["status"])
            lines = [f"{r.tally.failing} of {r.count} points failed"]
            lines += [failure_text(x) for x in _failing_inputs(failing)[:20]]
            el.text = "\n".join(lines)
        if r.case.file is not None:
            formula = f"file: {r.case.file}"
        elif r.case.source:
            formula = f"expression: {_short_source(r.case.source, 500)}"
        else:
            formula = "expression: (none: the case could not be read)"
        out = [formula,
               f"method: {r.case.settings.method}; points checked: {r.count}; "
               f"skipped (outside the domain): {r.skipped_count}"]
        ET.SubElement(tc, "system-out").text = "\n".join(out)
    if interrupted:
        tc = ET.SubElement(ts, "testcase", classname=classname, name="interrupted", time="0.000")
        el = ET.SubElement(tc, "error", message="the run was interrupted (Ctrl-C) before every "
                                                "case was checked", type="Interrupted")
        el.text = f"{len(results)} case(s) finished before the interruption; the report is " \
                  "incomplete"
    for el in root.iter():
        el.text = xml_text(el.text)
        for key, value in el.attrib.items():
            el.attrib[key] = xml_text(value)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


#: Characters XML 1.0 does not allow (its Char production): C0 controls but
#: tab, newline and carriage return; surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(text: str | None) -> str | None:
    """``text`` with each character XML 1.0 cannot hold written as a visible escape (\\x07)."""
    if text is None:
        return None
    return _NOT_XML.sub(_xml_escape, text)


def _failing_inputs(points: list[dict]) -> list[dict]:
    out = []
    for index, p in enumerate(points):
        for name, st in p["status"].items():
            if st != "ok":
                w = worst([{**p, "status": {name: st}}])
                w["case"] = index
                out.append(w)
    return out


def _classname(text: str) -> str:
    stem = Path(text).stem or "spec"
    return "".join(c if c.isalnum() or c == "_" else "_" for c in stem)


def _short_source(text: str, limit: int = 80) -> str:
    lines = (" ".join(line.split("#")[0].split()) for line in text.splitlines())
    text = "; ".join(line for line in lines if line)
    return text if len(text) <= limit else text[:limit] + " …"
