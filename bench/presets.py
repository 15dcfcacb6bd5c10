"""How long each preset (``core/recommended.py``) takes to train from empty caches on the real data:
``bench/results/presets.md`` / ``.json``, the one source of the presets' times (``core.results``).

Each preset named (default: all of the systems named) is trained as ``core prepare`` and the pages do,
on the data folder's first dataset of its kind and that dataset's default split, with a new, empty cache
and model folder, and timed wall clock end to end (features, training, test). Rows of presets not run
this time are kept as they were, with their own date and how they were measured::

    .venv/bin/python -m bench.presets --data-dir ../shared/data --systems reid clustering
    .venv/bin/python -m bench.presets --data-dir ../shared/data --presets heads-256-mid
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import pandas as pd

from core import artifacts, flags, recommended, results
from core.errors import StudioError

from . import common

NAME = "presets"
HEADING = "Training time"


def measure(preset: recommended.Preset, args) -> dict:
    """Train ``preset`` from empty caches and return its row."""
    from core import prepare

    with tempfile.TemporaryDirectory() as work:
        settings = prepare.Settings(args.data_dir, f"{work}/cache", f"{work}/models", args.weights, args.seed,
                                    presets=f"{preset.system}={preset.key}")
        system = prepare.adapter(preset.system)(settings)
        if system.preset is not preset:               # re-ID without the weights falls back to another method
            raise StudioError(f"{preset.key} cannot be trained here: {system.row.note}")
        start = time.perf_counter()
        card = system.train(lambda fraction, text: print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True))
        seconds = round(time.perf_counter() - start, 1)
        metric, value, _ = system.headline(card)
    return {"system": preset.system, "preset": preset.key, "dataset": system.row.dataset, "units": system.units(),
            "seconds": seconds, "metric": metric, "value": value, "date": artifacts.now(),
            "how": "python -m bench.presets, empty caches, wall clock end to end"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add(p, "data-dir", "weights", "seed", required={"data-dir"})
    p.add_argument("--systems", nargs="+", choices=list(recommended.PRESETS), default=[])
    p.add_argument("--presets", nargs="+", default=[], help="preset keys (default: every preset of --systems)")
    args = p.parse_args(argv)
    chosen = [q for s, ps in recommended.PRESETS.items() for q in ps if s in args.systems or q.key in args.presets]
    if not chosen:
        p.error("name --systems or --presets")
    try:
        kept = [r for r in results.rows(NAME, HEADING) if r["preset"] not in {q.key for q in chosen}]
    except results.ResultsError:
        kept = []
    rows = kept + [measure(q, args) for q in chosen]
    order = {q.key: i for i, q in enumerate(q for ps in recommended.PRESETS.values() for q in ps)}
    rows.sort(key=lambda r: order.get(r["preset"], len(order)))
    info = common.meta([args.seed], data=args.data_dir)
    note = ("Wall clock on 2 cores from empty caches, end to end (features, training, test), on the dataset named. "
            "units: the images (re-ID, attributes) or ratings (clustering) the time was measured on; a preset's "
            "estimate for other data scales the time by them (core/recommended.py). Rows keep their own date and "
            "how they were measured.")
    common.write(NAME, info, [(HEADING, note, pd.DataFrame(rows))])
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
