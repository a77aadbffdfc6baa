"""--data CSV and TSV through Apache Arrow (issue 14): the same values and the same messages as
the precise cell-by-cell pass, at every block boundary; globs of files; reading ahead."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodiff_cli.data import reader
from autodiff_cli.data.reader import DataFile, InputError, Part, read_part

from .conftest import ROOT, invoke


def write(path, content) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return str(path)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def read_all(path: str, names, chunk_rows: int = 1000, delimiter=None):
    """Every chunk's columns concatenated, or the InputError's message."""
    try:
        data = DataFile(path, delimiter, chunk_rows)
        chunks = list(data.chunks(names))
    except InputError as exc:
        return exc.message
    cols = {n: np.concatenate([c.columns[n] for c in chunks]) if chunks else np.empty(0)
            for n in names}
    return cols, [(c.first, c.line, c.rows) for c in chunks]


def same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a[1] == b[1] and all(np.array_equal(a[0][k], b[0][k]) for k in a[0])


# ---------------------------------------------------------------- Arrow against the precise pass

CELL_USED = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.6e}"),
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["0", "-0", "+1", ".5", "5.", "1E+05", "1e-320", " 2.5", "2.5 ", "\t3",
                     '"1.5"', '" 7 "', "", " ", "abc", "nan", "-inf", "Infinity", "1e999",
                     "0x10", "1_000", "1d5", "٣", "\xa01", '"2"x', '"2', "2\r3", "--1", "1e"]),
)
CELL_UNUSED = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters='"\n\r,\x00'), max_size=6),
    st.sampled_from(['"a,b"', '"say ""hi"""', '""', "é", "\t", "\x00", "a\rb", '"a"b', 'a"b',
                     '"abc', '"a" ', '"x"y"z']),
)


@st.composite
def csv_files(draw):
    lines = ["x,y,s"]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row"] * 12 + ["blank", "short", "long"]))
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
            continue
        cells = [draw(CELL_USED), draw(CELL_USED), draw(CELL_UNUSED)]
        if kind == "short":
            cells.pop(draw(st.integers(0, 2)))
        elif kind == "long":
            cells.append(draw(CELL_UNUSED))
        lines.append(",".join(cells))
    ends = [draw(st.sampled_from(["\n", "\n", "\r\n"])) for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    text += draw(st.sampled_from(["", "", "\n", "\n\n", " \n"]))
    data = text.encode("utf-8")
    if draw(st.integers(0, 20)) == 0:  # a byte that is not UTF-8, somewhere after the header
        k = draw(st.integers(len(lines[0]) + 1, max(len(lines[0]) + 1, len(data))))
        data = data[:k] + b"\xff" + data[k:]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=csv_files(), read=st.sampled_from([1, 5, 17, 64, 1 << 20]),
       chunk=st.sampled_from([1, 2, 3, 1000]))
def test_arrow_reads_exactly_what_the_precise_pass_reads(tmp_path_factory, data, read, chunk):
    # The precise pass is the reference: every block through it alone must give the same
    # values, chunks and messages as Arrow with the precise pass behind it.
    path = write(tmp_path_factory.mktemp("d") / "d.csv", data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reader, "_READ", read)
        fast = read_all(path, ["x", "y"], chunk)
        mp.setattr(reader._ArrowCsv, "read", lambda self, data, n, names: None)
        precise = read_all(path, ["x", "y"], chunk)
    assert same(fast, precise), (fast, precise)


def test_valid_rows_equal_pythons_csv_module(tmp_path):
    rng = np.random.default_rng(7)
    values = rng.standard_normal((3000, 2)) * 10.0 ** rng.integers(-300, 300, (3000, 2))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["x", "label", "y"])
    for k, (x, y) in enumerate(values):
        w.writerow([repr(float(x)), f"row, {k} \"q\"" if k % 7 == 0 else f"r{k}", f"{y:.17g}"])
    path = write(tmp_path / "d.csv", out.getvalue())
    oracle = list(csv.DictReader(io.StringIO(out.getvalue())))
    for chunk in (1, 999, 100_000):
        cols, chunks = read_all(path, ["x", "y"], chunk)
        assert cols["x"].tolist() == [float(r["x"]) for r in oracle]
        assert cols["y"].tolist() == [float(r["y"]) for r in oracle]
        assert sum(rows for _, _, rows in chunks) == 3000


