"""Benchmark of issue 14 (Dask): 10^8 rows in Parquet partitions, one process against a 2-worker LocalCluster.

The data (seeded logistic-regression rows: columns x1, x2, y) is generated
file by file into a temporary folder under /tmp (``--files`` Parquet files,
one row group each, written in chunks of rows so memory stays small) and
deleted at the end (``--keep`` keeps it for a next run: ``--dir``).

Every figure comes from whole fresh processes, in alternating order (round r
runs the one-process engine first when r is even, the Dask engine first when
it is odd), and is the median over the rounds; ratios are taken per round,
then their median. The load average is recorded beside each run: the machine
is shared. Jobs (both print the value and the gradient, which must agree to
1e-10 relative):

* ``numpy``: ``adiff grad LOSS --data 'DIR/part-*.parquet' --at … --format plain --no-check``;
* ``dask``: the same with ``--engine dask`` (a LocalCluster of one single-threaded
  worker process per core: 2 here, started and stopped by the command);
* ``running``: the same with ``--engine dask --scheduler ADDRESS``, on a cluster started
  once before the rounds as the README's "Beyond one machine" starts one (``dask
  scheduler``, then ``dask worker --nworkers 2 --nthreads 1``; the workers with Dask's
  statistical profiler off, ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False``, as
  adiff's own local cluster has it): what a pass costs once a cluster is up.

Then the costs that decide how it scales, measured in this process:

* **per partition**: one partition scanned by the worker's own task function
  (``distributed.scan_part``: read + evaluate), median of 3;
* **per task**: the scheduling overhead of a Dask task (a no-op task, 500 of them
  on the 2-worker cluster); **per pass**: a whole pass (``batch.run``) over a 10-row
  file on that running cluster, median of 20 (what each pass of ``check`` or ``fit``
  adds);
* **start-up**: ``--engine dask`` on a 10-row file (LocalCluster start, worker
  imports) minus the one-process engine on it;
* **reduction**: ``batch.finish`` over P partials (P = 100, 1,000, 10,000), and
  the pickled size of one partial (what each task sends back).

From these, the time on W workers (``extrapolate``): start + ceil(P/W) × per
partition + P × per task / (the scheduler: one process) + reduction(P).
Results go to ``benchmarks/results/bench-dask-<time>.{json,txt}``.

    nice python benchmarks/bench_dask.py                     # 10^8 rows, 50 files, 3 rounds
    python benchmarks/bench_dask.py --rows 2000000 --files 4 --rounds 1     # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autodiff_cli.data.reader import DEFAULT_CHUNK_ROWS

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
THETA = {"t0": 0.1, "t1": -0.2, "t2": 0.3}
AT = ",".join(f"{k}={v}" for k, v in THETA.items())
#: Rows generated at a time (memory: 3 columns of this many doubles).
GEN_ROWS = 1_000_000


# ---------------------------------------------------------------- the data

def generate(folder: Path, rows: int, files: int, seed: int = 14) -> list[Path]:
    """``files`` Parquet files of rows/files rows each, one row group per file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    per_file = [rows // files + (1 if k < rows % files else 0) for k in range(files)]
    schema = pa.schema([("x1", pa.float64()), ("x2", pa.float64()), ("y", pa.float64())])
    paths = []
    for k, n in enumerate(per_file):
        path = folder / f"part-{k:04d}.parquet"
        paths.append(path)
        if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
            continue
        rng = np.random.default_rng([seed, k])
        tmp = path.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:
            done = 0
            tables = []
            while done < n:
                m = min(GEN_ROWS, n - done)
                x = rng.normal(size=(m, 2))
                z = 0.5 + 1.5 * x[:, 0] - 2.0 * x[:, 1]
                y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
                tables.append(pa.table({"x1": x[:, 0], "x2": x[:, 1], "y": y}, schema=schema))
                done += m
            # one row group per file: a file is one partition, read in the same chunks
            # by both engines
            writer.write_table(pa.concat_tables(tables), row_group_size=n)
        tmp.replace(path)
    return paths


# ---------------------------------------------------------------- processes

#: The children's environment: as an installed adiff runs, with its bytecode cached (under
#: PYTHONDONTWRITEBYTECODE an editable checkout compiles every module in every run).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process: wall time and the printed value and gradient."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=CHILD_ENV)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {proc.stderr[-2000:]}")
    numbers = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                numbers[parts[0] + ("" if len(parts) == 2 else ":" + parts[1])] = float(parts[-1])
            except ValueError:
                pass
    return {"wall": wall, "load": load, "result": numbers, "stderr": proc.stderr[-500:]}


def adiff_cmd(adiff: list[str], data: str, engine: str, chunk: int | None = None) -> list[str]:
    cmd = adiff + ["grad", LOSS, "--data", data, "--at", AT, "--format", "plain", "--no-check"]
    cmd += ["--chunk-size", str(chunk)] if chunk else []
    return cmd + (["--engine", "dask"] if engine == "dask" else [])


def agree(a: dict, b: dict) -> float:
    keys = set(a) & set(b)
    if not keys:
        return math.inf
    return max(abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in keys)


class RunningCluster:
    """``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` as processes on
    loopback (the README's recipe), up until ``close``; ``address`` is the scheduler's."""

    def __init__(self, workers: int, folder: Path):
        from distributed import Client

        bin_dir = Path(sys.executable).parent
        dask = str(bin_dir / "dask") if (bin_dir / "dask").exists() else "dask"
        self.file = folder / "scheduler.json"
        self.file.unlink(missing_ok=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        env = dict(CHILD_ENV, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", str(self.file)],
                                       env=env, **quiet)]
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(self.file),
                                            "--nworkers", str(workers), "--nthreads", "1",
                                            "--no-dashboard"], env=env, **quiet))
        with Client(scheduler_file=str(self.file), timeout=60) as client:
            client.wait_for_workers(workers, timeout=60)
            self.address = client.scheduler.address

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# ---------------------------------------------------------------- the costs, in this process

