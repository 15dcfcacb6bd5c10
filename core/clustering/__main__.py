"""``python -m core.clustering sweep | fit | recommend | evaluate``: GMM clusters of genre tastes.

Examples::

    python -m core.clustering sweep --data-dir ../shared/data
    python -m core.clustering fit --k 9 --out models/gmm-k9
    python -m core.clustering recommend --user 42 --k 9
    python -m core.clustering evaluate --k 4 9 12
    python -m core.clustering sweep --backend spark --covariance full --ratings big/ratings.parquet \
        --movies big/movies.csv --spark-master local[*]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .. import artifacts, cli, config, flags
from ..errors import StudioError
from ..progress import emit
from . import pipeline
from .features import KINDS, ProfileSpec, user_profiles
from .gmm import COVARIANCE_TYPES, ClusterModel, GMMSpec, fit_model
from .recommend import ClusterRecommender


def _flags(p: argparse.ArgumentParser) -> None:
    flags.add(p, *flags.COMMON)
    p.add_argument("--profile", choices=KINDS, default="share", help="user profile kind (default: share)")
    p.add_argument("--course-profile", action="store_true",
                   help="the course's profile: mean rating per genre, unrated = 0, standardised")
    p.add_argument("--covariance", choices=COVARIANCE_TYPES, default="diag")
    p.add_argument("--n-init", type=int, default=3)
    p.add_argument("--reg-covar", type=float, default=1e-3)


def _specs(args) -> tuple[ProfileSpec, GMMSpec]:
    profile = pipeline.COURSE_PROFILE if args.course_profile else ProfileSpec(kind=args.profile)
    return profile, GMMSpec(args.covariance, args.n_init, args.reg_covar)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.clustering", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="BIC / AIC for k = 1..K over several seeds; saves one model per k")
    _flags(sw)
    sw.add_argument("--k-max", type=int, default=25)
    sw.add_argument("--seeds", type=int, default=5, help="number of initialisation seeds (seed, seed+1, ...)")
    sw.add_argument("--json", help="also write the sweep table to this JSON file (atomically)")
    sw.add_argument("--out", help="sweep folder (default: <cache dir>/clustering/<hash of data and settings>)")
    ft = sub.add_parser("fit", help="fit one mixture and save it (npz + JSON card)")
    flags.add(ft, "model-dir")
    _flags(ft)
    ft.add_argument("--k", type=int, required=True)
    ft.add_argument("--out", help="output path without extension (default: <model dir>/gmm-k<k>)")
    for p in (sw, ft):
        p.add_argument("--backend", choices=["sklearn", "spark"], default="sklearn",
                       help="spark: profiles with Spark SQL and pyspark.ml's GaussianMixture (full covariances)")
        p.add_argument("--spark-master", default="local[*]", help="local[*] (default), local[N] or a cluster URL")
        p.add_argument("--ratings", help="spark backend: ratings CSV or Parquet (default: the data folder's)")
        p.add_argument("--movies", help="spark backend: movies.csv (default: the data folder's)")
    rc = sub.add_parser("recommend", help="top-N movies for a user, with reasons")
    _flags(rc)
    rc.add_argument("--user", type=int, required=True)
    rc.add_argument("--k", type=int, help="components (default: the saved --model's)")
    rc.add_argument("--model", help="a model saved by 'fit' (path without extension)")
    rc.add_argument("-n", type=int, default=10)
    rc.add_argument("--method", choices=["hybrid", "groups"], default="hybrid",
                    help="hybrid: groups + item-kNN + popularity, weights chosen on a validation split (default); "
                         "groups: the GMM groups alone (--scorer)")
    rc.add_argument("--scorer", choices=ClusterRecommender.SCORERS, default="liked")
    rc.add_argument("--min-support", type=float, default=3.0)
    ev = sub.add_parser("evaluate", help="temporal 80/20 hold-out: GMM vs most-popular vs item-kNN vs hybrid")
    _flags(ev)
    ev.add_argument("--k", type=int, nargs="+", required=True)
    ev.add_argument("--at", type=int, default=10)
    ev.add_argument("--json", help="also write the table to this JSON file (atomically)")
    cs = sub.add_parser("coldstart", help="new users known by their first n ratings: every method, user folds")
    _flags(cs)
    cs.add_argument("--k", type=int, required=True)
    cs.add_argument("--n", type=int, nargs="+", default=[1, 3, 5, 10, 20])
    cs.add_argument("--folds", type=int, default=5)
    cs.add_argument("--json", help="also write the table to this JSON file (atomically)")
    args = parser.parse_args(argv)

    if getattr(args, "backend", "sklearn") == "spark":
        return _spark(args)
    ml = flags.dataset("ratings", args)
    print(f"data: {'demo' if ml.root and 'demo-v' in str(ml.root) else ml.root} "
          f"({ml.ratings.userId.nunique()} users, {len(ml.ratings)} ratings)", file=sys.stderr)
    profile_spec, gmm_spec = _specs(args)
    pd.set_option("display.width", 200)

    if args.command == "sweep":
        profiles = user_profiles(ml.ratings, ml.movies, profile_spec)
        seeds = tuple(range(args.seed, args.seed + args.seeds))
        ks = tuple(range(1, args.k_max + 1))
        folder = Path(args.out) if args.out else pipeline.sweep_folder(config.cache_dir(args.cache_dir), profiles, ks,
                                                                       seeds, gmm_spec)
        bar, update = cli.progress_bar("sweep")
        result = pipeline.run_sweep(profiles, folder, ks, seeds, gmm_spec, progress=update)
        bar.close()
        return _report_sweep(result, folder, args.json)
    if args.command == "fit":
        profiles = user_profiles(ml.ratings, ml.movies, profile_spec)
        model = fit_model(profiles, args.k, gmm_spec, args.seed)
        out = Path(args.out) if args.out else config.model_dir(getattr(args, "model_dir", None)) / f"gmm-k{args.k}"
        card = model.save(out, {"data": str(ml.root)})
        print(f"saved {out}.npz and {card} (BIC {model.card['bic']:.1f})")
        return 0
    if args.command == "recommend":
        if args.model:
            model = ClusterModel.load(args.model)
            profile_spec = model.profile_spec
            profiles = user_profiles(ml.ratings, ml.movies, profile_spec)
        else:
            if args.k is None:
                raise StudioError("give --k or --model")
            profiles = user_profiles(ml.ratings, ml.movies, profile_spec)
            model = fit_model(profiles, args.k, gmm_spec, args.seed)
        profiles.row(args.user)
        z = model.responsibilities(profiles)[profiles.row(args.user)]
        if args.method == "hybrid":
            rec = pipeline.hybrid_recommender(ml, model, profiles, args.min_support)
            w = rec.weights
            print(f"user {args.user}: group {int(z.argmax())} “{rec.names[int(z.argmax())]}” (membership "
                  f"{z.max():.0%}); blend: groups {w['group']:.0%}, item-kNN {w['knn']:.0%}, popularity "
                  f"{w['popular']:.0%}")
            table = rec.recommend(args.user, args.n)[["title", "why", "liked by your group"]]
            print(table.assign(**{"liked by your group": table["liked by your group"].map("{:.0%}".format)})
                  .to_string(index=False))
            return 0
        rec = ClusterRecommender(model, profiles, args.scorer, args.min_support).fit(ml.ratings, ml.movies)
        print(f"user {args.user}: cluster {int(z.argmax())} (membership {z.max():.2f})")
        print(rec.recommend(args.user, args.n).drop(columns=["genres"]).round(3).to_string(index=False))
        return 0
    if args.command == "coldstart":
        from . import coldstart

        bar, update = cli.progress_bar("cold start")
        table = coldstart.evaluate(ml, args.k, tuple(args.n), args.folds, args.seed, profile_spec, gmm_spec,
                                   progress=update)
        bar.close()
    else:
        table = pd.concat([pipeline.evaluate_k(ml, k, profile_spec, gmm_spec, args.seed, args.at) for k in args.k],
                          ignore_index=True)
    print(table.round(4).to_string(index=False))
    if args.json:
        artifacts.atomic_write_json(args.json, table.to_dict(orient="records"))
    return 0


def _spark(args) -> int:
    """sweep / fit on the Spark backend: the same outputs as the scikit-learn backend."""
    import hashlib
    import json

    from ..datasets.movielens import load_movies
    from . import spark

    profile_spec, gmm_spec = _specs(args)
    spark.check_spec(gmm_spec)
    if args.ratings:
        ratings_path = Path(args.ratings)
        movies_path = Path(args.movies) if args.movies else ratings_path.parent / "movies.csv"
    else:
        source = flags.source("ratings", args)
        if source.layout != "movielens-csv":
            raise StudioError(f"the Spark backend reads MovieLens' ratings.csv / movies.csv; {source.name or source.path} "
                              f"is {source.layout_title}: give --ratings and --movies CSV files, or use the "
                              "scikit-learn backend")
        ratings_path, movies_path = source.path / "ratings.csv", Path(args.movies or source.path / "movies.csv")
    movies = load_movies(movies_path)
    with spark.owned_session(args.spark_master) as session:
        bar, update = cli.progress_bar(f"spark {args.command}")
        emit(update, "profiles", 0, 1, "genre profiles")
        with spark.guard("the genre profiles"):
            prof = spark.profiles(session, spark.read_ratings(session, ratings_path), movies, profile_spec)
        print(f"data: {ratings_path} ({prof.n_users} users, {len(prof.genres)} genres) on {args.spark_master}",
              file=sys.stderr)
        if args.command == "fit":
            with spark.guard("the mixture fit"):
                f = spark.fit(prof, args.k, gmm_spec, args.seed)
            bar.close()
            model = spark.cluster_model(f, prof, gmm_spec, {"data": str(ratings_path)})
            out = Path(args.out) if args.out else config.model_dir(getattr(args, "model_dir", None)) / f"gmm-k{args.k}"
            card = model.save(out)
            print(f"saved {out}.npz and {card} (BIC {f.bic:.1f}, {f.seconds:.1f} s)")
            return 0
        seeds = tuple(range(args.seed, args.seed + args.seeds))
        ks = tuple(range(1, args.k_max + 1))
        stat = ratings_path.stat()
        key = hashlib.sha256(json.dumps([str(ratings_path.resolve()), stat.st_size, stat.st_mtime_ns, ks, seeds,
                                         profile_spec.to_dict(), gmm_spec.__dict__]).encode()).hexdigest()[:24]
        folder = Path(args.out) if args.out else config.cache_dir(args.cache_dir) / "clustering" / f"spark-{key}"
        with spark.guard("the sweep"):
            result = pipeline.run_spark_sweep(prof, folder, ks, seeds, gmm_spec, progress=update)
        bar.close()
    return _report_sweep(result, folder, args.json)


def _report_sweep(result, folder, json_path) -> int:
    print(result.table().round(1).to_string(index=False))
    print(f"BIC-best k = {result.best_k} (mean over {len(result.seeds)} seeds); per seed: {result.best_k_per_seed}; "
          f"sweep took {result.seconds:.1f} s; models in {folder}")
    if json_path:
        artifacts.atomic_write_json(json_path, {"best_k": result.best_k, **result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
