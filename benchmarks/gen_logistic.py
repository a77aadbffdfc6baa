"""Seeded logistic-regression data of any size, fast: columns x1 … xK and y, for ``adiff fit``.

The features are standard normal; y is 1 with probability sigmoid(θ0 + θ1·x1 + … + θK·xK)
for the true parameters below (θ0 = -0.5, θ1 = 2, θ2 = -1, then 0.5, -0.25, … for more
features), so the classes overlap and the unpenalised loss has a minimum. NumPy's PCG64
with the given seed makes the stream, a block of rows at a time, so 10^7 rows take seconds
(``gen_logistic_csv.py``, the lecture's pure-Python generator, takes minutes there) and a
file is the same for the same seed, rows and digits.

    python benchmarks/gen_logistic.py --rows 1000000 -o benchmarks/data/logistic-1e6.csv
    python benchmarks/gen_logistic.py --rows 100000 --features 5 -o data.csv --program loss.adiff

``--program PATH`` also writes the cross-entropy loss of the model as an adiff program
(stable: softplus), to fit with ``adiff fit -f PATH --data FILE``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

DEFAULT_SEED = 0
BLOCK = 65536


def true_params(features: int) -> list[float]:
    """θ0, θ1, …, θK: the lecture's -0.5, 2, -1, then 0.5, -0.25, 0.125, … alternating."""
    theta = [-0.5, 2.0, -1.0]
    while len(theta) < features + 1:
        theta.append(-theta[-1] / 2.0 if len(theta) > 3 else 0.5)
    return theta[:features + 1]


def blocks(rows: int, features: int = 2, seed: int = DEFAULT_SEED, digits: int = 6):
    """(X, y) blocks of at most BLOCK rows; X rounded to ``digits`` decimals."""
    rng = np.random.Generator(np.random.PCG64(seed))
    theta = np.array(true_params(features))
    done = 0
    while done < rows:
        n = min(BLOCK, rows - done)
        x = np.round(rng.standard_normal((n, features)), digits) + 0.0  # + 0.0: no "-0.0"
        z = theta[0] + x @ theta[1:]
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
        yield x, y
        done += n


def program(features: int) -> str:
    terms = " + ".join(f"t{k}*x{k}" for k in range(1, features + 1))
    return ("# The cross-entropy of a logistic regression over "
            f"{features} features (benchmarks/gen_logistic.py --program):\n"
            "# softplus(-z) = -log(sigmoid(z)) and softplus(z) = -log(1 - sigmoid(z)), stably.\n"
            f"z = t0 + {terms}\n"
            "y*softplus(-z) + (1 - y)*softplus(z)\n")


def write(out, rows: int, features: int, seed: int, digits: int) -> None:
    out.write(",".join([f"x{k}" for k in range(1, features + 1)] + ["y"]) + "\n")
    form = ",".join([f"%.{digits}f"] * features + ["%d"])
    for x, y in blocks(rows, features, seed, digits):
        table = np.column_stack([x, y]).astype(object)
        table[:, -1] = y
        out.write("\n".join(form % tuple(row) for row in table) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--features", type=int, default=2)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--digits", type=int, default=6, help="decimals of the features")
    ap.add_argument("-o", "--output", default="-", help="file to write ('-': stdout)")
    ap.add_argument("--program", help="also write the loss as an adiff program here")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.features < 1:
        ap.error("--rows and --features must be at least 1")
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8",
                                                      newline="\n")
    try:
        write(out, args.rows, args.features, args.seed, args.digits)
    finally:
        if out is not sys.stdout:
            out.close()
    if args.program:
        with open(args.program, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(program(args.features))
    return 0


if __name__ == "__main__":
    sys.exit(main())
