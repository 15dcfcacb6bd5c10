"""Fine-tuning the backbone's top blocks with the heads, on cached maps.

The frozen part of the network (entry and middle flow, ~88 % of the computation) runs once per image and
once per mirror image: its output maps are cached on disk (``exit_maps``). Heads are trained on the
features those maps give (``heads.train``); then Xception's exit flow (or, ``from_block``, the network
from a middle-flow block on) is trained with them on the maps (``finetune``), and the final network
averages an image and its mirror. Neighbour votes, if any, are fitted on the fine-tuned features.
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace

import numpy as np

from .. import artifacts, backbones
from ..datasets.attributes import AttributeDataset
from ..errors import StudioError
from ..feature_cache import FeatureCache
from ..progress import emit, keras_epochs, relabel
from . import splits
from .config import AttrConfig
from .heads import losses, make_split, targets, train
from .model import AttributeModel, on_images
from .postfit import votes_thresholds_test
from .sampling import Epochs, pick_views, sampling_weights


def exit_maps(ds: AttributeDataset, cfg: AttrConfig, idx=None, flip: bool = False, cache_dir=None,
              progress=None, camera: bool = False, block: str = "block13") -> np.ndarray:
    """The map where the backbone's exit flow begins (or, ``block``, where that middle-flow block begins:
    ``backbones.CUT_BLOCKS``), for the images ``idx`` (all by default), their mirror images (``flip``) or
    their camera views (``camera``), cached on disk like the features (float16)."""
    paths = ds.frame.path.to_numpy()
    paths = paths if idx is None else paths[idx]
    tap = "exit" if block == "block13" else block
    cache = FeatureCache(cfg.backbone_spec(), cache_dir, cfg.weights, flip=flip, tap=tap, camera=camera)
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
            return base, maps, backbones.pool_layers(upper(maps), spec, mid=maps)
        upper = keras.Model(backbones.block_input(base, spec, block), [backbones.exit_flow_input(base, spec),
                                                                       base.output], name=f"from_{block}")
        mid, last = upper(maps)
        return base, maps, backbones.pool_layers(last, spec, mid=mid)


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


# The phases of training a fine-tuned model and their shares of one bar (``progress.Phases``).
PHASES = {"maps-image": (0.0, 0.35), "maps-mirror": (0.35, 0.7), "heads": (0.7, 0.75), "finetune": (0.75, 0.95),
          "votes": (0.95, 1.0)}
VIEWS = {"image": ({}, "every image"), "mirror": ({"flip": True}, "mirror images"),
         "camera": ({"camera": True}, "camera views")}


def view_maps(ds: AttributeDataset, cfg: AttrConfig, block: str = "block13", cache_dir=None, progress=None,
              given: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The maps at ``block`` of every image, of its mirror and (with ``cfg.camera_views``) of its camera
    view (``VIEWS``): those in ``given`` as they are, the others from the cache (``exit_maps``), each
    reported as phase ``maps-<view>``."""
    out = {k: v for k, v in (given or {}).items() if v is not None}
    for view in ["image", "mirror"] + (["camera"] if cfg.camera_views else []):
        if view not in out:
            kwargs, words = VIEWS[view]
            out[view] = exit_maps(ds, cfg, cache_dir=cache_dir, block=block, **kwargs,
                                  progress=relabel(progress, f"maps-{view}", f"frozen layers, {words}: "))
    return out


def train_finetuned(ds: AttributeDataset, cfg: AttrConfig, epochs: int = 3, learning_rate: float = 1e-4,
                    from_block: str = "block13", mirror: bool = True, progress=None,
                    cache_dir=None, maps: dict[str, np.ndarray] | None = None) -> tuple[AttributeModel, dict]:
    """The most accurate model: the frozen layers' maps of every image and of its mirror image are cached
    (``view_maps``); heads are trained on the features they give (``train``); then the exit flow is
    fine-tuned with them (``finetune``), and neighbour votes, if ``cfg.neighbours``, fitted on the
    fine-tuned features. The frozen layers run twice per image in all: no separate feature extraction.
    ``maps``: the maps already in memory (``{"image", "mirror"[, "camera"]}``, as ``exit_maps`` gives
    them at ``cut_block(from_block)``), for a caller that trains several models on one dataset (5.4 GB read
    once, not per model). ``from_block`` before block13 fine-tunes middle-flow blocks too (``finetune``)."""
    make_split(ds, cfg)
    cut = cut_block(from_block)
    t0 = time.perf_counter()
    maps = view_maps(ds, cfg, cut, cache_dir, progress, maps)
    maps_s = time.perf_counter() - t0
    emit(progress, "features", 0, 1, "features from the maps")
    heads_cfg = replace(cfg, neighbours=False)            # votes come after fine-tuning
    views = [features_from_maps(maps[v], cfg, cut) for v in ("mirror", "camera")] if cfg.camera_views else None
    model, _ = train(ds, heads_cfg, features=features_from_maps(maps["image"], cfg, cut),
                     progress=relabel(progress, prefix="heads: "), views=views)
    model.card["timing"]["features_s"] = round(maps_s, 1)
    tuned, report = finetune(ds, model, cfg, epochs, learning_rate, from_block, mirror, progress, cache_dir,
                             maps=maps)
    tuned.card["finetune"]["maps_s"] = round(maps_s, 1)
    return tuned, report


