"""Taste groups put to work: names a person can talk about, memberships from a handful of ratings, and a
hybrid recommender that blends the groups with item similarity and popularity.

* :func:`group_names`: each group named by its most distinctive genres ("Animation · Children ·
  Fantasy"): the genres whose share in the group's profile is furthest above the average user's, in
  units of the users' spread.
* :func:`memberships`: soft group membership of users known only by a few ratings (a new user, a
  visitor), from their genre profile scaled as the model's training profiles were.
* :class:`Components`: what the hybrid blends, fitted on training ratings: each group's liked share per
  film (the GMM recommender's scores) and support, item-kNN similarities, popularity.
* :func:`blend`: the three scores, each divided by the user's own maximum over unseen films (so that
  each lies in [0, 1] for every user), summed with weights; :func:`choose_weights` picks the weights
  on validation users only (a grid over the simplex, step 0.1), maximising Precision@10.
* :class:`HybridRecommender`: the recommender interface of :mod:`.recommend` (``fit`` / ``scores`` /
  ``recommend`` with reasons); on a full-history hold-out its weights are chosen on a temporal
  validation split inside the training ratings.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from .. import threads
from ..errors import StudioError
from .evaluation import temporal_split
from .features import Profiles, user_profiles
from .gmm import ClusterModel
from .recommend import LIKE, ClusterRecommender, ItemKNNRecommender, PopularRecommender, _Base, profile_rows

PARTS = ("group", "knn", "popular")
AT = 10
# Item-kNN neighbours inside the hybrid, chosen on the temporal validation split of ml-latest-small's
# training ratings (validation P@10: 50 -> 0.0843, 100 -> 0.0852, 200 -> 0.0879, 400 -> 0.0850,
# 1000 -> 0.0852); the stand-alone item-kNN baseline keeps its 50.
NEIGHBOURS = 200


def group_profiles(model: ClusterModel, profiles: Profiles) -> np.ndarray:
    """``k x genres``: each group's mean raw profile, users weighted by their membership."""
    resp = model.responsibilities(profiles)
    return (resp / np.maximum(resp.sum(0, keepdims=True), 1e-12)).T @ profiles.raw


def group_names(model: ClusterModel, profiles: Profiles, top: int = 3) -> list[str]:
    """``"Animation · Children · Fantasy"`` per group: its ``top`` most distinctive genres, those whose
    profile value in the group is the highest multiple of the average user's, among the genres that
    weigh at least a quarter of the group's largest one (so that a rare genre a little more common in
    the group does not name it); a repeated name gets " (2)", " (3)"."""
    group_means = group_profiles(model, profiles)                              # k x genres
    ratio = group_means / np.maximum(profiles.raw.mean(0), 1e-9)
    names, seen = [], {}
    for means, row in zip(group_means, ratio):
        big = means >= 0.25 * means.max()
        order = [j for j in np.argsort(-row, kind="stable") if big[j] and row[j] > 1][:top] or \
            [int(np.argmax(means))]
        name = " · ".join(profiles.genres[j] for j in order)
        key = frozenset(order)                   # the same genres in another order: the same name
        seen[key] = seen.get(key, 0) + 1
        names.append(name if seen[key] == 1 else f"{name} ({seen[key]})")
    return names


PRIOR_RATINGS = 10.0     # chosen on validation users inside the training folds (see bench/clustering.py)


