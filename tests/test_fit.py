"""adiff fit through the front door: the JSON contract, exit codes, errors, output formats.

The oracles (scikit-learn, SciPy) are in test_fit_oracles.py; Ctrl-C in test_fit_interrupt.py;
the plots in test_fit_plot.py. Data files are written by the tests from a seeded generator,
every number with its full ``repr`` so the file holds exactly the floats the oracles use.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from .conftest import ROOT, invoke

LOGISTIC = "z = t0 + t1*x1 + t2*x2; p = sigmoid(z); -(y*log(p) + (1 - y)*log(1 - p))"
CONTRACT_KEYS = ["expression", "data", "rows", "reduce", "method", "params", "initial", "loss",
                 "gradient", "steps", "converged", "history"]


def write_csv(path, columns: dict) -> str:
    names = list(columns)
    n = len(columns[names[0]])
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(names) + "\n")
        for k in range(n):
            fh.write(",".join(repr(float(columns[c][k])) for c in names) + "\n")
    return str(path)


def logistic_data(rows: int = 400, seed: int = 7) -> dict:
    """Overlapping classes (the unpenalised loss has a minimum)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(rows), rng.standard_normal(rows)
    p = 1.0 / (1.0 + np.exp(-(-0.5 + 2.0 * x1 - 1.0 * x2)))
    y = (rng.random(rows) < p).astype(float)
    return {"x1": x1, "x2": x2, "y": y}


@pytest.fixture(scope="module")
def logistic_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("fit") / "logistic.csv", logistic_data())


def fit_json(*args, code=0):
    r = invoke("fit", *args, "--format", "json")
    assert r.code == code, r
    return r.json(), r


# ---------------------------------------------------------------- the JSON contract

def test_json_has_the_contract_keys_in_order_with_their_types(logistic_csv):
    doc, r = fit_json(LOGISTIC, "--data", logistic_csv)
    assert r.stderr == ""
    assert list(doc)[:len(CONTRACT_KEYS) - 1] == CONTRACT_KEYS[:-1]
    assert list(doc)[-1] == "history"
    assert doc["expression"] == LOGISTIC
    assert doc["data"] == logistic_csv
    assert doc["rows"] == 400 and doc["reduce"] == "sum" and doc["method"] == "lbfgs"
    assert list(doc["params"]) == ["t0", "t1", "t2"] == list(doc["initial"]) == list(doc["gradient"])
    assert doc["initial"] == {"t0": 0.0, "t1": 0.0, "t2": 0.0}
    assert type(doc["steps"]) is int and doc["steps"] > 0
    assert doc["converged"] is True and doc["interrupted"] is False
    history = doc["history"]
    assert [h["step"] for h in history] == list(range(doc["steps"] + 1))
    assert all(set(h) == {"step", "loss", "gradient_norm"} for h in history)
    assert history[0]["loss"] == pytest.approx(400 * math.log(2), rel=1e-15)
    assert history[-1]["loss"] == doc["loss"]
    assert history[-1]["gradient_norm"] == max(abs(g) for g in doc["gradient"].values())
    assert doc["stopping"]["reason"] == "converged"
    assert doc["stopping"]["rule"].startswith("|∂L/∂θ|·max(1, |θ|) ≤ tol·max(1, |L|)")
    assert doc["stopping"]["gradient_ok"] and doc["stopping"]["loss_change_ok"]
    assert doc["stopping"]["minimum"]["ok"] is True
    assert "seconds" not in r.stdout and "time" not in doc  # the same JSON on every run


def test_the_loss_and_gradient_are_those_of_adiff_grad_data(logistic_csv, tmp_path):
    """The same engine: grad --data at the fitted point gives the fit's loss and gradient
    bit for bit, in one chunk and in chunks of 64 rows (kept in a temporary file)."""
    for chunk in ("100000", "64"):
        doc, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--chunk-size", chunk)
        at = ",".join(f"{k}={v!r}" for k, v in doc["params"].items())
        g = invoke("grad", LOGISTIC, "--data", logistic_csv, "--at", at, "--chunk-size", chunk,
                   "--format", "json", "--no-check", "--nodes", "none").json()
        assert g["value"] == doc["loss"]
        assert g["gradient"] == doc["gradient"]


