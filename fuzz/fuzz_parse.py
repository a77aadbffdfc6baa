"""atheris fuzz target over adiff's parse + evaluate entry points.

The input bytes are a formula file as a user would give it: they are decoded
the way ``adiff -f`` decodes a file, parsed, printed back with the canonical
printer and re-parsed, and evaluated (forward and reverse pass) at a fixed
point chosen from the input. The only exceptions allowed out of the library
are adiff's own ``InputError`` (bad input, exit 2) and ``EvalError`` (a value
outside a domain, exit 3); anything else -- a RecursionError, an
OverflowError, a lark exception, a wrong round trip or a non-finite number
that was not reported -- is a crash that libFuzzer reports and saves.

Run (see fuzz/README.md)::

    python fuzz/fuzz_parse.py fuzz/corpus-work fuzz/corpus -dict=fuzz/adiff.dict -max_total_time=600

Without atheris the module still imports, so tests/test_hostile.py replays the seeds through
``TestOneInput``.
"""

from __future__ import annotations

import contextlib
import math
import sys

try:
    import atheris
except ImportError:  # the tests import this module to replay the corpus without atheris
    atheris = None

with atheris.instrument_imports() if atheris else contextlib.nullcontext():
    import lark  # noqa: F401  (instrumented too: the lexer and LALR loop are the parser)

    from autodiff_cli.calculus.engine import evaluate
    from autodiff_cli.errors import EvalError, InputError
    from autodiff_cli.files import decode_utf8 as _read_bytes
    from autodiff_cli.language.parser import parse
    from autodiff_cli.language.printer import node_text, to_source

#: Values given to the variables, in order of first appearance, rotated by a
#: byte of the input so the same formula is also tried at other points.
POINTS = (0.5, -1.5, 2.0, 0.0, 1e-3, 3.0, -0.25, 10.0, 1.0, -1.0, 1e300, -1e-300, 700.0)

#: Keep single runs fast: the parser is linear, so long inputs only slow the fuzzer down.
MAX_SIZE = 4096


def _same_shape(g1, g2) -> bool:
    """The same graph up to numbering: ops, inputs, variable names and constants (iterative)."""
    if len(g1) != len(g2):
        return False
    match: dict[int, int] = {}
    stack = [(g1.output, g2.output)]
    while stack:
        a, b = stack.pop()
        if a in match:
            if match[a] != b:
                return False
            continue
        match[a] = b
        if g1.ops[a] is not g2.ops[b] or len(g1.inputs[a]) != len(g2.inputs[b]):
            return False
        if g1.ops[a].name == "var" and g1.labels[a] != g2.labels[b]:
            return False
        if g1.ops[a].name == "const" and not _same_float(g1.consts[a], g2.consts[b]):
            return False
        stack.extend(zip(g1.inputs[a], g2.inputs[b]))
    return len(match) == len(g1) and len(set(match.values())) == len(g1)


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def TestOneInput(data: bytes) -> None:
    try:
        source = _read_bytes(data, "fuzz input")
    except InputError as err:
        err.render()
        return
    try:
        graph = parse(source, max_size=MAX_SIZE, warnings=[])
    except InputError as err:
        assert err.render().startswith("Error: ")
        return

    # The canonical printer: its text parses back to the same graph, and is a fixpoint.
    text = to_source(graph)
    again = parse(text)
    if not _same_shape(graph, again):
        raise AssertionError(f"round trip changed the graph:\n{source!r}\n->\n{text!r}")
    if to_source(again) != text:
        raise AssertionError(f"printing is not a fixpoint: {text!r}")
    for i in range(len(graph)):
        node_text(graph, i)

    shift = data[0] if data else 0
    at = {name: POINTS[(k + shift) % len(POINTS)] for k, name in enumerate(graph.variables)}
    try:
        ev = evaluate(graph, at)
    except EvalError as err:
        assert err.render().startswith("Error: ")
        return
    # The engine reports every non-finite value or gradient as an EvalError.
    assert math.isfinite(ev.value), (source, at, ev.value)
    for name, g in ev.gradient.items():
        assert math.isfinite(g), (source, at, name, g)
    # The reprinted graph computes the same value, bit for bit (every node computes the same
    # op of the same inputs). Its nodes may come in another order (a value assigned once is
    # inlined where it is used), so the contributions to a gradient may be summed in another
    # order: gradients agree to rounding, bounded by n·eps·(the sum of |contributions|).
    ev2 = evaluate(again, at)
    assert ev2.value == ev.value, (source, ev.value, ev2.value)
    bound = _rounding_bound(ev)
    for name, g in ev.gradient.items():
        assert abs(ev2.gradient[name] - g) <= bound[name], (source, name, g, ev2.gradient[name])


def _rounding_bound(ev) -> dict[str, float]:
    """Per input: 4·n·eps·Σ over paths of |upstream × local|, the scale of its rounding error."""
    graph = ev.graph
    scale = [0.0] * len(graph)
    scale[graph.output] = 1.0
    for i in range(graph.output, -1, -1):
        for j, lg in zip(graph.inputs[i], ev.local[i]):
            scale[j] += scale[i] * abs(lg)
    eps = sys.float_info.epsilon
    return {name: 4.0 * len(graph) * eps * scale[i] for name, i in graph.variables.items()}


def main() -> None:
    if atheris is None:
        sys.exit("fuzz_parse.py needs atheris: pip install atheris")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
