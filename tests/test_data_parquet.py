"""--data FILE.parquet (issue 14): row groups read in chunks, the used columns only; nulls,
non-finite values and non-numeric columns are input errors naming the file and the row."""

from __future__ import annotations

import decimal
import math
import pickle

import numpy as np
import pytest

from autodiff_cli.data.reader import DataFile, InputError, Part, read_part

from .conftest import invoke

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

LOSS = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
THETA = {"t0": 0.2, "t1": -1.1, "t2": 0.7}
AT = ",".join(f"{k}={v}" for k, v in THETA.items())


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def logistic(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 + 2 * x1 - x2)))).astype(np.float64)
    return {"x1": x1, "x2": x2, "y": y}


def by_hand(cols) -> tuple[float, dict[str, float]]:
    """The loss and its gradient in plain Python floats, summed exactly (the oracle)."""
    value, g = [], {k: [] for k in THETA}
    for x1, x2, y in zip(cols["x1"].tolist(), cols["x2"].tolist(), cols["y"].tolist()):
        z = THETA["t0"] + THETA["t1"] * x1 + THETA["t2"] * x2
        p = 1 / (1 + math.exp(-z))
        value.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
        for k, x in (("t0", 1.0), ("t1", x1), ("t2", x2)):
            g[k].append((p - y) * x)
    return math.fsum(value), {k: math.fsum(v) for k, v in g.items()}


def write(path, columns, **kw) -> str:
    pq.write_table(pa.table(columns), str(path), **kw)
    return str(path)


def grad(*args):
    r = invoke("grad", *args, "--format", "json")
    assert r.code == 0, r
    return r.json()


@pytest.mark.parametrize("group, chunk", [(None, "100000"), (997, "1000"), (250, "7")])
def test_the_gradient_over_a_parquet_file_equals_the_hand_computation(tmp_path, group, chunk):
    cols = logistic(5003)
    path = write(tmp_path / "d.parquet", {**cols, "note": [f"r{k}" for k in range(5003)]},
                 row_group_size=group)
    doc = grad(LOSS, "--data", path, "--at", AT, "--chunk-size", chunk, "--no-check")
    value, gradient = by_hand(cols)
    assert doc["data"]["rows"] == 5003 and doc["data"]["file"] == path
    assert doc["data"]["delimiter"] is None
    assert rel(doc["value"], value) < 1e-12
    for k in THETA:
        assert rel(doc["gradient"][k], gradient[k]) < 1e-11, k


def test_parquet_and_csv_of_the_same_rows_agree(tmp_path):
    cols = logistic(800, seed=4)
    path = write(tmp_path / "d.parquet", cols, row_group_size=300)
    text = "x1,x2,y\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in
                                 zip(*(cols[k].tolist() for k in ("x1", "x2", "y"))))
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    a = grad(LOSS, "--data", path, "--at", AT, "--per-example")
    b = grad(LOSS, "--data", str(tmp_path / "d.csv"), "--at", AT, "--per-example")
    assert a["value"] == b["value"] and a["gradient"] == b["gradient"]
    assert [e["data"] for e in a["examples"]] == [e["data"] for e in b["examples"]]
    # A Parquet file has rows, not lines: "line" is the row within the file.
    assert [e["row"] for e in a["examples"]] == list(range(1, 801))
    assert [e["line"] for e in a["examples"]] == list(range(1, 801))


def test_chunks_follow_the_chunk_size_across_row_groups(tmp_path):
    path = write(tmp_path / "d.parquet", {"x": np.arange(1000.0)}, row_group_size=300)
    data = DataFile(path, chunk_rows=128)
    assert data.rows == 1000 and data.kind == "parquet"
    chunks = list(data.chunks(["x"]))
    assert all(c.rows <= 128 for c in chunks) and sum(c.rows for c in chunks) == 1000
    assert np.concatenate([c.columns["x"] for c in chunks]).tolist() == list(range(1000))
    assert [c.first for c in chunks] == list(np.cumsum([0] + [c.rows for c in chunks[:-1]]))
    assert chunks[-1].row_text(0) == f"row {chunks[-1].first + 1:,} of {path}"


@pytest.mark.parametrize("column, value", [
    (pa.array([1, 2, 3], pa.int64()), 6.0),
    (pa.array([1, 2, 3], pa.uint8()), 6.0),
    (pa.array([True, False, True]), 2.0),
    (pa.array([0.5, 1.5, 2.0], pa.float32()), 4.0),
    (pa.array(np.array([0.5, 1.5, 2.0], np.float16())), 4.0),
    (pa.array([decimal.Decimal("0.25"), decimal.Decimal("1.5"), decimal.Decimal("2")]), 3.75),
    (pa.array([1.0, 2.0, 1.0]).dictionary_encode(), 4.0),
])
def test_numeric_columns_of_every_kind_are_read_as_float64(tmp_path, column, value):
    path = write(tmp_path / "d.parquet", {"x": column})
    assert grad("a*x", "--data", path, "--at", "a=1")["value"] == value