def test_the_history_starts_at_the_losses_grad_data_gives(logistic_csv):
    doc, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--method", "gd", "--steps", "3",
                      code=1)
    g = invoke("grad", LOGISTIC, "--data", logistic_csv, "--at", "t0=0,t1=0,t2=0",
               "--format", "json", "--no-check", "--nodes", "none").json()
    assert doc["history"][0]["loss"] == g["value"]
    assert doc["history"][0]["gradient_norm"] == max(abs(v) for v in g["gradient"].values())
    # one gd step by hand from there: θ1 = θ0 - lr·∇L, lr = 0.1/rows by default for the sum
    lr = 0.1 / 400
    assert doc["settings"]["lr"] == lr
    at = ",".join(f"{k}={-lr * v!r}" for k, v in g["gradient"].items())
    g1 = invoke("grad", LOGISTIC, "--data", logistic_csv, "--at", at, "--format", "json",
                "--no-check", "--nodes", "none").json()
    assert doc["history"][1]["loss"] == g1["value"]


def test_step_limit_exits_1_and_still_prints_the_result(logistic_csv):
    doc, r = fit_json(LOGISTIC, "--data", logistic_csv, "--method", "gd", "--steps", "5",
                      code=1)
    assert doc["steps"] == 5 and doc["converged"] is False
    assert doc["stopping"]["reason"] == "step limit"
    assert len(doc["history"]) == 6
    assert r.stderr == ("Warning: not converged: the step limit was reached before the stopping "
                        "rule held\n")


def test_zero_steps_is_the_starting_point(logistic_csv):
    doc, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--steps", "0", "--at", "t1=1",
                      code=1)
    assert doc["steps"] == 0 and doc["params"] == doc["initial"] == {"t0": 0.0, "t1": 1.0,
                                                                      "t2": 0.0}


def test_a_start_at_the_minimum_converges_in_no_step(logistic_csv):
    doc, _ = fit_json(LOGISTIC, "--data", logistic_csv)
    at = ",".join(f"{k}={v!r}" for k, v in doc["params"].items())
    again, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--at", at)
    assert again["steps"] == 0 and again["converged"] is True
    assert again["params"] == doc["params"]


def test_reduce_mean_fits_the_same_parameters(logistic_csv):
    total, _ = fit_json(LOGISTIC, "--data", logistic_csv)
    mean, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--reduce", "mean")
    assert mean["reduce"] == "mean"
    assert mean["loss"] == pytest.approx(total["loss"] / 400, rel=1e-12)
    for name in total["params"]:
        assert mean["params"][name] == pytest.approx(total["params"][name], rel=1e-6)


def test_fixed_parameters_keep_their_at_values(logistic_csv):
    doc, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--params", "t1,t2", "--at", "t0=-0.5")
    assert list(doc["params"]) == ["t1", "t2"]
    assert doc["fixed"] == {"t0": -0.5}
    assert doc["converged"] is True


def test_the_formula_from_a_file_and_the_data_from_stdin(logistic_csv, tmp_path):
    program = tmp_path / "loss.adiff"
    program.write_text(LOGISTIC.replace("; ", "\n") + "\n", encoding="utf-8")
    with open(logistic_csv, encoding="utf-8") as fh:
        text = fh.read()
    from_file, _ = fit_json("-f", str(program), "--data", logistic_csv)
    r = invoke("fit", "-f", str(program), "--data", "-", "--format", "json", input=text)
    assert r.code == 0, r
    doc = r.json()
    assert doc["data"] == "<stdin>"
    assert doc["params"] == from_file["params"]
    # several chunks of standard input go through the temporary file too
    r = invoke("fit", "-f", str(program), "--data", "-", "--chunk-size", "50", "--format",
               "json", input=text)
    assert r.code == 0, r
    for name, v in from_file["params"].items():
        assert r.json()["params"][name] == pytest.approx(v, rel=1e-9)


def test_chunks_kept_in_a_temporary_file_give_the_same_fit(logistic_csv):
    one, _ = fit_json(LOGISTIC, "--data", logistic_csv)
    many, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--chunk-size", "37")
    assert many["rows"] == 400
    for name, v in one["params"].items():
        assert many["params"][name] == pytest.approx(v, rel=1e-9)


# ---------------------------------------------------------------- plain and table

