"""adiff check: reverse mode against finite differences, with an exit code CI can trust.

Glue only: options -> ``Problem`` -> cases (``check/cases.py``) -> checks
(``check/numeric.py``) -> one document (``documents.check``) -> ``render/check.py``.
Exit 0 when every gradient agrees, 1 when any does not (or is at a kink,
without --allow-kinks), 2 for bad input, 3 for an evaluation error at a given
point. With --data, the gradient of the loss summed over a data file's rows is
checked against finite differences of that sum.

Points are checked one at a time and their documents are not kept: JSON
streams them to stdout as they come (the summary fields follow the "cases"
array), plain output gets them as a stream too, and a table keeps only what
it shows (``documents.check.Keeper``). Memory does not grow with --samples.
"""

from __future__ import annotations

import itertools
import math

import click

from autodiff_cli.check.numeric import EVALUATIONS, METHODS, TOLERANCES, Settings
from autodiff_cli.cli.messages import note, warn
from autodiff_cli.cli.options import FormulaCommand, data_options, data_settings, formula_options, wrt_option
from autodiff_cli.cli.problem import Problem, pass_over
from autodiff_cli.documents import check as documents
from autodiff_cli.errors import AdiffError, EvalError, InputError, escape_controls
from autodiff_cli.render import emit

#: Above this many node evaluations a run states its cost on stderr first
#: (~0.1-0.3 µs each here: a million is a fraction of a second).
COST_NOTE = 1_000_000
#: The methods --data can use (the complex step needs complex versions of whole columns).
DATA_METHODS = ("central", "forward", "backward", "richardson")


def _float(name):
    def convert(ctx, param, value):
        if value is None:
            return None
        import math

        if not math.isfinite(value) or value < 0 or (name == "--step" and value == 0):
            raise click.BadParameter(f"{value:g} is not allowed: it must be a finite number "
                                     f"{'> 0' if name == '--step' else '>= 0'}")
        return value
    return convert


@click.command(cls=FormulaCommand)
@formula_options
@wrt_option("Check these inputs only.")
@click.option("--method", type=click.Choice(METHODS), default="central", show_default=True,
              help="Finite-difference method.")
@click.option("--step", type=float, callback=_float("--step"), metavar="H",
              help="Step for every input (default: scaled to |x|, per method).")
@click.option("--rtol", type=float, callback=_float("--rtol"),
              help="Relative tolerance (default per method: "
                   + ", ".join(f"{m} {r:g}" for m, (r, _) in TOLERANCES.items()) + ").")
@click.option("--atol", type=float, callback=_float("--atol"),
              help="Absolute tolerance (default per method: "
                   + ", ".join(f"{m} {a:g}" for m, (_, a) in TOLERANCES.items()) + ").")
@click.option("--samples", type=click.IntRange(1), metavar="N",
              help="Check at N random points instead of (or around) --at (at most 1,000,000).")
@click.option("--seed", type=int, default=None, metavar="S",
              help="Seed of the random points (default 0: the same points every run).")
@click.option("--range", "ranges", multiple=True, metavar="NAME=LO:HI,...",
              help="Interval of each sampled input (default -1:1), e.g. --range x=-1:1,y=0.1:5.")
@click.option("--order", type=click.IntRange(1, 2), default=None, metavar="1|2",
              help="1: gradients (the default); 2: second derivatives, the exact Hessian "
                   "against finite differences of the reverse-mode gradient.")
@click.option("--expect", "expects", multiple=True, metavar="NAME=EXPR",
              help="A hand-written partial derivative to check, one input each (repeatable); "
                   "with --order 2, NAME,NAME=EXPR (a second derivative).")
@click.option("--allow-kinks", is_flag=True,
              help="Do not fail at a point where an op sits on its kink (abs(0), a max tie).")
@click.option("--per-node", "per_node", is_flag=True,
              help="Also check the gradient of every intermediate node, to pin a wrong rule.")
@click.option("--nodes", "old_nodes", is_flag=True, hidden=True)
@click.option("--spec", "spec", metavar="PATH", help="Run the cases of a TOML spec file.")
@click.option("--allow-any-path", is_flag=True,
              help="Let a spec's file = \"...\" read outside the spec's directory.")
