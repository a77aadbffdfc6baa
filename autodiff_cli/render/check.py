"""Renderers for ``adiff check``: a table of (point, input) rows, worst first on failure.

Reads the document of ``documents.check`` (a point, many, a spec file's cases, or
the loss summed over a data file).
"""

from __future__ import annotations

import sys

from autodiff_cli.render import format_number, mark, message, safe, sym

#: Rows of the check table shown by default; failing rows come first.
TABLE_ROWS = 40
#: Significant digits of derivatives in the table (errors have their own columns).
_DIGITS = 9
#: Notes printed under the table at most.
_NOTES = 5
#: Above this many (point, input) rows, a passing run shows each input's worst
#: point and a failing run only its failing rows.
SUMMARY_ROWS = 12

_ORDER = ("mismatch", "expect-mismatch", "inconclusive", "unavailable", "kink", "ok")

def rows(doc: dict) -> list[dict]:
    """Every (point, input) of the document as a flat row."""
    return list(iter_rows(doc))


def iter_rows(doc: dict):
    """The rows of ``rows``, one at a time (``doc["cases"]`` may be a one-pass stream)."""
    counter: dict[str, int] = {}
    for p in doc["cases"]:
        case = p.get("name", "-")
        # kept points carry their number within the case (a table keeps a subset of them)
        index = p.get("index") or counter.get(case, 0) + 1
        counter[case] = index
        second = p.get("order") == 2
        derivatives = p["hessian"] if second else p["gradient"]
        for name, status in p["status"].items():
            row = {"case": case, "point": index, "at": p["at"], "input": name,
                   "order": 2 if second else 1,
                   "status": status, "gradient": derivatives[name],
                   "numeric": p["numeric"][name], "abs_error": p["abs_error"][name],
                   "rel_error": p["rel_error"][name], "tolerance": p["tolerance"][name],
                   "step": p["step"][name], "method": p["methods"][name],
                   "note": p.get("notes", {}).get(name, "")}
            if "expected" in p and name in p["expected"]:
                row["expected"] = p["expected"][name]
                row["expect_abs_error"] = p["expect_abs_error"][name]
            yield row


def _rank(row: dict):
    tol = row["tolerance"]
    ratio = 0.0
    for err in (row["abs_error"], row.get("expect_abs_error")):
        if isinstance(err, float) and isinstance(tol, float) and tol > 0:
            ratio = max(ratio, err / tol)
    return (_ORDER.index(row["status"]), -ratio)


def ordered(doc: dict) -> list[dict]:
    """Rows in point order, or worst first when anything failed."""
    out = rows(doc)
    if not doc["ok"]:
        out.sort(key=_rank)
    return out


# ---------------------------------------------------------------- plain

_PLAIN_COLUMNS = ("case", "point", "input", "status", "gradient", "numeric", "abs_error",
                  "rel_error", "tolerance", "step", "method", "expected")


def plain(doc: dict, **_options) -> None:
    """Tab-separated rows, one per (point, input), in point order; lines starting with '#'
    are comments. Rows are written as they come, so memory does not grow with the points
    (``doc["ok"]`` and ``doc["skipped"]`` are read after the last one)."""
    write = sys.stdout.write
    write("# " + "\t".join(_PLAIN_COLUMNS) + "\n")
    for row in iter_rows(doc):
        write("\t".join(_plain_field(row.get(c, "")) for c in _PLAIN_COLUMNS) + "\n")
    write(f"# ok\t{'true' if doc['ok'] else 'false'}\n")
    write(f"# skipped\t{doc['skipped']}\n")


