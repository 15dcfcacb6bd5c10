"""``core prepare``'s re-identification part: the preset's method on the dataset's default split, kept
when a saved model matches it (``core.prepare``)."""
from __future__ import annotations

from .. import artifacts, recommended, wording
from ..prepare import Preparation, card_at, register
from ..progress import Phases


@register
class ReidPreparation(Preparation):
    system = "reid"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from . import protocols
        from . import train as T

        if self.preset.settings["method"] in T.FROZEN_METHODS:
            from .. import backbones

            status = backbones.weights_status(settings.weights)
            if not status.ok:            # the best method needs Xception: the best one without it instead
                self.preset = next(p for p in recommended.REID if p.settings["method"] not in T.FROZEN_METHODS)
                self.row.model = self.preset.title
                self.row.expected_s = round(self.preset.estimate_seconds(self.units()), 1)
                self.row.note = " ".join(filter(None, [self.row.note, "No Xception ImageNet weights, so the best "
                                                       "method without them; set the weights file for the best one."]))
        self.split = protocols.parse_split(self.data, None, settings.seed)
        self.stem = settings.models / artifacts.model_name("reid", self.preset.settings["method"], self.data.name,
                                                            self.split.name)
        self.row.path = str(self.stem)

    def units(self) -> int:
        return len(self.data.frame)

    def check(self):
        from . import handcrafted
        from . import train as T

        card = card_at(self.stem)
        if card is None or card.get("kind") != "reid-lomo" or card.get("method") != self.preset.settings["method"] or \
                card.get("data") != str(self.data.root) or card.get("split", {}).get("name") != self.split.name or \
                card.get("descriptor_version") != handcrafted.DESCRIPTOR_VERSION or \
                card.get("config", {}).get("mirror") != T.TrainConfig().mirror or \
                self.split.name not in card.get("metrics", {}):
            return None            # none, or not what the recommended configuration trains today
        return card

    def verify(self):
        from . import train as T

        T.load(self.stem, weights=self.settings.weights)

    def train(self, progress):
        from . import train as T

        cfg = T.TrainConfig(method=self.preset.settings["method"], seed=self.settings.seed, weights=self.settings.weights)
        with artifacts.training_lock("reid", self.settings.models):
            model, _ = T.train_and_save(self.data, self.split, cfg, self.stem, Phases(T.PHASES, progress),
                                        cache_dir=self.settings.cache_dir)
        return model.card

    def headline(self, card):
        return wording.reid_headline(card, self.split.name)
