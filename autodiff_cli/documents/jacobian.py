"""The document of ``adiff jacobian``: every output's value, the matrix d output / d input, its check.

The contract fixes ``expression``, ``at``, ``outputs`` (the output names, in order),
``value`` (output -> value), ``jacobian`` (output -> input -> derivative) and ``check``;
``wrt``, ``mode``, ``passes``, ``nodes`` (output -> its node id) and ``kinks`` are extra.
The check block is ``grad``'s, one level deeper (output -> input -> ...), with the worst
entry named (``worst``) and ``ok``; or ``{"skipped": why}``.
"""

from __future__ import annotations

import math

from autodiff_cli.check.numeric import ATOL, CENTRAL_STEP, RTOL, RULE, Estimate
from autodiff_cli.documents.base import num
from autodiff_cli.documents.shared import kink_entries

#: Statuses from the worst to the best (``check``'s order; a Jacobian has no --expect).
STATUSES = ("mismatch", "inconclusive", "unavailable", "kink", "ok")


def _ratio(e: Estimate) -> float:
    """How far an entry is from failing: its error over its tolerance (a failing entry
    without finite ones ranks worst)."""
    err, tol = e.abs_error, e.tolerance
    if err is None or tol is None or not math.isfinite(err) or not math.isfinite(tol):
        return math.inf if e.status != "ok" else 0.0
    return err / tol if tol > 0 else (0.0 if err == 0 else math.inf)


def worst(names, estimates: list[list[Estimate]]) -> tuple[str, Estimate] | None:
    """(output name, estimate) of the entry nearest to failing: failing statuses first
    (``check``'s order), then the largest error over tolerance; None without entries."""
    best, key = None, None
    for name, row in zip(names, estimates):
        for e in row:
            k = (STATUSES.index(e.status) if e.status in STATUSES else 0, -_ratio(e))
            if key is None or k < key:
                best, key = (name, e), k
    return best


def check_entry(names, estimates: list[list[Estimate]] | None, skipped: str | None,
                rtol: float = RTOL, atol: float = ATOL) -> dict:
    """Each entry's central-difference estimate, errors and status (output -> input ->
    ...), the worst entry and ``ok``; or why the check was skipped."""
    if estimates is None:
        return {"skipped": skipped or "turned off"}

    def nested(field):
        return {name: {e.name: field(e) for e in row} for name, row in zip(names, estimates)}

    doc = {
        "method": "central",
        "step": CENTRAL_STEP,
        "rule": RULE,
        "rtol": rtol,
        "atol": atol,
        "steps": nested(lambda e: e.step),
        "methods": nested(lambda e: e.method),
        "jacobian": nested(lambda e: num(e.fd)),
        "abs_error": nested(lambda e: num(e.abs_error)),
        "rel_error": nested(lambda e: num(e.rel_error)),
        "status": nested(lambda e: e.status),
        "entries": sum(len(row) for row in estimates),
        "agree": sum(e.status == "ok" for row in estimates for e in row),
        "ok": all(e.ok is not False for row in estimates for e in row),
    }
    notes = {name: {e.name: e.note for e in row if e.note} for name, row in zip(names, estimates)}
    notes = {name: row for name, row in notes.items() if row}
    if notes:
        doc["notes"] = notes
    found = worst(names, estimates)
    if found is not None:
        name, e = found
        doc["worst"] = {"output": name, "input": e.name, "status": e.status,
                        "jacobian": num(e.ad), "numeric": num(e.fd),
                        "abs_error": num(e.abs_error), "rel_error": num(e.rel_error),
                        "tolerance": num(e.tolerance)}
    return doc


def jacobian_document(graph, jac, estimates: list[list[Estimate]] | None,
                      skipped: str | None) -> dict:
    """The document of ``adiff jacobian`` for ``jac`` (``calculus.jacobian.Jacobian``);
    ``estimates``: per output, one finite-difference estimate per input of ``jac.wrt``."""
    names = graph.output_names
    wrt = jac.wrt
    doc = {
        "expression": graph.source,
        "at": {name: jac.at[name] for name in graph.variables},
        "outputs": list(names),
        "wrt": list(wrt),
        "mode": jac.mode,
        "passes": jac.passes,
        "value": {name: num(jac.value(p)) for p, name in enumerate(names)},
        "jacobian": {name: {x: num(d) for x, d in zip(wrt, jac.rows[p])}
                     for p, name in enumerate(names)},
        "nodes": {name: f"n{k}" for name, k in zip(names, graph.outputs)},
        "kinks": kink_entries(graph, jac),
        "check": check_entry(names, estimates, skipped),
    }
    return doc


__all__ = ["check_entry", "jacobian_document", "worst"]
