"""The re-identification methods (the registry) and their settings (``TrainConfig``).

* ``course`` — the course network with random triplets (``networks.course_network``);
* ``xception`` — the stronger model (``networks.xception_stripes``) with batch-hard + identity loss;
* ``xception-bnneck`` — the strong baseline (``tuned``): Xception's exit flow fine-tuned on cached
  middle-flow maps with last stride 1, a BNNeck, label smoothing and warm-up;
* ``lomo-xqda`` — the non-deep baseline (``handcrafted``): nothing to train but the XQDA metric;
  ``lomo-euclidean`` / ``lomo-cosine``: the same features with a plain distance (nothing learned);
* ``gog-xqda`` — the GOG descriptor with XQDA; ``lomo-gog-xqda`` — both descriptors, one XQDA metric;
* ``xception-xqda`` — frozen ImageNet Xception middle-flow stripes (``frozen``) with XQDA;
  ``fused-xqda`` — LOMO + GOG + XQDA and frozen Xception + XQDA, their distances z-scored per query and
  summed; the frozen part's regularisation and the fusion weight are cross-validated inside the training
  identities (``frozen.cross_validate``) and written on the model card.

Methods with a network train in ``fit_network``; those without (descriptors and a metric) in
``fit_metric``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import frozen, handcrafted, tuned

HANDCRAFTED = {"lomo-xqda": "lomo", "gog-xqda": "gog", "lomo-gog-xqda": "lomo+gog", "lomo-euclidean": "lomo",
               "lomo-cosine": "lomo", "xception-xqda": frozen.DESCRIPTOR,
               "fused-xqda": f"lomo+gog|{frozen.DESCRIPTOR}"}
XQDA_METHODS = ("lomo-xqda", "gog-xqda", "lomo-gog-xqda", "xception-xqda", "fused-xqda")
NO_NETWORK_METHODS = tuple(HANDCRAFTED)   # every method without a trained network: descriptors and a metric
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


def cached_descriptors(descriptor: str, paths, cache_dir, weights, progress, side: str, mirror: bool = False) -> np.ndarray:
    cache = descriptor_cache(descriptor, cache_dir, weights, mirror)
    if descriptor == frozen.DESCRIPTOR:
        return cache.features(list(paths), progress, side)
    return cache.features(list(paths), progress)
NETWORK_METHODS = ("course", "xception", tuned.METHOD)     # a Keras network trained by ``fit_network``
METHODS = NETWORK_METHODS + NO_NETWORK_METHODS


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