@pytest.mark.parametrize("read", [3, 50, 1 << 20])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_chunks_have_exactly_chunk_size_rows_numbered_by_line(tmp_path, read, chunk, monkeypatch):
    monkeypatch.setattr(reader, "_READ", read)
    path = write(tmp_path / "d.csv", "x\n" + "".join(f"{k}\n" for k in range(1, 2001)))
    chunks = list(DataFile(path, chunk_rows=chunk).chunks(["x"]))
    assert [c.rows for c in chunks[:-1]] == [chunk] * (len(chunks) - 1)
    assert 0 < chunks[-1].rows <= chunk
    for c in chunks:
        assert c.line == c.first + 2 and c.file_first == c.first
        assert c.columns["x"].tolist() == list(range(c.first + 1, c.first + c.rows + 1))
        assert c.row_text(0) == f"row {c.first + 1:,} of {path}, line {c.first + 2:,}"


@pytest.mark.parametrize("read", [4, 64, 1 << 20])
def test_a_bad_cell_on_any_line_is_named_at_its_line_and_column(tmp_path, read, monkeypatch):
    monkeypatch.setattr(reader, "_READ", read)
    for bad in (2, 3, 40, 199, 201):
        lines = ["x,y"] + [f"{k},{k * 0.5}" for k in range(1, 201)]
        lines[bad - 1] = lines[bad - 1].split(",")[0] + ",x1"
        path = write(tmp_path / f"d{bad}.csv", "\n".join(lines) + "\n")
        r = invoke("grad", "a*x + y", "--data", path, "--at", "a=1", "--chunk-size", "16")
        assert r.code == 2, r
        col = len(lines[bad - 1].split(",")[0]) + 2
        assert r.stderr == f"Error: {path}:{bad}:{col}: 'x1' in column y is not a number\n"


def test_a_line_longer_than_a_block_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_READ", 1000)
    n = 3000  # a 9 KB header and rows: each line spans several reads
    header = ",".join(f"c{k}" for k in range(n))
    row = ",".join(str(k % 10) for k in range(n))
    path = write(tmp_path / "wide.csv", f"{header}\n{row}\n{row}\n")
    cols, _ = read_all(path, ["c0", "c1234", f"c{n - 1}"])
    assert cols["c1234"].tolist() == [4.0, 4.0] and cols[f"c{n - 1}"].tolist() == [9.0, 9.0]


@pytest.mark.parametrize("content, where, words", [
    # A carriage return alone is not a line end: the cell holds it (Arrow would start a row).
    ("x,y\n1,2\r3\n", "2:3", "'2\\r3' in column y is not a number"),
    # A quoted line end inside an unused column: the quote is not closed on its line.
    ('x,y,s\n1,2,"a\nb"\n3,4,c\n', "2:5", "a quoted cell is not closed"),
    # The last line's quote is never closed (Arrow would read to the end of the block).
    ('x,y,s\n1,2,ok\n3,4,"abc\n', "3:5", "a quoted cell is not closed"),
    ('x,y,s\n1,2,ok\n3,4,"abc', "3:5", "a quoted cell is not closed"),
    ("x,y\n1,2\n\n\n3,4\n", "3:1", "blank line inside the data (before line 5)"),
    ("x,y\n1,2\n \n", "", ""),  # a trailing blank line of spaces: fine
    ("x,y\n1,2\n3,+inf\n", "3:3", "'+inf' in column y is not a finite number"),
    ("x,y\n1,2\n3,NaN\n", "3:3", "'NaN' in column y is not a finite number"),
    ("x,y\n1,2\n3,-1e400\n", "3:3", "'-1e400' in column y is too large"),
    ('x,y\n1,"2"x\n', "2:6", "text after the closing quote of a cell"),
    ('x,y,s\n1,2,"a" \n3,4,"b"c"\n', "", ""),  # an unused cell is read as Arrow reads it
    ("x,y\n1, \n", "2:3", "the cell of column y is empty"),
])
def test_what_arrow_would_read_otherwise_gets_the_precise_message(tmp_path, content, where, words):
    path = write(tmp_path / "d.csv", content)
    r = invoke("grad", "a*x + y", "--data", path, "--at", "a=1", "--format", "json")
    if not where:
        assert r.code == 0 and r.json()["value"] in (3.0, 10.0), r
        return
    assert r.code == 2, r
    assert r.stdout == ""
    assert r.stderr.startswith(f"Error: {path}:{where}: {words}"), r.stderr


