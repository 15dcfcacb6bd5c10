"""Training, thresholds, evaluation, saving, loading and prediction of attribute models.

Pipeline: backbone features for every image are computed once and cached on disk (keyed by image
content and backbone, ``core.backbones.FeatureCache``); the heads train on them in seconds with early
stopping on the validation loss; a threshold per binary attribute is tuned on validation to maximise
(TPR + TNR) / 2, which is what mA rewards; the test set is scored once.

The most accurate model (``train_finetuned``) goes further: the frozen layers' output maps (where
Xception's exit flow begins) are cached for every image and its mirror image, the heads train on the
features they give, then the exit flow is fine-tuned with the heads on those maps (``finetune``), and
the final network averages an image and its mirror; optional neighbour votes (``neighbours.py``) use
the fine-tuned features.

Saved: ``NAME.keras`` (the heads, or the whole fine-tuned network) and ``NAME.json`` (card: labels,
groups, thresholds, backbone, split, seed, metrics, date, sha256 of the model file), plus ``NAME.npz``
for neighbour votes. Heads-only models rebuild the backbone from the same weights to predict.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import artifacts, backbones
from ..datasets.attributes import AttributeDataset
from ..errors import StudioError
from ..images import load_image, resize
from . import labels as L
from . import calibration, metrics, splits
from .neighbours import NeighbourVotes, blend


@dataclass
class AttrConfig:
    backbone: str = "xception"
    height: int = 128
    width: int = 64
    split: str = "random-image"
    seed: int = 0
    epochs: int = 80
    batch_size: int = 256
    patience: int = 8
    learning_rate: float = 1e-3
    weighted: bool = True          # DeepMAR class-imbalance weights
    colours: bool = False          # also the upper / lower body colour attributes (one sigmoid head each)
    tune_thresholds: bool = True
    calibrate: bool = True         # probabilities calibrated on validation (``calibration.py``)
    weights: str | None = None     # backbone ImageNet weights file
    pooling: str = "avg"           # backbones.POOLINGS: "avg", "stripes" (+ 4 horizontal stripes), "stripes-mid"
    neighbours: bool = False       # blend in votes of the nearest training images (``neighbours.py``)
    balance: str = "none"          # training images drawn evenly per "person" or per "subset" (``sampling_weights``)
    camera_views: bool = False     # also train on each image's mirror and camera view (``images.camera_view``)
    head_hidden: int = 512         # units of the heads' shared layer (``models.build_heads``)
    head_dropout: float = 0.5      # dropout after it
    ensemble: int = 1              # heads trained from seeds seed, seed + 1, ...; their probabilities averaged

    def __post_init__(self):
        if not (isinstance(self.head_hidden, int) and self.head_hidden >= 1):
            raise StudioError(f"the heads' shared layer needs at least 1 unit, got {self.head_hidden}")
        if not 0 <= self.head_dropout < 1:
            raise StudioError(f"the heads' dropout must be at least 0 and below 1, got {self.head_dropout}")
        if not (isinstance(self.ensemble, int) and 1 <= self.ensemble <= 20):
            raise StudioError(f"an ensemble of heads has 1 to 20 members, got {self.ensemble}")

    def backbone_spec(self) -> backbones.BackboneSpec:
        return backbones.BackboneSpec(self.backbone, self.height, self.width, self.pooling)

    @property
    def tag(self) -> str:
        """The backbone, plus input size, pooling, the heads' size and dropout (in percent) and their number
        (ensemble) where not the defaults: keeps saved models apart."""
        tag = self.backbone
        if (self.height, self.width) != (128, 64):
            tag += f"-{self.height}x{self.width}"
        tag += "" if self.pooling == "avg" else f"-{self.pooling}"
        if (self.head_hidden, self.head_dropout) != (AttrConfig.head_hidden, AttrConfig.head_dropout):
            tag += f"-h{self.head_hidden}-d{round(self.head_dropout * 100)}"     # heads of another size
        if self.ensemble > 1:
            tag += f"-x{self.ensemble}"
        return tag

    def model_tag(self, finetuned: bool, from_block: str = "block13") -> str:
        """What a saved model's default name says of it: ``tag``, then ``-finetuned`` for a fine-tuned one
        (``-finetuned-block9`` for one fine-tuned from a middle-flow block)."""
        if not finetuned:
            return self.tag
        return self.tag + "-finetuned" + ("" if from_block == "block13" else f"-{from_block}")


FINETUNE_EPOCHS = 3          # the fine-tuned presets' (early stopping usually keeps fewer)


HEAD_SETTINGS = ("head_hidden", "head_dropout", "ensemble")   # in a preset's settings where not the defaults


def preset_config(settings: dict, split: str, seed: int = 0, weights=None) -> tuple[AttrConfig, int]:
    """One of ``core.recommended.ATTRIBUTES``' settings as ``(AttrConfig, fine-tuning epochs)`` (0: heads
    only), for the page's presets and ``core.prepare`` alike."""
    cfg = AttrConfig(height=settings["height"], width=settings["width"], pooling=settings["pooling"],
                     neighbours=settings["neighbours"], split=split, seed=seed, weights=weights,
                     **{k: settings[k] for k in HEAD_SETTINGS if k in settings})
    return cfg, FINETUNE_EPOCHS if settings["finetune"] else 0


