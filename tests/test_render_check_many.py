"""`adiff check` over more points than a table keeps: counts and point numbers stay the run's."""

from __future__ import annotations

import re

ARGS = ("check", "x^2", "--expect", "x=2*x + relu(x-0.9)", "--samples", "3000", "--range", "x=-1:1")


def test_a_big_run_counts_every_row_and_numbers_points_as_the_run_did(run):
    full = run(*ARGS, "--format", "json")
    assert full.code == 1
    doc = full.json()
    failing = doc["summary"]["gradients"] - doc["summary"]["ok"]
    assert doc["summary"]["points"] == 3000 and 100 < failing < 250

    table = run(*ARGS, env={"COLUMNS": "120"})
    assert table.code == 1
    assert f"Check: the {failing} failing of 3,000 rows, worst first" in table.stdout
    assert f"{failing - 40:,} more rows not shown: use --format json" in table.stdout
    # each row's "#" is the point's number in the run, with that point's x
    shown = re.findall(r"^\s*(\d+)\s+x=(-?[\d.]+)\s", table.stdout, flags=re.M)
    assert len(shown) == 40
    for index, x in shown:
        assert round(doc["cases"][int(index) - 1]["at"]["x"], 4) == float(x)


def test_plain_streams_every_row_in_point_order(run):
    result = run(*ARGS, "--format", "plain")
    assert result.code == 1
    points = [int(line.split("\t")[1]) for line in result.stdout.splitlines()
              if not line.startswith("#")]
    assert points == list(range(1, 3001))
    assert result.stdout.endswith("# ok\tfalse\n# skipped\t0\n")
