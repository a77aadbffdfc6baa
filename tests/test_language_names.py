"""Names that would print like other names are refused: invisible (default-ignorable)
characters in a formula's names and in ``--at`` names, and superscript digits (x² is not
a power here). The error names the character and puts the caret under it."""

from __future__ import annotations

import pytest

from autodiff_cli import InputError, parse
from autodiff_cli.language.bindings import parse_bindings
from autodiff_cli.language.syntax import IGNORABLE, name_regex

R = "\N{REPLACEMENT CHARACTER}"  # how the caret line shows a format character
HINT = "names may not contain invisible characters (two different names would look the same): delete it\n"

#: (the character, its Unicode name, how the caret line shows it)
INVISIBLE = [
    ("\u200d", "ZERO WIDTH JOINER", R),
    ("\u200c", "ZERO WIDTH NON-JOINER", R),
    ("\u034f", "COMBINING GRAPHEME JOINER", "?"),
    ("\u3164", "HANGUL FILLER", "?"),
]
IDS = [name for _, name, _ in INVISIBLE]

#: Default_Ignorable_Code_Point, as listed in Unicode's DerivedCoreProperties.txt
DEFAULT_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                     (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                     (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
                     (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
                     (0xE0000, 0xE0FFF)]


def code(ch):
    return f"\\u{ord(ch):04x}"


@pytest.mark.parametrize("ch, name, shown", INVISIBLE, ids=IDS)
def test_invisible_character_in_a_formula_name(ch, name, shown, run):
    result = run("grad", f"x{ch}y + xy", "--at", "xy=1")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: syntax error at line 1, column 2: invisible character U+{ord(ch):04X} {name} "
        f"in the name 'x{code(ch)}y'\n"
        f"  x{shown}y + xy\n"
        "   ^\n"
        + HINT)


@pytest.mark.parametrize("ch, name, shown", INVISIBLE, ids=IDS)
def test_invisible_character_in_an_assigned_name(ch, name, shown, run):
    result = run("grad", f"a = 2*x\nb{ch}c = a; b{ch}c", "--at", "x=1")
    assert result.code == 2, result
    assert result.stderr == (
        f"Error: syntax error at line 2, column 2: invisible character U+{ord(ch):04X} {name} "
        f"in the name 'b{code(ch)}c'\n"
        f"  b{shown}c = a; b{shown}c\n"
        "   ^\n"
        + HINT)


@pytest.mark.parametrize("ch, name, shown", INVISIBLE, ids=IDS)
def test_invisible_character_in_a_function_name(ch, name, shown, run):
    result = run("grad", f"s{ch}in(x)", "--at", "x=1")
    assert result.code == 2, result
    assert result.stderr.startswith(
        f"Error: syntax error at line 1, column 2: invisible character U+{ord(ch):04X} {name} "
        f"in the name 's{code(ch)}in'\n")


@pytest.mark.parametrize("ch, name, shown", INVISIBLE, ids=IDS)
def test_invisible_character_in_an_at_name(ch, name, shown, run):
    result = run("grad", "xy", "--at", f"a=1, x{ch}y=2")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: --at x{code(ch)}y=2: invisible character U+{ord(ch):04X} {name} "
        f"in the name 'x{code(ch)}y'\n"
        f"  a=1, x{shown}y=2\n"
        "        ^\n"
        + HINT)


def test_a_hangul_filler_alone_is_not_a_name(run):
    result = run("grad", "\u3164 + 1", "--at", "\u3164=1")
    assert result.code == 2, result
    assert result.stderr == (
        "Error: syntax error at line 1, column 1: invisible character U+3164 HANGUL FILLER "
        "in the name '\\u3164'\n"
        "  ? + 1\n"
        "  ^\n"
        + HINT)
    with pytest.raises(InputError, match="invisible character U\\+3164 HANGUL FILLER in the name"):
        parse_bindings(["\u3164=1"])


@pytest.mark.parametrize("lo, hi", DEFAULT_IGNORABLE)
def test_no_default_ignorable_character_is_part_of_a_name(lo, hi):
    for cp in range(lo, hi + 1):
        ch = chr(cp)
        assert IGNORABLE.fullmatch(ch), hex(cp)
        for text in (ch, "a" + ch, "a" + ch + "b"):
            assert name_regex().fullmatch(text) is None, hex(cp)
            with pytest.raises(InputError):
                parse(f"{text} + 1")
            with pytest.raises(InputError):
                parse_bindings([f"{text}=1"])


def test_the_library_error_points_at_the_character():
    with pytest.raises(InputError) as info:
        parse("theta + the\u200dta")
    assert info.value.span == (11, 12)
    with pytest.raises(InputError) as info:
        parse_bindings(["x=1,th\u034feta=2"])
    assert info.value.span == (6, 7)


def test_names_without_invisible_characters_still_work(run):
    # Combining marks, Indic and Hebrew points are parts of names, as before.
    for name in ("x\u0302", "नमस्ते", "שָׁלוֹם", "é", "x_1", "θ1"):
        result = run("grad", f"{name} * 2", "--at", f"{name}=1", "--format", "plain")
        assert result.code == 0, (name, result)
        assert result.stdout == f"value\t2.0\n{name}\t2.0\n"


def test_a_stray_format_character_outside_a_name_is_still_an_unexpected_character(run):
    result = run("grad", "x\u200d + 1", "--at", "x=1")
    assert result.stderr == (f"Error: syntax error at line 1, column 2: unexpected character U+200D\n"
                             f"  x{R} + 1\n"
                             "   ^\n")


# ------------------------------------------------------------------ superscripts


@pytest.mark.parametrize("formula, column, char, hint", [
    ("x²", 2, "²", "write x^2"),
    ("x³ + 1", 2, "³", "write x^3"),
    ("2¹⁰", 2, "¹", "write 2^10"),
    ("x⁻¹", 2, "⁻", "write x^-1"),
    ("(x+1)²", 6, "²", "write (x+1)^2"),
    ("sin(x)²", 7, "²", "write sin(x)^2"),
    ("x ²", 3, "²", "write the exponent after ^, as in x^2"),
])
def test_superscripts_are_not_powers(formula, column, char, hint, run):
    result = run("grad", formula, "--at", "x=2")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: syntax error at line 1, column {column}: unexpected character {char!r}\n"
        f"  {formula}\n"
        f"  {' ' * (column - 1)}^\n"
        f"superscripts are not powers here: {hint}\n")


def test_a_superscript_is_not_part_of_an_at_name(run):
    result = run("grad", "x", "--at", "x=1,x²=2")
    assert result.code == 2, result
    assert result.stderr == "Error: --at x²=2: 'x²' is not a variable name\n"


def test_subscripts_are_still_part_of_names(run):
    result = run("grad", "x₁ * 3", "--at", "x₁=1", "--format", "plain")
    assert result.code == 0, result
    assert result.stdout == "value\t3.0\nx₁\t3.0\n"


def test_invisible_letters_are_visible_in_the_caret_line():
    # the Hangul fillers are letters (category Lo): the caret line must still show them
    from autodiff_cli.errors import caret_block

    for ch, shown in (("\u115f", "?"), ("\u1160", "\N{REPLACEMENT CHARACTER}"),
                      ("\u3164", "?"), ("\uffa0", "\N{REPLACEMENT CHARACTER}")):
        line, carets = caret_block(f"x{ch}y + 1", 1, 2)
        assert line == f"  x{shown}y + 1" and carets == "   ^"
