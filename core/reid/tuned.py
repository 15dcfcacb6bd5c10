"""The fine-tuned deep metric: the field's strong baseline, as far as 2 CPU cores allow.

Method ``xception-bnneck``. Luo et al.'s "bag of tricks" (CVPR-W 2019; fast-reid's and torchreid's
strong baseline) on ImageNet Xception at 256 x 128:

* **what is trained**: the exit flow (blocks 13-14, ~7 M weights) with **last stride 1** (its stride-2
  pooling and shortcut become stride 1: a 16 x 8 x 2048 map, not 8 x 4), global average pooling, a
  **BNNeck** (batch normalisation without shift between the features and the classifier) and a
  bias-free identity classifier;
* **losses**: batch-hard triplet loss (margin 0.3) on the pooled features before the BNNeck, identity
  cross-entropy with **label smoothing** (0.1) after it; P x K batches (16 identities x 4 images);
* **optimiser**: AdamW (weight decay 5e-4), linear **warm-up** then cosine decay;
* **augmentation**: each example is, at random, the image's map or its mirror image's, and **random
  erasing** blanks a rectangle of the map (not of the pixels: the frozen layers run once per image);
* **the embedding**: the BNNeck's output, L2-normalised (so Euclidean distance ranks as cosine).

What 2 cores change: the entry and middle flow stay frozen with their ImageNet weights; their output map
(16 x 8 x 728, float16) of every training image and its mirror is computed once and cached on disk by
content (``maps``), so each epoch runs only the exit flow. Training saves a checkpoint after every
epoch and can resume (``core.reid.train``). The saved network takes images: the frozen layers, the
fine-tuned exit flow and the BNNeck in one ``.keras`` file (built-in layers only, ``safe_mode`` loads it).
"""
from __future__ import annotations

import numpy as np

from .. import backbones, feature_cache
from ..progress import scaled
from . import frozen

HEIGHT, WIDTH = frozen.HEIGHT, frozen.WIDTH
METHOD = "xception-bnneck"


def maps(paths, cache_dir=None, weights=None, progress=None) -> np.ndarray:
    """The map where Xception's exit flow begins (``16 x 8 x 728`` at 256 x 128) of each image and of its
    mirror image: ``N x 2 x 16 x 8 x 728``, float16. Cached on disk by content (``feature_cache.FeatureCache``
    with ``tap="exit"``, one file per side, kept apart from the attribute model's); ``progress``: phase ``maps``."""
    spec = backbones.BackboneSpec("xception", HEIGHT, WIDTH)
    sides = []
    for i, flip in enumerate((False, True)):
        cache = feature_cache.FeatureCache(spec, cache_dir, weights, flip=flip, tap="exit", prefix="reid-")
        report = scaled(progress, i / 2, (i + 1) / 2, "maps", f"{'mirror images' if i else 'images'}: ")
        sides.append(cache.features(list(paths), report))
    return np.stack(sides, axis=1)


def exit_flow(base, last_stride: int = 1):
    """A copy of ``base``'s exit flow (its weights copied) that takes the middle flow's map; with
    ``last_stride=1`` its one down-sampling step (block 13's pooling and shortcut) keeps the resolution."""
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride is 1 or 2, not {last_stride}")
    keras = backbones._import_keras()
    spec = backbones.BackboneSpec("xception", HEIGHT, WIDTH)
    upper = keras.Model(backbones.exit_flow_input(base, spec), base.output, name="exit_flow")

    def clone(layer):
        config = layer.get_config()
        if last_stride == 1 and tuple(config.get("strides", ())) == (2, 2):
            config["strides"] = (1, 1)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(upper, clone_function=clone)
    for new, old in zip(copy.layers, upper.layers):
        new.set_weights(old.get_weights())
    return copy


