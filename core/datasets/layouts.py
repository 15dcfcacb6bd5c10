"""Every published dataset layout the studio reads, in one table: how each is recognised, how it is
loaded and which evaluation it gets. :mod:`.catalog` asks these, in order, about each folder it walks.

A layout's ``detect(path)`` is cheap (names of a few files, a CSV's header line, never a full read);
``load(path, name)`` returns the kind's dataset or raises DataError. Folder layouts come first, most
specific first (PRID 2011 also has ``cam_a``/``cam_b``, so it is asked before VIPeR's two cameras);
file layouts (generic CSVs) are asked about the CSV files of a folder that no folder layout claimed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import attribute_csv, cuhk01, folders, grid, market, movielens, pa100k, peta, prid, ratings_formats, viper


@dataclass(frozen=True)
class Layout:
    name: str                   # short id, stored in Source.layout and in the datasets' ``layout``
    kind: str                   # "reid" | "ratings" | "attributes"
    title: str                  # what a person calls it
    found_by: str               # what its files look like
    protocol: str               # the evaluation the studio runs on it
    detect: Callable[[Path], bool]
    load: Callable[[Path, str | None], object]
    is_file: bool = False       # the dataset is one file (a generic CSV), not a folder


def _generic_attributes(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and ratings_formats.csv_header(path)[:1] == ["image"]


LAYOUTS: tuple[Layout, ...] = (
    # --- re-identification
    Layout("prid2011", "reid", "PRID 2011 (single-shot)",
           "single_shot/cam_a, cam_b with person_NNNN images (or PETA's flat NNNN_a / NNNN_b copy)",
           "half of the persons seen by both cameras train; queries: the others' camera A; gallery: their camera B "
           "+ every camera-B-only person as a distractor; 10 seeded splits", prid.detect, prid.load),
    Layout("market", "reid", "Market-1501 / DukeMTMC-reID", "bounding_box_train/, bounding_box_test/, query/ "
           "with PPPP_cC… names", "the fixed split; person -1 (junk) left out, 0000 kept as distractors; same "
           "person + same camera left out of each query's ranking", market.detect, market.load),
    Layout("grid", "reid", "GRID (QMUL underGround)", "underground_reid/probe/ and gallery/ with NNNN_C_… names",
           "half of the 250 paired persons train, half test; the person-0000 images are distractors in every "
           "test gallery; 10 seeded splits", grid.detect, grid.load),
    Layout("two-camera", "reid", "two cameras (VIPeR)", "cam_a/ and cam_b/ with {id}_{angle} images",
           "VIPeR's: course split (sorted ids, 482 / 150), literature 316 / 316 and random 482 / 150, 10 seeded "
           "splits each (scaled to the number of identities)", viper.detect, viper.load_two_camera),
    Layout("cuhk01", "reid", "CUHK01 (CUHK Campus)", "campus/NNNNMMM.png (MMM 001-002 camera A, 003-004 B)",
           "485 persons train, 486 test (half, rounded down, train); 10 seeded splits", cuhk01.detect, cuhk01.load),
    # --- attributes
    Layout("peta", "attributes", "PETA", "PETA dataset/<subset>/archive/ with images and Label.txt (lines keyed "
           "by person id or by file name); or one subset", "random-image and person-disjoint 50/10/40 splits",
           peta.detect, lambda path, name=None: peta.load_peta(path, name=name or "PETA")),
    Layout("pa100k", "attributes", "PA-100K", "annotation.mat (or annotation/annotation.mat) and its images below",
           "its published 80,000 / 10,000 / 10,000 split (also the random and person splits)",
           pa100k.detect, pa100k.load),
    # --- ratings
    Layout("movielens-csv", "ratings", "MovieLens CSV (latest-small, 20M, 25M, 32M)", "ratings.csv and movies.csv",
           "temporal 80/20 hold-out per user", lambda p: (p / "ratings.csv").is_file() and (p / "movies.csv").is_file(),
           lambda path, name=None: movielens.load_movielens(path)),
    Layout("movielens-100k", "ratings", "MovieLens 100K", "u.data, u.item (Latin-1), u.genre",
           "temporal 80/20 hold-out per user", ratings_formats.detect_100k, ratings_formats.load_100k),
    Layout("movielens-dat", "ratings", "MovieLens 1M / 10M", "ratings.dat and movies.dat ('::'-separated)",
           "temporal 80/20 hold-out per user", ratings_formats.detect_dat, ratings_formats.load_dat),
    # --- identity folders last: many trees have folders of images
    Layout("folders", "reid", "one folder per identity", "two or more folders of images, one per person (a cNN "
           "token in a name is its camera)", "as VIPeR's, the first camera (or image) of each person as the query",
           folders.detect, folders.load_identity_folders),
    # --- single files
    Layout("ratings-csv", "ratings", "generic ratings CSV", "a .csv with header user,item,rating[,timestamp] "
           "(items: a .csv with header item,title[,genres] beside it)", "temporal 80/20 hold-out per user",
           ratings_formats.is_generic_ratings, ratings_formats.load_generic, is_file=True),
    Layout("attribute-csv", "attributes", "generic attribute CSV", "a .csv with header image,<label columns>",
           "random-image and person-disjoint splits", _generic_attributes,
           lambda path, name=None: attribute_csv.load_attribute_csv(path, name), is_file=True),
)
BY_NAME = {layout.name: layout for layout in LAYOUTS}


def understood(kind: str | None = None) -> str:
    """The layouts understood (of one kind), for error messages."""
    return "; ".join(f"{lay.title} ({lay.found_by})" for lay in LAYOUTS if kind in (None, lay.kind))


def detect(path: Path, kind: str | None = None) -> Layout | None:
    """The first layout (of ``kind``) that recognises ``path``, or None."""
    path = Path(path)
    for layout in LAYOUTS:
        if kind not in (None, layout.kind) or layout.is_file != path.is_file():
            continue
        try:
            if layout.detect(path):
                return layout
        except OSError:
            continue
    return None


def load_reid(root, name: str | None = None):
    """Load a re-identification folder in whichever layout it is in, else as one folder per identity."""
    from .base import require_dir

    root = require_dir(Path(root), "re-identification dataset")
    layout = detect(root, "reid")
    return (layout.load if layout is not None else folders.load_identity_folders)(root, name)
