"""adiff check: reverse mode against finite differences, with an exit code CI can trust.

Glue only: options -> cases (``spec.py``) -> checks (``numeric.py``) -> one
document -> ``render/check.py``. Exit 0 when every gradient agrees, 1 when any
does not (or is at a kink, without --allow-kinks), 2 for bad input, 3 for an
evaluation error at a given point.
"""

from __future__ import annotations

import click

from .cli import FormulaCommand, cli, data_options, data_settings, formula_options, read_formula, warn
from .errors import AdiffError, EvalError, InputError
from .numeric import METHODS, RULE, TOLERANCES, Settings
from .render import emit
from .render.progress import PROGRESS_DELAY, StderrProgress

#: Seconds a run must last before a progress bar appears (stderr terminals only).


class Progress(StderrProgress):
    """Points checked, as a progress bar on stderr (see render.progress)."""

    def __init__(self, total: int, stream=None, delay: float = PROGRESS_DELAY):
        super().__init__("checking", total, "count", stream, delay)
        self.done = 0

    def __call__(self, n: int = 1) -> None:
        self.done += n
        self.update(min(self.done, self.total))


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


@cli.command(cls=FormulaCommand)
@formula_options
@click.option("--wrt", metavar="NAME,...", help="Check these inputs only.")
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
              help="Check at N random points instead of (or around) --at.")
@click.option("--seed", type=int, default=None, metavar="S",
              help="Seed of the random points (default 0: the same points every run).")
@click.option("--range", "ranges", multiple=True, metavar="NAME=LO:HI,...",
              help="Interval of each sampled input (default -1:1), e.g. --range x=-1:1,y=0.1:5.")
@click.option("--expect", "expects", multiple=True, metavar="NAME=EXPR",
              help="A hand-written partial derivative to check, one input each (repeatable).")
@click.option("--allow-kinks", is_flag=True,
              help="Do not fail at a point where an op sits on its kink (abs(0), a max tie).")
@click.option("--nodes", is_flag=True,
              help="Also check the gradient of every intermediate node, to pin a wrong rule.")
