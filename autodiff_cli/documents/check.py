"""The document of ``adiff check``: one entry per checked point, then the run's summary.

A run is streamed: its points (``spec.Point``, from ``spec.CaseRun`` or a pass
over data) become entries one at a time (``point_document``) and are not kept.
The summary fields need every point, so a ``Document`` holds them as *late*
fields, filled in (``late_fields``) when the stream of cases ends; JSON writes
them after the "cases" array. A table keeps only the points it shows
(``Keeper``), plain output reads them as a one-pass ``PointStream``.
"""

from __future__ import annotations

import math

from autodiff_cli.check.cases import SKIPPED_LISTED, rank
from autodiff_cli.check.numeric import (
    CENTRAL_STEP,
    COMPLEX_STEP,
    ONE_SIDED_STEP,
    RICHARDSON_STEP,
    RULE,
    Estimate,
)
from autodiff_cli.documents.base import num
from autodiff_cli.documents.shared import kink_entries
from autodiff_cli.errors import AdiffError

#: A table keeps every point while there are this many; beyond, it keeps the
#: first KEEP_FAILING failing points, the worst passing point of each input
#: and the first point at each kink (the JSON has every point).
KEEP_POINTS = 2_000
KEEP_FAILING = 1_000

#: What an order-2 check compares, in words (the document's "of").
SECOND_OF = ("the Hessian (forward-over-reverse) against finite differences of the reverse-mode "
             "gradient: entry x,y is the derivative of df/dx along y")

#: How each method estimates, in words (the steps are numeric's).
METHOD_TEXT = {
    "central": f"central differences, h = cbrt(eps)·max(1, |x|) ≈ {CENTRAL_STEP:.3g}·max(1, |x|)",
    "forward": f"forward differences, h = sqrt(eps)·max(1, |x|) ≈ {ONE_SIDED_STEP:.3g}·max(1, |x|)",
    "backward": f"backward differences, h = sqrt(eps)·max(1, |x|) ≈ {ONE_SIDED_STEP:.3g}·max(1, |x|)",
    "complex": f"complex step, Im f(x + ih)/h with h = {COMPLEX_STEP:g}·max(1, |x|)",
    "richardson": f"Richardson extrapolation (Ridders) from h = 2^{math.log2(RICHARDSON_STEP):.0f}"
                  "·max(1, |x|), halving",
}


# ---------------------------------------------------------------- points

def comparison_fields(estimates: list[Estimate], key: str = "gradient") -> dict:
    """The per-input fields of a `check` point: reverse mode, the estimate, errors, verdict
    (``key`` "hessian": the second derivatives of an order-2 point, by "x,y")."""
    doc = {
        key: {e.name: num(e.ad) for e in estimates},
        "numeric": {e.name: num(e.fd) for e in estimates},
        "abs_error": {e.name: num(e.abs_error) for e in estimates},
        "rel_error": {e.name: num(e.rel_error) for e in estimates},
        "tolerance": {e.name: num(e.tolerance) for e in estimates},
        "step": {e.name: e.step for e in estimates},
        "methods": {e.name: e.method for e in estimates},
        "status": {e.name: e.status for e in estimates},
    }
    if any(e.error is not None for e in estimates):
        doc["error_estimate"] = {e.name: num(e.error) for e in estimates}
    return doc


def _expected(value):
    return None if isinstance(value, AdiffError) else num(value)


def point_document(case, graph, point) -> dict:
    """The entry of one checked point (``spec.Point``) of ``case`` in "cases"."""
    doc = {}
    if case.name:
        doc["name"] = case.name
    doc["at"] = point.at
    doc["value"] = num(point.value)
    if point.order == 2:
        doc["order"] = 2
        doc["gradient"] = {name: num(g) for name, g in point.gradient.items()}
        doc.update(comparison_fields(point.estimates, "hessian"))
    else:
        doc.update(comparison_fields(point.estimates))
    doc["status"] = point.status  # with the verdicts on --expect
    if point.expected:
        names = [e.name for e in point.estimates if e.name in point.expected]
        doc["expected"] = {name: _expected(point.expected[name]) for name in names}
        doc["expect_abs_error"] = {name: num(point.expect_errors[name]) for name in names}
    if point.notes:
        doc["notes"] = point.notes
    doc["kinks"] = kink_entries(graph, point)
    if point.nodes is not None:
        doc["nodes"] = [{"id": f"n{e.node}", "op": graph.ops[e.node].name,
                         "label": graph.labels[e.node], "grad": num(e.ad), "numeric": num(e.fd),
                         "abs_error": num(e.abs_error), "rel_error": num(e.rel_error),
                         "tolerance": num(e.tolerance), "step": e.step, "method": e.method,
                         "status": e.status, **({"note": e.note} if e.note else {})}
                        for e in point.nodes]
        doc["culprit"] = point.culprit
    doc["ok"] = point.ok
    return doc


