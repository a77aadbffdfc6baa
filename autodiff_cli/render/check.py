"""Renderers for ``adiff check``: a table of (point, input) rows, worst first on failure."""

from __future__ import annotations

import sys

from . import format_number

#: Rows of the check table shown by default; failing rows come first.
TABLE_ROWS = 40
#: Significant digits of derivatives in the table (errors have their own columns).
_DIGITS = 9
#: Notes printed under the table at most.
_NOTES = 5
#: Above this many (point, input) rows, a passing run shows each input's worst
#: point and a failing run only its failing rows.
SUMMARY_ROWS = 12

_MARKS = {
    "ok": ("✓ agree", "green"),
    "mismatch": ("✗ DISAGREE", "bold red"),
    "expect-mismatch": ("✗ EXPECT", "bold red"),
    "kink": ("~ kink", "yellow"),
    "inconclusive": ("? inconclusive", "yellow"),
    "unavailable": ("? n/a", "yellow"),
}
_ORDER = ("mismatch", "expect-mismatch", "inconclusive", "unavailable", "kink", "ok")

_METHOD_TEXT = {
    "central": "central differences, h = cbrt(eps)·max(1, |x|) ≈ 6.06e-06·max(1, |x|)",
    "forward": "forward differences, h = sqrt(eps)·max(1, |x|) ≈ 1.49e-08·max(1, |x|)",
    "backward": "backward differences, h = sqrt(eps)·max(1, |x|) ≈ 1.49e-08·max(1, |x|)",
    "complex": "complex step, Im f(x + ih)/h with h = 1e-100·max(1, |x|)",
    "richardson": "Richardson extrapolation (Ridders) from h = 2^-7·max(1, |x|), halving",
}


def rows(doc: dict) -> list[dict]:
    """Every (point, input) of the document as a flat row."""
    out = []
    counter: dict[str, int] = {}
    for p in doc["cases"]:
        case = p.get("name", "-")
        counter[case] = index = counter.get(case, 0) + 1
        for name, status in p["status"].items():
            row = {"case": case, "point": index, "at": p["at"], "input": name,
                   "status": status, "gradient": p["gradient"][name],
                   "numeric": p["numeric"][name], "abs_error": p["abs_error"][name],
                   "rel_error": p["rel_error"][name], "tolerance": p["tolerance"][name],
                   "step": p["step"][name], "method": p["methods"][name],
                   "note": p.get("notes", {}).get(name, "")}
            if "expected" in p and name in p["expected"]:
                row["expected"] = p["expected"][name]
                row["expect_abs_error"] = p["expect_abs_error"][name]
            out.append(row)
    return out


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
    """Tab-separated rows, one per (point, input); lines starting with '#' are comments."""
    out = ["# " + "\t".join(_PLAIN_COLUMNS)]
    for row in ordered(doc):
        out.append("\t".join(_plain_field(row.get(c, "")) for c in _PLAIN_COLUMNS))
    out.append(f"# ok\t{'true' if doc['ok'] else 'false'}")
    out.append(f"# skipped\t{doc['skipped']}")
    sys.stdout.write("\n".join(out) + "\n")


def _plain_field(v) -> str:
    if isinstance(v, str):
        return v.replace("\t", " ")
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return format_number(v, None)


# ---------------------------------------------------------------- table

def _point_text(at: dict, limit: int = 36) -> str:
    text = ", ".join(f"{k}={format_number(v, 4)}" for k, v in at.items())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def table(doc: dict, **_options) -> None:
    from rich.text import Text

    from .table import console, short

    out = console()
    if "expression" in doc:
        heading = Text()
        heading.append("f = ", style="bold")
        heading.append(short(doc["expression"]))
        out.print(heading)
        if len(doc["cases"]) == 1:
            p = doc["cases"][0]
            at = ", ".join(f"{k} = {format_number(v)}" for k, v in p["at"].items())
            line = Text()
            line.append("value ", style="bold")
            line.append(format_number(p["value"], 10), style="bold green")
            if at:
                line.append(f"   at {at}" if len(at) < 400 else f"   at {len(p['at']):,} inputs")
            out.print(line)
            if "data" in doc:  # --data: the value is the loss summed over the rows
                from .data import reduce_text

                out.print(Text(reduce_text(doc)))
    if "suite" in doc:
        out.print(_suite_table(doc))
    all_rows = ordered(doc)
    title = "Check"
    if "suite" in doc:  # the suite table has the passing cases; show the failing rows
        all_rows = [r for r in all_rows if r["status"] != "ok"]
    elif len(all_rows) > SUMMARY_ROWS:
        failing = [r for r in all_rows if r["status"] != "ok"]
        if failing:
            title = f"Check: the {len(failing):,} failing of {len(all_rows):,} rows, worst first"
            all_rows = failing
        else:
            title = (f"Check: the worst point of each input ({len(doc['cases']):,} points; "
                     "--format json has them all)")
            all_rows = _worst_per_input(all_rows)
    if all_rows:
        out.print(_check_table(doc, all_rows, out.width, title))
    elif not doc["summary"]["gradients"] and doc["cases"]:
        out.print(Text("The formula has no input variables: there is no gradient to check.",
                       style="dim"))
    shown = all_rows[:TABLE_ROWS]
    noted = [r for r in shown if r["note"] and (r["status"] != "ok" or len(shown) <= 8)]
    for row in noted[:_NOTES]:
        out.print(Text(f"{_where(doc, row)}: {row['note']}", style="dim"))
    if len(noted) > _NOTES:
        out.print(Text(f"{len(noted) - _NOTES} more notes: use --format json", style="dim"))
    if len(all_rows) > TABLE_ROWS:
        out.print(Text(f"{len(all_rows) - TABLE_ROWS:,} more rows not shown: use --format json",
                       style="dim"))
    for p in doc["cases"]:
        if "nodes" in p:
            _nodes(out, doc, p)
            break
    for kink in _kinks(doc):
        out.print(Text(kink, style="yellow"))
    out.print(Text(_rule_text(doc), style="dim"))
    out.print(_verdict(doc))


