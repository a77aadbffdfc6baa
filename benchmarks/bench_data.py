"""Benchmark of issue 6: the logistic loss summed over a data file, adiff against NumPy by hand.

Every figure comes from whole fresh processes, run in alternating order
(round r runs adiff first when r is even, the hand-written NumPy job first
when it is odd), and is the median over the rounds; the load average is
recorded beside each run, because the machine may be shared. Data files are
generated once into the git-ignored ``benchmarks/data/`` (gen_logistic_csv.py,
seeded); results go to ``benchmarks/results/bench-data-<time>.{json,txt}``.

    python benchmarks/bench_data.py                         # 10^4, 10^6, 10^7 rows
    python benchmarks/bench_data.py --sizes 10000,1000000 --rounds 3 --no-chunks

Jobs (both print the value and the gradient of the summed loss; they are
compared to 1e-9 relative):

* ``adiff``: ``adiff grad LOSS --data F --at t0=..,t1=..,t2=.. --format plain --no-check``
  (the default chunk size), wall, CPU and peak RSS of the process;
* ``numpy``: ``python bench_data.py --hand F``: ``numpy.loadtxt`` of the whole
  file, then the loss and its gradient written by hand (p - y times the inputs).

Targets (issue 6): adiff ≤ 2× NumPy end to end at 10^6 rows; peak memory at
10^7 rows bounded by the chunk size, not the file (``--chunk-size`` sweep at
the largest size, and the same chunk size at 10^6 and 10^7); time linear in rows.
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
DATA = HERE / "data"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
THETA = {"t0": 0.1, "t1": -0.2, "t2": 0.3}
SIZES = (10_000, 1_000_000, 10_000_000)
CHUNKS = (10_000, 100_000, 1_000_000)


# ---------------------------------------------------------------- the hand-written job

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


# ---------------------------------------------------------------- processes

def run(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process: wall time, CPU time and peak RSS of that child alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
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
    at = ",".join(f"{k}={v}" for k, v in THETA.items())
    cmd = [adiff, "grad", LOSS, "--data", str(path), "--at", at, "--format", "plain", "--no-check"]
    return cmd + (["--chunk-size", str(chunk)] if chunk else [])


def ensure_file(n: int) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"logistic-{n}.csv"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        from gen_logistic_csv import main as generate

        tmp = path.with_suffix(".tmp")
        generate(["--rows", str(n), "-o", str(tmp)])
        tmp.replace(path)
    return path


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def agree(a: dict, b: dict) -> float:
    """The largest relative difference between two results."""
    return max(abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in a)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hand", metavar="FILE", help="run the hand-written NumPy job on FILE")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--rounds", type=int, default=5, help="rounds per size (the largest: 3)")
    ap.add_argument("--no-chunks", action="store_true", help="skip the --chunk-size sweep")
    ap.add_argument("--adiff", default=shutil.which("adiff") or str(Path(sys.executable).parent / "adiff"))
    args = ap.parse_args(argv)
    if args.hand:
        hand(args.hand)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    python = sys.executable
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "loss": LOSS, "theta": THETA, "sizes": {}}
    lines = []
    for n in sizes:
        path = ensure_file(n)
        rounds = min(args.rounds, 3) if n >= 10_000_000 else args.rounds
        jobs = {"adiff": adiff_cmd(args.adiff, path), "numpy": [python, __file__, "--hand", str(path)]}
        runs: dict[str, list[dict]] = {k: [] for k in jobs}
        for r in range(rounds):
            order = list(jobs) if r % 2 == 0 else list(reversed(jobs))
            for name in order:
                runs[name].append(run(jobs[name]))
        diff = max(agree(a["result"], b["result"]) for a, b in zip(runs["adiff"], runs["numpy"]))
        entry = {name: {"wall": median(rs, "wall"), "cpu": median(rs, "cpu"),
                        "maxrss_mib": median(rs, "maxrss_mib"), "load": median(rs, "load"),
                        "runs": rs} for name, rs in runs.items()}
        entry["ratio"] = entry["adiff"]["wall"] / entry["numpy"]["wall"]
        entry["max_rel_diff"] = diff
        entry["rounds"] = rounds
        report["sizes"][str(n)] = entry
        lines.append(f"{n:>11,} rows  adiff {entry['adiff']['wall']:7.3f} s "
                     f"({entry['adiff']['maxrss_mib']:6.0f} MiB)   numpy {entry['numpy']['wall']:7.3f} s "
                     f"({entry['numpy']['maxrss_mib']:6.0f} MiB)   ratio {entry['ratio']:.2f}   "
                     f"rel diff {diff:.1e}   load {entry['adiff']['load']:.2f}   rounds {rounds}")
        print(lines[-1], flush=True)
    # Linear in rows: time per row above the smallest size's (start-up) time.
    if len(sizes) >= 3:
        base = report["sizes"][str(sizes[0])]["adiff"]["wall"]
        per_row = {n: (report["sizes"][str(n)]["adiff"]["wall"] - base) / (n - sizes[0]) * 1e6
                   for n in sizes[1:]}
        report["adiff_us_per_row_above_startup"] = per_row
        lines.append("adiff µs per row above start-up: "
                     + ", ".join(f"{n:,}: {v:.3f}" for n, v in per_row.items()))
        print(lines[-1], flush=True)
    if not args.no_chunks:
        big = max(sizes)
        path = ensure_file(big)
        sweep = {}
        for chunk in CHUNKS:
            rs = [run(adiff_cmd(args.adiff, path, chunk)) for _ in range(3)]
            sweep[chunk] = {"wall": median(rs, "wall"), "maxrss_mib": median(rs, "maxrss_mib"),
                            "load": median(rs, "load")}
            lines.append(f"{big:>11,} rows  --chunk-size {chunk:>9,}: {sweep[chunk]['wall']:7.3f} s, "
                         f"peak {sweep[chunk]['maxrss_mib']:6.0f} MiB   load {sweep[chunk]['load']:.2f}")
            print(lines[-1], flush=True)
        report["chunk_sweep"] = {str(k): v for k, v in sweep.items()}
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-data-{stamp}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"bench-data-{stamp}.txt").write_text("\n".join(lines) + "\n")
    print(f"results: benchmarks/results/bench-data-{stamp}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