def test_a_blank_line_in_a_one_column_file_the_formula_does_not_use(tmp_path):
    # Arrow reads a blank line of a one-column file as a row with one empty cell.
    path = write(tmp_path / "d.csv", "x\n1\n\n2\n")
    r = invoke("grad", "t^2", "--data", path, "--at", "t=1")
    assert r.code == 2
    assert r.stderr.splitlines()[1:] == [f"Error: {path}:3:1: blank line inside the data (before "
                                         "line 4)", "remove it: blank lines may only end the file"]
    path = write(tmp_path / "ok.csv", "x\n1\n2\n\n")
    r = invoke("grad", "t^2", "--data", path, "--at", "t=3", "--format", "json")
    assert r.code == 0 and r.json()["value"] == 18.0 and r.json()["data"]["rows"] == 2


@pytest.mark.parametrize("text, value", [
    ("x,y\n 1 , 2.5 \n", 3.5),  # spaces around numbers
    ("x,y\n+1,.5\n", 1.5),
    ("x,y\n1.,-0\n", 1.0),
    ("x,y\n1E+02,1e-2\n", 100.01),
    ('x,y\n"1","2"\n', 3.0),
    ('x,"y"\r\n1,2\r\n', 3.0),
    ("\ufeffx;y\n1;2\n", 3.0),
])
def test_numbers_and_quotes_as_before(tmp_path, text, value):
    args = ("--delimiter", ";") if ";" in text else ()
    path = write(tmp_path / "d.csv", text)
    r = invoke("grad", "x + y*a", "--data", path, "--at", "a=1", "--format", "json", *args)
    assert r.code == 0, r
    assert r.json()["value"] == value


def test_an_unused_column_may_hold_malformed_quotes_or_text(tmp_path):
    # Only the used columns are converted: an unused column's cells are never looked at
    # (the reader before Arrow refused the first of these).
    path = write(tmp_path / "d.csv", 'x,s\n1,"ann"x\n2,a"b\n3,"q, ""r"""\n')
    r = invoke("grad", "a*x", "--data", path, "--at", "a=1", "--format", "json")
    assert r.code == 0, r
    assert r.json()["value"] == 6.0


def test_tsv_and_other_delimiters(tmp_path):
    path = write(tmp_path / "d.tsv", "x\ty\n1\t2\n3\t4\n")
    assert invoke("grad", "a*x+y", "--data", path, "--at", "a=1", "--format", "json").json()[
        "value"] == 10.0
    path = write(tmp_path / "d.txt", "x|y\n1|2\n")
    r = invoke("grad", "a*x+y", "--data", path, "--at", "a=1", "--delimiter", "pipe",
               "--format", "json")
    assert r.code == 0 and r.json()["value"] == 3.0 and r.json()["data"]["delimiter"] == "|"
    r = invoke("grad", "a*x+y", "--data", path, "--at", "a=1", "--delimiter", "§")
    assert r.code == 2
    assert r.stderr.startswith("Error: --delimiter '§': the delimiter must be an ASCII character")


