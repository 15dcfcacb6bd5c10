"""The recommended configuration of each system, and the faster ones, with what they measured.

"Recommended" is the most accurate configuration that trains in about 20 minutes on 2 cores from empty
caches (the product's rule); the others stay one click away on the pages, each labelled with its measured
accuracy and time. Every number here is copied from a results table under ``bench/results/`` (named in
``source``), measured on the real datasets on a 2-core machine without a GPU; the pages and
``python -m core prepare`` show them as they are.

``Preset.estimate_seconds`` turns the measured time into an estimate for another dataset of the same
kind: a fixed overhead, plus the rest of the measured seconds scaled by the number of images (re-ID,
attributes) or ratings (clustering) against the count they were measured on.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    key: str                  # the page's choice / the CLI's name
    system: str               # reid | clustering | attributes
    title: str                # in words, for people
    measured: str             # the accuracy and time measured, in words
    seconds: float            # measured training time from empty caches (wall clock, 2 cores)
    units: int                # images (or ratings) the time was measured on
    source: str               # the results table
    settings: dict = field(default_factory=dict)
    overhead: float = 0.0     # seconds whatever the data's size (starting TensorFlow, building networks)
    new_sites: str = ""       # how it did on sites (cameras) never seen in training, in words; "" = not measured

    def estimate_seconds(self, units: int) -> float:
        """The time this configuration should take on ``units`` images / ratings on 2 cores."""
        return self.overhead + (self.seconds - self.overhead) * max(units, 1) / max(self.units, 1)


VIPER_IMAGES = 1264
PETA_IMAGES = 14437          # the images of the PETA release the benchmarks ran on
ML_SMALL_RATINGS = 100836

REID = (
    Preset("fused-xqda", "reid", "LOMO + GOG and frozen Xception features, two XQDA metrics fused",
           "Rank-1 54.0 % on VIPeR's 10 literature splits, 35.3 % on the course split; trains in 3.5 to 4.5 "
           "minutes; needs the ImageNet weights",
           # from empty caches on 2026-12-05, VIPeR's 1,264 images: 206 s alone (core prepare --systems reid),
           # 278 s as the first step of make models (bench/results/prepare.md); the larger is the estimate
           278.0, VIPER_IMAGES, "bench/results/reid-nondeep.md", {"method": "fused-xqda"}, overhead=15.0),
    Preset("lomo-gog-xqda", "reid", "LOMO + GOG descriptors, one XQDA metric",
           "Rank-1 50.1 % on the literature splits, 32.0 % on the course split; trains in about 1.5 minutes",
           # python -m core.reid train from empty caches on 2026-12-05: 79 s wall clock (descriptors of the
           # training images and their mirrors, XQDA, test)
           79.0, VIPER_IMAGES, "bench/results/reid-nondeep.md", {"method": "lomo-gog-xqda"}),
    Preset("gog-xqda", "reid", "GOG descriptor with an XQDA metric",
           "Rank-1 47.4 % on the literature splits, 35.3 % on the course split; about 1 minute",
           # python -m core.reid train from empty caches on 2026-12-05: 71 s wall clock
           71.0, VIPER_IMAGES, "bench/results/reid-nondeep.md", {"method": "gog-xqda"}),
    Preset("xception-xqda", "reid", "Frozen Xception middle-flow stripes with an XQDA metric",
           "Rank-1 30.2 % on the literature splits, 22.0 % on the course split; about 2 minutes; needs the "
           "ImageNet weights",
           # python -m core.reid train from empty caches on 2026-12-04: 107 s wall clock
           107.0, VIPER_IMAGES, "bench/results/reid-nondeep.md", {"method": "xception-xqda"}, overhead=15.0),
    Preset("lomo-xqda", "reid", "LOMO colour/texture stripes with an XQDA metric",
           "Rank-1 37.7 % on the literature splits, 11.3 % on the course split; about 25 seconds",
           # python -m core.reid train from empty caches on 2026-12-05: 24 s wall clock
           24.0, VIPER_IMAGES, "bench/results/reid-nondeep.md", {"method": "lomo-xqda"}),
)

CLUSTERING = (
    Preset("share-diag", "clustering", "Share of ratings per genre, diagonal Gaussian mixtures, k = 1 to 25, 5 seeds",
           "BIC-best k = 9 on MovieLens latest-small (each seed's own best: 8 to 10); the hybrid recommender's "
           "precision at 10 is 8.8 % against 5.8 % for the most popular films; fitted in about 15 seconds",
           14.0, ML_SMALL_RATINGS, "bench/results/clustering.md",
           {"profile": "share", "covariance": "diag", "n_init": 3, "seeds": 5, "k_max": 25}),
)

ATTRIBUTES = (
    Preset("heads-256-mid", "attributes",
           "Xception at 256 x 128, stripe features of its last and middle layers, 3 heads averaged, neighbour votes",
           "mA 69.2 % on PETA's person-disjoint split (69.5 % over 3 seeds, 85.5 % on the random image split); "
           "about 16 minutes from an empty cache",
           # python -m core prepare --systems attributes --data-dir ../shared/data from empty caches on
           # 2026-12-05: 971 s wall clock (16 min 12 s) end to end, mA 69.2 % person-disjoint, peak 5.4 GB
           971.0, PETA_IMAGES, "bench/results/attributes-256x128-mid-ensemble-pd.md, "
           "bench/results/attributes-256x128-mid-ensemble-pd-seeds.md, "
           "bench/results/attributes-256x128-mid-ensemble-random.md",
           {"height": 256, "width": 128, "pooling": "stripes-mid", "neighbours": True, "finetune": False,
            "ensemble": 3}, overhead=30.0,
           # bench/results/attributes-cross-site-mid-ensemble.md: seeds 0 and 1 (61.0, 61.5 %)
           new_sites="61.2 % on a site never seen in training (mean over PETA's 9 sites, each held out in turn, "
                     "2 seeds; lowest 58.9 %)"),
    Preset("heads-256-mid-one", "attributes",
           "Xception at 256 x 128, stripe features of its last and middle layers, one set of heads, neighbour votes",
           "mA 68.3 % on PETA's person-disjoint split (84.9 % on the random image split); about 14 minutes from "
           "an empty cache",
           # make models from empty caches on 2026-12-05 (bench/results/prepare.md): 832 s for PETA's 14,436
           # images, end to end (features, heads, neighbour votes, test); bench/results/attributes-256x128-mid.md
           # timed its two phases apart: features 570 s (26.9 images/s), heads + votes 81 s
           832.0, PETA_IMAGES, "bench/results/attributes-256x128-mid.md, bench/results/prepare.md",
           {"height": 256, "width": 128, "pooling": "stripes-mid", "neighbours": True, "finetune": False},
           overhead=30.0,
           # bench/results/attributes-cross-site-mid.md
           new_sites="59.9 % on a site never seen in training (mean over PETA's 9 sites, each held out in turn; "
                     "lowest 56.8 %)"),
    Preset("finetuned-256", "attributes",
           "Xception at 256 x 128, global + 4 stripe features, exit flow fine-tuned, neighbour votes",
           "mA 66.6 % on PETA's person-disjoint split (82.0 % on the random image split); 16 to 28 minutes from "
           "an empty cache, depending on the machine",
           # make models on 2026-12-04 (bench/results/prepare.md): 1,649 s for PETA's 14,436 images on a 2-core
           # machine whose Xception ran at 25 images/s; 970 s on the benchmark's machine (45 images/s).
           1650.0, PETA_IMAGES, "bench/results/attributes-256x128.md, bench/results/prepare.md",
           {"height": 256, "width": 128, "pooling": "stripes", "neighbours": True, "finetune": True}, overhead=60.0,
           # bench/results/attributes-cross-site-finetuned.md, the fine-tuned rows
           new_sites="59.3 % on a site never seen in training (mean over PETA's 9 sites, each held out in turn; "
                     "lowest 56.7 %)"),
    Preset("heads-256", "attributes", "Xception at 256 x 128, global + 4 stripe features, heads only, neighbour votes",
           "mA 65.4 % person-disjoint (79.8 % random images); about 6 minutes on the benchmark's machine",
           360.0, PETA_IMAGES, "bench/results/attributes-256x128.md",
           {"height": 256, "width": 128, "pooling": "stripes", "neighbours": True, "finetune": False}, overhead=30.0,
           # bench/results/attributes-cross-site-heads.md, row "heads + neighbour votes"
           new_sites="58.4 % on a site never seen in training (mean over PETA's 9 sites, each held out in turn; "
                     "lowest 55.4 %)"),
    Preset("heads-128", "attributes", "Xception at 128 x 64, global average features, heads only",
           "mA 62.5 % person-disjoint (72.6 % random images); about 4 minutes on the benchmark's machine",
           215.0, PETA_IMAGES, "bench/results/attributes.md",
           {"height": 128, "width": 64, "pooling": "avg", "neighbours": False, "finetune": False}, overhead=30.0),
)

PRESETS = {"reid": REID, "clustering": CLUSTERING, "attributes": ATTRIBUTES}


def recommended(system: str) -> Preset:
    return PRESETS[system][0]


def by_key(system: str, key: str) -> Preset:
    for p in PRESETS[system]:
        if p.key == key:
            return p
    raise KeyError(f"no {system} preset '{key}'")


def labels(system: str) -> dict[str, str]:
    """Preset key -> its label for a page's choice: the title and what it measured, the recommended one
    first and said to be."""
    return {p.key: f"{'Recommended: ' if i == 0 else ''}{p.title} ({p.measured}{'; ' * bool(p.new_sites)}"
                   f"{p.new_sites})" for i, p in enumerate(PRESETS[system])}


def matching(system: str, settings: dict | None) -> Preset | None:
    """The preset of ``system`` with exactly these settings, or None (a custom configuration)."""
    return next((p for p in PRESETS[system] if settings is not None and p.settings == settings), None)


def minutes(seconds: float) -> str:
    """A duration for people: "about 40 seconds", "about 3 minutes", "about 1 hour 10 minutes"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    m = round(seconds / 60)
    if m < 60:
        return f"about {m} minute{'s' if m != 1 else ''}"
    h, m = divmod(m, 60)
    return f"about {h} hour{'s' if h != 1 else ''}" + (f" {m} minutes" if m else "")
