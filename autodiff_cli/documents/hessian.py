"""The document of ``adiff hessian``: value, gradient, the matrix of second derivatives, its
eigenvalues and definiteness, and the finite-difference check of every entry.

The contract fixes ``expression``, ``at``, ``value``, ``gradient`` and ``hessian`` (nested
objects, rows and columns in --wrt order) and a ``check`` block that ends with ``ok``; the
rest (``eigenvalues``, ``definiteness``, ``symmetric``, ``kinks``, the check's per-entry
fields and its ``worst`` entry) is this command's own.
"""

from __future__ import annotations

import math

from autodiff_cli.check.cases import STATUSES
from autodiff_cli.check.numeric import CENTRAL_STEP, RULE, STEPS, Estimate
from autodiff_cli.documents.base import num
from autodiff_cli.documents.shared import PointResult, kink_entries

#: How the matrix is computed, in words (the JSON's "method").
METHOD = "forward-over-reverse"
#: What a kink does to the second derivatives (the kinks entries' "second").
KINK_SECOND = ("the second derivative there is the derivative of the convention's rule: 0 "
               "through a piecewise-linear op (abs, relu, max, min, sign, step), whose second "
               "derivative is 0 on both sides of the kink")


def nested(names: list[str], values: dict) -> dict:
    """{row: {column: values["row,column"]}} in ``names`` order (entries not in ``values``
    are left out)."""
    out = {}
    for a in names:
        row = {b: values[f"{a},{b}"] for b in names if f"{a},{b}" in values}
        if row:
            out[a] = row
    return out


def _ratio(e: Estimate) -> float:
    if e.abs_error is None or e.tolerance is None or not math.isfinite(e.abs_error):
        return math.inf if e.status != "ok" else 0.0
    return e.abs_error / e.tolerance if e.tolerance > 0 else math.inf


def worst_estimate(estimates: list[Estimate]) -> Estimate | None:
    """The entry furthest from passing: failing statuses first, then the largest error over
    its tolerance."""
    if not estimates:
        return None
    return min(estimates, key=lambda e: (STATUSES.index(e.status), -_ratio(e)))


def entry_fields(e: Estimate) -> dict:
    """One checked entry: where, both values, errors, tolerance, status."""
    row, _, column = e.name.partition(",")
    out = {"entry": e.name, "row": row, "column": column, "hessian": num(e.ad),
           "numeric": num(e.fd), "abs_error": num(e.abs_error), "rel_error": num(e.rel_error),
           "tolerance": num(e.tolerance), "method": e.method, "step": e.step, "status": e.status}
    if e.note:
        out["note"] = e.note
    return out


def check_block(names: list[str], estimates: list[Estimate] | None, skipped: str | None,
                method: str = "central") -> dict:
    """The finite-difference check of every entry: the derivative of the reverse-mode
    gradient ∂f/∂row along column; or why it was skipped (then ``ok`` is null)."""
    if estimates is None:
        return {"skipped": skipped or "turned off", "ok": None}
    by_name = {e.name: e for e in estimates}

    def field(get):
        return nested(names, {name: get(e) for name, e in by_name.items()})

    rtol, atol = (estimates[0].rtol, estimates[0].atol) if estimates else (None, None)
    counts = dict.fromkeys(STATUSES, 0)
    for e in estimates:
        counts[e.status] = counts.get(e.status, 0) + 1
    worst = worst_estimate(estimates)
    doc = {
        "method": method,
        "of": "the reverse-mode gradient: the derivative of ∂f/∂row along column",
        "step": STEPS.get(method, CENTRAL_STEP),
        "rule": RULE,
        "rtol": rtol,
        "atol": atol,
        "hessian": field(lambda e: num(e.fd)),
        "abs_error": field(lambda e: num(e.abs_error)),
        "rel_error": field(lambda e: num(e.rel_error)),
        "status": field(lambda e: e.status),
        "methods": field(lambda e: e.method),
        "steps": field(lambda e: e.step),
        "summary": {"entries": len(estimates), **counts},
        "worst": None if worst is None else entry_fields(worst),
    }
    notes = {e.name: e.note for e in estimates if e.note}
    if notes:
        doc["notes"] = notes
    doc["ok"] = all(e.ok is not False for e in estimates)
    return doc


def curvature_fields(curvature) -> dict:
    """``eigenvalues`` and ``definiteness`` (null without inputs)."""
    if curvature is None:
        return {"eigenvalues": [], "definiteness": None}
    from autodiff_cli.calculus.second import Curvature

    return {
        "eigenvalues": [num(x) for x in curvature.eigenvalues],
        "definiteness": {
            "matrix": curvature.definiteness,
            "point": curvature.point,
            "critical": curvature.critical,
            "zero": num(curvature.zero),
            "rule": Curvature.RULE,
            "text": curvature.text,
        },
    }


def hessian_document(graph, second, curvature, estimates: list[Estimate] | None,
                     skipped: str | None, method: str = "central") -> dict:
    """The document of ``adiff hessian`` for ``second`` (``calculus.second.Second``), its
    ``curvature`` (``second.curvature``) and the check's estimates (or why none)."""
    names = second.names
    result = PointResult(graph, second.ev)
    doc = {"expression": graph.source, "at": result.at, "value": num(second.value)}
    gradient = second.gradient
    doc["gradient"] = {name: num(gradient[name]) for name in names}
    doc["hessian"] = {a: {b: num(x) for b, x in zip(names, row)}
                      for a, row in zip(names, second.matrix)}
    doc["method"] = METHOD
    doc["symmetric"] = second.symmetric
    doc["asymmetry"] = num(second.asymmetry)
    doc.update(curvature_fields(curvature))
    doc["kinks"] = [{**k, "second": KINK_SECOND} for k in kink_entries(graph, result)]
    doc["check"] = check_block(names, estimates, skipped, method)
    return doc


__all__ = ["KINK_SECOND", "METHOD", "check_block", "curvature_fields", "entry_fields",
           "hessian_document", "nested", "worst_estimate"]
