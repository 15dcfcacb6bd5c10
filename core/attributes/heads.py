"""Training the heads on cached backbone features (``train``): targets and masked losses per output,
an ensemble of heads from consecutive seeds, early stopping on the validation loss; then neighbour votes,
calibration, thresholds and the test (``postfit``)."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from .. import artifacts, backbones, camera_stats
from ..datasets.attributes import AttributeDataset
from ..errors import StudioError
from ..feature_cache import FeatureCache
from ..progress import keras_epochs, relabel
from . import labels as L
from . import splits
from .config import AttrConfig
from .model import AttributeModel
from .postfit import votes_thresholds_test
from .sampling import Epochs, pick_views, sampling_weights

# The phases of training heads and their shares of one bar (``progress.Phases``): the features of every
# image (from the cache, or computed), the heads' epochs, the neighbour votes.
PHASES = {"features": (0.0, 0.85), "heads": (0.85, 0.95), "votes": (0.95, 1.0)}


def targets(Y: np.ndarray, attributes, binary, groups, idx):
    t = {a: Y[idx, attributes.index(a)][:, None] for a in binary}
    for g, members in groups.items():
        t[g] = L.group_targets(Y[idx], attributes, members)
    return t


def losses(Y_train: np.ndarray, attributes: list[str], binary: list[str], groups: dict,
            cfg: AttrConfig) -> dict:
    """One masked loss per output: DeepMAR-weighted BCE (weights from the training share of positives,
    if ``cfg.weighted``) per binary attribute, sparse CCE per group."""
    from . import layers

    share = np.nanmean(Y_train, axis=0)
    losses = {a: layers.MaskedWeightedBCE(float(np.nan_to_num(share[attributes.index(a)], nan=0.5)), cfg.weighted)
              for a in binary}
    losses.update({g: layers.MaskedSparseCCE() for g in groups})
    return losses


def make_split(ds: AttributeDataset, cfg: AttrConfig) -> splits.AttrSplit:
    """``cfg``'s split of ``ds``, refused before any work when a part would be empty."""
    split = splits.make(ds.frame, cfg.split, cfg.seed)
    if min(len(split.train), len(split.val), len(split.test)) == 0:
        raise StudioError("the dataset is too small to split into train / validation / test")
    return split


def dataset_features(ds: AttributeDataset, cfg: AttrConfig, cache_dir=None, progress=None) -> np.ndarray:
    """The pooled backbone features of every image of ``ds``, from (and into) the disk cache."""
    cache = FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights)
    return cache.features(list(ds.frame.path), progress)


def train(ds: AttributeDataset, cfg: AttrConfig, features: np.ndarray | None = None, progress=None,
          cache_dir=None, attributes: list[str] | None = None,
          views: list[np.ndarray] | None = None) -> tuple[AttributeModel, dict]:
    """Train heads; returns the model and a report (metrics on the test part, per-attribute table).
    ``views``: other views of every image (its mirror's features, its camera view's), each training
    example drawn at random from ``features`` and these; with ``cfg.camera_views`` and no ``views``, the
    mirror and camera views' features are extracted (and cached) here."""
    import keras

    from . import layers

    wanted = attributes
    if wanted is None and cfg.colours:
        wanted = L.PETA35 + [c for members in L.COLOUR_GROUPS.values() for c in members]
    attrs = L.available(ds.attributes, wanted)
    binary, groups = L.layout(attrs)
    split = make_split(ds, cfg)
    t0 = time.perf_counter()
    if features is None:
        features = dataset_features(ds, cfg, cache_dir, relabel(progress, "features"))
    feature_s = time.perf_counter() - t0
    Y = ds.labels(attrs)
    history: list = []
    n = cfg.ensemble


    def report(member: int):
        def words(epoch, logs):
            return (f"epoch {epoch}, loss {logs.get('loss', 0):.4f}, val {logs.get('val_loss', 0):.4f}"
                    + (f" (heads {member + 1} of {n})" if n > 1 else ""))
        return keras_epochs(progress, cfg.epochs, history, "heads", words, offset=member * cfg.epochs,
                            total=n * cfg.epochs, extra={"member": member + 1} if n > 1 else None,
                            keep=("loss", "val_loss"))

    t1 = time.perf_counter()
    train_targets = targets(Y, attrs, binary, groups, split.train)
    val_data = (features[split.val], targets(Y, attrs, binary, groups, split.val))
    p = sampling_weights(ds.frame.iloc[split.train], cfg.balance)
    if views is None and cfg.camera_views:
        views = [FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights, **kw).features(
            list(ds.frame.path), relabel(progress, "features")) for kw in (dict(flip=True), dict(camera=True))]
    every = [features] + list(views or [])
    members = []
    for member in range(n):           # each from its own seed (initialisation, dropout, order of examples)
        seed = cfg.seed + member
        with backbones.BUILD_LOCK:
            heads = layers.build_heads(features.shape[1], binary, groups, seed, cfg.head_hidden, cfg.head_dropout,
                                       name="attribute_heads" if n == 1 else f"attribute_heads_{member + 1}")
        heads.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss=losses(Y[split.train], attrs, binary, groups, cfg),
                      metrics={**{a: [layers.masked_binary_accuracy] for a in binary},
                               **{g: [layers.masked_class_accuracy] for g in groups}})
        data = dict(x=features[split.train], y=train_targets, batch_size=cfg.batch_size, shuffle=True) \
            if p is None and len(every) == 1 else \
            dict(x=Epochs(lambda rows, key: (pick_views(every, split.train[rows], key),
                                              {k: v[rows] for k, v in train_targets.items()}),
                           len(split.train), p, cfg.batch_size, seed))
        heads.fit(**data, validation_data=val_data, epochs=cfg.epochs, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True),
                             report(member)])
        members.append(heads)
    heads = members[0] if n == 1 else layers.average_heads(members)
    train_s = time.perf_counter() - t1
    card = {"attributes": attrs, "binary": binary, "groups": groups, "thresholds": {a: 0.5 for a in binary},
            "backbone": asdict(cfg.backbone_spec()), "config": asdict(cfg), "data": str(ds.root),
            "dataset": ds.name, "split": {"name": split.name, "seed": split.seed, "train": len(split.train),
                                          "val": len(split.val), "test": len(split.test)},
            "seed": cfg.seed, "date": artifacts.now(), "weights_file": cfg.weights}
    model = AttributeModel(heads, card, history, feature_stats=site_stats(features, ds.frame, split.train))
    report = votes_thresholds_test(model, features, Y, split, cfg, progress)
    card["timing"] = {"features_s": feature_s, "train_s": train_s, "epochs_run": len(history)}
    return model, report


def site_stats(features: np.ndarray, frame, rows) -> dict:
    """The training images' feature statistics: pooled, and per training site (a dataset's ``subset``
    column: PETA's), for ``AttributeModel.feature_stats``."""
    out = {"pooled": camera_stats.Stats.of(features[rows])}
    if "subset" in frame:
        sites = frame.subset.astype(str).to_numpy()[rows]
        for site in sorted(set(sites)):
            out[f"site {site}"] = camera_stats.Stats.of(features[rows][sites == site])
    return out
