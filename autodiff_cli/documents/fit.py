"""The document of ``adiff fit``: the fitted parameters, the loss, why it stopped, the loss curve.

The contract's keys come first (``expression``, ``data``, ``rows``, ``reduce``,
``method``, ``params``, ``initial``, ``loss``, ``gradient``, ``steps``,
``converged``, ``history``); the others say what was minimised and how it
stopped. No wall-clock time in JSON (a fit's JSON is the same on every run);
``seconds`` is kept outside the document's JSON keys, for the table.
The ``--history`` CSV lines are written here too, so the file and the JSON agree.
"""

from __future__ import annotations

from autodiff_cli.documents.base import Stream, num

#: What each stopping reason (``data.fit.REASONS``) means, in the output's words.
MESSAGES = {
    "converged": "the stopping rule holds, at a minimum",
    "step limit": "the step limit was reached before the stopping rule held",
    "plateau": "the gradient is small but the loss does not change along {flat}: a plateau, "
               "not a minimum, or a flat valley of minima (no unique minimum)",
    "not a minimum": "the gradient is small but the loss is lower nearby (along {lower}): "
                     "not a minimum at this tolerance",
    "no minimum": "the loss keeps falling as the parameters grow (L(2θ) = {far:.6g} < "
                  "L(θ) = {loss:.6g}): it has no minimum (e.g. separable classes); "
                  "--l2 gives it one",
    "stalled": "no step lowers the loss any further, and the stopping rule does not hold",
    "interrupted": "interrupted (Ctrl-C): the best parameters so far",
}


class Timed(dict):
    """A document that also carries the fit's wall-clock ``seconds`` for the table, outside
    its keys (so JSON never has it)."""

    seconds = 0.0


def _names(items) -> str:
    return ", ".join(items)


def stopping_entry(result, options, rule_text: str) -> dict:
    """The rule, what it saw at the last point, and the reason the fit stopped."""
    check = result.check or {}
    entry = {"rule": rule_text, "tol": options.tol, "reason": result.reason}
    minimum = result.minimum
    fields = {"flat": "", "lower": "", "far": 0.0, "loss": result.loss}
    if minimum:
        fields["flat"] = _names(minimum["flat"])
        fields["lower"] = _names(m["param"] for m in minimum["lower"])
        if minimum["falls"]:
            fields["far"] = minimum["falls"]["far"]
    entry["message"] = MESSAGES[result.reason].format(**fields)
    precision = result.precision
    if precision is not None:
        entry["precision"] = {k: num(v) if isinstance(v, float) else v
                              for k, v in precision.items()}
        if precision["reached"] and result.reason == "converged":
            entry["message"] = (f"a minimum as far as double precision can tell: the gradient is "
                                f"above the rule's limit, but no step can lower the loss by more "
                                f"than its rounding error ({precision['decrease']:.2g} ≤ 4 × "
                                f"{precision['noise']:.2g})")
    if result.reason == "stalled":
        if result.beyond:
            entry["message"] += f"; a little further the loss cannot be evaluated: {result.beyond}"
            entry["beyond"] = result.beyond
        elif check and not check["gradient_ok"] and not (precision and precision["reached"]):
            # at the precision limit: a double cannot show the loss falling any more
            needed = check["gradient"] / max(1.0, abs(result.loss))
            entry["message"] += (f" (the loss cannot fall further in double precision; "
                                 f"--tol {needed:.2g} would accept this point)")
    if check:
        entry["gradient"] = num(check["gradient"])
        entry["loss_change"] = num(check["loss_change"])
        entry["limit"] = num(check["limit"])
        entry["gradient_ok"] = check["gradient_ok"]
        entry["loss_change_ok"] = check["loss_change_ok"]
    if minimum is not None:
        entry["minimum"] = {
            "ok": minimum["ok"],
            "flat": list(minimum["flat"]),
            "lower": [{"param": m["param"], "step": num(m["step"]), "change": num(m["change"])}
                      for m in minimum["lower"]],
            "falls": None if minimum["falls"] is None else
            {k: num(v) for k, v in minimum["falls"].items()},
            "edges": list(minimum["edges"]),
        }
    if result.scipy is not None:
        entry["scipy"] = result.scipy
    return entry


class _History:
    """The history's entries, made afresh on each iteration (JSON, table and plot read it)."""

    def __init__(self, history):
        self.history = history

    def __iter__(self):
        loss, norm = self.history.loss, self.history.gradient_norm
        for k in range(len(loss)):
            yield {"step": k, "loss": num(loss[k]), "gradient_norm": num(norm[k])}

    def __len__(self) -> int:
        return len(self.history)


def fit_document(graph, setup, result, options) -> dict:
    """The document of ``adiff fit`` for ``result`` (``data.fit.FitResult``)."""
    from autodiff_cli.data.fit import Rule

    params = result.params
    data = setup.data
    doc = Timed()
    doc["expression"] = graph.source
    doc["data"] = data.name
    doc["rows"] = result.rows
    doc["reduce"] = setup.reduce
    doc["method"] = result.method
    doc["params"] = {p: num(float(v)) for p, v in zip(params, result.theta)}
    doc["initial"] = {p: num(float(v)) for p, v in zip(params, result.initial)}
    doc["loss"] = num(result.loss)
    doc["gradient"] = {p: num(float(g)) for p, g in zip(params, result.gradient)}
    doc["steps"] = result.steps
    doc["converged"] = result.converged
    doc["interrupted"] = result.interrupted
    doc["stopping"] = stopping_entry(result, options, Rule.TEXT)
    doc["initial_loss"] = num(result.history.loss[0]) if len(result.history) else None
    doc["columns"] = list(setup.columns)
    doc["fixed"] = {name: setup.at[name] for name in setup.params if name not in params}
    doc["l2"] = options.l2
    doc["settings"] = {
        "steps": options.steps, "tol": options.tol,
        "lr": result.lr, "beta": options.beta if options.method in ("momentum", "adam") else None,
        "batch_size": options.batch_size, "seed": options.seed if options.batch_size else None,
    }
    doc["evaluations"] = result.passes
    totals = getattr(result, "totals", None)
    if setup.engine is not None:
        doc["engine"] = getattr(setup.engine, "name", "dask")
        if totals is not None and getattr(totals, "partitions", None):
            doc["partitions"] = totals.partitions
    if result.epochs:
        doc["epochs"] = [{"epoch": e["epoch"], "step": e["step"], "loss": num(e["loss"])}
                         for e in result.epochs]
    doc["history"] = Stream(_History(result.history))
    doc.seconds = result.seconds
    return doc


def history_header(params) -> str:
    """The first line of the --history CSV."""
    return ",".join(["step", "loss", "gradient_norm", *params]) + "\n"


def history_line(step: int, loss: float, grad, theta) -> str:
    """One step of the --history CSV: full precision, as JSON writes numbers."""
    norm = max((abs(float(g)) for g in grad), default=0.0)
    return ",".join([str(step), repr(float(loss)), repr(norm), *(repr(float(t)) for t in theta)]) \
        + "\n"
