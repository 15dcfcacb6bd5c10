"""The attribute model's configuration (``AttrConfig``), the presets' settings, and a saved card's."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import backbones
from ..errors import StudioError


@dataclass
class AttrConfig:
    backbone: str = "xception"
    height: int = 128
    width: int = 64
    split: str = "random-image"
    seed: int = 0
    epochs: int = 80
    batch_size: int = 256
    patience: int = 8
    learning_rate: float = 1e-3
    weighted: bool = True          # DeepMAR class-imbalance weights
    colours: bool = False          # also the upper / lower body colour attributes (one sigmoid head each)
    tune_thresholds: bool = True
    calibrate: bool = True         # probabilities calibrated on validation (``calibration.py``)
    weights: str | None = None     # backbone ImageNet weights file
    pooling: str = "avg"           # backbones.POOLINGS: "avg", "stripes" (+ 4 horizontal stripes), "stripes-mid"
    neighbours: bool = False       # blend in votes of the nearest training images (``neighbours.py``)
    balance: str = "none"          # training images drawn evenly per "person" or per "subset" (``sampling_weights``)
    camera_views: bool = False     # also train on each image's mirror and camera view (``images.camera_view``)
    head_hidden: int = 512         # units of the heads' shared layer (``models.build_heads``)
    head_dropout: float = 0.5      # dropout after it
    ensemble: int = 1              # heads trained from seeds seed, seed + 1, ...; their probabilities averaged
    finetune_batch_size: int = 32  # fine-tuning: examples per step (``finetune.finetune``)
    finetune_patience: int = 1     # fine-tuning: epochs without a better validation loss before it stops

    def __post_init__(self):
        if not (isinstance(self.head_hidden, int) and self.head_hidden >= 1):
            raise StudioError(f"the heads' shared layer needs at least 1 unit, got {self.head_hidden}")
        if not 0 <= self.head_dropout < 1:
            raise StudioError(f"the heads' dropout must be at least 0 and below 1, got {self.head_dropout}")
        if not (isinstance(self.ensemble, int) and 1 <= self.ensemble <= 20):
            raise StudioError(f"an ensemble of heads has 1 to 20 members, got {self.ensemble}")

    def backbone_spec(self) -> backbones.BackboneSpec:
        return backbones.BackboneSpec(self.backbone, self.height, self.width, self.pooling)

    @property
    def tag(self) -> str:
        """The backbone, plus input size, pooling, the heads' size and dropout (in percent) and their number
        (ensemble) where not the defaults: keeps saved models apart."""
        tag = self.backbone
        if (self.height, self.width) != (128, 64):
            tag += f"-{self.height}x{self.width}"
        tag += "" if self.pooling == "avg" else f"-{self.pooling}"
        if (self.head_hidden, self.head_dropout) != (AttrConfig.head_hidden, AttrConfig.head_dropout):
            tag += f"-h{self.head_hidden}-d{round(self.head_dropout * 100)}"     # heads of another size
        if self.ensemble > 1:
            tag += f"-x{self.ensemble}"
        return tag

    def model_tag(self, finetuned: bool, from_block: str = "block13") -> str:
        """What a saved model's default name says of it: ``tag``, then ``-finetuned`` for a fine-tuned one
        (``-finetuned-block9`` for one fine-tuned from a middle-flow block)."""
        if not finetuned:
            return self.tag
        return self.tag + "-finetuned" + ("" if from_block == "block13" else f"-{from_block}")


FINETUNE_EPOCHS = 3          # the fine-tuned presets' (early stopping usually keeps fewer)


HEAD_SETTINGS = ("head_hidden", "head_dropout", "ensemble")   # in a preset's settings where not the defaults


def preset_config(settings: dict, split: str, seed: int = 0, weights=None) -> tuple[AttrConfig, int]:
    """One of ``core.recommended.ATTRIBUTES``' settings as ``(AttrConfig, fine-tuning epochs)`` (0: heads
    only), for the page's presets and ``core.prepare`` alike."""
    cfg = AttrConfig(height=settings["height"], width=settings["width"], pooling=settings["pooling"],
                     neighbours=settings["neighbours"], split=split, seed=seed, weights=weights,
                     **{k: settings[k] for k in HEAD_SETTINGS if k in settings})
    return cfg, FINETUNE_EPOCHS if settings["finetune"] else 0


def card_config(card: dict) -> dict:
    """The configuration a saved model was trained with, as ``asdict(AttrConfig)``: a setting newer than
    the card has its default (the model was trained before it existed, which is what the default does)."""
    return {**asdict(AttrConfig()), **(card.get("config") or {})}


def card_settings(card: dict) -> dict | None:
    """The preset settings (``core.recommended.ATTRIBUTES``) a saved model was trained with, or None when its
    configuration is not a preset's (another weighting, balance, views, colours...)."""
    if not {"height", "width", "pooling", "neighbours"} <= set(card.get("config") or {}):
        return None
    cfg, default = card_config(card), asdict(AttrConfig())
    settings = {"height": cfg["height"], "width": cfg["width"], "pooling": cfg["pooling"],
                "neighbours": cfg["neighbours"], "finetune": card.get("input") == "image",
                **{k: cfg[k] for k in HEAD_SETTINGS if cfg[k] != default[k]}}
    made, _ = preset_config(settings, cfg.get("split", ""), cfg.get("seed", 0), cfg.get("weights"))
    return settings if asdict(made) == cfg else None


def new_site_words(card: dict) -> str:
    """What the benchmark measured for this model's configuration on sites (cameras) it never saw, in words
    (``core.recommended``), or "" when its configuration is not a measured preset's or when the model was
    itself tested on a held-out site (its own test numbers say that already)."""
    from .. import recommended
    from .splits import LEAVE_OUT

    if str((card.get("config") or {}).get("split", "")).startswith(LEAVE_OUT):
        return ""
    preset = recommended.matching("attributes", card_settings(card))
    return preset.new_sites if preset is not None else ""