def test_plain_lines(logistic_csv):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--format", "plain")
    assert r.code == 0 and r.stderr == ""
    doc = invoke("fit", LOGISTIC, "--data", logistic_csv, "--format", "json").json()
    expected = [f"loss\t{doc['loss']!r}", f"steps\t{doc['steps']}", "converged\ttrue",
                "reason\tconverged"]
    expected += [f"param\t{k}\t{v!r}\t{doc['gradient'][k]!r}" for k, v in doc["params"].items()]
    assert r.stdout.splitlines() == expected


def test_table_shows_initial_to_fitted_the_rule_and_the_loss_curve(logistic_csv):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--l2", "0.5", env={"COLUMNS": "200"})
    assert r.code == 0 and r.stderr == ""
    doc = invoke("fit", LOGISTIC, "--data", logistic_csv, "--l2", "0.5", "--format",
                 "json").json()
    lines = r.stdout.splitlines()
    assert lines[0] == f"f = {LOGISTIC}"
    assert lines[1] == f"L = the sum of f over the 400 rows of {logistic_csv} (columns x1, x2, y)"
    assert lines[2] == "  + 0.5·(t0² + t1² + t2²), the --l2 penalty"
    assert lines[3].startswith(f"L-BFGS (SciPy's L-BFGS-B): converged after {doc['steps']} steps, "
                               f"{doc['evaluations']} passes over the data, ")
    assert lines[3].endswith(" s")
    for name, v in doc["params"].items():
        row = next(line for line in lines if line.strip().startswith(name + " "))
        assert row.split() == [name, "0", "→", f"{v:.10g}", f"{doc['gradient'][name]:.3g}"]
    assert f"loss {doc['history'][0]['loss']:.10g} → {doc['loss']:.10g}" in lines
    stop = doc["stopping"]
    k = lines.index("stopping rule (tol 1e-07), at the last step:")
    assert lines[k + 1:k + 5] == [
        f"  |∂L/∂θ|·max(1, |θ|) = {stop['gradient']:.3g} ≤ tol·max(1, |L|) = {stop['limit']:.3g} "
        "for every parameter  ✓",
        f"  |ΔL| = {stop['loss_change']:.3g} ≤ {stop['limit']:.3g}  ✓",
        "  a minimum: L rises along every parameter, either way  ✓",
        "  → the stopping rule holds, at a minimum"]
    k = lines.index("Loss curve: L at each step (linear scale)")
    plot = lines[k + 1:]
    assert len(plot) == 10  # 8 rows of bars, the axis, the step numbers
    assert plot[0].split()[0] == f"{doc['history'][0]['loss']:.4g}"
    assert plot[7].split()[0] == f"{doc['loss']:.4g}"
    assert plot[9].split() == ["0", str(doc["steps"]), "step"]


def test_table_says_why_it_did_not_converge(logistic_csv):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--method", "gd", "--steps", "4")
    assert r.code == 1
    assert r.stderr == ""  # the table says it
    assert "gradient descent: not converged (step limit) after 4 steps" in r.stdout
    assert "  → the step limit was reached before the stopping rule held" in r.stdout.splitlines()


# ---------------------------------------------------------------- bad input: exit 2

@pytest.mark.parametrize("args, message", [
    (["--params", "t9"], "Error: --params t9: the formula has no variable 't9'\n"
                         "the formula's parameters are: t0, t1, t2\n"),
    (["--params", "t_1"], "Error: --params t_1: the formula has no variable 't_1'\n"
                          "did you mean t1?\n"),
    (["--params", "t0,x1"], "Error: --params x1: x1 is a column of {data}; the parameters are the "
                            "variables that are not columns\nthe formula's parameters are: t0, t1, t2\n"),
    (["--params", "t0,t0"], "Error: --params names t0 twice\n"),
    (["--params", ","], "Error: --params needs parameter names, e.g. --params t0,t1,t2\n"),
    (["--params", "t0,t1"], "Error: the formula needs 't2', which is neither a column of {data}, "
                            "nor in --params, nor bound by --at\n"
                            f"  {LOGISTIC}\n" + " " * (2 + LOGISTIC.index("t2")) + "^^\n"
                            "add it to --params to fit it, or hold it fixed with --at t2=...\n"),
    (["--lr", "0.1"], "Error: --lr is for gd, momentum and adam; --method lbfgs needs no learning "
                      "rate\n"),
    (["--beta", "0.5", "--method", "gd"], "Error: --beta is for momentum and adam, not --method gd\n"),
    (["--batch-size", "10"], "Error: --batch-size is for gd, momentum and adam: --method lbfgs "
                             "needs the gradient over every row\n"
                             "add --method gd (or momentum, adam), or drop --batch-size\n"),
    (["--seed", "3", "--method", "gd"], "Error: --seed needs --batch-size: it seeds the shuffle "
                                        "of the minibatches\n"),
    (["--plot", "loss.pdf"], "Error: --plot loss.pdf: expected a .svg or .png file name\n"),
    (["--at", "x1=1"], "Error: {data}:1:1: 'x1' is a column of {data} and is also bound by --at "
                       "x1=...; a name is either a column or a parameter\n"
                       "drop x1 from --at, or rename the column\n"),
])
def test_bad_input_is_an_input_error_naming_it(logistic_csv, args, message):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, *args)
    assert (r.code, r.stdout, r.stderr) == (2, "", message.format(data=logistic_csv))


