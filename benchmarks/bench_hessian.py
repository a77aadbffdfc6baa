"""The Hessian benchmark of issue 12: ``adiff hessian`` against ``torch.func.hessian`` and
``jax.hessian``, end to end in fresh processes, side by side, and its exactness against SymPy.

The formula: a seeded random smooth formula of 1,000 operations over 20 inputs
(``gen_formula.generate(1000, seed, nvars=20)``: ``+ - * /``, ``sin cos tanh sigmoid exp``
and ``log(1 + a**2)``), written to the git-ignored ``benchmarks/data/``. Jobs, each a fresh
process, run in alternating order (round r in one order, round r + 1 in the reverse); the
figures are medians over the rounds, and the ratios are taken per round, then their median:

* ``adiff``: ``adiff hessian -f F --at … --format json`` -- the value, gradient, the whole
  matrix by forward-over-reverse, its finite-difference check, eigenvalues and definiteness
  (the command as a user runs it); ``adiff --no-check``: the same without the check;
* ``torch``: this file with ``--job torch``: the formula evaluated by ``eval`` into float64
  tensors (one input vector), ``torch.func.hessian(f)(x)``, the matrix printed;
* ``jax``: ``--job jax``: the same with ``jax.numpy`` in float64, ``jax.hessian(f)(x)``
  without ``jit`` (with it, compiling the 1,000-op trace costs minutes: NOTES §8).

Target (issue 12): adiff end to end <= 0.5 × the faster of torch and jax, and exact to 1e-10
against SymPy at the point.

**Exactness.** ``sympy.hessian`` of the whole 1,000-op expression does not finish in ten
minutes (NOTES §8: SymPy ``hessian`` + ``lambdify`` > 600 s), so the oracle differentiates op
by op: SymPy gives each op's first and second partial derivatives symbolically (``sin``,
``sigmoid``, ``a/b``, ...), and the value, gradient and Hessian are propagated forward
through the expression tree in mpmath at 50 significant digits (the textbook second-order
chain rule: H(φ(a, b)) = φ_a·H_a + φ_b·H_b + φ_aa·g_a g_aᵀ + φ_ab·(g_a g_bᵀ + g_b g_aᵀ) +
φ_bb·g_b g_bᵀ). The tree is read from the formula's text by Python's ``ast`` -- nothing of
adiff's parser or calculus -- and walked with an explicit stack. Each run first holds the
oracle itself to ``sympy.hessian`` of a whole 40-op formula (identical to the last bit here).

    python benchmarks/bench_hessian.py                 # 5 rounds, torch and jax from this venv
    python benchmarks/bench_hessian.py --rounds 3 --no-jax
    python benchmarks/bench_hessian.py --oracle-only   # exactness only, no timings

torch and jax are benchmark tools only, never adiff dependencies; on this machine
``pip install torch==2.13.0`` (a CPU build) and ``pip install jax jaxlib``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FUNCTIONS = ("sin", "cos", "tanh", "sigmoid", "exp", "log")


def _read_job_input(formula_file: str, at_file: str):
    with open(formula_file, encoding="utf-8") as fh:
        text = fh.read().strip()
    with open(at_file, encoding="utf-8") as fh:
        point = {k: float(v) for k, v in (item.split("=") for item in fh.read().strip().split(","))}
    return text, point


def _names(text: str, point: dict) -> list[str]:
    """The inputs the formula uses, in the order of the point (x0, x1, ...)."""
    import re

    used = set(re.findall(r"[A-Za-z_]\w*", text))
    return [name for name in point if name in used]


def _print_matrix(names, rows) -> None:
    lines = [f"hessian\t{a}\t{b}\t{float(rows[i][j])!r}" for i, a in enumerate(names)
             for j, b in enumerate(names)]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- the jobs (no adiff here)

def torch_job(formula_file: str, at_file: str) -> int:
    t0 = time.perf_counter()
    import torch

    t_import = time.perf_counter()
    text, point = _read_job_input(formula_file, at_file)
    names = _names(text, point)
    code = compile(text, formula_file, "eval")
    fns = {"sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "exp": torch.exp, "log": torch.log, "__builtins__": {}}

    def f(v):
        scope = dict(fns)
        scope.update({name: v[k] for k, name in enumerate(names)})
        return eval(code, scope)  # noqa: S307 - the benchmark's own generated formula

    x = torch.tensor([point[n] for n in names], dtype=torch.float64)
    t1 = time.perf_counter()
    h = torch.func.hessian(f)(x)
    t2 = time.perf_counter()
    _print_matrix(names, h.tolist())
    print(json.dumps({"import": t_import - t0, "hessian": t2 - t1, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}), file=sys.stderr)
    return 0


def jax_job(formula_file: str, at_file: str) -> int:
    t0 = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    t_import = time.perf_counter()
    text, point = _read_job_input(formula_file, at_file)
    names = _names(text, point)
    code = compile(text, formula_file, "eval")
    fns = {"sin": jnp.sin, "cos": jnp.cos, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid,
           "exp": jnp.exp, "log": jnp.log, "__builtins__": {}}

    def f(v):
        scope = dict(fns)
        scope.update({name: v[k] for k, name in enumerate(names)})
        return eval(code, scope)  # noqa: S307 - the benchmark's own generated formula

    x = jnp.array([point[n] for n in names], dtype=jnp.float64)
    t1 = time.perf_counter()
    h = jax.hessian(f)(x)
    h.block_until_ready()
    t2 = time.perf_counter()
    _print_matrix(names, h.tolist())
    print(json.dumps({"import": t_import - t0, "hessian": t2 - t1, "jax": jax.__version__}),
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------- the oracle

def oracle(text: str, point: dict, names: list[str], dps: int = 50) -> list[list[float]]:
    """The Hessian at ``point``: each op's partial derivatives from SymPy, propagated forward
    through the expression tree (read by ``ast``) in mpmath at ``dps`` digits."""
    import ast

    import mpmath
    import sympy as sp

    a, b = sp.symbols("a b")
    unary = {"sin": sp.sin(a), "cos": sp.cos(a), "tanh": sp.tanh(a),
             "sigmoid": 1 / (1 + sp.exp(-a)), "exp": sp.exp(a), "log": sp.log(a)}
    binary = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b, ast.Div: a / b, ast.Pow: a ** b}

    def rules1(e):
        return [sp.lambdify([a], x, "mpmath") for x in (e, sp.diff(e, a), sp.diff(e, a, 2))]

    def rules2(e):
        parts = (e, sp.diff(e, a), sp.diff(e, b), sp.diff(e, a, 2), sp.diff(e, a, b),
                 sp.diff(e, b, 2))
        return [sp.lambdify([a, b], x, "mpmath") for x in parts]

    r1 = {k: rules1(e) for k, e in unary.items()}
    r2 = {k: rules2(e) for k, e in binary.items()}
    tree = ast.parse(text, mode="eval").body
    with mpmath.workdps(dps):
        # (value, gradient {name: d}, hessian {(i, j): d}) of each node, post-order
        done: dict[int, tuple] = {}
        stack = [(tree, False)]
        while stack:
            node, ready = stack.pop()
            if isinstance(node, ast.Name):
                done[id(node)] = (mpmath.mpf(point[node.id]), {node.id: mpmath.mpf(1)}, {})
                continue
            if isinstance(node, ast.Constant):
                done[id(node)] = (mpmath.mpf(node.value), {}, {})
                continue
            kids = [node.operand] if isinstance(node, ast.UnaryOp) else \
                [node.left, node.right] if isinstance(node, ast.BinOp) else list(node.args)
            if not ready:
                stack.append((node, True))
                stack.extend((k, False) for k in kids)
                continue
            parts = [done.pop(id(k)) for k in kids]
            if isinstance(node, ast.UnaryOp):  # -a
                v, g, h = parts[0]
                done[id(node)] = (-v, {k: -x for k, x in g.items()}, {k: -x for k, x in h.items()})
                continue
            if isinstance(node, ast.Call):
                (v, g, h), = parts
                f, d1, d2 = r1[node.func.id]
                fa, faa = d1(v), d2(v)
                out_g = {k: fa * x for k, x in g.items()}
                out_h = {k: fa * x for k, x in h.items()}
                for i, gi in g.items():
                    for j, gj in g.items():
                        out_h[(i, j)] = out_h.get((i, j), 0) + faa * gi * gj
                done[id(node)] = (f(v), out_g, out_h)
                continue
            (va, ga, ha), (vb, gb, hb) = parts
            f, da, db, daa, dab, dbb = r2[type(node.op)]
            pa, pb, paa, pab, pbb = da(va, vb), db(va, vb), daa(va, vb), dab(va, vb), dbb(va, vb)
            out_g = {}
            for k, x in ga.items():
                out_g[k] = out_g.get(k, 0) + pa * x
            for k, x in gb.items():
                out_g[k] = out_g.get(k, 0) + pb * x
            out_h = {}
            for k, x in ha.items():
                out_h[k] = out_h.get(k, 0) + pa * x
            for k, x in hb.items():
                out_h[k] = out_h.get(k, 0) + pb * x
            for coef, g1, g2 in ((paa, ga, ga), (pab, ga, gb), (pab, gb, ga), (pbb, gb, gb)):
                if coef == 0:
                    continue
                for i, x in g1.items():
                    for j, y in g2.items():
                        out_h[(i, j)] = out_h.get((i, j), 0) + coef * x * y
            done[id(node)] = (f(va, vb), out_g, out_h)
        _, _, h = done[id(tree)]
        return [[float(h.get((i, j), 0)) for j in names] for i in names]


def oracle_self_check(ops: int = 40, nvars: int = 5, seed: int = 3) -> dict:
    """The oracle against ``sympy.hessian`` of a whole expression small enough for it."""
    import mpmath
    import sympy as sp
    from gen_formula import generate

    f = generate(ops, seed, "expr", nvars=nvars)
    names = _names(f.text, f.point)
    symbols = {n: sp.Symbol(n) for n in names}
    scope = {**symbols, "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh, "exp": sp.exp,
             "log": sp.log, "sigmoid": lambda a: 1 / (1 + sp.exp(-a)), "__builtins__": {}}
    expr = eval(f.text, scope)  # noqa: S307 - the benchmark's own generated formula
    h = sp.lambdify([symbols[n] for n in names], sp.hessian(expr, [symbols[n] for n in names]),
                    "mpmath")
    with mpmath.workdps(50):
        m = h(*[mpmath.mpf(f.point[n]) for n in names])
        exact = [[float(m[i, j]) for j in range(len(names))] for i in range(len(names))]
    return {"ops": ops, "inputs": len(names), **errors(oracle(f.text, f.point, names), exact)}


def errors(got: list[list[float]], truth: list[list[float]]) -> dict:
    """The largest relative error over the entries (each against max(|truth|, 1e-3·scale):
    entries ~0 next to the matrix are measured against its scale) and the largest error
    over the matrix's scale."""
    scale = max(abs(x) for row in truth for x in row)
    rel = max(abs(g - t) / max(abs(t), 1e-3 * scale) for gr, tr in zip(got, truth)
              for g, t in zip(gr, tr))
    over_scale = max(abs(g - t) for gr, tr in zip(got, truth) for g, t in zip(gr, tr)) / scale
    return {"max_rel": rel, "max_over_scale": over_scale}


