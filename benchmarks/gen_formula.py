"""Seeded random formulas for the benchmarks: N operations over 100 variables.

A formula is a random expression tree with exactly N operations (interior
nodes): the binary ``+ - * /`` and smooth unary functions ``sin cos tanh
sigmoid exp`` plus the three-operation template ``log(1 + a**2)``. Leaves are
the variables ``x0 .. x99`` and a few small positive literals (10 % of the
right operands of binary operations; a literal is never a function's whole
argument, because PyTorch's functions take tensors, not numbers).

Every operation is chosen *after* its operands, looking at their values at
the benchmark point (which the generator computes as it goes), so the
formula stays finite and in its domain there: ``/`` only divides by a value
of magnitude >= 0.5, ``*`` and ``/`` only when the result stays within 1e3,
``exp`` only of arguments in [-3, 3]; ``+``, ``-`` and the bounded functions
are always allowed. The same seed gives the same formula on any machine
(``random.Random`` is portable across platforms and Python versions for
``random()`` and ``uniform()``).

The tree is balanced (each binary node splits its operations 30/70 .. 70/30),
so a million operations nest only 52 operations (31 parentheses) deep at seed 1. That matters for PyTorch:
``eval`` of a formula goes through Python's compiler, which refuses more than
200 nested parentheses and recurses on deep expression trees (a flat
``x+x+...+x`` of 100,000 terms is a RecursionError there). Two shapes of the
same tree are available:

* ``expr``: one expression (what a user pastes on the command line);
* ``program``: one statement per operation, ``t12 = sin(t11)`` ..., the last
  line the value (adiff's program syntax; Python runs it with ``exec`` after
  prefixing the last line with ``out =``).

Usage::

    python benchmarks/gen_formula.py --ops 100000 --seed 1 -o /tmp/f100k.txt
    python benchmarks/gen_formula.py --ops 1000 --stats      # sizes and depths only
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass

NVARS = 100
SIZES = (1_000, 10_000, 100_000, 1_000_000)
#: Probability that an operation is unary (a function call) rather than binary.
P_UNARY = 0.3
#: Among unary operations, probability of the three-operation log(1 + a**2).
P_LOGSQ = 0.1
P_CONST_LEAF = 0.1
CONSTANTS = ("0.5", "1.5", "2", "3", "0.25")
BOUND = 1e3

# precedence of what a node's text is, to parenthesise operands minimally
_SUM, _PRODUCT, _ATOM = 1, 2, 4
_PREC = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}


def _sigmoid(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


_UNARY = {"sin": math.sin, "cos": math.cos, "tanh": math.tanh, "sigmoid": _sigmoid, "exp": math.exp}


@dataclass
class Formula:
    text: str
    point: dict[str, float]  # the benchmark point: x0..x99 -> value
    ops: int  # operations (interior nodes) generated
    value: float  # the formula's value at the point, computed by the generator
    depth: int  # longest path from the root to a leaf, in operations
    nesting: int  # deepest nesting of parentheses in the text
    shape: str

    def at_spec(self) -> str:
        """The point as one ``--at`` argument: ``x0=0.123,x1=-1.5,...``."""
        return ",".join(f"{k}={v!r}" for k, v in self.point.items())


class _Gen:
    def __init__(self, seed: int, nvars: int):
        self.rng = random.Random(seed)
        self.point = {f"x{k}": round(self.rng.uniform(-2.0, 2.0), 3) for k in range(nvars)}
        self.names = list(self.point)
        # The tree in post-order: kind, payload, children (indices), value, depth.
        self.kind: list[str] = []  # "var", "const", "bin", "fn", "logsq"
        self.payload: list[str] = []  # name, literal, operator or function
        self.kids: list[tuple[int, ...]] = []
        self.value: list[float] = []
        self.depth: list[int] = []

    def _add(self, kind, payload, kids, value, depth) -> int:
        self.kind.append(kind)
        self.payload.append(payload)
        self.kids.append(kids)
        self.value.append(value)
        self.depth.append(depth)
        return len(self.kind) - 1

    def build(self, n_ops: int) -> int:
        """Post-order construction without recursion: an explicit stack of tasks."""
        rng = self.rng
        results: list[int] = []
        # task: ("make", n) generates a subtree with n operations and pushes its index;
        # ("bin", None) / ("fn", template) pops operand(s) and combines them.
        # A literal is only ever a right operand of a binary operation, so every
        # function's argument contains a variable: torch.sin(3) would be a TypeError
        # (torch functions take tensors, and only variables are tensors there).
        stack: list[tuple] = [("make", n_ops, False)]
        while stack:
            task, arg, const_ok = stack.pop()
            if task == "make":
                n = arg
                if n == 0:
                    if const_ok and rng.random() < P_CONST_LEAF:
                        lit = CONSTANTS[int(rng.random() * len(CONSTANTS))]
                        results.append(self._add("const", lit, (), float(lit), 0))
                    else:
                        name = self.names[int(rng.random() * len(self.names))]
                        results.append(self._add("var", name, (), self.point[name], 0))
                elif rng.random() < P_UNARY or n == 1 and rng.random() < 0.5:
                    if n >= 3 and rng.random() < P_LOGSQ:
                        stack.append(("fn", "logsq", False))
                        stack.append(("make", n - 3, False))
                    else:
                        stack.append(("fn", None, False))
                        stack.append(("make", n - 1, False))
                else:
                    left = round((n - 1) * rng.uniform(0.3, 0.7))
                    stack.append(("bin", None, False))
                    stack.append(("make", n - 1 - left, True))  # popped second: right operand
                    stack.append(("make", left, False))
            elif task == "bin":
                b = results.pop()
                a = results.pop()
                va, vb = self.value[a], self.value[b]
                allowed = ["+", "-"]
                if abs(va * vb) <= BOUND:
                    allowed.append("*")
                if abs(vb) >= 0.5 and abs(va / vb) <= BOUND:
                    allowed.append("/")
                op = allowed[int(rng.random() * len(allowed))]
                v = va + vb if op == "+" else va - vb if op == "-" else va * vb if op == "*" else va / vb
                results.append(self._add("bin", op, (a, b), v, 1 + max(self.depth[a], self.depth[b])))
            else:
                a = results.pop()
                va = self.value[a]
                if arg == "logsq":
                    results.append(self._add("logsq", "log", (a,), math.log(1.0 + va * va),
                                             3 + self.depth[a]))
                    continue
                allowed = ["sin", "cos", "tanh", "sigmoid"]
                if abs(va) <= 3.0:
                    allowed.append("exp")
                fn = allowed[int(rng.random() * len(allowed))]
                results.append(self._add("fn", fn, (a,), _UNARY[fn](va), 1 + self.depth[a]))
        (root,) = results
        return root

    # ------------------------------------------------------------ text

    def _combine(self, i: int, texts: list[str], precs: list[int]) -> tuple[str, int]:
        """The text of node i from its operands' texts (and their precedence)."""
        kind, payload = self.kind[i], self.payload[i]
        if kind in ("var", "const"):
            return payload, _ATOM
        if kind == "fn":
            return f"{payload}({texts[0]})", _ATOM
        if kind == "logsq":
            a = texts[0] if precs[0] == _ATOM else f"({texts[0]})"
            return f"log(1 + {a}**2)", _ATOM
        p = _PREC[payload]
        a = texts[0] if precs[0] >= p else f"({texts[0]})"
        # the right operand is parenthesised at equal precedence too, so the text
        # parses back into exactly this tree (a - (b - c), a / (b * c), a + (b + c))
        b = texts[1] if precs[1] > p else f"({texts[1]})"
        sep = f" {payload} " if p == _SUM else payload
        return a + sep + b, p

    def expr_text(self, root: int) -> str:
        texts: dict[int, tuple[str, int]] = {}
        for i in range(root + 1):  # post-order: operands come before their node
            kids = self.kids[i]
            parts = [texts.pop(k) for k in kids]
            texts[i] = self._combine(i, [t for t, _ in parts], [p for _, p in parts])
        return texts[root][0]

    def program_text(self, root: int) -> str:
        ref: list[str] = [""] * (root + 1)
        lines = []
        for i in range(root + 1):
            kids = self.kids[i]
            if not kids:
                ref[i] = self.payload[i]
                continue
            text, _ = self._combine(i, [ref[k] for k in kids], [_ATOM] * len(kids))
            if i == root:
                lines.append(text)
            else:
                ref[i] = f"t{len(lines)}"
                lines.append(f"{ref[i]} = {text}")
        return "\n".join(lines) + "\n"


