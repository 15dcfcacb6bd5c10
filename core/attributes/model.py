"""A trained attribute model (``AttributeModel``): probabilities, decisions, words, saving and loading.

Saved: ``NAME.keras`` (the heads, or the whole fine-tuned network) and ``NAME.json`` (card: labels,
groups, thresholds, backbone, split, seed, metrics, date, sha256 of the model file), plus ``NAME.npz``
for neighbour votes, and the test images' probabilities computed in training (``save_test_scores``).
Heads-only models rebuild the backbone from the same weights to predict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import artifacts, backbones, camera_stats
from ..errors import StudioError
from ..feature_cache import FeatureCache
from ..images import load_image, resize
from ..progress import emit
from . import calibration
from .neighbours import NeighbourVotes, blend


@dataclass
class AttributeModel:
    """Heads on cached features (``heads``), or, after fine-tuning, one image-to-attributes network
    (``image_model``: backbone + pooling + the same heads; ``card["input"] == "image"``)."""

    heads: object
    card: dict
    history: list = field(default_factory=list)
    _backbone: object = None
    image_model: object = None
    votes: NeighbourVotes | None = None          # with card["neighbours"] = {"k", "weight", "dims"}
    # the training images' feature statistics (``camera_stats.Stats``): "pooled" and "site <name>" per
    # training site (PETA's subsets); what a new camera's features are moved onto (``adapt``)
    feature_stats: dict = field(default_factory=dict)

    @property
    def attributes(self) -> list[str]:
        return self.card["attributes"]

    @property
    def binary(self) -> list[str]:
        return self.card["binary"]

    @property
    def groups(self) -> dict[str, list[str]]:
        return self.card["groups"]

    @property
    def thresholds(self) -> dict[str, float]:
        return self.card["thresholds"]

    @property
    def probability_columns(self) -> list[str]:
        """What a probability is stated for: each binary attribute and each member of each group."""
        return self.binary + [m for members in self.groups.values() for m in members]

    def probabilities(self, features: np.ndarray) -> pd.DataFrame:
        """One column per attribute (group members get their softmax share) plus ``<group>: none``."""
        if self.image_model is not None:
            raise StudioError("this fine-tuned model reads images, not cached features")
        return self._blend(features, self.heads.predict(features, verbose=0, batch_size=1024))

    def _blend(self, features: np.ndarray | None, out) -> pd.DataFrame:
        """The heads' outputs ``out`` as a frame, blended with the neighbour votes for ``features`` where
        the model has them."""
        probs = self._frame(out)
        if self.votes is not None:
            nb = self.card["neighbours"]
            probs = blend(probs, self.votes.frame(features, self.groups, nb["k"]), nb["weight"])
        return calibration.apply(probs, self.card.get("calibration"), self.groups)

    def _frame(self, out) -> pd.DataFrame:
        cols = {}
        for a in self.binary:
            cols[a] = np.asarray(out[a]).reshape(-1)
        for g, members in self.groups.items():
            probs = np.asarray(out[g])
            for i, m in enumerate(members):
                cols[m] = probs[:, i]
            cols[f"{g}: none"] = probs[:, -1]
        return pd.DataFrame(cols)

    def thresholds_for(self, rule: str = "balanced") -> dict[str, float]:
        """The tuned thresholds: ``balanced`` (what mA rewards; the benchmark's) or ``f1`` (the words a
        person reads; a model trained before they existed has only the balanced ones)."""
        if rule == "f1":
            return self.card.get("f1_thresholds") or self.thresholds
        return self.thresholds

    def describe(self, probs: pd.Series):
        """One image's probabilities in words (``describe.py``): ``(choices, also)``, each exclusive set as
        one choice, the other attributes by their F1 thresholds."""
        from .describe import describe

        return describe(probs, self.binary, self.groups, self.thresholds_for("f1"))

    def decide(self, probs: pd.DataFrame, threshold: float | None = None, rule: str = "balanced") -> np.ndarray:
        """0/1 per attribute in ``self.attributes`` order. Binary: prob >= threshold (the tuned ones of
        ``rule`` when ``threshold`` is None); group members: 1 for the most probable class of the group."""
        pred = np.zeros((len(probs), len(self.attributes)))
        tuned = self.thresholds_for(rule)
        for j, a in enumerate(self.attributes):
            if a in self.binary:
                t = tuned.get(a, 0.5) if threshold is None else threshold
                pred[:, j] = probs[a].to_numpy() >= t
        for g, members in self.groups.items():
            block = probs[members + [f"{g}: none"]].to_numpy()
            best = block.argmax(1)
            for i, m in enumerate(members):
                pred[:, self.attributes.index(m)] = best == i
        return pred

    @property
    def spec(self) -> backbones.BackboneSpec:
        return backbones.BackboneSpec(**self.card["backbone"])

    def features(self, images: list[np.ndarray], weights=None) -> np.ndarray:
        if self._backbone is None:
            self._backbone = FeatureCache(self.spec, weights=weights or self.card.get("weights_file"))
        return self._backbone.embed_images(images)

    @property
    def adaptable(self) -> bool:
        return "pooled" in self.feature_stats and self.image_model is None

    def adapt(self, features: np.ndarray, camera: str = "this camera") -> tuple[np.ndarray, camera_stats.Adaptation]:
        """Features of photos from one camera moved from that camera's own statistics onto the training
        images' (``camera_stats``); under ``camera_stats.MIN_PHOTOS`` photos they are left as they are."""
        if not self.adaptable:
            raise StudioError("this model cannot be adapted to a camera: it keeps no statistics of its training "
                              "features (" + ("a fine-tuned network" if self.image_model is not None else
                                              "trained before they were kept; train it again") + ")")
        return camera_stats.by_camera(features, [camera] * len(features), lambda _: self.feature_stats["pooled"])

    def predict_images(self, images: list[np.ndarray], weights=None) -> pd.DataFrame:
        if self.image_model is not None:
            batch = np.stack([resize(im, self.spec.height, self.spec.width) for im in images]).astype(np.float32)
            out = self.image_model.predict(batch, verbose=0, batch_size=64)
            return self._blend(np.asarray(out[FEATURES]) if self.votes is not None else None, out)
        return self.probabilities(self.features(images, weights))

    def predict_adapted(self, paths_or_images, weights=None, batch: int = 256, progress=None,
                        camera: str = "this camera") -> tuple[pd.DataFrame, camera_stats.Adaptation]:
        """Photos (paths or images) all from one camera: their features moved onto the training images'
        statistics from the photos' own (``adapt``), then the probabilities."""
        if not self.adaptable:
            self.adapt(np.zeros((0, 1)))            # the clear error
        feats = []
        for start in range(0, len(paths_or_images), batch):
            chunk = paths_or_images[start:start + batch]
            feats.append(self.features([im if isinstance(im, np.ndarray) else load_image(im) for im in chunk], weights))
            emit(progress, "images", min(start + batch, len(paths_or_images)), len(paths_or_images),
                 f"{min(start + batch, len(paths_or_images))} / {len(paths_or_images)} images")
        moved, done = self.adapt(np.concatenate(feats), camera)
        return self.probabilities(moved), done

    def predict_paths(self, paths, weights=None, batch: int = 256, progress=None) -> pd.DataFrame:
        frames = []
        for start in range(0, len(paths), batch):
            frames.append(self.predict_images([load_image(p) for p in paths[start:start + batch]], weights))
            emit(progress, "images", min(start + batch, len(paths)), len(paths),
                 f"{min(start + batch, len(paths))} / {len(paths)} images")
        return pd.concat(frames, ignore_index=True)

    def image_network(self, weights=None):
        """One Keras model from raw 0..255 RGB images to every head's calibrated probabilities: the
        fine-tuned model, or the ImageNet backbone + pooling + the trained heads, then the calibration
        (for export)."""
        if self.votes is not None:
            raise StudioError("this model blends in votes of its nearest training images, which are not part of a "
                              "network: retrain without neighbour votes to export it")
        with backbones.BUILD_LOCK:
            net = self.image_model
            if net is None:
                spec = self.spec
                net = on_images(backbones.build(spec, weights or self.card.get("weights_file")), self.heads, spec,
                                 "attributes_image")
            return calibration.on_network(net, self.card.get("calibration"), self.groups)

    def save(self, stem) -> Path:
        net = self.image_model if self.image_model is not None else self.heads
        arrays = self.votes.arrays() if self.votes is not None else {}
        card = {**self.card, "history": self.history}
        if self.feature_stats:
            for i, st in enumerate(self.feature_stats.values()):
                arrays.update(st.arrays(f"stats{i}"))
            card["feature_statistics"] = {key: st.count for key, st in self.feature_stats.items()}
        return artifacts.save_keras(stem, net, card, KIND, arrays=arrays or None)