def parse_matrix(stdout: str, names: list[str]) -> list[list[float]]:
    entries = {}
    for line in stdout.splitlines():
        kind, a, b, value = line.split("\t")
        entries[(a, b)] = float(value)
    return [[entries[(a, b)] for b in names] for a in names]


# ---------------------------------------------------------------- the benchmark

def formula_files(ops: int, nvars: int, seed: int, data_dir: Path):
    sys.path.insert(0, str(HERE))
    from gen_formula import generate

    data_dir.mkdir(parents=True, exist_ok=True)
    stem = data_dir / f"hessian-{ops}ops-{nvars}vars-seed{seed}"
    text_file, at_file = stem.with_suffix(".txt"), stem.with_suffix(".at")
    if not (text_file.exists() and at_file.exists()):
        f = generate(ops, seed, "expr", nvars=nvars)
        text_file.write_text(f.text, encoding="utf-8")
        at_file.write_text(f.at_spec() + "\n", encoding="utf-8")
    return text_file, at_file


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", choices=("torch", "jax"), help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--nvars", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", default=sys.executable, help="Python for the torch/jax jobs")
    ap.add_argument("--adiff", default=str(Path(sys.executable).with_name("adiff")))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--oracle-only", action="store_true")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    args = ap.parse_args(argv)
    if args.job:
        return (torch_job if args.job == "torch" else jax_job)(*args.files)

    sys.path.insert(0, str(HERE))
    from bench_core import load, med, run

    text_file, at_file = formula_files(args.ops, args.nvars, args.seed, Path(args.data_dir))
    text, point = _read_job_input(str(text_file), str(at_file))
    names = _names(text, point)
    at_spec = ",".join(f"{n}={point[n]!r}" for n in names)
    print(f"formula: {args.ops:,} operations over {len(names)} inputs (seed {args.seed}), "
          f"{len(text):,} characters: {text_file}", file=sys.stderr)
    check = oracle_self_check()
    print(f"oracle against sympy.hessian of a whole {check['ops']}-op formula: max relative "
          f"difference {check['max_rel']:.1e}", file=sys.stderr)
    t = time.perf_counter()
    truth = oracle(text, point, names)
    oracle_seconds = time.perf_counter() - t
    print(f"oracle (SymPy per op, mpmath 50 digits): {oracle_seconds:.1f} s", file=sys.stderr)

    adiff_cmd = [args.adiff, "hessian", "-f", str(text_file), "--at", at_spec, "--format", "json"]
    jobs = {"adiff": adiff_cmd, "adiff --no-check": adiff_cmd + ["--no-check"]}
    if not args.no_torch:
        jobs["torch"] = [args.python, __file__, "--job", "torch", str(text_file), str(at_file)]
    if not args.no_jax:
        jobs["jax"] = [args.python, __file__, "--job", "jax", str(text_file), str(at_file)]
    result = {"ops": args.ops, "inputs": len(names), "seed": args.seed,
              "oracle_seconds": oracle_seconds, "oracle_vs_sympy_hessian": check}
    if args.oracle_only:
        jobs = {"adiff": adiff_cmd}
        args.rounds = 1
    samples: dict[str, list[dict]] = {name: [] for name in jobs}
    order = list(jobs)
    loads = [load()]
    for r in range(args.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            samples[name].append(run(jobs[name], env={**os.environ, "NO_COLOR": "1"}))
        loads.append(load())
        print(f"  round {r + 1}/{args.rounds} done (load {loads[-1]})", file=sys.stderr)
    result["load"] = loads

    doc = json.loads(samples["adiff"][0]["stdout"])
    got = {"adiff": [[doc["hessian"][a][b] for b in names] for a in names]}
    for name in ("torch", "jax"):
        if name in samples:
            got[name] = parse_matrix(samples[name][0]["stdout"], names)
    result["exactness"] = {name: errors(m, truth) for name, m in got.items()}
    result["adiff_check_ok"] = doc["check"]["ok"]
    result["symmetric"] = doc["symmetric"]
    for name, runs in samples.items():
        result[name] = {"wall": med([s["wall"] for s in runs]), "cpu": med([s["cpu"] for s in runs]),
                        "maxrss_kib": med([s["maxrss_kib"] for s in runs]),
                        "walls": [round(s["wall"], 3) for s in runs]}
    baselines = [n for n in ("torch", "jax") if n in samples]
    if baselines:
        per_round = [min(samples[n][k]["wall"] for n in baselines) for k in range(args.rounds)]
        result["faster_baseline"] = min(baselines, key=lambda n: result[n]["wall"])
        for name in ("adiff", "adiff --no-check"):
            result[f"ratio {name}"] = med([a["wall"] / b for a, b in
                                           zip((s for s in samples[name]), per_round)])
    _report(result, baselines)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"bench-hessian-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path}", file=sys.stderr)
    ok = result["exactness"]["adiff"]["max_rel"] <= 1e-10 and (
        not baselines or result["ratio adiff"] <= 0.5)
    return 0 if ok else 1