@click.option("--junit", "junit_path", metavar="PATH", help="Also write a JUnit XML report.")
@data_options
def check(expr, file, at, fmt, max_size, wrt, method, step, rtol, atol, samples, seed, ranges,
          order, expects, allow_kinks, per_node, old_nodes, spec, allow_any_path, junit_path, data,
          reduce, delimiter, chunk_size):
    """Check reverse-mode gradients against finite differences.

    Exit 0 when every gradient agrees, 1 when any does not (or an op sits on
    its kink, unless --allow-kinks), 2 for bad input, 3 for an evaluation
    error. A gradient agrees when |ad - fd| <= atol + rtol·|fd|; a failed
    comparison is re-examined with Richardson extrapolation (and the complex
    step) before it is called a mismatch.

    \b
      adiff check "x*y + sin(x)" --at x=1,y=2
      adiff check "sigmoid(x)" --samples 100 --range x=-5:5 --expect x="sigmoid(x)*(1-sigmoid(x))"
      adiff check --spec samples/grads.toml --junit report.xml
      adiff check -f samples/logistic_program.adiff --data samples/logistic.csv --at t0=0,t1=0,t2=0

    With --data FILE, the gradient of the loss summed over the rows of FILE
    (see adiff grad --help) is checked against finite differences of that sum.

    With --order 2, the second derivatives are checked instead: each entry
    x,x, x,y, y,y, ... of the exact Hessian (see adiff hessian --help)
    against finite differences of the reverse-mode gradient, with the same
    rule, statuses and exit codes; --expect x,y=EXPR checks a hand-written
    second derivative.

    \b
      adiff check "x^2*y" --at x=1,y=2 --order 2 --expect x,y="2*x"
    """
    if old_nodes:
        note("adiff check --nodes is now --per-node (in adiff grad, --nodes says which node "
             "rows to show)")
        per_node = True
    report = JUnit(junit_path, "adiff check" if spec is None else spec)
    run = Run(fmt)
    try:
        return _check(run, expr, file, at, fmt, max_size, wrt, method, step, rtol, atol, samples,
                      seed, ranges, order, expects, allow_kinks, per_node, spec, allow_any_path,
                      report, data, reduce, delimiter, chunk_size)
    except AdiffError as exc:
        # A run that stopped on bad input or an evaluation error still leaves a
        # report: the cases that finished, and the error as a testcase.
        if report.pending and not any(r.error is exc for r in run.results):
            run.results.append(run.failed(exc, name=report.suite))
        report.write_quietly(run.results)
        raise
    except KeyboardInterrupt:
        report.write_quietly(run.results, interrupted=True)
        raise


