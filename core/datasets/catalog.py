"""Which data is in use: the user's data folder where it has a dataset, else the embedded demo.

Three kinds of data, each looked up in the data folder under its usual name:

==============  ======================  ================================================
kind            folder in the data dir  also accepted
==============  ======================  ================================================
``reid``        ``VIPeR/``              the data dir itself holding ``cam_a``/``cam_b``
``ratings``     ``ml-latest-small/``    the data dir itself holding ``ratings.csv``
``attributes``  ``PETA/``               ``attributes.csv`` (generic CSV) in the data dir
==============  ======================  ================================================

A data dir that is set but missing raises DataError; a data dir without one kind of data falls back to
the demo for that kind, with a note saying so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import DataError, StudioError
from . import demo
from .attribute_csv import load_attribute_csv
from .folders import load_reid
from .movielens import load_movielens
from .peta import load_peta, reid_identities

KINDS = ("reid", "ratings", "attributes")
FOLDERS = {"reid": "VIPeR", "ratings": "ml-latest-small", "attributes": "PETA"}
TITLES = {"reid": "Re-identification images", "ratings": "Movie ratings", "attributes": "Pedestrian attributes"}


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path
    is_demo: bool
    note: str = ""

    @property
    def label(self) -> str:
        return f"demo ({self.path.name})" if self.is_demo else str(self.path)


def check_data_dir(data_dir) -> Path | None:
    path = config.data_dir(data_dir)
    if path is None:
        return None
    if not path.exists():
        raise DataError("data folder not found (set it in the sidebar, STUDIO_DATA_DIR or --data-dir)", path)
    if not path.is_dir():
        raise DataError("the data folder is a file, not a folder", path)
    return path


def _in_data_dir(kind: str, root: Path) -> Path | None:
    candidate = root / FOLDERS[kind]
    if candidate.is_dir():
        return candidate
    if kind == "reid" and (root / "cam_a").is_dir():
        return root
    if kind == "ratings" and (root / "ratings.csv").is_file():
        return root
    if kind == "attributes":
        if (root / "attributes.csv").is_file():
            return root / "attributes.csv"
        if (root / "PETA dataset").is_dir():
            return root
    return None


def resolve(kind: str, data_dir=None, cache_dir=None, seed: int = 0) -> Source:
    """Find the data of ``kind``: the data folder's when it has some, else the demo's (generated once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    root = check_data_dir(data_dir)
    note = ""
    if root is not None:
        found = _in_data_dir(kind, root)
        if found is not None:
            return Source(kind, found.resolve(), False)
        note = f"{root} has no {FOLDERS[kind]}/ folder: using the demo data instead"
    demo_dir = demo.ensure_demo(config.cache_dir(cache_dir), seed)
    return Source(kind, demo_dir / FOLDERS[kind], True, note)


def extra_reid_identities(data_dir=None, cache_dir=None):
    """PETA's persons outside VIPeR (extra re-ID training identities) from the data folder; the demo
    has none of its own (its pedestrians are one set)."""
    source = resolve("attributes", data_dir, cache_dir)
    if source.is_demo or source.path.suffix.lower() == ".csv":
        raise StudioError("--extra-identities needs PETA (the 'PETA dataset' folders) in the data folder")
    return reid_identities(source.path)


def load(source: Source):
    """Load a resolved source with the loader for its format."""
    if source.kind == "reid":
        return load_reid(source.path, "demo pedestrians" if source.is_demo else None)
    if source.kind == "ratings":
        return load_movielens(source.path)
    if source.path.suffix.lower() == ".csv":
        return load_attribute_csv(source.path)
    return load_peta(source.path, name="demo pedestrians" if source.is_demo else "PETA")


def summary(kind: str, dataset) -> dict:
    """Counts a person wants to see first, as plain numbers."""
    if kind == "reid":
        f = dataset.frame
        return {"identities": len(dataset.pids), "images": len(f),
                "camera A images": int((f.camera == 0).sum()), "camera B images": int((f.camera == 1).sum())}
    if kind == "ratings":
        r = dataset.ratings
        return {"users": int(r.userId.nunique()), "movies rated": int(r.movieId.nunique()),
                "movies in catalogue": len(dataset.movies), "ratings": len(r), "genres": len(dataset.genres),
                "mean rating": round(float(r.rating.mean()), 3)}
    f = dataset.frame
    return {"images": len(f), "persons": int(f.person.nunique()), "subsets": int(f.subset.nunique()),
            "attributes": len(dataset.attributes)}