def _report(result: dict, baselines: list[str]) -> None:
    print(f"\nHessian of a {result['ops']:,}-op random smooth formula over {result['inputs']} "
          f"inputs, fresh processes, medians of {len(result['adiff']['walls'])} "
          f"(load {result['load'][0]} -> {result['load'][-1]})\n")
    print(f"{'job':<18} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}  {'max rel err':>11}  walls")
    for name in ("adiff", "adiff --no-check", *baselines):
        if name not in result:
            continue
        r = result[name]
        err = result["exactness"].get(name.split()[0] if name != "adiff --no-check" else "",
                                      {}).get("max_rel")
        err_text = f"{err:11.2e}" if err is not None else " " * 11
        print(f"{name:<18} {r['wall']:8.3f} {r['cpu']:8.3f} {r['maxrss_kib'] / 1024:9.1f}  "
              f"{err_text}  {r['walls']}")
    if baselines:
        print(f"\nadiff / the faster of {' and '.join(baselines)} ({result['faster_baseline']}), "
              f"per round then median: {result['ratio adiff']:.3f} "
              f"(--no-check: {result['ratio adiff --no-check']:.3f}); target <= 0.5: "
              f"{'met' if result['ratio adiff'] <= 0.5 else 'NOT met'}")
    e = result["exactness"]["adiff"]
    print(f"adiff against the oracle: max relative error {e['max_rel']:.2e}, max error / scale "
          f"{e['max_over_scale']:.2e}; target <= 1e-10: "
          f"{'met' if e['max_rel'] <= 1e-10 else 'NOT met'}; adiff's own check ok: "
          f"{result['adiff_check_ok']}, symmetric: {result['symmetric']}")
    if not math.isfinite(e["max_rel"]):
        print("(a non-finite error: the formula left its domain?)")


if __name__ == "__main__":
    sys.exit(main())
