"""Data files for ``--data``: CSV, TSV or Parquet files, or a glob of them, read in chunks of
rows as NumPy columns.

Imported only in data mode (it imports NumPy; Apache Arrow is imported when rows are read).

CSV and TSV: the header line is read here (a byte order mark, UTF-16, NUL bytes, duplicate or
unnamed columns), then the rows a block of whole lines at a time (about 1 MiB, cut at a line
end). Each block goes to Arrow's streaming CSV reader (``pyarrow.csv.open_csv``), which converts
only the columns the formula uses, to float64, so an unused column may hold anything. Arrow's
messages name a row's text and a column index, not the line, so a block that Arrow refuses --
or that holds what Arrow would read otherwise than the rules here (a NUL byte, invalid UTF-8, a
carriage return inside a line, more or fewer rows than lines, a value that is not finite) --
gets a precise second pass, cell by cell over that block's bytes alone, which names
``file:line:column``. Nothing is skipped silently; blank lines may only end a file.

Parquet (``.parquet``, ``.pq``, ``.parq``, or any file that starts with Parquet's magic bytes):
``pyarrow.parquet``, row group by row group (``iter_batches``), the used columns only; a null
or non-finite value is an input error naming the file and the row.

A glob (``'data/part-*.parquet'``) is expanded here, sorted; every file must have the columns
of the first, in the same order. Rows are numbered across the files (``Chunk.first``);
messages name the file and the row (and line) within it.

For engines that read parts on their own (Dask): ``DataFile.parts()`` lists picklable
``Part`` s (a CSV file, or one row group of a Parquet file) and ``read_part(part, names)``
reads one into chunks, with the same checks and messages.
"""

from __future__ import annotations

import glob as _glob
import io
import os
import re
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np

from autodiff_cli.errors import InputError, clip, escape_controls
from autodiff_cli.files import open_binary

#: Rows per chunk by default: memory is bounded by this, not by the file.
DEFAULT_CHUNK_ROWS = 100_000
#: Bytes read at a time: a CSV block is this much, cut at its last line end.
_READ = 1 << 20
#: The longest line (header or row) a data file may have, in bytes: a file
#: without line ends (``/dev/zero``, a binary file) stops here instead of
#: filling memory.
MAX_LINE_BYTES = 16 << 20
#: Bytes of the header line read at a time (so a NUL byte is seen early).
_HEADER_READ = 1 << 16
#: Names that make a file Parquet (so does its magic number at the start).
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_PARQUET_MAGIC = b"PAR1"
#: Parquet is read through buffers of this size (no pre-buffering of whole row groups).
_PARQUET_BUFFER = 1 << 20

_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
_NON_FINITE = re.compile(r"\s*[+-]?(?:nan|inf|infinity)\s*", re.IGNORECASE | re.ASCII)
#: A blank line anywhere in a block (Arrow reads it as a row of one empty cell).
_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t\r\f\v]*(?:\n|$)")
_GLOB_MAGIC = re.compile(r"[*?[]")

DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " ",
                   "pipe": "|"}


def parse_delimiter(text: str | None) -> str | None:
    """--delimiter: one ASCII character, or tab/comma/semicolon/space/pipe (``\\t`` too)."""
    if text is None:
        return None
    d = DELIMITER_NAMES.get(text.lower(), text)
    if len(d) != 1 or d in "\"\r\n" or d in "0123456789.+-eE":
        raise InputError(f"--delimiter {text!r}: expected one character such as ',' or ';', "
                         "or a name: tab, comma, semicolon, space, pipe")
    if not d.isascii():
        raise InputError(f"--delimiter {escape_controls(text)!r}: the delimiter must be an ASCII "
                         "character (CSV is read with Apache Arrow, which splits cells on one byte)",
                         hint="e.g. ',' ';' '|' or tab")
    return d


class Chunk:
    """Consecutive rows of one file.

    ``first``: 0-based index of the first row across all the files read (the rows of earlier
    files counted); ``file_first``: the same within its own file; ``line``: the 1-based line of
    its first row in its file (a Parquet file has no lines: its 1-based row there);
    ``columns`` maps a column name to its values (float64 arrays, often views of Arrow's
    buffers: treat them as read-only). Picklable.
    """

    __slots__ = ("first", "line", "rows", "columns", "file", "file_first", "lines")

    def __init__(self, first: int, line: int, rows: int, columns: dict, file: str = "",
                 file_first: int | None = None, lines: bool = True):
        self.first, self.line, self.rows, self.columns = first, line, rows, columns
        self.file = file  # its file's name as shown in messages
        self.file_first = first if file_first is None else file_first
        self.lines = lines  # False: Parquet (rows, no lines)

    def row_text(self, r: int) -> str:
        """Where row ``r`` (0-based in the chunk) is: ``row 4 of d.csv, line 5``."""
        text = f"row {self.file_first + r + 1:,} of {self.file}"
        return f"{text}, line {self.line + r:,}" if self.lines else text

    def __repr__(self):
        return (f"Chunk(first={self.first}, line={self.line}, rows={self.rows}, "
                f"columns={list(self.columns)}, file={self.file!r})")


