"""adiff graph: the computational graph, drawn.

A tree in the terminal, Graphviz DOT, Mermaid or JSON (``documents.graph``,
``render.graph``); with ``--at`` every node carries its value and the gradient
of the output (of each output, for a program with several: one backward pass per
output). ``-o FILE`` writes a file (atomically), drawing .svg, .png and .pdf with
Graphviz's dot.
"""

from __future__ import annotations

import os

import click

from autodiff_cli.cli.messages import note, warn
from autodiff_cli.cli.options import FormulaCommand, expand_option, formula_options, outputs_option
from autodiff_cli.cli.problem import Problem, evaluate, warn_kinks
from autodiff_cli.errors import InputError, escape_controls
from autodiff_cli.render import emit

GRAPH_FORMATS = ("tree", "dot", "mermaid", "json")
#: Files ``-o`` draws with Graphviz; other suffixes get the text of a format.
PICTURES = ("svg", "png", "pdf")
_FORMAT_OF_SUFFIX = {"dot": "dot", "gv": "dot", "mmd": "mermaid", "mermaid": "mermaid",
                     "json": "json", "txt": "tree"}
KNOWN_SUFFIXES = (".svg, .png, .pdf (a picture drawn by Graphviz's dot), .dot or .gv (DOT), "
                  ".mmd or .mermaid (Mermaid), .json, .txt (the tree)")
#: Seconds ``dot`` may take for ``-o picture`` before it is stopped (--dot-timeout).
DOT_TIMEOUT = 60.0
#: Above this many nodes, ``-o picture`` says first that dot may take a while.
DOT_BIG = 2_000
_SUFFIX_OF_FORMAT = {"dot": "dot", "mermaid": "mmd", "json": "json", "tree": "txt"}


def _target(path: str):
    """A writer for ``-o path``: atomic (a temporary file beside it, renamed when complete),
    except for an existing device or pipe (/dev/stdout, a FIFO), which is written in place."""
    import contextlib
    import stat

    try:
        special = not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path)
    except (OSError, ValueError):
        special = False
    if special:
        return contextlib.closing(open(path, "wb"))
    from autodiff_cli.files import atomic_write

    return atomic_write(path, "wb")


def _cannot_write(path: str, exc: OSError) -> InputError:
    return InputError(f"cannot write {escape_controls(path)}: {exc.strerror or exc}")


