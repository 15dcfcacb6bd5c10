"""CUHK01 (CUHK Campus; Li, Zhao, Wang, ACCV 2012).

::

    root/campus/0001001.png … 0971004.png

(or the ``campus`` folder itself). The first four digits are the person, the last three the image:
001-002 were taken by camera A, 003-004 by camera B. The field's protocol: 485 persons train, 486 test
(half, rounded down, train), 10 seeded random splits; queries are camera A, the gallery camera B.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, image_files, named_images, reid_frame, require_dir

LAYOUT = "cuhk01"
NAME = re.compile(r"^(\d{4})(\d{3})$")


def images_root(root: Path) -> Path | None:
    for base in (Path(root) / "campus", Path(root)):
        sample = image_files(base, limit=8) if base.is_dir() else []
        if sample and all(NAME.match(p.stem) for p in sample):
            return base
    return None


def detect(root: Path) -> bool:
    return images_root(root) is not None


def load(root, name: str | None = None) -> ReidDataset:
    root = require_dir(Path(root), "CUHK01")
    base = images_root(root)
    if base is None:
        raise DataError("expected campus/NNNNMMM.png images (CUHK01 layout)", root)
    found, skipped = named_images(base, NAME, lambda m: 1 <= int(m.group(2)) <= 4)
    rows = [(str(path.resolve()), m.group(1), 0 if int(m.group(2)) <= 2 else 1, m.group(2)) for path, m in found]
    if not rows:
        raise DataError("no NNNNMMM images (MMM 001-004)", base)
    problems = [f"{skipped} images not named NNNNMMM with MMM 001-004: skipped"] if skipped else []
    return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
