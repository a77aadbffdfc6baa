"""Benchmark of issues 6 and 14: the logistic loss summed over a data file -- adiff on CSV and on
Parquet against the same gradient written by hand in NumPy.

Every figure comes from whole fresh processes, run in rotating order (round r starts with
job r mod k), and is the median over the rounds; the load average is recorded beside each
run, because the machine may be shared. Data files are generated into a temporary folder
under /tmp (gen_logistic_csv.py, seeded; the Parquet file holds the same rows, converted by
Arrow) and deleted at the end (``--keep`` keeps them in ``benchmarks/data/``); results go to
``benchmarks/results/bench-data-<time>.{json,txt}``.

    python benchmarks/bench_data.py                         # 10^4, 10^6, 10^7 rows, 5 rounds
    python benchmarks/bench_data.py --sizes 10000,1000000 --rounds 3 --no-sweep --no-first-call

Jobs (all but the read-only ones print the value and the gradient of the summed loss; they
are compared to 1e-9 relative):

* ``adiff csv`` / ``adiff parquet``: ``adiff grad LOSS --data F --at t0=..,t1=..,t2=..
  --format plain --no-check`` (the default chunk size): wall, CPU and peak RSS of the process;
* ``numpy``: ``python bench_data.py --hand F``: ``numpy.loadtxt`` of the whole CSV, then the
  loss and its gradient written by hand (p - y times the inputs);
* ``read csv`` / ``read parquet``: ``python bench_data.py --read F``: adiff's reader alone
  (``DataFile(F).chunks``), no evaluation -- where the time of the two formats differs;
* first call (``--first-call``): a fresh process reads the 10^6-row CSV with
  ``pyarrow.csv.read_csv`` once, ``ReadOptions(use_threads=True)`` against ``False``
  (a CLI makes one call per process, so the thread pool's start-up counts).

Targets (issue 14): adiff ≤ 1.0× NumPy end to end at 10^6 rows (CSV, reading included);
Parquet ≤ 0.4× the CSV time at 10^7 rows; peak memory bounded by the chunk size, not the file
(peak RSS at 10^6 and 10^7 rows; a ``--chunk-size`` sweep at the largest size).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
THETA = {"t0": 0.1, "t1": -0.2, "t2": 0.3}
SIZES = (10_000, 1_000_000, 10_000_000)
CHUNKS = (10_000, 100_000, 1_000_000)


# ---------------------------------------------------------------- the jobs run in a child

def hand(path: str) -> None:
    """The same gradient written by hand in NumPy, CSV load included."""
    import numpy as np

    table = np.loadtxt(path, delimiter=",", skiprows=1)
    x1, x2, y = table[:, 0], table[:, 1], table[:, 2]
    z = THETA["t0"] + THETA["t1"] * x1 + THETA["t2"] * x2
    p = 1.0 / (1.0 + np.exp(-z))
    loss = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)).sum()
    r = p - y
    sums = [loss, r.sum(), (r * x1).sum(), (r * x2).sum()]
    print("\n".join(f"{k}\t{float(v)!r}" for k, v in zip(("value", "t0", "t1", "t2"), sums)))


def read_only(path: str) -> None:
    """adiff's reader alone: every chunk of the three columns, summed (no evaluation)."""
    from autodiff_cli.data.reader import DataFile

    rows, total = 0, 0.0
    for chunk in DataFile(path).chunks(["x1", "x2", "y"]):
        rows += chunk.rows
        total += float(chunk.columns["x1"].sum())
    print(f"rows\t{rows}\nsum_x1\t{total!r}")


def first_call(path: str, threads: str) -> None:
    """One ``pyarrow.csv.read_csv`` of ``path`` in a fresh process, timed from the import."""
    t0 = time.perf_counter()
    import pyarrow as pa
    import pyarrow.csv as csv

    t1 = time.perf_counter()
    names = ["x1", "x2", "y"]
    table = csv.read_csv(path, read_options=csv.ReadOptions(use_threads=threads == "threads"),
                         convert_options=csv.ConvertOptions(
                             column_types={n: pa.float64() for n in names}))
    t2 = time.perf_counter()
    print(f"import\t{t1 - t0!r}\nread\t{t2 - t1!r}\nrows\t{table.num_rows}")


# ---------------------------------------------------------------- processes

