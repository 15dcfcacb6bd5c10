"""``core prepare``'s clustering part: the BIC sweep of the preset's profiles and mixtures, and the
recommender's evaluation at the BIC-best k, kept as a summary card beside the models (``core.prepare``)."""
from __future__ import annotations

import time
from pathlib import Path

from .. import artifacts, config, wording
from ..prepare import CLUSTERING_KIND, Preparation, card_at, register
from ..progress import Phases


@register
class ClusteringPreparation(Preparation):
    system = "clustering"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from . import pipeline
        from .features import user_profiles

        ml = self.data
        self.spec, self.gmm = pipeline.RECOMMENDED_PROFILE, pipeline.RECOMMENDED_GMM
        self.profiles = user_profiles(ml.ratings, ml.movies, self.spec)
        self.ks = pipeline.k_range(len(self.profiles.users))
        self.seeds = pipeline.DEFAULT_SEEDS
        self.folder = pipeline.sweep_folder(config.cache_dir(settings.cache_dir), self.profiles, self.ks, self.seeds,
                                            self.gmm)
        self.stem = settings.models / artifacts.model_name("clustering", self.preset.key, self.source.name or "demo",
                                                            "temporal")
        self.row.path = str(self.folder)

    def units(self) -> int:
        return len(self.data.ratings)

    def check(self):
        from . import pipeline

        card = card_at(self.stem)
        if card is None or card.get("kind") != CLUSTERING_KIND or card.get("sweep") != self.folder.name or \
                pipeline.load_sweep(self.folder) is None or \
                any(pipeline.hybrid_weights(self.folder, k) is None for k in self.ks):
            return None                # (prepared before the recommender was kept for every k: again)
        return card

    def train(self, progress):
        from . import pipeline

        start = time.perf_counter()
        with artifacts.training_lock("clustering", self.settings.models):
            sweep = pipeline.load_sweep(self.folder)
            if sweep is None:
                sweep = pipeline.run_sweep(self.profiles, self.folder, self.ks, self.seeds, self.gmm,
                                           progress=Phases({"fits": (0.0, 0.5)}, progress, "fitting "))
            progress(0.5, f"recommendations for k = {sweep.best_k}: temporal hold-out against the baselines")
            table = pipeline.evaluate_k(self.data, sweep.best_k, self.spec, self.gmm, self.settings.seed)
            # the recommender's weights for every k the slider reaches (item similarities computed once)
            pipeline.prepare_hybrids(self.data, self.folder, self.ks, self.profiles,
                                     progress=Phases({"recommender": (0.7, 1.0)}, progress))
            card = {"data": str(self.source.path), "dataset": self.source.name, "sweep": self.folder.name,
                    "best_k": sweep.best_k, "per_seed": sweep.best_k_per_seed, "agreement": sweep.agreement,
                    "users": len(self.profiles.users), "ratings": len(self.data.ratings),
                    "metrics": {r["method"]: {c: float(r[c]) for c in ("P@10", "R@10", "NDCG@10", "coverage")}
                                for r in table.to_dict(orient="records")},
                    "train_seconds": round(time.perf_counter() - start, 1), "date": artifacts.now()}
            artifacts.atomic_write_json(Path(str(self.stem) + ".json"),
                                        {**card, "kind": CLUSTERING_KIND, "saved": artifacts.now()})
        progress(1.0, "done")
        return card

    def headline(self, card):
        return wording.clustering_headline(card)