def finetune(ds: AttributeDataset, model: AttributeModel, cfg: AttrConfig, epochs: int = 3,
             learning_rate: float = 1e-4, from_block: str = "block13", mirror: bool = True, progress=None,
             cache_dir=None, maps: dict[str, np.ndarray] | None = None) -> tuple[AttributeModel, dict]:
    """Fine-tune the backbone's top blocks (``from_block`` on: Xception's exit flow, block13 or block14, or
    deeper from a middle-flow block, block5 to block12) together with the trained heads; early stopping on
    validation loss (``cfg.finetune_patience``), thresholds re-tuned on validation, test scored once.
    Batch-norm layers keep their ImageNet statistics.

    The frozen part of the network (entry and middle flow, ~88 % of the computation) runs once per image:
    its output map is cached on disk (``view_maps``; or given in ``maps``). Each training example is, at
    random, the image or its mirror (or, with a camera view's map, that view).
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
    maps = view_maps(ds, cfg, block, cache_dir, progress, maps)
    maps_s = time.perf_counter() - t0
    base, cut, pooled = _exit_flow(cfg, maps["image"].shape[1:], block)
    with backbones.BUILD_LOCK:
        trainable = False
        for layer in base.layers:
            trainable = trainable or layer.name.startswith(from_block + "_")
            layer.trainable = trainable and not isinstance(layer, keras.layers.BatchNormalization)
        net = keras.Model(cut, model.heads(pooled), name="exit_flow_heads")
        features_net = keras.Model(cut, pooled, name="exit_flow_features")
    net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss=losses(Y[split.train], attrs, binary, groups, cfg))
    train_targets = targets(Y, attrs, binary, groups, split.train)
    drawn = sampling_weights(ds.frame.iloc[split.train], cfg.balance)
    every = [maps[v] for v in VIEWS if v in maps]

    def take(rows, key):
        return (pick_views(every, split.train[rows], key).astype(np.float32),
                {k: v[rows] for k, v in train_targets.items()})

    history = list(model.history)
    report = keras_epochs(progress, epochs, history, "finetune", number_from=len(history), extra={"finetune": True},
                          keep=("loss", "val_loss"), describe=lambda epoch, logs: (
                              f"fine-tuning epoch {epoch}/{epochs}, val {logs.get('val_loss', 0):.4f}"))
    t1 = time.perf_counter()
    net.fit(Epochs(take, len(split.train), drawn, cfg.finetune_batch_size, cfg.seed),
            validation_data=(maps["image"][split.val].astype(np.float32),
                             targets(Y, attrs, binary, groups, split.val)),
            epochs=epochs, verbose=0, callbacks=[
                keras.callbacks.EarlyStopping(patience=cfg.finetune_patience, restore_best_weights=True), report])
    train_s = time.perf_counter() - t1
    emit(progress, "finetune", epochs, epochs, "fine-tuned features of every image")
    F = _in_batches(lambda x: features_net(x, training=False), maps["image"])
    if mirror:
        F = (F + _in_batches(lambda x: features_net(x, training=False), maps["mirror"])) / 2
    card = {**{k: v for k, v in model.card.items() if k not in ("neighbours", "calibration")}, "input": "image",
            "config": asdict(cfg), "date": artifacts.now(),
            "finetune": {"epochs": epochs, "epochs_run": sum(1 for h in history if h.get("finetune")),
                         "learning_rate": learning_rate, "from_block": from_block, "mirror": mirror,
                         "maps_s": round(maps_s, 1), "train_s": round(train_s, 1)}}
    tuned = AttributeModel(model.heads, card, history)
    report = votes_thresholds_test(tuned, F, Y, split, cfg, progress)
    with backbones.BUILD_LOCK:
        tuned.image_model = on_images(base, model.heads, cfg.backbone_spec(), "attributes_finetuned",
                                      with_features=tuned.votes is not None, mirror=mirror)
    return tuned, report
