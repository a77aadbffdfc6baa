"""The loss curve: --plot FILE.svg|png (matplotlib, Agg) and the small plot in the table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .conftest import invoke
from .test_fit import LOGISTIC, logistic_data, write_csv

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("plot") / "logistic.csv", logistic_data(200))


def test_svg_holds_the_loss_and_gradient_norm_and_is_the_same_every_time(data, tmp_path):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    args = [LOGISTIC, "--data", data, "--method", "gd", "--lr", "0.01"]
    r = invoke("fit", *args, "--plot", str(first), "--format", "json")
    assert r.code == 0 and r.stderr == ""
    invoke("fit", *args, "--plot", str(second))
    text = first.read_text(encoding="utf-8")
    root = ET.fromstring(text)
    assert root.tag.endswith("svg")
    for label in ("loss L", "step", "max |∂L/∂θ|"):
        assert f"<!-- {label} -->" in text
    assert first.read_bytes() == second.read_bytes()  # no date, fixed ids: docs/fit.svg is stable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svg", "b.svg"]


def test_the_figure_plots_the_history(data):
    from autodiff_cli.render.plot import figure

    r = invoke("fit", LOGISTIC, "--data", data, "--method", "momentum", "--format", "json")
    doc = r.json()

    class Items:
        items = doc["history"]

    doc["history"] = Items()
    _, fig = figure(doc)
    top, bottom = fig.axes
    assert list(top.lines[0].get_xdata()) == [h["step"] for h in Items.items]
    assert list(top.lines[0].get_ydata()) == [h["loss"] for h in Items.items]
    assert list(bottom.lines[0].get_ydata()) == [h["gradient_norm"] for h in Items.items]
    assert bottom.get_yscale() == "log"
    assert "momentum" in fig.get_suptitle() and "converged" in fig.get_suptitle()


def test_png(data, tmp_path):
    path = tmp_path / "loss.png"
    r = invoke("fit", LOGISTIC, "--data", data, "--plot", str(path), "--format", "plain")
    assert r.code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_plot_is_drawn_for_a_fit_that_did_not_converge_too(data, tmp_path):
    path = tmp_path / "loss.svg"
    r = invoke("fit", LOGISTIC, "--data", data, "--method", "gd", "--steps", "3", "--plot",
               str(path))
    assert r.code == 1 and path.exists()


def test_without_matplotlib_the_error_says_how_to_install_it(data, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    r = invoke("fit", LOGISTIC, "--data", data, "--plot", str(tmp_path / "x.svg"))
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == ("Error: --plot needs matplotlib, which is not installed\n"
                        "install it with: pip install '.[plot]' in adiff's folder (the plot "
                        "extra), or pip install matplotlib\n")
    assert list(tmp_path.iterdir()) == []


def test_the_renderer_says_the_same_when_the_import_fails(monkeypatch):
    import sys

    from autodiff_cli.errors import InputError
    from autodiff_cli.render import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError) as err:
        plot._matplotlib()
    assert err.value.message == "--plot needs matplotlib, which is not installed"
    assert err.value.hint == ("install it with: pip install '.[plot]' in adiff's folder (the plot "
                              "extra), or pip install matplotlib")


def test_a_plot_that_cannot_be_written(data, tmp_path):
    target = tmp_path / "nowhere" / "loss.svg"
    r = invoke("fit", LOGISTIC, "--data", data, "--plot", str(target))
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == f"Error: cannot write {target} (--plot): No such file or directory\n"


# ---------------------------------------------------------------- the plot in the table

def test_terminal_plot_lines():
    from autodiff_cli.render.fit import plot_lines

    lines, log = plot_lines([4.0, 2.0, 1.0, 1.0], room=40, rows=4)
    assert log is False
    assert ["".join(pair) for pair in lines] == [
        "4 ┤" + "█" * 7,
        "  │" + "█" * 7,
        "  │" + "█" * 7 + "▃" * 7,
        "1 ┤" + "█" * 14 + "▁" * 14,
        "  └" + "─" * 28,
        "   " + "0" + " " * 20 + "3  step",
    ]


def test_terminal_plot_of_many_steps_and_a_log_scale():
    from autodiff_cli.render.fit import PLOT_COLUMNS, plot_lines

    losses = [10.0 ** -k for k in range(0, 300)]
    lines, log = plot_lines(losses, room=200)
    assert log is True
    bars = [b for _, b in lines[:-2]]
    assert max(len(b) for b in bars) == PLOT_COLUMNS
    assert lines[0][0].split()[0] == "1" and lines[7][0].split()[0] == "1e-299"
    # log scale, falling steadily: each row's bars end further right than the row above's
    widths = [len(b) for b in bars]
    assert widths == sorted(widths)
    assert lines[-1][1].split() == ["0", "299", "step"]


def test_terminal_plot_in_ascii_when_the_output_cannot_show_blocks(monkeypatch):
    from autodiff_cli.render import fit as render_fit

    monkeypatch.setattr(render_fit, "_ascii", lambda: True)
    lines, _ = render_fit.plot_lines([4.0, 2.0, 1.0, 1.0], room=40, rows=4)
    text = "\n".join("".join(pair) for pair in lines)
    assert text.isascii()
    assert lines[0] == ("4 +", "#" * 7)
    assert lines[4] == ("  +", "-" * 28)


def test_no_plot_for_a_fit_of_no_step(data):
    r = invoke("fit", LOGISTIC, "--data", data, "--steps", "0")
    assert r.code == 1
    assert "Loss curve" not in r.stdout


def test_table_on_an_ascii_output_draws_the_curve_in_ascii(data):
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PYTHONIOENCODING": "ascii",
           "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-m", "autodiff_cli", "fit", LOGISTIC, "--data", data,
                           "--method", "gd", "--lr", "0.01"], capture_output=True, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("ascii")  # every byte ASCII
    curve = text.split("Loss curve: L at each step (linear scale)\n")[1].splitlines()
    assert "+ #" in curve[0] and curve[8].strip().startswith("+ ---")
    assert " -> " in text  # the arrow, in ASCII