def _where(doc, row) -> str:
    where = f"{row['input']} at point {row['point']}" if len(doc["cases"]) > 1 else row["input"]
    return f"{row['case']}: {where}" if "suite" in doc else where


def _check_cells(doc: dict, shown: list[dict], digits: int, drop: set):
    from rich.text import Text

    expected = any("expected" in r for r in shown)
    several = len(doc["cases"]) > 1
    headers = (["case"] if "suite" in doc else []) + (["#", "point"] if several else []) \
        + ["input", "reverse mode", "numeric"] + (["expected"] if expected else []) \
        + ["abs err", "rel err", "tolerance", "status"]
    headers = [h for h in headers if h not in drop]
    rows_out = []
    previous = None
    for row in shown:
        label, style = _MARKS[row["status"]]
        same = previous is not None and (row["case"], row["point"]) == previous
        previous = (row["case"], row["point"])
        cell = {
            "case": Text("" if same else row["case"]),
            "#": "" if same else str(row["point"]),
            "point": Text("" if same else _point_text(row["at"], 200)),
            "input": Text(row["input"]),
            "reverse mode": format_number(row["gradient"], digits),
            "numeric": format_number(row["numeric"], digits),
            "expected": format_number(row.get("expected"), digits) if "expected" in row else "",
            "abs err": format_number(row["abs_error"], 2),
            "rel err": format_number(row["rel_error"], 2),
            "tolerance": format_number(row["tolerance"], 2),
            "status": Text(label, style=style),
        }
        rows_out.append([cell[h] for h in headers])
    widths = [max([len(h)] + [len(c if isinstance(c, str) else c.plain) for c in
                               (r[k] for r in rows_out)]) for k, h in enumerate(headers)]
    return headers, rows_out, widths


def _worst_per_input(all_rows: list[dict]) -> list[dict]:
    worst: dict[str, dict] = {}
    for row in all_rows:
        if row["input"] not in worst or _rank(row) < _rank(worst[row["input"]]):
            worst[row["input"]] = row
    return list(worst.values())


def _check_table(doc: dict, all_rows: list[dict], width: int = 80, title: str = "Check"):
    """The table of (point, input) rows, fitted to ``width``: fewer digits first,
    then without the rel err column; a long point is cut (the JSON has it all)."""
    from rich.measure import Measurement

    from .table import console

    shown = all_rows[:TABLE_ROWS]
    probe = console()
    for digits, drop in ((_DIGITS, set()), (7, set()), (7, {"rel err"})):
        headers, cells, widths = _check_cells(doc, shown, digits, drop)
        if "point" in headers:
            k = headers.index("point")
            natural = widths[k]
            widths[k] = 8
            table = _build(headers, cells, widths)
            need = Measurement.get(probe, probe.options.update(width=10_000), table).maximum
            widths[k] = max(8, min(natural, width - need + 8))
            if need <= width:
                break
        else:
            table = _build(headers, cells, widths)
            if Measurement.get(probe, probe.options.update(width=10_000), table).maximum <= width:
                break
    return _build(headers, cells, widths, title)


def _build(headers, cells, widths, title="Check"):
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAVY, title=title, title_justify="left", title_style="bold",
                  show_edge=False, padding=(0, 1, 0, 0))
    for header, w in zip(headers, widths):
        # Numbers never shrink (a cut number is a wrong number); a long point is cut.
        point = header == "point"
        table.add_column(header, justify="left" if header in ("case", "point", "input", "status")
                         else "right",
                         style="bold" if header == "reverse mode" else
                         ("dim" if header == "#" else None),
                         width=w if point else None, min_width=None if point else w,
                         no_wrap=True, overflow="ellipsis" if point else "fold")
    for row in cells:
        table.add_row(*row)
    return table


