"""The core benchmark of issue 2: adiff against PyTorch, and adiff's cold start.

Every figure comes from whole fresh processes, run in alternating order
(round r runs the jobs in one order, round r+1 in the reverse), and is the
median over the rounds. Nothing is written into the repository except under
the git-ignored ``benchmarks/data/`` (generated formulas, reused) and
``benchmarks/results/`` (one JSON file per run).

    python benchmarks/bench_core.py                                   # adiff only
    python benchmarks/bench_core.py --torch-python /work/torchvenv/bin/python
    python benchmarks/bench_core.py --sizes 1000,10000 --rounds 3 --parts sizes

Per formula size (operations; 100 variables, see gen_formula.py):

* ``adiff e2e``: ``adiff grad -f F --at ... --format plain --no-check``
  (value and gradient, the same job as the PyTorch script), wall and CPU;
* ``adiff json``: the same with ``--format json`` (every node) to /dev/null;
* ``torch e2e``: ``torch_job.py`` in the torch venv: eval the formula into
  float64 tensors, ``backward()``, print the gradient;
* ``adiff phases``: ``adiff_job.py``, the library timed phase by phase
  (parse, forward, backward, JSON) with peak RSS.

Cold start: ``adiff grad "x*y + sin(x)" --at x=1,y=2 --format json`` against
``python -c "import lark, rich"`` (and ``pass``, and the table format),
interleaved, at least 15 rounds; once as the environment is and once with a
bytecode cache for the checkout (``PYTHONPYCACHEPREFIX``, as an installed
wheel would have), because ``PYTHONDONTWRITEBYTECODE=1`` makes every run
recompile an editable checkout's modules.
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
sys.path.insert(0, str(HERE))

from gen_formula import SIZES, generate  # noqa: E402

COLD_FORMULA = ["grad", "x*y + sin(x)", "--at", "x=1,y=2"]


# ---------------------------------------------------------------- processes

def run(cmd: list[str], *, env=None, stdout_to_null: bool = False, timeout: float = 3600) -> dict:
    """Run ``cmd`` in a fresh process; wall time, CPU time and peak RSS of that child alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink = open(os.devnull, "wb") if stdout_to_null else out
        try:
            t0 = time.perf_counter()
            wall0 = time.time()
            proc = subprocess.Popen(cmd, stdout=sink, stderr=err, stdin=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            wall_end = wall0 + wall
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_to_null:
                sink.close()
        out.seek(0)
        err.seek(0)
        result = {
            "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
            "rc": proc.returncode, "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"), "wall_end": wall_end,
        }
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {result['rc']}: {result['stderr'][-2000:]}")
    return result


