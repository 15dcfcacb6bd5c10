"""Two-camera re-identification folders in VIPeR's layout.

::

    root/
      cam_a/{id}_{angle}.{ext}     camera A (query side)
      cam_b/{id}_{angle}.{ext}     camera B (gallery side)

Any image extension is accepted. The part of the file name before the first ``_`` is the identity id;
the rest (VIPeR's viewing angle) is kept as ``view``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .base import ReidDataset, image_files, is_image_name, reid_frame, require_dir

LAYOUT = "two-camera"
CAMERAS = ("cam_a", "cam_b")


def is_two_camera_root(root: Path) -> bool:
    return all((Path(root) / cam).is_dir() for cam in CAMERAS)


def detect(root: Path) -> bool:
    """``cam_a/`` and ``cam_b/`` whose first images are named ``{id}_…`` with a digit in the id (PRID
    2011's ``person_0001`` names are another layout, checked before this one)."""
    if not is_two_camera_root(root):
        return False
    sample = image_files(Path(root) / "cam_a", limit=5)
    return not sample or all(any(ch.isdigit() for ch in p.stem.partition("_")[0]) for p in sample)


def load_two_camera(root, name: str | None = None) -> ReidDataset:
    """Load a ``cam_a`` / ``cam_b`` folder pair; raises DataError naming the folder or file at fault."""
    root = require_dir(Path(root), "re-identification dataset")
    rows, problems = [], []
    for cam_index, cam in enumerate(CAMERAS):
        cam_dir = require_dir(root / cam, f"camera '{cam}'")
        for entry in sorted(cam_dir.iterdir()):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if not is_image_name(entry.name):
                problems.append(f"{entry}: not an image file name, skipped")
                continue
            stem = entry.name.rsplit(".", 1)[0]
            pid, _, view = stem.partition("_")
            if not pid:
                raise DataError("file name does not start with an identity id ('{id}_{angle}.ext')", entry)
            rows.append((str(entry.resolve()), pid, cam_index, view))
    if not rows:
        raise DataError("no images found in cam_a/ or cam_b/", root)
    frame = reid_frame(rows)
    counts = frame.groupby("pid")["camera"].nunique()
    one_cam = counts[counts < 2].index.tolist()
    if one_cam:
        problems.append(f"{len(one_cam)} identities appear in only one camera (e.g. {one_cam[0]})")
    return ReidDataset(name or root.name, root.resolve(), frame, problems, LAYOUT)