def _draw(text: str, path: str, suffix: str, timeout: float, nodes: int) -> None:
    """Run Graphviz's dot to write a picture; exit 2 when it is not installed or fails.

    dot writes to its stdout, which is the temporary file beside ``path``: the
    path never reaches dot's command line (a path like "-x.svg" is no option),
    and ``path`` is replaced only by a complete picture.
    """
    import shutil
    import subprocess

    shown = escape_controls(path)
    program = shutil.which("dot")
    if program is None:
        raise InputError(
            f"cannot write {shown}: a .{suffix} picture is drawn by Graphviz's `dot` program, "
            "which is not installed",
            hint="install Graphviz (apt install graphviz, dnf install graphviz, "
                 "brew install graphviz, or https://graphviz.org/download/), or write the DOT "
                 "text instead: --format dot -o graph.dot")
    if nodes > DOT_BIG:
        note(f"drawing {nodes:,} nodes with Graphviz's dot may take a while "
             f"(it is stopped after {timeout:g} s; --dot-timeout changes that)")
    try:
        with _target(path) as fh:
            try:
                done = subprocess.run([program, f"-T{suffix}"], input=text.encode("utf-8"),
                                      stdout=fh, stderr=subprocess.PIPE, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise InputError(f"cannot write {shown}: dot did not finish within {timeout:g} s",
                                 hint="raise the limit with --dot-timeout SECONDS, or write the "
                                      "DOT text (--format dot -o graph.dot) and draw it "
                                      "yourself") from None
            except (OSError, subprocess.SubprocessError) as exc:
                raise InputError(f"cannot write {shown}: running dot failed ({exc})") from None
            message = done.stderr.decode("utf-8", "replace").strip()
            if done.returncode != 0:
                raise InputError(f"cannot write {shown}: dot exited with status {done.returncode}"
                                 + (f": {message}" if message else ""))
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    for line in message.splitlines():
        warn(f"dot: {line}")


def _write(path: str, fmt: str, doc: dict, depth: int) -> None:
    import io

    from autodiff_cli.render import graph as render

    try:
        with _target(path) as raw:
            fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            try:
                if fmt == "json":
                    from autodiff_cli.render.json_doc import write

                    write(doc, out=fh)
                elif fmt == "tree":
                    render.tree(doc, depth=depth, file=fh)
                else:
                    lines = render.dot_lines(doc) if fmt == "dot" else render.mermaid_lines(doc)
                    for line in lines:
                        fh.write(line + "\n")
                fh.flush()
            finally:
                fh.detach()
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _output_kind(output: str, fmt: str, explicit: bool) -> tuple[str, str]:
    """("picture", suffix) or ("text", format) for ``-o output``; unknown suffixes are errors."""
    suffix = os.path.splitext(output)[1][1:].lower()
    shown = escape_controls(output)
    if suffix in PICTURES:
        if explicit and fmt != "dot":
            raise InputError(f"-o {shown}: a .{suffix} file is drawn by Graphviz from DOT, "
                             f"so it cannot hold --format {fmt}",
                             hint="drop --format, or write a text file (e.g. -o graph."
                                  f"{_SUFFIX_OF_FORMAT[fmt]})")
        return "picture", suffix
    if explicit:
        return "text", fmt
    if suffix not in _FORMAT_OF_SUFFIX:
        what = f"a .{escape_controls(suffix)} file" if suffix else "a file without a suffix"
        raise InputError(f"-o {shown}: adiff cannot write {what}",
                         hint="the suffix says what to write: " + KNOWN_SUFFIXES
                              + "; or name the format with --format")
    return "text", _FORMAT_OF_SUFFIX[suffix]


@click.command(cls=FormulaCommand)
@formula_options(formats=GRAPH_FORMATS, default="tree")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write to FILE instead of stdout; .svg, .png and .pdf are drawn with "
                   "Graphviz's dot (the format follows the suffix: .dot, .gv, .mmd, .json, "
                   ".txt for the tree).")
@click.option("--dot-timeout", "dot_timeout", type=click.FloatRange(0, min_open=True),
              default=DOT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="With -o picture: stop Graphviz's dot after this long.")
@expand_option()
@click.option("--depth", type=click.IntRange(1), metavar="N",
              help="Tree levels shown below the output; deeper ones are folded "
                   "(default: as many as fit the width, 20 at 120 columns).")
@outputs_option()
@click.pass_context
def graph(ctx, expr, file, at, fmt, max_size, output, dot_timeout, expand, depth, outputs):
    """The computational graph of EXPR: nodes are ops, edges are values.

    With --at, every node carries its value and the gradient of the output
    (grad = ∂f/∂node), and every edge its local gradient (∂node/∂input).
    The tree starts at the output; a value used by several nodes has its
    inputs shown once. DOT reads left to right, inputs to output. A program
    with several outputs (r, theta) is drawn with all of them: one tree per
    output, each node with the gradient of each output.

    \b
      adiff graph "x*y + sin(x)"
      adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2
      adiff graph "-log(sigmoid(z))" --at z=1 --expand --format mermaid
      adiff graph -f samples/lecture.adiff --at θ0=1,θ1=1,x1=1,θ2=2,x2=2 -o lecture.svg
    """
    from click.core import ParameterSource

    kind = None
    if output is not None:
        explicit = ctx.get_parameter_source("fmt") not in (ParameterSource.DEFAULT, None)
        kind, what = _output_kind(output, fmt, explicit)
    from autodiff_cli.documents.graph import graph_document

    problem = Problem(expr, file, at, max_size, expand=expand, outputs="several", select=outputs)
    g = problem.graph
    ev = None
    if at and g.several:
        from autodiff_cli.calculus.jacobian import jacobian

        ev = jacobian(g, problem.at, mode="reverse", keep=True)
        warn_kinks(g, ev)
    elif at:
        ev = evaluate(problem)
    doc = graph_document(g, ev, expand)
    if output is None:
        emit("graph", doc, fmt, depth=depth)
    elif kind == "picture":
        from autodiff_cli.render.graph import dot_text

        _draw(dot_text(doc), output, what, dot_timeout, len(g))
    else:
        _write(output, what, doc, depth)
    return 0
