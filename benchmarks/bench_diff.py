"""The benchmark of issue 11: ``adiff diff``'s derivative formulas, their size and time, beside
SymPy's ``diff`` (printed) and ``diff`` + ``cse``.

Every figure comes from fresh processes, run in alternating order, and is the median over
the rounds. Generated files go under the git-ignored ``benchmarks/data/``, results under
``benchmarks/results/``.

    python benchmarks/bench_diff.py                       # everything, 5 rounds
    python benchmarks/bench_diff.py --parts chain --rounds 3
    python benchmarks/bench_diff.py --parts sympy --sympy-ks 5,10,15 --sympy-timeout 120

Parts:

* ``chain``: the chain family ``f = x*y``, then k times ``f = sin(f)*f + y``, at k = 10, 100,
  1,000, 10,000: ``adiff diff -f F --format json`` end to end (wall and CPU of the process:
  every derivative standalone and the program form),
  and, from one more process (``--job size``), the sizes: nodes of the derivative graph (every
  derivative and the values it needs) per node of the formula -- the constant c of the
  cheap-gradient principle -- and characters of the program form per character of the
  formula; with the time of each phase.
* ``core``: the same for the random formulas of ``bench_core.py`` (``gen_formula.py``, 100
  inputs, the gradient of all of them), 1,000 to 100,000 operations (``--core-sizes``), end
  to end with ``--format text`` (the program form: JSON would also write each of the 100
  derivatives standalone, each with the forward values it needs).
* ``sympy``: the chain family in SymPy (``sympy.diff`` printed with ``str``, and ``diff`` then
  ``cse``), k = 10 by default, each in a process of its own under ``--sympy-timeout``; beside
  it adiff's printed ``d/dx`` (standalone) and gradient (program form), as ratios.
* ``random``: 100 random formulas (10 to 40 operations over x, y, z, seeded), each tool in
  one fresh process per round that differentiates all of them and times each (after its
  imports): output length and time per formula, their ratios, medians over the formulas
  SymPy finished (``diff`` printed, then ``diff`` + ``cse``) within ``--random-timeout``
  seconds each in every round; how many it did not finish is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

CHAIN_KS = (10, 100, 1_000, 10_000)
CORE_SIZES = (1_000, 10_000, 100_000)


def chain_text(k: int) -> str:
    return "f = x*y\n" + "f = sin(f)*f + y\n" * k + "f\n"


# ---------------------------------------------------------------- processes

def run(cmd: list[str], timeout: float | None = None, stdout_to_null: bool = False) -> dict:
    """Run ``cmd`` in a fresh process: wall, CPU (of the child alone), peak RSS; ``timeout``
    kills it (``"timeout": true``)."""
    import subprocess

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink = open(os.devnull, "wb") if stdout_to_null else out
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=err, stdin=subprocess.DEVNULL)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - t0 > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if stdout_to_null:
            sink.close()
        out.seek(0)
        err.seek(0)
        result = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss_kib": usage.ru_maxrss, "rc": proc.returncode, "timeout": timed_out,
                  "stdout": out.read().decode("utf-8", "replace"),
                  "stderr": err.read().decode("utf-8", "replace")}
    if result["rc"] != 0 and not timed_out:
        raise RuntimeError(f"{' '.join(cmd[:5])} ... exited {result['rc']}: {result['stderr'][-2000:]}")
    return result


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def job(args: list[str]) -> dict:
    res = run([sys.executable, str(Path(__file__)), "--job", *args])
    return json.loads(res["stdout"].strip().splitlines()[-1])


# ---------------------------------------------------------------- jobs (in a fresh process)

def job_size(path: str) -> dict:
    """Sizes and phase times of ``adiff diff`` on one file, in this process."""
    t0 = time.perf_counter()
    from autodiff_cli.calculus.derive import differentiate
    from autodiff_cli.language.parser import parse

    text = Path(path).read_text(encoding="utf-8")
    t1 = time.perf_counter()
    graph = parse(text)
    t2 = time.perf_counter()
    d = differentiate(graph)
    t3 = time.perf_counter()
    program = d.program()
    t4 = time.perf_counter()
    alone = {key: len(d.standalone(key)) for key in d.keys[:3]}
    t5 = time.perf_counter()
    return {"formula_nodes": len(graph), "formula_chars": len(text), "inputs": len(d.keys),
            "graph_nodes": len(d.graph), "program_chars": len(program),
            "statements": len(d.statements), "standalone_chars": alone,
            "import": t1 - t0, "parse": t2 - t1, "differentiate": t3 - t2, "program": t4 - t3,
            "standalone_3": t5 - t4}


def _sympy_table(sp):
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
        "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
        "tanh": sp.tanh, "sigmoid": lambda a: 1 / (1 + sp.exp(-a)), "atan": sp.atan,
    }


def to_sympy(graph, sp):
    """The adiff graph as one SymPy expression (a DAG in memory: shared values shared)."""
    table = _sympy_table(sp)
    symbols = {name: sp.Symbol(name) for name in graph.variables}
    exprs = []
    for i, op in enumerate(graph.ops):
        if op.name == "var":
            exprs.append(symbols[graph.labels[i]])
        elif op.name == "const":
            v = graph.consts[i]
            exprs.append(sp.Integer(int(v)) if v == int(v) else sp.Float(v))
        else:
            exprs.append(table[op.name](*[exprs[j] for j in graph.inputs[i]]))
    return exprs[graph.output], [symbols[n] for n in graph.variables]


def cse_text(sp, exprs) -> str:
    """``cse`` of ``exprs`` written as statements, then the expressions."""
    pairs, reduced = sp.cse(exprs)
    lines = [f"{s} = {e}" for s, e in pairs] + [", ".join(str(e) for e in reduced)]
    return "\n".join(lines)


def job_sympy_chain(k: int, what: str) -> dict:
    """SymPy on the chain family: ``diff`` printed (``what`` = "diff") or ``diff`` + ``cse``."""
    t0 = time.perf_counter()
    import sympy as sp

    t1 = time.perf_counter()
    x, y = sp.symbols("x y")
    f = x * y
    for _ in range(k):
        f = sp.sin(f) * f + y
    t2 = time.perf_counter()
    dx = sp.diff(f, x)
    t3 = time.perf_counter()
    if what == "diff":
        out = {"chars_dx": len(str(dx))}
        t4 = time.perf_counter()
        dy = sp.diff(f, y)
        out["chars_grad"] = out["chars_dx"] + len(str(dy))
    else:
        out = {"chars_dx": len(cse_text(sp, [dx]))}
        t4 = time.perf_counter()
        out["chars_grad"] = len(cse_text(sp, [dx, sp.diff(f, y)]))
    t5 = time.perf_counter()
    out.update({"import": t1 - t0, "build": t2 - t1, "diff_dx": t3 - t2,
                "print_dx": t4 - t3, "dx_total": t4 - t2, "grad_total": (t5 - t4) + (t4 - t2)})
    return out


def random_formula(rng: random.Random, ops: int) -> str:
    """A random smooth formula with ``ops`` operations over x, y, z (an expression tree)."""
    def build(n: int) -> str:
        if n == 0:
            return rng.choice(["x", "y", "z", "x", "y", "z", "2", "0.5"])
        r = rng.random()
        if r < 0.35:
            f = rng.choice(["sin", "cos", "exp", "tanh", "sigmoid", "atan"])
            inner = build(n - 1)
            return f"{f}({inner})" if f != "exp" else f"exp({inner}/4)"
        left = rng.randint(0, n - 1)
        a, b = build(left), build(n - 1 - left)
        op = rng.choice(["+", "-", "*", "*", "/"])
        if op == "/":
            return f"({a})/(1 + ({b})^2)"
        return f"({a}) {op} ({b})"
    return build(ops)


def random_set(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [random_formula(rng, rng.randint(10, 40)) for _ in range(n)]


def job_random(tool: str, n: int, seed: int, limit: float = 0.0) -> dict:
    """Each of ``n`` random formulas differentiated (all inputs) by ``tool``: lengths, times
    (SymPy's, one formula a process, are ``job_random_one``'s)."""
    from autodiff_cli.language.parser import parse

    texts = random_set(n, seed)
    rows = []
    if tool == "adiff":
        from autodiff_cli.calculus.derive import differentiate

        differentiate(parse("sin(x)*y"))  # warm: rules compiled once per process
        for text in texts:
            g = parse(text)
            t0 = time.perf_counter()
            d = differentiate(g)
            alone = sum(len(d.standalone(key)) for key in d.keys)
            t1 = time.perf_counter()
            program = len(d.program())
            t2 = time.perf_counter()
            rows.append({"chars": alone, "time": t1 - t0, "program_chars": program,
                         "program_time": (t2 - t1) + (t1 - t0)})
    else:
        for k in range(len(texts)):
            rows.append(job_random_one(n, seed, k))
    return {"rows": rows}


def job_random_one(n: int, seed: int, k: int) -> dict:
    """SymPy on random formula ``k`` of the set: ``diff`` printed, then ``diff`` + ``cse``."""
    import sympy as sp

    from autodiff_cli.language.parser import parse

    text = random_set(n, seed)[k]
    sp.diff(sp.sin(sp.Symbol("x")), sp.Symbol("x"))  # warm
    f, symbols = to_sympy(parse(text), sp)
    t0 = time.perf_counter()
    ds = [sp.diff(f, s) for s in symbols]
    chars = sum(len(str(e)) for e in ds)
    t1 = time.perf_counter()
    cse = len(cse_text(sp, [sp.diff(f, s) for s in symbols]))
    t2 = time.perf_counter()
    return {"chars": chars, "time": t1 - t0, "cse_chars": cse, "cse_time": t2 - t1}


# ---------------------------------------------------------------- parts

def part_chain(args, data: Path) -> list[dict]:
    out = []
    for k in args.chain_ks:
        path = data / f"diff-chain-{k}.adiff"
        if not path.exists():
            path.write_text(chain_text(k), encoding="utf-8")
        out.append(_e2e(args, path, {"k": k}, "json"))
    return out


def part_core(args, data: Path) -> list[dict]:
    from gen_formula import generate

    out = []
    for ops in args.core_sizes:
        path = data / f"diff-core-{ops}-seed{args.seed}.txt"
        if not path.exists():
            path.write_text(generate(ops, args.seed, "expr").text, encoding="utf-8")
        out.append(_e2e(args, path, {"ops": ops}, "text"))
    return out


def _e2e(args, path: Path, what: dict, fmt: str) -> dict:
    cmd = [sys.executable, "-m", "autodiff_cli", "diff", "-f", str(path), "--format", fmt]
    runs = []
    for _ in range(args.rounds):
        runs.append(run(cmd, stdout_to_null=True))
    size = job(["size", str(path)])
    row = dict(what)
    row.update({"format": fmt, "e2e_wall": med([x["wall"] for x in runs]),
                "e2e_cpu": med([x["cpu"] for x in runs]),
                "e2e_maxrss_kib": med([x["maxrss_kib"] for x in runs]),
                "walls": [round(x["wall"], 3) for x in runs], "load": load(), **size})
    row["c_nodes"] = size["graph_nodes"] / size["formula_nodes"]
    row["c_chars"] = size["program_chars"] / size["formula_chars"]
    print(f"  {what}: e2e {row['e2e_wall']:.3f} s (cpu {row['e2e_cpu']:.3f}), "
          f"c = {row['c_nodes']:.2f} nodes, {row['c_chars']:.2f} chars (load {row['load']})",
          file=sys.stderr)
    return row


def part_sympy(args, data: Path) -> list[dict]:
    out = []
    for k in args.sympy_ks:
        path = data / f"diff-chain-{k}.adiff"
        if not path.exists():
            path.write_text(chain_text(k), encoding="utf-8")
        row: dict = {"k": k}
        for what in ("diff", "cse"):
            samples = []
            for _ in range(args.rounds):
                res = run([sys.executable, str(Path(__file__)), "--job", "sympy-chain", str(k), what],
                          timeout=args.sympy_timeout)
                if res["timeout"]:
                    samples = None
                    break
                samples.append(json.loads(res["stdout"].strip().splitlines()[-1]))
            if samples is None:
                row[what] = {"timeout": args.sympy_timeout}
                print(f"  sympy {what} k={k}: no result within {args.sympy_timeout} s", file=sys.stderr)
                continue
            row[what] = {key: med([s[key] for s in samples]) for key in samples[0]}
        sizes = []
        times = []
        for _ in range(args.rounds):
            sizes.append(job(["size", str(path)]))
            times.append(job(["adiff-dx", str(path)]))
        row["adiff"] = {"chars_dx": sizes[0]["standalone_chars"]["x"],
                        "chars_grad": sizes[0]["program_chars"],
                        "dx_total": med([t["dx_total"] for t in times]),
                        "grad_total": med([t["grad_total"] for t in times])}
        for what in ("diff", "cse"):
            if "chars_dx" in row[what]:
                s = row[what]
                row[f"ratio_{what}"] = {
                    "chars_dx": row["adiff"]["chars_dx"] / s["chars_dx"],
                    "chars_grad": row["adiff"]["chars_grad"] / s["chars_grad"],
                    "time_dx": row["adiff"]["dx_total"] / s["dx_total"],
                    "time_grad": row["adiff"]["grad_total"] / s["grad_total"]}
        print(f"  sympy k={k}: {json.dumps({k2: v for k2, v in row.items() if k2.startswith('ratio')})}",
              file=sys.stderr)
        out.append(row)
    return out


def job_adiff_dx(path: str) -> dict:
    """adiff's d/dx alone and the gradient, timed after the imports (as SymPy's job is)."""
    from autodiff_cli.calculus.derive import differentiate
    from autodiff_cli.language.parser import parse

    graph = parse(Path(path).read_text(encoding="utf-8"))
    differentiate(parse("sin(x)*y")).program()  # warm: rules compiled once per process
    t0 = time.perf_counter()
    d = differentiate(graph, wrt=["x"])
    d.standalone("x")
    t1 = time.perf_counter()
    g = differentiate(graph)
    g.program()
    t2 = time.perf_counter()
    return {"dx_total": t1 - t0, "grad_total": t2 - t1}


def part_random(args) -> dict:
    per_tool: dict[str, list[list[dict]]] = {"adiff": [], "sympy": []}
    for r in range(args.rounds):
        order = ["adiff", "sympy"] if r % 2 == 0 else ["sympy", "adiff"]
        for tool in order:
            if tool == "adiff":
                rows = job(["random", tool, str(args.random), str(args.seed), "0"])["rows"]
            else:  # one process a formula: a hard time limit (SymPy may swallow an alarm)
                rows = []
                for i in range(args.random):
                    res = run([sys.executable, str(Path(__file__)), "--job", "random-one",
                               str(args.random), str(args.seed), str(i)],
                              timeout=args.random_timeout)
                    rows.append({"timeout": args.random_timeout} if res["timeout"] else
                                json.loads(res["stdout"].strip().splitlines()[-1]))
            per_tool[tool].append(rows)
        print(f"  random: round {r + 1}/{args.rounds} (load {load()})", file=sys.stderr)
    n = args.random
    # formulas SymPy finished in every round (both its diff and its cse)
    done = [i for i in range(n) if all("cse_time" in rounds[i] for rounds in per_tool["sympy"])]

    def per_formula(tool, key, which=done):
        return [med([rounds[i][key] for rounds in per_tool[tool]]) for i in which]

    a_chars, a_time = per_formula("adiff", "chars"), per_formula("adiff", "time")
    a_prog, a_ptime = per_formula("adiff", "program_chars"), per_formula("adiff", "program_time")
    s_chars, s_time = per_formula("sympy", "chars"), per_formula("sympy", "time")
    s_cse, s_ctime = per_formula("sympy", "cse_chars"), per_formula("sympy", "cse_time")
    ratio = [a / s for a, s in zip(a_chars, s_chars)]
    ratio_cse = [a / s for a, s in zip(a_prog, s_cse)]
    ratio_t = [a / s for a, s in zip(a_time, s_time)]
    ratio_ct = [a / s for a, s in zip(a_ptime, s_ctime)]
    all_adiff = per_formula("adiff", "time", range(n))
    out = {
        "formulas": n, "seed": args.seed, "sympy_finished": len(done),
        "sympy_timeout_s": args.random_timeout,
        "adiff_time_all": {"median": med(all_adiff), "max": max(all_adiff)},
        "median_chars": {"adiff": med(a_chars), "sympy": med(s_chars),
                         "adiff_program": med(a_prog), "sympy_cse": med(s_cse)},
        "median_time": {"adiff": med(a_time), "sympy": med(s_time),
                        "adiff_program": med(a_ptime), "sympy_cse": med(s_ctime)},
        "ratio_chars_vs_diff": {"median": med(ratio), "min": min(ratio), "max": max(ratio)},
        "ratio_chars_program_vs_cse": {"median": med(ratio_cse), "min": min(ratio_cse),
                                       "max": max(ratio_cse)},
        "ratio_time_vs_diff": {"median": med(ratio_t), "max": max(ratio_t)},
        "ratio_time_program_vs_cse": {"median": med(ratio_ct), "max": max(ratio_ct)},
        "total_chars": {"adiff": sum(a_chars), "sympy": sum(s_chars), "adiff_program": sum(a_prog),
                        "sympy_cse": sum(s_cse)},
    }
    print(f"  random: {json.dumps(out)}", file=sys.stderr)
    return out


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="chain,core,sympy,random")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--chain-ks", type=lambda s: [int(x) for x in s.split(",")], default=list(CHAIN_KS))
    p.add_argument("--core-sizes", type=lambda s: [int(x) for x in s.split(",")],
                   default=list(CORE_SIZES))
    p.add_argument("--sympy-ks", type=lambda s: [int(x) for x in s.split(",")], default=[10])
    p.add_argument("--sympy-timeout", type=float, default=120.0)
    p.add_argument("--random", type=int, default=100)
    p.add_argument("--random-timeout", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", default=str(HERE / "data"))
    p.add_argument("--job", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.job:
        name, rest = args.job[0], args.job[1:]
        if name == "size":
            result = job_size(rest[0])
        elif name == "sympy-chain":
            result = job_sympy_chain(int(rest[0]), rest[1])
        elif name == "random":
            result = job_random(rest[0], int(rest[1]), int(rest[2]), float(rest[3]))
        elif name == "random-one":
            result = job_random_one(int(rest[0]), int(rest[1]), int(rest[2]))
        elif name == "adiff-dx":
            result = job_adiff_dx(rest[0])
        else:
            raise SystemExit(f"unknown job {name}")
        print(json.dumps(result))
        return 0
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    results: dict = {"python": sys.version.split()[0], "load_start": load(), "rounds": args.rounds}
    if "chain" in parts:
        results["chain"] = part_chain(args, data)
    if "core" in parts:
        results["core"] = part_core(args, data)
    if "sympy" in parts:
        results["sympy"] = part_sympy(args, data)
    if "random" in parts:
        results["random"] = part_random(args)
    results["load_end"] = load()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"diff-{stamp}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1))
    print(f"written {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

