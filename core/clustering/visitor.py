"""A visitor who rates a few films in the browser: group membership, taste against the group, and
recommendations with reasons after every rating; which film to ask about next. Session only: the
visitor's ratings live in the caller's memory and are never written anywhere.

:class:`TasteGuide` holds what is fitted once on a ratings dataset (the mixture, the hybrid's parts and
weights, group names); :meth:`TasteGuide.place` turns ``{movieId: stars}`` into a :class:`Placement`.

Questions: the first ``starters`` films are well known and genre-diverse (the most rated film of each
genre not yet covered, most rated first). After that, the next question is the film that best tells
the groups still likely for this visitor apart: among the most rated films not yet asked, the one
whose groups' liked shares vary most under the visitor's current membership (the variance of the
liked share over groups, weighted by membership), times how widely the film is known (its share of
raters, so that the visitor has likely seen it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import StudioError
from .features import Profiles
from .gmm import ClusterModel
from .hybrid import Components, explain, group_names, group_profiles, placement

ASK_POOL = 300          # questions come from the most rated films


@dataclass
class Placement:
    membership: np.ndarray              # k
    group: int
    profile: pd.Series                  # the visitor's genre profile (raw units)
    recommendations: pd.DataFrame       # title, genres, why, score
    seconds: float


class TasteGuide:
    def __init__(self, model: ClusterModel, profiles: Profiles, comp: Components, weights: dict[str, float],
                 movies: pd.DataFrame):
        self.model, self.profiles, self.comp, self.weights, self.movies = model, profiles, comp, weights, movies
        self.names = group_names(model, profiles)
        self.group_profiles = pd.DataFrame(group_profiles(model, profiles), columns=profiles.genres)
        self.titles = movies.set_index("movieId")
        self.movie_ids = set(movies.movieId.tolist())
        order = np.argsort(-comp.pop, kind="stable")
        self.pool = comp.items[order[:ASK_POOL]]
        self.known_share = comp.pop / max(len(profiles.users), 1)

    @classmethod
    def from_hybrid(cls, hybrid, movies: pd.DataFrame) -> "TasteGuide":
        """From a fitted :class:`~.hybrid.HybridRecommender` (its parts, weights, mixture and profiles)."""
        return cls(hybrid.model, hybrid.profiles, hybrid.components, hybrid.weights, movies)

    def starters(self, n: int = 12) -> list[int]:
        """Well-known, genre-diverse films: the most rated film of each genre not yet covered."""
        covered, out = set(), []
        for m in self.pool:
            genres = set(self.titles.genre_list.get(m, []))
            if genres and not genres <= covered:
                out.append(int(m))
                covered |= genres
            if len(out) == n:
                break
        for m in self.pool:                       # fewer genres than n: fill with the most rated
            if len(out) == n:
                break
            if int(m) not in out:
                out.append(int(m))
        return out

    def next_question(self, rated: dict[int, float], skipped=(), starters: int = 12) -> int | None:
        asked = set(rated) | set(skipped)
        for m in self.starters(starters):
            if m not in asked:
                return m
        z = self.place(rated, n=0).membership if rated else self.model.gmm.weights_
        cols = np.searchsorted(self.comp.items, self.pool)
        liked = self.comp.liked[:, cols]                                    # k x pool
        mean = z @ liked
        spread = z @ (liked - mean) ** 2
        score = spread * self.known_share[cols]
        for j in np.argsort(-score, kind="stable"):
            if int(self.pool[j]) not in asked:
                return int(self.pool[j])
        return None

    def search(self, text: str, limit: int = 20) -> pd.DataFrame:
        """Films whose title contains ``text`` (case-insensitive), most rated first."""
        text = text.strip().lower()
        if not text:
            return self.movies.iloc[:0]
        hits = self.movies[self.movies.title.str.lower().str.contains(text, regex=False)]
        pop = pd.Series(self.comp.pop, index=self.comp.items)
        return hits.assign(raters=hits.movieId.map(pop).fillna(0)).sort_values("raters", ascending=False,
                                                                                kind="stable").head(limit)

    def place(self, rated: dict[int, float], n: int = 10) -> Placement:
        """Membership, profile and top ``n`` recommendations for ``{movieId: stars}`` (at least one)."""
        if not rated:
            raise StudioError("rate at least one film first")
        start = time.perf_counter()
        unknown = [m for m in rated if m not in self.movie_ids]
        if unknown:
            raise StudioError(f"film id {unknown[0]} is not in this catalogue")
        ratings = pd.DataFrame({"userId": 0, "movieId": list(rated), "rating": [float(v) for v in rated.values()],
                                "timestamp": 0})
        prof, Z = placement(self.model, ratings, self.movies)
        z = Z[0]
        known = self.comp.known(ratings, np.array([0]))
        recs = explain(self.comp, z, known, self.weights, self.movies, n, self.names) if n else pd.DataFrame()
        profile = pd.Series(prof.raw[0], index=prof.genres)
        return Placement(z, int(np.argmax(z)), profile, recs, time.perf_counter() - start)
