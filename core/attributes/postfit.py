"""What follows training the heads (or fine-tuning): neighbour votes with k and the blend chosen on
validation (``choose_blend``), probabilities calibrated on validation, thresholds tuned on the calibrated
validation probabilities, and the test images scored once (``votes_thresholds_test``)."""
from __future__ import annotations

import numpy as np

from ..progress import emit
from . import calibration, metrics
from .config import AttrConfig
from .model import AttributeModel
from .neighbours import NeighbourVotes, blend


def choose_blend(model: AttributeModel, features: np.ndarray, Y: np.ndarray, ks=(10, 20),
                 weights=(0.0, 0.25, 0.5, 0.75, 1.0)) -> dict:
    """The k and heads weight whose blend scores the best mA on the validation images (thresholds tuned
    on them too); ties go to the heavier heads weight."""
    attrs, binary = model.attributes, model.binary
    heads = model._frame(model.heads.predict(features, verbose=0, batch_size=1024))
    trial = AttributeModel(model.heads, dict(model.card))       # thresholds tried here, not on the model
    best = None
    for k in ks:
        votes = model.votes.frame(features, model.groups, k)
        for w in weights:
            probs = blend(heads, votes, w)
            trial.card["thresholds"] = calibration.tune(probs, Y, attrs, binary)
            score = float(metrics.label_based(Y, trial.decide(probs), attrs)["mA"].mean())
            if best is None or score > best[0] + 1e-9 or (abs(score - best[0]) <= 1e-9 and w > best[2]):
                best = (score, k, w)
    return {"k": best[1], "weight": best[2], "dims": int(model.votes.train.shape[1]),
            "validation_mA": round(best[0], 4)}


def votes_thresholds_test(model: AttributeModel, features: np.ndarray, Y: np.ndarray, split, cfg: AttrConfig,
                           progress=None) -> dict:
    """The last steps of ``train`` and ``finetune``, on the heads' input ``features`` of every image:
    neighbour votes if ``cfg.neighbours`` (fitted on the training images, k and the blend chosen on
    validation), probabilities calibrated on validation if ``cfg.calibrate``, thresholds tuned on the
    calibrated validation probabilities (balanced for mA, F1 for words), the test images scored once;
    metrics (with the ECE before and after calibration) into the card."""
    attrs, binary = model.attributes, model.binary
    model.card.pop("calibration", None)
    if cfg.neighbours:
        emit(progress, "votes", 0, 1, "neighbour votes: choosing k and the blend on validation")
        model.votes = NeighbourVotes.fit(features[split.train], Y[split.train], attrs, seed=cfg.seed)
        model.card["neighbours"] = choose_blend(model, features[split.val], Y[split.val])

    def probabilities(idx):
        return model._blend(features[idx], model.heads.predict(features[idx], verbose=0, batch_size=1024))

    val, probs = probabilities(split.val), probabilities(split.test)
    columns = model.probability_columns
    _, ece_raw = calibration.reliability(probs, Y[split.test], attrs, columns)
    if cfg.calibrate:
        model.card["calibration"] = calibration.fit(val, Y[split.val], attrs, binary, model.groups)
        val, probs = (calibration.apply(p, model.card["calibration"], model.groups) for p in (val, probs))
    if cfg.tune_thresholds:
        model.card["thresholds"] = calibration.tune(val, Y[split.val], attrs, binary, "balanced")
        model.card["f1_thresholds"] = calibration.tune(val, Y[split.val], attrs, binary, "f1")
    report = scored(model, probs, Y[split.test])
    report["summary"]["ECE before calibration"] = ece_raw
    model.card["metrics"] = {split.name: report["summary"]}
    model.card["per_attribute"] = report["per_attribute"].round(4).to_dict(orient="records")
    return {**report, "split": split}


def scored(model: AttributeModel, probs, Y: np.ndarray) -> dict:
    """Test probabilities ``probs`` against labels ``Y`` with the model's thresholds: the summary (mA,
    instance-based metrics, mA at 0.5, ECE), the per-attribute table, the predictions."""
    attrs = model.attributes
    pred = model.decide(probs)
    per = metrics.label_based(Y, pred, attrs)
    summary = metrics.summary(Y, pred, attrs)
    summary["mA at 0.5"] = float(metrics.label_based(Y, model.decide(probs, 0.5), attrs)["mA"].mean())
    summary["ECE"] = calibration.reliability(probs, Y, attrs, model.probability_columns)[1]
    return {"summary": summary, "per_attribute": per, "probabilities": probs, "predictions": pred}
