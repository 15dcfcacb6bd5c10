"""Triplet losses in Keras 3 ops (backend-neutral), registered so saved models load in safe mode.

Distances are Euclidean (not squared) between embeddings. With margin ``m``:

* ``triplet_loss(a, p, n)`` = mean over triplets of ``max(d(a, p) - d(a, n) + m, 0)`` (the course's);
* ``batch_hard_triplet_loss(labels, e)``: the same with, for each anchor in a P x K batch, the farthest
  positive and the closest negative; ``soft=True`` uses ``softplus(d_ap - d_an)`` instead (no margin);
* ``semi_hard_triplet_loss(labels, e)``: every anchor-positive pair with its closest negative farther
  than the positive (the farthest negative when none is), averaged.
"""
from __future__ import annotations

import keras
from keras import ops

EPS = 1e-12


def pairwise_distances(e):
    sq = ops.sum(e * e, axis=1)
    d2 = ops.expand_dims(sq, 1) - 2.0 * ops.matmul(e, ops.transpose(e)) + ops.expand_dims(sq, 0)
    off_diagonal = 1.0 - ops.eye(ops.shape(e)[0], dtype=d2.dtype)
    d2 = ops.maximum(d2, 0.0) * off_diagonal           # exact zeros on the diagonal (rounding aside)
    zero = ops.cast(ops.equal(d2, 0.0), d2.dtype)
    d = ops.sqrt(d2 + zero * EPS) * (1.0 - zero)        # gradient-safe sqrt at 0
    return d


def triplet_loss(anchor, positive, negative, margin: float = 1.0):
    d_ap = ops.sqrt(ops.sum(ops.square(anchor - positive), axis=1) + EPS)
    d_an = ops.sqrt(ops.sum(ops.square(anchor - negative), axis=1) + EPS)
    return ops.mean(ops.maximum(d_ap - d_an + margin, 0.0))


def _masks(labels):
    labels = ops.reshape(labels, (-1,))
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    n = ops.shape(labels)[0]
    eye = ops.cast(ops.eye(n), "bool")
    return ops.logical_and(same, ops.logical_not(eye)), ops.logical_not(same)


def batch_hard_triplet_loss(labels, embeddings, margin: float = 0.3, soft: bool = False):
    d = pairwise_distances(embeddings)
    pos_mask, neg_mask = _masks(labels)
    big = ops.max(d) + 1.0
    hardest_pos = ops.max(ops.where(pos_mask, d, 0.0), axis=1)
    hardest_neg = ops.min(ops.where(neg_mask, d, big), axis=1)
    gap = hardest_pos - hardest_neg
    has_pos = ops.cast(ops.any(pos_mask, axis=1), d.dtype)
    per_anchor = ops.softplus(gap) if soft else ops.maximum(gap + margin, 0.0)
    return ops.sum(per_anchor * has_pos) / ops.maximum(ops.sum(has_pos), 1.0)


def semi_hard_triplet_loss(labels, embeddings, margin: float = 0.3):
    d = pairwise_distances(embeddings)
    pos_mask, neg_mask = _masks(labels)
    big = ops.max(d) + 1.0
    d_ap = ops.expand_dims(d, 2)                        # [a, p, 1]
    d_an = ops.expand_dims(d, 1)                        # [a, 1, n]
    neg3 = ops.expand_dims(neg_mask, 1)
    farther = ops.logical_and(neg3, ops.greater(d_an, d_ap))
    semi = ops.min(ops.where(farther, d_an, big), axis=2)              # [a, p]
    hardest_far = ops.max(ops.where(neg_mask, d, -1.0), axis=1, keepdims=True)
    has_semi = ops.any(farther, axis=2)
    chosen = ops.where(has_semi, semi, ops.broadcast_to(hardest_far, ops.shape(semi)))
    losses = ops.maximum(d - chosen + margin, 0.0)
    w = ops.cast(pos_mask, d.dtype)
    return ops.sum(losses * w) / ops.maximum(ops.sum(w), 1.0)


@keras.saving.register_keras_serializable(package="studio")
class TripletStackLoss(keras.losses.Loss):
    """For the course network: ``y_pred`` stacks [anchors; positives; negatives] (batch = 3 x triplets)."""

    def __init__(self, margin: float = 1.0, name: str = "triplet", **kw):
        super().__init__(name=name, **kw)
        self.margin = margin

    def call(self, y_true, y_pred):
        n = ops.shape(y_pred)[0] // 3
        return triplet_loss(y_pred[:n], y_pred[n:2 * n], y_pred[2 * n:], self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="studio")
class BatchHardLoss(keras.losses.Loss):
    """``y_true`` are identity labels of a P x K batch, ``y_pred`` the embeddings."""

    def __init__(self, margin: float = 0.3, soft: bool = False, name: str = "batch_hard", **kw):
        super().__init__(name=name, **kw)
        self.margin, self.soft = margin, soft

    def call(self, y_true, y_pred):
        return batch_hard_triplet_loss(y_true, y_pred, self.margin, self.soft)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "soft": self.soft}
