"""Data files for ``--data``: CSV (or TSV) with a header, read in chunks of rows as NumPy columns.

Imported only in data mode (it imports NumPy). Each chunk takes a fast path:
NumPy finds the line ends and counts each line's delimiters, and
``numpy.loadtxt`` parses the columns the formula uses. Anything unusual -- a
quote, a line whose cell count differs from the header's, a cell loadtxt
rejects, a value that is not finite, a blank line -- sends the chunk to a slow
path that reads it cell by cell in Python, so every error names
``file:line:column``; nothing is skipped silently. Only blank lines at the very
end of the file are allowed.
"""

from __future__ import annotations

import io
import os
import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass

import numpy as np

from autodiff_cli.errors import InputError, clip, escape_controls
from autodiff_cli.files import open_binary

#: Rows per chunk by default: memory is bounded by this, not by the file.
DEFAULT_CHUNK_ROWS = 100_000
#: Bytes read at a time (at least); a chunk's lines may span several reads.
_READ = 1 << 20
#: The longest line (header or row) a data file may have, in bytes: a file
#: without line ends (``/dev/zero``, a binary file) stops here instead of
#: filling memory.
MAX_LINE_BYTES = 16 << 20
#: Bytes of the header line read at a time (so a NUL byte is seen early).
_HEADER_READ = 1 << 16

_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
_NON_FINITE = re.compile(r"\s*[+-]?(?:nan|inf|infinity)\s*", re.IGNORECASE | re.ASCII)

DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " ",
                   "pipe": "|"}


def parse_delimiter(text: str | None) -> str | None:
    """--delimiter: one character, or tab/comma/semicolon/space/pipe (``\\t`` too)."""
    if text is None:
        return None
    d = DELIMITER_NAMES.get(text.lower(), text)
    if len(d) != 1 or d in "\"\r\n" or d in "0123456789.+-eE":
        raise InputError(f"--delimiter {text!r}: expected one character such as ',' or ';', "
                         "or a name: tab, comma, semicolon, space, pipe")
    return d


@dataclass
class Chunk:
    """Consecutive rows: ``first`` is the 0-based index of the first row in the file,
    ``line`` its 1-based line number; ``columns`` maps a column name to its values."""

    first: int
    line: int
    rows: int
    columns: dict


