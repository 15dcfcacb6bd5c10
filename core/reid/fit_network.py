"""Training the methods with a network (``methods.NETWORK_METHODS``): the course network on random
triplets, Xception stripes on P x K batches, and the strong baseline on cached maps; each epoch seeded by
its number, a checkpoint after every epoch, resumable."""
from __future__ import annotations

import time

import numpy as np

from ..datasets.base import ReidDataset
from ..images import load_image, resize
from ..progress import emit, keras_epochs, relabel
from . import tuned
from .methods import TrainConfig
from .model import ReidModel


def load_images(paths, hw: tuple[int, int], progress=None) -> np.ndarray:
    out = np.empty((len(paths), hw[0], hw[1], 3), np.uint8)
    for i, p in enumerate(paths):
        out[i] = resize(load_image(p), *hw)
        if i % 50 == 0 or i == len(paths) - 1:
            emit(progress, "images", i + 1, len(paths), f"reading images {i + 1}/{len(paths)}")
    return out


def augment_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, pad-and-crop (up to 1/8 of each side), brightness/contrast/saturation jitter, random erasing."""
    x = x.astype(np.float32)
    n, h, w, _ = x.shape
    flip = rng.random(n) < 0.5
    x[flip] = x[flip, :, ::-1]
    ph, pw = h // 8, w // 8
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), mode="edge")
    ys, xs = rng.integers(0, 2 * ph + 1, n), rng.integers(0, 2 * pw + 1, n)
    x = np.stack([padded[i, ys[i]:ys[i] + h, xs[i]:xs[i] + w] for i in range(n)])
    bright = rng.uniform(0.75, 1.25, (n, 1, 1, 1))
    contrast = rng.uniform(0.75, 1.25, (n, 1, 1, 1))
    mean = x.mean((1, 2, 3), keepdims=True)
    x = (x - mean) * contrast + mean * bright
    gray = x.mean(3, keepdims=True)
    sat = rng.uniform(0.7, 1.3, (n, 1, 1, 1))
    x = gray + (x - gray) * sat
    for i in np.nonzero(rng.random(n) < 0.5)[0]:
        eh, ew = int(rng.uniform(0.2, 0.5) * h), int(rng.uniform(0.2, 0.6) * w)
        y0, x0 = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
        x[i, y0:y0 + eh, x0:x0 + ew] = rng.uniform(0, 255, (eh, ew, 3))
    return np.clip(x, 0, 255)


def _sequences():
    import keras

    from .sampling import pk_batches, random_triplets

    class TripletSequence(keras.utils.PyDataset):
        """Batches of [anchors; positives; negatives] for the course network."""

        def __init__(self, images, labels, cameras, cfg: TrainConfig):
            super().__init__()
            self.images, self.labels, self.cameras, self.cfg = images, labels, cameras, cfg
            self.epoch = 0

        def __len__(self):
            return self.cfg.steps_per_epoch

        def __getitem__(self, i):
            seed = self.cfg.seed * 1_000_003 + self.epoch * 1009 + i
            t = random_triplets(self.labels, self.cfg.triplets_per_batch, seed, self.cameras)
            x = self.images[np.concatenate([t[:, 0], t[:, 1], t[:, 2]])].astype(np.float32)
            return x, np.zeros(len(x), np.float32)

        def on_epoch_end(self):
            self.epoch += 1

        def start_at(self, epoch: int):
            """Continue as from ``epoch`` (each epoch's batches are seeded by its number)."""
            self.epoch = epoch

    class PKSequence(keras.utils.PyDataset):
        """P identities x K images per batch, augmented; targets (labels, labels) for the two losses."""

        def __init__(self, images, labels, cfg: TrainConfig):
            super().__init__()
            self.images, self.labels, self.cfg = images, np.asarray(labels), cfg
            self.epoch = 0
            self._make()

        def _make(self):
            self.batches = list(pk_batches(self.labels, self.cfg.p, self.cfg.k, self.cfg.seed + self.epoch))

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            idx = self.batches[i]
            x = self.images[idx]
            if self.cfg.augment:
                x = augment_batch(x, np.random.default_rng((self.cfg.seed, self.epoch, i)))
            y = self.labels[idx].astype(np.int32)
            return x.astype(np.float32), {"embedding": y, "id_logits": y}

        def on_epoch_end(self):
            self.epoch += 1
            self._make()

        def start_at(self, epoch: int):
            self.epoch = epoch
            self._make()

    class MapSequence(PKSequence):
        """The same P x K batches of cached maps for the strong baseline (``tuned.batch``)."""

        def __init__(self, maps, labels, cfg: TrainConfig):
            super().__init__(maps, labels, cfg)
            self.n_ids = int(np.max(labels)) + 1

        def __getitem__(self, i):
            rng = np.random.default_rng((self.cfg.seed, self.epoch, i))
            return tuned.batch(self.images, self.labels, self.batches[i], self.n_ids, rng, self.cfg.erase)

    return TripletSequence, PKSequence, MapSequence



def fit_network(ds: ReidDataset, train_f, cfg: TrainConfig, card: dict, start: float, progress=None,
                extra: ReidDataset | None = None, checkpoint=None, resume: bool = False,
                cache_dir=None) -> ReidModel:
    """``cfg.method`` (one with a network) trained on the images of ``train_f`` (plus ``extra``'s
    identities); ``card`` is filled in, ``start`` is when training began (``time.perf_counter``).
    With ``checkpoint`` (a model stem) ``STEM-ckpt.*`` is saved after every epoch; ``resume`` continues
    from it when it belongs to the same configuration, data and split."""
    import keras
    import pandas as pd

    from .. import backbones
    from .. import checkpoint as ckpt
    from . import networks
    from .losses import BatchHardLoss, TripletStackLoss

    keras.utils.set_random_seed(cfg.seed)
    frames = [train_f.assign(source=ds.name)]
    if extra is not None:
        frames.append(extra.frame.assign(source=extra.name))
        card["extra_identities"] = {"dataset": extra.name, "root": str(extra.root), "identities": len(extra.pids),
                                    "images": len(extra.frame)}
    all_f = pd.concat(frames, ignore_index=True)
    labels_text = (all_f.source + "/" + all_f.pid).to_numpy()
    uniq, labels = np.unique(labels_text, return_inverse=True)
    hw = {"course": networks.COURSE_INPUT, "xception": networks.STRONG_INPUT}.get(cfg.method, (tuned.HEIGHT, tuned.WIDTH))
    if cfg.method == tuned.METHOD:         # the frozen layers' maps of each image and its mirror, cached
        maps = tuned.maps(all_f.path, cache_dir, cfg.weights, relabel(progress, "maps", "Xception's frozen layers, "))
    else:
        images = load_images(list(all_f.path), hw)
    TripletSequence, PKSequence, MapSequence = _sequences()
    # Only building holds the process-wide lock (Keras' layer naming is not thread-safe); fitting does
    # not, so other app sessions can load models while this one trains.
    with backbones.BUILD_LOCK:
        if cfg.method == tuned.METHOD:
            base = backbones.build(backbones.BackboneSpec("xception", *hw), cfg.weights)
            trainer, parts_ = tuned.build(base, len(uniq), cfg.last_stride, cfg.seed)
            data = MapSequence(maps, labels, cfg)
            tuned.compile_trainer(trainer, len(data), cfg.epochs, cfg.warmup_epochs, cfg.bnneck_learning_rate,
                                  cfg.triplet_margin, cfg.label_smoothing, cfg.id_weight)
        elif cfg.method == "course":
            net = trainer = networks.course_network(hw, seed=cfg.seed)
            trainer.compile(optimizer=keras.optimizers.RMSprop(cfg.learning_rate), loss=TripletStackLoss(cfg.margin))
            data = TripletSequence(images, labels, all_f.camera.to_numpy(), cfg)
        else:
            base = backbones.build(backbones.BackboneSpec("xception", *hw), cfg.weights)
            net = networks.xception_stripes(base, hw, seed=cfg.seed)
            trainer = networks.with_id_head(net, len(uniq))
            steps = max(1, len(uniq) // cfg.p) * cfg.epochs
            schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)
            trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                            loss={"embedding": BatchHardLoss(cfg.triplet_margin),
                                  "id_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                            loss_weights={"embedding": 1.0, "id_logits": cfg.id_weight})
            data = PKSequence(images, labels, cfg)
    history: list = []
    callbacks = [keras_epochs(progress, cfg.epochs, history)]
    done = 0
    if checkpoint is not None:
        fingerprint = {"config": cfg.to_dict(), "data": str(ds.root), "split": card["split"],
                       "extra": card.get("extra_identities"), "identities": int(len(uniq))}
        if resume:
            done, previous = ckpt.restore(checkpoint, trainer, fingerprint)
            history.extend(previous)
            card["resumed_from_epoch"] = done
            if done:
                emit(progress, "epochs", done, cfg.epochs, f"resumed after epoch {done}/{cfg.epochs}", history)
        callbacks.append(ckpt.callback(checkpoint, fingerprint, history))
    if done < cfg.epochs:
        data.start_at(done)        # a resumed run sees the same batches as an uninterrupted one
        trainer.fit(data, epochs=cfg.epochs, initial_epoch=done, verbose=0, callbacks=callbacks)
    if cfg.method == tuned.METHOD:
        with backbones.BUILD_LOCK:
            net = tuned.image_network(base, parts_)
    card.update(input_hw=list(hw), train_seconds=time.perf_counter() - start, train_images=len(all_f),
                train_identities=int(len(uniq)))
    return ReidModel(cfg.method, card, keras_model=net, history=history)

