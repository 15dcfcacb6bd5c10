"""Recommenders over a ratings table: the GMM cluster recommender and two baselines.

All share one interface: ``fit(ratings)``, then ``scores(user_ids)`` -> ``users x items`` array with
already-seen movies at ``-inf``, and ``recommend(user_id, n)`` -> a DataFrame with reasons.

**Cluster recommender** (``ClusterRecommender``). Members of the user's cluster vote for a movie with
their soft membership weight ``z[v, c]``. For cluster ``c`` and movie ``m``:

* ``support[c, m] = sum_v z[v, c] * rated(v, m)``, the (soft) number of members who rated it;
* ``mean[c, m]`` their weighted mean rating;
* scorers:
  - ``"liked"`` (default): the weighted share of the cluster's members who rated the movie 4 or more.
    It rewards movies the group both watches and likes, which is what a held-out test can confirm;
  - ``"damped"``: the weighted mean rating shrunk towards the global mean with ``damping`` pseudo-votes;
  - ``"mean"``: the course's plain scorer, the unweighted mean rating within the user's hard cluster.
    A plain mean over a handful of raters favours obscure movies rated 5 by one or two people;
    it is kept as it is, as a reference.

A user's score is ``sum_c z[u, c] * score[c, m]``; movies whose support in the user's clusters is below
``min_support`` are left out (``"mean"`` uses a minimum of one rater, as the course did).

**Baselines**: ``PopularRecommender`` (number of ratings in training) and ``ItemKNNRecommender``
(cosine similarity between the movies' rating columns, each movie keeping its ``neighbours`` most
similar movies; a user's score for a movie is the similarity-weighted sum of their ratings of its
neighbours).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .. import threads
from ..errors import StudioError
from .features import Profiles, ProfileSpec, user_profiles
from .gmm import ClusterModel, GMMSpec, fit_model

LIKE = 4.0


@dataclass
class RatingMatrix:
    users: np.ndarray            # sorted userIds (rows)
    items: np.ndarray            # sorted movieIds (columns)
    R: sparse.csr_matrix         # ratings

    @classmethod
    def build(cls, ratings: pd.DataFrame) -> "RatingMatrix":
        users = np.sort(ratings["userId"].unique())
        items = np.sort(ratings["movieId"].unique())
        rows = np.searchsorted(users, ratings["userId"].to_numpy())
        cols = np.searchsorted(items, ratings["movieId"].to_numpy())
        R = sparse.csr_matrix((ratings["rating"].to_numpy(np.float64), (rows, cols)),
                              shape=(len(users), len(items)))
        return cls(users, items, R)

    def rows(self, user_ids) -> np.ndarray:
        user_ids = np.asarray(user_ids)
        idx = np.searchsorted(self.users, user_ids)
        bad = (idx >= len(self.users)) | (self.users[np.minimum(idx, len(self.users) - 1)] != user_ids)
        if bad.any():
            raise StudioError(f"unknown user id {user_ids[bad][0]}: no ratings for this user")
        return idx

    def mask_seen(self, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        seen = self.R[rows]
        r, c = seen.nonzero()
        scores[r, c] = -np.inf
        return scores


def profile_rows(profiles: Profiles, users: np.ndarray) -> np.ndarray:
    """Rows of ``users`` in ``profiles``; StudioError when a user has no profile."""
    rows = np.searchsorted(profiles.users, users)
    if not np.array_equal(profiles.users[np.minimum(rows, len(profiles.users) - 1)], users):
        raise StudioError("the profiles do not cover every user in the ratings")
    return rows


class _Base:
    name = "base"

    def fit(self, ratings: pd.DataFrame, movies: pd.DataFrame | None = None):
        self.matrix = RatingMatrix.build(ratings)
        self.movies = movies
        return self

    def _raw_scores(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def scores(self, user_ids) -> np.ndarray:
        rows = self.matrix.rows(user_ids)
        with threads.limited(1):
            return self.matrix.mask_seen(rows, np.asarray(self._raw_scores(rows), np.float64).copy())

    def top_n(self, user_ids, n: int = 10) -> np.ndarray:
        """``users x n`` movieIds, best first; -1 where fewer than n movies have a finite score."""
        s = self.scores(user_ids)
        n_eff = min(n, s.shape[1])
        part = np.argpartition(-s, n_eff - 1, axis=1)[:, :n_eff]
        order = np.take_along_axis(part, np.argsort(-np.take_along_axis(s, part, 1), axis=1, kind="stable"), 1)
        ids = self.matrix.items[order]
        ids[~np.isfinite(np.take_along_axis(s, order, 1))] = -1
        if n_eff < n:
            ids = np.pad(ids, ((0, 0), (0, n - n_eff)), constant_values=-1)
        return ids

    def recommend(self, user_id: int, n: int = 10) -> pd.DataFrame:
        s = self.scores([user_id])[0]
        order = [i for i in np.argsort(-s, kind="stable")[:n] if np.isfinite(s[i])]
        out = pd.DataFrame({"movieId": self.matrix.items[order], "score": s[order]})
        if self.movies is not None:
            out = out.merge(self.movies[["movieId", "title", "genres"]], on="movieId", how="left")
        return out


class PopularRecommender(_Base):
    name = "most popular"

    def fit(self, ratings, movies=None):
        super().fit(ratings, movies)
        self._pop = np.asarray((self.matrix.R > 0).sum(0)).ravel().astype(float)
        return self

    def _raw_scores(self, rows):
        return np.tile(self._pop, (len(rows), 1))


class ItemKNNRecommender(_Base):
    name = "item-kNN"

    def __init__(self, neighbours: int = 50, chunk: int = 1024):
        self.neighbours, self.chunk = neighbours, chunk

    def fit(self, ratings, movies=None):
        super().fit(ratings, movies)
        R = self.matrix.R.tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(R.multiply(R).sum(0)).ravel())
        # users x items, columns unit length; kept sparse (a dense copy is 6.5 GB at 162k users x 10k films)
        C = (R @ sparse.diags(1.0 / np.maximum(norms, 1e-12))).astype(np.float32).tocsc()
        CT = C.T.tocsr()
        n_items, k = C.shape[1], min(self.neighbours, C.shape[1] - 1)
        rows, cols, vals = [], [], []
        with threads.limited(2):
            for start in range(0, n_items, self.chunk):
                sim = (CT[start:start + self.chunk] @ C).toarray()             # chunk x items
                idx = np.arange(sim.shape[0])
                sim[idx, start + idx] = 0.0                                      # not its own neighbour
                top = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k > 0 else np.zeros((len(idx), 0), int)
                rows.append(np.repeat(start + idx, top.shape[1]))
                cols.append(top.ravel())
                vals.append(np.take_along_axis(sim, top, 1).ravel())
        self.sim = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(n_items, n_items))
        return self

    def _raw_scores(self, rows):
        return (self.matrix.R[rows] @ self.sim.T).toarray()


class ClusterRecommender(_Base):
    """See the module doc. ``model`` must have been fitted on ``profiles`` built from the same ratings."""

    SCORERS = ("liked", "damped", "mean")

    def __init__(self, model: ClusterModel, profiles: Profiles, scorer: str = "liked",
                 min_support: float = 3.0, damping: float = 5.0):
        if scorer not in self.SCORERS:
            raise StudioError(f"unknown scorer '{scorer}'; choose one of {', '.join(self.SCORERS)}")
        self.model, self.profiles, self.scorer = model, profiles, scorer
        self.min_support, self.damping = min_support, damping
        self.name = {"liked": "GMM clusters (liked share)", "damped": "GMM clusters (damped mean)",
                     "mean": "GMM clusters (course: plain mean)"}[scorer]

    def fit(self, ratings, movies=None):
        super().fit(ratings, movies)
        M = self.matrix
        Z = self.model.responsibilities(self.profiles)[profile_rows(self.profiles, M.users)]   # users x k
        if self.scorer == "mean":
            Z = np.eye(self.model.k)[Z.argmax(1)]
        self.Z = Z
        B = (M.R > 0).astype(np.float64)
        L = (M.R >= LIKE).astype(np.float64)
        with threads.limited(1):
            self.support = np.asarray((B.T @ Z).T)                              # k x items
            liked = np.asarray((L.T @ Z).T)
            sums = np.asarray((M.R.T @ Z).T)
        self.mean = np.divide(sums, self.support, out=np.zeros_like(sums), where=self.support > 0)
        self.size = Z.sum(0)
        if self.scorer == "liked":
            self.cluster_scores = liked / np.maximum(self.size, 1e-12)[:, None]
        elif self.scorer == "damped":
            mu = M.R.data.mean()
            self.cluster_scores = (sums + self.damping * mu) / (self.support + self.damping)
        else:
            self.cluster_scores = self.mean
        return self

    def _raw_scores(self, rows):
        Z = self.Z[rows]
        scores = Z @ self.cluster_scores
        need = 1.0 if self.scorer == "mean" else self.min_support
        enough = (Z @ self.support) >= need - 1e-9
        return np.where(enough, scores, -np.inf)

    def recommend(self, user_id: int, n: int = 10) -> pd.DataFrame:
        out = super().recommend(user_id, n)
        row = self.matrix.rows([user_id])[0]
        c = int(self.Z[row].argmax())
        cols = np.searchsorted(self.matrix.items, out["movieId"].to_numpy())
        out["cluster"] = c
        out["cluster raters"] = self.support[c, cols].round(1)
        out["cluster mean rating"] = self.mean[c, cols].round(2)
        frame = self.profiles.frame()
        prof = frame.loc[user_id]
        liked = set(prof[prof > frame.mean()].index)      # genres the user is above the average user in
        if "genres" in out:
            out["matching genres"] = out["genres"].map(
                lambda g: ", ".join(x for x in str(g).split("|") if x in liked))
        return out


def fit_cluster_recommender(ratings: pd.DataFrame, movies: pd.DataFrame, k: int,
                            profile_spec: ProfileSpec = ProfileSpec(), gmm_spec: GMMSpec = GMMSpec(),
                            seed: int = 0, scorer: str = "liked", min_support: float = 3.0):
    profiles = user_profiles(ratings, movies, profile_spec)
    model = fit_model(profiles, k, gmm_spec, seed)
    return ClusterRecommender(model, profiles, scorer, min_support).fit(ratings, movies)