def _check(run, expr, file, at, fmt, max_size, wrt, method, step, rtol, atol, samples, seed,
           ranges, order, expects, allow_kinks, per_node, spec, allow_any_path, report, data,
           reduce, delimiter, chunk_size):
    from autodiff_cli.check.cases import (
        COMPLEX_ORDER2,
        Case,
        CaseRun,
        check_samples,
        parse_expect,
        parse_ranges,
    )
    from autodiff_cli.documents.check import check_document
    from autodiff_cli.render.progress import PointProgress

    settings = Settings(method, rtol, atol, step)
    loaded = data_settings(data, reduce, delimiter, chunk_size)
    if samples is not None:
        check_samples(samples)
    if order == 2:
        if method == "complex":
            raise InputError("--method complex is not available with --order 2",
                             hint=COMPLEX_ORDER2)
        if per_node:
            raise InputError("--per-node checks first derivatives node by node; it cannot be "
                             "combined with --order 2")
        if loaded is not None:
            raise InputError("--order 2 cannot be combined with --data",
                             hint="check the second derivatives of one row's formula at points "
                                  "(--at, --samples)")
    if loaded is not None:
        others = [name for name, v in (("--spec", spec), ("--samples", samples), ("--seed", seed),
                                       ("--range", ranges), ("--expect", expects),
                                       ("--per-node", per_node),
                                       ("--allow-any-path", allow_any_path)) if v]
        if others:
            raise InputError(f"{others[0]} cannot be combined with --data")
        report.suite = "adiff check --data"
        return _check_data(run, expr, file, at, fmt, max_size, wrt, settings, allow_kinks, loaded,
                           report)
    if spec is not None:
        if expr is not None or file is not None or at or expects or ranges or wrt:
            raise InputError("--spec runs the cases of a file: give EXPR, -f, --at, --wrt, "
                             "--range and --expect in the file, not on the command line")
        return _run_spec(run, spec, fmt, max_size, settings, samples, seed, allow_kinks, per_node,
                         allow_any_path, report, order)
    if allow_any_path:
        raise InputError("--allow-any-path is for the file = \"...\" entries of a --spec file")
    if ranges and samples is None:
        raise InputError("--range needs --samples N")
    if seed is not None and samples is None:
        raise InputError("--seed needs --samples N")
    problem = Problem(expr, file, at, max_size, warn_unused=False)
    order = order or 1
    case = Case(source=problem.source, points=[problem.at], samples=samples,
                seed=0 if seed is None else seed, ranges=parse_ranges(ranges),
                expect=parse_expect(expects, order), wrt=None if wrt is None else problem.wrt(wrt),
                settings=settings, allow_kinks=allow_kinks, nodes=per_node, max_size=max_size,
                order=order)
    progress = PointProgress(case.samples or 1)
    try:
        case_run = CaseRun(case, progress, warn, graph=problem.graph)
        problem.warn_unused(case_run.result.used)
        _note_cost(case_run, settings.method, order=order)
        doc = check_document(settings, single=True, case=case)
        run.emit(doc, run.single(case_run), report, progress)
    finally:
        progress.close()
    _warn_outcome(doc)
    return 0 if doc["ok"] else 1


def _check_data(run, expr, file, at, fmt, max_size, wrt, settings, allow_kinks: bool,
                loaded: dict, report) -> int:
    """adiff check --data: the summed gradient against finite differences of the summed loss."""
    from autodiff_cli.check.cases import Case, CaseResult, judge_point
    from autodiff_cli.data.batch import check_gradient
    from autodiff_cli.documents.check import check_document, point_document
    from autodiff_cli.documents.shared import data_entry, engine_entry

    if settings.method not in DATA_METHODS:
        raise InputError(f"--method {settings.method} is not available with --data: the "
                         "complex step needs complex versions of whole columns",
                         hint=f"use one of {', '.join(DATA_METHODS)}")
    problem = Problem(expr, file, at, max_size)
    setup = problem.setup(loaded, None if wrt is None else problem.wrt(wrt))
    setup.data.keep = math.inf
    totals = pass_over(setup, noise=True)
    estimates = check_gradient(setup, totals, setup.wrt, settings)
    case = Case(source=problem.source, allow_kinks=allow_kinks, settings=settings)
    point = judge_point(case, totals.at, totals.value, estimates, {}, totals.kinks,
                        kink_rows=totals.kink_rows)
    result = CaseResult(case)
    result.add(point)
    run.results.append(result)
    run.tally.add(point)
    doc = check_document(settings, single=True, case=case)
    doc.update(cases=[point_document(case, setup.graph, point)], **run.late())
    doc.done = True
    doc["data"] = data_entry(totals)
    doc.update(engine_entry(totals))
    report.write(run.results)
    emit("check", doc, fmt)
    return 0 if doc["ok"] else 1


def _note_cost(case_run, method: str, where: str = "", order: int = 1) -> None:
    """State the cost of the finite differences up front, when it is large."""
    points, inputs, per_input = case_run.cost()
    evaluations = EVALUATIONS[method]
    total = round(points * evaluations * inputs * per_input)
    if total <= COST_NOTE:
        return
    parts = ([f"{points:,} points"] if points > 1 else []) + [
        f"{evaluations}", f"{inputs:,} input{'s' if inputs != 1 else ''}",
        f"~{per_input:,.0f} node{'s' if round(per_input) != 1 else ''} each"]
    # with --order 2 each perturbation takes the whole gradient: the nodes above the input,
    # then a backward pass over the graph (``CaseRun.cost``)
    what = "; each a whole gradient" if order == 2 else ""
    note(f"check{where}: " + " × ".join(parts) + f" = {total:,} node evaluations ({method}"
         f"{what}; a comparison that fails is re-examined at a few times that)")


