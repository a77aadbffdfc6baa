"""``adiff fit --plot FILE.svg|FILE.png``: the loss and the gradient norm against the step.

matplotlib is an optional extra (``pip install '.[plot]'``), imported only
here, with the Agg backend (no display needed) and no pyplot state. The file is
written atomically (``files.atomic_write``), and an SVG is the same bytes for
the same fit (no date, fixed element ids), so docs/fit.svg changes only when the
fit does.
"""

from __future__ import annotations

import math
import os

from autodiff_cli.errors import InputError, clip, escape_controls

INSTALL = "pip install '.[plot]' in adiff's folder (the plot extra), or pip install matplotlib"


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib, which is not installed",
                         hint=f"install it with: {INSTALL}") from None
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _text(text: str) -> str:
    """User text for a matplotlib label: '$' would start mathtext."""
    return escape_controls(clip(text, 80)).replace("$", r"\$")


def figure(doc: dict):
    """The figure: the loss above, the gradient norm (log scale) below, against the step."""
    matplotlib, Figure = _matplotlib()
    history = list(doc["history"].items)
    steps = [h["step"] for h in history]
    loss = [h["loss"] if isinstance(h["loss"], float) else math.nan for h in history]
    norm = [h["gradient_norm"] if isinstance(h["gradient_norm"], float) and h["gradient_norm"] > 0
            else math.nan for h in history]
    fig = Figure(figsize=(7.0, 5.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    minibatch = bool(doc["settings"].get("batch_size"))
    top.plot(steps, loss, color="#1f77b4", linewidth=1.5,
             label="minibatch estimate of L" if minibatch else "L")
    if doc.get("epochs"):
        top.plot([e["step"] for e in doc["epochs"]], [e["loss"] for e in doc["epochs"]], "o",
                 color="#d62728", markersize=4, label="L over every row (end of an epoch)")
        top.legend(loc="upper right", fontsize="small")
    finite = [v for v in loss if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 1e3:
        top.set_yscale("log")
    top.set_ylabel("loss L")
    top.grid(True, alpha=0.3)
    bottom.plot(steps, norm, color="#2ca02c", linewidth=1.5)
    if any(math.isfinite(v) for v in norm):
        bottom.set_yscale("log")
    bottom.set_ylabel("max |∂L/∂θ|")
    bottom.set_xlabel("step")
    bottom.grid(True, alpha=0.3)
    if len(steps) == 1:
        top.set_xlim(-0.5, 0.5)
    state = "converged" if doc["converged"] else (
        "interrupted" if doc.get("interrupted") else "not converged")
    title = (f"adiff fit --method {doc['method']}: {_text(doc['data'])}, {doc['rows']:,} rows, "
             f"{state} after {doc['steps']:,} steps")
    fig.suptitle(title, fontsize="medium")
    return matplotlib, fig


def write_plot(doc: dict, path: str) -> None:
    """Draw the document's loss curve into ``path`` (.svg or .png)."""
    from autodiff_cli.files import atomic_write

    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in ("svg", "png"):
        raise InputError(f"--plot {escape_controls(clip(path, 120))}: expected a .svg or .png "
                         "file name")
    matplotlib, fig = figure(doc)
    metadata = {"Date": None} if suffix == "svg" else {"Software": None}
    try:
        with matplotlib.rc_context({"svg.hashsalt": "adiff-fit", "svg.fonttype": "path"}):
            with atomic_write(path, "wb") as fh:
                fig.savefig(fh, format=suffix, metadata=metadata, dpi=100)
    except OSError as exc:
        raise InputError(f"cannot write {escape_controls(clip(path, 120))} (--plot): "
                         f"{exc.strerror or exc}") from None
