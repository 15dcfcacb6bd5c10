"""Shared pieces of the dataset layer: typed containers and folder helpers."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

IMAGE_EXTS = (".bmp", ".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


def input_images(inputs) -> list[str]:
    """Image files named on a command line: files as given, folders searched recursively (sorted); a
    name that is neither, or nothing found, is an error."""
    from ..errors import StudioError

    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(str(x) for x in p.rglob("*") if x.is_file() and is_image_name(x.name))
        elif p.is_file():
            paths.append(str(p))
        else:
            raise StudioError(f"{p}: no such file or folder")
    if not paths:
        raise StudioError("no images found in " + ", ".join(map(str, inputs)))
    return paths


def image_files(folder: Path, limit: int | None = None) -> list[Path]:
    """Image files directly in ``folder`` (no hidden ones), sorted by name; with ``limit``, only the
    first ``limit`` met while listing (a cheap look for layout detection, unsorted beyond that)."""
    out = []
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if not e.name.startswith(".") and is_image_name(e.name) and e.is_file():
                    out.append(Path(e.path))
                    if limit is not None and len(out) >= limit:
                        break
    except OSError:
        return []
    return sorted(out)


def named_images(folder: Path, pattern, accept=lambda m: True) -> tuple[list[tuple[Path, re.Match]], int]:
    """The images in ``folder`` whose stem matches the regex ``pattern`` (and ``accept``), with their
    matches, and how many other images were skipped."""
    found, skipped = [], 0
    for path in image_files(folder):
        m = pattern.match(path.stem)
        if m is None or not accept(m):
            skipped += 1
        else:
            found.append((path, m))
    return found, skipped


def subfolders(folder: Path) -> list[Path]:
    """Visible subfolders of ``folder``, sorted by name ([] when it cannot be listed)."""
    try:
        return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a readable folder, else raise a DataError that says what was expected."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} folder not found", path)
    if not path.is_dir():
        raise DataError(f"expected a {what} folder, found a file", path)
    return path


def pid_sort_key(pid: str):
    """Identity ids sort numerically when they are numbers (``'9' < '10'``), else as text."""
    return (0, int(pid), pid) if pid.isdigit() else (1, 0, pid)


def sorted_pids(pids) -> list[str]:
    return sorted(set(pids), key=pid_sort_key)


@dataclass
class ReidDataset:
    """Images of identities seen by one or more cameras.

    ``frame`` has one row per image, with columns

    * ``path`` (str): absolute image path;
    * ``pid`` (str): identity id as written in the file or folder name;
    * ``camera`` (int): 0 for camera A (query side), 1 for camera B (gallery side);
    * ``view`` (str): the viewpoint / extra token from the file name ('' when absent);
    * ``camid`` (int): the camera as the dataset numbers it (Market-1501 has six); a query's gallery
      images of the same person from the same camera are left out of its ranking;
    * ``role`` (str): ``train`` / ``query`` / ``gallery`` where the layout fixes the split
      (Market-1501's folders), else ''.

    ``layout`` names the published layout it was read from (see :mod:`.layouts`); it decides the
    evaluation protocols (:mod:`core.reid.protocols`).
    """

    name: str
    root: Path
    frame: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    layout: str = "two-camera"

    @property
    def pids(self) -> list[str]:
        return sorted_pids(self.frame["pid"])

    @property
    def num_images(self) -> int:
        return len(self.frame)

    def camera(self, cam: int) -> pd.DataFrame:
        return self.frame[self.frame["camera"] == cam]

    def sample_pids(self, n: int) -> list[str]:
        """``n`` identities seen by both cameras, evenly spaced over the sorted ids (deterministic)."""
        both = self.frame.groupby("pid")["camera"].nunique()
        ids = [p for p in self.pids if both.get(p, 0) >= 2] or self.pids
        idx = np.linspace(0, len(ids) - 1, min(n, len(ids))).round().astype(int)
        return [ids[i] for i in dict.fromkeys(idx)]

    def first_image(self, pid: str, cam: int) -> str | None:
        rows = self.frame[(self.frame["pid"] == pid) & (self.frame["camera"] == cam)]
        return None if rows.empty else rows["path"].iloc[0]

    def subset(self, pids) -> "ReidDataset":
        keep = set(pids)
        frame = self.frame[self.frame["pid"].isin(keep)].reset_index(drop=True)
        return ReidDataset(self.name, self.root, frame, list(self.problems), self.layout)


def reid_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(path, pid, camera, view)`` or ``(path, pid, camera, view, camid, role)`` -> the frame
    (``camid`` defaults to ``camera``, ``role`` to '')."""
    rows = [tuple(r) + (r[2], "") if len(r) == 4 else tuple(r) for r in rows]
    frame = pd.DataFrame(rows, columns=["path", "pid", "camera", "view", "camid", "role"])
    frame["camera"] = frame["camera"].astype("int64")
    frame["camid"] = frame["camid"].astype("int64")
    pids, cams, paths = frame["pid"].tolist(), frame["camera"].tolist(), frame["path"].tolist()
    order = sorted(range(len(frame)), key=lambda i: (pid_sort_key(pids[i]), cams[i], paths[i]))
    return frame.iloc[order].reset_index(drop=True)
