"""The recommended configuration of each system, and the faster ones, with what they measured.

"Recommended" is the most accurate configuration that trains in about 20 minutes on 2 cores from empty
caches (the product's rule); the others stay one click away on the pages, each labelled with its measured
accuracy and time. No number is written here: each preset says *which* results hold its numbers
(``core.results``: ``bench/results/*.json``, measured on the real datasets on a 2-core machine without a
GPU) and its words are filled in from them, so the pages and ``python -m core prepare`` state what the
benchmarks wrote. Its training time is its row in ``bench/results/presets.json`` (``python -m bench.presets``).

``Preset.estimate_seconds`` turns the measured time into an estimate for another dataset of the same
kind: a fixed overhead, plus the rest of the measured seconds scaled by the number of images (re-ID,
attributes) or ratings (clustering) against the count they were measured on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import results
from .wording import minutes
from .wording import percent as pct


# The benchmarks' numbers as people read them (percent, one decimal): the presets' words and the README's
# tables (bench/report.py) both read them through these.
def reid_rank(protocol: str, method: str, column: str = "Rank-1", name: str = "reid-nondeep") -> str:
    """A re-ID method's ``column`` (Rank-1, mAP...) over a protocol's splits, without re-ranking."""
    return pct(results.value(name, "Summary", column, protocol=protocol, method=method, re_ranking=False))


def attr_ma(name: str, split: str, model: str, column: str = "mA") -> str:
    """An attribute model's ``column`` (mA, ECE...) on a split, from a benchmark's "Results" table."""
    return pct(results.value(name, "Results", column, split=split, model=model))


def over_seeds(name: str, statistic: str = "mean", column: str = "mA") -> str:
    """A benchmark run once per seed: the ``statistic`` (mean, min, max) of ``column`` over its seeds."""
    return pct(results.value(name, "Spread over the seeds", column, statistic=statistic))


def site_mean(name: str, model: str, column: str = "mean mA") -> str:
    """The cross-site protocol's ``column`` (mean or lowest mA over PETA's held-out sites) for ``model``."""
    return pct(results.value(name, "Mean over the held-out subsets", column, model=model))


def _cross_site(name: str, model: str, seeds: bool = False) -> str:
    """The cross-site protocol in words: mean mA over PETA's held-out sites, and the lowest site's."""
    r = results.row(name, "Mean over the held-out subsets", model=model)
    n_seeds = f", {r['seeds']} seeds" if seeds and r.get("seeds", 1) > 1 else ""
    return (f"{pct(r['mean mA'])} on a site never seen in training (mean over PETA's {r['subsets']} sites, each held "
            f"out in turn{n_seeds}; lowest {pct(r['lowest mA'])})")


FUSED = "fused: LOMO + GOG + XQDA and frozen Xception + XQDA"
BEST_128 = "best: + DeepMAR weights + thresholds tuned on validation"
HEADS_VOTES = "best heads + neighbour votes (k and blend chosen on validation)"
FINETUNED = "fine-tuned: exit flow + heads (3 epochs max), image + mirror averaged, neighbour votes"


@dataclass(frozen=True)
class Preset:
    key: str                  # the page's choice / the CLI's name
    system: str               # reid | clustering | attributes
    title: str                # in words, for people
    words: str                # what it measured, with {fields} filled in from the results, and {time}
    fields: dict = field(default_factory=dict)      # field -> () -> text, read from core.results
    settings: dict = field(default_factory=dict)
    overhead: float = 0.0     # seconds whatever the data's size (starting TensorFlow, building networks)
    sites: object = None      # () -> how it did on sites (cameras) never seen in training, in words; None: not measured

    @property
    def timing(self) -> dict:
        """Its row in ``bench/results/presets.json``: seconds, units (the images or ratings), how, date."""
        return results.row("presets", "Training time", preset=self.key)

    @property
    def seconds(self) -> float:
        """Measured training time from empty caches (wall clock, 2 cores)."""
        return float(self.timing["seconds"])

    @property
    def units(self) -> int:
        """The images (or ratings) the time was measured on."""
        return int(self.timing["units"])

    def estimate_seconds(self, units: int) -> float:
        """The time this configuration should take on ``units`` images / ratings on 2 cores."""
        return self.overhead + (self.seconds - self.overhead) * max(units, 1) / max(self.units, 1)

    @property
    def measured(self) -> str:
        """The accuracy and time measured, in words."""
        return self.words.format(time=minutes(self.seconds), **{k: f() for k, f in self.fields.items()})

    @property
    def new_sites(self) -> str:
        """How it did on sites (cameras) never seen in training, in words; "" when not measured."""
        return self.sites() if self.sites is not None else ""

    @property
    def source(self) -> str:
        """The results files its numbers come from."""
        names = sorted({"presets", *self.sources})
        return ", ".join(f"bench/results/{n}.md" for n in names)

    sources: tuple = ()       # results files (names) its fields read


REID = (
    Preset("fused-xqda", "reid", "LOMO + GOG and frozen Xception features, two XQDA metrics fused",
           "Rank-1 {lit} on VIPeR's 10 literature splits, {course} on the course split; trains in {time}; "
           "needs the ImageNet weights",
           {"lit": lambda: reid_rank("literature", FUSED), "course": lambda: reid_rank("course", FUSED)},
           {"method": "fused-xqda"}, overhead=15.0, sources=("reid-nondeep",)),
    Preset("lomo-gog-xqda", "reid", "LOMO + GOG descriptors, one XQDA metric",
           "Rank-1 {lit} on the literature splits, {course} on the course split; trains in {time}",
           {"lit": lambda: reid_rank("literature", "LOMO + GOG + XQDA"),
            "course": lambda: reid_rank("course", "LOMO + GOG + XQDA")},
           {"method": "lomo-gog-xqda"}, sources=("reid-nondeep",)),
    Preset("gog-xqda", "reid", "GOG descriptor with an XQDA metric",
           "Rank-1 {lit} on the literature splits, {course} on the course split; {time}",
           {"lit": lambda: reid_rank("literature", "GOG + XQDA"), "course": lambda: reid_rank("course", "GOG + XQDA")},
           {"method": "gog-xqda"}, sources=("reid-nondeep",)),
    Preset("xception-xqda", "reid", "Frozen Xception middle-flow stripes with an XQDA metric",
           "Rank-1 {lit} on the literature splits, {course} on the course split; {time}; needs the ImageNet weights",
           {"lit": lambda: reid_rank("literature", "frozen Xception + XQDA"),
            "course": lambda: reid_rank("course", "frozen Xception + XQDA")},
           {"method": "xception-xqda"}, overhead=15.0, sources=("reid-nondeep",)),
    Preset("lomo-xqda", "reid", "LOMO colour/texture stripes with an XQDA metric",
           "Rank-1 {lit} on the literature splits, {course} on the course split; {time}",
           {"lit": lambda: reid_rank("literature", "LOMO + XQDA"), "course": lambda: reid_rank("course", "LOMO + XQDA")},
           {"method": "lomo-xqda"}, sources=("reid-nondeep",)),
)


def _sweep() -> dict:
    return results.row("clustering", "Sweep time", setting=SHARE_PROFILE)


def _p10(method: str) -> str:
    best = _sweep()["BIC-best k"]
    return pct(100 * results.value("clustering", "Recommendations", "P@10", method=method, k=best))


CLUSTERING = (
    Preset("share-diag", "clustering", "Share of ratings per genre, diagonal Gaussian mixtures, k = 1 to 25, 5 seeds",
           "BIC-best k = {k} on MovieLens latest-small (each seed's own best: {seed_ks}); the hybrid recommender's "
           "precision at 10 is {hybrid} against {popular} for the most popular films; fitted in {time}",
           {"k": lambda: str(_sweep()["BIC-best k"]),
            "seed_ks": lambda: "{} to {}".format(*bic_k_range()),
            "hybrid": lambda: _p10("hybrid (groups + item-kNN + popularity)"),
            "popular": lambda: _p10("most popular")},
           {"profile": "share", "covariance": "diag", "n_init": 3, "seeds": 5, "k_max": 25}, sources=("clustering",)),
)

ATTRIBUTES = (
    Preset("heads-256-mid", "attributes",
           "Xception at 256 x 128, stripe features of its last and middle layers, 3 heads averaged, neighbour votes",
           "mA {pd} on PETA's person-disjoint split ({pd_seeds} over 3 seeds, {random} on the random image split); "
           "{time} from an empty cache",
           {"pd": lambda: over_seeds("attributes-256x128-mid-ensemble-pd"),
            "pd_seeds": lambda: over_seeds("attributes-256x128-mid-ensemble-pd-seeds"),
            "random": lambda: over_seeds("attributes-256x128-mid-ensemble-random")},
           {"height": 256, "width": 128, "pooling": "stripes-mid", "neighbours": True, "finetune": False,
            "ensemble": 3}, overhead=30.0,
           sites=lambda: _cross_site("attributes-cross-site-mid-ensemble", "heads + neighbour votes", seeds=True),
           sources=("attributes-256x128-mid-ensemble-pd", "attributes-256x128-mid-ensemble-pd-seeds",
                    "attributes-256x128-mid-ensemble-random", "attributes-cross-site-mid-ensemble")),
    Preset("heads-256-mid-one", "attributes",
           "Xception at 256 x 128, stripe features of its last and middle layers, one set of heads, neighbour votes",
           "mA {pd} on PETA's person-disjoint split ({random} on the random image split); {time} from an empty cache",
           {"pd": lambda: attr_ma("attributes-256x128-mid", "person-disjoint", HEADS_VOTES),
            "random": lambda: attr_ma("attributes-256x128-mid", "random-image", HEADS_VOTES)},
           {"height": 256, "width": 128, "pooling": "stripes-mid", "neighbours": True, "finetune": False},
           overhead=30.0, sites=lambda: _cross_site("attributes-cross-site-mid", "heads + neighbour votes"),
           sources=("attributes-256x128-mid", "attributes-cross-site-mid")),
    Preset("finetuned-256", "attributes",
           "Xception at 256 x 128, global + 4 stripe features, exit flow fine-tuned, neighbour votes",
           "mA {pd} on PETA's person-disjoint split ({random} on the random image split); {time} from an empty "
           "cache on a 2-core machine whose Xception ran at 25 images/s",
           {"pd": lambda: attr_ma("attributes-256x128", "person-disjoint", FINETUNED),
            "random": lambda: over_seeds("attributes-256x128-seeds")},
           {"height": 256, "width": 128, "pooling": "stripes", "neighbours": True, "finetune": True}, overhead=60.0,
           sites=lambda: _cross_site("attributes-cross-site-finetuned",
                                     "fine-tuned exit flow (3 epochs max) + neighbour votes"),
           sources=("attributes-256x128", "attributes-256x128-seeds", "attributes-cross-site-finetuned")),
    Preset("heads-256", "attributes", "Xception at 256 x 128, global + 4 stripe features, heads only, neighbour votes",
           "mA {pd} person-disjoint ({random} random images); {time} on the benchmark's machine",
           {"pd": lambda: attr_ma("attributes-256x128", "person-disjoint", HEADS_VOTES),
            "random": lambda: attr_ma("attributes-256x128", "random-image", HEADS_VOTES)},
           {"height": 256, "width": 128, "pooling": "stripes", "neighbours": True, "finetune": False}, overhead=30.0,
           sites=lambda: _cross_site("attributes-cross-site-heads", "heads + neighbour votes"),
           sources=("attributes-256x128", "attributes-cross-site-heads")),
    Preset("heads-128", "attributes", "Xception at 128 x 64, global average features, heads only",
           "mA {pd} person-disjoint ({random} random images); {time} on the benchmark's machine",
           {"pd": lambda: attr_ma("attributes", "person-disjoint", BEST_128),
            "random": lambda: attr_ma("attributes", "random-image", BEST_128)},
           {"height": 128, "width": 64, "pooling": "avg", "neighbours": False, "finetune": False}, overhead=30.0,
           sources=("attributes",)),
)

PRESETS = {"reid": REID, "clustering": CLUSTERING, "attributes": ATTRIBUTES}


def recommended(system: str) -> Preset:
    return PRESETS[system][0]


def by_key(system: str, key: str) -> Preset:
    for p in PRESETS[system]:
        if p.key == key:
            return p
    raise KeyError(f"no {system} preset '{key}'")


def seconds_of(system: str, key: str) -> float | None:
    """A preset's measured training time, None for a setting that is not a preset (or not measured)."""
    try:
        return by_key(system, key).seconds
    except (KeyError, results.ResultsError):
        return None


