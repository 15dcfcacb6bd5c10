"""``make models`` from empty caches: how long until every page shows a trained model.

    .venv/bin/python -m bench.prepare --data-dir ../shared/data

Runs ``core.prepare.run`` (what ``make models`` and the home page's button run) with a new, empty cache
and model folder, then once more to check that everything is kept (the resumed run's time). Writes
``bench/results/prepare.md`` / ``.json``: per system the data, the recommended model, its headline number,
the time measured and the time the dashboard estimated beforehand.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time

import pandas as pd

from bench.common import meta, peak_rss_mb, stderr_progress, write
from core import flags, prepare


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add(parser, "data-dir", "weights")
    parser.add_argument("--name", default="prepare")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-prepare-")
    settings = prepare.Settings(args.data_dir, f"{work}/cache", f"{work}/models", args.weights)
    info = meta([settings.seed], data=args.data_dir or "demo", caches="empty at the start (a new folder)")
    try:
        start = time.perf_counter()
        rows = prepare.run(settings, progress=stderr_progress(0.05))
        total = time.perf_counter() - start
        again_start = time.perf_counter()
        again = prepare.run(settings)
        again_s = time.perf_counter() - again_start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = pd.DataFrame([{"system": r.title, "state": r.state, "data": r.dataset, "model": r.model,
                           "metric": r.metric, "value": r.value, "headline": r.headline or r.note,
                           "seconds": r.seconds, "estimated s": r.expected_s} for r in rows])
    info.update(total_s=round(total, 1), second_run_s=round(again_s, 1),
                second_run_kept=all(r.state == "ready" for r in again), peak_rss_mb=round(peak_rss_mb()))
    note = ("One run from empty caches, systems one after another (re-ID, clustering, attributes), each on the "
            "first dataset of its kind in the data folder and its default split. seconds: measured; estimated s: "
            "what the home page said beforehand (core/recommended.py, scaled to the data's size). total_s: the "
            "whole run; second_run_s: the same command again, every model kept.")
    path = write(args.name, info, [("make models", note, table)])
    print(table.to_string(index=False))
    print(f"total {total:.0f} s; second run {again_s:.1f} s; wrote {path}")
    return 0 if all(r.state == "ready" for r in rows) else 2


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