def costs(paths: list[Path], workers: int, chunk: int = 100_000) -> dict:
    """Per partition, per task, reduction and partial size (see the module)."""
    from autodiff_cli import __version__
    from autodiff_cli.data import batch, distributed
    from autodiff_cli.data.reader import DataFile
    from autodiff_cli.language.parser import parse

    graph = parse(LOSS)
    data = DataFile(str(paths[0]), None, chunk)
    setup = batch.Setup(graph, THETA, data)
    part = distributed.partitions(data)[0]
    opts = batch.Pass()
    times, partial = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        partial = distributed.scan_part(pickle.loads(pickle.dumps(setup)), __version__, THETA,
                                        opts, part, chunk, True)
        times.append(time.perf_counter() - t0)
    per_partition = statistics.median(times)
    size = len(pickle.dumps(partial))
    reduction = {}
    for p in (100, 1_000, 10_000):
        parts = [partial] * p
        t0 = time.perf_counter()
        batch.finish(setup, parts, opts)
        reduction[p] = time.perf_counter() - t0
    tiny = paths[0].parent / "tiny.csv"
    tiny.write_text("x1,x2,y\n" + "".join(f"{k / 10},{-k / 10},{k % 2}\n" for k in range(10)))
    small = batch.Setup(graph, THETA, DataFile(str(tiny)))
    engine = distributed.DaskEngine(small.data, workers=workers)
    small.engine = engine
    try:
        client = engine.start()
        batch.run(small)  # the workers have imported adiff
        passes = []
        for _ in range(20):
            t0 = time.perf_counter()
            batch.run(small)
            passes.append(time.perf_counter() - t0)
        n = 500
        t0 = time.perf_counter()
        futures = [client.submit(int, k, pure=False) for k in range(n)]
        client.gather(futures)
        per_task = (time.perf_counter() - t0) / n
    finally:
        engine.close()
    return {"rows_per_partition": partial.rows, "per_partition_s": per_partition,
            "per_partition_runs": times, "partial_bytes": size, "reduction_s": reduction,
            "per_task_s": per_task, "per_pass_s": statistics.median(passes)}


