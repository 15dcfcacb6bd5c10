"""Start the studio's Streamlit server on a free loopback port for browser tests and screenshots."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, startup_limit: float = 120.0, log_path: Path | None = None,
                     watcher: str = "none", extra_args: tuple = ()):
    """Yield the base URL of a running server; stop it afterwards. Bounded wait for start-up. The
    server's output goes to ``log_path`` (a temporary file by default: a pipe nobody reads would fill
    up and stall the server). ``watcher``: Streamlit's file watcher type (off, as ``make run`` has it)."""
    import tempfile

    port = free_port()
    if log_path is None:
        log_path = Path(tempfile.mkstemp(prefix="streamlit-", suffix=".log")[1])
    log = open(log_path, "wb")
    cmd = [sys.executable, "-m", "ui.serve", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", watcher, *extra_args]
    proc = subprocess.Popen(cmd, cwd=PROJECT, env={**os.environ, "STUDIO_JOBS": "process", **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_limit
        while True:
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited: " + Path(log_path).read_text(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start in time")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def clustering_slider(page, url: str, timeout: float):
    """Open the clustering page, fit the mixtures if this server has none yet, return the k slider."""
    from playwright.sync_api import expect

    page.goto(url + "/clustering")
    fit = page.get_by_role("button", name="Fit the mixtures")
    slider = page.get_by_role("slider", name="Number of groups (k)")
    expect(fit.or_(slider)).to_be_visible(timeout=timeout)
    if fit.is_visible():
        fit.click()
    expect(slider).to_be_visible(timeout=timeout)
    return slider
