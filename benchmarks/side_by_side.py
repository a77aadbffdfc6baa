"""Two installs of adiff side by side: the same jobs in fresh processes, alternating, medians.

    python benchmarks/side_by_side.py BEFORE_ADIFF AFTER_ADIFF FORMULA_FILE AT_FILE [ROUNDS]

BEFORE_ADIFF and AFTER_ADIFF are the ``adiff`` executables of two virtual environments (e.g.
one with an older commit installed: ``git worktree add /tmp/before REV`` then
``python -m venv /tmp/vb && /tmp/vb/bin/pip install /tmp/before``). FORMULA_FILE and AT_FILE
hold a benchmark formula and its point (``gen_formula.py``). Jobs: the cold start
(``grad "x*y + sin(x)"``, JSON and table) and the 100k-op formula (plain and JSON,
``--no-check``); each figure is the median CPU time (user + system) of the child processes,
rounds alternating which install goes first.
"""

import os
import resource
import statistics
import subprocess
import sys


def cpu(cmd, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, (cmd, done.stderr[-500:])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    before, after, formula, at_file = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 21
    at = open(at_file).read().strip()
    jobs = {
        "cold json": lambda a: [a, "grad", "x*y + sin(x)", "--at", "x=1,y=2", "--format", "json"],
        "cold table": lambda a: [a, "grad", "x*y + sin(x)", "--at", "x=1,y=2"],
        "100k plain": lambda a: [a, "grad", "-f", formula, "--at", at, "--format", "plain",
                                 "--no-check"],
        "100k json": lambda a: [a, "grad", "-f", formula, "--at", at, "--format", "json",
                                "--no-check"],
    }
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS",)}
    for name, job in jobs.items():
        n = rounds if name.startswith("cold") else max(5, rounds // 3)
        times = {"before": [], "after": []}
        for r in range(n):
            order = (("before", before), ("after", after)) if r % 2 == 0 else \
                (("after", after), ("before", before))
            for label, exe in order:
                times[label].append(cpu(job(exe), env))
        b, a = statistics.median(times["before"]), statistics.median(times["after"])
        print(f"{name:12s} before {b * 1000:8.1f} ms   after {a * 1000:8.1f} ms   "
              f"ratio {a / b:.3f}   ({n} rounds each, medians of CPU time)")


if __name__ == "__main__":
    main()