@click.option("--spec", "spec", metavar="PATH", help="Run the cases of a TOML spec file.")
@click.option("--junit", "junit_path", metavar="PATH", help="Also write a JUnit XML report.")
@data_options
def check(expr, file, at, fmt, max_size, wrt, method, step, rtol, atol, samples, seed, ranges,
          expects, allow_kinks, nodes, spec, junit_path, data, reduce, delimiter, chunk_size):
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
    """
    from .bindings import parse_bindings
    from .spec import Case, parse_expect, parse_ranges

    settings = Settings(method, rtol, atol, step)
    loaded = data_settings(data, reduce, delimiter, chunk_size)
    if loaded is not None:
        others = [name for name, v in (("--spec", spec), ("--samples", samples), ("--seed", seed),
                                       ("--range", ranges), ("--expect", expects),
                                       ("--nodes", nodes)) if v]
        if others:
            raise InputError(f"{others[0]} cannot be combined with --data")
        from .cli_data import check_data

        result, data_entry = check_data(read_formula(expr, file), parse_bindings(at), loaded,
                                        None if wrt is None else _names(wrt), settings,
                                        allow_kinks, max_size, expr, file)
        doc = _document([result], settings, single=True)
        doc["data"] = data_entry
        emit("check", doc, fmt)
        if junit_path:
            _write_junit([result], junit_path, "adiff check --data")
        return 0 if doc["ok"] else 1
    if spec is not None:
        if expr is not None or file is not None or at or expects or ranges or wrt:
            raise InputError("--spec runs the cases of a file: give EXPR, -f, --at, --wrt, "
                             "--range and --expect in the file, not on the command line")
        return _run_spec(spec, fmt, max_size, settings, samples, seed, allow_kinks, nodes,
                         junit_path)
    if ranges and samples is None:
        raise InputError("--range needs --samples N")
    if seed is not None and samples is None:
        raise InputError("--seed needs --samples N")
    source = read_formula(expr, file)
    fixed = parse_bindings(at)
    case = Case(source=source, points=[fixed], samples=samples,
                seed=0 if seed is None else seed, ranges=parse_ranges(ranges),
                expect=parse_expect(expects),
                wrt=None if wrt is None else _names(wrt), settings=settings,
                allow_kinks=allow_kinks, nodes=nodes, max_size=max_size)
    results = _run([case], single=True)
    result = results[0]
    _warn_unused(case, result)
    doc = _document(results, settings, single=True)
    emit("check", doc, fmt)
    _warn_outcome(doc)
    if junit_path:
        _write_junit(results, junit_path, "adiff check")
    return 0 if doc["ok"] else 1


def _names(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise InputError("--wrt needs input names, e.g. --wrt x,y")
    return list(dict.fromkeys(names))


def _run(cases, single: bool):
    """Run the cases with one progress bar; in a spec, errors are kept per case."""
    from .spec import Case, CaseResult, run_case

    total = sum(case.samples or len(case.points) for case in cases
                if not isinstance(case, AdiffError))
    progress = Progress(total)
    results = []
    try:
        for case in cases:
            if isinstance(case, AdiffError):
                failed = CaseResult(Case(source="", name=getattr(case, "case_name", "")))
                failed.error = case
                results.append(failed)
                continue
            if single:
                results.append(run_case(case, progress, warn))
                continue
            try:
                results.append(run_case(case, progress))
            except (InputError, EvalError) as exc:
                failed = CaseResult(case)
                failed.error = exc
                results.append(failed)
    finally:
        progress.close()
    return results


def _warn_unused(case, result) -> None:
    if not result.points and not result.skipped:
        return
    unused = [name for name in case.points[0] if name not in result.used]
    if unused:
        warn(f"--at binds {', '.join(unused[:10])}, which the formula does not use")


def _warn_outcome(doc: dict) -> None:
    if doc["skipped"]:
        warn(f"{doc['skipped']} of {doc['skipped'] + doc['summary']['points']} sampled points "
             "were outside the formula's domain and were skipped")


def _document(results, settings: Settings, single: bool, spec_path: str | None = None) -> dict:
    from .spec import summary, worst

    points = [p for r in results for p in r.points]
    rtol, atol = settings.tolerances()
    doc = {"ok": all(r.ok for r in results), "method": settings.method, "rtol": rtol,
           "atol": atol, "rule": RULE}
    if settings.step is not None:
        doc["step"] = settings.step
    if single:
        case = results[0].case
        doc["expression"] = case.source
        if case.samples is not None:
            doc["samples"] = case.samples
            doc["seed"] = case.seed
            doc["range"] = {name: list(r) for name, r in case.ranges.items()}
        if case.expect:
            doc["expect"] = dict(case.expect)
        doc["allow_kinks"] = case.allow_kinks
    else:
        doc["spec"] = spec_path
        doc["suite"] = [_suite_entry(r) for r in results]
    doc["skipped"] = sum(len(r.skipped) for r in results)
    doc["summary"] = summary(points)
    failing = [p for p in points if not p["ok"]]
    doc["worst"] = worst(failing) if failing else None
    doc["cases"] = points
    doc["skipped_points"] = [s for r in results for s in r.skipped]
    return doc


def _suite_entry(r) -> dict:
    from .spec import failure_text, summary, worst

    rtol, atol = r.case.settings.tolerances()
    loaded = bool(r.case.source)  # a case whose spec entry was malformed has none
    entry = {"name": r.case.name, "expression": r.case.source, "ok": r.ok,
             "method": r.case.settings.method if loaded else None,
             "rtol": rtol if loaded else None, "atol": atol if loaded else None,
             "points": len(r.points),
             "skipped": len(r.skipped), "seconds": round(r.seconds, 4)}
    if r.error is not None:
        entry["error"] = r.error.message
        entry["exit_code"] = r.error.exit_code
    else:
        entry["summary"] = summary(r.points)
        failing = [p for p in r.points if not p["ok"]]
        if failing:
            entry["failure"] = failure_text(worst(failing))
    return entry


def _write_junit(results, path: str, suite: str) -> None:
    from .spec import junit

    data = junit(results, suite)
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _run_spec(path, fmt, max_size, settings, samples, seed, allow_kinks, nodes, junit_path):
    from .spec import load_spec

    defaults = {"method": settings.method, "rtol": settings.rtol, "atol": settings.atol,
                "step": settings.step, "samples": samples, "seed": seed,
                "allow_kinks": allow_kinks or None, "nodes": nodes or None}
    defaults = {k: v for k, v in defaults.items() if v is not None}
    cases, shared = load_spec(path, defaults, max_size)
    method = shared.get("method")
    settings = Settings(method if method in METHODS else "central",
                        *(shared.get(k) if isinstance(shared.get(k), (int, float))
                          and not isinstance(shared.get(k), bool) else None
                          for k in ("rtol", "atol", "step")))
    results = _run(cases, single=False)
    for r in results:
        if r.error is not None:
            # Each case's error, with its caret block, located in the spec file.
            text = r.error.render()
            where = r.case.origin
            if where and not r.error.message.startswith(path):
                text = f"Error: {where}: " + text[len("Error: "):]
            click.echo(text, err=True)
    doc = _document(results, settings, single=False, spec_path=path)
    emit("check", doc, fmt)
    _warn_outcome(doc)
    if junit_path:
        _write_junit(results, junit_path, path)
    codes = [r.error.exit_code for r in results if r.error is not None]
    if 2 in codes:
        return 2
    if codes:
        return 3
    return 0 if doc["ok"] else 1
