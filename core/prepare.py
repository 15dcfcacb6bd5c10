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

from . import artifacts, config, recommended, wording
from .errors import StudioError
from .progress import emit

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
    presets: str | None = None     # "system=preset,..." where not the recommended ones (else $STUDIO_PRESETS)

    @property
    def models(self) -> Path:
        return config.model_dir(self.model_dir)

    def preset(self, system: str) -> recommended.Preset:
        """The preset prepared for ``system``: the one these settings name, else the recommended one."""
        chosen = config.presets(self.presets)
        unknown = set(chosen) - set(SYSTEMS)
        if unknown:
            raise StudioError(f"presets: no system '{sorted(unknown)[0]}' ({', '.join(SYSTEMS)})")
        if system not in chosen:
            return recommended.recommended(system)
        try:
            return recommended.by_key(system, chosen[system])
        except KeyError:
            keys = ", ".join(p.key for p in recommended.PRESETS[system])
            raise StudioError(f"presets: {system} has no preset '{chosen[system]}' ({keys})") from None


# ----------------------------------------------------------------------------------------- per system
class Preparation:
    """One system's part of ``run`` / ``status``: its data, preset, saved model and how to train it. The
    subclasses live in each system's package (``core/<system>/prepare.py``) and ``register`` themselves."""

    system = ""

    def __init__(self, settings: Settings, loaded=None):
        from .datasets import catalog

        self.settings = settings
        if loaded is None:
            self.source = catalog.resolve(KINDS[self.system], settings.data_dir, settings.cache_dir, settings.seed)
            self.data = catalog.load(self.source)
        else:
            self.source, self.data = loaded
        self.preset = settings.preset(self.system)
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
        """Train and save the chosen preset's model; ``progress(fraction, text)`` is this system's part of the
        run's one bar (``progress.Phases`` turns a training's events into it)."""
        raise NotImplementedError

    def headline(self, card: dict) -> tuple[str, str, str]:
        """(metric, value, sentence) for people."""
        raise NotImplementedError

    def fill(self, card: dict | None) -> Row:
        if card is not None:
            self.row.state = "ready"
            self.row.metric, self.row.value, self.row.headline = self.headline(card)
        return self.row




_ADAPTERS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: ``cls`` is how ``run`` and ``status`` prepare its ``system``."""
    _ADAPTERS[cls.system] = cls
    return cls


def adapter(system: str) -> type:
    """The ``Preparation`` of ``system``, from its package's ``prepare`` module (imported when first asked)."""
    if system not in _ADAPTERS:
        import importlib

        importlib.import_module(f"{__package__}.{system}.prepare")
    return _ADAPTERS[system]


def card_at(stem: Path) -> dict | None:
    """The card saved at ``stem``, or None where there is none or it cannot be read."""
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


def _open(system: str, settings: Settings, loaded: dict | None = None) -> Preparation | Row:
    try:
        return adapter(system)(settings, (loaded or {}).get(KINDS[system]))
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
    ``progress`` hears ``core.progress`` events whose phase is the system under way and whose fraction
    covers the whole run, each system weighted by its expected time. A system that fails (no weights,
    unreadable data) is reported in its row; the others still run."""
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

        def step(fraction, text="", _done=done, _weight=weight, _title=title, _system=s.system):
            emit(progress, _system, min(total, _done + _weight * min(1.0, fraction)), total, f"{_title}: {text}")

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
    emit(progress, "done", 1, 1, "done")
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
        took = wording.minutes(r.seconds) if r.seconds is not None else (
            f"expect {wording.minutes(r.expected_s)}" if r.expected_s and r.state != "ready" else "")
        lines.append((r.title, r.state, f"{r.metric} {r.value}".strip(), took, r.model, r.dataset,
                      r.headline or r.note))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    notes = [f"{r.title}: {r.note}" for r in rows if r.note]
    return "\n".join(out + ([""] + notes if notes else []))