def test_without_data(logistic_csv):
    r = invoke("fit", LOGISTIC)
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == ("Error: adiff fit needs --data FILE: the rows the loss is summed over\n"
                        "e.g. adiff fit -f samples/logistic_program.adiff --data "
                        "samples/logistic.csv --l2 0.1\n")


def test_nothing_to_fit(logistic_csv):
    r = invoke("fit", "(y - x1)^2", "--data", logistic_csv)
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == (f"Error: nothing to fit: every variable of the formula is a column of "
                        f"{logistic_csv}\nthe parameters are the variables that are not columns, "
                        "e.g. t0 in \"(y - t0)^2\"\n")


def test_several_outputs_are_refused(logistic_csv):
    r = invoke("fit", "a*x1, b*x2", "--data", logistic_csv)
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.startswith("Error: the formula has 2 outputs (a*x1, b*x2); adiff fit needs one\n")


@pytest.mark.parametrize("option, value, why", [
    ("--lr", "nan", "nan is not a finite number"),
    ("--lr", "-1", "-1 is not > 0"),
    ("--tol", "0", "0 is not > 0"),
    ("--tol", "inf", "inf is not a finite number"),
    ("--l2", "-0.5", "-0.5 is not >= 0"),
    ("--beta", "1", "1 is not in [0, 1)"),
])
def test_option_values_must_be_finite_and_in_range(logistic_csv, option, value, why):
    extra = ["--method", "momentum"] if option in ("--lr", "--beta") else []
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, option, value, *extra)
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.endswith(f"Error: Invalid value for '{option}': {why}\n")


def test_newton_is_available_now_that_second_derivatives_are():
    from autodiff_cli.data.fit import newton_available

    assert newton_available()  # calculus.second.summed_hessian: --method newton runs


# ---------------------------------------------------------------- evaluation errors: exit 3

def test_a_loss_that_becomes_non_finite_names_the_step_node_and_row(logistic_csv):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--method", "gd", "--lr", "50")
    assert (r.code, r.stdout) == (3, "")
    lines = r.stderr.splitlines()
    assert lines[0] == (f"Error: at step 1 of gd: log is not defined at p = 0 (row 1 of "
                        f"{logistic_csv}, line 2): it needs x > 0 (at node n11)")
    assert lines[1:] == [f"  {LOGISTIC}", " " * (2 + LOGISTIC.index("log(p)")) + "^" * 6,
                         "the steps may be too large for this loss: try a smaller --lr (it is 50), "
                         "or --method lbfgs, which needs none"]


def test_the_row_of_the_error_is_the_first_row_where_the_loss_is_not_finite(logistic_csv):
    g = invoke("grad", LOGISTIC, "--data", logistic_csv, "--at", "t0=0,t1=0,t2=0",
               "--format", "json", "--no-check", "--nodes", "none").json()
    theta = {k: -50 * v for k, v in g["gradient"].items()}  # the first step of --lr 50
    data = logistic_data()
    with np.errstate(over="ignore"):
        z = theta["t0"] + theta["t1"] * data["x1"] + theta["t2"] * data["x2"]
        p = 1.0 / (1.0 + np.exp(-z))
    assert int(np.flatnonzero(p == 0.0)[0]) == 0  # row 1: log(p) is log(0) there, first


