"""Training an attribute model end to end, and the package's training API in one namespace.

Pipeline: backbone features for every image are computed once and cached on disk (keyed by image
content, backbone and weights, ``core.feature_cache.FeatureCache``); the heads train on them in seconds
with early stopping on the validation loss (``heads``); neighbour votes, calibration and a threshold per
binary attribute are fitted on validation, and the test set is scored once (``postfit``). The most
accurate model fine-tunes the backbone's top on cached maps (``finetune``). The modules:

* ``config``   — ``AttrConfig``, the presets' settings, a saved card's configuration;
* ``model``    — ``AttributeModel`` (probabilities, decisions, words), save / load, kept test scores;
* ``sampling`` — which training images an epoch draws;
* ``heads``    — training the heads; ``postfit`` — votes, calibration, thresholds, test;
* ``finetune`` — cached maps and fine-tuning;
* ``layers``   — the Keras heads, masked losses and the mirror layer.

``train_and_save`` is what the CLI's ``train``, the page's Train button and ``core.prepare`` call.
"""
from __future__ import annotations

from ..datasets.attributes import AttributeDataset
from . import finetune as _finetune
from . import heads as _heads
from .config import (
    FINETUNE_EPOCHS,
    HEAD_SETTINGS,
    AttrConfig,
    card_config,
    card_settings,
    new_site_words,
    preset_config,
)
from .finetune import cut_block, exit_maps, features_from_maps, finetune, train_finetuned
from .heads import dataset_features, train
from .model import FEATURES, KIND, AttributeModel, load, on_images, save_test_scores, saved_test_scores
from .postfit import choose_blend
from .sampling import BALANCE, sampling_weights

__all__ = ["AttrConfig", "AttributeModel", "BALANCE", "FEATURES", "FINETUNE_EPOCHS", "HEAD_SETTINGS", "KIND",
           "card_config", "card_settings", "choose_blend", "cut_block", "dataset_features", "exit_maps",
           "features_from_maps", "finetune", "load", "new_site_words", "on_images", "preset_config",
           "phases", "sampling_weights", "save_test_scores", "saved_test_scores", "train", "train_and_save",
           "train_finetuned"]


def phases(finetuned: bool) -> dict[str, tuple[float, float]]:
    """The phases ``train_and_save`` reports and their shares of one bar (``progress.Phases``)."""
    return _finetune.PHASES if finetuned else _heads.PHASES


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
