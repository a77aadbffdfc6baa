"""Bounded reads and atomic writes (autodiff_cli.files)."""

from __future__ import annotations

import os
import stat

import pytest

from autodiff_cli.errors import InputError
from autodiff_cli.files import atomic_write, read_limited


def test_atomic_write_replaces_the_file_only_when_complete(tmp_path):
    target = tmp_path / "report.xml"
    target.write_text("old")
    with pytest.raises(OSError):
        with atomic_write(str(target)) as fh:
            fh.write("half")
            raise OSError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.xml"]  # no temporary file left behind
    with atomic_write(str(target)) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["report.xml"]


def test_atomic_write_interrupted_keeps_the_old_file(tmp_path):
    target = tmp_path / "g.dot"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(str(target)) as fh:
            fh.write("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["g.dot"]


def test_atomic_write_to_a_device_writes_in_place():
    # renaming a temporary file over /dev/null (as root) would replace the device
    with atomic_write(os.devnull) as fh:
        fh.write("discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_atomic_write_to_a_fifo_writes_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with atomic_write(str(fifo)) as fh:
            fh.write("through the pipe")
        assert os.read(reader, 100) == b"through the pipe"
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(reader)


def test_read_limited_stops_at_the_limit(tmp_path):
    path = tmp_path / "f.adiff"
    path.write_bytes(b"x" * 11)
    assert read_limited(str(path), 11) == b"x" * 11
    with pytest.raises(InputError, match="larger than 10 bytes"):
        read_limited(str(path), 10)
    with pytest.raises(InputError, match="larger than 1 KiB"):
        read_limited("/dev/zero", 1024)


def test_read_limited_escapes_the_path_in_messages(tmp_path):
    with pytest.raises(InputError) as info:
        read_limited(str(tmp_path / "a\x1b[2Jb"), 10)
    assert "\x1b" not in info.value.message and "a\\x1b[2Jb" in info.value.message
