"""Clustering benchmark: sweep time (with and without thread limits), the evaluation table for the
BIC-best k and others (groups, baselines and the hybrid), the cold-start evaluation (new users known by
their first n ratings), the time a visitor's rating takes to update the page's answer, and a
MovieLens-25M-sized scale run on generated ratings.

    python -m bench.clustering --data-dir ../shared/data [--scale-users 162000] [--dataset NAME]
"""
from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from core import flags
from core.clustering import coldstart, gmm, pipeline
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


def visitor_latency(ml, k: int, players=(42, 314, 444), answers: int = 20, seed: int = 0) -> pd.DataFrame:
    """A real user plays the visitor: answers each question the page asks with their own rating of the
    film ("not seen" when they have none), up to ``answers`` ratings. Per rating: the time to place the
    visitor (membership, profile, 10 recommendations with reasons) and to choose the next question."""
    from core.clustering.gmm import fit_model
    from core.clustering.visitor import TasteGuide

    profiles = user_profiles(ml.ratings, ml.movies)
    model = fit_model(profiles, k, seed=seed)
    t0 = time.perf_counter()
    guide = TasteGuide.from_hybrid(pipeline.hybrid_recommender(ml, model, profiles), ml.movies)
    prepare = time.perf_counter() - t0
    rows = []
    for player in players:
        own = ml.ratings[ml.ratings.userId == player].set_index("movieId").rating
        if own.empty:
            continue
        full_group = int(model.responsibilities(profiles)[profiles.row(player)].argmax())
        rated, skipped, times, same = {}, [], [], []
        while len(rated) < answers:
            q = guide.next_question(rated, skipped)
            if q is None:
                break
            if q not in own.index:
                skipped.append(q)
                continue
            rated[q] = float(own[q])
            t0 = time.perf_counter()
            place = guide.place(rated)
            guide.next_question(rated, skipped)
            times.append((time.perf_counter() - t0) * 1000)
            same.append(place.group == full_group)
        rows.append({"player (user id)": player, "ratings given": len(rated), "questions skipped": len(skipped),
                     "median ms per rating": round(float(np.median(times)), 1),
                     "max ms per rating": round(float(np.max(times)), 1),
                     "ratings until placed in own group for good": next(
                         (i + 1 for i in range(len(same)) if all(same[i:])), "never"),
                     "prepare s (once per data and k)": round(prepare, 1)})
        print(rows[-1], file=sys.stderr)
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


def scale_hybrid_run(n_users: int, k: int, seed: int, test_users: int) -> dict:
    """The hybrid and the cold-start evaluation at MovieLens-25M size: the hybrid's parts fitted on all
    users, a visitor's rating answered, and 2 user folds of cold start on ``test_users`` users each."""
    from core.clustering import coldstart
    from core.clustering.gmm import wrap
    from core.clustering.hybrid import Components
    from core.clustering.visitor import TasteGuide
    from core.datasets.movielens import MovieLens

    ratings, movies = generated_ratings(n_users, seed)
    profiles = user_profiles(ratings, movies)
    model = wrap(gmm.fit(profiles.values, k, GMMSpec(), seed), profiles, GMMSpec(), seed)
    t0 = time.perf_counter()
    comp = Components.fit(ratings, movies, model, profiles)
    t_comp = time.perf_counter() - t0
    guide = TasteGuide(model, profiles, comp, {"group": 0.4, "knn": 0.6, "popular": 0.0}, movies)
    rated, times = {}, []
    for m in guide.starters(12):
        rated[m] = 4.0
        t0 = time.perf_counter()
        guide.place(rated)
        guide.next_question(rated)
        times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    table = coldstart.evaluate(MovieLens(None, ratings, movies), k, ns=(1, 5, 20), folds=2, seed=seed,
                               max_test_users=test_users)
    t_cold = time.perf_counter() - t0
    best = table.loc[table.groupby("n")["P@10"].idxmax(), ["n", "method", "P@10"]]
    return {"users": len(profiles.users), "ratings": len(ratings), "k": k,
            "hybrid parts fit s (item-kNN 200 + groups + popularity)": round(t_comp, 1),
            "visitor: median ms per rating (12 ratings)": round(float(np.median(times)), 1),
            "visitor: max ms per rating": round(float(np.max(times)), 1),
            f"cold start s (2 folds x {test_users} test users, n = 1, 5, 20)": round(t_cold, 1),
            "best P@10 at n = 1 / 5 / 20": " / ".join(f"{m} {p:.3f}" for m, p in zip(best.method, best["P@10"])),
            "peak RSS MB (whole process)": round(common.peak_rss_mb())}


