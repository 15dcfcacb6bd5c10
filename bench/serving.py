"""How many visitors 2 cores serve: N simultaneous browser sessions on the clustering page.

    .venv/bin/python -m bench.serving                 # N = 1, 8, 16, 32, file watcher off (as make run)
    .venv/bin/python -m bench.serving --watcher-too --gc-too   # also N = 8 as Streamlit has it by default

Each visitor opens the clustering page in its own browser context (a new session), waits for the k
slider, and moves it three times, each time waiting until the page shows the new k. All N start at once.
Measured per N: wall time until every visitor is done, each visitor's own time (median, slowest), the
server process's CPU seconds (user + system, from /proc; per visitor), and apart from it the load
generator's (this Python process and the Chromium processes it drives). The server runs on the demo data
(or ``--data-dir``) with its mixtures fitted once in a warm-up visit that is not counted.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.common import meta, write
from core import flags
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, streamlit_server

TICK = os.sysconf("SC_CLK_TCK")
MOVES = 3


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) of a live process, else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / TICK


def cpu_of_tree(root: int, exclude: int | None = None) -> float:
    """CPU seconds of ``root`` and all its live descendants (their dead children counted in them), minus
    the subtree of ``exclude``."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = _stat(int(entry))
            if s is not None:
                stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid == exclude or pid not in stats:
            continue
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


async def visitor(browser, url: str, timeout_ms: float) -> float:
    from playwright.async_api import expect

    start = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(url + "/clustering", timeout=timeout_ms)
    slider = page.get_by_role("slider", name="Number of groups (k)")
    await expect(slider).to_be_visible(timeout=timeout_ms)
    caption = page.get_by_text(re.compile(r"^Users per group \(k = \d+\)"))
    await expect(caption).to_be_visible(timeout=timeout_ms)
    k = int(re.search(r"k = (\d+)", await caption.text_content()).group(1))     # the BIC-best k, below 25 - MOVES
    await slider.focus()
    for _ in range(MOVES):
        k += 1
        await page.keyboard.press("ArrowRight")
        await expect(page.get_by_text(f"Users per group (k = {k})")).to_be_visible(timeout=timeout_ms)
    await context.close()
    return time.perf_counter() - start


async def crowd(url: str, n: int, server_pid: int, timeout_ms: float) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await visitor(browser, url, timeout_ms)                        # this browser's own warm-up, not counted
        me = os.getpid()
        server0, load0 = cpu_of_tree(server_pid), cpu_of_tree(me, exclude=server_pid)
        start = time.perf_counter()
        times = await asyncio.gather(*[visitor(browser, url, timeout_ms) for _ in range(n)])
        wall = time.perf_counter() - start
        server_s, load_s = cpu_of_tree(server_pid) - server0, cpu_of_tree(me, exclude=server_pid) - load0
        await browser.close()
    return {"visitors": n, "wall s": round(wall, 2), "visitor median s": round(statistics.median(times), 2),
            "slowest visitor s": round(max(times), 2), "server CPU s": round(server_s, 2),
            "server CPU s per visitor": round(server_s / n, 3), "load generator CPU s": round(load_s, 2)}


def server_pid_on(port: int) -> int:
    """The pid of the process listening on ``port`` (the Streamlit server), from /proc/net/tcp."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":      # LISTEN
            inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def measure(ns, watcher: str, data_dir: str | None, timeout_ms: float, gc: bool = False
            ) -> tuple[list[dict], float, int]:
    env = {"STUDIO_DATA_DIR": data_dir or ""}
    log_path = Path(tempfile.mkstemp(prefix="serving-", suffix=".log")[1])
    rows = []
    started = time.perf_counter()
    extra = ("--runner.postScriptGC", "true") if gc else ()
    with streamlit_server(env, log_path=log_path, watcher=watcher, extra_args=extra) as url:
        ready_s = time.perf_counter() - started
        pid = server_pid_on(int(url.rsplit(":", 1)[1]))
        from playwright.sync_api import sync_playwright

        from tests.e2e.server import clustering_slider

        with sync_playwright() as pw:                                   # fit the mixtures once
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm = browser.new_page()
            warm.goto(url)              # the first session of a new server registers the pages
            warm.get_by_role("heading", name="Person Re-ID & Clustering Studio").wait_for(timeout=timeout_ms)
            clustering_slider(warm, url, timeout_ms)
            browser.close()
        for n in ns:
            print(f"{n} visitors, file watcher {watcher}…", file=sys.stderr, flush=True)
            rows.append({"file watcher": watcher, "full GC after each run": gc,
                         **asyncio.run(crowd(url, n, pid, timeout_ms))})
    warnings = sum(("warning" in line.lower() or "overflow" in line.lower())
                   for line in log_path.read_text(errors="replace").splitlines())
    return rows, ready_s, warnings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", default="1,8,16,32", help="comma-separated numbers of simultaneous visitors")
    parser.add_argument("--watcher-too", action="store_true", help="also N = 8 with the file watcher on ('auto')")
    parser.add_argument("--gc-too", action="store_true",
                        help="also N = 8 with Streamlit's full garbage collection after every script run")
    flags.add(parser, "data-dir")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a visitor may wait for one step")
    parser.add_argument("--name", default="serving")
    args = parser.parse_args(argv)
    ns = [int(v) for v in args.visitors.split(",")]
    info = meta([], data=args.data_dir or "demo", moves_per_visitor=MOVES, cores=os.cpu_count())
    rows, ready_s, warnings = measure(ns, "none", args.data_dir, args.timeout * 1000)
    info.update(startup_s=round(ready_s, 1), server_log_warnings=warnings)
    if args.watcher_too:
        more, ready_on, warnings_on = measure([8], "auto", args.data_dir, args.timeout * 1000)
        rows += more
        info.update(startup_s_watcher_on=round(ready_on, 1), server_log_warnings_watcher_on=warnings_on)
    if args.gc_too:
        more, _, _ = measure([8], "none", args.data_dir, args.timeout * 1000, gc=True)
        rows += more
    table = pd.DataFrame(rows)
    note = ("Visitors start together; each opens the clustering page in a new session and moves the k slider "
            f"{MOVES} times, waiting for the new groups each time. Server CPU: the Streamlit process's user + "
            "system seconds during the crowd; load generator: this benchmark and its Chromium processes, kept "
            "apart. start-up: seconds from launching the server until its health check answers.")
    path = write(args.name, info, [("Simultaneous visitors on the clustering page", note, table)])
    print(table.to_string(index=False))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
