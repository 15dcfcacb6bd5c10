"""Training a re-identification method, and the package's training API in one namespace.

The modules: ``methods`` (the registry of methods and ``TrainConfig``), ``model`` (``ReidModel``, save /
load, embedding a split), ``fit_metric`` (methods without a network: descriptors + XQDA),
``fit_network`` (the Keras networks), ``networks`` (their layers), ``losses``, ``sampling``,
``evaluation`` (CMC, mAP, re-ranking), ``protocols`` (each layout's splits).
``train_and_save`` is what the CLI's ``train``, the page's Train button and ``core.prepare`` call; its
``PHASES`` share one bar between the steps a method reports (``progress.Phases``).
"""
from __future__ import annotations

import time

from .. import artifacts
from ..datasets.base import ReidDataset
from ..datasets.splits import Split, split_frames
from ..errors import StudioError
from ..progress import relabel
from . import evaluation
from .fit_metric import fit_metric
from .fit_network import fit_network
from .methods import (
    FROZEN_METHODS,
    HANDCRAFTED,
    METHODS,
    NETWORK_METHODS,
    NO_NETWORK_METHODS,
    XQDA_METHODS,
    TrainConfig,
    parts,
)
from .model import ReidModel, SplitEmbeddings, camera_photos_stats, embed_paths, folder_stats, load, rank, test_embeddings

# Training's phases (the metric methods': features, cross-validation; the networks': maps, epochs) and the
# test, with their shares of one bar.
PHASES = {"features": (0.0, 0.6), "cross-validation": (0.6, 0.85), "maps": (0.0, 0.1), "images": (0.0, 0.1),
          "epochs": (0.1, 0.85), "test": (0.85, 1.0)}

__all__ = ["PHASES", "FROZEN_METHODS", "HANDCRAFTED", "METHODS", "NETWORK_METHODS", "NO_NETWORK_METHODS", "XQDA_METHODS",
           "ReidModel", "SplitEmbeddings", "TrainConfig", "camera_photos_stats", "embed_paths", "folder_stats", "load",
           "parts", "rank", "test_embeddings", "train", "train_and_save"]


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
    if cfg.method in NO_NETWORK_METHODS:
        return fit_metric(train_f, cfg, card, start, progress, cache_dir)
    return fit_network(ds, train_f, cfg, card, start, progress, extra, checkpoint, resume, cache_dir)


def train_and_save(ds: ReidDataset, split: Split, cfg: TrainConfig, stem, progress=None, extra=None,
                   resume: bool = False, cache_dir=None) -> tuple[ReidModel, evaluation.RankResult]:
    """Train, evaluate on the split's test identities, put the metrics and CMC on the card, save at
    ``stem`` (atomically): what the CLI's ``train``, the page's Train button and ``core.prepare`` do."""
    model = train(ds, split, cfg, progress, extra=extra, checkpoint=stem, resume=resume, cache_dir=cache_dir)
    emb = test_embeddings(model, ds, split, progress=relabel(progress, "test", "test images: "), cache_dir=cache_dir)
    result = rank(model, emb)
    model.card["metrics"] = {split.name: result.summary()}
    model.card["cmc"] = result.cmc.tolist()
    model.save(stem)
    return model, result