def test_a_null_in_a_used_column_names_the_file_and_the_row(tmp_path):
    x = [float(k) for k in range(10)]
    x[7] = None
    path = write(tmp_path / "d.parquet", {"x": x, "y": [1.0] * 10}, row_group_size=4)
    r = invoke("grad", "a*x + y", "--data", path, "--at", "a=1", "--chunk-size", "3")
    assert r.code == 2 and r.stdout == ""
    assert r.stderr == (f"Error: {path}: row 8: the cell of column x is empty (null)\n"
                        "every cell the formula uses must hold a number\n")
    # In a column the formula does not use, a null is fine.
    assert grad("a*y", "--data", path, "--at", "a=1")["value"] == 10.0


@pytest.mark.parametrize("bad, shown", [(math.nan, "nan"), (math.inf, "inf"),
                                        (-math.inf, "-inf")])
def test_a_non_finite_value_names_the_file_and_the_row(tmp_path, bad, shown):
    path = write(tmp_path / "d.parquet", {"x": [1.0, 2.0, 3.0, bad, 5.0]}, row_group_size=2)
    r = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert r.code == 2
    assert r.stderr == f"Error: {path}: row 4: {shown} in column x is not a finite number\n"


def test_a_text_column_the_formula_uses_is_an_input_error(tmp_path):
    path = write(tmp_path / "d.parquet", {"x": ["1", "2"], "y": [1.0, 2.0],
                                          "t": pa.array([0, 1], pa.timestamp("s"))})
    r = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert r.code == 2
    assert r.stderr == (f"Error: {path}: column x holds string values, not numbers\n"
                        "every column the formula uses must be numeric\n")
    r = invoke("grad", "a*t", "--data", path, "--at", "a=1")
    assert r.code == 2 and "column t holds timestamp[" in r.stderr  # Parquet keeps ms
    assert grad("a*y", "--data", path, "--at", "a=1")["value"] == 3.0


def test_a_missing_column_lists_the_parquet_columns(tmp_path):
    path = write(tmp_path / "d.parquet", {"x1": [1.0], "x2": [2.0]})
    r = invoke("grad", "a*x1 + y", "--data", path, "--at", "a=1")
    assert r.code == 2
    assert f"the formula needs 'y', which is neither a column of {path} (its columns: x1, x2)" \
        in r.stderr


def test_what_is_not_parquet_says_so(tmp_path):
    fake = tmp_path / "d.parquet"
    fake.write_text("x\n1\n", encoding="utf-8")
    r = invoke("grad", "a*x", "--data", str(fake), "--at", "a=1")
    assert r.code == 2
    assert r.stderr.startswith(f"Error: cannot read {fake}: not a Parquet file (")
    r = invoke("grad", "a*x", "--data", str(tmp_path / "none.parquet"), "--at", "a=1")
    assert r.code == 2 and r.stderr == f"Error: cannot read {tmp_path}/none.parquet: no such file\n"
    # A Parquet file named otherwise is read as Parquet (its magic number says so).
    path = write(tmp_path / "d.bin", {"x": [1.0, 2.0]})
    assert grad("a*x", "--data", path, "--at", "a=1")["value"] == 3.0
    # Text that merely starts like Parquet is text.
    (tmp_path / "par.csv").write_text("PAR1,x\n1,2\n", encoding="utf-8")
    assert grad("a*PAR1", "--data", str(tmp_path / "par.csv"), "--at", "a=1")["value"] == 1.0
    # Standard input is CSV or TSV only.
    r = invoke("grad", "a*x", "--data", "-", "--at", "a=1",
               input=open(path, "rb").read())
    assert r.code == 2
    assert r.stderr == ("Error: <stdin>:1:1: this is a Parquet file: standard input can only be "
                        "CSV or TSV\ngive the file's name to --data\n")


def test_a_corrupt_row_group_is_an_input_error(tmp_path):
    path = write(tmp_path / "d.parquet", {"x": np.arange(10_000.0)}, row_group_size=5000)
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle:middle + 2000] = b"\x07" * 2000
    open(path, "wb").write(bytes(data))
    r = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert r.code == 2, r
    assert r.stderr.startswith(f"Error: cannot read {path}")


def test_an_empty_parquet_file(tmp_path):
    path = write(tmp_path / "d.parquet", {"x": pa.array([], pa.float64())})
    r = invoke("grad", "a*x", "--data", path, "--at", "a=1")
    assert r.code == 2
    assert r.stderr == f"Error: {path}: the Parquet file has no rows\neach row is one example\n"


