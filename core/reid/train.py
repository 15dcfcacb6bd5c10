"""Training, embedding, saving and loading re-identification models.

Methods (``METHODS``):

* ``course`` — the course network with random triplets (``models.course_network``);
* ``xception`` — the stronger model (``models.xception_stripes``) with batch-hard + identity loss;
* ``xception-bnneck`` — the strong baseline (``tuned``): Xception's exit flow fine-tuned on cached
  middle-flow maps with last stride 1, a BNNeck, label smoothing and warm-up;
* ``lomo-xqda`` — the non-deep baseline (``handcrafted``): nothing to train but the XQDA metric;
  ``lomo-euclidean`` / ``lomo-cosine``: the same features with a plain distance (nothing learned);
* ``gog-xqda`` — the GOG descriptor with XQDA; ``lomo-gog-xqda`` — both descriptors, one XQDA metric;
* ``xception-xqda`` — frozen ImageNet Xception middle-flow stripes (``frozen``) with XQDA;
  ``fused-xqda`` — LOMO + GOG + XQDA and frozen Xception + XQDA, their distances z-scored per query and
  summed (the best method on VIPeR's literature splits here; see ``bench/results/reid-nondeep.md``);
  the frozen part's regularisation and the fusion weight are cross-validated inside the training
  identities (``frozen.cross_validate``) and written on the model card.

Saved artifacts: ``NAME.keras`` (the embedding network) or ``NAME.npz`` (XQDA), each with ``NAME.json``,
the card (method, config, data, split, seed, metrics, date). Every file is written to a temporary name
and renamed, the card last, so an interrupted save leaves the previous model intact.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import artifacts, threads
from ..datasets.base import ReidDataset
from ..datasets.splits import Split, split_frames
from ..errors import StudioError
from ..images import load_image, resize
from . import evaluation, frozen, handcrafted, tuned

# methods without a trained network and their descriptors: ``handcrafted.describe`` names, or
# ``frozen.DESCRIPTOR`` (frozen Xception stripes); "|" separates the parts of a fused method, each with
# its own XQDA metric, whose distances are z-scored per query and summed with cross-validated weights
HANDCRAFTED = {"lomo-xqda": "lomo", "gog-xqda": "gog", "lomo-gog-xqda": "lomo+gog", "lomo-euclidean": "lomo",
               "lomo-cosine": "lomo", "xception-xqda": frozen.DESCRIPTOR,
               "fused-xqda": f"lomo+gog|{frozen.DESCRIPTOR}"}
XQDA_METHODS = ("lomo-xqda", "gog-xqda", "lomo-gog-xqda", "xception-xqda", "fused-xqda")
LOMO_METHODS = tuple(HANDCRAFTED)        # every method without a trained network (the name is historical)
FROZEN_METHODS = ("xception-xqda", "fused-xqda")     # need Xception's ImageNet weights


def parts(method: str) -> list[str]:
    """The descriptors a method without a network compares (one per XQDA metric)."""
    return HANDCRAFTED[method].split("|")


def descriptor_cache(descriptor: str, cache_dir=None, weights=None, mirror: bool = False):
    """The disk cache of one descriptor's values for image files (``mirror``: of the files' mirror
    images; hand-crafted descriptors only, the frozen one keeps both)."""
    if descriptor == frozen.DESCRIPTOR:
        return frozen.StripeCache(cache_dir, weights)
    return handcrafted.DescriptorCache(descriptor, cache_dir, mirror=mirror)


def describe_images(descriptor: str, images: list[np.ndarray], weights=None, side: str = "query") -> np.ndarray:
    """One descriptor of images; ``side``: ``query`` or ``gallery`` (only the frozen descriptor differs)."""
    if descriptor == frozen.DESCRIPTOR:
        return frozen.describe(images, weights, side)
    return handcrafted.describe_many(images, descriptor)


def _cached(descriptor: str, paths, cache_dir, weights, progress, side: str, mirror: bool = False) -> np.ndarray:
    cache = descriptor_cache(descriptor, cache_dir, weights, mirror)
    if descriptor == frozen.DESCRIPTOR:
        return cache.features(list(paths), progress, side)
    return cache.features(list(paths), progress)
METHODS = ("course", "xception", tuned.METHOD) + LOMO_METHODS


@dataclass
class TrainConfig:
    method: str = "course"
    epochs: int = 30
    seed: int = 0
    # course network
    triplets_per_batch: int = 256
    steps_per_epoch: int = 8
    margin: float = 1.0
    learning_rate: float = 1e-3          # course: RMSprop; stronger model: Adam with cosine decay
    # stronger model
    p: int = 16
    k: int = 4
    triplet_margin: float = 0.3
    id_weight: float = 1.0
    augment: bool = True
    # the strong baseline (xception-bnneck), on cached maps; p, k, triplet_margin and id_weight as above
    bnneck_learning_rate: float = 3.5e-4
    warmup_epochs: int = 3
    label_smoothing: float = 0.1
    last_stride: int = 1
    erase: float = 0.5                   # share of training examples with a random erased rectangle of the map
    weights: str | None = None           # Xception ImageNet weights file (else config / download)
    # methods without a network: each training image's mirror is one more sample of its person for the
    # hand-crafted descriptors' metric (the frozen Xception part averages image and mirror already)
    mirror: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- data
def load_images(paths, hw: tuple[int, int], progress=None) -> np.ndarray:
    out = np.empty((len(paths), hw[0], hw[1], 3), np.uint8)
    for i, p in enumerate(paths):
        out[i] = resize(load_image(p), *hw)
        if progress is not None and (i % 50 == 0 or i == len(paths) - 1):
            progress((i + 1) / len(paths), f"reading images {i + 1}/{len(paths)}")
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


def _callback(progress, epochs: int, history: list):
    import keras

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            history.append({"epoch": epoch + 1, **logs})
            if progress is not None:
                progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, loss {logs.get('loss', float('nan')):.4f}",
                         history)

    return Report()


# ----------------------------------------------------------------------------- models
@dataclass
class ReidModel:
    """A trained method: embed images (deep) or features (hand-crafted / frozen) and give query x gallery
    distances."""

    method: str
    card: dict
    keras_model: object = None
    xqdas: list = field(default_factory=list)        # one XQDA metric per part (``parts``)
    history: list = field(default_factory=list)
    weights: str | None = None                       # Xception's ImageNet weights, for the frozen part

    @property
    def xqda(self) -> handcrafted.XQDA | None:
        """The metric of a single-part method (None for a plain distance or a fused method)."""
        return self.xqdas[0] if len(self.xqdas) == 1 else None

    @property
    def fusion_weights(self) -> list[float]:
        return list(self.card.get("fusion_weights", [1.0] * len(self.xqdas)))

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.card["input_hw"])

    def embed(self, images: list[np.ndarray], batch_size: int = 64, side: str = "query") -> np.ndarray:
        """Images (any size, RGB uint8) -> embeddings (deep), descriptors projected by each part's XQDA
        and concatenated (the gallery is projected once, not at every query) or raw descriptors.
        ``side``: ``query`` (an upload) or ``gallery`` (the frozen descriptor adds the mirror image).
        A fused method describes the images with Xception on a second thread meanwhile (side by side
        about 10 % faster than one after the other on 2 cores). BLAS is held to one thread throughout: a
        second BLAS thread gains nothing on these small products and keeps spinning after them on the core
        the descriptors need (``bench/results/reid-gog.md``)."""
        if self.method in LOMO_METHODS:
            if not images:
                return np.zeros((0, 1), np.float32)
            names = parts(self.method)
            with threads.limited(1):
                if len(names) == 1:
                    return self.from_descriptors([describe_images(names[0], images, self.weights, side)])
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(len(names) - 1) as pool:
                    later = [pool.submit(describe_images, n, images, self.weights, side) for n in names[1:]]
                    first = describe_images(names[0], images, self.weights, side)
                    return self.from_descriptors([first] + [f.result() for f in later])
        batch = np.stack([resize(im, *self.input_hw) for im in images]).astype(np.float32)
        return np.asarray(self.keras_model.predict(batch, batch_size=batch_size, verbose=0))

    def from_descriptors(self, feats) -> np.ndarray:
        """Methods without a network: each part's descriptors (a list, or one array for a single part) ->
        what ``distance`` compares (the XQDA projections side by side, or the descriptors as they are)."""
        feats = [feats] if isinstance(feats, np.ndarray) else list(feats)
        if not self.xqdas:
            return feats[0]
        return np.concatenate([x.project(f).astype(np.float32) for x, f in zip(self.xqdas, feats)], axis=1)

    def distance(self, q: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Distances ``len(q) x len(g)``, BLAS on one thread (see ``embed``: with two, the next upload's
        descriptors waited for the spinning second thread; LOMO + GOG answered in 50 ms, not 32)."""
        with threads.limited(1):
            return self._distance(q, g)

    def _distance(self, q: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.method in XQDA_METHODS:
            if len(self.xqdas) == 1:
                return self.xqda.metric(q, g)
            out, start = 0.0, 0
            for x, w in zip(self.xqdas, self.fusion_weights):
                r = len(x.M_)
                out = out + w * frozen.zscored(x.metric(q[:, start:start + r], g[:, start:start + r]))
                start += r
            return out
        if self.method == "lomo-cosine":
            return evaluation.cosine(q, g)
        return evaluation.euclidean(q, g)

    def save(self, stem) -> Path:
        card = {**self.card, "history": self.history}
        if self.method in LOMO_METHODS:
            if len(self.xqdas) > 1:
                arrays = {f"part{i}_{k}": v for i, x in enumerate(self.xqdas) for k, v in x.arrays().items()}
            else:
                arrays = self.xqda.arrays() if self.xqda is not None else {"none": np.zeros(0)}
            return artifacts.save_arrays(stem, arrays, card, kind="reid-lomo")
        path = artifacts.save_keras(stem, self.keras_model, card, kind="reid-keras")
        from .. import checkpoint

        checkpoint.remove(stem)        # the finished model supersedes its training checkpoint
        return path


def load(stem, weights=None) -> ReidModel:
    """Load a saved model by its path without extension (or with .json / .keras / .npz). ``weights``:
    Xception's ImageNet weights file for a method with a frozen part (else the one it was trained with,
    the environment's, or Keras' download)."""
    card = artifacts.read_card(stem)
    if card.get("kind") == "reid-lomo":
        arrays, card = artifacts.load_arrays(stem, "reid-lomo")
        method = card.get("method")
        if method not in LOMO_METHODS:
            raise artifacts.ArtifactError(f"{stem}: unknown method '{method}' in the model card")
        if card.get("descriptor_version") != handcrafted.DESCRIPTOR_VERSION:
            raise artifacts.ArtifactError(
                f"{stem}: made with an older version of the hand-crafted features; train it again "
                f"(python -m core.reid train --method {method}; it takes seconds to minutes)")
        n = len(parts(method))
        try:
            if method not in XQDA_METHODS:
                xqdas = []
            elif n == 1:
                xqdas = [handcrafted.XQDA.from_arrays(arrays)]
            else:
                xqdas = [handcrafted.XQDA.from_arrays({k[len(f"part{i}_"):]: v for k, v in arrays.items()
                                                       if k.startswith(f"part{i}_")}) for i in range(n)]
                if len(card.get("fusion_weights", [])) != n:
                    raise KeyError("fusion_weights")
        except KeyError as exc:
            raise artifacts.ArtifactError(f"{stem}: the model card does not match its model ({exc})") from None
        trained_with = card.get("config", {}).get("weights")         # a path on the machine that trained it
        if not weights and trained_with and Path(trained_with).is_file():
            weights = trained_with
        return ReidModel(method, card, xqdas=xqdas, history=card.get("history", []), weights=weights or None)
    if card.get("kind") != "reid-keras":
        raise artifacts.ArtifactError(f"{stem}: not a re-identification model card")
    from ..backbones import BUILD_LOCK
    from . import losses  # noqa: F401  (registers the project's losses)

    model, card = artifacts.load_keras(stem, "reid-keras", BUILD_LOCK)
    return ReidModel(card["method"], card, keras_model=model, history=card.get("history", []))


# ----------------------------------------------------------------------------- training
def train(ds: ReidDataset, split: Split, cfg: TrainConfig, progress=None, extra: ReidDataset | None = None,
          checkpoint=None, resume: bool = False, cache_dir=None) -> ReidModel:
    """Train ``cfg.method`` on the split's training identities (plus ``extra`` identities, if given).

    Deep methods with ``checkpoint`` (a model stem) save ``STEM-ckpt.*`` after every epoch; ``resume``
    continues from it when it belongs to the same configuration, data and split (else starts afresh).
    Saving the finished model (``ReidModel.save``) removes the checkpoint."""
    if cfg.method not in METHODS:
        raise StudioError(f"unknown method '{cfg.method}'; choose one of {', '.join(METHODS)}")
    train_f, _, _ = split_frames(ds, split)
    card = {"method": cfg.method, "config": cfg.to_dict(), "data": str(ds.root), "dataset": ds.name,
            "layout": ds.layout,
            "split": {"name": split.name, "seed": split.seed, "train_ids": len(split.train),
                      "test_ids": len(split.test), "distractor_ids": len(split.distractors)},
            "seed": cfg.seed, "date": artifacts.now()}
    start = time.perf_counter()
    if cfg.method in LOMO_METHODS:
        card.update(input_hw=[handcrafted.H, handcrafted.W], descriptor=HANDCRAFTED[cfg.method],
                    descriptor_version=handcrafted.DESCRIPTOR_VERSION, train_seconds=0.0)
        if cfg.method not in XQDA_METHODS:
            return ReidModel(cfg.method, card)
        names = parts(cfg.method)
        jobs = [(name, False) for name in names] + [
            (name, True) for name in names if cfg.mirror and name in handcrafted.DESCRIPTORS]
        got = {}
        for i, (name, mirror) in enumerate(jobs):
            label = ("Xception" if name == frozen.DESCRIPTOR else name.upper()) + (", mirrored" if mirror else "")
            report = None if progress is None else (          # one bar across the parts
                lambda f, text, i=i, label=label: progress((i + f) / len(jobs),
                                                           f"features ({label}, {i + 1} of {len(jobs)}): {text}", []))
            got[name, mirror] = _cached(name, train_f.path, cache_dir, cfg.weights, report, "gallery", mirror)
        feats = [got[name, False] for name in names]
        mirrors = [got.get((name, True)) for name in names]
        card["mirrored_training_images"] = any(m is not None for m in mirrors)
        pids, cams = train_f.pid.to_numpy(), train_f.camera.to_numpy()
        blocks = [handcrafted.blocks(n) if n in handcrafted.DESCRIPTORS else () for n in names]
        regs = [None] * len(names)
        if cfg.method in FROZEN_METHODS:
            # settings chosen inside the training identities only: the frozen part's regularisation and,
            # fused, the weight of its distances
            cv = frozen.cross_validate(feats, blocks, [n == frozen.DESCRIPTOR for n in names], pids, cams,
                                       seed=cfg.seed, progress=None if progress is None else
                                       (lambda f, text: progress(f, text, [])), mirrors=mirrors)
            regs = cv["regs"]
            card["cross_validation"] = cv
            card["fusion_weights"] = [1.0, cv["weight"]] if len(names) == 2 else [1.0]
        rows = np.arange(len(train_f))
        xqdas = [handcrafted.XQDA(blocks=blk, **({} if reg is None else {"reg": reg})).fit_rows(F, pids, cams, rows, m)
                 for F, blk, reg, m in zip(feats, blocks, regs, mirrors)]
        card.update(train_seconds=time.perf_counter() - start)
        return ReidModel(cfg.method, card, xqdas=xqdas, weights=cfg.weights)

    import keras
    import pandas as pd

    from .. import backbones
    from .. import checkpoint as ckpt
    from . import models
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
    hw = {"course": models.COURSE_INPUT, "xception": models.STRONG_INPUT}.get(cfg.method, (tuned.HEIGHT, tuned.WIDTH))
    if cfg.method == tuned.METHOD:         # the frozen layers' maps of each image and its mirror, cached
        outer, share = progress, 0.1       # the first tenth of the bar, then the epochs
        maps = tuned.maps(all_f.path, cache_dir, cfg.weights, None if outer is None else (
            lambda f, text: outer(share * f, f"Xception's frozen layers, {text}", [])))
        if outer is not None:
            progress = lambda f, text, history: outer(share + (1 - share) * f, text, history)  # noqa: E731
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
            net = trainer = models.course_network(hw, seed=cfg.seed)
            trainer.compile(optimizer=keras.optimizers.RMSprop(cfg.learning_rate), loss=TripletStackLoss(cfg.margin))
            data = TripletSequence(images, labels, all_f.camera.to_numpy(), cfg)
        else:
            base = backbones.build(backbones.BackboneSpec("xception", *hw), cfg.weights)
            net = models.xception_stripes(base, hw, seed=cfg.seed)
            trainer = models.with_id_head(net, len(uniq))
            steps = max(1, len(uniq) // cfg.p) * cfg.epochs
            schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)
            trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                            loss={"embedding": BatchHardLoss(cfg.triplet_margin),
                                  "id_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                            loss_weights={"embedding": 1.0, "id_logits": cfg.id_weight})
            data = PKSequence(images, labels, cfg)
    history: list = []
    callbacks = [_callback(progress, cfg.epochs, history)]
    done = 0
    if checkpoint is not None:
        fingerprint = {"config": cfg.to_dict(), "data": str(ds.root), "split": card["split"],
                       "extra": card.get("extra_identities"), "identities": int(len(uniq))}
        if resume:
            done, previous = ckpt.restore(checkpoint, trainer, fingerprint)
            history.extend(previous)
            card["resumed_from_epoch"] = done
            if done and progress is not None:
                progress(done / cfg.epochs, f"resumed after epoch {done}/{cfg.epochs}", history)
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


# ----------------------------------------------------------------------------- evaluation
def embed_paths(model: ReidModel, paths, progress=None, batch: int = 128, cache_dir=None,
                side: str = "gallery") -> np.ndarray:
    """Image files -> what the model compares; descriptors come from (and go to) the disk cache, so a
    gallery described once (in training, by ``core.prepare``) is read, not recomputed. ``side``:
    ``gallery`` or ``query`` (the frozen descriptor's mirror image is for the gallery side only)."""
    if model.method in LOMO_METHODS:
        if not len(paths):
            return np.zeros((0, 1), np.float32)
        return model.from_descriptors([_cached(name, paths, cache_dir, model.weights, progress, side)
                                       for name in parts(model.method)])
    out = []
    for start in range(0, len(paths), batch):
        chunk = [load_image(p) for p in paths[start:start + batch]]
        out.append(model.embed(chunk))
        if progress is not None:
            progress(min(1.0, (start + batch) / len(paths)), f"embedding {min(start + batch, len(paths))}/{len(paths)}")
    return np.concatenate(out)


@dataclass
class SplitEmbeddings:
    query: np.ndarray
    gallery: np.ndarray
    q_frame: object
    g_frame: object


def test_embeddings(model: ReidModel, ds: ReidDataset, split: Split, reverse: bool = False, progress=None,
                    cache_dir=None):
    """The split's queries and gallery (:func:`core.datasets.splits.split_frames`), embedded."""
    _, qf, gf = split_frames(ds, split, reverse)
    if model.method in FROZEN_METHODS:            # the two sides are described differently
        half = None if progress is None else (lambda f, text: progress(f / 2, text))
        rest = None if progress is None else (lambda f, text: progress(0.5 + f / 2, text))
        return SplitEmbeddings(embed_paths(model, list(qf.path), half, cache_dir=cache_dir, side="query"),
                               embed_paths(model, list(gf.path), rest, cache_dir=cache_dir), qf, gf)
    emb = embed_paths(model, list(qf.path) + list(gf.path), progress, cache_dir=cache_dir)
    return SplitEmbeddings(emb[:len(qf)], emb[len(qf):], qf, gf)


def train_and_save(ds: ReidDataset, split: Split, cfg: TrainConfig, stem, progress=None, extra=None,
                   resume: bool = False, cache_dir=None) -> tuple[ReidModel, evaluation.RankResult]:
    """Train, evaluate on the split's test identities, put the metrics and CMC on the card, save at
    ``stem`` (atomically): what the CLI's ``train``, the page's Train button and ``core.prepare`` do."""
    model = train(ds, split, cfg, progress, extra=extra, checkpoint=stem, resume=resume, cache_dir=cache_dir)
    emb = test_embeddings(model, ds, split, progress=None if progress is None else
                          (lambda f, text: progress(f, f"test images: {text}")), cache_dir=cache_dir)
    result = rank(model, emb)
    model.card["metrics"] = {split.name: result.summary()}
    model.card["cmc"] = result.cmc.tolist()
    model.save(stem)
    return model, result


def rank(model: ReidModel, e: SplitEmbeddings, rerank: bool = False) -> evaluation.RankResult:
    d = model.distance(e.query, e.gallery)
    if rerank:
        d = evaluation.k_reciprocal_rerank(d, model.distance(e.query, e.query), model.distance(e.gallery, e.gallery))
    return evaluation.evaluate(d, e.q_frame.pid.to_numpy(), e.g_frame.pid.to_numpy(),
                               q_cams=e.q_frame.camid.to_numpy(), g_cams=e.g_frame.camid.to_numpy())