# ---------------------------------------------------------------- the worst failure

def worst_entry(worst) -> dict | None:
    """The entry of a failing input, from ``(point, its index, input)`` (``Tally.worst``)."""
    if worst is None:
        return None
    p, index, name = worst
    return _input_entry(p, index, p.estimate(name))


def _input_entry(p, index: int, e) -> dict:
    name = e.name
    out = {"case": index, "input": name, "status": p.status[name], "at": p.at}
    if p.order == 2:
        out["order"] = 2
        out["hessian"] = num(e.ad)
    else:
        out["gradient"] = num(e.ad)
    out.update({"numeric": num(e.fd), "abs_error": num(e.abs_error),
                "rel_error": num(e.rel_error), "tolerance": num(e.tolerance)})
    if p.name:
        out["name"] = p.name
    if name in p.expected:
        out["expected"] = _expected(p.expected[name])
        out["expect_abs_error"] = num(p.expect_errors[name])
    if name in p.notes:
        out["note"] = p.notes[name]
    return out


def failing_entries(points, limit: int) -> list[dict]:
    """The entries of the first ``limit`` failing inputs of ``points`` (each numbered by
    its position)."""
    out = []
    for index, p in enumerate(points):
        for e in p.estimates:
            if p.status[e.name] != "ok":
                if len(out) == limit:
                    return out
                out.append(_input_entry(p, index, e))
    return out


def failure_text(w: dict) -> str:
    """One paragraph for a failing input: where, both values, errors, tolerance."""
    at = ", ".join(f"{k}={_short(v)}" for k, v in w["at"].items())
    second = w.get("order") == 2
    head = f"{'d²f/d' + 'd'.join(w['input'].split(',')) if second else w['input']} at ({at})"
    status, note = w["status"], w.get("note", "")
    tolerance = f"tolerance {_short(w['tolerance'])}"
    ours, ad = ("the Hessian", w["hessian"]) if second else ("reverse mode", w["gradient"])
    if status == "expect-mismatch":
        err = w.get("expect_abs_error")
        size = f"; |expected - {ours}| = {_short(err)} > {tolerance}" if err is not None else ""
        wrong = "wrong expected second derivative" if second else "wrong expected derivative"
        return f"{head}: {wrong}: {note}{size}"
    if status == "kink":
        return f"{head}: not differentiable at this point (an op sits on its kink); " \
               f"{ours} {_short(ad)}, numeric {_short(w['numeric'])}"
    values = f"{ours} {_short(ad)}, numeric {_short(w['numeric'])}"
    errors = f"abs error {_short(w['abs_error'])}, rel error {_short(w['rel_error'])}"
    what = {"mismatch": f"{ours} disagrees with finite differences"
                        + (" of the gradient" if second else ""),
            "inconclusive": "inconclusive", "unavailable": "no numeric estimate"}.get(status, status)
    text = f"{head}: {what}: {values}; {errors}; {tolerance} ({RULE})"
    return text + (f"; {note}" if note else "")


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


# ---------------------------------------------------------------- the run

def check_document(settings, single: bool, case=None, spec_path: str | None = None) -> Document:
    """The head of the document: method and tolerances, and the case (``single``) or the
    spec file; its late fields follow the stream of cases."""
    rtol, atol = settings.tolerances()
    late = ["ok", "skipped", "summary", "worst", "skipped_points"] + ([] if single else ["suite"])
    doc = Document({"method": settings.method, "rtol": rtol, "atol": atol, "rule": RULE},
                   late=late)
    if settings.step is not None:
        doc["step"] = settings.step
    if single:
        if case.order == 2:
            doc["order"] = 2
            doc["of"] = SECOND_OF
        doc["expression"] = case.source
        if case.samples is not None:
            doc["samples"] = case.samples
            doc["seed"] = case.seed
            doc["range"] = {name: list(r) for name, r in case.ranges.items()}
        if case.expect:
            doc["expect"] = dict(case.expect)
        doc["allow_kinks"] = case.allow_kinks
    else:
        doc["spec"] = spec_path
    return doc


