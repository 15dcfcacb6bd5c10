"""Ranking evaluation for single-shot re-identification.

``evaluate(dist, q_pids, g_pids)`` takes a query x gallery distance matrix. For each query the gallery
is sorted by distance (stable; ties keep gallery order):

* **CMC** (cumulative match characteristic): CMC[r] is the share of queries whose first correct match
  is at rank r+1 or better; Rank-k = CMC[k-1]. Queries with no correct match in the gallery are left
  out (the count is returned).
* **mAP** (mean average precision): per query, the mean of precision@rank over the ranks of its
  correct matches; averaged over queries. With one correct match, AP = 1 / its rank.
* With cameras (``q_cams``, ``g_cams``), the standard multi-camera evaluation (Market-1501): for each
  query, gallery images of the same person taken by the same camera are left out of its ranking
  entirely (they count neither as matches nor as ranks).

``k_reciprocal_rerank`` is k-reciprocal re-ranking (Zhong et al., CVPR 2017): Jaccard distance between
k-reciprocal neighbour sets, blended with the original distance (``lambda``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANKS = (1, 5, 10, 20)


@dataclass
class RankResult:
    cmc: np.ndarray           # length max_rank
    mAP: float
    n_queries: int

    def rank(self, k: int) -> float:
        return float(self.cmc[min(k, len(self.cmc)) - 1])

    def summary(self) -> dict:
        return {**{f"Rank-{k}": self.rank(k) for k in RANKS}, "mAP": self.mAP}


def evaluate(dist: np.ndarray, q_pids, g_pids, max_rank: int = 50, q_cams=None, g_cams=None,
             chunk: int = 512) -> RankResult:
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    same_camera = q_cams is not None and g_cams is not None
    firsts, aps = [], []
    for start in range(0, len(q_pids), chunk):          # bounded memory on Market-sized galleries
        rows = slice(start, start + chunk)
        order = np.argsort(dist[rows], axis=1, kind="stable")
        matches = g_pids[order] == q_pids[rows, None]
        if same_camera:
            keep = ~(matches & (np.asarray(g_cams)[order] == np.asarray(q_cams)[rows, None]))
        else:
            keep = np.ones_like(matches)
        matches &= keep
        valid = matches.any(1)
        matches, keep = matches[valid], keep[valid]
        rank_of = np.cumsum(keep, axis=1)               # 1-based rank among the images kept
        firsts.append(rank_of[np.arange(len(matches)), matches.argmax(1)] - 1)
        hits = np.cumsum(matches, axis=1)
        aps.append(((hits / np.maximum(rank_of, 1)) * matches).sum(1) / matches.sum(1))
    first, ap = np.concatenate(firsts), np.concatenate(aps)
    if not len(first):
        raise ValueError("no query has a correct match in the gallery")
    max_rank = min(max_rank, dist.shape[1])
    cmc = np.array([(first < r).mean() for r in range(1, max_rank + 1)])
    return RankResult(cmc, float(ap.mean()), int(len(first)))


def euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d, 0))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return 1.0 - an @ bn.T


def k_reciprocal_rerank(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray, k1: int = 20, k2: int = 6,
                        lam: float = 0.3) -> np.ndarray:
    """Re-ranked query x gallery distances (all inputs are distances, lower = closer). Distances that
    can be negative (XQDA's, the fused method's z-scores) are shifted to start at 0 first: the method
    scales each column by its maximum and weighs neighbours by ``exp(-d)``, which assume ``d >= 0``."""
    nq, ng = q_g.shape
    n = nq + ng
    full = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float64)
    full -= min(0.0, float(full.min()))
    full = full / np.maximum(full.max(0, keepdims=True), 1e-12)
    order = np.argsort(full, axis=1, kind="stable")
    k1 = min(k1, n - 1)
    V = np.zeros((n, n))

    def reciprocal(i: int, k: int) -> np.ndarray:
        forward = order[i, :k + 1]
        backward = order[forward, :k + 1]
        return forward[np.nonzero((backward == i).any(1))[0]]

    for i in range(n):
        rec = reciprocal(i, k1)
        expanded = rec
        for c in rec:
            cand = reciprocal(c, int(np.around(k1 / 2)))
            if len(np.intersect1d(cand, rec)) > 2 / 3 * len(cand):
                expanded = np.union1d(expanded, cand)
        w = np.exp(-full[i, expanded])
        V[i, expanded] = w / w.sum()
    if k2 > 1:
        V = np.stack([V[order[i, :k2]].mean(0) for i in range(n)])
    jaccard = np.zeros((nq, ng))
    for i in range(nq):
        mins = np.minimum(V[i][None, :], V[nq:]).sum(1)
        maxs = np.maximum(V[i][None, :], V[nq:]).sum(1)
        jaccard[i] = 1 - mins / np.maximum(maxs, 1e-12)
    return (1 - lam) * jaccard + lam * full[:nq, nq:]
