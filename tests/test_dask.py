"""--engine dask: the partitions of the data on a Dask cluster, the same numbers as one process (issue 14).

Each test module starts its clusters on loopback (``processes=False`` where
threads suffice, ``processes=True`` where a worker must die) and shuts them
down; nothing outside the test is needed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

from autodiff_cli import __version__
from autodiff_cli.errors import InputError

from .conftest import ROOT, invoke

pytest.importorskip("distributed", reason="--engine dask needs the dask extra")

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
AT = "t0=0.3,t1=-0.7,t2=0.45"
THETA = (0.3, -0.7, 0.45)
#: Keys the Dask engine adds to a document (contract, "Beyond one machine").
ENGINE_KEYS = ("engine", "partitions")


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@pytest.fixture(scope="module")
def scheduler():
    """A two-worker cluster in this process (threads), on loopback TCP: its address."""
    with cluster(n_workers=2, processes=False) as running:
        yield running.scheduler_address


def cluster(**options):
    """A LocalCluster on loopback TCP, one thread a worker, without a dashboard."""
    from dask.distributed import LocalCluster

    from autodiff_cli.data.distributed import LOCAL_QUIET

    return LocalCluster(threads_per_worker=1, protocol="tcp://", host="127.0.0.1", **LOCAL_QUIET,
                        **options)


def write_parts(folder, sizes, seed=7, bad=None):
    """Logistic data in files part-0.csv, part-1.csv, ... of ``sizes`` rows each; ``bad``:
    {(file, row): cell text} replaces x1 in those rows. Returns the rows as floats."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, n in enumerate(sizes):
        x = rng.normal(size=(n, 2)).round(3)
        y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 + x[:, 0] - 2 * x[:, 1])))).astype(float)
        lines = ["x1,x2,y"]
        for r in range(n):
            x1, x2, label = float(x[r, 0]), float(x[r, 1]), float(y[r])
            cell = (bad or {}).get((k, r), repr(x1))
            lines.append(f"{cell},{x2!r},{label:g}")
            rows.append((x1, x2, label))
        (folder / f"part-{k}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def oracle(rows, theta=THETA):
    """The logistic loss and gradient summed over ``rows``, by hand (math.fsum of each
    row's terms): an independent oracle."""
    t0, t1, t2 = theta
    losses, g0, g1, g2 = [], [], [], []
    for x1, x2, y in rows:
        z = t0 + t1 * x1 + t2 * x2
        p = 1 / (1 + math.exp(-z))
        losses.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
        g0.append(p - y)
        g1.append((p - y) * x1)
        g2.append((p - y) * x2)
    return math.fsum(losses), {"t0": math.fsum(g0), "t1": math.fsum(g1), "t2": math.fsum(g2)}


def both(command, *args):
    """(one-process result, dask result) of the same command line."""
    return invoke(command, *args), invoke(command, *args, "--engine", "dask")


def without_engine(doc):
    return {k: v for k, v in doc.items() if k not in ENGINE_KEYS}


# ---------------------------------------------------------------- the same numbers

def test_grad_on_dask_equals_one_process_and_the_oracle(tmp_path, scheduler):
    rows = write_parts(tmp_path, [40, 1, 75, 13])
    args = ("grad", LOSS, "--data", str(tmp_path / "part-*.csv"), "--at", AT, "--format", "json",
            "--chunk-size", "8")
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == 0, (local, dask)
    assert dask.stderr == local.stderr == ""
    one, many = local.json(), dask.json()
    assert many["engine"] == "dask" and many["partitions"] == 4
    assert "engine" not in one and "partitions" not in one
    # The chunks are the same, so their sums are; fsum makes their order irrelevant.
    assert many["value"] == one["value"]
    assert many["gradient"] == one["gradient"]
    # Node sums are compensated sums: equal to the last bit or two.
    for a, b in zip(one["nodes"], many["nodes"]):
        assert a.keys() == b.keys()
        for key in ("value", "grad"):
            if isinstance(a[key], float):
                assert rel(a[key], b[key]) <= 1e-14, (a, b)
            else:
                assert a[key] == b[key]
    assert without_engine(many)["check"] == one["check"]
    value, gradient = oracle(rows)
    assert many["data"]["rows"] == len(rows) == 129
    assert rel(many["value"], value) <= 1e-12
    for name in gradient:
        assert rel(many["gradient"][name], gradient[name]) <= 1e-12, name


def test_partition_sums_that_cancel_are_added_exactly(tmp_path, scheduler):
    # One row a chunk, each exact. Summed per partition, then across partitions (a plain
    # reduction), 1e16 + 1 rounds to 1e16 and 1 - 1e16 to -1e16: 0.75 instead of 2.75.
    cells = [["1e16", "1"], ["1", "-1e16"], ["0.5", "0.25"]]
    for k, pair in enumerate(cells):
        (tmp_path / f"part-{k}.csv").write_text("x\n" + "\n".join(pair) + "\n", encoding="utf-8")
    exact = sum(Fraction(c) for pair in cells for c in pair)
    naive = sum(float(pair[0]) + float(pair[1]) for pair in cells)
    assert (exact, naive) == (Fraction(11, 4), 0.75)
    args = ("grad", "a*x", "--data", str(tmp_path / "part-*.csv"), "--at", "a=1", "--chunk-size",
            "1", "--format", "json", "--no-check")
    one = invoke(*args).json()
    many = invoke(*args, "--engine", "dask", "--scheduler", scheduler).json()
    assert many["partitions"] == 3
    assert many["value"] == one["value"] == 2.75
    assert many["gradient"] == one["gradient"] == {"a": 2.75}


def test_mean_per_example_trace_and_check(tmp_path, scheduler):
    rows = write_parts(tmp_path, [9, 4, 7])
    data = str(tmp_path / "part-*.csv")
    common = (LOSS, "--data", data, "--at", AT, "--format", "json", "--chunk-size", "3")
    for command, extra in (("grad", ("--reduce", "mean", "--per-example")),
                           ("trace", ()), ("check", ())):
        local = invoke(command, *common, *extra)
        dask = invoke(command, *common, *extra, "--engine", "dask", "--scheduler", scheduler)
        assert local.code == dask.code == 0, (command, local, dask)
        one, many = local.json(), dask.json()
        assert (many["engine"], many["partitions"]) == ("dask", 3), command
        assert json.dumps(without_engine(many), sort_keys=True) == json.dumps(one, sort_keys=True) \
            or _close(without_engine(many), one), command
    doc = invoke("grad", *common, "--reduce", "mean", "--per-example", "--engine", "dask",
                 "--scheduler", scheduler).json()
    assert [e["row"] for e in doc["examples"]] == list(range(1, 21))
    value, _ = oracle(rows)
    assert rel(doc["value"], value / 20) <= 1e-12
    assert [e["data"]["x1"] for e in doc["examples"]] == [r[0] for r in rows]


def _close(a, b, path="") -> bool:
    """Equal documents, floats to 1e-14 relative (compensated node sums)."""
    if isinstance(a, float) and isinstance(b, float):
        assert rel(a, b) <= 1e-14, (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{k}]")
    else:
        assert a == b, (path, a, b)
    return True


def write_parquet(path, rows, row_group_size, nan_at=None):
    """``rows`` (x1, x2, y) as a Parquet file of row groups of ``row_group_size`` rows;
    ``nan_at``: a row (0-based) whose x2 is NaN."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x1, x2, y = (np.array(c, dtype=np.float64) for c in zip(*rows))
    if nan_at is not None:
        x2[nan_at] = np.nan
    pq.write_table(pa.table({"x1": x1, "x2": x2, "y": y}), path, row_group_size=row_group_size)


def test_parquet_row_groups_are_partitions(tmp_path, scheduler):
    rows = write_parts(tmp_path, [60])
    write_parquet(tmp_path / "d.parquet", rows, 10)
    args = ("grad", LOSS, "--data", str(tmp_path / "d.parquet"), "--at", AT, "--format", "json",
            "--chunk-size", "5", "--no-check")
    one = invoke(*args).json()
    many = invoke(*args, "--engine", "dask", "--scheduler", scheduler).json()
    assert many["partitions"] == 6
    # Row groups of 10 and chunks of 5: each partition's chunks are the one-process ones.
    assert many["value"] == one["value"] and many["gradient"] == one["gradient"]
    value, gradient = oracle(rows)
    assert rel(many["value"], value) <= 1e-12
    assert all(rel(many["gradient"][k], gradient[k]) <= 1e-12 for k in gradient)


def test_parquet_row_groups_across_chunks_agree_to_rounding(tmp_path, scheduler):
    rows = write_parts(tmp_path, [200])
    write_parquet(tmp_path / "d.parquet", rows, 7)
    args = ("grad", LOSS, "--data", str(tmp_path / "d.parquet"), "--at", AT, "--format", "json",
            "--chunk-size", "5", "--no-check")
    one = invoke(*args).json()
    many = invoke(*args, "--engine", "dask", "--scheduler", scheduler).json()
    assert many["partitions"] == 29
    assert rel(many["value"], one["value"]) <= 1e-14
    assert all(rel(many["gradient"][k], one["gradient"][k]) <= 1e-13 for k in one["gradient"])


def test_a_nan_in_a_parquet_row_group_names_the_file_and_row(tmp_path, scheduler):
    rows = write_parts(tmp_path, [50])
    write_parquet(tmp_path / "d.parquet", rows, 10, nan_at=33)
    args = ("grad", LOSS, "--data", str(tmp_path / "d.parquet"), "--at", AT)
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == 2
    assert dask.stderr == local.stderr
    assert "d.parquet: row 34: nan in column x2 is not a finite number" in dask.stderr


def test_table_output_and_a_single_file(scheduler, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = ("grad", LOSS, "--data", "samples/logistic.csv", "--at", AT)
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == 0, dask
    assert dask.stdout == local.stdout
    assert dask.stderr == local.stderr == ""


# ---------------------------------------------------------------- errors in a partition

def test_a_bad_cell_in_one_partition_names_the_file_and_row(tmp_path, scheduler):
    write_parts(tmp_path, [20, 30, 25], bad={(1, 17): "oops", (2, 3): "bad"})
    args = ("grad", LOSS, "--data", str(tmp_path / "part-*.csv"), "--at", AT, "--chunk-size", "4")
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == 2
    assert dask.stdout == local.stdout == ""
    # The earliest bad partition's error, as the one-process engine reports it.
    assert dask.stderr == local.stderr
    assert "part-1.csv:19:1: 'oops' in column x1 is not a number" in dask.stderr


def test_a_domain_error_in_one_partition_names_the_node_and_row(tmp_path, scheduler):
    write_parts(tmp_path, [10, 10, 10])
    (tmp_path / "part-2.csv").write_text("x1,x2,y\n1,1,1\n2,2,0\n-3,1,1\n", encoding="utf-8")
    args = ("grad", "log(x1 + 2) * t", "--data", str(tmp_path / "part-*.csv"), "--at", "t=1")
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == 3
    assert dask.stderr == local.stderr
    assert "part-2.csv" in dask.stderr and "line 4" in dask.stderr and "node n" in dask.stderr


@pytest.mark.parametrize("files, formula, at, code", [
    ({"d.csv": "x,y\n"}, "a*x", "a=1", 2),  # a header, no rows
    ({"a.csv": "x\n", "b.csv": "x\n"}, "a*x", "a=1", 2),  # a glob of files without rows
    ({"a.csv": "x\n", "b.csv": "x\n1\n2\n"}, "a*x", "a=2", 0),  # an empty partition
    ({"d.csv": "x,y\n1,2\n3,4\n"}, "t*2", "t=1", 0),  # no column used
    ({"d.csv": "x,y\n1,2\n3,4\n"}, "a*z", "a=1", 2),  # a column that is not there
    ({"a.csv": "x\n1\n", "b.csv": "y\n1\n"}, "a*x", "a=1", 2),  # files of other columns
    ({"d.csv": "x\n1e308\n1e308\n"}, "a*x", "a=10", 3),  # the sum overflows
])
def test_edge_cases_as_in_one_process(tmp_path, scheduler, files, formula, at, code):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    data = str(tmp_path / (next(iter(files)) if len(files) == 1 else "*.csv"))
    args = ("grad", formula, "--data", data, "--at", at, "--format", "json", "--nodes", "none")
    local = invoke(*args)
    dask = invoke(*args, "--engine", "dask", "--scheduler", scheduler)
    assert local.code == dask.code == code, (local, dask)
    assert dask.stderr == local.stderr
    if code == 0:
        assert without_engine(dask.json()) == local.json()


# ---------------------------------------------------------------- faults

def test_a_worker_killed_mid_run_is_rescheduled_and_the_result_is_exact(tmp_path):
    """A worker process dies when it starts the second partition (once: a marker file);
    Dask runs that partition again elsewhere and the numbers are unchanged."""
    from dask.distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin

    rows = write_parts(tmp_path, [30, 30, 30, 30, 30])
    marker = tmp_path / "killed"

    class KillOnce(WorkerPlugin):
        def __init__(self, marker):
            self.marker = str(marker)

        def transition(self, key, start, finish, **kwargs):
            name = str(key)
            if finish == "executing" and name.startswith("adiff-partition-") \
                    and name.endswith("-1") and not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(1)  # the worker process dies; its nanny starts a new one

    args = ("grad", LOSS, "--data", str(tmp_path / "part-*.csv"), "--at", AT, "--format", "json",
            "--chunk-size", "7", "--no-check")
    one = invoke(*args).json()
    with cluster(n_workers=2, processes=True) as running, Client(running) as client:
        client.register_plugin(KillOnce(marker))
        dask = invoke(*args, "--engine", "dask", "--scheduler", running.scheduler_address)
        assert marker.exists()  # a worker did die
    assert dask.code == 0, dask
    many = dask.json()
    assert many["partitions"] == 5
    assert many["value"] == one["value"] and many["gradient"] == one["gradient"]
    value, gradient = oracle(rows)
    assert rel(many["value"], value) <= 1e-12
    assert all(rel(many["gradient"][k], gradient[k]) <= 1e-12 for k in gradient)


class KillAlways:
    """A worker plugin: the worker dies whenever it starts a partition."""

    def __init__(self):
        from distributed.diagnostics.plugin import WorkerPlugin

        self.__class__ = type("KillAlways", (KillAlways, WorkerPlugin), {})

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("adiff-partition-"):
            os._exit(1)


def test_a_partition_whose_workers_always_die_is_a_clear_error(tmp_path):
    import dask
    from dask.distributed import Client

    write_parts(tmp_path, [5])
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with cluster(n_workers=1, processes=True) as running, Client(running) as client:
            client.register_plugin(KillAlways())
            result = invoke("grad", LOSS, "--data", str(tmp_path / "part-0.csv"), "--at", AT,
                            "--engine", "dask", "--scheduler", running.scheduler_address)
    assert (result.code, result.stdout) == (2, "")
    first, _, rest = result.stderr.partition(" (Dask gave up: ")
    assert first == f"Error: the Dask workers running partition {tmp_path / 'part-0.csv'} died " \
                    "every time"
    assert rest.endswith(")\na worker out of memory? try a smaller --chunk-size, or workers with "
                         "more memory\n")
    assert "died while running it" in rest


def test_a_worker_of_another_version_is_refused():
    from autodiff_cli.data import distributed

    with pytest.raises(InputError) as caught:
        distributed.scan_part(None, "0.0.1", {}, None, None, 10, True)
    assert caught.value.message == (f"a Dask worker runs adiff {__version__}, and this is adiff "
                                    "0.0.1")
    assert caught.value.hint == "install the same version of adiff on every worker"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_an_input_error_within_seconds():
    port = _closed_port()
    started = time.monotonic()
    result = invoke("grad", "a*x1", "--data", str(ROOT / "samples/logistic.csv"), "--at", "a=1",
                    "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}")
    elapsed = time.monotonic() - started
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == (
        f"Error: --scheduler tcp://127.0.0.1:{port}: cannot reach the Dask scheduler (Timed out "
        f"trying to connect to tcp://127.0.0.1:{port} after 5 s)\n"
        "is `dask scheduler` running there, and is the address the one it printed?\n")
    assert elapsed < 15


def test_a_scheduler_without_workers_is_an_input_error(monkeypatch):
    from autodiff_cli.data import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1.0)
    with cluster(n_workers=0, processes=False) as running:
        address = running.scheduler_address
        result = invoke("grad", "a*x1", "--data", str(ROOT / "samples/logistic.csv"), "--at",
                        "a=1", "--engine", "dask", "--scheduler", address)
    assert result.code == 2
    assert result.stderr == (f"Error: --scheduler {address}: the scheduler has no workers (none "
                             f"joined within 1 s)\nstart some with: dask worker {address}\n")


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("args, message", [
    (("grad", "x", "--at", "x=1", "--engine", "dask"), "Error: --engine needs --data FILE\n"),
    (("grad", "x", "--at", "x=1", "--scheduler", "tcp://127.0.0.1:8786"),
     "Error: --scheduler needs --data FILE\n"),
    (("grad", "a*x1", "--data", "samples/logistic.csv", "--at", "a=1", "--scheduler",
      "tcp://127.0.0.1:8786"),
     "Error: --scheduler needs --engine dask\ne.g. --engine dask --scheduler tcp://127.0.0.1:8786\n"),
    (("check", "a*x1", "--data", "samples/logistic.csv", "--at", "a=1", "--engine", "dask",
      "--scheduler", "localhost"),
     "Error: --scheduler localhost: expected an address like tcp://HOST:PORT\n"
     "the one `dask scheduler` prints, e.g. tcp://127.0.0.1:8786\n"),
    (("trace", "a*x1", "--data", "samples/logistic.csv", "--at", "a=1", "--engine", "dask",
      "--scheduler", "http://127.0.0.1:8786"),
     "Error: --scheduler http://127.0.0.1:8786: unknown scheme 'http'\n"
     "expected an address like tcp://HOST:PORT (the one `dask scheduler` prints)\n"),
    (("grad", "a*x1", "--data", "-", "--at", "a=1", "--engine", "dask"),
     "Error: --engine dask reads files, and standard input (--data -) cannot be cut into "
     "partitions\nsave the data to a file, or drop --engine dask\n"),
])
def test_option_errors(args, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke(*args, input="x1\n1\n")
    assert (result.code, result.stdout, result.stderr) == (2, "", message)


def test_without_dask_the_engine_is_an_input_error_naming_the_install(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = invoke("grad", "a*x1", "--data", "samples/logistic.csv", "--at", "a=1",
                    "--engine", "dask")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == ("Error: --engine dask needs Dask (dask and dask.distributed), which "
                             "is not installed\ninstall it with: pip install 'adiff[dask]'\n")


def test_help_lists_the_engine_options():
    for command in ("grad", "check", "trace"):
        text = invoke(command, "--help").stdout
        assert "--engine [numpy|dask]" in text and "--scheduler ADDRESS" in text, command


# ---------------------------------------------------------------- a real process

def test_a_local_cluster_in_a_real_process(tmp_path):
    """Without --scheduler adiff starts (and stops) a LocalCluster of worker processes."""
    write_parts(tmp_path, [50, 60])
    args = [sys.executable, "-m", "autodiff_cli", "grad", LOSS, "--data",
            str(tmp_path / "part-*.csv"), "--at", AT, "--format", "json", "--nodes", "none"]
    env = {**os.environ, "NO_COLOR": "1"}
    one = invoke(*args[3:])  # the reference, in this process
    started = time.monotonic()
    many = subprocess.run(args + ["--engine", "dask"], capture_output=True, text=True, env=env,
                          timeout=120)
    elapsed = time.monotonic() - started
    assert one.code == many.returncode == 0, many.stderr
    assert many.stderr == ""
    a, b = one.json(), json.loads(many.stdout)
    assert (b["engine"], b["partitions"]) == ("dask", 2)
    assert without_engine(b) == a
    assert elapsed < 60


@contextlib.contextmanager
def real_cluster(folder, workers=2):
    """`dask scheduler` and `dask worker` in processes of their own, as the README starts
    them (on loopback): yields (address, scheduler process); both stop at the end."""
    from dask.distributed import Client

    info = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                                 **quiet)
    nanny = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        nanny = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers",
                                  str(workers), "--nthreads", "1", "--no-dashboard"], **quiet)
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address, scheduler
    finally:
        for process in (nanny, scheduler):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (nanny, scheduler):
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def slow_parquet(folder):
    """Data whose pass takes seconds (8 files of 10^6 rows, read 200 rows a chunk): a
    glob, and the arguments of a grad over it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    for k in range(8):
        x = rng.normal(size=(1_000_000, 2))
        pq.write_table(pa.table({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] > 0) * 1.0}),
                       folder / f"big-{k}.parquet")
    return [sys.executable, "-m", "autodiff_cli", "grad", LOSS, "--data",
            str(folder / "big-*.parquet"), "--at", AT, "--engine", "dask", "--chunk-size", "200",
            "--no-check", "--format", "json"]