def placement(model: ClusterModel, ratings: pd.DataFrame, movies: pd.DataFrame,
              prior_ratings: float = PRIOR_RATINGS, prior: np.ndarray | None = None) -> tuple[Profiles, np.ndarray]:
    """``(raw profiles, users x k responsibilities)`` for the users in ``ratings`` (any number of
    ratings each), their profiles built and scaled exactly as the model's training profiles were.

    A profile from a handful of ratings is extreme (one comedy makes a user 100 % comedy), and the
    mixture would be certain on it. With ``prior_ratings`` > 0, a ``share`` profile of a user with n
    ratings is pulled towards ``prior`` (the mixture's mean profile by default) as if the user had also
    made ``prior_ratings`` average ratings: ``(n * share + prior_ratings * prior) / (n + prior_ratings)``;
    it matters for a few ratings and fades as they grow. Other profile kinds are used as they are. The
    returned profiles are the users' own, before that pull."""
    spec = replace(model.profile_spec, scale="none", min_ratings=1)
    prof = user_profiles(ratings, movies, spec)
    if prof.genres != model.genres:
        raise StudioError("the ratings' catalogue has other genres than the one the groups were fitted on")
    raw = prof.raw
    if prior_ratings > 0 and spec.kind == "share":
        if prior is None:
            prior = model.gmm.weights_ @ model.gmm.means_
            prior = prior * model.scale + model.center if model.profile_spec.scale == "standard" else prior
        n = ratings.groupby("userId").size().reindex(prof.users).to_numpy(float)[:, None]
        raw = (n * raw + prior_ratings * prior) / (n + prior_ratings)
    values = (raw - model.center) / model.scale if model.profile_spec.scale == "standard" else raw
    return prof, model.gmm.predict_proba(values)


def memberships(model: ClusterModel, ratings: pd.DataFrame, movies: pd.DataFrame,
                prior_ratings: float = PRIOR_RATINGS, prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(userIds, users x k responsibilities)``: see :func:`placement`."""
    prof, Z = placement(model, ratings, movies, prior_ratings, prior)
    return prof.users, Z


@dataclass
class Components:
    """The hybrid's parts, fitted on training ratings (columns: ``items``, sorted movieIds)."""

    items: np.ndarray
    liked: np.ndarray            # k x items: each group's (soft) share of members who rated the film 4+
    support: np.ndarray          # k x items: each group's (soft) number of members who rated it
    sim: sparse.csr_matrix       # items x items: item-kNN cosine similarities (top neighbours per row)
    pop: np.ndarray              # items: number of training ratings
    min_support: float = 3.0

    @classmethod
    def fit(cls, ratings: pd.DataFrame, movies: pd.DataFrame, model: ClusterModel, profiles: Profiles,
            neighbours: int = NEIGHBOURS, min_support: float = 3.0, items=None) -> "Components":
        """``items``: an ``ItemCache`` for what does not depend on the groups (item similarities and
        popularity: computed once per set of ratings and kept on disk)."""
        group = ClusterRecommender(model, profiles, "liked", min_support).fit(ratings, movies)
        sim, pop = (items or ItemCache(None)).parts(ratings, movies, neighbours)
        return cls(group.matrix.items, group.cluster_scores, group.support, sim, pop, min_support)

    def known(self, ratings: pd.DataFrame, users: np.ndarray) -> sparse.csr_matrix:
        """``users x items`` ratings of ``users`` (rows in that order) on this catalogue's films."""
        cols = np.searchsorted(self.items, ratings["movieId"].to_numpy())
        ok = (cols < len(self.items)) & (self.items[np.minimum(cols, len(self.items) - 1)] == ratings["movieId"].to_numpy())
        rows = np.searchsorted(users, ratings["userId"].to_numpy())
        return sparse.csr_matrix((ratings["rating"].to_numpy(np.float64)[ok], (rows[ok], cols[ok])),
                                 shape=(len(users), len(self.items)))

    def scores(self, Z: np.ndarray, known: sparse.csr_matrix) -> dict[str, np.ndarray]:
        """Raw scores per part, ``users x items``; the group part is NaN where the groups' support is
        below ``min_support`` (too few members rated the film to say)."""
        with threads.limited(1):
            group = Z @ self.liked
            group[(Z @ self.support) < self.min_support - 1e-9] = np.nan
            knn = np.asarray((known @ self.sim.T).todense())
        return {"group": group, "knn": knn, "popular": np.broadcast_to(self.pop, group.shape).copy()}


class ItemCache:
    """Item-kNN similarities and popularity of a set of ratings (they do not depend on k), in ``folder``
    (``items-<key>.npz``, the key from the ratings' content and the neighbours; written atomically) or,
    with ``folder`` None, computed each time."""

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)

    def parts(self, ratings: pd.DataFrame, movies, neighbours: int) -> tuple[sparse.csr_matrix, np.ndarray]:
        from .. import artifacts
        from .gmm import data_key

        path = None
        if self.folder is not None:
            cols = ratings[["userId", "movieId", "rating"]].to_numpy(np.float64)
            path = self.folder / f"items-{data_key(cols, neighbours, 'v1')}.npz"
            if path.is_file():
                try:
                    with np.load(path, allow_pickle=False) as a:
                        n = int(a["n"])
                        return sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=(n, n)), a["pop"]
                except (OSError, ValueError, KeyError):
                    pass                       # unreadable: computed again and rewritten
        sim = ItemKNNRecommender(neighbours).fit(ratings, movies).sim
        pop = PopularRecommender().fit(ratings, movies)._pop
        if path is not None:
            import io

            buf = io.BytesIO()
            np.savez(buf, data=sim.data, indices=sim.indices, indptr=sim.indptr, n=np.array(sim.shape[0]), pop=pop)
            artifacts.atomic_write_bytes(path, buf.getvalue())
        return sim, pop