def build(base, n_ids: int, last_stride: int = 1, seed: int = 0):
    """``(trainer, parts)``: the training network on maps (outputs ``pooled`` for the triplet loss and
    ``id_logits``) and the trained layers ``image_network`` puts after the frozen ones."""
    keras = backbones._import_keras()
    from keras import layers

    keras.utils.set_random_seed(seed)
    exit_net = exit_flow(base, last_stride)
    maps = keras.Input(tuple(exit_net.input.shape[1:]), name="maps")
    gap = layers.GlobalAveragePooling2D(name="pooled")
    bnneck = layers.BatchNormalization(center=False, name="bnneck")
    unit = layers.UnitNormalization(name="embedding")
    pooled = gap(exit_net(maps))
    neck = bnneck(pooled)
    logits = layers.Dense(n_ids, use_bias=False, name="id_logits",
                          kernel_initializer=keras.initializers.RandomNormal(stddev=0.001, seed=seed))(neck)
    trainer = keras.Model(maps, {"pooled": pooled, "id_logits": logits}, name="bnneck_train")
    return trainer, (exit_net, gap, bnneck, unit)


def image_network(base, parts) -> object:
    """Images (RGB, 0-255, ``HEIGHT x WIDTH``) -> embeddings: the frozen layers of ``base`` then the
    trained ``parts`` of ``build`` (their weights shared, not copied)."""
    keras = backbones._import_keras()
    from keras import layers

    spec = backbones.BackboneSpec("xception", HEIGHT, WIDTH)
    trunk = keras.Model(base.input, backbones.exit_flow_input(base, spec), name="xception_frozen")
    trunk.trainable = False
    exit_net, gap, bnneck, unit = parts
    image = keras.Input((HEIGHT, WIDTH, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(image)
    out = unit(bnneck(gap(exit_net(trunk(x)))))
    return keras.Model(image, out, name=METHOD)


def erase(maps: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Random erasing on maps: with probability ``p`` each map gets a rectangle of 1/8 to 1/2 of its height
    and 1/4 to 1/2 of its width set to zero (in place; ``maps`` is ``N x H x W x C``)."""
    n, h, w, _ = maps.shape
    for i in np.nonzero(rng.random(n) < p)[0]:
        eh = int(rng.integers(max(1, h // 8), max(1, h // 2) + 1))
        ew = int(rng.integers(max(1, w // 4), max(1, w // 2) + 1))
        y0, x0 = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
        maps[i, y0:y0 + eh, x0:x0 + ew] = 0.0
    return maps


def batch(maps: np.ndarray, labels: np.ndarray, idx: np.ndarray, n_ids: int, rng: np.random.Generator,
          erase_p: float):
    """One training batch of cached maps (``maps``: ``N x 2 x H x W x C``, image and mirror) for the images
    ``idx``: each example's side drawn at random, randomly erased; targets ``pooled`` (identity labels,
    for the triplet loss) and ``id_logits`` (one-hot, for label smoothing)."""
    idx = np.asarray(idx)
    side = rng.integers(0, 2, len(idx))
    x = erase(maps[idx, side].astype(np.float32), rng, erase_p)
    y = np.asarray(labels)[idx].astype(np.int32)
    return x, {"pooled": y, "id_logits": np.eye(n_ids, dtype=np.float32)[y]}


def compile_trainer(trainer, steps_per_epoch: int, epochs: int, warmup_epochs: int, learning_rate: float,
                    margin: float, label_smoothing: float, id_weight: float = 1.0) -> None:
    """AdamW (weight decay 5e-4), learning rate warmed up linearly from 1 % over ``warmup_epochs`` then
    cosine-decayed; batch-hard triplet loss on ``pooled``, smoothed cross-entropy on ``id_logits``."""
    import keras

    from .losses import BatchHardLoss

    warm = min(warmup_epochs, max(epochs - 1, 0)) * steps_per_epoch
    decay = max(1, epochs * steps_per_epoch - warm)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate * 0.01, decay, alpha=0.01,
                                                      warmup_target=learning_rate, warmup_steps=warm)
    trainer.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
                    loss={"pooled": BatchHardLoss(margin),
                          "id_logits": keras.losses.CategoricalCrossentropy(from_logits=True,
                                                                            label_smoothing=label_smoothing)},
                    loss_weights={"pooled": 1.0, "id_logits": id_weight})
