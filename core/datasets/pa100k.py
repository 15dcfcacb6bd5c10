"""PA-100K (Liu et al., ICCV 2017): ``annotation.mat`` and 100,000 images, with its fixed split.

::

    PA-100K/annotation/annotation.mat      (or annotation.mat beside the images' folders)
    PA-100K/data/release_data/release_data/000001.jpg …     (the images: anywhere below the root)

``annotation.mat`` (MATLAB v5, read with ``scipy.io.loadmat``; no code in it is run) holds
``attributes`` (26 names), ``train_images_name`` / ``train_label``, ``val_images_name`` /
``val_label`` and ``test_images_name`` / ``test_label``: 80,000 / 10,000 / 10,000 images, labels 0/1.
The split is the dataset's own; its column ``part`` says which part an image is in. Persons are not
given, so each image counts as its own person.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .attributes import AttributeDataset, make_frame, safe_names
from .base import require_dir

LAYOUT = "pa100k"
PARTS = ("train", "val", "test")
MAT_NAMES = ("annotation.mat", "annotation/annotation.mat")


def annotation_file(root: Path) -> Path | None:
    for rel in MAT_NAMES:
        if (Path(root) / rel).is_file():
            return Path(root) / rel
    return None


def detect(root: Path) -> bool:
    return annotation_file(root) is not None


def _strings(cell) -> list[str]:
    """A MATLAB cell array of strings (any orientation) as a list of str."""
    out = []
    for item in np.asarray(cell, dtype=object).ravel():
        while isinstance(item, np.ndarray) and item.dtype == object and item.size == 1:
            item = item.ravel()[0]
        if isinstance(item, np.ndarray):
            item = "".join(item.ravel().tolist()) if item.dtype.kind == "U" else str(item.ravel()[0]) if item.size else ""
        out.append(str(item).strip())
    return out


def _image_folder(root: Path, first_name: str, annotation: Path) -> Path:
    """The folder below ``root`` that holds ``first_name`` (the first training image)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if first_name in files:
            return Path(folder)
    raise DataError(f"the images listed in {annotation.name} (e.g. {first_name}) are not below this folder", root)


def load(root, name: str | None = None) -> AttributeDataset:
    from scipy.io import loadmat

    root = require_dir(Path(root), "PA-100K")
    mat_path = annotation_file(root)
    if mat_path is None:
        raise DataError("no annotation.mat (PA-100K layout)", root)
    try:
        mat = loadmat(mat_path)
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise DataError(f"not a readable MATLAB v5 file ({exc})", mat_path) from None
    missing = [k for k in ["attributes"] + [f"{p}_{w}" for p in PARTS for w in ("images_name", "label")]
               if k not in mat]
    if missing:
        raise DataError(f"annotation.mat lacks {', '.join(missing)}", mat_path)
    attributes, renamed = safe_names(_strings(mat["attributes"]), mat_path)
    parts = []
    for part in PARTS:
        names = _strings(mat[f"{part}_images_name"])
        labels = np.asarray(mat[f"{part}_label"])
        if labels.ndim != 2 or labels.shape != (len(names), len(attributes)):
            raise DataError(f"{part}_label has shape {labels.shape}, expected ({len(names)}, {len(attributes)})",
                            mat_path)
        parts.append((part, names, labels))
    first = next((n[0] for _, n, _ in parts if n), None)
    if first is None:
        raise DataError("annotation.mat lists no images", mat_path)
    folder = _image_folder(root, first, mat_path)
    present = {e.name for e in os.scandir(folder)}
    rows, missing_images = [], 0
    for part, names, labels in parts:
        for image, y in zip(names, labels):
            if image not in present:
                missing_images += 1
                continue
            path = str((folder / image).resolve())
            row = {"path": path, "subset": "PA-100K", "pid": "", "person": path, "part": part}
            row.update({a: float(v) for a, v in zip(attributes, y)})
            rows.append(row)
    if not rows:
        raise DataError("none of the images listed in annotation.mat were found", folder)
    problems = renamed + ([f"{missing_images} images listed in annotation.mat are missing: skipped"]
                          if missing_images else [])
    frame = make_frame(rows, attributes, extra=("part",))
    return AttributeDataset(name or root.name, root.resolve(), frame, attributes, problems)
