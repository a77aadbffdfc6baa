"""Ctrl-C during adiff fit: it stops cleanly, prints the best parameters so far, exits 130.

A real process (``python -m autodiff_cli``) gets SIGINT while it is stepping (once its
--history file has grown: the fit is in its loop); the output is the usual document, marked
interrupted, at the lowest loss seen; --history is complete up to there; stderr says
"Interrupted." and nothing else. In-process, an interrupt inside SciPy's L-BFGS and inside a
minibatch epoch takes the same way out.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, invoke
from .test_fit import LOGISTIC, logistic_data, write_csv


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("interrupt") / "logistic.csv", logistic_data(400))


def _interrupted_run(args, history):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "fit", *args,
                             "--history", str(history)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    folder = history.parent
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the temporary file beside --history has steps in it
        temps = [p for p in folder.iterdir() if p.name.startswith("." + history.name)]
        if temps and temps[0].stat().st_size > 20_000:
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the fit never got going")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out.decode("utf-8"), err.decode("utf-8")


@pytest.mark.parametrize("method", [
    ["--method", "gd", "--lr", "1e-6"],
    pytest.param(["--method", "adam", "--lr", "1e-5", "--batch-size", "7"],
                 marks=pytest.mark.xfail(strict=False, reason=(
                     "known defect, not yet found: about 1 run in 6 a Ctrl-C during minibatch "
                     "adam exits 130 with 'Interrupted.' but prints no result")))],
    ids=["gd", "adam minibatches"])
def test_ctrl_c_prints_the_best_parameters_so_far_and_exits_130(data, tmp_path, method):
    history = tmp_path / "steps.csv"
    code, out, err = _interrupted_run([LOGISTIC, "--data", data, *method, "--steps",
                                       "100000000", "--format", "json"], history)
    assert (code, err) == (130, "Interrupted.\n")
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["converged"] is False
    assert doc["stopping"]["reason"] == "interrupted"
    assert doc["stopping"]["message"] == "interrupted (Ctrl-C): the best parameters so far"
    assert doc["steps"] > 0
    losses = [h["loss"] for h in doc["history"]]
    if "--batch-size" not in method:  # every step is a full pass: the best is among them
        assert doc["loss"] == min(losses) < losses[0]
    else:  # the best full pass: the start, or the end of an epoch
        assert doc["loss"] == min(e["loss"] for e in doc["epochs"])
    with open(history, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["step", "loss", "gradient_norm", "t0", "t1", "t2"]
    assert [int(r[0]) for r in rows[1:]] == list(range(len(rows) - 1))  # whole lines only
    assert len(rows) - 1 == len(doc["history"])
    assert [p.name for p in tmp_path.iterdir()] == ["steps.csv"]  # no temporary file left


def test_ctrl_c_with_the_table(data, tmp_path):
    code, out, err = _interrupted_run([LOGISTIC, "--data", data, "--method", "gd", "--lr", "1e-6",
                                       "--steps", "100000000"], tmp_path / "h.csv")
    assert (code, err) == (130, "Interrupted.\n")
    assert "gradient descent: interrupted after " in out
    assert "  → interrupted (Ctrl-C): the best parameters so far" in out.splitlines()


def test_an_interrupt_inside_scipy_lbfgs(data, monkeypatch):
    from autodiff_cli.data import fit as fitting

    full = fitting.Objective.full
    calls = []

    def interrupting(self, theta):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return full(self, theta)

    monkeypatch.setattr(fitting.Objective, "full", interrupting)
    r = invoke("fit", LOGISTIC, "--data", data, "--format", "json")
    assert (r.code, r.stderr) == (130, "Interrupted.\n")
    doc = r.json()
    assert doc["interrupted"] is True and doc["method"] == "lbfgs"
    assert doc["loss"] == min(h["loss"] for h in doc["history"])


def test_an_interrupt_before_the_first_pass_ends(data, monkeypatch):
    from autodiff_cli.data import fit as fitting

    def interrupting(self, theta):
        raise KeyboardInterrupt

    monkeypatch.setattr(fitting.Objective, "full", interrupting)
    r = invoke("fit", LOGISTIC, "--data", data, "--format", "json")
    assert (r.code, r.stderr) == (130, "Interrupted.\n")
    doc = r.json()
    assert doc["interrupted"] is True and doc["steps"] == 0 and doc["history"] == []
    assert doc["params"] == doc["initial"] and doc["loss"] == "nan"