@dataclass(frozen=True)
class Part:
    """A piece of the data that can be read on its own, in another process (picklable).

    A CSV or TSV file (``row_group`` None), or one row group of a Parquet file, whose first
    row is row ``file_first`` (0-based) of its file and which has ``rows`` rows.
    """

    path: str
    kind: str  # "csv" or "parquet"
    row_group: int | None = None
    file_first: int = 0
    rows: int | None = None  # known for Parquet
    delimiter: str | None = None


#: glibc's ``mallopt`` parameters (malloc.h) and what data mode sets them to.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_SETTINGS = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20))
_heap_kept = False


def keep_freed_heap(over_environment: bool = False) -> bool:
    """Let this process keep the memory its chunks free, for the next chunk (glibc only).

    A chunk's pass allocates every node's array (800 KB each at 100,000 rows, tens of MB in
    all) and frees them at its end. By default glibc then gives the top of its heap back
    to the system (and serves arrays above 128 KB with their own ``mmap``), so the next
    chunk faults the same memory in again, page by page: that doubled the time of
    evaluating 10^7 rows here (0.90 s against 0.46 s). This raises the two thresholds
    once per process: arrays below 32 MiB come from the heap, and up to 256 MiB of freed
    heap stays for reuse. The peak does not grow (freed memory is reused, not added to);
    it stays bounded by the chunk size.

    A ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` in the environment is the
    user's choice and is left alone, unless ``over_environment``: on a Dask worker, whose
    nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` itself (to hand memory back sooner; with it
    a partition cost 2.5 times its CPU time in one process). Returns whether the settings
    were made (now or earlier).
    """
    global _heap_kept
    if _heap_kept:
        return True
    if not sys.platform.startswith("linux") or not over_environment and (
            "MALLOC_TRIM_THRESHOLD_" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _heap_kept = all(mallopt(param, value) == 1 for param, value in _HEAP_SETTINGS)
    return _heap_kept


def read_part(part: Part, names: list[str], chunk_rows: int = DEFAULT_CHUNK_ROWS,
              first: int | None = None, require_rows: bool = False):
    """The chunks of ``part`` (``Part``) holding the columns ``names``; ``first`` numbers its
    first row across all the parts (default: its row within its file); ``require_rows``: a
    part without rows is an input error (as a single ``--data`` file is).

    Module-level and picklable, for engines that read parts in other processes: the same
    checks and messages as ``DataFile.chunks`` (a bad cell names file, line and column).
    """
    keep_freed_heap()
    source = _open_source(part.path, part.delimiter, part.kind)
    try:
        index = [source.index(n) for n in names]
        first = part.file_first if first is None else first
        groups = None if part.row_group is None else [part.row_group]
        yield from source.read(index, names, chunk_rows, first, None, row_groups=groups,
                               require_rows=require_rows)
    finally:
        source.close()


def expand(path: str) -> list[str]:
    """The files ``--data PATH`` names: PATH itself, or the files its glob matches, sorted.

    A path that exists is taken as it is, even with ``*`` or ``[`` in its name; a pattern is
    expanded here (``**`` spans folders), folders left out; matching nothing is an input error.
    """
    if path == "-" or not _GLOB_MAGIC.search(path) or os.path.lexists(path):
        return [path]
    try:
        matches = sorted(p for p in _glob.glob(path, recursive=True) if not os.path.isdir(p))
    except (OSError, ValueError):
        matches = []
    if not matches:
        shown = escape_controls(clip(path, 200))
        raise InputError(f"--data {shown!r}: no file matches the pattern",
                         hint="adiff expands the pattern itself (quote it so the shell does not); "
                              "check the folder and the file names")
    return matches


class DataFile:
    """The data of ``--data``: one file, ``-`` (standard input) or a glob of files; the first
    file's header (its columns), then chunks of rows.

    ``files`` is the expanded list. Finite differences need several passes: standard input is
    kept in memory after the first pass when it has at most ``keep`` rows; files too, when
    they also fit in one chunk, else they are read again for each pass.
    """

    def __init__(self, path: str, delimiter: str | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS):
        keep_freed_heap()
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        #: the name as shown in messages: control characters escaped
        self.shown = escape_controls(self.name)
        self.chunk_rows = chunk_rows
        self.files = expand(path)
        self.keep: float = 0  # rows of standard input to keep for later passes
        self.bytes_read = 0
        self._kept: list[Chunk] | None = None
        self._sources = []
        try:
            for k, file in enumerate(self.files):
                source = _open_source(file, delimiter)
                if k:
                    source.close()  # reopened when its rows are read: one open file at a time
                    _same_columns(self._sources[0], source, path)
                    source.columns, source.position = self._sources[0].columns, \
                        self._sources[0].position  # one copy of a wide header
                self._sources.append(source)
        except BaseException:
            self.close()
            raise
        head = self._sources[0]
        self.kind = head.kind
        self.delimiter = head.delimiter
        self.columns: list[str] = head.columns
        self.position: dict[str, int] = head.position  # column name -> its index in ``columns``
        self.starts: list[int] = head.starts  # 1-based character column of each header cell
        self.header_line = head.header_line
        sizes = [s.size for s in self._sources]
        self.size: int | None = None if None in sizes else sum(sizes)  # bytes (progress bar)
        counts = [s.total_rows for s in self._sources]
        self.rows: int | None = None if None in counts else sum(counts)  # known for Parquet

    def close(self) -> None:
        for source in self._sources:
            source.close()

    def looks_headerless(self) -> bool:
        """The header's cells are all numbers: the file probably has no header line."""
        return self.kind == "csv" and all(_NUMBER.fullmatch(c) for c in self.columns)

    def parts(self) -> list[Part]:
        """The pieces that can be read on their own (``read_part``): each CSV file, each row
        group of each Parquet file, in order."""
        out = []
        for source in self._sources:
            out.extend(source.parts())
        return out

    def chunks(self, names: list[str]):
        """Chunks holding the columns ``names`` (each must be in the header), file after file."""
        if self._kept is not None:
            yield from self._kept
            return
        # Standard input is kept when asked; files only when they fit in one chunk
        # (re-reading a large file keeps memory bounded).
        limit = self.keep if self.path == "-" else min(self.keep, self.chunk_rows)
        kept: list[Chunk] | None = [] if limit else None
        kept_rows = 0
        for chunk, done in _read_ahead(self._read(names)):
            self.bytes_read = done
            if kept is not None:
                kept_rows += chunk.rows
                if kept_rows <= limit:
                    kept.append(chunk)
                else:
                    kept = None  # more than asked for: later passes read again
            yield chunk
        if kept is not None:
            self._kept = kept

    def _read(self, names: list[str]):
        """(chunk, bytes read so far) of every file in turn, rows numbered across them."""
        index = [self.position[n] for n in names]
        first = 0
        done = 0  # bytes of the files already read
        single = len(self._sources) == 1
        for source in self._sources:
            here = [done]

            def progress(n, base=done, here=here):
                here[0] = base + n

            for chunk in source.read(index, names, self.chunk_rows, first, progress,
                                     require_rows=single):
                first += chunk.rows
                yield chunk, here[0]
            done += source.size or 0
        if first == 0 and not single:
            raise InputError(f"--data {self.shown!r}: the {len(self.files):,} files it matches "
                             "have no rows", hint="each row is one example")


def _read_ahead(items, depth: int = 2):
    """The items of the generator ``items``, made in a thread up to ``depth`` ahead.

    Reading overlaps evaluation: Arrow parses the next block (and the disk is read) without
    the GIL while NumPy evaluates this chunk. The items and their order are the same; an
    exception in the thread is raised here; leaving early stops the thread at its next item.
    """
    import queue
    import threading

    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put((0, item)):
                    return
            put((1, None))
        except BaseException as exc:  # handed to the reading thread, which raises it
            put((2, exc))
        finally:
            items.close()

    worker = threading.Thread(target=work, name="adiff-data-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = box.get()
            if kind == 0:
                yield item
            elif kind == 1:
                return
            else:
                raise item
    finally:
        stop.set()
        # Wait for the thread to leave Arrow: a process that exits while a thread is inside
        # Arrow's reader can abort ("terminate called without an active exception",
        # apache/arrow#34314). It stops at its next item; a read that blocks (a slow stdin)
        # is not waited for beyond the timeout.
        worker.join(timeout=5.0)


# ---------------------------------------------------------------- the sources


def _open_source(path: str, delimiter: str | None, kind: str | None = None):
    """A ``_Csv`` or ``_Parquet`` source for ``path``, its header read."""
    if kind is None:
        kind = "parquet" if path != "-" and path.lower().endswith(PARQUET_SUFFIXES) else "csv"
    if kind == "parquet":
        return _Parquet(path)
    try:
        return _Csv(path, delimiter)
    except _ParquetMagic:  # named otherwise, but it starts with Parquet's magic number
        try:
            return _Parquet(path)
        except InputError:  # text that happens to start so (a column named PAR1...)
            return _Csv(path, delimiter, sniff=False)


class _ParquetMagic(Exception):
    """A file read as CSV starts with Parquet's magic number."""


def _same_columns(head, other, pattern: str) -> None:
    """Every file of a glob has the columns of the first, in the same order."""
    if other.columns == head.columns:
        return
    missing = [c for c in head.columns if c not in other.position]
    extra = [c for c in other.columns if c not in head.position]
    if missing:
        more = f" (and {len(missing) - 1:,} more)" if len(missing) > 1 else ""
        what = f"it has no column {escape_controls(clip(missing[0]))!r}{more}"
    elif extra:
        more = f" (and {len(extra) - 1:,} more)" if len(extra) > 1 else ""
        what = f"it has a column {escape_controls(clip(extra[0]))!r}{more} that {head.shown} has not"
    else:
        what = "it has the same columns in another order"
    listed = ", ".join(escape_controls(clip(c)) for c in head.columns[:12]) \
        + (", ..." if len(head.columns) > 12 else "")
    raise InputError(f"{other.where_header}: {what}: every file that --data "
                     f"{escape_controls(clip(pattern, 200))!r} matches needs the columns of the "
                     f"first, {head.shown} ({listed}), in the same order")


def _header_names(cells, shown: str, starts=None):
    """Column names from header cells: stripped, NFC; refused when empty or repeated."""
    columns, position = [], {}
    for k, cell in enumerate(cells):
        name = cell.strip()
        if not name.isascii():
            name = unicodedata.normalize("NFC", name)
        where = f"{shown}:1:{starts[k]}" if starts else shown
        if not name:
            raise InputError(f"{where}: column {k + 1} of the header has no name")
        if name in position:
            also = f"at column {starts[position[name]]}" if starts else \
                f"column {position[name] + 1}"
            raise InputError(f"{where}: the header names column {escape_controls(clip(name))!r} "
                             f"twice (also {also})")
        position[name] = k
        columns.append(name)
    return columns, position


class _Csv:
    """One CSV or TSV file (or ``-``, standard input): its header, then its rows."""

    kind = "csv"
    total_rows = None

    def __init__(self, path: str, delimiter: str | None = None, sniff: bool = True):
        self.path = path
        self.sniff = sniff  # a file that starts with Parquet's magic number raises _ParquetMagic
        self.name = "<stdin>" if path == "-" else path
        self.shown = escape_controls(self.name)
        self.where_header = f"{self.shown}:1:1"
        self.given_delimiter = delimiter
        self.delimiter = delimiter or _delimiter_from_name(path)
        self.size: int | None = None
        self._stream = None
        self._read_header()
        self.sniff = False  # read again later: the header must match, whatever it is

    def index(self, name: str) -> int:
        if name not in self.position:
            raise InputError(f"{self.shown}:1:1: the file has no column "
                             f"{escape_controls(clip(name))!r}")
        return self.position[name]

    def parts(self) -> list[Part]:
        return [Part(self.path, "csv", delimiter=self.given_delimiter)]

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None and self.path != "-":
            stream.close()

    def _open(self):
        if self.path == "-":
            stream = sys.stdin
            return getattr(stream, "buffer", None) or io.BytesIO(stream.read().encode("utf-8"))
        fh = open_binary(self.path, self.shown)
        try:
            self.size = os.fstat(fh.fileno()).st_size
        except OSError:
            self.size = None
        return fh

    def _read_header(self) -> None:
        self._stream = self._open()
        try:
            raw = self._header_bytes_read()
        except BaseException:
            self.close()
            raise
        self.header_bytes = len(raw)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        text = _decode(raw, self.shown, 1)
        line = text.rstrip("\r\n")
        if not line.strip():
            self.close()
            what = "empty" if not raw else "a blank first line"
            raise InputError(f"{self.shown}:1:1: the data file is {what}: it needs a header line "
                             "naming the columns, then one row per example",
                             hint="e.g. a first line x1,x2,y")
        self.header_line = line
        if self.delimiter is None:  # standard input or another extension: look at the header
            self.delimiter = "\t" if "\t" in line and "," not in line else ","
        try:
            fields = _split(line, self.delimiter, self.shown, 1, strict=True)
            self.starts = [col for col, _, _ in fields]
            self.columns, self.position = _header_names([c for _, c, _ in fields], self.shown,
                                                        self.starts)
        except InputError:
            self.close()
            raise

    def _header_bytes_read(self) -> bytes:
        """The header line, read in pieces: a NUL byte or a line without end stops early."""
        parts: list[bytes] = []
        size = 0
        while True:
            piece = self._stream.readline(_HEADER_READ)
            if not parts and piece.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise InputError(f"{self.shown}:1:1: the data file is UTF-16 (it starts with a "
                                 "UTF-16 byte order mark); adiff reads UTF-8 text",
                                 hint="save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8")
            if not parts and piece.startswith(_PARQUET_MAGIC) and self.sniff:
                if self.path != "-":
                    raise _ParquetMagic()
                raise InputError(f"{self.shown}:1:1: this is a Parquet file: standard input can "
                                 "only be CSV or TSV", hint="give the file's name to --data")
            if b"\0" in piece:
                _nul_byte(self.shown, 1, b"".join(parts) + piece)
            parts.append(piece)
            size += len(piece)
            if not piece or piece.endswith(b"\n"):
                return b"".join(parts)
            if size > MAX_LINE_BYTES:
                _too_long(self.shown, 1)

    # -------------------------------------------------------------- rows

    def read(self, index: list[int], names: list[str], chunk_rows: int, first: int,
             progress=None, row_groups=None, require_rows: bool = True):
        """Chunks of the columns ``index`` (named ``names``), the first numbered ``first``."""
        stream = self._stream
        if stream is None:
            if self.path == "-":
                raise InputError("standard input can be read only once")  # not reached: kept
            columns = self.columns
            self._read_header()  # reopened: the header again (it was checked, unless changed)
            if self.columns != columns:
                self.close()
                raise InputError(f"{self.shown}:1:1: the header changed while adiff read the file")
            stream = self._stream
        self._stream = None
        try:
            yield from _CsvRows(self, index, names, chunk_rows, first, progress,
                                require_rows).read(stream)
        finally:
            if self.path != "-":
                stream.close()


class _CsvRows:
    """One pass over the rows of a CSV file: blocks of whole lines through Arrow, and the
    precise second pass for a block Arrow refuses or would read otherwise."""

    def __init__(self, source: _Csv, index, names, chunk_rows, first, progress, require_rows):
        self.source, self.shown = source, source.shown
        self.index, self.names = index, names
        self.ncols = len(source.columns)
        self.delim = source.delimiter
        self.progress = progress
        self.require_rows = require_rows
        self.out = _Gather(names, chunk_rows, first, source.shown, lines=True)
        self.line = 2  # the line of the next row
        self.blank_at: int | None = None  # first blank line seen, allowed only at the end
        self.bytes_read = source.header_bytes
        self.arrow = _ArrowCsv(self.ncols, self.delim, index)

    def read(self, stream):
        limit = MAX_LINE_BYTES
        size = max(1, min(_READ, limit))
        parts: list[bytes] = []  # the line not complete yet
        pending = 0
        while True:
            try:
                piece = stream.read(size)
            except OSError as exc:
                raise InputError(f"cannot read {self.shown}: {exc.strerror or exc}") from None
            if not piece:
                block = b"".join(parts)
                if block:
                    yield from self._block(block)
                break
            cut = piece.rfind(b"\n") + 1
            if not cut:
                # Memory stays bounded: the line may not grow past the limit; a NUL byte in
                # it stops the reading at once (/dev/zero).
                parts.append(piece)
                pending += len(piece)
                if pending > limit or b"\0" in piece:
                    _bad_line(self.shown, self.line, b"".join(parts), limit)
                continue
            head = piece[:cut] if cut < len(piece) else piece
            block = b"".join(parts) + head if parts else head
            rest = piece[cut:]
            parts, pending = ([rest], len(rest)) if rest else ([], 0)
            yield from self._block(block)
            if rest and b"\0" in rest:  # the complete lines before it had no error
                _bad_line(self.shown, self.line, rest, limit)
        yield from self.out.flush()
        if self.out.rows == 0 and self.require_rows:
            raise InputError(f"{self.shown}:2:1: the data file has a header but no rows",
                             hint="add one row per example under the header line")

    def _block(self, block: bytes):
        """Whole lines (the last one may lack its line end, at the end of the file)."""
        start = self.line
        lines = _line_ends(block) + (not block.endswith(b"\n"))
        self.bytes_read += len(block)
        if self.blank_at is not None:  # only blank lines may follow a blank line
            if block.strip():
                self._precise(block)  # raises at the first line that is not blank
        else:
            end = _blank_tail(block)
            data = block[:end] if end < len(block) else block
            if end == len(block):
                rows = lines
            else:
                rows = _line_ends(data) + (not data.endswith(b"\n")) if data else 0
            if data:
                columns, n = self.arrow.read(data, rows, self.names) or self._precise(data)
                yield from self.out.add(columns, n)
            if end < len(block) and self.blank_at is None:
                self.blank_at = start + rows
        self.line = start + lines
        if self.progress:
            self.progress(self.bytes_read)

    def _precise(self, raw: bytes):
        """Cell by cell: the values (rows count), or an InputError at the first bad cell."""
        name = self.shown
        limit = MAX_LINE_BYTES
        cols: list[list[float]] = [[] for _ in self.index]
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        n = 0
        line = self.line
        for raw_line in lines:
            number = line
            line += 1
            if len(raw_line) > limit or b"\0" in raw_line:
                _bad_line(name, number, raw_line, limit)
            text = _decode(raw_line, name, number).rstrip("\r")
            if not text.strip():
                if self.blank_at is None:
                    self.blank_at = number
                continue
            if self.blank_at is not None:
                raise InputError(f"{name}:{self.blank_at}:1: blank line inside the data (before "
                                 f"line {number})", hint="remove it: blank lines may only end the file")
            fields = _split(text, self.delim, name, number)
            if len(fields) != self.ncols:
                many = len(fields) > self.ncols
                col = fields[self.ncols][0] if many else len(text) + 1
                raise InputError(
                    f"{name}:{number}:{col}: this row has {len(fields)} cell"
                    f"{'s' if len(fields) != 1 else ''}, the header has {self.ncols}",
                    hint="the header is: "
                         f"{escape_controls(clip(self.source.header_line, 200))}")
            for out, k in zip(cols, self.index):
                col, cell, stray = fields[k]
                if stray:
                    raise InputError(f"{name}:{number}:{stray}: text after the closing quote of "
                                     "a cell")
                out.append(self._number(cell, number, col, self.source.columns[k]))
            n += 1
        return {nm: np.array(c, dtype=np.float64) for nm, c in zip(self.names, cols)}, n

    def _number(self, cell: str, line: int, col: int, column: str) -> float:
        name = self.shown
        column = escape_controls(column)
        if _NUMBER.fullmatch(cell):
            v = float(cell)
            if v in (float("inf"), float("-inf")):
                raise InputError(f"{name}:{line}:{col}: {clip(cell.strip())!r} in column {column} "
                                 "is too large for a double-precision float")
            return v
        if not cell.strip():
            raise InputError(f"{name}:{line}:{col}: the cell of column {column} is empty",
                             hint="every cell the formula uses must hold a number")
        if _NON_FINITE.fullmatch(cell):
            raise InputError(f"{name}:{line}:{col}: {cell.strip()!r} in column {column} is not a "
                             "finite number")
        shown = clip(cell.strip())
        raise InputError(f"{name}:{line}:{col}: {shown!r} in column {column} is not a number")


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise InputError("--data needs pyarrow (Apache Arrow), which is not installed",
                         hint="pip install pyarrow") from None
    return pyarrow


class _ArrowCsv:
    """Arrow's streaming CSV reader over one block of whole lines: the used columns as
    float64 arrays, or None when the block needs the precise pass."""

    def __init__(self, ncols: int, delimiter: str, index: list[int]):
        pa = _pyarrow()
        import pyarrow.csv as csv

        self.pa, self.csv = pa, csv
        self.delimiter = delimiter
        # Positional names: the header was read above, and Arrow needs unique ones.
        self.names = [f"c{k}" for k in range(ncols)]
        # No used column: one column as raw bytes, for the row count.
        used = [self.names[k] for k in index] if index else [self.names[0]]
        types = {c: pa.float64() for c in used} if index else {used[0]: pa.binary()}
        self.parse = csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                      escape_char=False, newlines_in_values=False,
                                      ignore_empty_lines=False)
        self.convert = csv.ConvertOptions(column_types=types, include_columns=used,
                                          null_values=[], strings_can_be_null=False,
                                          quoted_strings_can_be_null=False, check_utf8=False)
        self.used = len(index)
        # One column that the formula does not use: a blank line is a row of one empty cell.
        self.blank_rows_pass = ncols == 1 and not index

    def read(self, data: bytes, n: int, names: list[str]):
        """The columns ``names`` of ``data`` (``n`` whole lines) and ``n``, or None."""
        # What Arrow would read otherwise than the rules here, or not see at all.
        if b"\0" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
            return None
        if _open_quote(data, self.delimiter):  # Arrow would read on past the end of the block
            return None
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        end = data.find(b"\n")
        if (end if end >= 0 else len(data)) > MAX_LINE_BYTES:  # only the first can be long
            return None
        if self.blank_rows_pass and _BLANK_LINE.search(data):
            return None
        pa = self.pa
        try:
            reader = self.csv.open_csv(
                pa.BufferReader(data),
                read_options=self.csv.ReadOptions(use_threads=False, column_names=self.names,
                                                  block_size=len(data) + 1),
                parse_options=self.parse, convert_options=self.convert)
            batches = list(reader)
        except (pa.ArrowException, ValueError):
            return None
        if sum(b.num_rows for b in batches) != n:  # a quoted line end, ...
            return None
        columns = {}
        for k, name in enumerate(names):
            arrays = [b.column(k) for b in batches]
            if any(a.null_count for a in arrays):
                return None
            values = _float64(arrays[0]) if len(arrays) == 1 else \
                np.concatenate([_float64(a) for a in arrays])
            if not np.isfinite(values).all():
                return None
            columns[name] = values
        return columns, n


class _Gather:
    """Rows as they come (blocks, batches) gathered into chunks of ``chunk_rows`` rows."""

    def __init__(self, names, chunk_rows: int, first: int, file: str, lines: bool,
                 file_first: int = 0):
        self.names, self.chunk_rows = names, max(1, chunk_rows)
        self.first, self.file, self.lines = first, file, lines
        self.file_first = file_first  # of the next chunk, within the file
        self.pieces: list[tuple[dict, int]] = []
        self.held = 0
        self.rows = 0

    def add(self, columns: dict, n: int):
        if not n:
            return
        self.pieces.append((columns, n))
        self.held += n
        while self.held >= self.chunk_rows:
            yield self._take(self.chunk_rows)

    def flush(self):
        if self.held:
            yield self._take(self.held)

    def _take(self, rows: int) -> Chunk:
        parts, need = [], rows
        while need:
            columns, n = self.pieces[0]
            if n <= need:
                parts.append(columns)
                self.pieces.pop(0)
                need -= n
            else:
                parts.append({k: v[:need] for k, v in columns.items()})
                self.pieces[0] = ({k: v[need:] for k, v in columns.items()}, n - need)
                need = 0
        if len(parts) == 1:
            columns = parts[0]
        else:
            columns = {k: np.concatenate([p[k] for p in parts]) for k in self.names}
        self.held -= rows
        start = self.file_first
        line = start + (2 if self.lines else 1)
        chunk = Chunk(self.first + self.rows, line, rows, columns, self.file, start, self.lines)
        self.rows += rows
        self.file_first += rows
        return chunk


class _Parquet:
    """One Parquet file: its schema (the columns), then its rows, row group by row group."""

    kind = "parquet"
    delimiter = None

    def __init__(self, path: str):
        self.path = path
        self.name = path
        self.shown = escape_controls(path)
        self.where_header = self.shown
        open_binary(path, self.shown).close()  # the plain reasons first: no such file, ...
        try:
            self.size: int | None = os.path.getsize(path)
        except OSError:
            self.size = None
        self._pq = _parquet()
        self._pa = pa = _pyarrow()
        try:
            handle = self._pq.ParquetFile(path, pre_buffer=False, buffer_size=_PARQUET_BUFFER)
            self.meta = handle.metadata
            schema = handle.schema_arrow
            handle.close()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"cannot read {self.shown}: not a Parquet file ({_arrow_reason(exc)})",
                             hint="Parquet files are named .parquet; CSV and TSV files "
                                  ".csv, .tsv or anything else") from None
        self.fields = list(schema.names)
        self.types = [schema.field(k).type for k in range(len(self.fields))]
        self.columns, self.position = _header_names(self.fields, self.shown)
        self.starts = [1] * len(self.columns)
        self.header_line = ",".join(self.columns)
        self.total_rows = self.meta.num_rows
        self.group_rows = [self.meta.row_group(k).num_rows for k in range(self.meta.num_row_groups)]

    def index(self, name: str) -> int:
        if name not in self.position:
            raise InputError(f"{self.shown}: the file has no column {escape_controls(clip(name))!r}")
        return self.position[name]

    def parts(self) -> list[Part]:
        out, start = [], 0
        for k, rows in enumerate(self.group_rows):
            if rows:  # an empty row group is no part
                out.append(Part(self.path, "parquet", k, start, rows))
            start += rows
        return out

    def close(self) -> None:
        pass

    def read(self, index, names, chunk_rows, first, progress=None, row_groups=None,
             require_rows: bool = True):
        pa = _pyarrow()
        for k, name in zip(index, names):
            t = self.types[k]
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t)
                    or (pa.types.is_dictionary(t) and (pa.types.is_integer(t.value_type)
                                                       or pa.types.is_floating(t.value_type)))):
                raise InputError(f"{self.shown}: column {escape_controls(clip(name))} holds {t} "
                                 "values, not numbers",
                                 hint="every column the formula uses must be numeric")
        groups = list(range(len(self.group_rows))) if row_groups is None else list(row_groups)
        start = sum(self.group_rows[:groups[0]]) if groups else 0
        out = _Gather(names, chunk_rows, first, self.shown, lines=False, file_first=start)
        total = max(1, self.total_rows)
        try:
            handle = self._pq.ParquetFile(self.path, metadata=self.meta, pre_buffer=False,
                                          buffer_size=_PARQUET_BUFFER)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"cannot read {self.shown}: {_arrow_reason(exc)}") from None
        columns = [self.fields[k] for k in index]
        row = start  # 0-based, within the file, of the next batch
        try:
            batches = handle.iter_batches(batch_size=max(1, chunk_rows), row_groups=groups,
                                          columns=columns, use_threads=False)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise InputError(f"cannot read {self.shown} (after row {row:,}): "
                                     f"{_arrow_reason(exc)}") from None
                n = batch.num_rows
                values = {name: self._column(batch.column(j), name, row)
                          for j, name in enumerate(names)}
                row += n
                yield from out.add(values, n)
                if progress and self.size:
                    progress(int(self.size * row / total))
            yield from out.flush()
        finally:
            handle.close()
        if out.rows == 0 and require_rows:
            raise InputError(f"{self.shown}: the Parquet file has no rows",
                             hint="each row is one example")

    def _column(self, array, name: str, row: int):
        """One batch's column as float64 values; nulls and non-finite values refused."""
        column = escape_controls(clip(name))
        pa = self._pa
        if array.null_count:
            import pyarrow.compute as pc

            bad = pc.index(array.is_null(), value=True).as_py()
            raise InputError(f"{self.shown}: row {row + bad + 1:,}: the cell of column {column} is "
                             "empty (null)", hint="every cell the formula uses must hold a number")
        if array.type != pa.float64():
            array = array.cast(pa.float64(), safe=False)  # integers past 2^53 round, as in NumPy
        values = _float64(array)
        finite = np.isfinite(values)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            v = float(values[bad])
            raise InputError(f"{self.shown}: row {row + bad + 1:,}: {'nan' if v != v else repr(v)} "
                             f"in column {column} is not a finite number")
        return values


