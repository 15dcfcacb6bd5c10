"""Per-epoch training checkpoints, so that a killed run can resume where it stopped.

A checkpoint of model ``STEM`` is ``STEM-ckpt.npz`` (model weights and optimizer variables, loaded with
``allow_pickle=False``) and ``STEM-ckpt.json`` (epoch, history and a fingerprint of the run's config,
data and split), both written atomically through ``core.artifacts``. It never touches ``STEM.keras`` /
``STEM.json``: the last finished model stays as it was until a new one is saved, and saving the new
model removes the checkpoint. Resuming checks the fingerprint, so a checkpoint of another
configuration is never loaded into a run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import artifacts

KIND = "checkpoint"


def _ckpt_stem(stem) -> Path:
    stem = Path(stem)
    return stem.with_name(stem.name + "-ckpt")


def paths(stem) -> tuple[Path, Path]:
    ck = _ckpt_stem(stem)
    return ck.with_name(ck.name + ".npz"), ck.with_name(ck.name + ".json")


def info(stem) -> dict | None:
    """The checkpoint's card (epoch, history, fingerprint), or None when there is none readable."""
    try:
        card = artifacts.read_card(_ckpt_stem(stem))
    except artifacts.ArtifactError:
        return None
    return card if card.get("kind") == KIND else None


def remove(stem) -> None:
    for p in paths(stem):
        p.unlink(missing_ok=True)


def save(stem, model, epoch: int, history: list, fingerprint: dict) -> None:
    arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    opt = getattr(model, "optimizer", None)
    for i, v in enumerate(getattr(opt, "variables", []) or []):
        arrays[f"o{i}"] = np.asarray(v)
    artifacts.save_arrays(_ckpt_stem(stem), arrays, {"epoch": epoch, "history": history,
                                                     "fingerprint": fingerprint}, kind=KIND)


def restore(stem, model, fingerprint: dict) -> tuple[int, list]:
    """Load the checkpoint into a compiled ``model``: ``(epochs done, history)``; ``(0, [])`` when there
    is no checkpoint or it belongs to another configuration. ArtifactError when it is corrupt."""
    card = info(stem)
    if card is None or card.get("fingerprint") != fingerprint:
        return 0, []
    arrays, card = artifacts.load_arrays(_ckpt_stem(stem), KIND)
    weights = [arrays[f"w{i}"] for i in range(sum(k.startswith("w") for k in arrays))]
    try:
        model.set_weights(weights)
        opt_values = [arrays[f"o{i}"] for i in range(sum(k.startswith("o") for k in arrays))]
        if opt_values:
            model.optimizer.build(model.trainable_variables)
            if len(model.optimizer.variables) != len(opt_values):
                raise ValueError("optimizer state does not match")
            for var, value in zip(model.optimizer.variables, opt_values):
                var.assign(value)
    except ValueError as exc:
        raise artifacts.ArtifactError(f"{paths(stem)[0]}: the checkpoint does not fit this model ({exc})") from None
    return int(card["epoch"]), list(card.get("history", []))


def callback(stem, fingerprint: dict, history: list):
    """A Keras callback that checkpoints after every epoch (``history`` is the run's list of epoch logs)."""
    import keras

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save(stem, self.model, epoch + 1, history, fingerprint)

    return Checkpoint()
