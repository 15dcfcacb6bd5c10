"""Which data is in use: datasets found by content in the user's data folder, else the embedded demo.

A data folder may hold any number of datasets of the three kinds (``reid``, ``ratings``,
``attributes``), under any folder names, up to three levels deep. :func:`discover` walks it and asks
every layout in :mod:`.layouts` about each folder; a folder a layout recognises is a dataset (its
subfolders are not searched further), named by its path inside the data folder (``VIPeR``,
``more/prid_2011``). A folder no layout claims is searched further, and its CSV files are asked
whether they are generic ratings or attribute tables.

:func:`resolve` picks one dataset of a kind: the one named (``--dataset NAME``, a page's select box),
else the first found, else the demo (with a note when a data folder is set but holds none of that kind).
:func:`load` reads it and checks it is not nonsense (:func:`check`): a layout that yields fewer than
two identities, cameras that share no identity, attributes equal on every image, or ratings from one
user is an error naming the folder, never a dataset.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config
from ..errors import DataError, StudioError
from . import demo, layouts

KINDS = ("reid", "ratings", "attributes")
DEMO_FOLDERS = {"reid": "VIPeR", "ratings": "ml-latest-small", "attributes": "PETA"}
TITLES = {"reid": "Re-identification images", "ratings": "Movie ratings", "attributes": "Pedestrian attributes"}
DEMO = "demo"
MAX_DEPTH = 3
SKIP = {"__pycache__", "node_modules", ".git"}


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path
    is_demo: bool
    note: str = ""
    layout: str = ""            # a name in layouts.BY_NAME; '' = detect when loading
    name: str = ""              # the dataset's name: its path inside the data folder, or "demo"

    @property
    def label(self) -> str:
        return f"demo ({self.path.name})" if self.is_demo else str(self.path)

    @property
    def layout_title(self) -> str:
        layout = layouts.BY_NAME.get(self.layout)
        return layout.title if layout else "unknown layout"


def check_data_dir(data_dir) -> Path | None:
    path = config.data_dir(data_dir)
    if path is None:
        return None
    if not path.exists():
        raise DataError("data folder not found (set it in the sidebar, STUDIO_DATA_DIR or --data-dir)", path)
    if not path.is_dir():
        raise DataError("the data folder is a file, not a folder", path)
    return path


def discover(data_dir) -> list[Source]:
    """Every dataset in the data folder (breadth first, folders in name order), of every kind."""
    root = Path(data_dir)
    found: list[Source] = []
    level = [root]
    for depth in range(MAX_DEPTH + 1):
        next_level = []
        for folder in level:
            layout = layouts.detect(folder)
            if layout is not None:
                found.append(_source(layout, folder, root))
                continue
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.name in SKIP:
                    continue
                if entry.is_file() and entry.suffix.lower() == ".csv":
                    file_layout = layouts.detect(entry)
                    if file_layout is not None:
                        found.append(_source(file_layout, entry, root))
                elif entry.is_dir() and depth < MAX_DEPTH:
                    next_level.append(entry)
        level = next_level
    return found


def _source(layout: layouts.Layout, path: Path, root: Path) -> Source:
    rel = path.relative_to(root)
    name = rel.with_suffix("").as_posix() if layout.is_file else rel.as_posix()
    if name in ("", "."):
        name = path.resolve().name or str(path)
    return Source(layout.kind, path.resolve(), False, layout=layout.name, name=name)


def demo_source(kind: str, cache_dir=None, seed: int = 0, note: str = "") -> Source:
    demo_dir = demo.ensure_demo(config.cache_dir(cache_dir), seed)
    path = demo_dir / DEMO_FOLDERS[kind]
    return Source(kind, path, True, note, layouts.detect(path, kind).name, DEMO)


def available(kind: str, data_dir=None) -> list[Source]:
    """The datasets of ``kind`` in the data folder (none when no data folder is set)."""
    root = check_data_dir(data_dir)
    return [] if root is None else [s for s in discover(root) if s.kind == kind]


def _named(found: list[Source], name: str, kind: str, root: Path) -> Source:
    for match in (lambda s: s.name == name, lambda s: s.name.lower() == name.lower(),
                  lambda s: Path(s.name).name.lower() == name.lower()):
        hits = [s for s in found if match(s)]
        if len(hits) == 1:
            return hits[0]
    names = ", ".join(s.name for s in found) or "none"
    raise DataError(f"no {TITLES[kind].lower()} dataset named '{name}' (found: {names}; or '{DEMO}')", root)


def resolve(kind: str, data_dir=None, cache_dir=None, seed: int = 0, dataset: str | None = None) -> Source:
    """The dataset of ``kind`` to use: ``dataset`` by name (or ``"demo"``), else the data folder's first,
    else the demo's (generated once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    if dataset == DEMO:                 # the demo needs no data folder (a missing one is not its problem)
        return demo_source(kind, cache_dir, seed)
    root = check_data_dir(data_dir)
    if root is None:
        if dataset:
            raise StudioError(f"--dataset {dataset}: set a data folder (--data-dir or STUDIO_DATA_DIR) to choose "
                              f"a dataset, or use --dataset {DEMO}")
        return demo_source(kind, cache_dir, seed)
    found = [s for s in discover(root) if s.kind == kind]
    if dataset:
        return _named(found, dataset, kind, root)
    if found:
        return found[0]
    note = (f"{root} has no {TITLES[kind].lower()} dataset in a layout the studio reads: using the demo data "
            f"instead. Layouts understood: {layouts.understood(kind)}")
    return demo_source(kind, cache_dir, seed, note)


