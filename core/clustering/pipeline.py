"""The steps the page and the CLI share: profiles -> saved sweep (BIC per k, one model per k) -> models.

A sweep is saved in a folder named by a hash of the profiles and the settings, so the same data and
settings are never fitted twice, and the app can show a sweep without training on page load::

    <cache>/clustering/<key>/sweep.json      BIC / AIC per (seed, k), timings, settings
    <cache>/clustering/<key>/k<k>.npz/.json   the model for each k (first seed), see gmm.ClusterModel
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import artifacts
from ..datasets.movielens import MovieLens
from .evaluation import evaluate, temporal_split
from .features import Profiles, ProfileSpec, user_profiles
from .gmm import ClusterModel, GMMSpec, Sweep, data_key, sweep, wrap
from .recommend import ClusterRecommender, ItemKNNRecommender, PopularRecommender

COURSE_PROFILE = ProfileSpec(kind="mean", fill="zero", scale="standard")
DEFAULT_KS = tuple(range(1, 26))
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
# What the page fits by default and ``core.prepare`` fits ahead of time (the same sweep folder).
RECOMMENDED_PROFILE = ProfileSpec("share")
RECOMMENDED_GMM = GMMSpec()
K_MAX = 25


def k_range(n_users: int, k_max: int = K_MAX) -> tuple[int, ...]:
    """The k swept: 1 .. k_max, at most one group per user."""
    return tuple(range(1, min(k_max, n_users) + 1))


# The version of the sweep's code: raise it when the same profiles, ks, seeds and settings would give other
# mixtures (a sweep folder is named by all of these, so one made by older code is not read).
SWEEP_VERSION = 2


def sweep_folder(cache_dir, profiles: Profiles, ks, seeds, gmm_spec: GMMSpec) -> Path:
    """Where the sweep of these profiles, ks, seeds and settings is kept: named by all of them and by
    ``SWEEP_VERSION``."""
    key = data_key(profiles.values, list(ks), list(seeds), asdict(gmm_spec), profiles.spec.to_dict(),
                   f"v{SWEEP_VERSION}")
    return Path(cache_dir) / "clustering" / key


def load_sweep(folder) -> Sweep | None:
    path = Path(folder) / "sweep.json"
    if not path.is_file():
        return None
    try:
        return Sweep.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError):
        return None


def run_sweep(profiles: Profiles, folder, ks=DEFAULT_KS, seeds=DEFAULT_SEEDS, gmm_spec: GMMSpec = GMMSpec(),
              progress=None) -> Sweep:
    """Sweep and save every k's model (first seed); written to a temp folder, then renamed into place."""
    return _write_sweep(folder, seeds, lambda on_fit: sweep(profiles.values, ks, gmm_spec, seeds, progress, on_fit),
                        lambda gm, seed: wrap(gm, profiles, gmm_spec, seed))


def run_spark_sweep(prof, folder, ks=DEFAULT_KS, seeds=(0,), gmm_spec: GMMSpec = GMMSpec("full"),
                    progress=None) -> Sweep:
    """The same on the Spark backend (``spark.SparkProfiles``); the saved models are the same format."""
    from . import spark

    return _write_sweep(folder, seeds, lambda on_fit: spark.sweep(prof, ks, gmm_spec, seeds, progress, on_fit),
                        lambda fit, seed: spark.cluster_model(fit, prof, gmm_spec))


def _write_sweep(folder, seeds, run, model) -> Sweep:
    """``run(on_fit)`` sweeps, calling ``on_fit(seed, k, fitted)``; ``model(fitted, seed)`` makes the
    ClusterModel saved for the first seed. Everything goes to a temporary folder renamed into place, so
    an interrupted sweep leaves nothing half-written and an existing sweep is reused."""
    folder = Path(folder)
    existing = load_sweep(folder)
    if existing is not None:
        return existing
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        first = int(list(seeds)[0])

        def save(seed, k, fitted):
            if seed == first:
                model(fitted, seed).save(tmp / f"k{k}")

        result = run(save)
        artifacts.atomic_write_json(tmp / "sweep.json", result.to_dict())
        try:
            tmp.rename(folder)
        except OSError:
            if load_sweep(folder) is None:      # not a concurrent run that finished first
                raise
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_model(folder, k: int) -> ClusterModel:
    return ClusterModel.load(Path(folder) / f"k{int(k)}")


def recommenders(train, movies, model: ClusterModel, profiles: Profiles, min_support: float = 3.0,
                 neighbours: int = 50, hybrid: bool = True) -> dict:
    """Every method, fitted on ``train``: the GMM scorers beside the two baselines, and the hybrid
    (its weights chosen on a temporal validation split inside ``train``)."""
    recs = {}
    for scorer in ClusterRecommender.SCORERS:
        r = ClusterRecommender(model, profiles, scorer, min_support).fit(train, movies)
        recs[r.name] = r
    recs["most popular"] = PopularRecommender().fit(train, movies)
    recs[f"item-kNN ({neighbours} neighbours)"] = ItemKNNRecommender(neighbours).fit(train, movies)
    if hybrid:
        from .hybrid import HybridRecommender

        h = HybridRecommender(model, profiles, min_support=min_support).fit(train, movies)
        recs[h.name] = h
    return recs


