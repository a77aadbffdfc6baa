"""Shared test helpers: run the CLI through the front door."""

from __future__ import annotations

import os

# The README's examples print every digit of a fit, and L-BFGS's last digits depend on the BLAS
# kernel it runs on (SciPy calls OpenBLAS): the tests run on the kernel OpenBLAS picks for this
# processor, not one forced by the environment (OPENBLAS_CORETYPE=Haswell on an AVX-512
# machine moved a separable fit's loss by 2e-13 relative). Before anything imports NumPy.
os.environ.pop("OPENBLAS_CORETYPE", None)

import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from hypothesis import settings  # noqa: E402

from autodiff_cli.cli import cli  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("slow", deadline=None, max_examples=2000)
settings.load_profile("ci")


#: Programs the README's set-up commands do not install, and what each adds to the tests.
#: A test that needs one skips, with this reason, when it is missing (README, Development).
EXTERNAL_PROGRAMS = {
    "dot": "Graphviz's dot, which draws `adiff graph -o` pictures (.svg, .png, .pdf)",
    "cc": "a C compiler, which compiles the functions `adiff diff --format c` writes",
}
#: ``-o`` suffixes that are drawn by Graphviz's dot.
PICTURE_SUFFIXES = (".svg", ".png", ".pdf")


def require_program(name: str) -> None:
    """Skip the calling test, with the reason, when ``name`` is not on PATH."""
    if shutil.which(name) is None:
        pytest.skip(f"needs {EXTERNAL_PROGRAMS[name]}; `{name}` is not installed")


def programs_needed(argv) -> list[str]:
    """External programs an adiff command line needs: ``-o x.svg`` needs dot."""
    argv = list(argv)
    needed = []
    for k, arg in enumerate(argv[:-1]):
        if arg in ("-o", "--output") and argv[k + 1].lower().endswith(PICTURE_SUFFIXES):
            needed.append("dot")
    return needed


class Result:
    def __init__(self, result):
        self.code = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.exception = result.exception

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"Result(code={self.code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def invoke(*args, input=None, env=None) -> Result:
    runner = CliRunner()
    base = {"NO_COLOR": "1", "FORCE_COLOR": None, "COLUMNS": "120"}
    result = runner.invoke(cli, list(args), input=input, env={**base, **(env or {})})
    out = Result(result)
    assert "Traceback" not in out.stdout + out.stderr, out
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return out


@pytest.fixture
def run():
    """run(*args, input=None, env=None) -> Result(code, stdout, stderr)."""
    return invoke
