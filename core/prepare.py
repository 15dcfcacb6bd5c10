"""Prepare the recommended model of every system on a data folder in one go, and say what is ready.

``python -m core prepare`` (``make models``), the home page's button and its dashboard all come here::

    rows = prepare.status(data_dir)            # what is ready, without training anything
    rows = prepare.run(data_dir, progress=cb)  # train what is missing, keep what exists and matches

Per system: the first dataset of its kind in the data folder (the demo data when the folder has none,
said in the row), the recommended configuration (``core.recommended``) on the dataset's default split,
saved under the model folder where the pages find it. A model that exists, loads and matches the data,
split and configuration is kept; each model is saved atomically the moment it is done, so an
interrupted run loses nothing finished and a second run resumes with what is missing (the attribute
model's backbone maps are cached on disk as they are computed, so even its half is kept).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import artifacts, config, recommended
from .errors import StudioError

SYSTEMS = ("reid", "clustering", "attributes")
TITLES = {"reid": "Re-identification", "clustering": "Clustering & recommendations", "attributes": "Attributes"}
KINDS = {"reid": "reid", "clustering": "ratings", "attributes": "attributes"}
LOG = "prepare.json"                    # in the model folder: how long each model took here
CLUSTERING_KIND = "clustering-summary"


@dataclass
class Row:
    """One system's state, in words for people (the CLI's table, the home page's dashboard)."""

    system: str
    title: str
    dataset: str = ""          # the data in use, in words
    model: str = ""            # the recommended configuration, in words
    path: str = ""             # the saved model (stem) or sweep folder
    state: str = "missing"     # ready | missing | failed
    headline: str = ""         # the honest headline number, with its split, in a sentence
    metric: str = ""           # that number's name, short ("Rank-1")
    value: str = ""            # and its value ("27.3 %")
    seconds: float | None = None       # how long it took on this machine (when known)
    expected_s: float | None = None    # estimate for this data on 2 cores
    note: str = ""             # a data folder without this kind, a missing weights file, an error

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Settings:
    data_dir: str | None = None
    cache_dir: str | None = None
    model_dir: str | None = None
    weights: str | None = None
    seed: int = 0

    @property
    def models(self) -> Path:
        return config.model_dir(self.model_dir)


# ----------------------------------------------------------------------------------------- per system
class _System:
    system = ""

    def __init__(self, settings: Settings, loaded=None):
        from .datasets import catalog

        self.settings = settings
        if loaded is None:
            self.source = catalog.resolve(KINDS[self.system], settings.data_dir, settings.cache_dir, settings.seed)
            self.data = catalog.load(self.source)
        else:
            self.source, self.data = loaded
        self.preset = recommended.recommended(self.system)
        self.row = Row(self.system, TITLES[self.system], dataset=self._dataset_words(), model=self.preset.title,
                       note=self.source.note or "")
        self.row.expected_s = round(self.preset.estimate_seconds(self.units()), 1)

    def _dataset_words(self) -> str:
        return "the built-in demo data" if self.source.is_demo else f"{self.source.label} ({self.source.layout_title})"

    def units(self) -> int:
        raise NotImplementedError

    def check(self) -> dict | None:
        """The saved model's card when it exists and matches, else None (cheap: no model is loaded)."""
        raise NotImplementedError

    def verify(self) -> None:
        """Load the saved model (ArtifactError when it is corrupt)."""

    def train(self, progress) -> dict:
        raise NotImplementedError

    def headline(self, card: dict) -> tuple[str, str, str]:
        """(metric, value, sentence) for people."""
        raise NotImplementedError

    def fill(self, card: dict | None) -> Row:
        if card is not None:
            self.row.state = "ready"
            self.row.metric, self.row.value, self.row.headline = self.headline(card)
        return self.row


class _Reid(_System):
    system = "reid"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from .reid import protocols
        from .reid import train as T

        if self.preset.settings["method"] in T.FROZEN_METHODS:
            from . import backbones

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
        from .reid import handcrafted
        from .reid import train as T

        card = _card(self.stem)
        if card is None or card.get("kind") != "reid-lomo" or card.get("method") != self.preset.settings["method"] or \
                card.get("data") != str(self.data.root) or card.get("split", {}).get("name") != self.split.name or \
                card.get("descriptor_version") != handcrafted.DESCRIPTOR_VERSION or \
                card.get("config", {}).get("mirror") != T.TrainConfig().mirror or \
                self.split.name not in card.get("metrics", {}):
            return None            # none, or not what the recommended configuration trains today
        return card

    def verify(self):
        from .reid import train as T

        T.load(self.stem, weights=self.settings.weights)

    def train(self, progress):
        from .reid import train as T

        progress = phased(progress, (("test images", 0.85, 1.0), ("features (", 0.0, 0.6),
                                     ("cross-validation", 0.6, 0.85)))
        cfg = T.TrainConfig(method=self.preset.settings["method"], seed=self.settings.seed, weights=self.settings.weights)
        with artifacts.training_lock("reid", self.settings.models):
            model, _ = T.train_and_save(self.data, self.split, cfg, self.stem, lambda f, text, *_: progress(f, text),
                                        cache_dir=self.settings.cache_dir)
        return model.card

    def headline(self, card):
        m = card["metrics"][self.split.name]
        return ("Rank-1", pct(m["Rank-1"]),
                f"The right person is the first match for {pct(m['Rank-1'])} of the test persons "
                f"(mAP {pct(m['mAP'])}; {self.split.name} split, {card['split'].get('test_ids', '?')} test persons).")


