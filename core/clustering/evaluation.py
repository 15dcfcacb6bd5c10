"""Offline evaluation of recommenders on a temporal hold-out.

Protocol: each user's ratings are sorted by timestamp (stable; ties broken by movieId) and the latest
20 % (rounded up, at least one) are held out. Held-out ratings of 4 or more are the relevant movies.
Relevant movies that never appear in the training data stay in the denominators, so no recommender
can score a perfect recall by construction of the split. Users with no relevant held-out movie are
left out of the averages (their count is reported).

Metrics at k (10 by default), averaged over users:
  Precision@k = hits / k;  Recall@k = hits / |relevant|;
  NDCG@k = DCG / ideal DCG with DCG = sum over hits at rank i (1-based) of 1 / log2(i + 1);
  coverage = share of the movies in the training data that appear in at least one user's top k.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from .recommend import LIKE


def temporal_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    r = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").reset_index(drop=True)
    n = r.groupby("userId")["movieId"].transform("size").to_numpy()
    pos = r.groupby("userId").cumcount().to_numpy()
    n_test = np.maximum(1, np.ceil(n * test_fraction)).astype(int)
    is_test = (pos >= n - n_test) & (n >= 2)
    return r[~is_test].reset_index(drop=True), r[is_test].reset_index(drop=True)


def user_metrics(recommended: list[int], relevant: set[int], k: int = 10) -> tuple[float, float, float]:
    """(precision, recall, ndcg) at k for one user; ``relevant`` must be non-empty."""
    top = [m for m in recommended[:k]]
    gains = [1.0 if m in relevant else 0.0 for m in top]
    hits = sum(gains)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return hits / k, hits / len(relevant), dcg / idcg


def evaluate(recommenders: dict, train: pd.DataFrame, test: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """One row per recommender (already fitted on ``train``): P@k, R@k, NDCG@k, coverage, users, seconds."""
    relevant = test[test["rating"] >= LIKE].groupby("userId")["movieId"].apply(set)
    users = np.array([u for u in relevant.index if u in set(train["userId"].unique())])
    n_train_items = train["movieId"].nunique()
    rows = []
    for name, rec in recommenders.items():
        start = time.perf_counter()
        top = rec.top_n(users, k)
        elapsed = time.perf_counter() - start
        per_user = np.array([user_metrics([m for m in row if m >= 0], relevant[u], k) for u, row in zip(users, top)])
        rows.append({"method": name, f"P@{k}": per_user[:, 0].mean(), f"R@{k}": per_user[:, 1].mean(),
                     f"NDCG@{k}": per_user[:, 2].mean(),
                     "coverage": len(set(top[top >= 0].ravel())) / max(n_train_items, 1),
                     "users": len(users), "seconds": elapsed})
    return pd.DataFrame(rows)