def extrapolate(c: dict, start: float, rows: int, workers: int, partition_rows: int) -> dict:
    """Seconds for ``rows`` on ``workers`` workers, partitions of ``partition_rows`` rows."""
    p = math.ceil(rows / partition_rows)
    per_part = c["per_partition_s"] * partition_rows / c["rows_per_partition"]
    reduce_per = c["reduction_s"][10_000] / 10_000
    t = start + math.ceil(p / workers) * per_part + p * c["per_task_s"] + p * reduce_per
    return {"partitions": p, "seconds": t, "rows_per_s": rows / t,
            "compute_s": math.ceil(p / workers) * per_part, "scheduling_s": p * c["per_task_s"],
            "reduction_s": p * reduce_per, "start_s": start}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", help="where the Parquet files go (default: a new folder in /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="--chunk-size of both engines (default: adiff's)")
    args = ap.parse_args(argv)
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="adiff-dask-", dir="/tmp"))
    adiff = [sys.executable, "-m", "autodiff_cli"]
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "rows": args.rows, "files": args.files}
    try:
        t0 = time.perf_counter()
        paths = generate(folder, args.rows, args.files)
        say(f"data: {args.rows:,} rows in {len(paths)} Parquet files under {folder} "
            f"({sum(p.stat().st_size for p in paths) / 2**30:.2f} GiB, {time.perf_counter() - t0:.0f} s)")
        glob = str(folder / "part-*.parquet")
        cluster = RunningCluster(args.workers, folder)
        try:
            jobs = {"numpy": adiff_cmd(adiff, glob, "numpy", args.chunk_size),
                    "dask": adiff_cmd(adiff, glob, "dask", args.chunk_size),
                    "running": adiff_cmd(adiff, glob, "dask", args.chunk_size)
                    + ["--scheduler", cluster.address]}
            report["chunk_size"] = args.chunk_size
            runs: dict[str, list[dict]] = {k: [] for k in jobs}
            run(jobs["running"])  # uncounted: the workers import adiff
            names = list(jobs)
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    runs[name].append(run(jobs[name]))
                    say(f"  round {r + 1} {name:7}: {runs[name][-1]['wall']:7.2f} s  "
                        f"(load {runs[name][-1]['load']:.2f})")
        finally:
            cluster.close()
        diff = max(agree(a["result"], b["result"]) for name in ("dask", "running")
                   for a, b in zip(runs["numpy"], runs[name]))
        ratios = {name: [a["wall"] / b["wall"] for a, b in zip(runs["numpy"], runs[name])]
                  for name in ("dask", "running")}
        med = {k: statistics.median(r["wall"] for r in rs) for k, rs in runs.items()}
        report["runs"] = runs
        report["median_s"] = med
        report["rows_per_s"] = {k: args.rows / v for k, v in med.items()}
        report["speedup"] = statistics.median(ratios["dask"])
        report["speedup_running"] = statistics.median(ratios["running"])
        report["max_rel_diff"] = diff
        mrows = {k: args.rows / v / 1e6 for k, v in med.items()}
        say(f"{args.rows:,} rows (--chunk-size {args.chunk_size or 'default'}): one process "
            f"{med['numpy']:.2f} s ({mrows['numpy']:.1f} M rows/s); "
            f"dask, {args.workers} workers started by the command: {med['dask']:.2f} s "
            f"({mrows['dask']:.1f} M rows/s), speed-up {report['speedup']:.2f}x "
            f"[{', '.join(f'{x:.2f}' for x in ratios['dask'])}]; on a running {args.workers}-worker "
            f"cluster: {med['running']:.2f} s ({mrows['running']:.1f} M rows/s), speed-up "
            f"{report['speedup_running']:.2f}x [{', '.join(f'{x:.2f}' for x in ratios['running'])}] "
            f"(medians of per-round ratios); rel diff {diff:.1e}")
        # start-up: a 10-row file
        tiny = folder / "tiny.csv"
        tiny.write_text("x1,x2,y\n" + "".join(f"{k / 10},{-k / 10},{k % 2}\n" for k in range(10)))
        small = {"numpy": [], "dask": []}
        for r in range(args.rounds):
            for name in (("numpy", "dask") if r % 2 == 0 else ("dask", "numpy")):
                small[name].append(run(adiff_cmd(adiff, str(tiny), name))["wall"])
        start = statistics.median(small["dask"]) - statistics.median(small["numpy"])
        report["startup_s"] = {"numpy": statistics.median(small["numpy"]),
                               "dask": statistics.median(small["dask"]), "difference": start}
        say(f"start-up on a 10-row file: one process {report['startup_s']['numpy']:.2f} s, dask "
            f"{report['startup_s']['dask']:.2f} s: the local cluster costs {start:.2f} s")
        c = costs(paths, args.workers, args.chunk_size or DEFAULT_CHUNK_ROWS)
        report["costs"] = c
        speed = c['rows_per_partition'] / c['per_partition_s'] / 1e6
        say(f"per partition ({c['rows_per_partition']:,} rows, read + evaluate): "
            f"{c['per_partition_s'] * 1e3:.0f} ms ({speed:.1f} M rows/s a worker); "
            f"per task (scheduling): {c['per_task_s'] * 1e3:.2f} ms; a pass over a 10-row file "
            f"on a running cluster: {c['per_pass_s'] * 1e3:.0f} ms; a partial: "
            f"{c['partial_bytes']:,} bytes; reduction: "
            + ", ".join(f"{p:,} partials {s * 1e3:.1f} ms" for p, s in c["reduction_s"].items()))
        report["extrapolated"] = {}
        for workers in (2, 10, 100):
            e = extrapolate(c, start, args.rows, workers, c["rows_per_partition"])
            report["extrapolated"][workers] = e
            say(f"  on paper, {workers:>3} workers, {e['partitions']} partitions: {e['seconds']:.2f} s "
                f"({e['rows_per_s'] / 1e6:.0f} M rows/s): compute {e['compute_s']:.2f}, scheduling "
                f"{e['scheduling_s']:.2f}, reduction {e['reduction_s'] * 1e3:.1f} ms, "
                f"start {e['start_s']:.2f}")
        e = extrapolate(c, start, 10 * args.rows, 100, c["rows_per_partition"])
        report["extrapolated"]["100x10"] = e
        say(f"  on paper, 100 workers, {10 * args.rows:,} rows ({e['partitions']} partitions): "
            f"{e['seconds']:.2f} s ({e['rows_per_s'] / 1e6:.0f} M rows/s): compute {e['compute_s']:.2f}, "
            f"scheduling {e['scheduling_s']:.2f}, reduction {e['reduction_s'] * 1e3:.1f} ms")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-dask-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
    (RESULTS / f"bench-dask-{stamp}.txt").write_text("\n".join(lines) + "\n")
    print(f"results: benchmarks/results/bench-dask-{stamp}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