def _suite_table(doc: dict):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAVY, title=f"Spec {doc['spec']}", title_justify="left",
                  show_edge=False, padding=(0, 1, 0, 0),
                  title_style="bold")
    for col in ("case", "method", "rtol", "atol", "points", "skipped", "gradients ok", "result"):
        table.add_column(col, justify="right" if col in ("rtol", "atol", "points", "skipped")
                         else "left")
    for entry in doc["suite"]:
        if "error" in entry:
            # the message, with its caret block, is on stderr
            result = Text(f"✗ error (exit {entry['exit_code']})", style="bold red")
            ok = ""
        else:
            s = entry["summary"]
            ok = f"{s['ok']}/{s['gradients']}"
            result = Text("✓ pass", style="green") if entry["ok"] else \
                Text("✗ FAIL", style="bold red")
        table.add_row(Text(entry["name"]), entry["method"] or "—", format_number(entry["rtol"]),
                      format_number(entry["atol"]), str(entry["points"]),
                      str(entry["skipped"]), ok, result)
    return table


def _nodes(out, doc: dict, p: dict) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    nodes = sorted(p["nodes"], key=lambda n: _ORDER.index(n["status"])) if not p["ok"] \
        else p["nodes"]
    table = Table(box=box.SIMPLE_HEAVY, title="Nodes", title_justify="left",
                  show_edge=False, padding=(0, 1, 0, 0), title_style="bold")
    for col in ("id", "op", "label", "grad ∂f/∂node", "numeric", "abs err", "status"):
        table.add_column(col, justify="right" if col in ("grad ∂f/∂node", "numeric", "abs err")
                         else "left")
    for n in nodes[:TABLE_ROWS]:
        label, style = _MARKS[n["status"]]
        table.add_row(n["id"], n["op"], Text(n["label"]), format_number(n["grad"], 10),
                      format_number(n["numeric"], 10), format_number(n["abs_error"], 2),
                      Text(label, style=style))
    out.print(table)
    if len(nodes) > TABLE_ROWS:
        out.print(Text(f"{len(nodes) - TABLE_ROWS:,} more nodes not shown", style="dim"))
    if p.get("culprit"):
        out.print(Text(p["culprit"]["message"], style="bold red"))


def _kinks(doc: dict) -> list[str]:
    seen, out = set(), []
    for p in doc["cases"]:
        for k in p["kinks"]:
            key = (k["node"], k["op"])
            if key not in seen:
                seen.add(key)
                out.append(f"{k['node']} ({k['op']}) is at its kink: {k['convention']}; "
                           "the inputs it affects are not differentiable there"
                           + ("" if doc.get("allow_kinks") else " (--allow-kinks accepts this)"))
    return out


def _rule_text(doc: dict) -> str:
    if "suite" in doc:
        return ("a gradient agrees when |ad − fd| ≤ atol + rtol·|fd|, with each case's method "
                "and tolerances; a failed comparison is re-examined (Richardson, complex step) "
                "before it counts")
    method = _METHOD_TEXT.get(doc["method"], doc["method"])
    if "step" in doc:
        method = f"{doc['method']}, h = {format_number(doc['step'], 3)}"
    return (f"{method}; agree when |ad − fd| ≤ {format_number(doc['atol'])} + "
            f"{format_number(doc['rtol'])}·|fd|; a failed comparison is re-examined "
            "(Richardson, complex step) before it counts")


def _verdict(doc: dict):
    from rich.text import Text

    s = doc["summary"]
    points = f"{s['points']} point{'s' if s['points'] != 1 else ''}"
    skipped = f", {doc['skipped']} skipped (outside the domain)" if doc["skipped"] else ""
    if doc["ok"]:
        kinks = f" ({s['kink']} at a kink, allowed)" if s.get("kink") else ""
        return Text(f"OK: {s['ok']} of {s['gradients']} gradients agree{kinks} at "
                    f"{points}{skipped}.", style="bold green")
    bad = {k: v for k, v in s.items() if k not in ("points", "gradients", "ok") and v}
    counts = ", ".join(f"{v} {k}" for k, v in bad.items())
    total = f"{s['gradients']} gradient{'s' if s['gradients'] != 1 else ''}"
    text = Text(f"FAILED: {counts} (of {total}) at {points}{skipped}." if counts else "FAILED.",
                style="bold red")
    w = doc.get("worst")
    if w:
        from ..spec import failure_text

        text.append("\nworst: " + failure_text(w), style="red")
    if "suite" in doc:
        errors = [e for e in doc["suite"] if "error" in e]
        if errors:
            text.append(f"\n{len(errors)} of {len(doc['suite'])} cases could not run "
                        "(the errors are on standard error).", style="bold red")
    return text