def extra_reid_identities(data_dir=None, cache_dir=None):
    """PETA's persons outside VIPeR (extra re-ID training identities) from the data folder; the demo
    has none of its own (its pedestrians are one set)."""
    from .peta import reid_identities

    peta = [s for s in available("attributes", data_dir) if s.layout == "peta"]
    if not peta:
        raise StudioError("--extra-identities needs PETA (the 'PETA dataset' folders) in the data folder")
    return reid_identities(peta[0].path)


def load(source: Source):
    """Load a resolved source with its layout's loader and check it (see :func:`check`)."""
    layout = layouts.BY_NAME.get(source.layout) or layouts.detect(source.path, source.kind)
    if layout is None:
        raise DataError(f"no {TITLES[source.kind].lower()} layout recognised here. Layouts understood: "
                        f"{layouts.understood(source.kind)}", source.path)
    name = "demo pedestrians" if source.is_demo and source.kind != "ratings" else (source.name or None)
    dataset = layout.load(source.path, name)
    check(source.kind, dataset, source.path, layout)
    return dataset


def check(kind: str, dataset, path, layout: layouts.Layout) -> None:
    """Refuse a dataset that a layout matched but that makes no sense as that kind."""
    def refuse(found: str):
        raise DataError(f"read as {layout.title}, but {found}: not a dataset the studio can use. "
                        f"Layouts understood: {layouts.understood(kind)}", path)

    if kind == "reid":
        f = dataset.frame
        if f.pid.nunique() < 2:
            refuse(f"it holds {f.pid.nunique()} identity in {len(f)} images")
        if (f.role != "").any():
            q, g = set(f.pid[f.role == "query"]), set(f.pid[f.role == "gallery"])
            if not q & g:
                refuse("no query person appears in the gallery")
        elif not (f.groupby("pid").camera.nunique() >= 2).any():
            refuse("no identity is seen by both cameras")
    elif kind == "ratings":
        users = dataset.ratings.userId.nunique()
        if users < 2:
            refuse(f"all {len(dataset.ratings)} ratings come from {users} user")
    else:
        values = dataset.frame[dataset.attributes].to_numpy(np.float32)
        if len(values) < 2 or np.all((values == values[0]) | (np.isnan(values) & np.isnan(values[0]))):
            refuse(f"all {len(values)} images have the same labels")


def describe(source: Source) -> dict:
    """One dataset's report: where, which layout, counts and problems, or the error that stopped it."""
    out = {"name": source.name, "kind": source.kind, "layout": source.layout, "format": source.layout_title,
           "path": str(source.path), "demo": source.is_demo}
    start = time.perf_counter()
    try:
        dataset = load(source)
    except StudioError as exc:
        return {**out, "error": str(exc)}
    return {**out, "counts": summary(source.kind, dataset), "problems": list(dataset.problems),
            "load_seconds": round(time.perf_counter() - start, 2)}


def summary(kind: str, dataset) -> dict:
    """Counts a person wants to see first, as plain numbers."""
    if kind == "reid":
        f = dataset.frame
        if (f.role != "").any():
            return {"identities": len(dataset.pids), "images": len(f), "training images": int((f.role == "train").sum()),
                    "query images": int((f.role == "query").sum()), "gallery images": int((f.role == "gallery").sum()),
                    "cameras": int(f.camid.nunique())}
        return {"identities": len(dataset.pids), "images": len(f),
                "camera A images": int((f.camera == 0).sum()), "camera B images": int((f.camera == 1).sum())}
    if kind == "ratings":
        r = dataset.ratings
        return {"users": int(r.userId.nunique()), "movies rated": int(r.movieId.nunique()),
                "movies in catalogue": len(dataset.movies), "ratings": len(r), "genres": len(dataset.genres),
                "mean rating (stars)": round(float(r.rating.mean()), 2)}
    f = dataset.frame
    return {"images": len(f), "persons": int(f.person.nunique()), "subsets": int(f.subset.nunique()),
            "attributes": len(dataset.attributes)}
