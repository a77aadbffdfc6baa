"""Seeded logistic-regression data: columns x1, x2, y (the lecture's example).

x1 and x2 are standard normal; y is 1 with probability sigmoid(T0 + T1*x1 + T2*x2)
for the true parameters below, else 0. The stream comes from Python's ``random``
with the given seed (stable across Python versions), so a file is the same on
every machine.

    python benchmarks/gen_logistic_csv.py --rows 12 --digits 2 -o samples/logistic.csv
    python benchmarks/gen_logistic_csv.py --rows 1000000 -o benchmarks/data/logistic-1e6.csv

``samples/logistic.csv`` (used by the README and the tests) is the first command's output.
"""

from __future__ import annotations

import argparse
import math
import random
import sys

T0, T1, T2 = -0.5, 2.0, -1.0
DEFAULT_SEED = 0


def rows(n: int, seed: int = DEFAULT_SEED, digits: int = 6):
    """n lines "x1,x2,y\\n" (without the header)."""
    rng = random.Random(seed)
    gauss, uniform = rng.gauss, rng.random
    form = f"{{:.{digits}f}},{{:.{digits}f}},{{}}\n"
    for _ in range(n):
        x1 = round(gauss(0.0, 1.0), digits) + 0.0  # + 0.0: no "-0.00"
        x2 = round(gauss(0.0, 1.0), digits) + 0.0
        p = 1.0 / (1.0 + math.exp(-(T0 + T1 * x1 + T2 * x2)))
        yield form.format(x1, x2, 1 if uniform() < p else 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--digits", type=int, default=6, help="decimals of x1 and x2")
    ap.add_argument("-o", "--output", default="-", help="file to write ('-': stdout)")
    args = ap.parse_args(argv)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8", newline="\n")
    try:
        out.write("x1,x2,y\n")
        batch = []
        for line in rows(args.rows, args.seed, args.digits):
            batch.append(line)
            if len(batch) >= 65536:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
