"""The installed case: the grammar ships in the wheel and adiff runs from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (path,) = out.glob("adiff-*.whl")
    return path


def test_wheel_ships_the_grammar_and_the_entry_point(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "autodiff_cli/grammar/adiff.lark" in names
        shipped = zf.read("autodiff_cli/grammar/adiff.lark").decode("utf-8")
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "adiff = autodiff_cli.__main__:main" in zf.read(entry_points).decode()
    assert shipped == (ROOT / "grammar" / "adiff.lark").read_text(encoding="utf-8")
    assert not any(n.startswith(("tests/", "samples/")) for n in names)


def test_wheel_installs_into_a_fresh_venv_and_runs_from_another_directory(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(bin_dir / "adiff"), "grad", "x*y + sin(x)", "--at", "x=1,y=2",
                           "--format", "json"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["value"] == 2.8414709848078967
    assert doc["gradient"] == {"x": 2.5403023058681398, "y": 1.0}
    # The grammar came from the installed package, and the parser cache went to the
    # per-user cache directory, created private.
    cache = tmp_path / "cache" / "adiff"
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    version = subprocess.run([str(bin_dir / "python"), "-m", "autodiff_cli", "--version"],
                             cwd=elsewhere, env=env, capture_output=True, text=True)
    assert version.stdout.startswith("adiff, version ")
