"""PRID 2011, single-shot part (Hirzer et al., SCIA 2011).

::

    prid_2011/single_shot/cam_a/person_0001.png … person_0385.png
    prid_2011/single_shot/cam_b/person_0001.png … person_0749.png

(or the ``single_shot`` folder itself), or as PETA ships it (``PETA dataset/PRID/archive/``): one flat folder
of ``NNNN_a.png`` (camera A) and ``NNNN_b.png`` (camera B), the same persons and numbers, 385 and 749 images
(PETA's ``Label.txt`` beside them is ignored here). ``person_NNNN`` / ``NNNN`` is the identity; persons 1-200
are seen by both cameras, the others by one camera only. The field's protocol (:func:`core.reid.protocols`):
half of the persons seen by both cameras train (100 of 200); the queries are the other half's camera-A images;
the gallery is their camera-B images plus every camera-B-only person as a distractor (549 in PRID 2011); 10
seeded random splits, averaged.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, image_files, named_images, reid_frame, require_dir

LAYOUT = "prid2011"
NAME = re.compile(r"^person_(\d+)$", re.IGNORECASE)
FLAT = re.compile(r"^(\d+)_([ab])$", re.IGNORECASE)       # PETA's copy: 0001_a.png, 0001_b.png
CAMERAS = ("cam_a", "cam_b")


def cameras_root(root: Path) -> Path | None:
    for base in (Path(root) / "single_shot", Path(root)):
        if all((base / c).is_dir() for c in CAMERAS):
            return base
    return None


def _flat(root: Path) -> bool:
    """PETA's flat copy: the first images are all ``NNNN_a`` / ``NNNN_b`` and both cameras appear."""
    sample = image_files(Path(root), limit=20)
    return (len(sample) >= 2 and all(FLAT.match(p.stem) for p in sample)
            and {FLAT.match(p.stem).group(2).lower() for p in sample} == {"a", "b"})


def detect(root: Path) -> bool:
    base = cameras_root(root)
    if base is None:
        return _flat(root)
    sample = image_files(base / "cam_a", limit=5)
    return bool(sample) and all(NAME.match(p.stem) for p in sample)


def load(root, name: str | None = None) -> ReidDataset:
    root = require_dir(Path(root), "PRID 2011")
    base = cameras_root(root)
    if base is None and _flat(root):
        found, skipped = named_images(root, FLAT)
        rows = [(str(path.resolve()), m.group(1), "ab".index(m.group(2).lower()), "") for path, m in found]
        problems = [f"{skipped} images not named NNNN_a / NNNN_b: skipped"] if skipped else []
        return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
    if base is None:
        raise DataError("expected single_shot/cam_a and single_shot/cam_b (PRID 2011 layout), or PETA's flat "
                        "NNNN_a / NNNN_b images", root)
    rows, skipped = [], 0
    for cam_index, cam in enumerate(CAMERAS):
        found, n_skipped = named_images(base / cam, NAME)
        skipped += n_skipped
        rows += [(str(path.resolve()), m.group(1), cam_index, "") for path, m in found]
    if not rows:
        raise DataError("no person_NNNN images in cam_a/ or cam_b/", base)
    problems = [f"{skipped} images not named person_NNNN: skipped"] if skipped else []
    return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