def labels(system: str) -> dict[str, str]:
    """Preset key -> its label for a page's choice: the title and what it measured, the recommended one
    first and said to be."""
    return {p.key: f"{'Recommended: ' if i == 0 else ''}{p.title} ({p.measured}{'; ' * bool(p.new_sites)}"
                   f"{p.new_sites})" for i, p in enumerate(PRESETS[system])}


def matching(system: str, settings: dict | None) -> Preset | None:
    """The preset of ``system`` with exactly these settings, or None (a custom configuration)."""
    return next((p for p in PRESETS[system] if settings is not None and p.settings == settings), None)


COURSE_PROFILE = "course (mean, 0-filled, standardised), diag, 1 thread"
SHARE_PROFILE = "share, diag (default), 1 BLAS thread per fit"


def bic_k_range(setting: str = SHARE_PROFILE) -> tuple[int, int]:
    """The lowest and highest BIC-best k over the clustering benchmark's seeds for a profile ``setting``
    (``SHARE_PROFILE``, ``COURSE_PROFILE``) on MovieLens latest-small."""
    ks = [int(k) for k in results.value("clustering", "Sweep time", "per-seed minima", setting=setting).split()]
    return min(ks), max(ks)


def _deep(name: str, method: str, protocol: str) -> dict:
    return results.row(name, "Summary", protocol=protocol, method=method, re_ranking=False)