def _nesting(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def generate(ops: int, seed: int = 1, shape: str = "expr", nvars: int = NVARS) -> Formula:
    """A random formula with exactly ``ops`` operations; deterministic for a seed."""
    if shape not in ("expr", "program"):
        raise ValueError(f"shape must be 'expr' or 'program', not {shape!r}")
    g = _Gen(seed, nvars)
    root = g.build(ops)
    text = g.expr_text(root) if shape == "expr" else g.program_text(root)
    n_ops = sum(3 if k == "logsq" else 1 for k in g.kind if k not in ("var", "const"))
    assert n_ops == ops, (n_ops, ops)
    return Formula(text=text, point=dict(g.point), ops=n_ops, value=g.value[root],
                   depth=g.depth[root], nesting=_nesting(text), shape=shape)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=1000, help="operations in the formula (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=("expr", "program"), default="expr")
    ap.add_argument("-o", "--output", help="write the formula here (default: stdout)")
    ap.add_argument("--at-output", help="write the benchmark point (x0=..,x1=..) here")
    ap.add_argument("--stats", action="store_true", help="print sizes and depths as JSON to stderr")
    args = ap.parse_args(argv)
    f = generate(args.ops, args.seed, args.shape)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(f.text)
    elif not args.stats:
        sys.stdout.write(f.text if f.text.endswith("\n") else f.text + "\n")
    if args.at_output:
        with open(args.at_output, "w", encoding="utf-8") as fh:
            fh.write(f.at_spec() + "\n")
    if args.stats:
        print(json.dumps({"ops": f.ops, "shape": f.shape, "chars": len(f.text), "depth": f.depth,
                          "nesting": f.nesting, "value": f.value}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