def _scaled(s: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum over unseen films (NaN -> 0), so it lies in [0, 1]."""
    s = np.nan_to_num(np.where(seen, 0.0, s), nan=0.0).astype(np.float32)
    return s / np.maximum(s.max(1, keepdims=True), 1e-12)


def blend(parts: dict[str, np.ndarray], weights: dict[str, float], seen: np.ndarray) -> np.ndarray:
    """The weighted sum of the per-user scaled parts; seen films at -inf."""
    total = np.zeros(seen.shape)
    for p, w in weights.items():
        if w:
            total += w * _scaled(parts[p], seen)
    total[seen] = -np.inf
    return total


def top_cols(scores: np.ndarray, n: int = AT) -> np.ndarray:
    """``users x n`` column indices, best first (ties: lower column first); -1 for -inf scores."""
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.take_along_axis(part, np.lexsort((part, -np.take_along_axis(scores, part, 1)), axis=1), 1)
    order[~np.isfinite(np.take_along_axis(scores, order, 1))] = -1
    return order


def relevance(items: np.ndarray, relevant: list[set]) -> sparse.csr_matrix:
    """``users x items`` 0/1 matrix of each user's relevant films (films outside ``items`` dropped)."""
    rows, cols = [], []
    index = {m: j for j, m in enumerate(items)}
    for u, rel in enumerate(relevant):
        js = [index[m] for m in rel if m in index]
        rows += [u] * len(js)
        cols += js
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(relevant), len(items)))


