"""The rule compiler (calculus/rules.py): one rule per op, compiled, never interpreted.

* every formula of the table compiles for every backend, and uses only its inputs;
* what the math backend emits: Python operators for + - * / and unary minus, ``x*x``
  for ``x^2``, ``math.pow`` (never ``**``) for other powers, a primitive's value as the
  backend function itself, constants folded, shared subexpressions computed once;
* the hand-written rules are named in the table and agree with the formulas they state;
* kinks are one expression for floats and arrays;
* internal primitives are callable in the table's formulas only, never in user formulas;
* compiling is lazy: importing the table compiles nothing and imports no NumPy, and a
  command compiles only the ops it uses.
"""

from __future__ import annotations

import math
import operator
import subprocess
import sys

import numpy as np
import pytest

from autodiff_cli import InputError, evaluate, parse
from autodiff_cli.calculus import backends, rules
from autodiff_cli.calculus.rules import HAND, Rule, RuleError
from autodiff_cli.core.ops import FUNCTIONS, OPS, PRIMITIVES, Op

from .conftest import ROOT
from .test_precision import POINTS

OPERATIONS = [name for name, op in OPS.items() if op.kind != "leaf"]
ALL = {**OPS, **PRIMITIVES}


def _ordinary(name):
    return [tuple(float(a) for a in p) if isinstance(p, tuple) else (float(p),)
            for p in POINTS[name]["ordinary"]]


@pytest.mark.parametrize("backend", sorted(backends.BACKENDS))
def test_every_rule_of_the_table_compiles_for_every_backend(backend):
    for name, op in ALL.items():
        if op.kind == "leaf":
            continue
        for what in ("value", "local", "kink"):
            if what == "kink" and backend in ("cmath", "graph"):
                continue  # kinks are tests on numbers
            fn = rules.compiled(op, what, backend)
            if what == "kink":
                assert (fn is None) == (op.kink_at is None), name
            elif backend == "cmath":
                continue  # None where a primitive has no analytic version (tested elsewhere)
            else:
                assert callable(fn), (name, what, backend)


def test_a_formula_may_use_only_the_op_inputs_and_out():
    bad = Op("bad", 1, "a + b", d=("1",))
    with pytest.raises(RuleError, match="uses 'b'"):
        rules.compile_value(bad, backends.BACKENDS["math"])
    typo = Op("typo", 1, "sin(a)", d=("coss(a)",))
    with pytest.raises(RuleError, match="does not parse"):
        rules.compile_local(typo, backends.BACKENDS["math"])


def test_a_primitive_value_is_the_backend_function_itself():
    """No wrapper in the hot loop: sin's value is math.sin, its array value np.sin."""
    assert OPS["sin"].value is math.sin
    assert OPS["exp"].value is math.exp
    assert OPS["hypot"].value is math.hypot
    assert OPS["pow"].value is math.pow
    assert OPS["sech"].value is backends._sech
    assert rules.compiled(OPS["sin"], "value", "numpy") is np.sin
    assert rules.compiled(OPS["atan2"], "value", "numpy") is np.arctan2
    assert OPS["sin"].cvalue is __import__("cmath").sin
    assert OPS["logsumexp"].value is backends._logsumexp


def test_the_math_backend_emits_operators_and_squares():
    op = Op("cube", 1, "a^3", d=("3*a^2 + 0*sec(a)",))
    backend = backends.BACKENDS["math"]
    value = rules.compile_value(op, backend)
    local = rules.compile_local(op, backend)
    assert value(2.0) == 8.0 and local(2.0, 8.0) == (12.0,)
    src_value = rules.SOURCES["cube value math"]
    src_local = rules.SOURCES["cube local math"]
    assert "_pow(a, 3.0)" in src_value and value.__globals__["_pow"] is math.pow
    assert "(a * a)" in src_local and "3.0 *" in src_local
    assert "_sec(a)" in src_local  # an op whose value is a formula is callable as well
    for src in rules.SOURCES.values():
        assert "**" not in src, src
    # unary minus and the four operators are Python's own
    arith = Op("arith", 2, "-a*b + a/b - a", d=("1", "-1"))
    assert rules.compile_value(arith, backend)(2.0, 4.0) == -8.0 + 0.5 - 2.0
    assert rules.SOURCES["arith value math"] == \
        "def arith_value(a, b):\n    return ((((-a) * b) + (a / b)) - a)\n"
    # a value that is one operator on the inputs is the operator itself
    assert OPS["add"].value is operator.add and OPS["div"].value is operator.truediv
    assert OPS["neg"].value is operator.neg and OPS["mul"].cvalue is operator.mul


def test_constants_are_folded_and_shared_subexpressions_computed_once():
    rules.compiled(OPS["erf"], "local", "math")
    assert rules.SOURCES["erf local math"] == \
        "def erf_local(a, out):\n    return ((1.1283791670955126 * _exp_neg_square(a)),)\n"
    assert 1.1283791670955126 == 2.0 / math.sqrt(math.pi)
    rules.compiled(OPS["logb"], "local", "math")
    src = rules.SOURCES["logb local math"]
    assert src.count("_log(b)") == 1, src
    rules.compiled(OPS["log2"], "local", "math")
    assert repr(math.log(2.0)) in rules.SOURCES["log2 local math"]


