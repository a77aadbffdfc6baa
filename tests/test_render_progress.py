"""The progress bar on a terminal: SIGTERM while it is live gives the cursor back."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT

pty = pytest.importorskip("pty")

HIDE, SHOW = b"\x1b[?25l", b"\x1b[?25h"


def _read_until(fd, needle: bytes, seen: bytearray, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other end is closed
                return needle in seen
            if not chunk:
                break
            seen += chunk
    return needle in seen


def _long_check_on_a_terminal():
    """``adiff check`` of a million points, stderr on a pseudo-terminal (stdout elsewhere)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["COLUMNS"] = "80"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autodiff_cli", "check", "sin(x)*y", "--samples", "1000000",
         "--format", "json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, cwd=ROOT, env=env)
    os.close(slave)
    return proc, master


def test_sigterm_during_a_progress_bar_shows_the_cursor_again():
    proc, master = _long_check_on_a_terminal()
    try:
        seen = bytearray()
        assert _read_until(master, HIDE, seen, 60), bytes(seen)  # the bar is live
        _read_until(master, b"checking", seen, 10)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        _read_until(master, SHOW, seen, 5)
        assert rc == -signal.SIGTERM, bytes(seen)[-300:]  # it still dies of the signal (143)
        after = bytes(seen[seen.index(HIDE):])
        assert SHOW in after, after
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_without_a_terminal_sigterm_is_left_alone(tmp_path):
    """No bar (stderr is a file): no handler either; SIGTERM ends the run at once."""
    err = tmp_path / "err"
    with open(err, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autodiff_cli", "check", "sin(x)*y", "--samples", "1000000",
             "--format", "json"], stdout=subprocess.DEVNULL, stderr=fh, cwd=ROOT)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    assert SHOW not in err.read_bytes() and HIDE not in err.read_bytes()