def _plain_field(v) -> str:
    if isinstance(v, str):  # a tab or a newline in a case name would forge fields or rows
        return safe(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return format_number(v, None)


# ---------------------------------------------------------------- table

def _point_text(at: dict, limit: int = 36) -> str:
    from autodiff_cli.render.table import LIST, clip

    return clip(", ".join(f"{safe(k)}={format_number(v, 4)}" for k, v in at.items()), limit, LIST)


def table(doc: dict, **_options) -> None:
    from rich.text import Text

    from autodiff_cli.render.table import console, heading, note, value_line

    out = console()
    if "expression" in doc:
        heading(out, doc["expression"])
        if len(doc["cases"]) == 1:
            p = doc["cases"][0]
            value_line(out, p["value"], p["at"])
            if "data" in doc:  # --data: the value is the loss summed over the rows
                from autodiff_cli.render.grad import reduce_text

                out.print(Text(reduce_text(doc)))
    if "suite" in doc:
        _suite_table(doc).print(out)
    all_rows = ordered(doc)
    summary = doc["summary"]
    total_rows = None
    title = "Check"
    if "suite" in doc:  # the suite table has the passing cases; show the failing rows
        all_rows = [r for r in all_rows if r["status"] != "ok"]
    elif summary["gradients"] > SUMMARY_ROWS:
        failing = [r for r in all_rows if r["status"] != "ok"]
        if failing:
            title = (f"Check: the {summary['gradients'] - summary['ok']:,} failing of "
                     f"{summary['gradients']:,} rows, worst first")
            all_rows = failing
            total_rows = summary["gradients"] - summary["ok"]
        else:
            title = (f"Check: the worst point of each input ({summary['points']:,} points; "
                     "--format json has them all)")
            all_rows = _worst_per_input(all_rows)
    if all_rows:
        _check_table(doc, all_rows, out.width, title).print(out)
    elif not doc["summary"]["gradients"] and doc["cases"]:
        note(out, "The formula has no input variables: there is no gradient to check.")
    shown = all_rows[:TABLE_ROWS]
    noted = [r for r in shown if r["note"] and (r["status"] != "ok" or len(shown) <= 8)]
    for row in noted[:_NOTES]:
        out.print(Text(f"{_where(doc, row)}: {message(row['note'])}", style="dim"))
    if len(noted) > _NOTES:
        note(out, f"{len(noted) - _NOTES} more notes: use --format json")
    # the rows of the run in the category shown, not only those the document kept
    hidden = (len(all_rows) if total_rows is None else total_rows) - len(shown)
    if hidden > 0:
        note(out, f"{hidden:,} more rows not shown: use --format json")
    for p in doc["cases"]:
        if "nodes" in p:
            _nodes(out, doc, p)
            break
    for kink in _kinks(doc):
        out.print(Text(kink, style="yellow"))
    note(out, _rule_text(doc))
    out.print(_verdict(doc))


def _where(doc, row) -> str:
    where = f"{safe(row['input'])} at point {row['point']}" if doc["summary"]["points"] > 1 \
        else safe(row["input"])
    return f"{safe(row['case'])}: {where}" if "suite" in doc else where


def _check_grid(doc: dict, shown: list[dict], digits: int, title: str):
    from autodiff_cli.render.table import KEY, LIST, NUM, TEXT, Grid

    expected = any("expected" in r for r in shown)
    several = doc["summary"]["points"] > 1
    orders = {r["order"] for r in shown}
    ours = "reverse mode" if orders == {1} else sym("∂²f (exact)") if orders == {2} else \
        "derivative"
    headers = (["case"] if "suite" in doc else []) + (["#", "point"] if several else []) \
        + ["input", ours, "numeric"] + (["expected"] if expected else []) \
        + ["abs err", "rel err", "tolerance", "status"]
    kinds = {"case": TEXT, "#": NUM, "point": LIST, "input": TEXT, "status": KEY}
    styles = {ours: "bold", "#": "dim"}
    drops = {"rel err": 1, "tolerance": 2, "point": 3}
    grid = Grid(sym(title), compact=True)
    for h in headers:
        grid.column(h, kinds.get(h, NUM), style=styles.get(h), drop=drops.get(h))
    previous = None
    for row in shown:
        same = previous is not None and (row["case"], row["point"]) == previous
        previous = (row["case"], row["point"])
        cell = {
            "case": "" if same else safe(row["case"]),
            "#": "" if same else str(row["point"]),
            "point": "" if same else _point_text(row["at"], 200),
            "input": safe(row["input"]),
            ours: format_number(row["gradient"], digits),
            "numeric": format_number(row["numeric"], digits),
            "expected": format_number(row.get("expected"), digits) if "expected" in row else "",
            "abs err": format_number(row["abs_error"], 2),
            "rel err": format_number(row["rel_error"], 2),
            "tolerance": format_number(row["tolerance"], 2),
            "status": mark(row["status"]),
        }
        grid.row(*[cell[h] for h in headers])
    return grid


def _worst_per_input(all_rows: list[dict]) -> list[dict]:
    worst: dict[str, dict] = {}
    for row in all_rows:
        if row["input"] not in worst or _rank(row) < _rank(worst[row["input"]]):
            worst[row["input"]] = row
    return list(worst.values())


def _check_table(doc: dict, all_rows: list[dict], width: int = 80, title: str = "Check"):
    """The table of (point, input) rows, fitted to ``width``: with 9 significant digits
    while it fits with its headers wrapped at most, else 7; numbers are never cut
    (a long point is clipped between its bindings; the JSON has it all)."""
    shown = all_rows[:TABLE_ROWS]
    grid = _check_grid(doc, shown, _DIGITS, title)
    if grid.fits(width, tightest=1):
        return grid
    return _check_grid(doc, shown, 7, title)


def _suite_table(doc: dict):
    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid

    grid = Grid(f"Spec {safe(doc['spec'])}", compact=True)
    counted = "gradients ok" if _suite_orders(doc) == {1} else "derivatives ok"
    for col in ("case", "method", "rtol", "atol", "points", "skipped", counted, "result"):
        grid.column(col, NUM if col in ("rtol", "atol", "points", "skipped") else
                    TEXT if col == "case" else KEY, justify="left" if col == counted else None)
    for entry in doc["suite"]:
        if "error" in entry:
            # the message, with its caret block, is on stderr
            result = (sym(f"✗ error (exit {entry['exit_code']})"), "bold red")
            ok = ""
        else:
            s = entry["summary"]
            ok = f"{s['ok']}/{s['gradients']}"
            result = (sym("✓ pass"), "green") if entry["ok"] else (sym("✗ FAIL"), "bold red")
        method = safe(entry["method"]) if entry["method"] else sym("—")
        if entry.get("order") == 2 and entry["method"]:
            method += ", order 2"
        grid.row(safe(entry["name"]), method,
                 format_number(entry["rtol"]), format_number(entry["atol"]), str(entry["points"]),
                 str(entry["skipped"]), ok, result)
    return grid


def _nodes(out, doc: dict, p: dict) -> None:
    from rich.text import Text

    from autodiff_cli.render.table import KEY, NUM, TEXT, Grid, note

    nodes = sorted(p["nodes"], key=lambda n: _ORDER.index(n["status"])) if not p["ok"] \
        else p["nodes"]
    grid = Grid(sym("Nodes"), compact=True)
    for col in ("id", "op", "label", "grad ∂f/∂node", "numeric", "abs err", "status"):
        grid.column(sym(col), NUM if col in ("grad ∂f/∂node", "numeric", "abs err") else
                    TEXT if col == "label" else KEY)
    for n in nodes[:TABLE_ROWS]:
        grid.row(n["id"], n["op"], safe(n["label"]), format_number(n["grad"], 10),
                 format_number(n["numeric"], 10), format_number(n["abs_error"], 2),
                 mark(n["status"]))
    grid.print(out)
    if len(nodes) > TABLE_ROWS:
        note(out, f"{len(nodes) - TABLE_ROWS:,} more nodes not shown")
    if p.get("culprit"):
        out.print(Text(message(p["culprit"]["message"]), style="bold red"))


def _kinks(doc: dict) -> list[str]:
    seen, out = set(), []
    for p in doc["cases"]:
        for k in p["kinks"]:
            key = (k["node"], k["op"])
            if key not in seen:
                seen.add(key)
                out.append(f"{k['node']} ({k['op']}) is at its kink: {message(k['convention'])}; "
                           "the inputs it affects are not differentiable there"
                           + ("" if doc.get("allow_kinks") else " (--allow-kinks accepts this)"))
    return out


def _suite_orders(doc: dict) -> set:
    """The orders of the cases of a spec's run that could be read ({1} when none could)."""
    return {e.get("order", 1) for e in doc["suite"] if e.get("method")} or {1}


def _rule_text(doc: dict) -> str:
    if "suite" in doc:
        orders = _suite_orders(doc)
        if 2 in orders:
            what = "a second derivative" if orders == {2} else "a derivative"
            return (f"{what} agrees when |ad − fd| ≤ atol + rtol·|fd|, with each case's method "
                    "and tolerances (order 2: the Hessian against finite differences of the "
                    "reverse-mode gradient); a failed comparison is re-examined (Richardson"
                    + (")" if orders == {2} else ", complex step for gradients)")
                    + " before it counts")
        return ("a gradient agrees when |ad − fd| ≤ atol + rtol·|fd|, with each case's method "
                "and tolerances; a failed comparison is re-examined (Richardson, complex step) "
                "before it counts")
    from autodiff_cli.documents.check import METHOD_TEXT

    method = METHOD_TEXT.get(doc["method"], doc["method"])
    if "step" in doc:
        method = f"{doc['method']}, h = {format_number(doc['step'], 3)}"
    if doc.get("order") == 2:
        return (f"the Hessian against {method}, of the reverse-mode gradient (entry x,y: "
                f"d(df/dx) along y); agree when |ad − fd| ≤ {format_number(doc['atol'])} + "
                f"{format_number(doc['rtol'])}·|fd|; a failed comparison is re-examined "
                "(Richardson) before it counts")
    return (f"{method}; agree when |ad − fd| ≤ {format_number(doc['atol'])} + "
            f"{format_number(doc['rtol'])}·|fd|; a failed comparison is re-examined "
            "(Richardson, complex step) before it counts")


def _verdict(doc: dict):
    from rich.text import Text

    s = doc["summary"]
    points = f"{s['points']} point{'s' if s['points'] != 1 else ''}"
    skipped = f", {doc['skipped']} skipped (outside the domain)" if doc["skipped"] else ""
    if "suite" in doc:
        orders = _suite_orders(doc)
        word = "second derivative" if orders == {2} else "derivative" if 2 in orders \
            else "gradient"
    else:
        word = "second derivative" if doc.get("order") == 2 else "gradient"
    many = f"{word}s"
    if doc["ok"]:
        kinks = f" ({s['kink']} at a kink, allowed)" if s.get("kink") else ""
        return Text(f"OK: {s['ok']} of {s['gradients']} {many} agree{kinks} at "
                    f"{points}{skipped}.", style="bold green")
    bad = {k: v for k, v in s.items() if k not in ("points", "gradients", "ok") and v}
    counts = ", ".join(f"{v} {k}" for k, v in bad.items())
    total = f"{s['gradients']} {word}{'s' if s['gradients'] != 1 else ''}"
    text = Text(f"FAILED: {counts} (of {total}) at {points}{skipped}." if counts else "FAILED.",
                style="bold red")
    w = doc.get("worst")
    if w:
        from autodiff_cli.documents.check import failure_text

        text.append("\nworst: " + message(failure_text(w)), style="red")
    if "suite" in doc:
        errors = [e for e in doc["suite"] if "error" in e]
        if errors:
            text.append(f"\n{len(errors)} of {len(doc['suite'])} cases could not run "
                        "(the errors are on standard error).", style="bold red")
    return text
