"""One adiff job in a fresh process, timed phase by phase (run by bench_core.py).

    python benchmarks/adiff_job.py FORMULA_FILE AT_FILE [--no-json]

Does what ``adiff grad -f FORMULA_FILE --at ... --format json --no-check``
does, through the library, and prints one JSON line of CPU times (seconds,
``time.process_time``, robust on a shared machine; ``wall_*`` are the same
phases in wall-clock time) and peak resident memory: ``import`` (adiff's modules), ``setup`` (building the
Lark parser from its cache, by parsing ``x``), ``read``, ``parse`` (text ->
graph, including pruning and ``Graph.__init__``), ``bind``, ``forward``,
``backward``, ``evaluate`` (``engine.evaluate``, bind + forward + backward as
the CLI runs them), and ``json`` (the JSON document with every node, written
to /dev/null); ``core`` is parse + evaluate. ``maxrss_*`` are ``ru_maxrss`` (KiB) after each phase; the
process's peak is monotone, so each one is the peak up to that point.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    formula_file, at_file = argv[0], argv[1]
    with_json = "--no-json" not in argv
    out: dict = {}
    base = _rss()
    t, w = time.process_time(), time.perf_counter()
    from autodiff_cli.calculus import engine
    from autodiff_cli.language.bindings import parse_bindings
    from autodiff_cli.language.parser import parse

    if with_json:
        from autodiff_cli.documents.grad import grad_document
        from autodiff_cli.render.json_doc import write
    out["import"], out["wall_import"] = time.process_time() - t, time.perf_counter() - w
    t, w = time.process_time(), time.perf_counter()
    parse("x")
    out["setup"], out["wall_setup"] = time.process_time() - t, time.perf_counter() - w
    out["maxrss_start"] = _rss()

    t, w = time.process_time(), time.perf_counter()
    with open(formula_file, "rb") as fh:
        text = fh.read().decode("utf-8")
    with open(at_file, encoding="utf-8") as fh:
        at_spec = fh.read().strip()
    out["read"], out["wall_read"] = time.process_time() - t, time.perf_counter() - w

    t, w = time.process_time(), time.perf_counter()
    warnings: list[str] = []
    graph = parse(text, warnings=warnings)
    out["parse"], out["wall_parse"] = time.process_time() - t, time.perf_counter() - w
    out["maxrss_parse"] = _rss()

    t, w = time.process_time(), time.perf_counter()
    at = parse_bindings([at_spec])
    values = engine.bind(graph, at)
    out["bind"], out["wall_bind"] = time.process_time() - t, time.perf_counter() - w

    t, w = time.process_time(), time.perf_counter()
    locals_, kinks = engine.forward(graph, values)
    out["forward"], out["wall_forward"] = time.process_time() - t, time.perf_counter() - w
    out["maxrss_forward"] = _rss()

    t, w = time.process_time(), time.perf_counter()
    grads = engine.backward(graph, values, locals_)
    out["backward"], out["wall_backward"] = time.process_time() - t, time.perf_counter() - w
    out["maxrss_backward"] = _rss()

    # What the CLI runs (bind + forward + backward in one call, with whatever the
    # engine does around them); forward and backward above are the breakdown.
    t, w = time.process_time(), time.perf_counter()
    ev = engine.evaluate(graph, at)
    out["evaluate"], out["wall_evaluate"] = time.process_time() - t, time.perf_counter() - w
    del ev

    if with_json:
        t, w = time.process_time(), time.perf_counter()
        ev = engine.Evaluation(graph, dict(at), values, locals_, grads, kinks)
        names = list(graph.variables)
        doc = grad_document(graph, ev, names, None, "turned off with --no-check")
        with open(os.devnull, "w", encoding="utf-8") as sink:
            write(doc, sink)
        out["json"], out["wall_json"] = time.process_time() - t, time.perf_counter() - w
        out["maxrss_json"] = _rss()

    out["core"] = out["parse"] + out["evaluate"]
    out["wall_core"] = out["wall_parse"] + out["wall_evaluate"]
    out["nodes"] = len(graph)
    out["edges"] = graph.edge_count()
    out["variables"] = len(graph.variables)
    out["chars"] = len(text)
    out["value"] = values[graph.output]
    out["gradient"] = {name: grads[i] for name, i in graph.variables.items()}
    out["maxrss_before_import"] = base
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