# ---------------------------------------------------------------- globs

def _parts(tmp_path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        write(p, text)


def test_a_glob_reads_its_files_in_sorted_order_with_rows_numbered_across_them(tmp_path):
    _parts(tmp_path, {"logs/b.csv": "x,y\n3,4\n5,6\n", "logs/a.csv": "x,y\n1,2\n",
                      "logs/c.csv": "x,y\n", "logs/sub.csv/x.csv": "x,y\n9,9\n",
                      "logs/notes.txt": "not data"})
    pattern = str(tmp_path / "logs" / "*.csv")
    data = DataFile(pattern, chunk_rows=1)
    assert data.files == [str(tmp_path / "logs" / n) for n in ("a.csv", "b.csv", "c.csv")]
    chunks = list(data.chunks(["x"]))
    assert [(c.first, c.file_first, c.line, c.columns["x"].tolist()) for c in chunks] == \
        [(0, 0, 2, [1.0]), (1, 0, 2, [3.0]), (2, 1, 3, [5.0])]
    assert chunks[2].row_text(0) == f"row 2 of {tmp_path}/logs/b.csv, line 3"
    r = invoke("grad", "t*x + y", "--data", pattern, "--at", "t=2", "--per-example",
               "--format", "json")
    assert r.code == 0, r
    doc = r.json()
    assert doc["value"] == 2 * 9 + 12 and doc["gradient"] == {"t": 9.0}
    assert doc["data"]["rows"] == 3 and doc["data"]["file"] == pattern
    assert [e["row"] for e in doc["examples"]] == [1, 2, 3]
    assert [e["line"] for e in doc["examples"]] == [2, 2, 3]
    # ** spans folders.
    deep = DataFile(str(tmp_path / "logs" / "**" / "*.csv"))
    assert deep.files[-1] == str(tmp_path / "logs" / "sub.csv" / "x.csv")


def test_errors_name_the_file_and_the_line_within_it(tmp_path):
    _parts(tmp_path, {"a.csv": "x,y\n1,2\n3,4\n", "b.csv": "x,y\n5,6\n7,oops\n"})
    pattern = str(tmp_path / "*.csv")
    r = invoke("grad", "t*x + y", "--data", pattern, "--at", "t=1")
    assert r.code == 2
    assert r.stderr == f"Error: {tmp_path}/b.csv:3:3: 'oops' in column y is not a number\n"
    _parts(tmp_path, {"b.csv": "x,y\n5,6\n0,1\n"})
    r = invoke("grad", "log(x) + y*t", "--data", pattern, "--at", "t=1")
    assert r.code == 3
    assert r.stderr.splitlines()[0] == (f"Error: log is not defined at x = 0 (row 2 of "
                                        f"{tmp_path}/b.csv, line 3): it needs x > 0 (at node n1)")


@pytest.mark.parametrize("second, words", [
    ("x\n5\n", "it has no column 'y'"),
    ("x,y,z\n5,6,7\n", "it has a column 'z' that"),
    ("y,x\n5,6\n", "it has the same columns in another order"),
])
def test_files_of_a_glob_need_the_columns_of_the_first(tmp_path, second, words):
    _parts(tmp_path, {"a.csv": "x,y\n1,2\n", "b.csv": second})
    pattern = str(tmp_path / "*.csv")
    r = invoke("grad", "t*x", "--data", pattern, "--at", "t=1")
    assert r.code == 2
    assert r.stderr == (f"Error: {tmp_path}/b.csv:1:1: {words}"
                        + ("" if "that" not in words else f" {tmp_path}/a.csv has not")
                        + f": every file that --data '{pattern}' matches needs the columns of the "
                        f"first, {tmp_path}/a.csv (x, y), in the same order\n")


def test_a_glob_that_matches_nothing_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "part-*.csv")
    r = invoke("grad", "t*x", "--data", pattern, "--at", "t=1")
    assert r.code == 2
    assert r.stdout == ""
    assert r.stderr == (f"Error: --data '{pattern}': no file matches the pattern\n"
                        "adiff expands the pattern itself (quote it so the shell does not); check "
                        "the folder and the file names\n")


