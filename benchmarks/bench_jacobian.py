"""The Jacobian benchmark of issue 12: a program with 10 outputs and 100 inputs, adiff against
``torch.func.jacrev``.

The program (seeded, ``gen_formula``'s generator: one random formula of ``--ops`` operations per
output, all over ``x0 .. x99`` and evaluated at one point) is written as ``y0 = ...`` ... ``y9 =
...`` and a last statement ``y0, y1, ..., y9``. Per round, in fresh processes, alternating the
order from round to round:

* ``adiff reverse``: ``adiff jacobian -f P --at ... --format json --no-check`` (the mode adiff
  picks: 10 backward passes, one per output);
* ``adiff forward``: the same with ``--mode forward`` (100 tangent passes, one per input);
* ``torch jacrev``: this file's ``--torch-job``: ``import torch``, the program as a Python
  function of one float64 tensor of the 100 inputs returning the 10 outputs stacked, and
  ``torch.func.jacrev`` of it; prints the matrix as JSON.

Wall and CPU time of each child (``os.wait4``), the medians over the rounds, and the ratio
adiff / torch computed per round then its median. Both matrices are compared (the largest
relative difference). Also, in process (warm, medians): adiff's parse + Jacobian, and
torch's own time for building the function and calling ``jacrev`` (from the child's report),
so the start-up costs (``import torch`` is about 2 s here) can be told from the work.

    python benchmarks/bench_jacobian.py                     # 1,000 ops per output, 5 rounds
    python benchmarks/bench_jacobian.py --ops 10000 --rounds 5
    python benchmarks/bench_jacobian.py --torch-python /work/torchvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

OUTPUTS, INPUTS = 10, 100


def program(ops: int, seed: int) -> tuple[str, dict[str, float]]:
    """(program text, point): OUTPUTS random formulas of ``ops`` operations over the same
    INPUTS variables and point, assigned to y0 .. y9, then listed."""
    from gen_formula import _Gen

    g = _Gen(seed, INPUTS)
    roots = [g.build(ops) for _ in range(OUTPUTS)]
    texts, lines = {}, []
    for k, root in enumerate(roots):
        # expr_text walks the node lists from 0: give it only this tree's nodes
        start = roots[k - 1] + 1 if k else 0
        texts = {}
        for i in range(start, root + 1):
            parts = [texts.pop(c) for c in g.kids[i]]
            texts[i] = g._combine(i, [t for t, _ in parts], [p for _, p in parts])
        lines.append(f"y{k} = {texts[root][0]}")
    lines.append(", ".join(f"y{k}" for k in range(OUTPUTS)))
    return "\n".join(lines) + "\n", dict(g.point)


def files(ops: int, seed: int) -> tuple[Path, Path]:
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    path = data / f"jacobian-{OUTPUTS}x{INPUTS}-{ops}ops-seed{seed}.adiff"
    at = path.with_suffix(".at")
    if not path.exists() or not at.exists():
        text, point = program(ops, seed)
        path.write_text(text, encoding="utf-8")
        at.write_text(",".join(f"{k}={v!r}" for k, v in point.items()) + "\n", encoding="utf-8")
    return path, at


# ---------------------------------------------------------------- the PyTorch side

def torch_job(path: str, at_path: str) -> int:
    """Run in a child process with torch: the Jacobian by torch.func.jacrev, as JSON."""
    t0 = time.perf_counter()
    import torch
    from torch.func import jacrev

    t1 = time.perf_counter()
    text = Path(path).read_text(encoding="utf-8").strip().splitlines()
    point = dict(item.split("=") for item in Path(at_path).read_text().strip().split(","))
    names = list(point)
    body = ["def f(x):"] + [f"    {n} = x[{k}]" for k, n in enumerate(names)]
    body += [f"    {line}" for line in text[:-1]]
    body.append(f"    return torch.stack(({text[-1]},))")
    namespace = {"torch": torch, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh,
                 "sigmoid": torch.sigmoid, "exp": torch.exp, "log": torch.log,
                 "__builtins__": {}}
    exec(compile("\n".join(body), path, "exec"), namespace)
    x = torch.tensor([float(point[n]) for n in names], dtype=torch.float64)
    t2 = time.perf_counter()
    jac = jacrev(namespace["f"])(x)
    t3 = time.perf_counter()
    rows = jac.tolist()
    sys.stdout.write(json.dumps({"jacobian": rows}) + "\n")
    print(json.dumps({"import": t1 - t0, "build": t2 - t1, "jacrev": t3 - t2,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}),
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------- the run

def _differences(a_rows, b_rows) -> str:
    """The median relative difference of the entries, and the largest difference relative to
    the largest entry of its row (entries far below their row's scale are rounding noise of
    paths that cancel, in both programs)."""
    rel, normwise = [], 0.0
    for a_row, b_row in zip(a_rows, b_rows):
        scale = max(abs(b) for b in b_row) or 1.0
        for a, b in zip(a_row, b_row):
            d = abs(a - b)
            if b:
                rel.append(d / abs(b))
            normwise = max(normwise, d / scale)
    return f"median {statistics.median(rel):.1e}, largest over its row's scale {normwise:.1e}"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=1000, help="operations per output (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", default=sys.executable, help="the Python that has adiff")
    ap.add_argument("--torch-python", default=sys.executable, help="the Python that has torch")
    ap.add_argument("--torch-job", nargs=2, metavar=("PROGRAM", "AT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.torch_job:
        return torch_job(*args.torch_job)
    from bench_core import run

    path, at_path = files(args.ops, args.seed)
    at = at_path.read_text().strip()
    adiff = [args.python, "-m", "autodiff_cli", "jacobian", "-f", str(path), "--at", at,
             "--format", "json", "--no-check"]
    jobs = {
        "adiff reverse": adiff,
        "adiff forward": adiff + ["--mode", "forward"],
        "torch jacrev": [args.torch_python, str(Path(__file__).resolve()), "--torch-job",
                         str(path), str(at_path)],
    }
    print(f"program: {path.name} ({OUTPUTS} outputs x {INPUTS} inputs, {args.ops:,} ops per "
          f"output, {path.stat().st_size:,} bytes); load before: {_load()}")
    times: dict[str, list[dict]] = {name: [] for name in jobs}
    matrices: dict[str, list] = {}
    torch_inside: list[dict] = []
    order = list(jobs)
    for r in range(args.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            result = run(jobs[name])
            times[name].append(result)
            doc = json.loads(result["stdout"])
            if name == "torch jacrev":
                matrices[name] = doc["jacobian"]
                torch_inside.append(json.loads(result["stderr"].strip().splitlines()[-1]))
            else:
                # columns in torch's order, x0 .. x99 (adiff's are in order of first use)
                matrices[name] = [[doc["jacobian"][o].get(f"x{k}", 0.0) for k in range(INPUTS)]
                                  for o in doc["outputs"]]
                assert doc["mode"] == ("forward" if "forward" in name else "reverse")
    # in process, warm: adiff's parse + Jacobian
    sys.path.insert(0, str(HERE.parent))
    from autodiff_cli.calculus.jacobian import jacobian
    from autodiff_cli.language.parser import parse

    text = path.read_text(encoding="utf-8")
    point = {k: float(v) for k, v in (item.split("=") for item in at.split(","))}
    inside = {"parse": [], "reverse": [], "forward": []}
    for _ in range(args.rounds):
        t0 = time.process_time()
        graph = parse(text)
        t1 = time.process_time()
        jacobian(graph, point, mode="reverse")
        t2 = time.process_time()
        jacobian(graph, point, mode="forward")
        t3 = time.process_time()
        inside["parse"].append(t1 - t0)
        inside["reverse"].append(t2 - t1)
        inside["forward"].append(t3 - t2)
    print(f"load after: {_load()}; {len(graph):,} nodes; medians of {args.rounds} rounds")
    print()
    print("| job (fresh process) | wall | CPU | ratio to torch (wall, per round) |")
    print("| --- | --- | --- | --- |")
    torch_wall = [t["wall"] for t in times["torch jacrev"]]
    for name in jobs:
        wall = [t["wall"] for t in times[name]]
        cpu = [t["cpu"] for t in times[name]]
        ratio = statistics.median(w / t for w, t in zip(wall, torch_wall))
        print(f"| {name} | {statistics.median(wall):.3f} s | {statistics.median(cpu):.3f} s | "
              f"{ratio:.3f} |")
    print()
    med = {k: statistics.median(v) for k, v in inside.items()}
    tin = {k: statistics.median(t[k] for t in torch_inside) for k in ("import", "build", "jacrev")}
    print("in process (CPU, warm for adiff; torch's own timings inside its child):")
    print(f"  adiff parse {med['parse']:.3f} s, Jacobian reverse {med['reverse']:.3f} s, "
          f"forward {med['forward']:.3f} s")
    print(f"  torch import {tin['import']:.3f} s, build {tin['build']:.3f} s, "
          f"jacrev {tin['jacrev']:.3f} s ({torch_inside[-1]['torch']}, "
          f"{torch_inside[-1]['threads']} threads)")
    print("relative differences of the matrices: adiff reverse vs torch: "
          f"{_differences(matrices['adiff reverse'], matrices['torch jacrev'])}; "
          "adiff forward vs reverse: "
          f"{_differences(matrices['adiff forward'], matrices['adiff reverse'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