class DataFile:
    """One data file (or ``-``, standard input): its header, then chunks of rows.

    Finite differences need several passes: standard input is kept in memory
    after the first pass when it has at most ``keep`` rows; a file too, when it
    also fits in one chunk, else it is read again for each pass.
    """

    def __init__(self, path: str, delimiter: str | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        #: the name as shown in messages: control characters escaped
        self.shown = escape_controls(self.name)
        self.chunk_rows = chunk_rows
        self.delimiter = delimiter or self._delimiter_from_name(path)
        self.columns: list[str] = []
        self.position: dict[str, int] = {}  # column name -> its index in ``columns``
        self.starts: list[int] = []  # 1-based character column of each header cell
        self.header_line = ""
        self.size: int | None = None  # bytes, when known (for the progress bar)
        self.keep: float = 0  # rows of standard input to keep for later passes
        self.bytes_read = 0
        self._kept: list[Chunk] | None = None
        self._stdin_data: bytes | None = None
        self._read_header()

    # -------------------------------------------------------------- opening

    @staticmethod
    def _delimiter_from_name(path: str) -> str | None:
        ext = os.path.splitext(path)[1].lower()
        return {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(ext)

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
        raw = self._header_bytes_read()
        self._header_bytes = len(raw)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        text = self._decode(raw, 1)
        line = text.rstrip("\r\n")
        if not line.strip():
            what = "empty" if not raw else "a blank first line"
            raise InputError(f"{self.shown}:1:1: the data file is {what}: it needs a header line "
                             "naming the columns, then one row per example",
                             hint="e.g. a first line x1,x2,y")
        self.header_line = line
        if self.delimiter is None:  # standard input or another extension: look at the header
            self.delimiter = "\t" if "\t" in line and "," not in line else ","
        fields = _split(line, self.delimiter, self.shown, 1)
        seen = self.position
        for k, (col, cell) in enumerate(fields):
            name = cell.strip()
            if not name.isascii():
                name = unicodedata.normalize("NFC", name)
            if not name:
                raise InputError(f"{self.shown}:1:{col}: column {k + 1} of the header has no name")
            if name in seen:
                raise InputError(f"{self.shown}:1:{col}: the header names column "
                                 f"{clip(name)!r} twice (also at column {self.starts[seen[name]]})")
            seen[name] = k
            self.columns.append(name)
            self.starts.append(col)

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
            if b"\0" in piece:
                _nul_byte(self.shown, 1, b"".join(parts) + piece)
            parts.append(piece)
            size += len(piece)
            if not piece or piece.endswith(b"\n"):
                return b"".join(parts)
            if size > MAX_LINE_BYTES:
                _too_long(self.shown, 1)

    def _decode(self, raw: bytes, line: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            col = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            raise InputError(f"{self.shown}:{line}:{col}: not valid UTF-8 "
                             f"(byte 0x{raw[exc.start]:02x})") from None

    def looks_headerless(self) -> bool:
        """The header's cells are all numbers: the file probably has no header line."""
        return all(_NUMBER.fullmatch(c) for c in self.columns)

    # -------------------------------------------------------------- chunks

    def chunks(self, names: list[str]):
        """Chunks holding the columns ``names`` (each must be in the header)."""
        if self._kept is not None:
            yield from self._kept
            return
        # Standard input is kept when asked; a file only when it fits in one chunk
        # (re-reading a large file keeps memory bounded).
        limit = self.keep if self.path == "-" else min(self.keep, self.chunk_rows)
        kept: list[Chunk] | None = [] if limit else None
        kept_rows = 0
        stream = self._stream
        if stream is None:
            if self.path == "-":
                raise InputError("standard input can be read only once")  # not reached: kept
            stream = self._open()
            stream.readline()
        self._stream = None
        try:
            reader = _Reader(self, names)
            for chunk in reader.read(stream):
                self.bytes_read = reader.bytes_read
                if kept is not None:
                    kept_rows += chunk.rows
                    if kept_rows <= limit:
                        kept.append(chunk)
                    else:
                        kept = None  # more than asked for: later passes are not possible
                yield chunk
        finally:
            if self.path != "-":
                stream.close()
        if kept is not None:
            self._kept = kept


class _Reader:
    """One pass over the rows, chunk by chunk."""

    def __init__(self, data: DataFile, names: list[str]):
        self.data = data
        self.names = names
        self.index = [data.position[n] for n in names]
        self.ncols = len(data.columns)
        # Parsing every column, loadtxt itself rejects a row with another cell count;
        # parsing a subset, each line's delimiters are counted first.
        self.subset = sorted(self.index) != list(range(self.ncols))
        self.delim = data.delimiter
        self.line = 2  # the line of the next row
        self.row = 0
        self.blank_at: int | None = None  # first blank line seen, allowed only at the end
        self.bytes_read = data._header_bytes

    def read(self, stream):
        rows = self.data.chunk_rows
        limit = MAX_LINE_BYTES
        pending = b""
        eof = False
        delim = ord(self.delim) if len(self.delim.encode()) == 1 else None
        block_size = max(_READ, min(rows * 64, 1 << 26))
        while not eof:
            block = stream.read(block_size)
            eof = not block
            data = pending + block if pending else block
            if not data:
                break
            if eof and not data.endswith(b"\n"):
                data += b"\n"
            buf = np.frombuffer(data, np.uint8)
            ends = np.flatnonzero(buf == 10)
            if delim is not None and self.subset:
                marks = np.flatnonzero(buf == delim)
                before = np.searchsorted(marks, ends)
                counts = np.diff(before, prepend=0)
            else:
                counts = None
            total = len(ends)
            lengths = np.diff(ends, prepend=-1)  # of each complete line, with its newline
            # The line not complete yet: memory stays bounded, so it may not grow
            # past the limit; a NUL byte in it stops the reading at once (/dev/zero).
            tail = int(ends[-1]) + 1 if total else 0
            bad_tail = not eof and (len(data) - tail > limit or data.find(b"\0", tail) != -1)
            start, k = 0, 0
            while total - k >= rows or ((eof or bad_tail) and total > k):
                n = min(rows, total - k)
                end = int(ends[k + n - 1]) + 1
                self.bytes_read += end - start
                raw = data[start:end]
                odd = b"\0" in raw or int(lengths[k:k + n].max()) > limit + 1
                yield self._chunk(raw, n, None if counts is None else counts[k:k + n], odd)
                start, k = end, k + n
            if bad_tail:  # the complete lines before it had no error
                _bad_line(self.data.shown, self.line, data[tail:], limit)
            pending = data[start:]
        if self.row == 0:
            raise InputError(f"{self.data.shown}:2:1: the data file has a header but no rows",
                             hint="add one row per example under the header line")

    def _chunk(self, raw: bytes, n: int, counts, odd: bool = False) -> Chunk:
        line, first = self.line, self.row
        columns = None
        if not odd and self.blank_at is None and b'"' not in raw and len(self.delim.encode()) == 1 \
                and (counts is None or bool(np.all(counts == self.ncols - 1))):
            columns = self._fast(raw, n)
        if columns is None:
            columns, n = self._slow(raw)
        else:
            self.line += n
        self.row += n
        return Chunk(first, line, n, columns)

    def _fast(self, raw: bytes, n: int):
        try:
            text = raw.decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = np.loadtxt(io.StringIO(text), delimiter=self.delim, comments=None,
                                   usecols=self.index if self.subset else None, ndmin=2,
                                   dtype=np.float64)
        except (ValueError, UnicodeDecodeError):
            return None
        if table.shape[0] != n or not np.isfinite(table).all() \
                or (not self.subset and table.shape[1] != self.ncols):
            return None
        if not self.subset:
            return {name: np.ascontiguousarray(table[:, k]) for name, k in zip(self.names, self.index)}
        return {name: np.ascontiguousarray(table[:, k]) for k, name in enumerate(self.names)}

    def _slow(self, raw: bytes):
        """Cell by cell: the values, or an InputError at the first bad cell."""
        name = self.data.shown
        limit = MAX_LINE_BYTES
        cols: list[list[float]] = [[] for _ in self.names]
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        n = 0
        for raw_line in lines:
            number = self.line
            self.line += 1
            if len(raw_line) > limit or b"\0" in raw_line:
                _bad_line(name, number, raw_line, limit)
            text = self.data._decode(raw_line, number).rstrip("\r")
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
                    hint=f"the header is: {escape_controls(clip(self.data.header_line, 200))}")
            for out, k in zip(cols, self.index):
                col, cell = fields[k]
                out.append(self._number(cell, number, col, self.data.columns[k]))
            n += 1
        arrays = {nm: np.array(c, dtype=np.float64) for nm, c in zip(self.names, cols)}
        return arrays, n

    def _number(self, cell: str, line: int, col: int, column: str) -> float:
        name = self.data.shown
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


def _split(line: str, delim: str, name: str, number: int) -> list[tuple[int, str]]:
    """The cells of one line as (1-based character column, text); "double quotes" allowed."""
    out = []
    i, n = 0, len(line)
    while True:
        start = i
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
                raise InputError(f"{name}:{number}:{i + 1}: text after the closing quote of a cell")
            out.append((start + 1, "".join(parts)))
        else:
            j = line.find(delim, i)
            if j == -1:
                j = n
            out.append((start + 1, line[i:j]))
            i = j
        if i >= n:
            return out
        i += 1
        if i == n:  # a delimiter at the end of the line: one more, empty cell
            out.append((i + 1, ""))
            return out
