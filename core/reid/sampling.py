"""Sampling for metric learning, all seeded.

* ``random_pairs`` / ``random_triplets``: positives are another image of the same identity (another
  camera where there is one), negatives an image of a different identity.
* ``pk_batches``: P identities x K images each per batch (identities with fewer than K images are
  sampled with replacement), the batch shape that online mining needs.
* ``batch_hard`` / ``semi_hard``: the numpy reference for online mining inside a batch, given the
  pairwise distance matrix. Batch-hard (Hermans et al. 2017): for each anchor, the farthest positive
  and the closest negative. Semi-hard (Schroff et al. 2015): for each anchor-positive pair, the
  closest negative that is still farther than the positive, ``d_ap < d_an``; if none exists, the
  farthest negative (as TensorFlow Addons did).
"""
from __future__ import annotations

import numpy as np


def _by_label(labels: np.ndarray) -> dict:
    groups: dict = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    return {k: np.array(v) for k, v in groups.items()}


def random_triplets(labels, n: int, seed: int = 0, cameras=None) -> np.ndarray:
    """``n x 3`` indices (anchor, positive, negative); only identities with 2+ images anchor."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = _by_label(labels)
    anchors_ok = np.array([i for i, lab in enumerate(labels) if len(groups[lab]) > 1])
    if len(anchors_ok) == 0 or len(groups) < 2:
        raise ValueError("triplets need an identity with two images and at least two identities")
    out = np.empty((n, 3), np.int64)
    a = rng.choice(anchors_ok, n)
    for t, i in enumerate(a):
        same = groups[labels[i]]
        same = same[same != i]
        if cameras is not None:
            other_cam = same[np.asarray(cameras)[same] != cameras[i]]
            same = other_cam if len(other_cam) else same
        j = rng.choice(same)
        while True:
            k = int(rng.integers(len(labels)))
            if labels[k] != labels[i]:
                break
        out[t] = (i, j, k)
    return out


def random_pairs(labels, n: int, seed: int = 0, positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n x 2`` indices and a 0/1 array (1 = same identity)."""
    trip = random_triplets(labels, n, seed)
    rng = np.random.default_rng(seed + 1)
    same = (rng.random(n) < positive_fraction).astype(np.int64)
    pairs = np.where(same[:, None] == 1, trip[:, [0, 1]], trip[:, [0, 2]])
    return pairs, same


def pk_batches(labels, p: int, k: int, seed: int = 0, n_batches: int | None = None):
    """Yield index arrays of P identities x K images; one epoch covers every identity once."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = _by_label(labels)
    ids = np.array(list(groups))
    if len(ids) < p:
        raise ValueError(f"P = {p} identities asked for, only {len(ids)} available")
    count = 0
    while True:
        order = rng.permutation(ids)
        for start in range(0, len(order) - p + 1, p):
            batch = []
            for lab in order[start:start + p]:
                members = groups[lab]
                batch.append(rng.choice(members, k, replace=len(members) < k))
            yield np.concatenate(batch)
            count += 1
            if n_batches is not None and count >= n_batches:
                return
        if n_batches is None:
            return


def pairwise_distances(x: np.ndarray, squared: bool = False) -> np.ndarray:
    sq = (x * x).sum(1)
    d = np.maximum(sq[:, None] - 2 * x @ x.T + sq[None, :], 0.0)
    np.fill_diagonal(d, 0.0)
    return d if squared else np.sqrt(d)


def batch_hard(dist: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor: index of the farthest positive and of the closest negative."""
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    pos = np.where(same & ~np.eye(len(labels), dtype=bool), dist, -np.inf).argmax(1)
    neg = np.where(~same, dist, np.inf).argmin(1)
    return pos, neg


def semi_hard(dist: np.ndarray, labels, margin: float = 1.0) -> list[tuple[int, int, int]]:
    """Triplets (a, p, n) for every anchor-positive pair with its semi-hard negative."""
    labels = np.asarray(labels)
    out = []
    for a in range(len(labels)):
        negatives = np.nonzero(labels != labels[a])[0]
        for p in np.nonzero((labels == labels[a]) & (np.arange(len(labels)) != a))[0]:
            farther = negatives[dist[a, negatives] > dist[a, p]]
            n = farther[dist[a, farther].argmin()] if len(farther) else negatives[dist[a, negatives].argmax()]
            out.append((a, int(p), int(n)))
    return out
