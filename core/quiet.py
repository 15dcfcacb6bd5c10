"""Keep TensorFlow's native start-up notices out of a server's log.

TensorFlow 2.21 writes notices from C++ straight to the process's standard error (file descriptor 2) when
it is imported and when it first looks for a GPU ("oneDNN custom operations are on", "Could not find cuda
drivers", "failed call to cuInit", absl's "All log messages before absl::InitializeLog() ..."), ignoring
TF_CPP_MIN_LOG_LEVEL. On a CPU-only machine they are expected, say nothing an operator can act on, and
read as warnings and errors in the server's log. ``filter_native_stderr`` routes descriptor 2 through a
thread that drops exactly those lines and passes everything else on unchanged, line by line.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading

EXPECTED = re.compile(
    rb"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|^I\d{4} [\d:. ]+\d+ \S+\] "                                   # absl INFO lines
    rb"|^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags"
    rb"|cuda_platform\.cc.*failed call to cuInit|Could not find cuda drivers|Unable to register cu\w+ factory")

_installed = False
_lock = threading.Lock()


def filter_native_stderr() -> bool:
    """Install the filter once per process (later calls do nothing); False where it cannot be (no
    descriptor 2)."""
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            original = os.dup(2)
        except OSError:
            return False
        read_end, write_end = os.pipe()
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(write_end, 2)
        os.close(write_end)
        pump = threading.Thread(target=_pump, args=(read_end, original), name="stderr-filter", daemon=True)
        pump.start()
        atexit.register(_drain, pump)
        _installed = True
        return True


def _pump(read_end: int, original: int) -> None:
    rest = b""
    with os.fdopen(read_end, "rb", buffering=0) as src, os.fdopen(original, "wb", buffering=0) as out:
        while True:
            chunk = src.read(65536)
            if not chunk:
                break
            *lines, rest = (rest + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not EXPECTED.search(line))
            if kept:
                out.write(kept)
        if rest and not EXPECTED.search(rest):
            out.write(rest)


def _drain(pump: threading.Thread) -> None:
    """At exit: close our end of the pipe so the last lines (a final traceback) are still passed on."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        os.close(2)
    except OSError:
        return
    pump.join(timeout=2)