class _Clustering(_System):
    system = "clustering"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from .clustering import pipeline
        from .clustering.features import user_profiles

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
        from .clustering import pipeline

        card = _card(self.stem)
        if card is None or card.get("kind") != CLUSTERING_KIND or card.get("sweep") != self.folder.name or \
                pipeline.load_sweep(self.folder) is None:
            return None
        return card

    def train(self, progress):
        from .clustering import pipeline

        start = time.perf_counter()
        with artifacts.training_lock("clustering", self.settings.models):
            sweep = pipeline.load_sweep(self.folder)
            if sweep is None:
                sweep = pipeline.run_sweep(self.profiles, self.folder, self.ks, self.seeds, self.gmm,
                                           progress=lambda f, t: progress(0.5 * f, f"fitting {t}"))
            progress(0.5, f"recommendations for k = {sweep.best_k}: temporal hold-out against the baselines")
            table = pipeline.evaluate_k(self.data, sweep.best_k, self.spec, self.gmm, self.settings.seed)
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
        m = card.get("metrics", {})
        hybrid = next((v for k, v in m.items() if k.startswith("hybrid")), None)
        popular = m.get("most popular")
        words = f"{card['best_k']} taste groups (lowest BIC; {pct(card['agreement'], 0)} of seeds agree)."
        if hybrid and popular:
            words += (f" Of the 10 films recommended to each user, {pct(hybrid['P@10'])} were later rated 4 stars "
                      f"or more, against {pct(popular['P@10'])} for the most popular films (each user's latest "
                      "20 % of ratings held out).")
            return "Good picks in the top 10", pct(hybrid["P@10"]), words
        return "Taste groups", str(card["best_k"]), words


class _Attributes(_System):
    system = "attributes"

    def __init__(self, settings, loaded=None):
        super().__init__(settings, loaded)
        from .attributes import train as A

        split = "published" if "part" in self.data.frame.columns else "person-disjoint"
        self.cfg, self.epochs = A.preset_config(self.preset.settings, split, settings.seed, settings.weights)
        self.stem = settings.models / artifacts.model_name("attr", self.cfg.model_tag(self.epochs > 0), self.data.name,
                                                            split)
        self.row.path = str(self.stem)

    def units(self) -> int:
        return len(self.data.frame)

    def check(self):
        from .attributes import train as A

        card = _card(self.stem)
        want = {k: v for k, v in asdict(self.cfg).items() if k != "weights"}
        have = {k: v for k, v in A.card_config(card or {}).items() if k != "weights"}
        if card is None or card.get("kind") != A.KIND or card.get("data") != str(self.data.root) or have != want or \
                (card.get("input") == "image") != bool(self.epochs) or not card.get("metrics"):
            return None
        return card

    def verify(self):
        from .attributes import train as A

        A.load(self.stem)

    def train(self, progress):
        from . import backbones
        from .attributes import train as A

        status = backbones.weights_status(self.settings.weights)
        if not status.ok:
            raise backbones.WeightsError(status.message)
        progress = phased(progress, (("frozen layers, every image", 0.0, 0.35), ("frozen layers, mirror", 0.35, 0.7),
                                     ("heads", 0.7, 0.75), ("fine-tuning", 0.75, 0.95), ("neighbour votes", 0.95, 1.0))
                          if self.epochs else   # heads only: the features of every image, the heads, the votes
                          (("neighbour votes", 0.95, 1.0), ("epoch", 0.85, 0.95), ("", 0.0, 0.85)))
        with artifacts.training_lock("attributes", self.settings.models):
            model, _ = A.train_and_save(self.data, self.cfg, self.stem, self.epochs, progress=progress,
                                        cache_dir=self.settings.cache_dir)
        return model.card

    def headline(self, card):
        from .attributes import train as A

        name, m = next(iter(card["metrics"].items()))
        elsewhere = A.new_site_words(card)
        elsewhere = f" On cameras it never saw, the benchmark measured {elsewhere}." if elsewhere else ""
        return ("mA", pct(m["mA"]),
                f"Mean accuracy over the attributes, balanced between yes and no, is {pct(m['mA'])} "
                f"({name} split, {card.get('split', {}).get('test', '?')} test images; 50 % is chance).{elsewhere}")


