"""Clustering benchmark: sweep time (with and without thread limits), the evaluation table for the
BIC-best k and others, and a MovieLens-25M-sized scale run on generated ratings.

    python -m bench.clustering --data-dir ../shared/data [--scale-users 162000]
"""
from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from core.clustering import gmm, pipeline
from core.clustering.features import user_profiles
from core.clustering.gmm import GMMSpec, sweep
from core.datasets import catalog, demo

from . import common


def sweep_times(profiles, seeds) -> pd.DataFrame:
    rows = []
    for label, threads, spec, prof in [
        ("share, diag (default), 1 BLAS thread per fit", 1, GMMSpec(), profiles["share"]),
        ("share, diag, library default threads", None, GMMSpec(), profiles["share"]),
        ("share, full, 1 thread", 1, GMMSpec("full", 1), profiles["share"]),
        ("course (mean, 0-filled, standardised), diag, 1 thread", 1, GMMSpec(), profiles["course"]),
    ]:
        gmm.FIT_THREADS = threads
        result = sweep(prof.values, range(1, 26), spec, seeds)
        rows.append({"setting": label, "seconds (25 k x %d seeds)" % len(seeds): round(result.seconds, 2),
                     "BIC-best k": result.best_k, "per-seed minima": " ".join(map(str, result.best_k_per_seed))})
        print(rows[-1], file=sys.stderr)
    gmm.FIT_THREADS = 1
    return pd.DataFrame(rows)


def slider_step(ml, profiles, seeds, cache_dir) -> pd.DataFrame:
    """What one slider move costs in the app: load the saved model for k, assign users, fit the cluster
    statistics, recommend for one user (the sweep itself is saved once and not repeated)."""
    from core.clustering.recommend import ClusterRecommender

    folder = pipeline.sweep_folder(cache_dir, profiles, range(1, 26), seeds, GMMSpec())
    pipeline.run_sweep(profiles, folder, range(1, 26), seeds)
    rows = []
    for k in (2, 9, 25):
        t0 = time.perf_counter()
        model = pipeline.load_model(folder, k)
        model.responsibilities(profiles)
        rec = ClusterRecommender(model, profiles).fit(ml.ratings, ml.movies)
        rec.recommend(42, 10)
        rows.append({"k": k, "slider step ms": round((time.perf_counter() - t0) * 1000, 1)})
    return pd.DataFrame(rows)


def generated_ratings(n_users: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens-25M-like sizes (162k users, ~150 ratings each over 10k movies), planted taste groups."""
    rng = np.random.default_rng(seed)
    n_movies = 10_000
    genre_lists = [sorted(rng.choice(demo.GENRES, rng.integers(1, 4), replace=False).tolist()) for _ in range(n_movies)]
    movies = pd.DataFrame({"movieId": np.arange(1, n_movies + 1), "title": [f"m{i}" for i in range(n_movies)],
                           "genres": ["|".join(g) for g in genre_lists]})
    movies["genre_list"] = genre_lists
    groups = list(demo.TASTE_GROUPS.values())
    affinity = np.array([[len(set(g) & set(gl)) / len(gl) for gl in genre_lists] for g in groups])
    per_user = np.clip(rng.lognormal(4.6, 0.8, n_users), 20, 2000).astype(int)
    group = rng.integers(len(groups), size=n_users)
    weights = [(0.05 + 3 * a) / (0.05 + 3 * a).sum() for a in affinity]
    users, items = [], []
    for g in range(len(groups)):
        idx = np.nonzero(group == g)[0]
        total = int(per_user[idx].sum())
        items.append(rng.choice(n_movies, size=total, p=weights[g]) + 1)
        users.append(np.repeat(idx + 1, per_user[idx]))
    ratings = pd.DataFrame({"userId": np.concatenate(users).astype(np.int64),
                            "movieId": np.concatenate(items).astype(np.int64)})
    ratings = ratings.drop_duplicates(["userId", "movieId"])
    ratings["rating"] = rng.integers(1, 11, len(ratings)) / 2.0
    ratings["timestamp"] = np.arange(len(ratings))
    return ratings, movies


def scale_run(n_users: int, k: int, seed: int) -> dict:
    t0 = time.perf_counter()
    ratings, movies = generated_ratings(n_users, seed)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    profiles = user_profiles(ratings, movies)
    t_prof = time.perf_counter() - t0
    n_ratings = len(ratings)
    del ratings
    gc.collect()
    t0 = time.perf_counter()
    model = gmm.fit(profiles.values, k, GMMSpec(), seed)
    t_fit = time.perf_counter() - t0
    return {"users": len(profiles.users), "ratings": n_ratings, "k": k, "generate s": round(t_gen, 1),
            "profiles s": round(t_prof, 1), "GMM fit s (diag, n_init=3)": round(t_fit, 1),
            "converged": bool(model.converged_), "peak RSS MB (whole process)": round(common.peak_rss_mb())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--scale-users", type=int, default=162_000)
    p.add_argument("--scale-k", type=int, default=10)
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    seeds = tuple(range(args.seeds))
    if args.scale_only:                              # run in a child so its memory peak is its own
        import json

        print(json.dumps(scale_run(args.scale_users, args.scale_k, 0)))
        return 0

    ml = catalog.load(catalog.resolve("ratings", args.data_dir))
    profiles = {"share": user_profiles(ml.ratings, ml.movies),
                "course": user_profiles(ml.ratings, ml.movies, pipeline.COURSE_PROFILE)}
    times = sweep_times(profiles, seeds)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        steps = slider_step(ml, profiles["share"], seeds, tmp)
    best = int(times.iloc[0]["BIC-best k"])
    ks = sorted({2, 4, best, 15, 25})
    evals = []
    for k in ks:
        t = pipeline.evaluate_k(ml, k)
        evals.append(t)
        print(t.round(4).to_string(), file=sys.stderr)
    table = pd.concat(evals, ignore_index=True)
    course = pd.concat([pipeline.evaluate_k(ml, k, pipeline.COURSE_PROFILE) for k in (best,)], ignore_index=True)
    course["method"] = course["method"] + " [course profile]"
    sections = [
        ("Sweep time, k = 1..25 on ml-latest-small", "Wall-clock seconds for all fits (BIC and AIC per fit).",
         times),
        ("Slider step on ml-latest-small", "Load the saved model for k, assign 610 users, fit the cluster "
         "statistics, recommend for user 42 (the page caches these per k after the first visit).", steps),
        (f"Recommendations, temporal 80/20 hold-out (BIC-best k = {best})",
         "P/R/NDCG at 10; relevant = held-out rating >= 4; coverage = share of training movies recommended "
         "to anyone. The same most-popular and item-kNN rows repeat for every k.", table.round(4)),
        ("The course's profile at the same k", "", course.round(4)),
    ]
    if not args.skip_scale:
        import json

        out = subprocess.run([sys.executable, "-m", "bench.clustering", "--data-dir", args.data_dir,
                              "--scale-only", "--scale-users", str(args.scale_users), "--scale-k", str(args.scale_k)],
                             capture_output=True, text=True, check=True)
        scale = json.loads(out.stdout.strip().splitlines()[-1])
        print(scale, file=sys.stderr)
        sections.append(("Scale: generated MovieLens-25M-sized ratings", "Separate process; peak RSS includes "
                         "the generated ratings table.", pd.DataFrame([scale])))
    path = common.write("clustering", common.meta(seeds, data=str(ml.root)), sections)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
