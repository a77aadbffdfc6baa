"""The JUnit XML report of ``adiff check`` (``--junit``): one testcase per case.

Built from the results of the cases (``spec.CaseResult``) as the JSON document
is; a failing case carries the text of its worst input (``check.failure_text``).
"""

from __future__ import annotations

import re
from pathlib import Path

from autodiff_cli.documents.check import failing_entries, failure_text, worst_entry
from autodiff_cli.errors import InputError


def junit(results, suite: str, interrupted: bool = False) -> bytes:
    """A JUnit XML report: one testcase per case; failures carry the worst input.

    Every text and attribute is made legal XML 1.0 (``xml_text``): a control
    character in a case name, a message or a formula would otherwise make the
    whole report unreadable. A formula read from a file is named by its path,
    not quoted. ``interrupted``: the run was stopped (Ctrl-C) after these
    cases; a last testcase says so, as an error.
    """
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.error is None and not r.ok)
    errors = sum(1 for r in results if r.error is not None) + (1 if interrupted else 0)
    tests = len(results) + (1 if interrupted else 0)
    total_time = sum(r.seconds for r in results)
    root = ET.Element("testsuites", name="adiff check", tests=str(tests),
                      failures=str(failures), errors=str(errors), time=f"{total_time:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(tests),
                       failures=str(failures), errors=str(errors), skipped="0",
                       time=f"{total_time:.3f}")
    classname = f"adiff.check.{_classname(suite)}"
    for r in results:
        name = r.case.name or _short_source(r.case.source)
        tc = ET.SubElement(ts, "testcase", classname=classname, name=name,
                           time=f"{r.seconds:.3f}")
        if r.error is not None:
            kind = "InputError" if isinstance(r.error, InputError) else "EvalError"
            el = ET.SubElement(tc, "error", message=r.error.message, type=kind)
            el.text = r.error.render()
        elif not r.ok:
            w = worst_entry(r.tally.worst())
            el = ET.SubElement(tc, "failure", message=failure_text(w), type=w["status"])
            lines = [f"{r.tally.failing} of {r.count} points failed"]
            lines += [failure_text(x) for x in failing_entries(r.tally.kept, 20)]
            el.text = "\n".join(lines)
        if r.case.file is not None:
            formula = f"file: {r.case.file}"
        elif r.case.source:
            formula = f"expression: {_short_source(r.case.source, 500)}"
        else:
            formula = "expression: (none: the case could not be read)"
        out = [formula,
               f"method: {r.case.settings.method}; points checked: {r.count}; "
               f"skipped (outside the domain): {r.skipped_count}"]
        ET.SubElement(tc, "system-out").text = "\n".join(out)
    if interrupted:
        tc = ET.SubElement(ts, "testcase", classname=classname, name="interrupted", time="0.000")
        el = ET.SubElement(tc, "error", message="the run was interrupted (Ctrl-C) before every "
                                                "case was checked", type="Interrupted")
        el.text = f"{len(results)} case(s) finished before the interruption; the report is " \
                  "incomplete"
    for el in root.iter():
        el.text = xml_text(el.text)
        for key, value in el.attrib.items():
            el.attrib[key] = xml_text(value)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


#: Characters XML 1.0 does not allow (its Char production): C0 controls but
#: tab, newline and carriage return; surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(text: str | None) -> str | None:
    """``text`` with each character XML 1.0 cannot hold written as a visible escape (\\x07)."""
    if text is None:
        return None
    return _NOT_XML.sub(_xml_escape, text)


def _classname(text: str) -> str:
    stem = Path(text).stem or "spec"
    return "".join(c if c.isalnum() or c == "_" else "_" for c in stem)


def _short_source(text: str, limit: int = 80) -> str:
    lines = (" ".join(line.split("#")[0].split()) for line in text.splitlines())
    text = "; ".join(line for line in lines if line)
    return text if len(text) <= limit else text[:limit] + " …"
