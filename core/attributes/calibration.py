"""Probabilities a person can take at their word, and the thresholds that turn them into words.

A model's raw outputs are not probabilities in the everyday sense: DeepMAR's weighting pushes rare
attributes up on purpose, and neighbour votes and fine-tuning shift them again. Calibration is fitted on
the validation images, after everything else is chosen, and then applies to every prediction:

* a binary attribute: Platt scaling of its log-odds, ``p' = sigmoid(a * logit(p) + b)`` (temperature
  scaling is the case ``b = 0``; the bias is what undoes the class-imbalance weighting), ``a`` kept
  positive so that the order of images never changes;
* a one-of group (age): vector scaling of its log-probabilities, ``softmax(t * log p + b)`` (one
  temperature, one bias per class, the last class's bias 0), fitted by maximum likelihood.

Measured by the **expected calibration error** (ECE): every (image, binary attribute) pair with a known
label is put in one of 10 equal-width probability bins; ECE is the mean over pairs of |the bin's share
of true labels - the bin's mean probability|, i.e. ``sum_b n_b / N * |acc_b - conf_b|``. 0 is perfect;
0.05 means the stated probabilities are off by 5 points on average. ``reliability`` gives the bins for
a reliability diagram.

Thresholds, chosen on the calibrated validation probabilities among the probabilities themselves (not a
fixed grid: a calibrated rare attribute's best threshold can be 0.02): ``balanced`` maximises
(TPR + TNR) / 2, what mA rewards (the benchmark's rule); ``f1`` maximises the attribute's F1, fewer and
surer yes-answers, the rule for the words a person reads.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-6
BINS = 10


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def fit_platt(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` maximising the likelihood of the 0/1 labels ``y`` under ``sigmoid(a logit(p) + b)``
    (a tiny L2 pull towards the identity keeps a separable or near-empty set finite); ``a >= 0.05``."""
    from scipy.optimize import minimize

    x, y = _logit(p), np.asarray(y, np.float64)
    if len(y) == 0 or y.min() == y.max():
        return 1.0, 0.0

    def loss(w):
        z = w[0] * x + w[1]
        nll = np.logaddexp(0, z) - y * z
        grad_z = 1 / (1 + np.exp(-z)) - y
        reg = 1e-3 * ((w[0] - 1) ** 2 + w[1] ** 2)
        return nll.mean() + reg, np.array([(grad_z * x).mean() + 2e-3 * (w[0] - 1), grad_z.mean() + 2e-3 * w[1]])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(0.05, None), (None, None)])
    return float(res.x[0]), float(res.x[1])


def platt(p: np.ndarray, a: float, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(a * _logit(p) + b)))


def fit_vector(P: np.ndarray, target: np.ndarray) -> tuple[float, list[float]]:
    """``(t, b)`` for a one-of group: ``P`` (n x K) its probabilities, ``target`` the class index per image
    (-1 unknown, skipped)."""
    from scipy.optimize import minimize

    keep = target >= 0
    L, t = np.log(np.clip(P[keep], EPS, 1)), target[keep]
    k = P.shape[1]
    if len(t) == 0 or len(np.unique(t)) < 2:
        return 1.0, [0.0] * k

    def loss(w):
        z = w[0] * L + np.append(w[1:], 0.0)
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        reg = 1e-3 * ((w[0] - 1) ** 2 + (w[1:] ** 2).sum())
        return -logp[np.arange(len(t)), t].mean() + reg

    res = minimize(loss, np.append(1.0, np.zeros(k - 1)), method="L-BFGS-B", bounds=[(0.05, None)] + [(None, None)] * (k - 1))
    return float(res.x[0]), [float(v) for v in np.append(res.x[1:], 0.0)]


def vector(P: np.ndarray, t: float, b) -> np.ndarray:
    z = t * np.log(np.clip(P, EPS, 1)) + np.asarray(b)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit(probs: pd.DataFrame, Y: np.ndarray, attributes: list[str], binary: list[str],
        groups: dict[str, list[str]]) -> dict:
    """The calibration of every output, from validation probabilities ``probs`` and labels ``Y`` (columns
    in ``attributes`` order, NaN unknown): ``{"binary": {a: [a, b]}, "groups": {g: {"t": t, "b": [...]}}}``."""
    from . import labels as L

    out = {"binary": {}, "groups": {}}
    for a in binary:
        y = Y[:, attributes.index(a)]
        known = ~np.isnan(y)
        out["binary"][a] = list(fit_platt(probs[a].to_numpy()[known], y[known] > 0.5))
    for g, members in groups.items():
        t, b = fit_vector(probs[members + [f"{g}: none"]].to_numpy(), L.group_targets(Y, attributes, members))
        out["groups"][g] = {"t": t, "b": b}
    return out


