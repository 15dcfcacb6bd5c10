"""Cold-start evaluation: how well each method serves a new user known by their first n ratings.

Protocol (seeded): users are split into ``folds`` user folds. For each fold, the models (genre
profiles, the mixture, the groups' liked shares, item similarities, popularity) are fitted on the other
folds' users only. A test user is known by their first ``n`` ratings by time (stable; ties by movieId);
everything they rated later is unknown, and the later ratings of 4 or more are the relevant films.
Their group membership comes from those n ratings alone. Users with no more than n ratings or with no
relevant later film are left out at that n (the count is reported).

The hybrid's weights are chosen per n on a validation slice of the *training* users (``val_fraction``
of them, seeded): the models are fitted on the rest of the training users, the validation users are
known by their first n ratings, and the grid weights with the best Precision@10 are kept; then the
models are refitted on all training users and the test users scored once.

Methods: most popular, item-kNN (similarity-weighted sum of the n known ratings), the GMM groups
(membership x each group's liked share, films with support below ``min_support`` left out), and the
hybrid. Metrics at 10 as in :mod:`.evaluation`; coverage is the share of the training films
recommended to at least one test user, averaged over folds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets.movielens import MovieLens
from ..progress import emit
from .features import ProfileSpec, user_profiles
from .gmm import GMMSpec, fit_model
from .hybrid import AT, PRIOR_RATINGS, Components, blend, choose_weights, memberships, metrics_at, relevance, top_cols
from .recommend import LIKE

NS = (1, 3, 5, 10, 20)
METHODS = ("most popular", "item-kNN", "GMM groups", "hybrid")


def first_n(ratings: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's first ``n`` ratings by time (ties by movieId) and the rest."""
    r = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    pos = r.groupby("userId").cumcount().to_numpy()
    return r[pos < n].reset_index(drop=True), r[pos >= n].reset_index(drop=True)


def _fit(ratings, movies, k, profile_spec, gmm_spec, seed, neighbours, min_support):
    profiles = user_profiles(ratings, movies, profile_spec)
    model = fit_model(profiles, min(k, len(profiles.users)), gmm_spec, seed)
    return model, Components.fit(ratings, movies, model, profiles, neighbours, min_support)


def _new_users(ratings, movies, model, comp, n, prior_ratings=PRIOR_RATINGS):
    """Users known by their first n ratings: (users, Z, known matrix, seen mask, relevant sets)."""
    known, later = first_n(ratings, n)
    relevant = later[later.rating >= LIKE].groupby("userId")["movieId"].apply(set)
    users = np.array(sorted(set(relevant.index) & set(known.userId)))
    if not len(users):
        return None
    known = known[known.userId.isin(users)]
    z_users, Z = memberships(model, known, movies, prior_ratings)
    Z = Z[np.searchsorted(z_users, users)]
    K = comp.known(known, users)
    return users, Z, K, K.toarray() > 0, [relevant[u] for u in users]


def method_scores(parts: dict, seen: np.ndarray, weights: dict) -> dict[str, np.ndarray]:
    out = {}
    for method, part in (("most popular", "popular"), ("item-kNN", "knn"), ("GMM groups", "group")):
        s = np.nan_to_num(parts[part], nan=-np.inf) if part == "group" else parts[part].astype(np.float64)
        s = s.copy()
        s[seen] = -np.inf
        out[method] = s
    out["hybrid"] = blend(parts, weights, seen)
    return out


def evaluate(ml: MovieLens, k: int, ns=NS, folds: int = 5, seed: int = 0, profile_spec: ProfileSpec = ProfileSpec(),
             gmm_spec: GMMSpec = GMMSpec(), neighbours: int = 200, min_support: float = 3.0,
             val_fraction: float = 0.2, max_test_users: int | None = None, progress=None) -> pd.DataFrame:
    """One row per (n, method): P@10, R@10, NDCG@10, coverage, users, and the hybrid's weights per fold.
    ``max_test_users`` caps the test users of a fold and the validation users alike (for large data)."""
    ratings, movies = ml.ratings, ml.movies
    all_users = np.sort(ratings.userId.unique())
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(all_users)) % folds
    per_user = {(n, m): [] for n in ns for m in METHODS}
    covered = {(n, m): [] for n in ns for m in METHODS}
    chosen = {n: [] for n in ns}
    steps, done = folds * 2, 0
    for f in range(folds):
        test_users = all_users[fold_of == f]
        if max_test_users is not None and len(test_users) > max_test_users:
            test_users = np.sort(rng.choice(test_users, max_test_users, replace=False))
        train_users = all_users[fold_of != f]
        n_val = max(1, int(round(len(train_users) * val_fraction)))
        if max_test_users is not None:
            n_val = min(n_val, max_test_users)
        val_users = rng.choice(train_users, n_val, replace=False)
        inner = ratings[ratings.userId.isin(train_users) & ~ratings.userId.isin(val_users)]
        model, comp = _fit(inner, movies, k, profile_spec, gmm_spec, seed, neighbours, min_support)
        weights = {}
        for n in ns:
            new = _new_users(ratings[ratings.userId.isin(val_users)], movies, model, comp, n)
            weights[n] = {"group": 1 / 3, "knn": 1 / 3, "popular": 1 / 3} if new is None else \
                choose_weights(comp.scores(new[1], new[2]), new[3], comp.items, new[4])[0]
            chosen[n].append(weights[n])
        done += 1
        emit(progress, "folds", done, steps, f"fold {f + 1}/{folds}: hybrid weights chosen on validation users")
        train = ratings[ratings.userId.isin(train_users)]
        model, comp = _fit(train, movies, k, profile_spec, gmm_spec, seed, neighbours, min_support)
        for n in ns:
            new = _new_users(ratings[ratings.userId.isin(test_users)], movies, model, comp, n)
            if new is None:
                continue
            users, Z, K, seen, relevant = new
            rel, n_rel = relevance(comp.items, relevant), np.array([len(r) for r in relevant])
            for method, s in method_scores(comp.scores(Z, K), seen, weights[n]).items():
                top = top_cols(s, AT)
                per_user[(n, method)].append(pd.DataFrame(metrics_at(top, rel, n_rel)))
                covered[(n, method)].append(len(set(top[top >= 0].ravel())) / len(comp.items))
        done += 1
        emit(progress, "folds", done, steps, f"fold {f + 1}/{folds}: test users scored")
    rows = []
    for n in ns:
        for method in METHODS:
            if not per_user[(n, method)]:
                continue
            m = pd.concat(per_user[(n, method)], ignore_index=True)
            row = {"n": n, "method": method, f"P@{AT}": m.P.mean(), f"R@{AT}": m.R.mean(), f"NDCG@{AT}": m.NDCG.mean(),
                   "coverage": float(np.mean(covered[(n, method)])), "users": len(m)}
            if method == "hybrid":
                row["weights (group / kNN / popular, per fold)"] = "; ".join(
                    f"{w['group']:.1f}/{w['knn']:.1f}/{w['popular']:.1f}" for w in chosen[n])
            rows.append(row)
    return pd.DataFrame(rows)
