"""GOG's speed, beside an earlier implementation of it run on the same machine at the same time.

    python -m bench.gog --data-dir ../shared/data [--baseline 84e7302] [--images 200]

* **single thread**: ms per image (decoded, any size) for today's ``gog.gog`` and for the ``gog.py`` of
  the ``--baseline`` commit (read from git, so both run in one process, alternating, best of 3);
* **two workers**: images/s of ``handcrafted.describe_many`` on 2 threads (BLAS held to one thread)
  and of the baseline's describe loop as it was (2 threads, pools left as they are);
* **agreement**: the largest relative difference (vector norm) between the two implementations'
  descriptors over the images measured;
* **query latency**: LOMO + GOG + XQDA and the fused method (with frozen Xception; needs the weights)
  trained on the default split, one decoded upload -> descriptors (GOG's colour spaces on two threads,
  Xception on a third) -> XQDA projections -> distances to all of camera B -> ranking; median of 20, in a
  process doing nothing else.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from core import backbones, flags
from core.datasets import catalog
from core.images import load_image
from core.reid import gog, handcrafted, protocols
from core.reid import train as T

from . import common

ROOT = Path(__file__).resolve().parents[1]


def baseline_module(commit: str) -> types.ModuleType:
    """``core/reid/gog.py`` as it was at ``commit``, as a module of its own."""
    src = subprocess.check_output(["git", "show", f"{commit}:core/reid/gog.py"], cwd=ROOT, text=True)
    mod = types.ModuleType(f"gog_{commit}")
    exec(compile(src, f"gog@{commit}", "exec"), mod.__dict__)
    return mod


def best_ms(fn, images, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for im in images:
            fn(im)
        best = min(best, (time.perf_counter() - t0) / len(images) * 1000)
    return best


def rate(fn, images) -> float:
    t0 = time.perf_counter()
    fn(images)
    return len(images) / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    flags.add(p, "data-dir", "dataset", "weights", required={"data-dir"})
    p.add_argument("--baseline", default="84e7302", help="the commit whose gog.py is compared (default: the "
                                                         "last one before the vectorised version)")
    p.add_argument("--images", type=int, default=200, help="how many camera-A images to time")
    args = p.parse_args(argv)
    ds = catalog.load(catalog.resolve("reid", args.data_dir, dataset=args.dataset))
    paths = list(ds.camera(0).path)[: args.images]
    images = [load_image(x) for x in paths]
    old = baseline_module(args.baseline)
    new_ms = best_ms(gog.gog, images[:40])
    old_ms = best_ms(old.gog, images[:40])
    new_rate = rate(lambda ims: handcrafted.describe_many(ims, "gog", 2), images)

    def old_many(ims):
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(old.gog, ims))

    old_rate = rate(old_many, images)
    a, b = np.stack([gog.gog(im) for im in images]), np.stack([old.gog(im) for im in images])
    rel = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-12)
    speed = pd.DataFrame([
        {"implementation": f"baseline ({args.baseline})", "ms/image, 1 thread (best of 3)": round(old_ms, 1),
         "images/s, 2 workers": round(old_rate, 1)},
        {"implementation": f"today ({common.STARTED_AT_COMMIT})", "ms/image, 1 thread (best of 3)": round(new_ms, 1),
         "images/s, 2 workers": round(new_rate, 1)},
    ])
    agree = pd.DataFrame([{"images": len(images), "max relative difference": f"{rel.max():.1e}",
                           "median relative difference": f"{np.median(rel):.1e}"}])
    split = protocols.parse_split(ds, None)
    query = load_image(ds.camera(0).path.iloc[0])
    rows = []
    for label, method in (("LOMO + GOG + XQDA", "lomo-gog-xqda"), ("fused with frozen Xception", "fused-xqda")):
        if method in T.FROZEN_METHODS and not backbones.weights_status(args.weights).ok:
            print(f"{label}: no Xception weights, not timed", file=sys.stderr)
            continue
        model = T.train(ds, split, T.TrainConfig(method, weights=args.weights))
        gallery = T.embed_paths(model, list(ds.camera(1).path))
        times, parts = [], {"embedding (descriptors, projection)": [], "distances + ranking": []}
        for _ in range(21):
            t0 = time.perf_counter()
            q = model.embed([query])
            t1 = time.perf_counter()
            np.argsort(model.distance(q, gallery)[0], kind="stable")
            t2 = time.perf_counter()
            times.append((t2 - t0) * 1000)
            parts["embedding (descriptors, projection)"].append((t1 - t0) * 1000)
            parts["distances + ranking"].append((t2 - t1) * 1000)
        times, parts = times[1:], {k: v[1:] for k, v in parts.items()}
        rows.append({"method": label, "gallery images": len(gallery),
                     "query ms (median of 20)": round(float(np.median(times)), 1),
                     "query ms (max of 20)": round(float(np.max(times)), 1),
                     **{f"{k} ms": round(float(np.median(v)), 1) for k, v in parts.items()}})
    latency = pd.DataFrame(rows)
    info = common.meta([0], data=str(ds.root), dataset=ds.name, images=len(images), baseline=args.baseline)
    path = common.write("reid-gog", info, [
        ("Speed", "Decoded images (reading the files is not timed). 1 thread: each implementation alone, "
                  "alternating, best of 3 passes over 40 images. 2 workers: all the images, once.", speed),
        ("Agreement with the baseline", "||today - baseline|| / ||baseline|| per image.", agree),
        ("Query latency", f"Model trained on the {split.name} split; the gallery is all of camera B, embedded "
                          "once beforehand; the first of 21 queries (warm-up) is dropped.", latency)])
    print(path.read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