def card_config(card: dict) -> dict:
    """The configuration a saved model was trained with, as ``asdict(AttrConfig)``: a setting newer than
    the card has its default (the model was trained before it existed, which is what the default does)."""
    return {**asdict(AttrConfig()), **(card.get("config") or {})}


def card_settings(card: dict) -> dict | None:
    """The preset settings (``core.recommended.ATTRIBUTES``) a saved model was trained with, or None when its
    configuration is not a preset's (another weighting, balance, views, colours...)."""
    if not {"height", "width", "pooling", "neighbours"} <= set(card.get("config") or {}):
        return None
    cfg, default = card_config(card), asdict(AttrConfig())
    settings = {"height": cfg["height"], "width": cfg["width"], "pooling": cfg["pooling"],
                "neighbours": cfg["neighbours"], "finetune": card.get("input") == "image",
                **{k: cfg[k] for k in HEAD_SETTINGS if cfg[k] != default[k]}}
    made, _ = preset_config(settings, cfg.get("split", ""), cfg.get("seed", 0), cfg.get("weights"))
    return settings if asdict(made) == cfg else None


def new_site_words(card: dict) -> str:
    """What the benchmark measured for this model's configuration on sites (cameras) it never saw, in words
    (``core.recommended``), or "" when its configuration is not a measured preset's or when the model was
    itself tested on a held-out site (its own test numbers say that already)."""
    from .. import recommended
    from .splits import LEAVE_OUT

    if str((card.get("config") or {}).get("split", "")).startswith(LEAVE_OUT):
        return ""
    preset = recommended.matching("attributes", card_settings(card))
    return preset.new_sites if preset is not None else ""


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
            self._backbone = backbones.FeatureCache(self.spec, weights=weights or self.card.get("weights_file"))
        return self._backbone.embed_images(images)

    def predict_images(self, images: list[np.ndarray], weights=None) -> pd.DataFrame:
        if self.image_model is not None:
            batch = np.stack([resize(im, self.spec.height, self.spec.width) for im in images]).astype(np.float32)
            out = self.image_model.predict(batch, verbose=0, batch_size=64)
            return self._blend(np.asarray(out[FEATURES]) if self.votes is not None else None, out)
        return self.probabilities(self.features(images, weights))

    def predict_paths(self, paths, weights=None, batch: int = 256, progress=None) -> pd.DataFrame:
        frames = []
        for start in range(0, len(paths), batch):
            frames.append(self.predict_images([load_image(p) for p in paths[start:start + batch]], weights))
            if progress is not None:
                progress(min(1.0, (start + batch) / len(paths)), f"{min(start + batch, len(paths))} / {len(paths)} images")
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
                net = _on_images(backbones.build(spec, weights or self.card.get("weights_file")), self.heads, spec,
                                 "attributes_image")
            return calibration.on_network(net, self.card.get("calibration"), self.groups)

    def save(self, stem) -> Path:
        net = self.image_model if self.image_model is not None else self.heads
        return artifacts.save_keras(stem, net, {**self.card, "history": self.history}, KIND,
                                    arrays=self.votes.arrays() if self.votes is not None else None)


KIND = "attributes-keras"


