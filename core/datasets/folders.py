"""Re-identification images in the common one-folder-per-identity layout.

::

    root/{identity}/{any name}.{ext}

The camera of an image is read from a ``c<digits>`` token in its name when there is one
(Market-1501 style ``0001_c1s1_001051_00.jpg``: the first camera seen is A, every other camera B).
Without camera tokens, the first image of each identity (in name order) is camera A and the rest are
camera B, which gives the single-shot protocol: one query per identity, the rest in the gallery.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, image_files, is_image_name, reid_frame, require_dir, subfolders

LAYOUT = "folders"
_CAMERA_TOKEN = re.compile(r"(?:^|[_-])c(\d+)", re.IGNORECASE)


def detect(root: Path, look: int = 20) -> bool:
    """Two or more subfolders, and the first ``look`` of them hold images and no folders of their own."""
    folders = subfolders(root)
    if len(folders) < 2:
        return False
    return all(image_files(f, limit=1) and not subfolders(f) for f in folders[:look])


def load_identity_folders(root, name: str | None = None) -> ReidDataset:
    root = require_dir(Path(root), "re-identification dataset")
    rows, problems = [], []
    for person_dir in subfolders(root):
        images = sorted(p for p in person_dir.iterdir() if p.is_file() and is_image_name(p.name))
        if not images:
            problems.append(f"{person_dir}: no images, skipped")
            continue
        tokens = [_CAMERA_TOKEN.search(p.stem) for p in images]
        if all(tokens):
            first = min(int(t.group(1)) for t in tokens)
            cams = [0 if int(t.group(1)) == first else 1 for t in tokens]
        else:
            cams = [0] + [1] * (len(images) - 1)
        for path, cam in zip(images, cams):
            camid = int(_CAMERA_TOKEN.search(path.stem).group(1)) if all(tokens) else cam
            rows.append((str(path.resolve()), person_dir.name, cam, "", camid, ""))
    if not rows:
        raise DataError("no identity folders with images found", root)
    return ReidDataset(name or root.name, root.resolve(), reid_frame(rows), problems, LAYOUT)
