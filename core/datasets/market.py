"""Market-1501 (Zheng et al., ICCV 2015) and DukeMTMC-reID: the fixed split in three folders.

::

    root/bounding_box_train/0002_c1s1_000451_03.jpg     training images (751 persons in Market-1501)
    root/query/0001_c1s1_001051_00.jpg                   one or more queries per test person and camera
    root/bounding_box_test/0001_c1s1_001051_03.jpg       the gallery

Names start ``PPPP_cC`` (person, camera; DukeMTMC-reID writes ``0001_c2_f0046182.jpg``). The standard
evaluation, as in the field's toolkits: person ``-1`` (junk boxes) is never in the gallery; person
``0000`` (distractor boxes) stays in it; for each query, the gallery images of the same person taken by
the same camera are left out of its ranking.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, named_images, reid_frame, require_dir

LAYOUT = "market"
FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
NAME = re.compile(r"^(-?\d+)_c(\d+)", re.IGNORECASE)
JUNK = "-1"


def detect(root: Path) -> bool:
    return all((Path(root) / f).is_dir() for f in FOLDERS.values())


def load(root, name: str | None = None) -> ReidDataset:
    root = require_dir(Path(root), "Market-1501 / DukeMTMC-reID")
    rows, problems = [], []
    for role, folder in FOLDERS.items():
        found, skipped = named_images(require_dir(root / folder, f"'{folder}'"), NAME)
        parsed = [(path, m.group(1), int(m.group(2))) for path, m in found if m.group(1) != JUNK]
        junk = len(found) - len(parsed)
        if skipped:
            problems.append(f"{folder}: {skipped} images not named PPPP_cC…: skipped")
        if junk:
            problems.append(f"{folder}: {junk} junk images (person -1) left out, as the standard evaluation does")
        first_cam = {}
        for _, pid, camid in sorted(parsed, key=lambda r: (r[2], r[0].name)):
            first_cam.setdefault(pid, camid)
        for path, pid, camid in parsed:
            # XQDA learns from cross-camera pairs: in training, a person's first camera is side A
            camera = {"query": 0, "gallery": 1}.get(role, 0 if camid == first_cam[pid] else 1)
            rows.append((str(path.resolve()), pid, camera, "", camid, role))
    if not rows:
        raise DataError("no PPPP_cC… images in bounding_box_train/, query/ or bounding_box_test/", root)
    return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