def _averages(fmap, stripes: bool, suffix: str):
    """Keras layers: the global average of a map, then (``stripes``) its 4 horizontal stripes' averages."""
    import keras

    x = keras.layers.GlobalAveragePooling2D(name="pool" + suffix)(fmap)
    if not stripes:
        return x
    rows, cols = fmap.shape[1], fmap.shape[2]
    if rows is None or rows % 4:
        raise StudioError(f"stripe pooling needs a feature map height divisible by 4 (a map of {rows} rows); "
                          "use an input height that is a multiple of 128")
    stripes = keras.layers.AveragePooling2D((rows // 4, cols), name="stripe_pool" + suffix)(fmap)
    stripes = keras.layers.Flatten(name="stripes" + suffix)(stripes)
    return keras.layers.Concatenate(name="pool_concat" + suffix)([x, stripes])


def _pooled(fmap, spec: backbones.BackboneSpec, suffix: str = "", mid=None):
    """Keras layers pooling the last map ``fmap`` (and, for ``spec.with_mid``, the middle flow's map
    ``mid``) as ``backbones.pool`` does."""
    import keras

    x = _averages(fmap, spec.pooling != "avg", suffix)
    if spec.with_mid:
        x = keras.layers.Concatenate(name="with_mid" + suffix)([x, _averages(mid, True, "_mid" + suffix)])
    return x


def _maps(base, spec: backbones.BackboneSpec):
    """A callable: image tensor -> (``base``'s last map, the middle flow's map or None when ``spec``'s
    pooling does not use it), through ``base``'s own layers."""
    if not spec.with_mid:
        return lambda x: (base(x), None)
    import keras

    both = keras.Model(base.input, [backbones.exit_flow_input(base, spec), base.output], name=base.name + "_maps")

    def run(x):
        mid, last = both(x)
        return last, mid
    return run


def _on_images(base, heads, spec: backbones.BackboneSpec, name: str, with_features: bool = False,
               mirror: bool = False):
    """raw 0..255 RGB image -> the backbone's [-1, 1] scaling -> ``base`` -> pooling -> ``heads``: the
    same features ``backbones.FeatureCache`` computes (``preprocess`` + ``pool``), as one Keras model.
    ``mirror``: the pooled features are averaged with those of the mirror image (test-time flip).
    ``with_features``: the pooled features are one more output, ``"features"`` (for neighbour votes)."""
    import keras

    from .models import Mirror

    inp = keras.Input((spec.height, spec.width, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    maps = _maps(base, spec)
    last, mid = maps(x)
    pooled = _pooled(last, spec, mid=mid)
    if mirror:
        last, mid = maps(Mirror(name="mirror")(x))
        pooled = keras.layers.Average(name="mirror_average")([pooled, _pooled(last, spec, "_mirror", mid)])
    out = heads(pooled)
    return keras.Model(inp, {**out, FEATURES: pooled} if with_features else out, name=name)


FEATURES = "features"       # the extra output of a fine-tuned network whose model blends in neighbour votes


def train_and_save(ds: AttributeDataset, cfg: AttrConfig, stem, finetune_epochs: int = 0,
                   finetune_lr: float = 1e-4, progress=None, cache_dir=None,
                   from_block: str = "block13") -> tuple[AttributeModel, dict]:
    """Train (heads on cached features, or with ``finetune_epochs`` the fine-tuned network, from
    ``from_block`` on), save the model at ``stem`` and its test images' probabilities beside it
    (``save_test_scores``): what the CLI's ``train``, the page's Train button and ``core.prepare`` do."""
    if finetune_epochs:
        model, report = train_finetuned(ds, cfg, finetune_epochs, finetune_lr, from_block, progress=progress,
                                        cache_dir=cache_dir)
    else:
        model, report = train(ds, cfg, progress=progress, cache_dir=cache_dir)
    model.save(stem)
    save_test_scores(stem, report)
    return model, report


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
    from . import models  # noqa: F401  (registers the losses)

    net, card = artifacts.load_keras(stem, KIND, backbones.BUILD_LOCK)
    missing = [a for a in card.get("binary", []) + list(card.get("groups", {})) if a not in net.output]
    if missing:
        raise artifacts.ArtifactError(f"{stem}: the card names heads the model does not have ({missing[0]})")
    votes = None
    if card.get("neighbours"):
        try:
            votes = NeighbourVotes.from_arrays(artifacts.read_npz(stem, card), card["attributes"],
                                               int(card["neighbours"]["k"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise artifacts.ArtifactError(f"{stem}: the neighbour votes do not match the card ({exc})") from None
    if card.get("input") == "image":
        if votes is not None and FEATURES not in net.output:
            raise artifacts.ArtifactError(f"{stem}: the card names neighbour votes but the network has no "
                                          "features output")
        return AttributeModel(None, card, card.get("history", []), image_model=net, votes=votes)
    return AttributeModel(net, card, card.get("history", []), votes=votes)


def _targets(Y: np.ndarray, attributes, binary, groups, idx):
    t = {a: Y[idx, attributes.index(a)][:, None] for a in binary}
    for g, members in groups.items():
        t[g] = L.group_targets(Y[idx], attributes, members)
    return t


def _losses(Y_train: np.ndarray, attributes: list[str], binary: list[str], groups: dict,
            cfg: AttrConfig) -> dict:
    """One masked loss per output: DeepMAR-weighted BCE (weights from the training share of positives,
    if ``cfg.weighted``) per binary attribute, sparse CCE per group."""
    from . import models

    share = np.nanmean(Y_train, axis=0)
    losses = {a: models.MaskedWeightedBCE(float(np.nan_to_num(share[attributes.index(a)], nan=0.5)), cfg.weighted)
              for a in binary}
    losses.update({g: models.MaskedSparseCCE() for g in groups})
    return losses


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


BALANCE = ("none", "person", "subset")


def sampling_weights(frame: pd.DataFrame, balance: str) -> np.ndarray | None:
    """The chance of each training image (rows of ``frame``) to be drawn for a training example: None for
    ``none`` (every image once per epoch, shuffled); ``person``: each person's images share one person's
    chance (TownCentre's ~31 frames of a person count once); ``subset``: each subset (site) gets the same
    total chance, so the largest does not dominate."""
    if balance == "none":
        return None
    if balance not in BALANCE:
        raise StudioError(f"unknown balance '{balance}': {', '.join(BALANCE)}")
    key = frame["person"] if balance == "person" else frame.get("subset", pd.Series("all", index=frame.index))
    counts = key.map(key.value_counts()).to_numpy(np.float64)
    p = 1 / counts
    return p / p.sum()


def _epoch_rows(n: int, p: np.ndarray | None, seed: int, epoch: int) -> np.ndarray:
    """One epoch's training rows (positions in the training part): each of the ``n`` once in a seeded
    order when ``p`` is None, else ``n`` drawn with chances ``p`` (``sampling_weights``)."""
    if p is None:
        return np.random.default_rng((seed, epoch)).permutation(n)
    return np.random.default_rng((seed, epoch, 7)).choice(n, n, p=p)


def _views(views: list[np.ndarray], idx: np.ndarray, key: tuple) -> np.ndarray:
    """``views[v][i]`` for each ``i`` in ``idx``, the view ``v`` at random (seeded by ``key``): each
    training example is the image, its mirror or, if cached, its camera view."""
    if len(views) == 1:
        return views[0][idx]
    which = (np.random.default_rng(key).random(len(idx)) * len(views)).astype(int)
    out = np.empty((len(idx),) + views[0].shape[1:], views[0].dtype)
    for v, arr in enumerate(views):
        out[which == v] = arr[idx[which == v]]
    return out


class _Epochs:
    """A Keras ``PyDataset`` over the training rows: batch ``i`` of an epoch is ``take(rows, key)``, the
    rows from ``_epoch_rows`` (anew each epoch), ``key`` = (seed, epoch, i) for any other random choice.
    Built on first use so that ``keras`` is imported only when training."""

    def __new__(cls, take, n: int, p: np.ndarray | None, batch: int, seed: int):
        import keras

        class Epochs(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.epoch, self.rows = 0, _epoch_rows(n, p, seed, 0)

            def __len__(self):
                return int(np.ceil(n / batch))

            def __getitem__(self, i):
                return take(self.rows[i * batch:(i + 1) * batch], (seed, self.epoch, i))

            def on_epoch_end(self):
                self.epoch += 1
                self.rows = _epoch_rows(n, p, seed, self.epoch)

        return Epochs()


def _split(ds: AttributeDataset, cfg: AttrConfig) -> splits.AttrSplit:
    """``cfg``'s split of ``ds``, refused before any work when a part would be empty."""
    split = splits.make(ds.frame, cfg.split, cfg.seed)
    if min(len(split.train), len(split.val), len(split.test)) == 0:
        raise StudioError("the dataset is too small to split into train / validation / test")
    return split


def dataset_features(ds: AttributeDataset, cfg: AttrConfig, cache_dir=None, progress=None) -> np.ndarray:
    cache = backbones.FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights)
    return cache.features(list(ds.frame.path), progress)


def train(ds: AttributeDataset, cfg: AttrConfig, features: np.ndarray | None = None, progress=None,
          cache_dir=None, attributes: list[str] | None = None,
          views: list[np.ndarray] | None = None) -> tuple[AttributeModel, dict]:
    """Train heads; returns the model and a report (metrics on the test part, per-attribute table).
    ``views``: other views of every image (its mirror's features, its camera view's), each training
    example drawn at random from ``features`` and these; with ``cfg.camera_views`` and no ``views``, the
    mirror and camera views' features are extracted (and cached) here."""
    import keras

    from . import models

    wanted = attributes
    if wanted is None and cfg.colours:
        wanted = L.PETA35 + [c for members in L.COLOUR_GROUPS.values() for c in members]
    attrs = L.available(ds.attributes, wanted)
    binary, groups = L.layout(attrs)
    split = _split(ds, cfg)
    t0 = time.perf_counter()
    if features is None:
        features = dataset_features(ds, cfg, cache_dir, progress)
    feature_s = time.perf_counter() - t0
    Y = ds.labels(attrs)
    history: list = []
    n = cfg.ensemble

    class Report(keras.callbacks.Callback):
        def __init__(self, member: int):
            super().__init__()
            self.member = member

        def on_epoch_end(self, epoch, logs=None):
            raw = {k: float(v) for k, v in (logs or {}).items()}
            logs = {k: raw[k] for k in ("loss", "val_loss") if k in raw}
            for prefix in ("", "val_"):      # mean of the per-output masked accuracies
                accs = [v for k, v in raw.items() if k.endswith("_accuracy")
                        and k.startswith("val_") == (prefix == "val_")]
                if accs:
                    logs[prefix + "accuracy"] = float(np.mean(accs))
            history.append({"epoch": epoch + 1, **({"member": self.member + 1} if n > 1 else {}), **logs})
            if progress is not None:
                progress((self.member + (epoch + 1) / cfg.epochs) / n,
                         f"epoch {epoch + 1}, loss {logs.get('loss', 0):.4f}, val {logs.get('val_loss', 0):.4f}"
                         + (f" (heads {self.member + 1} of {n})" if n > 1 else ""))

    t1 = time.perf_counter()
    train_targets = _targets(Y, attrs, binary, groups, split.train)
    val_data = (features[split.val], _targets(Y, attrs, binary, groups, split.val))
    p = sampling_weights(ds.frame.iloc[split.train], cfg.balance)
    if views is None and cfg.camera_views:
        views = [backbones.FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights, **kw).features(
            list(ds.frame.path), progress) for kw in (dict(flip=True), dict(camera=True))]
    every = [features] + list(views or [])
    members = []
    for member in range(n):           # each from its own seed (initialisation, dropout, order of examples)
        seed = cfg.seed + member
        with backbones.BUILD_LOCK:
            heads = models.build_heads(features.shape[1], binary, groups, seed, cfg.head_hidden, cfg.head_dropout,
                                       name="attribute_heads" if n == 1 else f"attribute_heads_{member + 1}")
        heads.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss=_losses(Y[split.train], attrs, binary, groups, cfg),
                      metrics={**{a: [models.masked_binary_accuracy] for a in binary},
                               **{g: [models.masked_class_accuracy] for g in groups}})
        data = dict(x=features[split.train], y=train_targets, batch_size=cfg.batch_size, shuffle=True) \
            if p is None and len(every) == 1 else \
            dict(x=_Epochs(lambda rows, key: (_views(every, split.train[rows], key),
                                              {k: v[rows] for k, v in train_targets.items()}),
                           len(split.train), p, cfg.batch_size, seed))
        heads.fit(**data, validation_data=val_data, epochs=cfg.epochs, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True),
                             Report(member)])
        members.append(heads)
    heads = members[0] if n == 1 else models.average_heads(members)
    train_s = time.perf_counter() - t1
    card = {"attributes": attrs, "binary": binary, "groups": groups, "thresholds": {a: 0.5 for a in binary},
            "backbone": asdict(cfg.backbone_spec()), "config": asdict(cfg), "data": str(ds.root),
            "dataset": ds.name, "split": {"name": split.name, "seed": split.seed, "train": len(split.train),
                                          "val": len(split.val), "test": len(split.test)},
            "seed": cfg.seed, "date": artifacts.now(), "weights_file": cfg.weights}
    model = AttributeModel(heads, card, history)
    report = _votes_thresholds_test(model, features, Y, split, cfg, progress)
    card["timing"] = {"features_s": feature_s, "train_s": train_s, "epochs_run": len(history)}
    return model, report


def _votes_thresholds_test(model: AttributeModel, features: np.ndarray, Y: np.ndarray, split, cfg: AttrConfig,
                           progress=None) -> dict:
    """The last steps of ``train`` and ``finetune``, on the heads' input ``features`` of every image:
    neighbour votes if ``cfg.neighbours`` (fitted on the training images, k and the blend chosen on
    validation), probabilities calibrated on validation if ``cfg.calibrate``, thresholds tuned on the
    calibrated validation probabilities (balanced for mA, F1 for words), the test images scored once;
    metrics (with the ECE before and after calibration) into the card."""
    attrs, binary = model.attributes, model.binary
    model.card.pop("calibration", None)
    if cfg.neighbours:
        if progress is not None:
            progress(1.0, "neighbour votes: choosing k and the blend on validation")
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
    pred = model.decide(probs)
    per = metrics.label_based(Y[split.test], pred, attrs)
    summary = metrics.summary(Y[split.test], pred, attrs)
    summary["mA at 0.5"] = float(metrics.label_based(Y[split.test], model.decide(probs, 0.5), attrs)["mA"].mean())
    summary["ECE"] = calibration.reliability(probs, Y[split.test], attrs, columns)[1]
    summary["ECE before calibration"] = ece_raw
    model.card["metrics"] = {split.name: summary}
    model.card["per_attribute"] = per.round(4).to_dict(orient="records")
    return {"summary": summary, "per_attribute": per, "split": split, "probabilities": probs, "predictions": pred}


def exit_maps(ds: AttributeDataset, cfg: AttrConfig, idx=None, flip: bool = False, cache_dir=None,
              progress=None, camera: bool = False, block: str = "block13") -> np.ndarray:
    """The map where the backbone's exit flow begins (or, ``block``, where that middle-flow block begins:
    ``backbones.CUT_BLOCKS``), for the images ``idx`` (all by default), their mirror images (``flip``) or
    their camera views (``camera``), cached on disk like the features (float16)."""
    paths = ds.frame.path.to_numpy()
    paths = paths if idx is None else paths[idx]
    tap = "exit" if block == "block13" else block
    cache = backbones.FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights, flip=flip, tap=tap, camera=camera)
    return cache.features(list(paths), progress)


def _in_batches(fn, x: np.ndarray, batch: int = 128) -> np.ndarray:
    return np.concatenate([np.asarray(fn(x[s:s + batch].astype(np.float32))) for s in range(0, len(x), batch)])


def _exit_flow(cfg: AttrConfig, map_shape: tuple, block: str = "block13"):
    """The backbone, an input for maps of ``map_shape`` where its exit flow (or ``block``) begins, and the
    pooled features of the network from there run on that input (Keras tensors; the layers are ``base``'s
    own). With ``stripes-mid`` pooling the middle map pooled is the exit flow's input, as everywhere."""
    import keras

    spec = cfg.backbone_spec()
    with backbones.BUILD_LOCK:
        base = backbones.build(spec, cfg.weights)
        maps = keras.Input(tuple(map_shape), name="maps")
        if block == "block13":
            upper = keras.Model(backbones.exit_flow_input(base, spec), base.output, name="exit_flow")
            return base, maps, _pooled(upper(maps), spec, mid=maps)
        upper = keras.Model(backbones.block_input(base, spec, block), [backbones.exit_flow_input(base, spec),
                                                                       base.output], name=f"from_{block}")
        mid, last = upper(maps)
        return base, maps, _pooled(last, spec, mid=mid)


def features_from_maps(maps: np.ndarray, cfg: AttrConfig, block: str = "block13") -> np.ndarray:
    """The pooled features of the images whose ``exit_maps`` (taken at ``block``) these are: the frozen
    network from there + pooling, what ``dataset_features`` gives up to the maps' float16 rounding, faster."""
    import keras

    _, cut, pooled = _exit_flow(cfg, maps.shape[1:], block)
    with backbones.BUILD_LOCK:
        net = keras.Model(cut, pooled)
    return _in_batches(lambda x: net(x, training=False), maps)


def cut_block(from_block: str) -> str:
    """Where the maps fine-tuning from ``from_block`` trains on are taken: that block's input, or for
    block14 (the exit flow's second half) block13's, as for the whole exit flow."""
    from_xception = backbones.CUT_BLOCKS["xception"]
    if from_block not in (*from_xception, "block14"):
        raise StudioError(f"fine-tuning starts at one of {', '.join(from_xception)} or block14, not '{from_block}'")
    return "block13" if from_block == "block14" else from_block


def train_finetuned(ds: AttributeDataset, cfg: AttrConfig, epochs: int = 3, learning_rate: float = 1e-4,
                    from_block: str = "block13", mirror: bool = True, progress=None,
                    cache_dir=None, maps: dict[str, np.ndarray] | None = None) -> tuple[AttributeModel, dict]:
    """The most accurate model: the frozen layers' maps of every image and of its mirror image are cached
    (``exit_maps``); heads are trained on the features they give (``train``); then the exit flow is
    fine-tuned with them (``finetune``), and neighbour votes, if ``cfg.neighbours``, fitted on the
    fine-tuned features. The frozen layers run twice per image in all: no separate feature extraction.
    ``maps``: the maps already in memory (``{"image", "mirror"[, "camera"]}``, as ``exit_maps`` gives
    them at ``cut_block(from_block)``), for a caller that trains several models on one dataset (5.4 GB read
    once, not per model). ``from_block`` before block13 fine-tunes middle-flow blocks too (``finetune``)."""
    def step(what):
        return None if progress is None else (lambda f, text: progress(f, f"{what}: {text}"))

    _split(ds, cfg)
    cut = cut_block(from_block)
    t0 = time.perf_counter()
    given = maps or {}
    maps = given.get("image")
    if maps is None:
        maps = exit_maps(ds, cfg, cache_dir=cache_dir, progress=step("frozen layers, every image"), block=cut)
    flipped = given.get("mirror")
    if flipped is None:
        flipped = exit_maps(ds, cfg, flip=True, cache_dir=cache_dir, progress=step("frozen layers, mirror images"),
                            block=cut)
    camera = given.get("camera")
    if camera is None and cfg.camera_views:
        camera = exit_maps(ds, cfg, camera=True, cache_dir=cache_dir, progress=step("frozen layers, camera views"),
                           block=cut)
    maps_s = time.perf_counter() - t0
    if progress is not None:
        progress(1.0, "features from the maps")
    heads_cfg = replace(cfg, neighbours=False)            # votes come after fine-tuning
    views = [features_from_maps(m, cfg, cut) for m in (flipped, camera)] if cfg.camera_views else None
    model, _ = train(ds, heads_cfg, features=features_from_maps(maps, cfg, cut), progress=step("heads"), views=views)
    model.card["timing"]["features_s"] = round(maps_s, 1)
    tuned, report = finetune(ds, model, cfg, epochs, learning_rate, from_block, mirror, progress, cache_dir,
                             maps=maps, flipped=flipped, camera=camera)
    tuned.card["finetune"]["maps_s"] = round(maps_s, 1)
    return tuned, report


def finetune(ds: AttributeDataset, model: AttributeModel, cfg: AttrConfig, epochs: int = 3,
             learning_rate: float = 1e-4, from_block: str = "block13", mirror: bool = True, progress=None,
             cache_dir=None, maps: np.ndarray | None = None, flipped: np.ndarray | None = None,
             camera: np.ndarray | None = None) -> tuple[AttributeModel, dict]:
    """Fine-tune the backbone's top blocks (``from_block`` on: Xception's exit flow, block13 or block14, or
    deeper from a middle-flow block, block5 to block12) together with the trained heads; early stopping on
    validation loss, thresholds re-tuned on validation, test scored once. Batch-norm layers keep their
    ImageNet statistics.

    The frozen part of the network (entry and middle flow, ~88 % of the computation) runs once per image:
    its output map is cached on disk (``exit_maps``; or given: ``maps`` and ``flipped``, every image's and
    its mirror image's). Each training example is, at random, the image or its mirror (or, given ``camera``
    or with ``cfg.camera_views``, its camera view's map).
    Each epoch then runs only the exit flow, ~8x faster than whole images. ``mirror``: the final network
    averages the pooled features of an image and its mirror (test-time flip). If ``cfg.neighbours``,
    neighbour votes are fitted on the fine-tuned features (k and the blend chosen on validation); the
    saved network then has a second output, the pooled features the votes need."""
    import keras

    if model.image_model is not None:
        raise StudioError("this model is already fine-tuned")
    block = cut_block(from_block)
    attrs, binary, groups = model.attributes, model.binary, model.groups
    split = splits.make(ds.frame, cfg.split, cfg.seed)
    Y = ds.labels(attrs)
    t0 = time.perf_counter()
    if maps is None or flipped is None:
        maps = exit_maps(ds, cfg, cache_dir=cache_dir, progress=progress, block=block)
        flipped = exit_maps(ds, cfg, flip=True, cache_dir=cache_dir, progress=progress, block=block)
    if camera is None and cfg.camera_views:
        camera = exit_maps(ds, cfg, camera=True, cache_dir=cache_dir, progress=progress, block=block)
    maps_s = time.perf_counter() - t0
    base, cut, pooled = _exit_flow(cfg, maps.shape[1:], block)
    with backbones.BUILD_LOCK:
        trainable = False
        for layer in base.layers:
            trainable = trainable or layer.name.startswith(from_block + "_")
            layer.trainable = trainable and not isinstance(layer, keras.layers.BatchNormalization)
        net = keras.Model(cut, model.heads(pooled), name="exit_flow_heads")
        features_net = keras.Model(cut, pooled, name="exit_flow_features")
    net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss=_losses(Y[split.train], attrs, binary, groups, cfg))
    targets = _targets(Y, attrs, binary, groups, split.train)
    drawn = sampling_weights(ds.frame.iloc[split.train], cfg.balance)

    every = [maps, flipped] + ([camera] if camera is not None else [])

    def take(rows, key):
        return _views(every, split.train[rows], key).astype(np.float32), {k: v[rows] for k, v in targets.items()}

    history = list(model.history)

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items() if k in ("loss", "val_loss")}
            history.append({"epoch": len(history) + 1, "finetune": True, **logs})
            if progress is not None:
                progress((epoch + 1) / epochs, f"fine-tuning epoch {epoch + 1}/{epochs}, val {logs.get('val_loss', 0):.4f}")

    t1 = time.perf_counter()
    net.fit(_Epochs(take, len(split.train), drawn, 32, cfg.seed), validation_data=(maps[split.val].astype(np.float32), _targets(Y, attrs, binary, groups, split.val)),
            epochs=epochs, verbose=0, callbacks=[keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True),
                                                 Report()])
    train_s = time.perf_counter() - t1
    if progress is not None:
        progress(1.0, "fine-tuned features of every image")
    F = _in_batches(lambda x: features_net(x, training=False), maps)
    if mirror:
        F = (F + _in_batches(lambda x: features_net(x, training=False), flipped)) / 2
    card = {**{k: v for k, v in model.card.items() if k not in ("neighbours", "calibration")}, "input": "image",
            "config": asdict(cfg), "date": artifacts.now(),
            "finetune": {"epochs": epochs, "epochs_run": sum(1 for h in history if h.get("finetune")),
                         "learning_rate": learning_rate, "from_block": from_block, "mirror": mirror,
                         "maps_s": round(maps_s, 1), "train_s": round(train_s, 1)}}
    tuned = AttributeModel(model.heads, card, history)
    report = _votes_thresholds_test(tuned, F, Y, split, cfg, progress)
    with backbones.BUILD_LOCK:
        tuned.image_model = _on_images(base, model.heads, cfg.backbone_spec(), "attributes_finetuned",
                                       with_features=tuned.votes is not None, mirror=mirror)
    return tuned, report