def test_dask_scheduler_and_dask_worker_as_the_readme_starts_them(tmp_path):
    """The README's recipe with real processes: `dask scheduler`, `dask worker`, then adiff."""
    write_parts(tmp_path, [30, 30, 30])
    args = [sys.executable, "-m", "autodiff_cli", "grad", LOSS, "--data",
            str(tmp_path / "part-*.csv"), "--at", AT, "--format", "json", "--nodes", "none"]
    one = invoke(*args[3:])  # the reference, in this process
    with real_cluster(tmp_path) as (address, _):
        many = subprocess.run(args + ["--engine", "dask", "--scheduler", address],
                              capture_output=True, text=True, timeout=120)
    assert one.code == many.returncode == 0, many.stderr
    assert many.stderr == ""
    a, b = one.json(), json.loads(many.stdout)
    assert (b["engine"], b["partitions"]) == ("dask", 3)
    assert without_engine(b) == a


def test_a_scheduler_lost_mid_run_is_a_clear_error(tmp_path):
    args = slow_parquet(tmp_path)
    from dask.distributed import Client

    def running(dask_scheduler):
        return sum(str(key).startswith("adiff-partition-") for key in dask_scheduler.tasks)

    with real_cluster(tmp_path) as (address, scheduler):
        process = subprocess.Popen(args + ["--scheduler", address], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        with Client(address, timeout=30) as watcher:
            deadline = time.monotonic() + 60
            while not watcher.run_on_scheduler(running) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(0.3)
        assert process.poll() is None, "the run ended before the scheduler was killed"
        scheduler.kill()
        out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (2, "")
    first, _, rest = err.partition(" (partition ")
    assert first == (f"Error: --scheduler {address}: the connection to the Dask scheduler was lost "
                     "in the middle of the run")
    assert rest.endswith(" was not finished)\nis the scheduler still running? run again when it "
                         "is\n")


def test_ctrl_c_in_a_terminal_stops_the_local_cluster_quietly(tmp_path):
    """Ctrl-C reaches the whole process group: adiff says "Interrupted." and exits 130, its
    worker processes print nothing and are gone."""
    import signal

    import psutil

    args = slow_parquet(tmp_path)
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        me = psutil.Process(process.pid)
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline and process.poll() is None:
            workers = [p for p in me.children(recursive=True)
                       if "multiprocessing" in " ".join(p.cmdline())]
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "no worker processes"
        time.sleep(1.0)  # the workers are running partitions
        assert process.poll() is None, "the run ended before the Ctrl-C"
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert (process.returncode, out, err) == (130, "", "Interrupted.\n")
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
