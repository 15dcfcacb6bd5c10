"""Attribute metrics (as in Li et al. 2015 / Rethinking_of_PAR).

Label-based, per attribute over images with a known label: TPR = TP / P, TNR = TN / N, and
**mA** = mean over attributes of (TPR + TNR) / 2 (an attribute with no positives or no negatives in the
set contributes the rate it has). Instance-based, per image over its known labels, with predicted set
Y' and true set Y: accuracy = |Y ∩ Y'| / |Y ∪ Y'|, precision = |Y ∩ Y'| / |Y'|, recall = |Y ∩ Y'| / |Y|
(an empty denominator counts as 1 for accuracy when both sets are empty, 0 otherwise), averaged over
images; F1 = 2 P R / (P + R) of those averages.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def label_based(y_true: np.ndarray, y_pred: np.ndarray, attributes: list[str]) -> pd.DataFrame:
    rows = []
    for j, a in enumerate(attributes):
        known = ~np.isnan(y_true[:, j])
        t, p = y_true[known, j] > 0.5, y_pred[known, j] > 0.5
        pos, neg = t.sum(), (~t).sum()
        tpr = (t & p).sum() / pos if pos else np.nan
        tnr = (~t & ~p).sum() / neg if neg else np.nan
        ma = np.nanmean([tpr, tnr]) if pos or neg else np.nan
        rows.append({"attribute": a, "positives": int(pos), "negatives": int(neg), "TPR": tpr, "TNR": tnr, "mA": ma,
                     "accuracy": float((t == p).mean()) if known.any() else np.nan})
    return pd.DataFrame(rows)


def instance_based(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    known = ~np.isnan(y_true)
    t = (np.nan_to_num(y_true) > 0.5) & known
    p = (y_pred > 0.5) & known
    inter = (t & p).sum(1)
    union = (t | p).sum(1)
    acc = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    prec = np.where(p.sum(1) > 0, inter / np.maximum(p.sum(1), 1), 0.0)
    rec = np.where(t.sum(1) > 0, inter / np.maximum(t.sum(1), 1), 0.0)
    P, R = float(prec.mean()), float(rec.mean())
    return {"accuracy": float(acc.mean()), "precision": P, "recall": R, "F1": 2 * P * R / (P + R) if P + R else 0.0}


def summary(y_true: np.ndarray, y_pred: np.ndarray, attributes: list[str]) -> dict:
    per = label_based(y_true, y_pred, attributes)
    return {"mA": float(per["mA"].mean()), **instance_based(y_true, y_pred)}
