"""Keras building blocks of the attribute model: heads, masked losses and metrics, the mirror layer.

Input: a backbone feature vector (Xception's 2048-d global average, cached on disk). A shared layer
(BatchNorm, Dense 512 + ReLU, Dropout) feeds one head per binary attribute (Dense 1, sigmoid) and one
per exclusive group (Dense members + 1, softmax: the last class is "none of these").

Losses, per output, ignoring unknown labels:
* binary: weighted binary cross-entropy, with DeepMAR's weights for imbalance (Li et al. 2015): a
  positive counts ``exp(1 - p)`` and a negative ``exp(p)``, p the attribute's positive share in training;
  NaN labels are masked out;
* group: sparse categorical cross-entropy; target -1 (unknown) is masked out.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from keras import layers, ops


def head_name(attribute: str) -> str:
    return "head_" + "".join(ch if ch.isalnum() else "_" for ch in attribute)


@keras.saving.register_keras_serializable(package="studio")
class MaskedWeightedBCE(keras.losses.Loss):
    def __init__(self, positive_share: float = 0.5, weighted: bool = True, name: str = "masked_bce", **kw):
        super().__init__(name=name, **kw)
        self.positive_share, self.weighted = float(positive_share), bool(weighted)

    def call(self, y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        y_pred = ops.clip(ops.reshape(y_pred, (-1,)), 1e-7, 1 - 1e-7)
        known = ops.logical_not(ops.isnan(y_true))
        t = ops.where(known, y_true, 0.0)
        p = self.positive_share
        w_pos, w_neg = (float(np.exp(1 - p)), float(np.exp(p))) if self.weighted else (1.0, 1.0)
        loss = -(w_pos * t * ops.log(y_pred) + w_neg * (1 - t) * ops.log(1 - y_pred))
        mask = ops.cast(known, "float32")
        return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)

    def get_config(self):
        return {**super().get_config(), "positive_share": self.positive_share, "weighted": self.weighted}


@keras.saving.register_keras_serializable(package="studio")
class MaskedSparseCCE(keras.losses.Loss):
    def __init__(self, name: str = "masked_cce", **kw):
        super().__init__(name=name, **kw)

    def call(self, y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        known = ops.greater_equal(y_true, 0)
        safe = ops.where(known, y_true, 0)
        ce = keras.losses.sparse_categorical_crossentropy(safe, y_pred)
        mask = ops.cast(known, "float32")
        return ops.sum(ce * mask) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="studio")
def masked_binary_accuracy(y_true, y_pred):
    """Accuracy at 0.5 over known labels only (NaN = unknown)."""
    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    y_pred = ops.reshape(y_pred, (-1,))
    known = ops.cast(ops.logical_not(ops.isnan(y_true)), "float32")
    right = ops.cast(ops.equal(ops.cast(y_pred >= 0.5, "float32"), ops.where(known > 0, y_true, -1.0)), "float32")
    return ops.sum(right * known) / ops.maximum(ops.sum(known), 1.0)


@keras.saving.register_keras_serializable(package="studio")
def masked_class_accuracy(y_true, y_pred):
    """Accuracy of the most probable class over known targets only (-1 = unknown)."""
    y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    known = ops.cast(ops.greater_equal(y_true, 0), "float32")
    right = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
    return ops.sum(right * known) / ops.maximum(ops.sum(known), 1.0)


@keras.saving.register_keras_serializable(package="studio")
class Mirror(layers.Layer):
    """The left-right mirror image of a batch of NHWC images: a network averaged over an image and its
    mirror (test-time flip) holds this as a layer, so it saves and loads in safe mode."""

    def call(self, x):
        return ops.flip(x, axis=2)


def build_heads(dim: int, binary: list[str], groups: dict[str, list[str]], seed: int = 0, hidden: int = 512,
                dropout: float = 0.5, name: str = "attribute_heads") -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((dim,), name="features")
    x = layers.BatchNormalization(name="features_bn")(inp)
    x = layers.Dense(hidden, activation="relu", name="shared")(x)
    x = layers.Dropout(dropout, name="shared_dropout")(x)
    outputs = {}
    for a in binary:
        outputs[a] = layers.Dense(1, activation="sigmoid", name=head_name(a))(x)
    for g, members in groups.items():
        outputs[g] = layers.Dense(len(members) + 1, activation="softmax", name=head_name(g))(x)
    return keras.Model(inp, outputs, name=name)


def average_heads(members: list[keras.Model]) -> keras.Model:
    """One model whose every output is the mean of ``members``' (heads of the same layout trained from
    different seeds): a probability for a binary head, a distribution for a group head."""
    inp = keras.Input(members[0].input_shape[1:], name="features")
    outs = [m(inp) for m in members]
    return keras.Model(inp, {k: layers.Average(name=f"mean_{head_name(k)}")([o[k] for o in outs]) for k in outs[0]},
                       name="attribute_heads_ensemble")
