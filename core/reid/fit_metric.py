"""Training the methods without a network (``methods.NO_NETWORK_METHODS``): descriptors of the training
images (and their mirrors) from the disk cache, settings cross-validated inside the training identities
for the frozen Xception part (its regularisation and, fused, its weight), then one XQDA metric per part."""
from __future__ import annotations

import time

import numpy as np

from .. import camera_stats
from ..progress import scaled
from . import frozen, handcrafted
from .methods import FROZEN_METHODS, HANDCRAFTED, XQDA_METHODS, TrainConfig, cached_descriptors, parts
from .model import ReidModel


def fit_metric(train_f, cfg: TrainConfig, card: dict, start: float, progress=None, cache_dir=None) -> ReidModel:
    """``cfg.method`` (one without a network) trained on the images of ``train_f``; ``card`` is filled in,
    ``start`` is when training began (``time.perf_counter``)."""
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
        report = scaled(progress, i / len(jobs), (i + 1) / len(jobs), "features",      # one step across the parts
                        f"features ({label}, {i + 1} of {len(jobs)}): ")
        got[name, mirror] = cached_descriptors(name, train_f.path, cache_dir, cfg.weights, report, "gallery", mirror)
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
                                   seed=cfg.seed, progress=progress, mirrors=mirrors)
        regs = cv["regs"]
        card["cross_validation"] = cv
        card["fusion_weights"] = [1.0, cv["weight"]] if len(names) == 2 else [1.0]
    rows = np.arange(len(train_f))
    xqdas = [handcrafted.XQDA(blocks=blk, **({} if reg is None else {"reg": reg})).fit_rows(F, pids, cams, rows, m)
             for F, blk, reg, m in zip(feats, blocks, regs, mirrors)]
    card.update(train_seconds=time.perf_counter() - start)
    return ReidModel(cfg.method, card, xqdas=xqdas, weights=cfg.weights,
                     camera_stats=training_stats(feats, train_f.camid.to_numpy()))


def training_stats(feats: list, camids) -> dict:
    """The training cameras' descriptor statistics, per part: every photo pooled, and each camera's
    (``ReidModel.camera_stats``); what new cameras' descriptors are moved onto."""
    camids = np.asarray(camids)
    out = {"pooled": [camera_stats.Stats.of(f) for f in feats]}
    for cam in sorted(set(camids.tolist())):
        out[f"cam{cam}"] = [camera_stats.Stats.of(f[camids == cam]) for f in feats]
    return out
