"""Shared pieces of the dataset layer: typed containers and folder helpers."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

IMAGE_EXTS = (".bmp", ".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


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
    * ``view`` (str): the viewpoint / extra token from the file name ('' when absent).
    """

    name: str
    root: Path
    frame: pd.DataFrame
    problems: list[str] = field(default_factory=list)

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
        return ReidDataset(self.name, self.root, frame, list(self.problems))


def reid_frame(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["path", "pid", "camera", "view"])
    frame["camera"] = frame["camera"].astype("int64")
    order = sorted(range(len(frame)), key=lambda i: (pid_sort_key(frame.at[i, "pid"]), frame.at[i, "camera"],
                                                      frame.at[i, "path"]))
    return frame.iloc[order].reset_index(drop=True)
