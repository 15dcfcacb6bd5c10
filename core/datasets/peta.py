"""PETA: ``<root>/PETA dataset/<subset>/archive/`` with images and a ``Label.txt`` per subset.

Also accepted: ``<root>/<subset>/archive/`` (the subsets without the ``PETA dataset`` level), and one
subset on its own (``<root>/archive/Label.txt``, or ``Label.txt`` beside the images).

Each ``Label.txt`` line is a key followed by attribute tokens. The key is either a person id (most
subsets: ``0001 personalMale …``), and then every image whose file name starts with that id (the prefix
before the first ``_``, or before the extension) carries the line's labels, ids matching as written or
as numbers (``0001`` = ``1``); or a whole file name (the CUHK subset: ``0606.png upperBodyGrey …``), and
then only that image does. Lines come in any order. Person ids are unique only within a subset, so
``person`` is ``subset/id``; an image keyed by its file name is a person of its own unless its name
starts with an id shared by others. Lines without images and images without lines are counted in
``problems``; only a dataset with no labelled image at all is an error. PETA's labels are complete: a
token that is absent is a negative (0), never unknown.

The label files write ``footwearSneakers``; the ReadMe and the standard attribute list write
``footwearSneaker``: the loader uses the latter.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .attributes import AttributeDataset, make_frame
from .base import ReidDataset, is_image_name, reid_frame, require_dir, subfolders

LAYOUT = "peta"
SPELLING = {"footwearSneakers": "footwearSneaker"}
LABEL_FILE = "Label.txt"


def find_subsets_root(root: Path) -> Path:
    """Accept ``PETA/`` or ``PETA/PETA dataset/`` (the published archive nests one level)."""
    root = require_dir(Path(root), "PETA")
    nested = root / "PETA dataset"
    return nested if nested.is_dir() else root


def _label_folder(folder: Path) -> Path | None:
    """Where a subset's images and Label.txt are: ``folder/archive`` or ``folder`` itself."""
    for candidate in (folder / "archive", folder):
        if (candidate / LABEL_FILE).is_file():
            return candidate
    return None


def subset_folders(root: Path) -> list[tuple[str, Path | None, Path]]:
    """``(subset name, folder with Label.txt or None, subset folder)`` for every subset under ``root``."""
    root = Path(root)
    if _label_folder(root) is not None:                     # one subset on its own
        return [(root.name, _label_folder(root), root)]
    base = root / "PETA dataset" if (root / "PETA dataset").is_dir() else root
    return [(sub.name, _label_folder(sub), sub) for sub in subfolders(base)]


def detect(root: Path) -> bool:
    root = Path(root)
    if (root / "PETA dataset").is_dir() or _label_folder(root) is not None:
        return True
    return any(_label_folder(sub) is not None for sub in subfolders(root)[:12])


def image_person_id(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0]
    return stem.split("_", 1)[0]


def _normal(pid: str) -> str:
    return str(int(pid)) if pid.isdigit() else pid


def read_label_file(path: Path) -> dict[str, set[str]]:
    """``{key: {attribute tokens}}`` (key: a person id or a file name); raises DataError with the line
    number on a malformed line."""
    labels: dict[str, set[str]] = {}
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise DataError("label file is not UTF-8 text", path) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        pid, tokens = parts[0], parts[1:]
        if not tokens:
            raise DataError(f"person '{pid}' has no attribute tokens", path, lineno)
        if any(not t.isidentifier() for t in tokens):
            bad = next(t for t in tokens if not t.isidentifier())
            raise DataError(f"'{bad}' is not an attribute name", path, lineno)
        labels.setdefault(pid, set()).update(SPELLING.get(t, t) for t in tokens)
    if not labels:
        raise DataError("label file has no lines", path)
    return labels


def load_peta(root, subsets: list[str] | None = None, name: str = "PETA") -> AttributeDataset:
    root = require_dir(Path(root), "PETA")
    found = subset_folders(root)
    if subsets is not None:
        found = [f for f in found if f[0] in set(subsets)]
    rows, problems, attributes = [], [], set()
    for subset, folder, _sub in found:
        if folder is None:
            problems.append(f"{subset}: no archive/{LABEL_FILE}, subset skipped")
            continue
        labels = read_label_file(folder / LABEL_FILE)
        by_normal = {_normal(key): key for key in labels}
        used, unlabelled = set(), 0
        for img in sorted(folder.iterdir()):
            if not img.is_file() or not is_image_name(img.name):
                continue
            raw = image_person_id(img.name)
            if img.name in labels:                      # a line keyed by the file name
                key, pid = img.name, raw
            else:                                       # a line keyed by the person id, as written there
                key = pid = raw if raw in labels else by_normal.get(_normal(raw))
            if key is None:
                unlabelled += 1
                continue
            used.add(key)
            tokens = labels[key]
            attributes |= tokens
            rows.append({"path": str(img.resolve()), "subset": subset, "pid": pid,
                         "person": f"{subset}/{pid}", "_tokens": tokens})
        if unlabelled:
            problems.append(f"{subset}: {unlabelled} images have no line in {LABEL_FILE}, skipped")
        if len(used) < len(labels):
            problems.append(f"{subset}: {len(labels) - len(used)} label lines have no images")
    if not rows:
        raise DataError("no labelled images found (expected <subset>/archive/ with images and Label.txt)", root)
    names = sorted(attributes)
    for row in rows:
        tokens = row.pop("_tokens")
        row.update({a: 1.0 if a in tokens else 0.0 for a in names})
    base = find_subsets_root(root) if _label_folder(root) is None else root
    return AttributeDataset(name, base.resolve(), make_frame(rows, names), names, problems)


def reid_identities(root, exclude=("VIPeR",), min_images: int = 2, max_images: int = 8, seed: int = 0):
    """PETA's subsets as extra re-ID *training* identities: person = subset/id, only persons with at
    least ``min_images`` images, at most ``max_images`` each (TownCentre's video frames are
    near-duplicates), seeded choice. ``exclude`` keeps VIPeR out: it is the evaluation set itself.
    Cameras are unknown in PETA, so images alternate between camera 0 and 1."""
    ds = load_peta(root)
    f = ds.frame[~ds.frame.subset.isin(set(exclude))]
    rng = np.random.default_rng(seed)
    rows = []
    for person, g in f.groupby("person", sort=True):
        if len(g) < min_images:
            continue
        paths = sorted(g.path)
        if len(paths) > max_images:
            paths = sorted(rng.choice(paths, max_images, replace=False))
        rows += [(p, person, i % 2, "") for i, p in enumerate(paths)]
    if not rows:
        raise DataError(f"no PETA person outside {', '.join(exclude)} has {min_images} or more images", ds.root)
    return ReidDataset("PETA-extra", ds.root, reid_frame(rows), list(ds.problems))
