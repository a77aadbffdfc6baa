"""Forward mode (issue 12): the cost of a tangent pass, and of the gradient by forward mode.

Two parts, side by side in one run; every figure is a median, and every ratio is taken per
round (the jobs of a round run back to back, in alternating order) before its median.

* ``passes`` (in process, one formula of ``--ops`` operations over 100 inputs): per round,
  each job on the same parsed graph and point (the fastest of ``REPEAT`` runs back to back) --

  - ``plain``: a plain evaluation, the values only (``engine.bind`` + ``engine.forward(...,
    local=False)``, what finite differences run);
  - ``forward+local``: the values and every node's local gradients (``engine.forward``);
  - ``tangent (given locals)``: one tangent pass over the locals the forward pass holds
    (``forward.tangent_pass(graph, values, seed, locals_)``), what each further input of
    forward-mode ``grad`` costs;
  - ``tangent (own locals)``: one tangent pass computing each local it needs from the values
    (``tangent_pass(graph, values, seed)``): a pass on its own;
  - ``jvp from scratch``: ``plain`` + ``tangent (own locals)``, a directional derivative
    from nothing (``forward.directional``);
  - ``dual numbers``: the same pass over the tangent backend (``rules.tangent(op)`` on
    ``Dual`` values), the alternative design, for the record;
  - ``backward``: reverse mode's pass over the same locals (``engine.backward``).

  The seed is dense (every input moves: every node is computed) unless ``--one-hot``.
  Target: a tangent pass <= 1.5x a plain evaluation.

* ``grad`` (fresh processes): ``adiff grad -f F --at ... --format plain --no-check`` with
  ``--mode forward`` and with reverse mode, on formulas of ``--grad-ops`` operations over 1,
  10 and 100 inputs (``gen_formula.py``'s ``nvars``), alternating; and the same in process
  (``forward.forward_gradient`` against ``engine.evaluate``): its forward pass, then N one-hot
  tangent passes, each over the part of the graph its input feeds, counted in full passes
  (every node moving: at most N of them, N when every input feeds every node).
  Target: forward-mode grad with N inputs costs about N tangent passes; the ratio to reverse
  mode is quoted beside it.

    python benchmarks/bench_forward.py                   # 10,000 ops, 15 rounds / 5 rounds
    python benchmarks/bench_forward.py --ops 1000 --rounds 5 --grad-rounds 3   # quick

Writes ``benchmarks/results/bench-forward-<time>.json`` (git-ignored) and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_formula import generate  # noqa: E402


def med(xs):
    return statistics.median(xs)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


#: In-process jobs run this many times back to back in a round, keeping the fastest: on a
#: shared machine a job is only ever slowed down by others, never sped up.
REPEAT = 3


def best_of(job, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------- in process: the passes

def bench_passes(ops: int, rounds: int, seed: int, one_hot: bool) -> dict:
    from autodiff_cli.calculus import engine, forward, rules
    from autodiff_cli.calculus.backends import Dual
    from autodiff_cli.language.parser import parse

    f = generate(ops, seed, "expr")
    graph = parse(f.text, max_size=10**8)
    at = f.point
    used = list(graph.variables)
    direction = {used[0]: 1.0} if one_hot else {name: 1.0 for name in used}
    values = engine.bind(graph, at)
    locals_, _ = engine.forward(graph, values)
    tangent_fns = [rules.tangent(op) if op.kind != "leaf" else None for op in graph.ops]

    def plain():
        v = engine.bind(graph, at)
        engine.forward(graph, v, local=False)

    def forward_local():
        v = engine.bind(graph, at)
        engine.forward(graph, v)

    def tangent_given():
        forward.tangent_pass(graph, values, direction, locals_)

    def tangent_own():
        forward.tangent_pass(graph, values, direction)

    def jvp():
        forward.directional(graph, at, direction)

    def dual():
        v: list = [None] * len(graph)
        for i, c in graph.consts.items():
            v[i] = c
        for name, i in graph.variables.items():
            v[i] = Dual(at[name], direction.get(name, 0.0))
        with engine.no_gc():
            for i, ins in enumerate(graph.inputs):
                if ins:
                    v[i] = tangent_fns[i](*[v[j] for j in ins])

    def backward():
        engine.backward(graph, values, locals_)

    jobs = {"plain": plain, "forward+local": forward_local, "tangent (given locals)": tangent_given,
            "tangent (own locals)": tangent_own, "jvp from scratch": jvp, "dual numbers": dual,
            "backward": backward}
    # the answers agree before anything is timed
    t = forward.tangent_pass(graph, values, direction)[graph.output]
    g = engine.backward(graph, values, locals_)
    dot = sum(g[graph.variables[n]] * v for n, v in direction.items())
    assert abs(t - dot) <= 1e-10 * max(1.0, abs(dot)), (t, dot)
    for job in jobs.values():  # warm up: compile the rules
        job()
    names = list(jobs)
    times: dict[str, list[float]] = {name: [] for name in names}
    loads = [load()]
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(best_of(jobs[name], REPEAT))
    loads.append(load())
    ratios = {name: med([a / b for a, b in zip(times[name], times["plain"])]) for name in names}
    return {"ops": ops, "nodes": len(graph), "inputs": len(used), "seed": "one-hot" if one_hot
            else "dense", "rounds": rounds, "load": loads,
            "median_ms": {name: med(ts) * 1e3 for name, ts in times.items()},
            "ratio_to_plain": ratios}


# ---------------------------------------------------------------- grad: processes and loops

def run(cmd: list[str]) -> tuple[float, float, str]:
    """(wall, cpu, stdout) of a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ...: {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, out


def plain_numbers(text: str) -> dict[str, float]:
    return {k: float(v) for k, _, v in (line.partition("\t") for line in text.splitlines()) if v}


def bench_grad(ops: int, nvars: int, rounds: int, loops: int, seed: int, adiff: str,
               data_dir: Path) -> dict:
    from autodiff_cli.calculus import engine, forward
    from autodiff_cli.language.parser import parse

    data_dir.mkdir(parents=True, exist_ok=True)
    f = generate(ops, seed, "expr", nvars=nvars)
    path = data_dir / f"forward-{ops}-{nvars}vars-seed{seed}.txt"
    if not path.exists():
        path.write_text(f.text, encoding="utf-8")
    graph = parse(f.text, max_size=10**8)
    at = {name: f.point[name] for name in graph.variables}
    spec = ",".join(f"{k}={v!r}" for k, v in at.items())
    n = len(graph.variables)

    # in process: the gradient both ways, and one tangent pass over the locals
    values = engine.bind(graph, at)
    locals_, _ = engine.forward(graph, values)
    dense = {name: 1.0 for name in graph.variables}
    jobs = {
        "forward_gradient": lambda: forward.forward_gradient(graph, at),
        "reverse (evaluate)": lambda: engine.evaluate(graph, at),
        "plain": lambda: engine.value_at(graph, at),
        "full tangent pass": lambda: forward.tangent_pass(graph, values, dense, locals_),
        "forward+local": lambda: engine.forward(graph, engine.bind(graph, at)),
    }
    for job in jobs.values():
        job()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    names = list(jobs)
    for r in range(loops):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(best_of(jobs[name], REPEAT))
    fw, rv = times["forward_gradient"], times["reverse (evaluate)"]
    fl, tp = times["forward+local"], times["full tangent pass"]
    in_process = {
        "median_ms": {name: med(ts) * 1e3 for name, ts in times.items()},
        "forward/reverse": med([a / b for a, b in zip(fw, rv)]),
        # the N one-hot passes of forward_gradient (its time less its forward pass), in units
        # of one full pass (every node moving): <= N, = N when every input feeds every node
        "full_passes_per_gradient": med([(a - b) / c for a, b, c in zip(fw, fl, tp)]),
        "ms_per_input_pass": med([(a - b) / n for a, b in zip(fw, fl)]) * 1e3,
    }
    fwd_ev = forward.forward_gradient(graph, at)
    rev_ev = engine.evaluate(graph, at)
    worst = max(abs(fwd_ev.derivative[p] - rev_ev.grads[i]) / max(abs(rev_ev.grads[i]), 1e-300)
                for p, i in enumerate(graph.variables.values()))

    # fresh processes, alternating
    base = [adiff, "grad", "-f", str(path), "--at", spec, "--format", "plain", "--no-check",
            "--max-size", "100000000"]
    cmds = {"forward": base + ["--mode", "forward"], "reverse": base}
    walls: dict[str, list[float]] = {"forward": [], "reverse": []}
    cpus: dict[str, list[float]] = {"forward": [], "reverse": []}
    outs = {}
    for r in range(rounds):
        for name in (("forward", "reverse") if r % 2 == 0 else ("reverse", "forward")):
            wall, cpu, out = run(cmds[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
            outs[name] = out
    a, b = plain_numbers(outs["forward"]), plain_numbers(outs["reverse"])
    worst_cli = max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-300) for k in b)
    return {"ops": ops, "inputs": n, "nodes": len(graph), "rounds": rounds, "loops": loops,
            "e2e_wall_s": {k: med(v) for k, v in walls.items()},
            "e2e_cpu_s": {k: med(v) for k, v in cpus.items()},
            "e2e_forward/reverse": med([x / y for x, y in zip(walls["forward"], walls["reverse"])]),
            "in_process": in_process, "max_rel_diff": max(worst, worst_cli)}


# ---------------------------------------------------------------- report

def report(result: dict) -> str:
    lines = []
    p = result.get("passes")
    if p:
        lines.append(f"## One pass, in process: {p['ops']:,} ops ({p['nodes']:,} nodes, "
                     f"{p['inputs']} inputs, {p['seed']} seed), median of {p['rounds']} rounds, "
                     f"load {p['load'][0]} -> {p['load'][-1]}")
        lines.append("")
        lines.append("| pass | median | × plain evaluation |")
        lines.append("| --- | ---: | ---: |")
        for name, ms in p["median_ms"].items():
            lines.append(f"| {name} | {ms:.2f} ms | {p['ratio_to_plain'][name]:.2f} |")
        given = p["ratio_to_plain"]["tangent (given locals)"]
        own = p["ratio_to_plain"]["tangent (own locals)"]
        lines.append("")
        lines.append(f"Target: a tangent pass <= 1.5x a plain evaluation: {given:.2f}x over the "
                     f"forward pass's locals, {own:.2f}x computing its own -- "
                     f"{'met' if max(given, own) <= 1.5 else 'NOT met'}.")
        lines.append("")
    g = result.get("grad")
    if g:
        lines.append(f"## Gradient, forward mode against reverse mode ({g[0]['ops']:,} ops)")
        lines.append("")
        lines.append("| inputs | e2e forward | e2e reverse | forward / reverse (e2e) | in process "
                     "forward | in process reverse | forward / reverse | forward pass | full "
                     "tangent pass | per input's pass | passes, in full passes | max rel diff |")
        lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                     "| ---: |")
        for row in g:
            ip = row["in_process"]
            ms = ip["median_ms"]
            lines.append(
                f"| {row['inputs']} | {row['e2e_wall_s']['forward'] * 1e3:.0f} ms | "
                f"{row['e2e_wall_s']['reverse'] * 1e3:.0f} ms | {row['e2e_forward/reverse']:.2f} | "
                f"{ms['forward_gradient']:.1f} ms | {ms['reverse (evaluate)']:.1f} ms | "
                f"{ip['forward/reverse']:.2f} | {ms['forward+local']:.1f} ms | "
                f"{ms['full tangent pass']:.2f} ms | {ip['ms_per_input_pass']:.2f} ms | "
                f"{ip['full_passes_per_gradient']:.1f} | {row['max_rel_diff']:.1e} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=10_000, help="operations for the pass part")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of the pass part")
    ap.add_argument("--one-hot", action="store_true", help="seed one input instead of all")
    ap.add_argument("--grad-ops", type=int, default=10_000, help="operations for the grad part")
    ap.add_argument("--inputs", default="1,10,100", help="input counts of the grad part")
    ap.add_argument("--grad-rounds", type=int, default=5, help="fresh-process rounds per size")
    ap.add_argument("--loops", type=int, default=7, help="in-process loops per size")
    ap.add_argument("--parts", default="passes,grad")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--adiff", default=str(Path(sys.executable).with_name("adiff")))
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    result: dict = {"python": sys.version.split()[0], "when": time.strftime("%Y-%m-%d %H:%M")}
    if "passes" in parts:
        result["passes"] = bench_passes(args.ops, args.rounds, args.seed, args.one_hot)
        print(report({"passes": result["passes"]}), flush=True)
    if "grad" in parts:
        result["grad"] = []
        for n in (int(x) for x in args.inputs.split(",")):
            row = bench_grad(args.grad_ops, n, args.grad_rounds, args.loops, args.seed, args.adiff,
                             Path(args.data_dir))
            result["grad"].append(row)
            print(f"  {n} inputs done (load {load()})", file=sys.stderr, flush=True)
        print(report({"grad": result["grad"]}))
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out_dir / f"bench-forward-{stamp}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
