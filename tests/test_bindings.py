"""``--at name=value,...``: repeats, duplicates, malformed bindings, finite values only."""

from __future__ import annotations

import math

import pytest

from autodiff_cli import InputError
from autodiff_cli.language.bindings import parse_bindings


def plain(run, formula, *specs):
    args = ["grad", formula, "--format", "plain"]
    for spec in specs:
        args += ["--at", spec]
    return run(*args)


def values(stdout: str) -> dict[str, float]:
    return {name: float(v) for name, v in (line.split("\t") for line in stdout.splitlines())}


# ------------------------------------------------------------ good bindings


@pytest.mark.parametrize("specs, expected", [
    (["x=1,y=2"], {"x": 1.0, "y": 2.0}),
    (["x=1", "y=2"], {"x": 1.0, "y": 2.0}),
    (["x=1,y=2", "z=3"], {"x": 1.0, "y": 2.0, "z": 3.0}),
    (["x=-1.5"], {"x": -1.5}),
    (["x=+1.5"], {"x": 1.5}),
    (["x=2e-3"], {"x": 2e-3}),
    (["x=2.5E+10"], {"x": 2.5e10}),
    (["x=.5"], {"x": 0.5}),
    (["x=5."], {"x": 5.0}),
    (["x=0"], {"x": 0.0}),
    (["x=-0"], {"x": 0.0}),
    (["x=1e-999"], {"x": 0.0}),
    (["x=pi"], {"x": math.pi}),
    (["x=-pi"], {"x": -math.pi}),
    (["x=e"], {"x": math.e}),
    (["x=-e"], {"x": -math.e}),
    ([" x = 1 "], {"x": 1.0}),
    (["x=1,"], {"x": 1.0}),
    (["x=1,,y=2"], {"x": 1.0, "y": 2.0}),
    (["θ1=0.25,x_1=3"], {"θ1": 0.25, "x_1": 3.0}),
])
def test_parse_bindings(specs, expected):
    got = parse_bindings(specs)
    assert got == expected
    assert list(got) == list(expected)  # order as written
    assert all(type(v) is float for v in got.values())


def test_minus_zero_keeps_its_sign():
    assert math.copysign(1.0, parse_bindings(["x=-0"])["x"]) == -1.0


def test_repeated_at_through_the_cli(run):
    result = plain(run, "x*y + z", "x=2", "y=3,z=4")
    assert result.code == 0, result
    assert result.stdout == "value\t10.0\nx\t3.0\ny\t2.0\nz\t1.0\n"
    assert result.stderr == ""


def test_pi_and_e_as_values_through_the_cli(run):
    result = plain(run, "x + y", "x=pi,y=-e")
    assert result.code == 0, result
    assert values(result.stdout)["value"] == math.pi - math.e


def test_at_may_come_before_the_formula(run):
    result = run("grad", "--at", "x=3", "x^2", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == "value\t9.0\nx\t6.0\n"


# ------------------------------------------------------------ bad bindings

ERRORS = [
    # (the --at options, the exact stderr)
    (["x=1", "x=2"], "Error: --at: x is bound twice\n"),
    (["x=1,x=2"], "Error: --at: x is bound twice\n"),
    (["x=1,y=2", "y=3"], "Error: --at: y is bound twice\n"),
    (["\u2126=1", "\u03a9=2"], "Error: --at: \u03a9 is bound twice\n"),  # OHM SIGN == OMEGA after NFC
    (["x="], "Error: --at x=: no value for x\n"),
    (["x= "], "Error: --at x=: no value for x\n"),
    (["x"], "Error: --at x: expected name=value, e.g. x=1\n"),
    (["=1"], "Error: --at =1: '' is not a variable name\n"),
    (["1x=1"], "Error: --at 1x=1: '1x' is not a variable name\n"),
    (["x y=1"], "Error: --at x y=1: 'x y' is not a variable name\n"),
    ([""], "Error: --at needs name=value pairs, e.g. --at x=1,y=2\n"),
    (["x==1"], "Error: --at x==1: '=1' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=1=2"], "Error: --at x=1=2: '1=2' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=1;y=2"], "Error: --at x=1;y=2: '1;y=2' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=abc"], "Error: --at x=abc: 'abc' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=PI"], "Error: --at x=PI: 'PI' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=2*pi"], "Error: --at x=2*pi: '2*pi' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=1/2"], "Error: --at x=1/2: '1/2' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=--1"], "Error: --at x=--1: '--1' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=1 2"], "Error: --at x=1 2: '1 2' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=0x10"], "Error: --at x=0x10: '0x10' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    # float() accepts all of these; --at must not.
    (["x=1_000"], "Error: --at x=1_000: '1_000' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=١٢"], "Error: --at x=١٢: '١٢' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=１"], "Error: --at x=１: '１' is not a number (write e.g. 1.5, -2e-3 or pi)\n"),
    (["x=nan"], "Error: --at x=nan: values must be finite numbers\n"),
    (["x=NaN"], "Error: --at x=NaN: values must be finite numbers\n"),
    (["x=inf"], "Error: --at x=inf: values must be finite numbers\n"),
    (["x=-inf"], "Error: --at x=-inf: values must be finite numbers\n"),
    (["x=Infinity"], "Error: --at x=Infinity: values must be finite numbers\n"),
    (["x=1e999"], "Error: --at x=1e999: 1e999 is too large for a double-precision float\n"),
    (["x=-1e999"], "Error: --at x=-1e999: 1e999 is too large for a double-precision float\n"),
    (["sin=1"], "Error: --at sin=1: sin is a function, not a variable\n"),
    (["e=1"], "Error: --at e=1: e is a constant and cannot be bound\n"
              "to use another value, assign it in the formula: \"e = ...; ...\" or rename the variable\n"),
    (["pi=3"], "Error: --at pi=3: pi is a constant and cannot be bound\n"
               "to use another value, assign it in the formula: \"pi = ...; ...\" or rename the variable\n"),
]


