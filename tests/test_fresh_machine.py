"""A fresh machine has only what the README's commands install: tests that need more skip.

The README's test command (`pip install '.[test]' && pytest`) must pass on a machine without
Graphviz. These tests run the test files that use such programs with the
programs hidden from PATH, and check that the README's Development section names each one.
"""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import EXTERNAL_PROGRAMS, ROOT, programs_needed


def _path_without(programs) -> str:
    """PATH with every directory that holds one of ``programs`` replaced by a shim of links
    to everything else in it (the way a machine without those programs looks)."""
    import tempfile

    shim_root = tempfile.mkdtemp(prefix="adiff-path-")
    parts = []
    for k, directory in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        if not directory or not any(os.path.exists(os.path.join(directory, p)) for p in programs):
            parts.append(directory)
            continue
        shim = os.path.join(shim_root, str(k))
        os.mkdir(shim)
        for name in os.listdir(directory):
            if name not in programs:
                try:
                    os.symlink(os.path.join(directory, name), os.path.join(shim, name))
                except OSError:
                    pass
        parts.append(shim)
    return os.pathsep.join(parts)


def test_programs_needed_reads_picture_outputs():
    assert programs_needed(["graph", "x", "-o", "g.svg"]) == ["dot"]
    assert programs_needed(["graph", "x", "-o", "G.PNG"]) == ["dot"]
    assert programs_needed(["graph", "x", "-o", "g.dot"]) == []
    assert programs_needed(["grad", "x", "--at", "x=1"]) == []


def test_docs_graph_and_c_tests_pass_without_graphviz_or_a_c_compiler():
    hidden = ("dot", "neato", "twopi", "circo", "fdp", "sfdp", "cc", "gcc")
    env = {**os.environ, "PATH": _path_without(hidden)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         "tests/test_docs.py", "tests/test_cli_graph.py", "tests/test_diff_formats.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # the picture examples were skipped, and said why
    assert "`dot` is not installed" in done.stdout or "dot is not installed" in done.stdout, \
        done.stdout[-3000:]
    # and the C examples of adiff diff too
    assert "`cc` is not installed" in done.stdout, done.stdout[-3000:]


def test_readme_development_section_lists_each_external_program():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    development = readme[readme.index("## Development"):]
    for program in EXTERNAL_PROGRAMS:
        assert f"`{program}`" in development, program
