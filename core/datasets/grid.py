"""QMUL underGround Re-IDentification (GRID; Loy et al., 2009/2013).

::

    root/underground_reid/probe/0001_1_25004_107_32_130.jpeg      250 persons, one image each
    root/underground_reid/gallery/0001_5_25006_…jpeg              the same 250 persons …
    root/underground_reid/gallery/0000_…jpeg                      … and 775 images of other people

(or the ``underground_reid`` folder itself). The first part of a name is the person, the second the
camera. The field's protocol: half of the 250 paired persons train (125), the other half test, and
the 775 person-``0000`` images are distractors in every test gallery; 10 seeded random splits.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, named_images, reid_frame, require_dir

LAYOUT = "grid"
NAME = re.compile(r"^(\d+)_(\d+)")
DISTRACTOR = "0000"


def sides_root(root: Path) -> Path | None:
    for base in (Path(root) / "underground_reid", Path(root)):
        if (base / "probe").is_dir() and (base / "gallery").is_dir():
            return base
    return None


def detect(root: Path) -> bool:
    return sides_root(root) is not None


def load(root, name: str | None = None) -> ReidDataset:
    root = require_dir(Path(root), "GRID")
    base = sides_root(root)
    if base is None:
        raise DataError("expected underground_reid/probe and underground_reid/gallery (GRID layout)", root)
    rows, skipped = [], 0
    for camera, side in enumerate(("probe", "gallery")):
        # a distractor has no query: person 0000 only in the gallery
        found, n_skipped = named_images(base / side, NAME, lambda m, camera=camera: camera == 1 or m.group(1) != DISTRACTOR)
        skipped += n_skipped
        rows += [(str(path.resolve()), m.group(1), camera, "", int(m.group(2)), "") for path, m in found]
    if not rows:
        raise DataError("no NNNN_C_… images in probe/ or gallery/", base)
    problems = [f"{skipped} images not named NNNN_C_… (or distractors in probe/): skipped"] if skipped else []
    return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
