"""How long finding and loading each layout takes at the size of its real release.

    python -m bench.loaders [--scale 1.0] [--name loaders]

Generated in a temporary folder (no third-party data): empty image files with the release's names and
counts (the loaders read names only, never pixels), ratings files with the release's number of lines.
Writes bench/results/<name>.md / .json: per layout the size, the seconds to discover the data folder
(one walk for all), and the seconds to load and check each dataset.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core.datasets import catalog

from . import common


def touch_all(folder: Path, names) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for name in names:
        (folder / name).touch()
        n += 1
    return n


def market(root: Path, s: float) -> str:
    rng = np.random.default_rng(0)
    n_train, n_query, n_gallery = int(12936 * s), int(3368 * s), int(19732 * s)
    touch_all(root / "bounding_box_train", (f"{rng.integers(1, 1502):04d}_c{rng.integers(1, 7)}s1_{i:06d}_01.jpg"
                                            for i in range(n_train)))
    touch_all(root / "query", (f"{1 + i % 750:04d}_c{1 + i % 6}s2_{i:06d}_00.jpg" for i in range(n_query)))
    def gallery_pid(i: int) -> str:       # about 1 in 14 junk (-1), 1 in 14 distractors (0000), as released
        return "-1" if i % 14 == 0 else "0000" if i % 14 == 7 else f"{1 + i % 750:04d}"
    touch_all(root / "bounding_box_test", (f"{gallery_pid(i)}_c{1 + (i + 1) % 6}s3_{i:06d}_01.jpg"
                                           for i in range(n_gallery)))
    return f"{n_train:,} / {n_query:,} / {n_gallery:,} images"


def prid(root: Path, s: float) -> str:
    touch_all(root / "single_shot" / "cam_a", (f"person_{i:04d}.png" for i in range(1, 386)))
    touch_all(root / "single_shot" / "cam_b", (f"person_{i:04d}.png" for i in range(1, 750)))
    return "385 + 749 images"


def ratings_dat(root: Path, s: float, n_users: int, n_movies: int, n: int) -> str:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    n = int(n * s)
    frame = pd.DataFrame({"u": rng.integers(1, n_users + 1, n), "m": rng.integers(1, n_movies + 1, n),
                          "r": rng.integers(1, 11, n) / 2, "t": rng.integers(9e8, 1.2e9, n)})
    frame = frame.drop_duplicates(["u", "m"])
    text = "\n".join(f"{u}::{m}::{r:g}::{t}" for u, m, r, t in frame.itertuples(index=False)) + "\n"
    (root / "ratings.dat").write_text(text)
    (root / "movies.dat").write_text("".join(f"{i}::Movie {i} (1999)::Drama|Comedy\n" for i in range(1, n_movies + 1)))
    return f"{len(frame):,} ratings"


def pa100k(root: Path, s: float) -> str:
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    n = {"train": int(80000 * s), "val": int(10000 * s), "test": int(10000 * s)}
    mat, k = {}, 1
    names_all = []
    for part, count in n.items():
        cell = np.empty((count, 1), dtype=object)
        for i in range(count):
            cell[i, 0] = np.array([f"{k + i:06d}.jpg"])
            names_all.append(f"{k + i:06d}.jpg")
        k += count
        mat[f"{part}_images_name"], mat[f"{part}_label"] = cell, rng.integers(0, 2, (count, 26)).astype(np.uint8)
    attrs = np.empty((26, 1), dtype=object)
    for i in range(26):
        attrs[i, 0] = np.array([f"attr{i}"])
    mat["attributes"] = attrs
    (root / "annotation").mkdir(parents=True)
    savemat(root / "annotation" / "annotation.mat", mat)
    touch_all(root / "data" / "release_data" / "release_data", names_all)
    return f"{len(names_all):,} images"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of each release's size")
    p.add_argument("--name", default="loaders")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = {"Market-1501": market(root / "Market-1501", args.scale),
                 "prid_2011": prid(root / "prid_2011", args.scale),
                 "ml-1m": ratings_dat(root / "ml-1m", args.scale, 6040, 3952, 1_000_209),
                 "ml-10M100K": ratings_dat(root / "ml-10M100K", args.scale, 69878, 10681, 10_000_054),
                 "PA-100K": pa100k(root / "PA-100K", args.scale)}
        print("generated", sizes, file=sys.stderr)
        t0 = time.perf_counter()
        found = catalog.discover(root)
        discover_s = time.perf_counter() - t0
        rows = []
        for source in found:
            t0 = time.perf_counter()
            catalog.load(source)
            rows.append({"dataset": source.name, "layout": source.layout_title, "size": sizes[source.name],
                         "load + check s": round(time.perf_counter() - t0, 2)})
            print(rows[-1], file=sys.stderr)
    table = pd.DataFrame(rows)
    path = common.write(args.name, common.meta([0], scale=args.scale, peak_rss_mb=round(common.peak_rss_mb())),
                        [("Loading at release size", f"Discovering all five in one data folder took "
                          f"{discover_s:.2f} s. Images are empty files with the release's names (loaders read "
                          "names, not pixels); ratings are random with the release's counts.", table)])
    print(path.read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