def parse_plain(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        name, _, number = line.partition("\t")
        if number:
            values[name] = float(number)
    return values


def max_rel_diff(a: dict[str, float], b: dict[str, float]) -> float:
    worst = 0.0
    for name in set(a) | set(b):
        x, y = a.get(name, 0.0), b.get(name, 0.0)
        worst = max(worst, abs(x - y) / max(1e-12, abs(x), abs(y)))
    return worst


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- formulas

def formula_files(ops: int, seed: int, shape: str, data_dir: Path) -> tuple[Path, Path, dict]:
    data_dir.mkdir(parents=True, exist_ok=True)
    stem = data_dir / f"formula-{shape}-{ops}-seed{seed}"
    text_file, at_file, meta_file = (stem.with_suffix(s) for s in (".txt", ".at", ".json"))
    if not (text_file.exists() and at_file.exists() and meta_file.exists()):
        f = generate(ops, seed, shape)
        text_file.write_text(f.text, encoding="utf-8")
        at_file.write_text(f.at_spec() + "\n", encoding="utf-8")
        meta = {"ops": f.ops, "shape": shape, "seed": seed, "chars": len(f.text), "depth": f.depth,
                "nesting": f.nesting, "value": f.value}
        meta_file.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    return text_file, at_file, json.loads(meta_file.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- size benchmark

def bench_size(ops: int, args, adiff: str) -> dict:
    text_file, at_file, meta = formula_files(ops, args.seed, args.shape, Path(args.data_dir))
    at_spec = at_file.read_text(encoding="utf-8").strip()
    jobs = {
        "adiff_e2e": lambda: run([adiff, "grad", "-f", str(text_file), "--at", at_spec,
                                  "--format", "plain", "--no-check"]),
        "adiff_phases": lambda: run([args.python, str(HERE / "adiff_job.py"), str(text_file),
                                     str(at_file)]),
    }
    if "json" in args.parts:
        jobs["adiff_json"] = lambda: run([adiff, "grad", "-f", str(text_file), "--at", at_spec,
                                          "--format", "json", "--no-check"], stdout_to_null=True)
    if args.torch_python:
        jobs["torch_e2e"] = lambda: run([args.torch_python, str(HERE / "torch_job.py"),
                                         str(text_file), str(at_file)])
    rounds = args.rounds_large if ops >= 1_000_000 else args.rounds
    samples: dict[str, list[dict]] = {name: [] for name in jobs}
    names = list(jobs)
    loads = [load()]
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            res = jobs[name]()
            if name == "adiff_phases":
                res["phases"] = json.loads(res["stdout"].strip().splitlines()[-1])
            if name == "torch_e2e":
                res["phases"] = json.loads(res["stderr"].strip().splitlines()[-1])
                res["phases"]["exit"] = res["wall_end"] - res["phases"]["wall_end"]
            res.pop("stderr")
            if name not in ("adiff_e2e", "torch_e2e"):
                res.pop("stdout")
            samples[name].append(res)
        loads.append(load())
        print(f"  {ops:>9,} ops: round {r + 1}/{rounds} done (load {loads[-1]})", file=sys.stderr)

    result: dict = {"ops": ops, "formula": meta, "rounds": rounds, "load": loads}
    for name, runs in samples.items():
        result[name] = {k: med([s[k] for s in runs]) for k in ("wall", "cpu", "maxrss_kib")}
        result[name]["walls"] = [s["wall"] for s in runs]
    phases = [s["phases"] for s in samples["adiff_phases"]]
    keys = [k for k in phases[0] if isinstance(phases[0][k], (int, float)) and k != "value"]
    result["adiff_phases"]["median"] = {k: med([p.get(k) for p in phases]) for k in keys}
    ph = result["adiff_phases"]["median"]
    result["nodes"] = ph["nodes"]
    # sanity: adiff and PyTorch (and the generator) agree on the value and gradient
    adiff_out = parse_plain(samples["adiff_e2e"][0]["stdout"])
    result["value_vs_generator"] = abs(adiff_out["value"] - meta["value"])
    if args.torch_python:
        tph = [s["phases"] for s in samples["torch_e2e"]]
        result["torch_e2e"]["median"] = {k: med([p.get(k) for p in tph])
                                         for k in ("import", "read", "compile", "forward", "backward",
                                                   "output", "in_process", "exit", "maxrss_kib")}
        torch_out = parse_plain(samples["torch_e2e"][0]["stdout"])
        result["adiff_vs_torch_max_rel_diff"] = max_rel_diff(adiff_out, torch_out)
        # ratio per round (side by side), then the median of the ratios
        ratios = [a["wall"] / t["wall"] for a, t in zip(samples["adiff_e2e"], samples["torch_e2e"])]
        result["ratio_e2e"] = med(ratios)
        result["ratio_e2e_cpu"] = med([a["cpu"] / t["cpu"]
                                       for a, t in zip(samples["adiff_e2e"], samples["torch_e2e"])])
    return result


# ---------------------------------------------------------------- time per node

def bench_scaling(args) -> dict:
    """Time per node at 1,000,000 operations against 10,000, measured side by side.

    The sizes table runs one size after another, so a change of load between
    them shows up as a change of time per node. Here every round runs the small
    formula several times (median) and the big one once, alternating which
    goes first, and the ratio is taken per round.
    """
    small, big = args.scaling_sizes
    files = {ops: formula_files(ops, args.seed, args.shape, Path(args.data_dir))[:2] for ops in (small, big)}

    def job(ops):
        text_file, at_file = files[ops]
        res = run([args.python, str(HERE / "adiff_job.py"), str(text_file), str(at_file), "--no-json"])
        p = json.loads(res["stdout"].strip().splitlines()[-1])
        return p["core"] / p["nodes"], p["wall_core"] / p["nodes"]

    rounds, loads = [], [load()]
    for r in range(args.rounds_large):
        order = [small, big] if r % 2 == 0 else [big, small]
        got = {}
        for ops in order:
            if ops == small:
                runs = [job(small) for _ in range(args.scaling_repeat)]
                got[small] = (med([x[0] for x in runs]), med([x[1] for x in runs]))
            else:
                got[big] = job(big)
        rounds.append(got)
        loads.append(load())
        print(f"  time per node {small:,} vs {big:,}: round {r + 1}/{args.rounds_large} done "
              f"(load {loads[-1]})", file=sys.stderr)
    return {"small": small, "big": big, "rounds": len(rounds), "load": loads,
            "us_per_node_small": med([g[small][0] for g in rounds]) * 1e6,
            "us_per_node_big": med([g[big][0] for g in rounds]) * 1e6,
            "ratio_cpu": med([g[big][0] / g[small][0] for g in rounds]),
            "ratio_wall": med([g[big][1] / g[small][1] for g in rounds])}


# ---------------------------------------------------------------- cold start

def bench_cold(args, adiff: str) -> dict:
    python = args.python
    commands = {
        "adiff_json": [adiff, *COLD_FORMULA, "--format", "json"],
        "import_lark_rich": [python, "-c", "import lark, rich"],
        "python_pass": [python, "-c", "pass"],
        "adiff_table": [adiff, *COLD_FORMULA, "--format", "table"],
    }
    out = {}
    variants = {"env as is": dict(os.environ)}
    prefix_dir = None
    if not args.no_pyc_variant:
        prefix_dir = tempfile.mkdtemp(prefix="adiff-bench-pyc-")
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = prefix_dir
        variants["bytecode cached"] = env
    try:
        for variant, env in variants.items():
            for cmd in commands.values():  # warm-up: grammar cache, bytecode cache, page cache
                run(cmd, env=env)
            samples = {name: [] for name in commands}
            names = list(commands)
            loads = [load()]
            for r in range(args.cold_rounds):
                k = r % len(names)
                order = names[k:] + names[:k]  # rotate so no command always runs first
                for name in order:
                    samples[name].append(run(commands[name], env=env))
            loads.append(load())
            res = {"rounds": args.cold_rounds, "load": loads}
            for name, runs in samples.items():
                res[name] = {"wall": med([s["wall"] for s in runs]), "cpu": med([s["cpu"] for s in runs]),
                             "maxrss_kib": med([s["maxrss_kib"] for s in runs])}
            a, b = samples["adiff_json"], samples["import_lark_rich"]
            res["ratio_wall"] = med([x["wall"] / y["wall"] for x, y in zip(a, b)])
            res["ratio_cpu"] = med([x["cpu"] / y["cpu"] for x, y in zip(a, b)])
            out[variant] = res
            print(f"  cold start ({variant}) done (load {loads[-1]})", file=sys.stderr)
    finally:
        if prefix_dir:
            shutil.rmtree(prefix_dir, ignore_errors=True)
    return out


# ---------------------------------------------------------------- report

def ms(x) -> str:
    return "-" if x is None else f"{x * 1000:,.0f} ms" if x < 10 else f"{x:,.1f} s"


def sec(x) -> str:
    return "-" if x is None else f"{x:.3f}" if x < 10 else f"{x:.2f}"


def mib(kib) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def report(results: dict) -> str:
    lines = []
    sizes = results.get("sizes", [])
    if sizes:
        lines.append("Formulas (gen_formula.py, seed {seed}, shape {shape}, 100 variables)".format(
            seed=results["args"]["seed"], shape=results["args"]["shape"]))
        lines.append(table(
            ["ops", "chars", "graph nodes", "depth", "paren nesting", "rounds", "load (1/5/15 min)"],
            [[f"{r['ops']:,}", f"{r['formula']['chars']:,}", f"{int(r['nodes']):,}",
              str(r["formula"]["depth"]), str(r["formula"]["nesting"]), str(r["rounds"]),
              f"{r['load'][0]} -> {r['load'][-1]}"]
             for r in sizes]))
        lines.append("")
        lines.append("adiff phases in one fresh process (adiff_job.py): CPU s, medians; forward and backward "
                     "timed alone, evaluate = engine.evaluate (bind+fwd+bwd as the CLI runs them); "
                     "us/node = (parse+evaluate)/graph nodes, CPU and wall")
        rows = []
        for r in sizes:
            p = r["adiff_phases"]["median"]
            rows.append([f"{r['ops']:,}", sec(p["import"]), sec(p["setup"]), sec(p["parse"]),
                         sec(p["forward"]), sec(p["backward"]), f"{p['backward'] / p['forward']:.2f}",
                         sec(p["evaluate"]), sec(p["core"]), f"{p['core'] / p['nodes'] * 1e6:.1f}",
                         f"{p['wall_core'] / p['nodes'] * 1e6:.1f}", sec(p.get("json")),
                         mib(p.get("maxrss_backward")), mib(p.get("maxrss_json")),
                         mib(p["maxrss_backward"] - p["maxrss_start"])])
        lines.append(table(["ops", "import", "setup", "parse", "forward", "backward", "bwd/fwd",
                            "evaluate", "parse+eval", "us/node", "(wall)", "json", "peak MiB", "peak w/ json",
                            "growth MiB"], rows))
        lines.append("")
        lines.append("End to end, whole processes (wall s, medians of alternating rounds; CPU s in brackets)")
        rows = []
        for r in sizes:
            t = r.get("torch_e2e")
            row = [f"{r['ops']:,}", f"{sec(r['adiff_e2e']['wall'])} ({sec(r['adiff_e2e']['cpu'])})",
                   mib(r["adiff_e2e"]["maxrss_kib"])]
            row.append(f"{sec(r['adiff_json']['wall'])}" if "adiff_json" in r else "-")
            if t:
                tm = t["median"]
                row += [f"{sec(t['wall'])} ({sec(t['cpu'])})", mib(t["maxrss_kib"]),
                        f"{sec(tm['import'])}/{sec(tm['compile'])}/{sec(tm['forward'])}/"
                        f"{sec(tm['backward'])}/{sec(tm['exit'])}",
                        f"{r['ratio_e2e']:.2f}", f"{r['ratio_e2e_cpu']:.2f}",
                        f"{r['adiff_vs_torch_max_rel_diff']:.1e}"]
            else:
                row += ["-"] * 6
            rows.append(row)
        lines.append(table(["ops", "adiff plain", "MiB", "adiff json", "torch", "MiB",
                            "torch import/compile/fwd/bwd/exit", "adiff/torch", "(cpu)",
                            "max rel diff"], rows))
        lines.append("")
    sc = results.get("scaling")
    if sc:
        lines.append(f"Time per node (parse+evaluate, CPU), {sc['small']:,} and {sc['big']:,} ops "
                     f"side by side: {sc['us_per_node_small']:.1f} and {sc['us_per_node_big']:.1f} us; "
                     "ratio per round, "
                     f"median of {sc['rounds']}: {sc['ratio_cpu']:.2f} (wall {sc['ratio_wall']:.2f}); "
                     f"load {sc['load'][0]} -> {sc['load'][-1]}")
        lines.append("")
    cold = results.get("cold")
    if cold:
        lines.append("Cold start: adiff grad \"x*y + sin(x)\" --at x=1,y=2 (medians, wall ms / CPU ms)")
        rows = []
        for variant, c in cold.items():
            rows.append([variant, *(f"{c[k]['wall'] * 1000:.0f} / {c[k]['cpu'] * 1000:.0f}"
                                    for k in ("python_pass", "import_lark_rich", "adiff_json",
                                              "adiff_table")),
                         f"{c['ratio_wall']:.2f} / {c['ratio_cpu']:.2f}", str(c["rounds"]),
                         f"{c['load'][0]} -> {c['load'][-1]}"])
        lines.append(table(["variant", "python -c pass", "import lark, rich", "adiff --format json",
                            "adiff --format table", "json/(lark+rich)", "rounds", "load"], rows))
        lines.append("")
    lines.append(targets(results))
    return "\n".join(lines)


def targets(results: dict) -> str:
    by_ops = {r["ops"]: r for r in results.get("sizes", [])}
    rows = []

    def verdict(ok):
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    for ops, limit in ((100_000, 1.0), (10_000, 0.5)):
        r = by_ops.get(ops)
        ratio = r.get("ratio_e2e") if r else None
        rows.append([f"adiff/PyTorch end to end at {ops:,} ops <= {limit}",
                     "-" if ratio is None else f"{ratio:.2f}",
                     verdict(None if ratio is None else ratio <= limit)])
    sc = results.get("scaling")
    if sc:
        rows.append([f"time per node {sc['big']:,} / {sc['small']:,} <= 1.3 (CPU, side by side)",
                     f"{sc['ratio_cpu']:.2f} (wall {sc['ratio_wall']:.2f})", verdict(sc["ratio_cpu"] <= 1.3)])
    if 10_000 in by_ops and 1_000_000 in by_ops:
        def per_node(ops, key):
            p = by_ops[ops]["adiff_phases"]["median"]
            return p[key] / p["nodes"]
        ratio = per_node(1_000_000, "core") / per_node(10_000, "core")
        wall = per_node(1_000_000, "wall_core") / per_node(10_000, "wall_core")
        rows.append(["time per node 1M / 10k <= 1.3 (sizes table, CPU)", f"{ratio:.2f} (wall {wall:.2f})",
                     verdict(ratio <= 1.3)])
    elif not sc:
        rows.append(["time per node 1M / 10k <= 1.3", "-", "n/a"])
    worst = None
    for r in by_ops.values():
        p = r["adiff_phases"]["median"]
        worst = max(worst or 0.0, p["backward"] / p["forward"])
    rows.append(["backward <= 3x forward (worst size, CPU)", "-" if worst is None else f"{worst:.2f}",
                 verdict(None if worst is None else worst <= 3.0)])
    for variant, c in (results.get("cold") or {}).items():
        rows.append([f"cold start json <= import lark, rich ({variant})",
                     f"{c['ratio_wall']:.2f} wall, {c['ratio_cpu']:.2f} cpu",
                     verdict(c["ratio_wall"] <= 1.0)])
    return "Targets (issue 2)\n" + table(["target", "measured", "verdict"], rows)


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="adiff core benchmark (issue 2).",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                    help="formula sizes in operations (default 1000,10000,100000,1000000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=("expr", "program"), default="expr")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per size below 1M ops (default 5)")
    ap.add_argument("--rounds-large", type=int, default=3, help="rounds at 1M ops (default 3)")
    ap.add_argument("--cold-rounds", type=int, default=21, help="cold-start rounds (>= 15; default 21)")
    ap.add_argument("--parts", default="sizes,json,scaling,cold",
                    help="what to run: sizes, json (adiff --format json e2e), scaling (time per node "
                         "at two sizes side by side), cold (default: all)")
    ap.add_argument("--scaling-sizes", default="10000,1000000",
                    help="the two sizes compared side by side (default 10000,1000000)")
    ap.add_argument("--scaling-repeat", type=int, default=5,
                    help="runs of the small size per round (median; default 5)")
    ap.add_argument("--python", default=sys.executable, help="Python with adiff installed (default: this)")
    ap.add_argument("--adiff", help="the adiff executable (default: next to --python, else on PATH)")
    ap.add_argument("--torch-python", help="Python of a venv with torch (e.g. /work/torchvenv/bin/python)")
    ap.add_argument("--no-pyc-variant", action="store_true",
                    help="cold start: skip the variant with a bytecode cache")
    ap.add_argument("--data-dir", default=str(HERE / "data"), help="where generated formulas are kept")
    ap.add_argument("--results-dir", default=str(HERE / "results"), help="where the JSON results go")
    args = ap.parse_args(argv)
    if args.cold_rounds < 15:
        ap.error("--cold-rounds must be at least 15")
    adiff = args.adiff or str(Path(args.python).parent / "adiff")
    if not os.path.exists(adiff):
        adiff = shutil.which("adiff") or ap.error("no adiff executable found: pass --adiff")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.scaling_sizes = [int(s.replace("_", "")) for s in args.scaling_sizes.split(",")]
    if len(args.scaling_sizes) != 2:
        ap.error("--scaling-sizes needs two sizes")

    results: dict = {"args": vars(args), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "cpus": os.cpu_count(), "python": sys.version.split()[0], "load_start": load()}
    if "sizes" in args.parts:
        results["sizes"] = []
        for ops in sizes:
            results["sizes"].append(bench_size(ops, args, adiff))
    if "scaling" in args.parts:
        results["scaling"] = bench_scaling(args)
    if "cold" in args.parts:
        results["cold"] = bench_cold(args, adiff)
    results["load_end"] = load()
    text = report(results)
    print(f"adiff core benchmark, {results['started']}, {results['cpus']} CPUs, "
          f"load {results['load_start']} -> {results['load_end']}\n")
    print(text)
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"bench-core-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (results_dir / (path.stem + ".txt")).write_text(text + "\n", encoding="utf-8")
    print(f"\n(results: {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