def late_fields(results, tally) -> dict:
    """The fields that need every point: ok, skipped, summary, worst, skipped points."""
    skipped = [s for r in results for s in r.skipped]
    return {"ok": all(r.ok for r in results),
            "skipped": sum(r.skipped_count for r in results),
            "summary": tally.summary(), "worst": worst_entry(tally.worst()),
            "skipped_points": skipped[:SKIPPED_LISTED]}


def suite_entry(r) -> dict:
    """One case of a spec file (``spec.CaseResult``) in "suite"."""
    rtol, atol = r.case.settings.tolerances()
    loaded = bool(r.case.source)  # a case whose spec entry was malformed has none
    # A formula read from a file is shown only once it ran: the file's text is
    # never echoed for a case that failed to load (a secret, a binary).
    shown = r.case.source if r.error is None or r.case.file is None else None
    entry = {"name": r.case.name, "expression": shown, "ok": r.ok,
             "method": r.case.settings.method if loaded else None, "order": r.case.order,
             "rtol": rtol if loaded else None, "atol": atol if loaded else None,
             "points": r.count, "skipped": r.skipped_count}
    if r.case.file is not None:
        entry["file"] = r.case.file
    if r.error is not None:
        entry["error"] = r.error.message
        entry["exit_code"] = r.error.exit_code
    else:
        entry["summary"] = r.tally.summary()
        if r.tally.failing:
            entry["failure"] = failure_text(worst_entry(r.tally.worst()))
    return entry


class Document(dict):
    """The check document. Its late fields (``late_keys``: the summary and the
    others that need every point) are set when the stream of cases has been
    read; reading one before that reads the rest of the stream into memory."""

    def __init__(self, *args, late=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.late_keys = tuple(late)
        self.done = False

    def _settle(self, key):
        if key in self.late_keys and not self.done:
            cases = dict.get(self, "cases")
            if isinstance(cases, PointStream):
                cases.materialize()

    def __getitem__(self, key):
        self._settle(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._settle(key)
        return super().get(key, default)


class PointStream:
    """The cases of a document, read once as they are checked (``--format plain``).

    ``len()`` or indexing reads them all into a list first.
    """

    def __init__(self, points):
        self._points = points
        self._list = None

    def __iter__(self):
        return iter(self._list) if self._list is not None else self._points

    def materialize(self) -> list:
        if self._list is None:
            self._list = list(self._points)
        return self._list

    def __len__(self):
        return len(self.materialize())

    def __getitem__(self, index):
        return self.materialize()[index]

    def __bool__(self):
        return bool(self.materialize())


class Keeper:
    """The points a table shows, out of any number (see KEEP_POINTS)."""

    def __init__(self):
        self._kept: list = []  # (sequence number, point entry)
        self._full = False  # KEEP_POINTS reached: from here on, only what the table shows
        self._failing = 0
        self._best: dict = {}  # (case name, input) -> (rank, sequence number, point entry)
        self._kinks: set = set()
        self._index: dict = {}  # case name -> points so far
        self._seq = 0

    def offer(self, entry: dict, point) -> None:
        """Offer the entry of a checked point (``point``: its ``spec.Point``)."""
        case = entry.get("name", "-")
        index = self._index[case] = self._index.get(case, 0) + 1
        entry["index"] = index  # its number within its case, for the table's "#" column
        seq = self._seq = self._seq + 1
        kinks = {(k["node"], k["op"]) for k in entry.get("kinks", ())}
        new_kink = not kinks <= self._kinks
        self._kinks |= kinks
        if not self._full:
            self._kept.append((seq, entry))
            self._full = len(self._kept) >= KEEP_POINTS
        elif not point.ok:
            if self._failing < KEEP_FAILING:
                self._failing += 1
                self._kept.append((seq, entry))
        elif new_kink:
            self._kept.append((seq, entry))
        else:
            for e in point.estimates:
                key = rank(point, e)
                old = self._best.get((case, e.name))
                if old is None or key < old[0]:
                    self._best[(case, e.name)] = (key, seq, entry)

    def points(self) -> list[dict]:
        chosen = dict(self._kept)
        for _, seq, entry in self._best.values():
            chosen[seq] = entry
        return [chosen[seq] for seq in sorted(chosen)]


__all__ = ["Document", "Keeper", "PointStream", "check_document", "comparison_fields",
           "failure_text", "late_fields", "point_document", "suite_entry", "worst_entry"]