def recommender_at_every_k(ml, profiles, seeds, cache_dir) -> pd.DataFrame:
    """The recommender (the hybrid) at every k: fitted from nothing, as the page's "Prepare the recommender"
    button did for each k; the item similarities computed once and kept; every k's weights chosen once
    (``make models``); then a slider step that finds them on disk, item similarities read from the cache."""
    from core.clustering.hybrid import NEIGHBOURS, HybridRecommender, ItemCache, group_names

    ks = range(1, 26)
    folder = pipeline.sweep_folder(cache_dir, profiles, ks, seeds, GMMSpec())
    pipeline.run_sweep(profiles, folder, ks, seeds)
    rows = []
    model = pipeline.load_model(folder, 9)
    t0 = time.perf_counter()
    HybridRecommender(model, profiles, names=group_names(model, profiles)).fit(ml.ratings, ml.movies)
    rows.append({"step": "one k from nothing (the page's former 'Prepare the recommender', k = 9)",
                 "seconds": round(time.perf_counter() - t0, 2)})
    t0 = time.perf_counter()
    items = ItemCache(folder.parent)
    items.parts(ml.ratings, ml.movies, NEIGHBOURS)
    from core.clustering.evaluation import temporal_split

    items.parts(temporal_split(ml.ratings)[0], ml.movies, NEIGHBOURS)
    rows.append({"step": "item similarities and popularity, all ratings and the validation split (once per data)",
                 "seconds": round(time.perf_counter() - t0, 2)})
    t0 = time.perf_counter()
    pipeline.prepare_hybrids(ml, folder, ks, profiles)
    total = time.perf_counter() - t0
    rows.append({"step": "every k's weights, k = 1..25 (make models; item similarities from the cache)",
                 "seconds": round(total, 2)})
    for k in (2, 9, 25):
        t0 = time.perf_counter()
        rec = pipeline.hybrid_recommender(ml, pipeline.load_model(folder, k), profiles, 3.0, folder, k)
        rec.recommend(42, 10)
        rows.append({"step": f"slider step to k = {k}: weights and similarities from disk, 10 films for user 42",
                     "seconds": round(time.perf_counter() - t0, 3)})
        print(rows[-1], file=sys.stderr)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    flags.add(p, "data-dir", "dataset", required={"data-dir"})
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--scale-users", type=int, default=162_000)
    p.add_argument("--scale-k", type=int, default=10)
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scale-hybrid-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scale-test-users", type=int, default=2000, help="cold-start test users per fold at scale")
    p.add_argument("--name", default="clustering", help="results file name (bench/results/NAME.md)")
    p.add_argument("--recommender-only", action="store_true",
                   help="only the recommender at every k (clustering-recommender.md)")
    args = p.parse_args(argv)
    seeds = tuple(range(args.seeds))
    if args.scale_only or args.scale_hybrid_only:    # run in a child so its memory peak is its own
        import json

        run = scale_run(args.scale_users, args.scale_k, 0) if args.scale_only else \
            scale_hybrid_run(args.scale_users, args.scale_k, 0, args.scale_test_users)
        print(json.dumps(run))
        return 0

    source = catalog.resolve("ratings", args.data_dir, dataset=args.dataset)
    ml = catalog.load(source)
    if args.recommender_only:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            table = recommender_at_every_k(ml, user_profiles(ml.ratings, ml.movies), seeds, tmp)
        path = common.write("clustering-recommender", common.meta(seeds, data=str(source.path)), [
            (f"The recommender at every k on {source.name or 'the demo'}",
             "Wall-clock seconds on this machine, one process, caches empty at the start. The first row is what "
             "every k cost before; the weights and item similarities are now kept on disk, so a slider step "
             "after make models reads them.", table)])
        print(path.read_text())
        return 0
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
    course = pd.concat([pipeline.evaluate_k(ml, k, pipeline.COURSE_PROFILE, hybrid=False) for k in (best,)],
                       ignore_index=True)
    course["method"] = course["method"] + " [course profile]"
    t0 = time.perf_counter()
    cold = coldstart.evaluate(ml, best, progress=common.stderr_progress(0.25))
    cold_s = time.perf_counter() - t0
    print(cold.round(4).to_string(), file=sys.stderr)
    visitors = visitor_latency(ml, best)
    name = source.name or "the demo"
    sections = [
        (f"Sweep time, k = 1..25 on {name}", "Wall-clock seconds for all fits (BIC and AIC per fit).", times),
        (f"Slider step on {name}", f"Load the saved model for k, assign {len(profiles['share'].users):,} users, fit "
         "the cluster statistics, recommend for user 42 (the page caches these per k after the first visit).", steps),
        (f"Recommendations, temporal 80/20 hold-out (BIC-best k = {best})",
         "P/R/NDCG at 10; relevant = held-out rating >= 4; coverage = share of training movies recommended "
         "to anyone. The same most-popular and item-kNN rows repeat for every k. The hybrid's weights are "
         "chosen on a temporal validation split inside the training ratings (each user's latest 20 % of "
         "them), never on the held-out ratings; its item-kNN uses 200 neighbours (chosen on that validation "
         "split: 50 -> P@10 0.0843, 100 -> 0.0852, 200 -> 0.0879, 400 -> 0.0850).", table.round(4)),
        ("The course's profile at the same k", "", course.round(4)),
        (f"New users (cold start), k = {best}",
         f"5 user folds (seed 0): the models are fitted without a fold's users, who are then known by their "
         "first n ratings (by time) only; relevant = their later ratings >= 4. Memberships from the n ratings, "
         "the profile pulled towards the average user by 10 pseudo-ratings (chosen on validation users). The "
         "hybrid's weights (group / item-kNN / popularity) are chosen per n on 20 % of each fold's training "
         f"users, never on the fold's test users. The whole evaluation took {cold_s:.0f} s.", cold.round(4)),
        ("A visitor rating films on the page",
         "A real user plays the visitor and answers the page's questions with their own ratings ('not seen' "
         "when they have none). Time per rating: place the visitor (membership, profile, 10 recommendations "
         "with reasons) and choose the next question. 'Placed in own group': the group their whole history "
         "gives, kept from that rating on.", visitors),
    ]
    if not args.skip_scale:
        import json

        for flag, title, note in (
                ("--scale-only", "Scale: generated MovieLens-25M-sized ratings",
                 "Separate process; peak RSS includes the generated ratings table."),
                ("--scale-hybrid-only", "Scale: the hybrid and cold start on the same generated ratings",
                 "Separate process. The hybrid's parts fitted on every user; a visitor's 12 ratings; cold start on "
                 f"2 user folds with {args.scale_test_users:,} test users each (models refitted per fold)."))[
                :2 if args.scale_users else 0]:
            out = subprocess.run([sys.executable, "-m", "bench.clustering", "--data-dir", args.data_dir, flag,
                                  "--scale-users", str(args.scale_users), "--scale-k", str(args.scale_k),
                                  "--scale-test-users", str(args.scale_test_users)],
                                 capture_output=True, text=True, check=True)
            scale = json.loads(out.stdout.strip().splitlines()[-1])
            print(scale, file=sys.stderr)
            sections.append((title, note, pd.DataFrame([scale])))
    path = common.write(args.name, common.meta(seeds, data=str(ml.root), dataset=source.name or "demo",
                                               layout=source.layout), sections)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
