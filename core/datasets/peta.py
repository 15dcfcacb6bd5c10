"""PETA: ``<root>/PETA dataset/<subset>/archive/`` with images and a ``Label.txt`` per subset.

Each ``Label.txt`` line is a person id followed by that person's attribute tokens. An image belongs to
the person whose id is the file name's prefix before the first ``_`` (or before the extension); ids
match as written, or as numbers when both are numeric (``0001`` = ``1``). Person ids are unique only
within a subset, so ``person`` is ``subset/id``. PETA's labels are complete: a token that is absent is
a negative (0), never unknown.

The label files write ``footwearSneakers``; the ReadMe and the standard attribute list write
``footwearSneaker``: the loader uses the latter.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .attributes import AttributeDataset, make_frame
from .base import ReidDataset, is_image_name, reid_frame, require_dir

SPELLING = {"footwearSneakers": "footwearSneaker"}
LABEL_FILE = "Label.txt"


def find_subsets_root(root: Path) -> Path:
    """Accept ``PETA/`` or ``PETA/PETA dataset/`` (the published archive nests one level)."""
    root = require_dir(Path(root), "PETA")
    nested = root / "PETA dataset"
    return nested if nested.is_dir() else root


def image_person_id(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0]
    return stem.split("_", 1)[0]


def _normal(pid: str) -> str:
    return str(int(pid)) if pid.isdigit() else pid


def read_label_file(path: Path) -> dict[str, set[str]]:
    """``{person id: {attribute tokens}}``; raises DataError with the line number on a malformed line."""
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
    base = find_subsets_root(root)
    subset_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subsets is not None:
        subset_dirs = [p for p in subset_dirs if p.name in set(subsets)]
    rows, problems, attributes = [], [], set()
    for sub in subset_dirs:
        archive = sub / "archive"
        label_path = archive / LABEL_FILE
        if not label_path.is_file():
            problems.append(f"{sub.name}: no archive/{LABEL_FILE}, subset skipped")
            continue
        labels = read_label_file(label_path)
        by_normal = {_normal(pid): pid for pid in labels}
        used, unlabelled = set(), 0
        for img in sorted(archive.iterdir()):
            if not img.is_file() or not is_image_name(img.name):
                continue
            raw = image_person_id(img.name)
            pid = raw if raw in labels else by_normal.get(_normal(raw))
            if pid is None:
                unlabelled += 1
                continue
            used.add(pid)
            tokens = labels[pid]
            attributes |= tokens
            rows.append({"path": str(img.resolve()), "subset": sub.name, "pid": pid,
                         "person": f"{sub.name}/{pid}", "_tokens": tokens})
        if unlabelled:
            problems.append(f"{sub.name}: {unlabelled} images have no line in {LABEL_FILE}, skipped")
        if len(used) < len(labels):
            problems.append(f"{sub.name}: {len(labels) - len(used)} label lines have no images")
    if not rows:
        raise DataError("no labelled images found under <subset>/archive/", base)
    names = sorted(attributes)
    for row in rows:
        tokens = row.pop("_tokens")
        row.update({a: 1.0 if a in tokens else 0.0 for a in names})
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