def test_a_file_whose_name_looks_like_a_glob_is_that_file(tmp_path):
    _parts(tmp_path, {"d[1].csv": "x\n2\n", "d1.csv": "x\n100\n"})
    assert DataFile(str(tmp_path / "d[1].csv")).files == [str(tmp_path / "d[1].csv")]
    r = invoke("grad", "t*x", "--data", str(tmp_path / "d[1].csv"), "--at", "t=1",
               "--format", "json")
    assert r.json()["value"] == 2.0


def test_empty_files_in_a_glob_are_fine_but_not_all_of_them(tmp_path):
    _parts(tmp_path, {"a.csv": "x\n", "b.csv": "x\n"})
    pattern = str(tmp_path / "*.csv")
    r = invoke("grad", "t*x", "--data", pattern, "--at", "t=1")
    assert r.code == 2
    assert r.stderr == (f"Error: --data '{pattern}': the 2 files it matches have no rows\n"
                        "each row is one example\n")
    _parts(tmp_path, {"c.csv": "x\n4\n"})
    assert invoke("grad", "t*x", "--data", pattern, "--at", "t=1", "--format", "json").json()[
        "value"] == 4.0


def test_a_glob_over_many_files_keeps_one_open_at_a_time(tmp_path):
    files = {f"p{k:04d}.csv": f"x\n{k}\n" for k in range(300)}
    _parts(tmp_path, files)
    before = len(os.listdir("/proc/self/fd"))
    data = DataFile(str(tmp_path / "p*.csv"), chunk_rows=1000)
    assert len(os.listdir("/proc/self/fd")) - before <= 1
    total = sum(float(c.columns["x"].sum()) for c in data.chunks(["x"]))
    assert total == sum(range(300))
    assert len(os.listdir("/proc/self/fd")) - before <= 0


# ---------------------------------------------------------------- parts, for other engines

def test_parts_read_alone_give_the_same_chunks(tmp_path):
    import pickle

    _parts(tmp_path, {"a.csv": "x,y\n1,2\n3,4\n", "b.tsv": "x\ty\n5\t6\n"})
    data = DataFile(str(tmp_path / "[ab].*"))
    parts = data.parts()
    assert parts == [Part(str(tmp_path / "a.csv"), "csv"), Part(str(tmp_path / "b.tsv"), "csv")]
    again = [pickle.loads(pickle.dumps(p)) for p in parts]
    got = [c for p in again for c in read_part(p, ["y", "x"])]
    assert [c.columns["y"].tolist() for c in got] == [[2.0, 4.0], [6.0]]
    assert [(c.first, c.line) for c in got] == [(0, 2), (0, 2)]
    chunk = pickle.loads(pickle.dumps(got[0]))
    assert chunk.row_text(1) == f"row 2 of {tmp_path}/a.csv, line 3"
    with pytest.raises(InputError, match=r"b\.tsv:1:1: the file has no column 'z'"):
        list(read_part(parts[1], ["z"]))
    _parts(tmp_path, {"b.tsv": "x\ty\n5\tq\n"})
    with pytest.raises(InputError, match=r"b\.tsv:2:3: 'q' in column y is not a number"):
        list(read_part(parts[1], ["y"]))


# ---------------------------------------------------------------- memory

_PEAK = """
import sys, tracemalloc
import pyarrow as pa
from autodiff_cli.data import reader
reader._READ = 1 << 16
data = reader.DataFile(sys.argv[1], chunk_rows=2000)
tracemalloc.start()
rows = sum(c.rows for c in data.chunks(["x1", "x2", "y"]))
print(rows, tracemalloc.get_traced_memory()[1] + pa.default_memory_pool().max_memory())
"""