def metrics_at(top: np.ndarray, rel: sparse.csr_matrix, n_relevant: np.ndarray, k: int = AT) -> dict:
    """P/R/NDCG@k per user (arrays), from top column indices; ``n_relevant`` counts films outside the
    catalogue too, as :func:`.evaluation.user_metrics` does."""
    safe = np.maximum(top, 0)
    hit = np.asarray(rel[np.arange(len(top))[:, None], safe].todense()).astype(bool) & (top >= 0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.array([discounts[:min(int(r), k)].sum() for r in n_relevant])
    return {"P": hit.sum(1) / k, "R": hit.sum(1) / np.maximum(n_relevant, 1),
            "NDCG": (hit * discounts[:hit.shape[1]]).sum(1) / np.maximum(ideal, 1e-12)}


def weight_grid(step: float = 0.1) -> list[dict[str, float]]:
    n = int(round(1 / step))
    return [{"group": a / n, "knn": b / n, "popular": (n - a - b) / n} for a in range(n + 1) for b in range(n + 1 - a)]


def choose_weights(parts: dict[str, np.ndarray], seen: np.ndarray, items: np.ndarray, relevant: list[set],
                   step: float = 0.1) -> tuple[dict[str, float], float]:
    """The grid weights with the best Precision@10 on these (validation) users; ties: the first."""
    scaled = {p: _scaled(v, seen) for p, v in parts.items()}
    rel = relevance(items, relevant)
    n_rel = np.array([len(r) for r in relevant])
    best, best_p = None, -1.0
    for w in weight_grid(step):
        s = sum(w[p] * scaled[p] for p in PARTS)
        s[seen] = -np.inf
        p = float(metrics_at(top_cols(s), rel, n_rel)["P"].mean())
        if p > best_p + 1e-12:
            best, best_p = w, p
    return best, best_p


class HybridRecommender(_Base):
    """Groups + item-kNN + popularity (see the module doc). ``weights=None``: chosen at ``fit`` on a
    temporal validation split of the training ratings (each user's latest 20 % of them)."""

    name = "hybrid (groups + item-kNN + popularity)"

    def __init__(self, model: ClusterModel, profiles: Profiles, weights: dict[str, float] | None = None,
                 neighbours: int = NEIGHBOURS, min_support: float = 3.0, names: list[str] | None = None,
                 items: "ItemCache | None" = None):
        self.model, self.profiles, self.weights = model, profiles, weights
        self.neighbours, self.min_support = neighbours, min_support
        self.names, self.items = names, items

    def fit(self, ratings, movies=None):
        super().fit(ratings, movies)
        resp = self.model.responsibilities(self.profiles)
        Z = resp[profile_rows(self.profiles, self.matrix.users)]
        if self.weights is None:
            inner, val = temporal_split(ratings)
            comp = Components.fit(inner, movies, self.model, self.profiles, self.neighbours, self.min_support,
                                  self.items)
            relevant = val[val.rating >= LIKE].groupby("userId")["movieId"].apply(set)
            inner_users = set(inner.userId.unique())
            users = np.array([u for u in relevant.index if u in inner_users])
            known = comp.known(inner[inner.userId.isin(users)], users)
            parts = comp.scores(resp[profile_rows(self.profiles, users)], known)
            self.weights, self.validation_precision = choose_weights(parts, known.toarray() > 0, comp.items,
                                                                     [relevant[u] for u in users])
        self.components = Components.fit(ratings, movies, self.model, self.profiles, self.neighbours,
                                         self.min_support, self.items)
        self.Z = Z
        return self

    def _raw_scores(self, rows):
        known = self.matrix.R[rows]
        parts = self.components.scores(self.Z[rows], known)
        return blend(parts, self.weights, known.toarray() > 0)

    def recommend(self, user_id: int, n: int = 10) -> pd.DataFrame:
        row = self.matrix.rows([user_id])[0]
        return explain(self.components, self.Z[row], self.matrix.R[row], self.weights, self.movies, n, self.names)


def explain(comp: Components, z: np.ndarray, known: sparse.csr_matrix, weights: dict[str, float],
            movies: pd.DataFrame | None, n: int = 10, names: list[str] | None = None) -> pd.DataFrame:
    """One user's top ``n`` with the reason for each, in words: which part of the blend lifted it most."""
    known = sparse.csr_matrix(known).reshape(1, -1)
    parts = comp.scores(z[None, :], known)
    seen = known.toarray() > 0
    scores = blend(parts, weights, seen)[0]
    order = [i for i in np.argsort(-scores, kind="stable")[:n] if np.isfinite(scores[i])]
    group = int(np.argmax(z))
    label = (names or [f"group {g}" for g in range(len(z))])[group]
    rated_cols, rated_vals = known.indices, known.data
    titles = {} if movies is None else dict(zip(movies.movieId, movies.title))
    rows = []
    scaled = {p: _scaled(parts[p], seen)[0] for p in PARTS}
    for i in order:
        lift = {p: weights.get(p, 0) * scaled[p][i] for p in PARTS}
        main = max(lift, key=lift.get)
        liked_share = comp.liked[group, i]
        group_known = np.isfinite(parts["group"][0, i])
        if main == "knn" and len(rated_cols):
            contrib = comp.sim[i, rated_cols].toarray().ravel() * rated_vals
            j = int(rated_cols[int(np.argmax(contrib))])
            why = f"similar to {titles.get(comp.items[j], comp.items[j])}, which you rated {known[0, j]:g} stars"
        elif main == "group" and group_known:
            why = f"liked by {liked_share:.0%} of your group “{label}”"
        else:
            why = f"popular: {int(comp.pop[i]):,} people rated it"
        if main != "group" and group_known and lift["group"] > 0:
            why += f"; {liked_share:.0%} of your group liked it"
        rows.append({"movieId": comp.items[i], "score": float(scores[i]), "why": why,
                     "liked by your group": float(liked_share)})
    out = pd.DataFrame(rows, columns=["movieId", "score", "why", "liked by your group"])
    if movies is not None:
        out = out.merge(movies[["movieId", "title", "genres"]], on="movieId", how="left")
    return out