def test_minibatch_errors_name_the_row_of_the_file_not_of_the_batch(tmp_path):
    x = np.linspace(-1, 1, 200)
    x[137] = 40.0  # exp(t*x) overflows here first
    path = write_csv(tmp_path / "d.csv", {"x": x, "y": np.zeros(200)})
    r = invoke("fit", "(y - exp(t*x))^2", "--data", path, "--method", "gd", "--lr", "1e-3",
               "--batch-size", "16", "--at", "t=30", "--steps", "100")
    assert r.code == 3
    assert "(row 138 of " in r.stderr and ", line 139)" in r.stderr, r.stderr


def test_a_starting_point_outside_the_domain(logistic_csv):
    r = invoke("fit", "log(x1 - t)", "--data", "samples/logistic.csv", "--method", "gd")
    assert (r.code, r.stdout) == (3, "")
    assert r.stderr == ("Error: at the starting point: log is not defined at x1 - t = -0.07 (row 2 "
                        "of samples/logistic.csv, line 3): it needs x > 0 (at node n3)\n"
                        "  log(x1 - t)\n  ^^^^^^^^^^^\nstart elsewhere with --at\n")


# ---------------------------------------------------------------- --history

def test_history_csv_holds_every_step_as_the_json_does(logistic_csv, tmp_path):
    path = tmp_path / "steps.csv"
    doc, _ = fit_json(LOGISTIC, "--data", logistic_csv, "--method", "momentum", "--steps", "40",
                      "--history", str(path), code=1)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["step", "loss", "gradient_norm", "t0", "t1", "t2"]
    assert len(rows) == 1 + 41
    for row, h in zip(rows[1:], doc["history"]):
        assert int(row[0]) == h["step"]
        assert float(row[1]) == h["loss"] and float(row[2]) == h["gradient_norm"]
    assert [float(v) for v in rows[-1][3:]] == list(doc["params"].values())
    assert [float(v) for v in rows[1][3:]] == [0.0, 0.0, 0.0]


def test_history_that_cannot_be_written(logistic_csv, tmp_path):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--history",
               str(tmp_path / "missing" / "h.csv"))
    assert r.code == 2 and r.stdout == ""
    assert r.stderr == (f"Error: cannot write {tmp_path / 'missing' / 'h.csv'} (--history): "
                        "No such file or directory\n")


def test_history_is_not_left_half_written_by_an_error(logistic_csv, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("before\n", encoding="utf-8")
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--method", "gd", "--lr", "50",
               "--history", str(path))
    assert r.code == 3
    assert path.read_text(encoding="utf-8") == "before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["h.csv"]


# ---------------------------------------------------------------- minibatches

def test_minibatches_are_reproducible_by_seed(logistic_csv):
    args = [LOGISTIC, "--data", logistic_csv, "--method", "adam", "--batch-size", "32",
            "--steps", "60", "--lr", "0.05"]
    a, _ = fit_json(*args, "--seed", "1", code=1)
    b, _ = fit_json(*args, "--seed", "1", code=1)
    c, _ = fit_json(*args, "--seed", "2", code=1)
    assert a == b
    assert a["params"] != c["params"]
    assert a["settings"]["batch_size"] == 32 and a["settings"]["seed"] == 1
    # the full loss is taken at the end of each epoch (400 rows: 13 batches, the last of 16)
    assert [e["step"] for e in a["epochs"]] == [0, 13, 26, 39, 52, 60]


def test_every_row_is_in_one_batch_per_epoch(tmp_path):
    from autodiff_cli.data.fit import Batches, RowCache
    from autodiff_cli.data.reader import DataFile

    x = np.arange(1000, dtype=float)
    path = write_csv(tmp_path / "x.csv", {"x": x})
    for chunk_rows in (1000, 300):
        cache = RowCache(DataFile(path, chunk_rows=chunk_rows))
        assert sum(c.rows for c in cache.chunks(["x"])) == 1000
        batches = Batches(cache, 64, seed=5)
        seen = [b for b in batches.epoch()]
        assert [b.rows for b in seen] == [64] * 15 + [40]
        values = np.concatenate([b.columns["x"] for b in seen])
        assert sorted(values) == list(x)  # every row exactly once
        index = np.concatenate([b.index for b in seen])
        assert np.array_equal(values, index.astype(float))  # each row knows where it came from
        b = seen[3]
        k = int(np.argmax(b.columns["x"]))
        row = int(b.columns["x"][k])
        assert b.row_text(k) == f"row {row + 1:,} of {path}, line {row + 2:,}"
        again = np.concatenate([b.columns["x"] for b in Batches(cache, 64, seed=5).epoch()])
        assert np.array_equal(values, again)
        second_epoch = np.concatenate([b.columns["x"] for b in batches.epoch()])
        assert not np.array_equal(values, second_epoch)
        cache.close()