#: The children's environment: as an installed adiff runs, with its bytecode cached. Under
#: PYTHONDONTWRITEBYTECODE an editable checkout compiles every adiff module in every run
#: (about 60 ms here), which an installed wheel (compiled by pip) and the NumPy job never pay.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process: wall time, CPU time and peak RSS of that child alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited {rc}: {stderr[-2000:]}")
    numbers = dict(line.split("\t") for line in stdout.splitlines() if "\t" in line)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_mib": usage.ru_maxrss / 1024,
            "load": load, "result": {k: float(v) for k, v in numbers.items()}}


def adiff_cmd(adiff: str, path: Path, chunk: int | None = None) -> list[str]:
    """``adiff grad`` of the loss over ``path``; ``chunk``: its --chunk-size (None: default)."""
    at = ",".join(f"{k}={v}" for k, v in THETA.items())
    cmd = [adiff, "grad", LOSS, "--data", str(path), "--at", at, "--format", "plain", "--no-check"]
    return cmd + (["--chunk-size", str(chunk)] if chunk else [])


def ensure_files(folder: Path, n: int) -> tuple[Path, Path]:
    """The n-row CSV and the same rows as Parquet (made once per folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"logistic-{n}.csv"
    if not path.exists():
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        from gen_logistic_csv import main as generate

        tmp = path.with_suffix(".tmp")
        generate(["--rows", str(n), "-o", str(tmp)])
        tmp.replace(path)
    parquet = path.with_suffix(".parquet")
    if not parquet.exists():
        # In a child: this process stays small, because a child's peak RSS (ru_maxrss)
        # starts from its parent's size at the fork.
        tmp = parquet.with_suffix(".tmp")
        subprocess.run([sys.executable, __file__, "--to-parquet", str(path), str(tmp)], check=True)
        tmp.replace(parquet)
    return path, parquet


def to_parquet(source: str, target: str) -> None:
    """The rows of the CSV ``source`` as the Parquet file ``target`` (default row groups)."""
    import pyarrow as pa
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    types = {k: pa.float64() for k in ("x1", "x2", "y")}
    table = csv.read_csv(source, convert_options=csv.ConvertOptions(column_types=types))
    pq.write_table(table, target)


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def agree(a: dict, b: dict) -> float:
    """The largest relative difference between two results."""
    return max(abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in a)


def rounds_of(jobs: dict[str, list[str]], rounds: int) -> dict[str, list[dict]]:
    """Each job ``rounds`` times, the order rotating so that no job always runs first, after
    one run of each that is not counted (it writes the bytecode and warms the page cache)."""
    runs: dict[str, list[dict]] = {k: [] for k in jobs}
    names = list(jobs)
    for name in names:
        run(jobs[name])
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            runs[name].append(run(jobs[name]))
    return runs


def summary(rs: list[dict]) -> dict:
    return {"wall": median(rs, "wall"), "cpu": median(rs, "cpu"),
            "maxrss_mib": median(rs, "maxrss_mib"), "load": median(rs, "load"), "runs": rs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hand", metavar="FILE", help="run the hand-written NumPy job on FILE")
    ap.add_argument("--read", metavar="FILE", help="run adiff's reader alone on FILE")
    ap.add_argument("--first-call", nargs=2, metavar=("FILE", "MODE"),
                    help="one pyarrow.csv.read_csv of FILE, MODE threads or single")
    ap.add_argument("--to-parquet", nargs=2, metavar=("CSV", "PARQUET"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--rounds", type=int, default=5, help="rounds per size")
    ap.add_argument("--chunk", type=int, default=None,
                    help="--chunk-size of the adiff jobs (default: adiff's default)")
    ap.add_argument("--no-sweep", "--no-chunks", action="store_true",
                    help="skip the --chunk-size sweep")
    ap.add_argument("--no-first-call", action="store_true", help="skip the use_threads runs")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data files, in benchmarks/data/ (else a folder under /tmp, "
                         "deleted at the end)")
    ap.add_argument("--adiff", default=shutil.which("adiff") or str(Path(sys.executable).parent / "adiff"))
    args = ap.parse_args(argv)
    if args.hand:
        hand(args.hand)
        return 0
    if args.read:
        read_only(args.read)
        return 0
    if args.first_call:
        first_call(*args.first_call)
        return 0
    if args.to_parquet:
        to_parquet(*args.to_parquet)
        return 0
    folder = HERE / "data" if args.keep else Path(tempfile.mkdtemp(prefix="adiff-bench-data-",
                                                                   dir="/tmp"))
    try:
        return measure(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def measure(args, folder: Path) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    python = sys.executable
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
              "chunk": args.chunk,
              "python": sys.version.split()[0], "loss": LOSS, "theta": THETA, "sizes": {}}
    lines = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    for n in sizes:
        csv_path, parquet = ensure_files(folder, n)
        jobs = {"adiff csv": adiff_cmd(args.adiff, csv_path, args.chunk),
                "numpy": [python, __file__, "--hand", str(csv_path)],
                "adiff parquet": adiff_cmd(args.adiff, parquet, args.chunk),
                "read csv": [python, __file__, "--read", str(csv_path)],
                "read parquet": [python, __file__, "--read", str(parquet)]}
        runs = rounds_of(jobs, args.rounds)
        diff = max(max(agree(a["result"], b["result"]), agree(c["result"], b["result"]))
                   for a, b, c in zip(runs["adiff csv"], runs["numpy"], runs["adiff parquet"]))
        entry = {name: summary(rs) for name, rs in runs.items()}
        entry["csv_over_numpy"] = entry["adiff csv"]["wall"] / entry["numpy"]["wall"]
        entry["parquet_over_csv"] = entry["adiff parquet"]["wall"] / entry["adiff csv"]["wall"]
        entry["read_parquet_over_csv"] = entry["read parquet"]["wall"] / entry["read csv"]["wall"]
        entry["max_rel_diff"] = diff
        entry["rounds"] = args.rounds
        report["sizes"][str(n)] = entry
        say(f"{n:>11,} rows  adiff csv {entry['adiff csv']['wall']:6.3f} s "
            f"({entry['adiff csv']['maxrss_mib']:4.0f} MiB)   numpy {entry['numpy']['wall']:6.3f} s "
            f"({entry['numpy']['maxrss_mib']:4.0f} MiB)   adiff parquet "
            f"{entry['adiff parquet']['wall']:6.3f} s ({entry['adiff parquet']['maxrss_mib']:4.0f} "
            f"MiB)   read csv {entry['read csv']['wall']:6.3f} s   read parquet "
            f"{entry['read parquet']['wall']:6.3f} s")
        say(f"{'':>11}       CPU: adiff csv {entry['adiff csv']['cpu']:.3f} s   numpy "
            f"{entry['numpy']['cpu']:.3f} s   adiff parquet {entry['adiff parquet']['cpu']:.3f} s   "
            f"read csv {entry['read csv']['cpu']:.3f} s   read parquet "
            f"{entry['read parquet']['cpu']:.3f} s")
        say(f"{'':>11}       csv/numpy {entry['csv_over_numpy']:.2f}   parquet/csv "
            f"{entry['parquet_over_csv']:.2f}   read parquet/csv "
            f"{entry['read_parquet_over_csv']:.2f}   rel diff {diff:.1e}   load "
            f"{entry['adiff csv']['load']:.2f}   rounds {args.rounds}")
    if not args.no_first_call:
        path, _ = ensure_files(folder, 1_000_000)
        jobs = {mode: [python, __file__, "--first-call", str(path), mode]
                for mode in ("threads", "single")}
        runs = rounds_of(jobs, args.rounds)
        first = {mode: {"read": statistics.median(r["result"]["read"] for r in rs),
                        "import": statistics.median(r["result"]["import"] for r in rs),
                        "load": median(rs, "load")} for mode, rs in runs.items()}
        report["first_call"] = first
        say("first pyarrow.csv.read_csv in a process, 10^6 rows: "
            + "   ".join(f"use_threads={mode == 'threads'} {v['read']:.3f} s "
                         f"(import {v['import']:.3f} s)" for mode, v in first.items())
            + f"   load {first['single']['load']:.2f}")
    if not args.no_sweep:
        big = max(sizes)
        csv_path, parquet = ensure_files(folder, big)
        sweep = {}
        for chunk in CHUNKS:
            for kind, path in (("csv", csv_path), ("parquet", parquet)):
                rs = [run(adiff_cmd(args.adiff, path, chunk)) for _ in range(3)]
                sweep[f"{kind} {chunk}"] = {"wall": median(rs, "wall"),
                                            "maxrss_mib": median(rs, "maxrss_mib"),
                                            "load": median(rs, "load")}
                s = sweep[f"{kind} {chunk}"]
                say(f"{big:>11,} rows  {kind:>7}  --chunk-size {chunk:>9,}: {s['wall']:6.3f} s, "
                    f"peak {s['maxrss_mib']:5.0f} MiB   load {s['load']:.2f}")
        report["chunk_sweep"] = sweep
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-data-{stamp}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"bench-data-{stamp}.txt").write_text("\n".join(lines) + "\n")
    print(f"results: benchmarks/results/bench-data-{stamp}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