def _float64(array) -> np.ndarray:
    """A float64 Arrow array without nulls as a NumPy view, no copy (``Array.to_numpy`` would
    import pandas, 0.2 s)."""
    if not len(array):
        return np.empty(0)
    return np.frombuffer(array.buffers()[1], dtype=np.float64, count=len(array),
                         offset=array.offset * 8)


def _parquet():
    _pyarrow()
    import pyarrow.parquet as pq

    return pq


def _arrow_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return escape_controls(clip(text[0] if text else type(exc).__name__, 200))


# ---------------------------------------------------------------- helpers


def _delimiter_from_name(path: str) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    return {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(ext)


def _decode(raw: bytes, name: str, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        col = len(raw[:exc.start].decode("utf-8", "replace")) + 1
        raise InputError(f"{name}:{line}:{col}: not valid UTF-8 "
                         f"(byte 0x{raw[exc.start]:02x})") from None


def _line_ends(data: bytes) -> int:
    """How many ``\\n`` ``data`` holds (NumPy counts 5x faster than ``bytes.count``)."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10))


def _blank_tail(block: bytes) -> int:
    """Where the blank lines that end ``block`` start (``len(block)``: it ends with none)."""
    end = len(block)
    while end:
        stop = end - 1 if block[end - 1] == 10 else end  # the last line's text ends here
        start = block.rfind(b"\n", 0, stop) + 1
        if block[start:stop].strip():
            return end
        end = start
    return 0


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n & ((1 << 20) - 1) else f"{n:,} bytes"


def _nul_byte(name: str, number: int, raw: bytes):
    """A NUL byte in line ``number`` (``raw``, its bytes): not a text file."""
    col = len(raw[:raw.find(b"\0")].decode("utf-8", "replace")) + 1
    raise InputError(f"{name}:{number}:{col}: a NUL byte (0x00): a data file is UTF-8 text",
                     hint="is it UTF-16 (save it as UTF-8), or not a data file at all?")


def _too_long(name: str, number: int, limit: int | None = None):
    limit = MAX_LINE_BYTES if limit is None else limit
    raise InputError(f"{name}:{number}:1: line {number:,} is longer than {_size(limit)}, the limit "
                     "for one line of a data file",
                     hint="is it a CSV or TSV text file? Each row must end with a line break")


def _bad_line(name: str, number: int, raw: bytes, limit: int):
    """``raw`` (line ``number``) holds a NUL byte or is longer than ``limit``: raise."""
    if b"\0" in raw:
        _nul_byte(name, number, raw)
    _too_long(name, number, limit)


def _open_quote(data: bytes, delim: str) -> bool:
    """The last line of ``data`` has a quoted cell that is not closed.

    Arrow reads such a cell on to the end of the block; on any other line it swallows the
    line end, which the row count shows, so only the last line needs looking at.
    """
    if b'"' not in data:
        return False
    stop = len(data) - 1 if data.endswith(b"\n") else len(data)
    last = data[data.rfind(b"\n", 0, stop) + 1:stop]
    if b'"' not in last:
        return False
    try:
        _split(last.decode("utf-8", "replace"), delim, "", 0)
    except InputError:
        return True
    return False


def _split(line: str, delim: str, name: str, number: int,
           strict: bool = False) -> list[tuple[int, str, int]]:
    """The cells of one line as (1-based character column, text, stray): "double quotes"
    allowed. ``stray`` is the column of text after a cell's closing quote (0: none), which
    Arrow keeps as part of the cell (a used cell with it is refused by the caller; in the
    header, with ``strict``, it is an error at once)."""
    out = []
    i, n = 0, len(line)
    while True:
        start = i
        stray = 0
        if i < n and line[i] == '"':
            parts, i = [], i + 1
            while True:
                j = line.find('"', i)
                if j == -1:
                    raise InputError(f"{name}:{number}:{start + 1}: a quoted cell is not closed")
                parts.append(line[i:j])
                if line.startswith('"', j + 1):
                    parts.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and line[i] != delim:
                if strict:
                    raise InputError(f"{name}:{number}:{i + 1}: text after the closing quote of "
                                     "a cell")
                stray = i + 1
                j = line.find(delim, i)
                j = n if j == -1 else j
                parts.append(line[i:j])  # as Arrow reads it: the rest up to the delimiter
                i = j
            out.append((start + 1, "".join(parts), stray))
        else:
            j = line.find(delim, i)
            if j == -1:
                j = n
            out.append((start + 1, line[i:j], 0))
            i = j
        if i >= n:
            return out
        i += 1
        if i == n:  # a delimiter at the end of the line: one more, empty cell
            out.append((i + 1, "", 0))
            return out