def test_the_row_cache_reads_the_file_once_and_gives_the_same_chunks(tmp_path):
    from autodiff_cli.data.fit import RowCache
    from autodiff_cli.data.reader import DataFile

    data = logistic_data(1000)
    path = write_csv(tmp_path / "d.csv", data)
    source = DataFile(path, chunk_rows=128)
    cache = RowCache(source)
    first = [(c.first, c.line, c.rows, {k: v.copy() for k, v in c.columns.items()})
             for c in cache.chunks(["x1", "y"])]
    (tmp_path / "d.csv").unlink()  # later passes never read the file again
    for _ in range(2):
        seen = 0
        for c, f in zip(cache.chunks(["x1", "y"]), first):  # one at a time, as a pass reads
            assert (c.first, c.line, c.rows) == f[:3]
            assert all(np.array_equal(c.columns[k], f[3][k]) for k in ("x1", "y"))
            assert c.row_text(3) == f"row {f[0] + 4:,} of {path}, line {f[1] + 3:,}"
            seen += 1
        assert seen == len(first) == 8
    assert cache._memory is None and cache._spill is not None
    # chunk(k) gives columns of their own (minibatches hold several chunks at once)
    held = [cache.chunk(k) for k in range(cache.chunk_count)]
    for c, f in zip(held, first):
        assert all(np.array_equal(c.columns[k], f[3][k]) for k in ("x1", "y"))
    cache.close()


def test_a_file_of_one_chunk_stays_in_memory(tmp_path):
    from autodiff_cli.data.fit import RowCache
    from autodiff_cli.data.reader import DataFile

    path = write_csv(tmp_path / "d.csv", logistic_data(50))
    cache = RowCache(DataFile(path))
    list(cache.chunks(["x1"]))
    assert cache._memory is not None and cache._spill is None and cache.rows == 50


def test_a_full_disk_for_the_temporary_file_reads_the_data_again(tmp_path, monkeypatch):
    from autodiff_cli.data import fit as fitting

    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fitting.RowCache, "_open_spill", staticmethod(full))
    path = write_csv(tmp_path / "d.csv", logistic_data())
    r = invoke("fit", LOGISTIC, "--data", path, "--chunk-size", "100", "--format", "json")
    assert r.code == 0, r
    assert r.stderr == (f"Warning: cannot keep the rows in a temporary file (No space left on "
                        f"device): every step reads {path} again\n")
    r2 = invoke("fit", LOGISTIC, "--data", path, "--chunk-size", "100", "--format", "json",
                "--data", "-", input=open(path, encoding="utf-8").read())
    assert r2.code == 2 and r2.stderr.startswith(
        "Error: cannot keep the rows of standard input for the passes of the fit (a temporary "
        "file: No space left on device)\n")


# ---------------------------------------------------------------- the progress bar

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_step_and_loss_on_a_terminal_only():
    from autodiff_cli.render.fit_progress import FitProgress

    stream = _Terminal()
    bar = FitProgress(100, "gd", stream=stream, delay=0.0)
    bar(1, 12.5)
    bar(40, 3.25)
    bar.bar.refresh()
    shown = stream.getvalue()
    bar.close()
    assert "fit (gd)" in shown and "step 40/100" in shown and "loss 3.25" in shown
    quiet = io.StringIO()
    bar = FitProgress(100, "gd", stream=quiet, delay=0.0)
    bar(1, 1.0)
    bar.close()
    assert quiet.getvalue() == ""


def test_stdout_has_one_json_document_and_no_progress(logistic_csv):
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--format", "json")
    json.loads(r.stdout)
    assert r.stdout.count("\n") == r.stdout.rstrip("\n").count("\n") + 1