def reid_method_labels() -> dict[str, str]:
    """The re-ID methods that are not presets, labelled for the page's choice with what the benchmarks
    measured (the networks' Rank-1 and training time on one split: ``reid.md``, ``reid-extra.md``,
    ``reid-bnneck.md``)."""
    course, course_lit = _deep("reid", "course network", "course"), _deep("reid", "course network", "literature")
    stripes = _deep("reid-extra", "Xception stripes + PETA identities", "literature")
    bnneck = _deep("reid-bnneck", "strong baseline: Xception exit flow fine-tuned (BNNeck, last stride 1)", "literature")
    return {
        "lomo-euclidean": "LOMO stripes with plain Euclidean distance (nothing learned; a reference)",
        "lomo-cosine": "LOMO stripes with plain cosine distance (nothing learned; a reference)",
        "course": f"Course network: small CNN, triplet loss (Rank-1 {pct(course['Rank-1'])} on VIPeR's course split, "
                  f"{pct(course_lit['Rank-1'])} on a literature split; {minutes(course['train s'])})",
        "xception": f"Fine-tuned Xception stripes, batch-hard + identity loss (Rank-1 {pct(stripes['Rank-1'])} on one "
                    f"VIPeR literature split; {minutes(stripes['train s'])}; needs the ImageNet weights)",
        "xception-bnneck": "Strong baseline: Xception's exit flow fine-tuned with BNNeck, last stride 1, label "
                           f"smoothing and warm-up (Rank-1 {pct(bnneck['Rank-1'])} on {bnneck['splits']} VIPeR "
                           f"literature splits: it overfits 316 persons; {minutes(bnneck['train s'])} a split; needs "
                           "the ImageNet weights)"}
