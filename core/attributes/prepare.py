"""``core prepare``'s attribute part: the preset's heads (or fine-tuned network) on the dataset's own
split where it has one, else person-disjoint, kept when a saved model matches (``core.prepare``)."""
from __future__ import annotations

from dataclasses import asdict

from .. import artifacts, wording
from ..prepare import Preparation, card_at, register
from ..progress import Phases


@register
class AttributesPreparation(Preparation):
    system = "attributes"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from . import train as A

        split = "published" if "part" in self.data.frame.columns else "person-disjoint"
        self.cfg, self.epochs = A.preset_config(self.preset.settings, split, settings.seed, settings.weights)
        self.stem = settings.models / artifacts.model_name("attr", self.cfg.model_tag(self.epochs > 0), self.data.name,
                                                            split)
        self.row.path = str(self.stem)

    def units(self) -> int:
        return len(self.data.frame)

    def check(self):
        from . import train as A

        card = card_at(self.stem)
        want = {k: v for k, v in asdict(self.cfg).items() if k != "weights"}
        have = {k: v for k, v in A.card_config(card or {}).items() if k != "weights"}
        if card is None or card.get("kind") != A.KIND or card.get("data") != str(self.data.root) or have != want or \
                (card.get("input") == "image") != bool(self.epochs) or not card.get("metrics"):
            return None
        return card

    def verify(self):
        from . import train as A

        A.load(self.stem)

    def train(self, progress):
        from .. import backbones
        from . import train as A

        status = backbones.weights_status(self.settings.weights)
        if not status.ok:
            raise backbones.WeightsError(status.message)
        phases = Phases(A.phases(self.epochs > 0), progress)
        with artifacts.training_lock("attributes", self.settings.models):
            model, _ = A.train_and_save(self.data, self.cfg, self.stem, self.epochs, progress=phases,
                                        cache_dir=self.settings.cache_dir)
        return model.card

    def headline(self, card):
        from . import train as A

        return wording.attributes_headline(card, A.new_site_words(card))