# ---------------------------------------------------------------- library pieces

def test_the_rule_is_scaled_by_the_loss_and_the_parameters():
    from autodiff_cli.data.fit import Rule

    rule = Rule(1e-6)
    theta, grad = np.array([100.0, 0.5]), np.array([1e-6, 2e-6])
    check = rule.check(5.0, 5.0 + 4e-6, theta, grad)
    assert check["gradient"] == pytest.approx(1e-4)  # 1e-6 · 100 beats 2e-6 · max(1, 0.5)
    assert check["limit"] == pytest.approx(5e-6, rel=1e-15)
    assert not check["gradient_ok"] and check["loss_change_ok"]
    check = rule.check(0.25, None, np.array([0.5]), np.array([9e-7]))
    assert check["limit"] == 1e-6 and check["ok"] and check["loss_change"] is None


def test_method_lists_agree():
    from autodiff_cli.cli import fit as command
    from autodiff_cli.data import fit as library

    assert command.METHODS == library.METHODS
    assert command.DEFAULT_METHOD == library.DEFAULT_METHOD == "lbfgs"
    assert command.DEFAULT_TOL == library.DEFAULT_TOL
    assert command.DEFAULT_STEPS == library.DEFAULT_STEPS
    assert command.DEFAULT_BETA == library.DEFAULT_BETA
    from autodiff_cli.render.plot import INSTALL

    assert command.PLOT_INSTALL == INSTALL


def test_help_needs_no_numpy():
    import subprocess
    import sys

    code = ("import atexit, sys; atexit.register(lambda: print('numpy' in sys.modules, "
            "file=sys.stderr)); from autodiff_cli.cli import cli; cli.main(['fit', '--help'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "Usage: adiff fit" in done.stdout
    assert done.stderr.strip().endswith("False"), done.stderr


@pytest.mark.parametrize("args", [
    [], ["--data"], ["x", "--data", "/dev/null"], ["t*x1", "--data", "/dev/zero"],
    ["--params", "", "t*x1", "--data", "samples/logistic.csv"],
    ["t*x1", "--data", "samples/logistic.csv", "--steps", "1e3"],
    ["t*x1", "--data", "samples/logistic.csv", "--batch-size", "0", "--method", "gd"],
    ["(t*x1)^2", "--data", "samples/logistic.csv", "--method", "newton", "--steps", "3"],
    ["exp(t*x1)", "--data", "samples/logistic.csv"],
    ["-t*x1", "--data", "samples/logistic.csv", "--steps", "2"],
    ["θ*x1 - log(θ)", "--data", "samples/logistic.csv", "--at", "θ=1"],
])
def test_hostile_input_never_gives_a_traceback(args, monkeypatch):
    monkeypatch.chdir(ROOT)
    r = invoke("fit", *args)
    assert r.code in (0, 1, 2, 3), r


def test_on_a_dask_cluster_the_same_fit(logistic_csv):
    """--engine dask (data_options): the passes run on a local cluster, to the same numbers;
    the JSON says where (engine, partitions)."""
    pytest.importorskip("dask.distributed")
    here, _ = fit_json(LOGISTIC, "--data", logistic_csv)
    there, r = fit_json(LOGISTIC, "--data", logistic_csv, "--engine", "dask")
    assert there["engine"] == "dask" and there["partitions"] == 1
    assert there["params"] == here["params"] and there["loss"] == here["loss"]
    assert there["history"] == here["history"]


def test_every_reason_has_its_words():
    from autodiff_cli.data.fit import REASONS
    from autodiff_cli.documents.fit import MESSAGES

    assert set(MESSAGES) == set(REASONS)


@pytest.mark.parametrize("fmt", ["table", "plain", "json"])
def test_an_interrupt_before_anything_was_evaluated_still_prints(logistic_csv, monkeypatch, fmt):
    from autodiff_cli.data import fit as fitting

    def interrupting(self, theta):
        raise KeyboardInterrupt

    monkeypatch.setattr(fitting.Objective, "full", interrupting)
    r = invoke("fit", LOGISTIC, "--data", logistic_csv, "--format", fmt)
    assert (r.code, r.stderr) == (130, "Interrupted.\n")
    assert "nan" in r.stdout