def _warn_outcome(doc: dict) -> None:
    if doc["skipped"]:
        warn(f"{doc['skipped']} of {doc['skipped'] + doc['summary']['points']} sampled points "
             "were outside the formula's domain and were skipped")


# ---------------------------------------------------------------- the run

class Run:
    """The cases of one `adiff check` as they are checked: results, counts, kept points.

    ``stream`` yields every point's entry once and forgets it; the counts
    for the summary, the worst failure and the skipped points are kept here
    (``late`` gives those fields once the stream has ended).
    """

    def __init__(self, fmt: str):
        from autodiff_cli.check.cases import Tally
        from autodiff_cli.documents.check import Keeper

        self.fmt = fmt
        self.results: list = []  # CaseResult of each case that ran or failed
        self.tally = Tally(keep=0)
        self.keeper = Keeper() if fmt == "table" else None

    def failed(self, exc: AdiffError, case=None, name: str = "adiff check"):
        from autodiff_cli.check.cases import Case, CaseResult

        result = CaseResult(case or Case(source="", name=name))
        result.error = exc
        return result

    def count(self, case, graph, point) -> dict:
        """The entry of a checked point (``spec.Point``) of ``case``, counted."""
        entry = documents.point_document(case, graph, point)
        self.tally.add(point)
        if self.keeper is not None:
            self.keeper.offer(entry, point)
        return entry

    def single(self, case_run):
        """The entries of the one case of a plain `adiff check`; its errors propagate."""
        self.results.append(case_run.result)
        try:
            for point in case_run:
                yield self.count(case_run.case, case_run.graph, point)
        except AdiffError as exc:
            case_run.result.error = exc
            raise

    def late(self) -> dict:
        """The fields that need every point: ok, skipped, summary, worst, skipped points."""
        from autodiff_cli.documents.check import late_fields

        return late_fields(self.results, self.tally)

    def emit(self, doc: dict, points, report, progress=None) -> None:
        """Render ``doc`` with the stream of entries ``points``; then write the JUnit report.

        The first point is made before anything is written, so an error at
        the only point (or no point inside the domain) leaves stdout empty.
        With stdout closed early (``| head``) the remaining points are still
        checked, so the report is complete, and the closed pipe is raised again.
        The progress bar (stderr) is closed before a table is printed, and not
        shown while the points stream to a terminal (the two would mix).
        """
        import sys

        from autodiff_cli.documents.base import Stream
        from autodiff_cli.documents.check import PointStream

        if progress is not None and self.fmt != "table":
            try:
                if sys.stdout.isatty():
                    progress.enabled = False
            except (AttributeError, ValueError):
                pass
        points = iter(points)
        first = list(itertools.islice(points, 1))
        stream = itertools.chain(first, points)
        finishing = _finishing(stream, doc, self)
        if self.fmt == "table":
            for _ in finishing:
                pass
            if progress is not None:
                progress.close()
            doc["cases"] = self.keeper.points()
        else:
            doc["cases"] = Stream(finishing) if self.fmt == "json" else PointStream(finishing)
            for key in doc.late_keys:
                doc[key] = None  # filled in when the stream ends, before they are written
        try:
            emit("check", doc, self.fmt)
        except BrokenPipeError:
            for _ in stream:
                pass
            doc.update(self.late())
            report.write(self.results)
            raise
        report.write(self.results)


def _finishing(stream, doc, run):
    """``stream``, then the late fields of ``doc`` filled in."""
    from autodiff_cli.documents.check import suite_entry

    yield from stream
    doc.update(run.late())
    if "suite" in doc.late_keys:
        doc["suite"] = [suite_entry(r) for r in run.results]
    doc.done = True


# ---------------------------------------------------------------- JUnit