KIND = "attributes-keras"


SCORES_KIND = "attributes-test-scores"


def _scores_stem(stem) -> Path:
    stem = artifacts.stem_of(stem)
    return stem.with_name(stem.name + ".test-scores")


def save_test_scores(stem, report: dict) -> Path:
    """The test images' probabilities computed in training, kept beside the model saved at ``stem``
    (``<stem>.test-scores.npz/.json``, tied to the model file's checksum): a fine-tuned model's pages
    then need not run every test image through the network again (minutes on PETA)."""
    probs = report["probabilities"]
    card = artifacts.read_card(stem)
    return artifacts.save_arrays(_scores_stem(stem), {"probabilities": probs.to_numpy(np.float32),
                                                      "rows": np.asarray(report["split"].test)},
                                 {"columns": list(probs.columns), "model_sha256": card.get("keras_sha256")},
                                 SCORES_KIND)


def saved_test_scores(stem, model: AttributeModel, test_rows: np.ndarray) -> pd.DataFrame | None:
    """The probabilities ``save_test_scores`` kept for this very model file and these test rows, else None."""
    try:
        arrays, card = artifacts.load_arrays(_scores_stem(stem), SCORES_KIND)
    except StudioError:
        return None
    if card.get("model_sha256") != model.card.get("keras_sha256") or \
            not np.array_equal(arrays.get("rows"), np.asarray(test_rows)) or \
            arrays["probabilities"].shape != (len(test_rows), len(card.get("columns", []))):
        return None
    return pd.DataFrame(arrays["probabilities"], columns=card["columns"])