def test_memory_is_bounded_by_the_chunk_and_the_block_not_the_file(tmp_path):
    # Python's allocations (tracemalloc) and Arrow's (its pool's peak), in a fresh process.
    peaks = {}
    for n in (50_000, 400_000):
        path = write(tmp_path / f"d{n}.csv", "x1,x2,y\n" + "".join(
            f"{k * 0.001:.6f},{-k * 0.002:.6f},{k % 2}\n" for k in range(n)))
        proc = subprocess.run([sys.executable, "-c", _PEAK, path], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        rows, peaks[n] = map(int, proc.stdout.split())
        assert rows == n
    # 400,000 rows hold 9.6 MB of values: none of it may stay behind.
    assert peaks[400_000] < 1.25 * peaks[50_000] + (64 << 10), peaks
    assert peaks[400_000] < 2 << 20, peaks


# ---------------------------------------------------------------- reading ahead

def _reader_threads():
    return [t for t in threading.enumerate() if t.name == "adiff-data-reader"]


def test_leaving_a_pass_early_stops_the_reader_thread(tmp_path):
    path = write(tmp_path / "d.csv", "x\n" + "1\n" * 50_000)
    data = DataFile(path, chunk_rows=10)
    for k, _ in enumerate(data.chunks(["x"])):
        if k == 3:
            break
    deadline = time.monotonic() + 5
    while _reader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _reader_threads()


def test_an_evaluation_error_mid_file_still_names_its_row(tmp_path):
    rows = ["x"] + ["2"] * 30_000 + ["-1"] + ["2"] * 30_000
    path = write(tmp_path / "d.csv", "\n".join(rows) + "\n")
    r = invoke("grad", "log(x*t)", "--data", path, "--at", "t=1", "--chunk-size", "1000")
    assert r.code == 3
    assert "(row 30,001 of " in r.stderr and ", line 30,002)" in r.stderr


# ---------------------------------------------------------------- what is imported

def _modules(args):
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "autodiff_cli", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    found = {m.group(1) for m in re.finditer(r"import time:\s*\d+\s*\|\s*\d+\s*\|\s*(\S+)",
                                             proc.stderr)}
    return proc, found


def test_arrow_is_imported_only_to_read_rows_and_pandas_never():
    proc, found = _modules(["grad", "x", "--at", "x=1", "--format", "json"])
    assert proc.returncode == 0 and json.loads(proc.stdout)["value"] == 1.0
    assert "click" in found and not any(m.split(".")[0] == "pyarrow" for m in found)
    proc, found = _modules(["grad", "a*x1", "--data", "samples/logistic.csv", "--at", "a=1",
                            "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "pyarrow.csv" in found
    # pyarrow's Array.to_numpy imports pandas (0.2 s): the reader takes the buffers instead.
    assert not any(m.split(".")[0] == "pandas" for m in found)


def test_the_sample_through_arrow_equals_a_hand_computation():
    rows = list(csv.DictReader(open(ROOT / "samples" / "logistic.csv", encoding="utf-8")))
    t = {"t0": 0.3, "t1": -0.7, "t2": 0.45}
    loss = "-(y*log(sigmoid(t0 + t1*x1 + t2*x2)) + (1-y)*log(1 - sigmoid(t0 + t1*x1 + t2*x2)))"
    r = invoke("grad", loss, "--data", str(ROOT / "samples" / "logistic.csv"), "--at",
               ",".join(f"{k}={v}" for k, v in t.items()), "--format", "json")
    assert r.code == 0, r
    value, g1 = [], []
    for row in rows:
        x1, x2, y = float(row["x1"]), float(row["x2"]), float(row["y"])
        p = 1 / (1 + math.exp(-(t["t0"] + t["t1"] * x1 + t["t2"] * x2)))
        value.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
        g1.append((p - y) * x1)
    assert rel(r.json()["value"], math.fsum(value)) < 1e-13
    assert rel(r.json()["gradient"]["t1"], math.fsum(g1)) < 1e-12