class JUnit:
    """The --junit report of this run.

    At the start, a report left by an earlier run at PATH is removed: a run
    that is killed (SIGKILL, a CI timeout) then leaves no report rather than
    the previous one looking like its own. A run interrupted by Ctrl-C writes
    one that says so (an "interrupted" error testcase). The file is written
    beside PATH and renamed over it when complete (``files.atomic_write``).
    """

    def __init__(self, path: str | None, suite: str):
        self.path = path
        self.suite = suite
        if path is not None:
            import os

            try:
                if os.path.isfile(path) or os.path.islink(path):
                    os.unlink(path)
            except OSError:
                pass  # reported when the new one cannot be written either

    @property
    def pending(self) -> bool:
        return self.path is not None

    def write(self, results, interrupted: bool = False) -> None:
        """Write the report (once: later calls do nothing)."""
        path, self.path = self.path, None
        if path is None:
            return
        from autodiff_cli.documents.junit import junit
        from autodiff_cli.files import atomic_write

        data = junit(results, self.suite, interrupted=interrupted)
        try:
            with atomic_write(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise InputError(f"cannot write {escape_controls(path)}: "
                             f"{exc.strerror or exc}") from None

    def write_quietly(self, results, interrupted: bool = False) -> None:
        """``write`` on the way out of a failed run: its own error is only a warning."""
        try:
            self.write(results, interrupted)
        except InputError as exc:
            warn(exc.message)


# ---------------------------------------------------------------- spec files

def _run_spec(run, path, fmt, max_size, settings, samples, seed, allow_kinks, per_node,
              allow_any_path, report, order=None):
    from autodiff_cli.check.cases import load_spec
    from autodiff_cli.documents.check import check_document
    from autodiff_cli.render.progress import PointProgress

    defaults = {"method": settings.method, "rtol": settings.rtol, "atol": settings.atol,
                "step": settings.step, "samples": samples, "seed": seed,
                "allow_kinks": allow_kinks or None, "nodes": per_node or None, "order": order}
    defaults = {k: v for k, v in defaults.items() if v is not None}
    cases, shared = load_spec(path, defaults, max_size, allow_any_path)
    method = shared.get("method")
    settings = Settings(method if method in METHODS else "central",
                        *(shared.get(k) if isinstance(shared.get(k), (int, float))
                          and not isinstance(shared.get(k), bool) else None
                          for k in ("rtol", "atol", "step")))
    total = sum(case.samples or len(case.points) for case in cases
                if not isinstance(case, AdiffError))
    progress = PointProgress(total)
    try:
        doc = check_document(settings, single=False, spec_path=path)
        run.emit(doc, _spec_points(run, cases, path, progress), report, progress)
    finally:
        progress.close()
    _warn_outcome(doc)
    codes = [r.error.exit_code for r in run.results if r.error is not None]
    if 2 in codes:
        return 2
    if codes:
        return 3
    return 0 if doc["ok"] else 1


def _spec_points(run, cases, path: str, progress):
    """The points of every case in turn; a case's error is kept, shown, and the next runs."""
    from autodiff_cli.check.cases import CaseRun

    for n, case in enumerate(cases, 1):
        if isinstance(case, AdiffError):
            result = run.failed(case, name=getattr(case, "case_name", ""))
            run.results.append(result)
            _show_error(result, path)
            continue
        try:
            case_run = CaseRun(case, progress)
        except (InputError, EvalError) as exc:
            result = run.failed(exc, case)
            run.results.append(result)
            _show_error(result, path)
            continue
        run.results.append(case_run.result)
        _note_cost(case_run, case.settings.method, f" case {n}", case.order)
        try:
            for point in case_run:
                yield run.count(case, case_run.graph, point)
        except (InputError, EvalError) as exc:
            case_run.result.error = exc
            _show_error(case_run.result, path)


def _show_error(r, path: str) -> None:
    """A case's error on stderr, with its caret block, located in the spec file."""
    text = r.error.render()
    where = r.case.origin
    if where and not r.error.message.startswith(path):
        text = f"Error: {where}: " + text[len("Error: "):]
    text = "\n".join(escape_controls(line) for line in text.split("\n"))
    try:
        click.echo(text, err=True)
    except (OSError, ValueError):
        pass