def load(stem) -> AttributeModel:
    from . import layers  # noqa: F401  (registers the losses)

    net, card = artifacts.load_keras(stem, KIND, backbones.BUILD_LOCK)
    missing = [a for a in card.get("binary", []) + list(card.get("groups", {})) if a not in net.output]
    if missing:
        raise artifacts.ArtifactError(f"{stem}: the card names heads the model does not have ({missing[0]})")
    votes, stats = None, {}
    arrays = artifacts.read_npz(stem, card) if card.get("neighbours") or card.get("feature_statistics") else {}
    if card.get("neighbours"):
        try:
            votes = NeighbourVotes.from_arrays(arrays, card["attributes"], int(card["neighbours"]["k"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise artifacts.ArtifactError(f"{stem}: the neighbour votes do not match the card ({exc})") from None
    try:                                              # none in a card from before them
        stats = {key: camera_stats.Stats.from_arrays(arrays, f"stats{i}")
                 for i, key in enumerate(card.get("feature_statistics", {}))}
    except (KeyError, TypeError, ValueError) as exc:
        raise artifacts.ArtifactError(f"{stem}: the feature statistics do not match the card ({exc})") from None
    if card.get("input") == "image":
        if votes is not None and FEATURES not in net.output:
            raise artifacts.ArtifactError(f"{stem}: the card names neighbour votes but the network has no "
                                          "features output")
        return AttributeModel(None, card, card.get("history", []), image_model=net, votes=votes)
    return AttributeModel(net, card, card.get("history", []), votes=votes, feature_stats=stats)


def on_images(base, heads, spec: backbones.BackboneSpec, name: str, with_features: bool = False,
               mirror: bool = False):
    """raw 0..255 RGB image -> the backbone's [-1, 1] scaling -> ``base`` -> pooling -> ``heads``: the
    same features ``feature_cache.FeatureCache`` computes (``preprocess`` + ``backbones.pool_layers``), as one Keras model.
    ``mirror``: the pooled features are averaged with those of the mirror image (test-time flip).
    ``with_features``: the pooled features are one more output, ``"features"`` (for neighbour votes)."""
    import keras

    from .layers import Mirror

    inp = keras.Input((spec.height, spec.width, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    maps = backbones.maps_of(base, spec)
    last, mid = maps(x)
    pooled = backbones.pool_layers(last, spec, mid=mid)
    if mirror:
        last, mid = maps(Mirror(name="mirror")(x))
        pooled = keras.layers.Average(name="mirror_average")([pooled, backbones.pool_layers(last, spec, "_mirror", mid)])
    out = heads(pooled)
    return keras.Model(inp, {**out, FEATURES: pooled} if with_features else out, name=name)


FEATURES = "features"       # the extra output of a fine-tuned network whose model blends in neighbour votes