@pytest.mark.parametrize("specs, expected", ERRORS, ids=[" ".join(s) or "empty" for s, _ in ERRORS])
def test_bad_binding_is_exit_2_naming_it(specs, expected, run):
    result = plain(run, "x", *specs)
    assert result.code == 2, result
    assert result.stdout == ""
    assert result.stderr == expected


@pytest.mark.parametrize("specs", [s for s, _ in ERRORS], ids=[" ".join(s) or "empty" for s, _ in ERRORS])
def test_bad_binding_raises_input_error_in_the_library(specs):
    with pytest.raises(InputError) as info:
        parse_bindings(specs)
    assert info.value.exit_code == 2


def test_binding_e_is_an_error_even_when_the_program_assigns_e(run):
    # The program's own `e` is not an input, so --at cannot set it.
    result = plain(run, "e = c - d; e*2", "c=1,d=2,e=1")
    assert result.code == 2, result
    assert result.stderr.startswith("Error: --at e=1: e is a constant and cannot be bound\n")


def test_a_program_that_assigns_e_runs(run):
    result = plain(run, "e = c - d; e*2", "c=5,d=1")
    assert result.code == 0, result
    assert result.stdout == "value\t8.0\nc\t2.0\nd\t-2.0\n"


# ------------------------------------------------------------ unused bindings


def test_unused_binding_is_a_warning(run):
    result = plain(run, "x^2", "x=3,y=2")
    assert result.code == 0, result
    assert result.stdout == "value\t9.0\nx\t6.0\n"
    assert result.stderr == "Warning: --at binds y, which the formula does not use\n"


def test_several_unused_bindings_are_listed_in_one_warning(run):
    result = plain(run, "x", "x=1,b=2,a=3")
    assert result.code == 0, result
    assert result.stderr == "Warning: --at binds b, a, which the formula does not use\n"


def test_many_unused_bindings_are_summarised(run):
    spec = ",".join(f"u{k}=1" for k in range(25))
    result = plain(run, "x", "x=1", spec)
    assert result.code == 0, result
    names = ", ".join(f"u{k}" for k in range(10))
    assert result.stderr == f"Warning: --at binds {names} and 15 more, which the formula does not use\n"


def test_binding_a_name_only_assigned_in_the_program_is_unused(run):
    result = plain(run, "z = 2*x; z", "x=1,z=5")
    assert result.code == 0, result
    assert result.stdout == "value\t2.0\nx\t2.0\n"
    assert result.stderr == "Warning: --at binds z, which the formula does not use\n"


def test_unused_binding_warning_in_json_mode_keeps_stdout_clean(run):
    result = run("grad", "x", "--at", "x=1,y=2", "--format", "json")
    assert result.code == 0, result
    assert result.json()["at"] == {"x": 1.0}
    assert result.stderr == "Warning: --at binds y, which the formula does not use\n"


def test_a_formula_without_variables_needs_no_at(run):
    result = run("grad", "2*pi", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == f"value\t{2 * math.pi!r}\n"