def apply(probs: pd.DataFrame, calibration: dict | None, groups: dict[str, list[str]]) -> pd.DataFrame:
    """``probs`` with every calibrated column replaced (a copy); unchanged without a calibration."""
    if not calibration:
        return probs
    out = probs.copy()
    for a, (ca, cb) in calibration.get("binary", {}).items():
        if a in out:
            out[a] = platt(out[a].to_numpy(), ca, cb)
    for g, c in calibration.get("groups", {}).items():
        block = groups[g] + [f"{g}: none"]
        out[block] = vector(out[block].to_numpy(), c["t"], c["b"])
    return out


def _candidates(p: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(p, np.linspace(0, 1, 201))) if len(p) else np.array([0.5])


def tune(probs: pd.DataFrame, Y: np.ndarray, attributes: list[str], binary: list[str],
         rule: str = "balanced") -> dict[str, float]:
    """A threshold per binary attribute (yes when the probability reaches it) maximising ``rule`` on these
    images: ``balanced`` = (TPR + TNR) / 2, ``f1`` = the attribute's F1. 0.5 when the images have only
    one class of it."""
    out = {}
    for a in binary:
        y = Y[:, attributes.index(a)]
        known = ~np.isnan(y)
        t, p = y[known] > 0.5, probs[a].to_numpy()[known]
        if t.all() or (~t).all():
            out[a] = 0.5
            continue
        cand = _candidates(p)
        yes = p[None, :] >= cand[:, None]                 # candidates x images
        tp = (yes & t).sum(1)
        if rule == "balanced":
            score = tp / t.sum() + (~yes & ~t).sum(1) / (~t).sum()
        elif rule == "f1":
            score = 2 * tp / np.maximum(yes.sum(1) + t.sum(), 1)
        else:
            raise ValueError(f"unknown threshold rule '{rule}'")
        out[a] = float(cand[int(np.argmax(score))])
    return out


def reliability(probs: pd.DataFrame, Y: np.ndarray, attributes: list[str], columns: list[str],
                bins: int = BINS) -> tuple[pd.DataFrame, float]:
    """The reliability diagram's bins over every (image, attribute in ``columns``) pair with a known label:
    ``low``, ``high``, ``pairs``, ``mean probability``, ``share true``; and the ECE."""
    p = np.concatenate([probs[a].to_numpy() for a in columns])
    y = np.concatenate([Y[:, attributes.index(a)] for a in columns])
    known = ~np.isnan(y)
    p, y = p[known], y[known] > 0.5
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        in_bin = which == b
        n = int(in_bin.sum())
        conf = float(p[in_bin].mean()) if n else np.nan
        acc = float(y[in_bin].mean()) if n else np.nan
        if n:
            ece += n / max(len(p), 1) * abs(acc - conf)
        rows.append({"low": b / bins, "high": (b + 1) / bins, "pairs": n, "mean probability": conf, "share true": acc})
    return pd.DataFrame(rows), float(ece)


def on_network(net, calibration: dict | None, groups: dict[str, list[str]]):
    """``net`` (a Keras model with one output per head) with the calibration applied to its outputs, as
    one Keras model, for export; ``net`` itself without a calibration. Built from Lambda layers: for
    ONNX / SavedModel, never saved as a ``.keras`` file (the saved model keeps the calibration on its card)."""
    if not calibration:
        return net
    import keras
    from keras import ops

    def binary(a, b):
        def f(p):
            p = ops.clip(p, EPS, 1 - EPS)
            return ops.sigmoid(a * (ops.log(p) - ops.log(1 - p)) + b)      # no log1p: ONNX has none
        return f

    def group(t, b):
        def f(p):
            return ops.softmax(t * ops.log(ops.clip(p, EPS, 1.0)) + ops.convert_to_tensor(b, "float32"), axis=-1)
        return f

    inp = keras.Input(net.input_shape[1:], name="image")
    out = dict(net(inp))
    for i, (a, (ca, cb)) in enumerate(calibration.get("binary", {}).items()):
        if a in out:
            out[a] = keras.layers.Lambda(binary(ca, cb), name=f"calibrated_{i}")(out[a])
    for i, (g, c) in enumerate(calibration.get("groups", {}).items()):
        if g in out and g in groups:
            out[g] = keras.layers.Lambda(group(c["t"], c["b"]), name=f"calibrated_group_{i}")(out[g])
    return keras.Model(inp, out, name=f"{net.name}_calibrated")
