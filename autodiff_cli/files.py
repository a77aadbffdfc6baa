"""Reading and writing files safely: bounded reads, atomic writes.

Every file adiff reads from the user (a formula, a spec, a data file, stdin)
goes through ``read_limited`` so ``/dev/zero`` or a huge file stops with a clear
error after at most ``limit`` bytes instead of filling memory. Every file adiff
writes (``-o``, ``--junit``, ``--history``) goes through ``atomic_write``: the
content lands in a temporary file beside the target and is renamed over it only
when complete, so a full disk or an interrupted run never leaves a truncated or
stale-looking file.
"""

from __future__ import annotations

import contextlib
import os
import sys

from autodiff_cli.errors import InputError, clip, escape_controls


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:,} bytes"


def _read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes, read in blocks (a device like /dev/zero never ends)."""
    parts, size = [], 0
    while size <= limit:
        block = stream.read(min(1 << 20, limit + 1 - size))
        if not block:
            break
        parts.append(block)
        size += len(block)
    return b"".join(parts)


def open_binary(path: str, shown: str | None = None):
    """``open(path, "rb")``, with an ``InputError`` naming the path for every failure."""
    shown = escape_controls(clip(path, 120)) if shown is None else shown
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"cannot read {shown}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"cannot read {shown}: it is a directory") from None
    except PermissionError:
        raise InputError(f"cannot read {shown}: permission denied") from None
    except ValueError:  # e.g. a NUL byte in the path
        raise InputError(f"cannot read {escape_controls(clip(repr(path), 120))}: not a valid "
                         "path") from None
    except OSError as exc:
        raise InputError(f"cannot read {shown}: {exc.strerror or exc}") from None


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text, a byte order mark at the start dropped; an ``InputError``
    naming ``where`` and the offending byte otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                         f"offset {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_limited(path: str, limit: int, what: str = "input", option: str = "--max-size") -> bytes:
    """The bytes of ``path`` ('-' for stdin), refusing more than ``limit`` bytes.

    Errors are ``InputError`` naming the path (clipped) and, for a file that is
    too big, the option that raises the limit.
    """
    shown = "standard input" if path == "-" else escape_controls(clip(path, 120))
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = _read_at_most(stream, limit) if stream is not None \
            else sys.stdin.read(limit + 1).encode("utf-8")
    else:
        with open_binary(path, shown) as fh:
            try:
                data = _read_at_most(fh, limit)
            except OSError as exc:
                raise InputError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{what} {shown} is larger than {_human(limit)}, the limit",
                         hint=f"raise it with {option} if this is intended")
    return data


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    On any exception (a full disk, Ctrl-C, a closed pipe) the temporary file is
    removed and ``path`` keeps whatever it held before. ``mode`` is "w" or "wb".
    A target that exists and is not a regular file (``/dev/null``, a FIFO, a
    terminal) is written in place: renaming over it would replace the device.
    """
    target = os.path.abspath(path)
    try:
        special = os.path.exists(target) and not os.path.isfile(target)
    except (OSError, ValueError):
        special = False
    if special:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(target, mode, **kwargs) as fh:
            yield fh
        return
    directory = os.path.dirname(target) or "."
    import tempfile  # here, not at the top: every command reads a file, few write one

    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp",
                               dir=directory)
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
        except OSError:
            pass
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