CLASSES = {"reid": _Reid, "clustering": _Clustering, "attributes": _Attributes}


def phased(progress, phases):
    """A progress callback for work reported in phases that each run from 0 to 1: ``phases`` maps the
    texts that start with a prefix to their share ``(prefix, start, end)`` of the whole; a text of no
    listed phase leaves the bar where it is, so one bar moves forward only."""
    state = {"at": 0.0}

    def update(fraction, text="", *_):
        for prefix, start, end in phases:
            if text.startswith(prefix):
                state["at"] = max(state["at"], start + (end - start) * min(1.0, fraction))
                break
        progress(state["at"], text)
    return update


def pct(fraction: float, digits: int = 1) -> str:
    return f"{fraction * 100:.{digits}f} %"


def _card(stem: Path) -> dict | None:
    try:
        return artifacts.read_card(stem)
    except StudioError:
        return None


def _log(settings: Settings) -> dict:
    path = settings.models / LOG
    try:
        import json

        log = json.loads(path.read_text())
        return log if isinstance(log, dict) else {}
    except (OSError, ValueError):
        return {}


def _open(system: str, settings: Settings, loaded: dict | None = None) -> _System | Row:
    try:
        return CLASSES[system](settings, (loaded or {}).get(KINDS[system]))
    except StudioError as exc:
        return Row(system, TITLES[system], state="failed", note=str(exc))


# ----------------------------------------------------------------------------------------- entry points
def status(settings: Settings | None = None, systems=SYSTEMS, loaded: dict | None = None) -> list[Row]:
    """What is ready for each system, without training or loading a model. ``loaded``: datasets the
    caller has loaded already, ``{kind: (source, data)}`` (the app's cached ones)."""
    settings = settings or Settings()
    log = _log(settings)
    rows = []
    for system in systems:
        s = _open(system, settings, loaded)
        if isinstance(s, Row):
            rows.append(s)
            continue
        row = s.fill(s.check())
        row.seconds = log.get(row.path, {}).get("seconds")
        rows.append(row)
    return rows


def run(settings: Settings | None = None, systems=SYSTEMS, force: bool = False, progress=None,
        loaded: dict | None = None) -> list[Row]:
    """Train each system's recommended model where none exists that matches (all of them with ``force``);
    ``progress(fraction, text)`` covers the whole run, weighted by each system's expected time. A system
    that fails (no weights, unreadable data) is reported in its row; the others still run."""
    settings = settings or Settings()
    log = _log(settings)                    # the times of the models kept (those trained now are timed here)
    opened = [_open(system, settings, loaded) for system in systems]
    weights = [max(1.0, s.row.expected_s or 1.0) if not isinstance(s, Row) else 0.0 for s in opened]
    total, done = sum(weights) or 1.0, 0.0
    rows = []
    for s, weight in zip(opened, weights):
        if isinstance(s, Row):
            rows.append(s)
            continue
        title = s.row.title

        def step(fraction, text="", _done=done, _weight=weight, _title=title):
            if progress is not None:
                progress(min(1.0, (_done + _weight * min(1.0, fraction)) / total), f"{_title}: {text}")

        card = None if force else s.check()
        if card is not None:
            try:
                s.verify()
            except StudioError as exc:
                s.row.note = f"the saved model was unreadable ({exc}); trained again"
                card = None
        if card is not None:
            step(1.0, "kept the saved model")
            row = s.fill(card)
            row.seconds = log.get(row.path, {}).get("seconds")
        else:
            start = time.perf_counter()
            try:
                card = s.train(step)
            except StudioError as exc:
                s.row.state, s.row.note = "failed", str(exc)
                rows.append(s.row)
                done += weight
                continue
            row = s.fill(card)
            row.seconds = round(time.perf_counter() - start, 1)
            _record(settings, row)
        rows.append(row)
        done += weight
    if progress is not None:
        progress(1.0, "done")
    return rows


def _record(settings: Settings, row: Row) -> None:
    log = _log(settings)
    log[row.path] = {"system": row.system, "seconds": row.seconds, "date": artifacts.now(),
                     "machine": artifacts.machine()}
    artifacts.atomic_write_json(settings.models / LOG, log)


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table for the terminal."""
    head = ("system", "state", "result", "time", "model", "data", "in words")
    lines = [head]
    for r in rows:
        took = recommended.minutes(r.seconds) if r.seconds is not None else (
            f"expect {recommended.minutes(r.expected_s)}" if r.expected_s and r.state != "ready" else "")
        lines.append((r.title, r.state, f"{r.metric} {r.value}".strip(), took, r.model, r.dataset,
                      r.headline or r.note))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    notes = [f"{r.title}: {r.note}" for r in rows if r.note]
    return "\n".join(out + ([""] + notes if notes else []))
