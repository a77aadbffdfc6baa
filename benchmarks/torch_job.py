"""The PyTorch baseline: what a user would do instead of adiff.

Run with the Python that has torch (a separate venv; torch is not an adiff
dependency)::

    /work/torchvenv/bin/python benchmarks/torch_job.py FORMULA_FILE AT_FILE

It evaluates the formula text into float64 scalar tensors (the leaves
``requires_grad``), calls ``backward()``, prints the value and the gradient
(``name<TAB>number`` lines, like ``adiff grad --format plain``), and writes its
own phase timings as one JSON line to stderr (``import``, ``read``,
``compile``, ``forward`` (eval), ``backward``, and the wall-clock time at its
last statement, so the caller can tell how long the interpreter took to exit).

A formula of the ``program`` shape (several lines) runs with ``exec`` after
prefixing its last line with ``out =``; an expression runs with ``eval``.
Standalone on purpose: it must not import adiff.
"""

import json
import resource
import sys
import time

t_start = time.perf_counter()
wall_start = time.time()
import torch  # noqa: E402

t_import = time.perf_counter()


def main() -> int:
    formula_file, at_file = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    with open(formula_file, encoding="utf-8") as fh:
        text = fh.read()
    with open(at_file, encoding="utf-8") as fh:
        point = {k: float(v) for k, v in (item.split("=") for item in fh.read().strip().split(","))}
    used = {name for name in point if name in text}  # binding unused leaves would be harmless too
    leaves = {name: torch.tensor(point[name], dtype=torch.float64, requires_grad=True)
              for name in point if name in used}
    namespace = {"sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                 "exp": torch.exp, "log": torch.log, "__builtins__": {}}
    namespace.update(leaves)
    lines = text.strip().split("\n")
    program = len(lines) > 1
    if program:
        lines[-1] = "out = " + lines[-1]
        source = "\n".join(lines)
    else:
        source = text.strip()
    t1 = time.perf_counter()
    code = compile(source, formula_file, "exec" if program else "eval")
    t2 = time.perf_counter()
    with torch.enable_grad():
        if program:
            exec(code, namespace)
            out = namespace["out"]
        else:
            out = eval(code, namespace)
        t3 = time.perf_counter()
        out.backward()
    t4 = time.perf_counter()
    grads = [(name, t.grad.item() if t.grad is not None else 0.0) for name, t in leaves.items()]
    lines = [f"value\t{out.item()!r}"] + [f"{name}\t{g!r}" for name, g in grads]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    t5 = time.perf_counter()
    timings = {"import": t_import - t_start, "read": t1 - t0, "compile": t2 - t1,
               "forward": t3 - t2, "backward": t4 - t3, "output": t5 - t4,
               "in_process": t5 - t_start, "wall_start": wall_start, "wall_end": time.time(),
               "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(timings), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