def test_hand_written_rules_are_named_in_the_table():
    named = set()
    for op in ALL.values():
        for spec in (op.d, op.kink_at):
            if isinstance(spec, Rule):
                assert spec.name in HAND, (op.name, spec)
                named.add(spec.name)
    assert named == set(HAND)
    assert named == {"div", "pow", "max", "min", "ties", "logsumexp", "hypot", "atan2"}


@pytest.mark.parametrize("name", [n for n in OPERATIONS if isinstance(OPS[n].d, Rule)
                                  and (OPS[n].d.formulas or OPS[n].d.each)])
def test_hand_written_rules_agree_with_the_formulas_they_state(name):
    """At ordinary points a hand-written rule is its stated formula (what the graph
    backend gives for symbolic derivatives)."""
    op = OPS[name]
    r = op.d
    for args in _ordinary(name):
        out = op.value(*args)
        local = op.local(*args, out)
        if r.each:
            want = [evaluate(parse(r.each.replace("out", "o")), {"x": x, "o": out}).value
                    for x in args]
        else:
            want = []
            for f in r.formulas:
                graph = rules.parse_formula(f)
                at = dict(zip("ab", args), out=out)
                try:
                    want.append(evaluate(graph, {v: at[v] for v in graph.variables}).value)
                except Exception:  # noqa: BLE001 - out*log(a) for a negative base
                    want.append(math.nan)
        for k, (got, w) in enumerate(zip(local, want)):
            if math.isnan(w):
                assert not math.isfinite(got), (name, args, k)
            else:
                assert got == pytest.approx(w, rel=1e-13), (name, args, k)


def test_kinks_are_one_expression_for_floats_and_arrays():
    for name, op in OPS.items():
        if isinstance(op.kink_at, str):
            assert rules.compiled(op, "kink", "numpy") is op.kink, name
            a = np.array([0.0, 1.0, -1.0])
            args = [a] * (op.arity or 1)
            got = np.asarray(op.array_kink(np, *args))
            assert got.shape == (3,), name
            assert list(got) == [bool(op.kink(*[float(x[r]) for x in args])) for r in range(3)]
    assert OPS["hypot"].kink(0.0, 0.0) is True and OPS["hypot"].kink(0.0, 1.0) is False
    assert OPS["max"].kink(1.0, 2.0, 1.0) and not OPS["max"].kink(1.0, 2.0, 3.0)


def test_internal_primitives_are_not_user_functions():
    for name in PRIMITIVES:
        assert name not in FUNCTIONS
        with pytest.raises(InputError, match="unknown function"):
            parse(f"{name}({', '.join(['x'] * PRIMITIVES[name].arity)})")
    rules._PARSED.clear()
    rules.parse_formula("div_prod(1, a, b) + sign(a)")  # callable while the table is parsed
    assert not set(PRIMITIVES) & set(FUNCTIONS)  # and only then


def test_a_planted_formula_replaces_the_compiled_rule():
    """op.replace(d=(...)) is how tests plant a wrong rule: the new row is
    compiled afresh, for every backend; the table's own row is untouched."""
    bad = OPS["sin"].replace(d=("2 + 0*a",))
    assert bad.local(0.5, bad.value(0.5)) == (2.0,)
    assert bad.value is math.sin
    assert OPS["sin"].local(0.5, math.sin(0.5)) == (math.cos(0.5),)
    assert bad.array_local(np, np.array([0.5]), np.array([math.sin(0.5)]))[0][0] == 2.0
    with pytest.raises(TypeError):  # the compiled forms are not fields: nothing to plant
        OPS["sin"].replace(local=lambda a, out: (2.0,))
    with pytest.raises(AttributeError):  # a row is read-only
        OPS["sin"].d = ("2 + 0*a",)
    assert OPS["sin"].d == ("cos(a)",) and bad.d == ("2 + 0*a",) and bad.name == "sin"


def test_the_complex_step_is_off_by_itself_for_an_op_over_a_non_analytic_primitive():
    op = Op("softsign", 1, "a/(1 + abs(a))", d=("1/(1 + abs(a))^2",))
    assert rules.compile_value(op, backends.BACKENDS["cmath"]) is None
    assert rules.compile_value(op, backends.BACKENDS["math"])(-1.0) == -0.5


def test_compiling_is_lazy_and_numpy_is_not_imported():
    """Importing the table compiles nothing; a grad compiles only the ops it uses, with
    neither NumPy nor the complex backend."""
    code = (
        "import sys\n"
        "from autodiff_cli.calculus import rules\n"
        "from autodiff_cli.core import ops\n"
        "assert rules.SOURCES == {}, rules.SOURCES\n"
        "from autodiff_cli.__main__ import main\n"
        "sys.argv = ['adiff', 'grad', 'x*y + sin(x)', '--at', 'x=1,y=2', '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "compiled = {op: sorted(c) for op, c in ((n, o.__dict__.get('_compiled', {}))"
        " for n, o in ops.OPS.items()) if c}\n"
        "assert 'numpy' not in sys.modules\n"
        "print(sorted(compiled), file=sys.stderr)\n"
        "rules_of = {op for op, c in compiled.items() if any(w != 'kink' for w, _ in c)}\n"
        "assert rules_of <= {'var', 'const', 'add', 'mul', 'sin'}, compiled\n"
        "assert all(b == 'math' for c in compiled.values() for _, b in c), compiled\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert '"value": 2.8414709848078967' in r.stdout
