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
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .bindings import parse_value
from .errors import AdiffError, EvalError, InputError
from .numeric import METHODS, RULE, Settings, check_inputs, check_nodes, compare
from .render import num
from .report import comparison_fields, kink_entries

#: Interval each sampled input is drawn from when --range does not name it.
DEFAULT_RANGE = (-1.0, 1.0)
DEFAULT_SEED = 0

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

def sample_points(variables, fixed: dict[str, float], ranges: dict[str, tuple[float, float]],
                  n: int, seed: int) -> list[dict[str, float]]:
    """``n`` points: the inputs in ``fixed`` keep their value, the others are drawn
    uniformly from their range (default ``DEFAULT_RANGE``), in order of first
    appearance in the formula, from ``random.Random(seed)``: the same formula,
    ranges and seed give the same points on every run and platform."""
    rng = random.Random(seed)
    free = [name for name in variables if name not in fixed]
    points = []
    for _ in range(n):
        at = dict(fixed)
        for name in free:
            lo, hi = ranges.get(name, DEFAULT_RANGE)
            at[name] = rng.uniform(lo, hi)
        points.append(at)
    return points


# ---------------------------------------------------------------- running a case

@dataclass
class CaseResult:
    case: Case
    points: list[dict] = field(default_factory=list)  # the JSON "cases" entries
    skipped: list[dict] = field(default_factory=list)  # {"at", "reason"}
    error: AdiffError | None = None  # an input or evaluation error that stopped the case
    seconds: float = 0.0
    used: set = field(default_factory=set)  # variables of the formula and the expectations

    @property
    def ok(self) -> bool:
        return self.error is None and all(p["ok"] for p in self.points)


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


def points_of(case: Case, graph) -> list[dict[str, float]]:
    if case.samples is None:
        return case.points
    return sample_points(graph.variables, case.points[0] if case.points else {}, case.ranges,
                         case.samples, case.seed)


def run_case(case: Case, progress=None, warn=None) -> CaseResult:
    """Check the case at each of its points. Input and evaluation errors propagate."""
    from .engine import evaluate, value_at

    started = time.perf_counter()
    result = CaseResult(case)
    graph, names, expect = prepare(case, warn)
    result.used = set(graph.variables).union(*(g.variables for g in expect.values()))
    points = points_of(case, graph)
    sampling = case.samples is not None
    for at in points:
        try:
            ev = evaluate(graph, at, names)
        except EvalError as exc:
            if not sampling:
                raise
            result.skipped.append({"at": at, "reason": exc.message})
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
        result.points.append(point_document(case, graph, ev, estimates, expected, nodes, culprit))
        if progress:
            progress()
    result.seconds = time.perf_counter() - started
    if sampling and not result.points:
        first = result.skipped[0]["reason"] if result.skipped else "no points"
        raise EvalError(f"all {len(points)} sampled points are outside the formula's domain "
                        f"(the first: {first})",
                        hint="choose intervals inside the domain with --range, e.g. --range x=0.1:5")
    return result


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
    p = points[index]
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


def load_spec(path: str, defaults: dict, max_size: int | None = None
              ) -> tuple[list[Case | InputError], dict]:
    """The cases of a TOML spec file (a malformed case becomes its InputError),
    and the defaults they share (command-line options, then the file's top-level keys).

    Precedence: a case's own keys, then the file's top-level keys, then the
    command-line options (``defaults``), then the built-in defaults.
    """
    tomllib = _toml()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"cannot read {path}: it is a directory") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not valid UTF-8: {exc}") from None
    _unknown(data, _TOP_KEYS, path)
    cases = data.get("case")
    if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
        raise InputError(f"{path}: no cases: add [[case]] tables, e.g.\n"
                         "  [[case]]\n  expr = \"sigmoid(x)\"\n  at = {x = 0.3}")
    shared = {**defaults, **{k: v for k, v in data.items() if k != "case"}}
    base = Path(path).resolve().parent
    out: list[Case | InputError] = []
    for n, raw in enumerate(cases, 1):
        where = f"{path}, case {n}" + (f" ({raw['name']})" if isinstance(raw.get("name"), str) else "")
        try:
            out.append(_case(raw, shared, base, where, n, max_size))
        except InputError as exc:
            exc.message = f"{where}: {exc.message}" if not exc.message.startswith(path) \
                else exc.message
            exc.case_name = raw.get("name") if isinstance(raw.get("name"), str) else f"case {n}"
            out.append(exc)
    return out, shared


def _unknown(table: dict, allowed: set, where: str) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise InputError(f"{where}: unknown key {key!r}"
                             + (f"; did you mean {near[0]!r}?" if near else ""),
                             hint="keys: " + ", ".join(sorted(allowed)))


def _case(raw: dict, defaults: dict, base: Path, where: str, n: int, max_size) -> Case:
    _unknown(raw, _CASE_KEYS, where)
    get = lambda key: raw.get(key, defaults.get(key))  # noqa: E731
    if ("expr" in raw) == ("file" in raw):
        raise InputError("give the formula as expr = \"...\" or file = \"path\" (one of them)")
    if "expr" in raw:
        source = _typed(raw["expr"], str, "expr")
    else:
        fpath = base / _typed(raw["file"], str, "file")
        try:
            source = fpath.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {fpath}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{fpath} is not valid UTF-8") from None
    name = _typed(raw.get("name", f"case {n}"), str, "name")
    points = _points(raw.get("at"))
    samples = get("samples")
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise InputError(f"samples = {samples!r}: expected a positive whole number")
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
                max_size=max_size, origin=where)


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

def junit(results: list[CaseResult], suite: str) -> bytes:
    """A JUnit XML report: one testcase per case; failures carry the worst input."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.error is None and not r.ok)
    errors = sum(1 for r in results if r.error is not None)
    total_time = sum(r.seconds for r in results)
    root = ET.Element("testsuites", name="adiff check", tests=str(len(results)),
                      failures=str(failures), errors=str(errors), time=f"{total_time:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(failures), errors=str(errors), skipped="0",
                       time=f"{total_time:.3f}")
    for r in results:
        name = r.case.name or _short_source(r.case.source)
        tc = ET.SubElement(ts, "testcase", classname=f"adiff.check.{_classname(suite)}",
                           name=name, time=f"{r.seconds:.3f}")
        if r.error is not None:
            kind = "InputError" if isinstance(r.error, InputError) else "EvalError"
            el = ET.SubElement(tc, "error", message=r.error.message, type=kind)
            el.text = r.error.render()
        elif not r.ok:
            failing = [p for p in r.points if not p["ok"]]
            w = worst(failing)
            el = ET.SubElement(tc, "failure", message=failure_text(w), type=w["status"])
            lines = [f"{len(failing)} of {len(r.points)} points failed"]
            lines += [failure_text(x) for x in _failing_inputs(failing)[:20]]
            el.text = "\n".join(lines)
        out = [f"expression: {_short_source(r.case.source, 500)}",
               f"method: {r.case.settings.method}; points checked: {len(r.points)}; "
               f"skipped (outside the domain): {len(r.skipped)}"]
        ET.SubElement(tc, "system-out").text = "\n".join(out)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


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