def evaluate_k(ml: MovieLens, k: int, profile_spec: ProfileSpec = ProfileSpec(), gmm_spec: GMMSpec = GMMSpec(),
               seed: int = 0, at: int = 10, min_support: float = 3.0, hybrid: bool = True):
    """Temporal hold-out evaluation for one k: the model is fitted on the training part only."""
    train, test = temporal_split(ml.ratings)
    profiles = user_profiles(train, ml.movies, profile_spec)
    from .gmm import fit_model

    model = fit_model(profiles, k, gmm_spec, seed)
    table = evaluate(recommenders(train, ml.movies, model, profiles, min_support, hybrid=hybrid), train, test, at)
    table.insert(1, "k", k)
    return table


def hybrid_recommender(ml: MovieLens, model: ClusterModel, profiles: Profiles, min_support: float = 3.0,
                       folder=None, k: int | None = None):
    """The hybrid fitted on all of ``ml``'s ratings (for a user's recommendations and for visitors),
    with group names; its weights chosen on a temporal validation split of those ratings. With the sweep's
    ``folder`` and ``k``: item similarities and popularity come from (and go to) the disk cache beside the
    sweeps (they do not depend on k), and the weights chosen for this k are kept in the folder
    (``k<k>-hybrid.json``), so a k prepared once (``prepare_hybrids``: ``make models``) is ready at once,
    also after a restart."""
    from .hybrid import HybridRecommender, ItemCache, group_names

    saved = hybrid_weights(folder, k, min_support) if folder is not None and k is not None else None
    items = ItemCache(Path(folder).parent) if folder is not None else None
    fitted = HybridRecommender(model, profiles, weights=saved, min_support=min_support,
                               names=group_names(model, profiles), items=items).fit(ml.ratings, ml.movies)
    if saved is None and folder is not None and k is not None:
        artifacts.atomic_write_json(_hybrid_path(folder, k), {
            "weights": fitted.weights, "validation_precision": fitted.validation_precision,
            "min_support": min_support, "k": int(k), "date": artifacts.now()})
    return fitted


def _hybrid_path(folder, k: int) -> Path:
    return Path(folder) / f"k{int(k)}-hybrid.json"


def hybrid_weights(folder, k: int, min_support: float = 3.0) -> dict | None:
    """The hybrid's weights kept for this sweep folder and k (None: not chosen yet)."""
    try:
        saved = json.loads(_hybrid_path(folder, k).read_text())
    except (OSError, ValueError):
        return None
    weights = saved.get("weights") if isinstance(saved, dict) else None
    if saved.get("min_support") != min_support or not isinstance(weights, dict) or set(weights) != {"group", "knn",
                                                                                                    "popular"}:
        return None
    return {p: float(v) for p, v in weights.items()}


def prepare_hybrids(ml: MovieLens, folder, ks, profiles: Profiles, min_support: float = 3.0, progress=None) -> None:
    """The hybrid's weights for every k of a sweep, kept in its folder: the recommender is ready at any k
    the slider reaches (``make models`` does this)."""
    from ..progress import emit

    ks = list(ks)
    for i, k in enumerate(ks):
        if hybrid_weights(folder, k, min_support) is None:
            hybrid_recommender(ml, load_model(folder, k), profiles, min_support, folder, k)
        emit(progress, "recommender", i + 1, len(ks), f"the recommender for k = {k} ({i + 1} of {len(ks)})")


@dataclass
class Groups:
    """What a fitted mixture says of the users of ``profiles``: each user's membership probabilities
    (``resp``, users x k), most likely group (``hard``), each group's size and its members' mean profile."""

    resp: np.ndarray
    hard: np.ndarray
    sizes: pd.Series          # users per group, indexed 0..k-1 (empty groups: 0)
    means: pd.DataFrame       # each group's mean profile (rows 0..k-1, NaN for an empty group), genres as columns

    def of(self, row: int) -> tuple[int, float]:
        """The group of the user at ``row`` of the profiles and the probability the model gives it."""
        group = int(self.hard[row])
        return group, float(self.resp[row, group])


def groups(model: ClusterModel, profiles: Profiles) -> Groups:
    """``Groups`` of the users of ``profiles`` under ``model``."""
    resp = model.responsibilities(profiles)
    k = resp.shape[1]
    hard = resp.argmax(1)
    sizes = pd.Series(np.bincount(hard, minlength=k)).rename_axis("group")
    means = profiles.frame().groupby(hard).mean().reindex(range(k))
    return Groups(resp, hard, sizes, means)