# ---------------------------------------------------------------- globs of parts

def test_a_glob_of_parquet_parts_numbers_rows_across_the_files(tmp_path):
    parts = [logistic(n, seed=k) for k, n in enumerate((300, 0, 451, 12))]
    (tmp_path / "data").mkdir()
    for k, cols in enumerate(parts):
        write(tmp_path / "data" / f"part-{k}.parquet", cols, row_group_size=100)
    pattern = str(tmp_path / "data" / "part-*.parquet")
    doc = grad(LOSS, "--data", pattern, "--at", AT, "--chunk-size", "64", "--no-check")
    whole = {k: np.concatenate([p[k] for p in parts]) for k in ("x1", "x2", "y")}
    value, gradient = by_hand(whole)
    assert doc["data"]["rows"] == 763 and doc["data"]["file"] == pattern
    assert rel(doc["value"], value) < 1e-12
    assert all(rel(doc["gradient"][k], gradient[k]) < 1e-11 for k in THETA)
    data = DataFile(pattern)
    assert data.rows == 763 and len(data.files) == 4
    assert [(p.row_group, p.file_first, p.rows) for p in data.parts()] == \
        [(0, 0, 100), (1, 100, 100), (2, 200, 100), (0, 0, 100), (1, 100, 100), (2, 200, 100),
         (3, 300, 100), (4, 400, 51), (0, 0, 12)]


def test_an_error_in_a_later_part_names_that_file_and_its_row(tmp_path):
    write(tmp_path / "p0.parquet", {"x": [1.0, 2.0, 3.0]})
    write(tmp_path / "p1.parquet", {"x": [4.0, 0.0, 6.0]}, row_group_size=1)
    pattern = str(tmp_path / "p*.parquet")
    r = invoke("grad", "log(x*a)", "--data", pattern, "--at", "a=1")
    assert r.code == 3
    assert r.stderr.splitlines()[0] == (f"Error: log is not defined at x*a = 0 (row 2 of "
                                        f"{tmp_path}/p1.parquet): it needs x > 0 (at node n3)")
    write(tmp_path / "p1.parquet", {"x": [4.0, None, 6.0]}, row_group_size=1)
    r = invoke("grad", "log(x*a)", "--data", pattern, "--at", "a=1")
    assert r.code == 2
    assert r.stderr.startswith(f"Error: {tmp_path}/p1.parquet: row 2: the cell of column x is "
                               "empty (null)")


@pytest.mark.parametrize("second, words", [
    ({"x": [1.0]}, "it has no column 'y'"),
    ({"y": [1.0], "x": [2.0]}, "it has the same columns in another order"),
])
def test_parts_with_other_columns_are_refused(tmp_path, second, words):
    write(tmp_path / "p0.parquet", {"x": [1.0], "y": [2.0]})
    write(tmp_path / "p1.parquet", second)
    pattern = str(tmp_path / "p*.parquet")
    r = invoke("grad", "a*x", "--data", pattern, "--at", "a=1")
    assert r.code == 2
    assert r.stderr == (f"Error: {tmp_path}/p1.parquet: {words}: every file that --data "
                        f"'{pattern}' matches needs the columns of the first, "
                        f"{tmp_path}/p0.parquet (x, y), in the same order\n")


def test_a_glob_may_mix_csv_and_parquet(tmp_path):
    write(tmp_path / "a.parquet", {"x": [1.0, 2.0], "y": pa.array([3, 4], pa.int32())})
    (tmp_path / "b.csv").write_text("x,y\n5,6\n", encoding="utf-8")
    doc = grad("a*x + y", "--data", str(tmp_path / "[ab].*"), "--at", "a=2")
    assert doc["value"] == 2 * 8 + 13 and doc["data"]["rows"] == 3


def test_a_row_group_read_alone_in_another_process(tmp_path):
    path = write(tmp_path / "d.parquet", {"x": np.arange(10.0), "s": ["a"] * 10},
                 row_group_size=4)
    parts = [pickle.loads(pickle.dumps(p)) for p in DataFile(path).parts()]
    assert parts[1] == Part(path, "parquet", 1, 4, 4)
    chunks = list(read_part(parts[1], ["x"], chunk_rows=3))
    assert [c.columns["x"].tolist() for c in chunks] == [[4.0, 5.0, 6.0], [7.0]]
    assert [(c.first, c.file_first, c.line) for c in chunks] == [(4, 4, 5), (7, 7, 8)]
    assert chunks[1].row_text(0) == f"row 8 of {path}"
    with pytest.raises(InputError, match="column s holds string values"):
        list(read_part(parts[0], ["s"]))
