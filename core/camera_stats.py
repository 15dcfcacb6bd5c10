"""Each camera's look, learned from its unlabelled photos: per-dimension statistics (mean, spread) of a
descriptor or a feature vector, and the mapping of one camera's values onto the training cameras'.

A new camera changes every descriptor in the same way for everybody it sees (its colour balance, its
exposure, its angle): per dimension, its photos' mean and spread move. ``standardise`` takes that out:
minus the camera's own mean, divided by its own spread, times the training statistics' spread, plus their
mean; the model that follows (re-ID's XQDA metric, the attribute heads) then sees values laid out as in
training. No label is needed, only enough photos of the camera (``MIN_PHOTOS``); with fewer, the
camera's values are left as they are and the answer says so (``Adaptation.fallback``).

Used by ``core.reid`` (one set of statistics per descriptor part and training camera) and
``core.attributes`` (per training site of the pooled features).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import StudioError

MIN_PHOTOS = 30          # fewer photos of a camera: its statistics are too noisy to move anything by


@dataclass(frozen=True)
class Stats:
    """Per-dimension mean and spread (population standard deviation) of ``count`` photos' values."""

    mean: np.ndarray
    std: np.ndarray
    count: int

    @classmethod
    def of(cls, x: np.ndarray) -> "Stats":
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or not len(x):
            raise StudioError("camera statistics need at least one photo's values")
        return cls(x.mean(0).astype(np.float32), x.std(0).astype(np.float32), len(x))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_mean": self.mean, f"{prefix}_std": self.std, f"{prefix}_count": np.array(self.count)}

    @classmethod
    def from_arrays(cls, a, prefix: str) -> "Stats":
        """From ``arrays``; a missing key is a ``KeyError`` (the caller says which file is wrong)."""
        mean, std = np.asarray(a[f"{prefix}_mean"], np.float32), np.asarray(a[f"{prefix}_std"], np.float32)
        if mean.shape != std.shape or mean.ndim != 1:
            raise KeyError(prefix)
        return cls(mean, std, int(a[f"{prefix}_count"]))


def standardise(x: np.ndarray, source: Stats, target: Stats) -> np.ndarray:
    """``x`` (photos of the camera ``source`` describes) moved onto ``target``'s statistics, dimension by
    dimension. A dimension with no spread in the camera is only shifted (nothing to scale by), so a camera
    whose statistics equal the target's is left exactly as it is."""
    x = np.asarray(x)
    if x.shape[-1] != len(source.mean) or len(source.mean) != len(target.mean):
        raise StudioError(f"camera statistics of {len(source.mean)} dimensions do not fit values of {x.shape[-1]} "
                          f"(the model's are {len(target.mean)})")
    spread = source.std > 1e-6 * max(float(np.abs(source.std).max()), 1e-12)
    scale = np.where(spread, target.std / np.where(spread, source.std, 1.0), 1.0)
    return ((x - source.mean) * scale + target.mean).astype(x.dtype if x.dtype.kind == "f" else np.float32)


@dataclass
class Adaptation:
    """What adapting did, for the words beside an answer: photos per camera adapted, and the cameras left
    as they were because they had too few photos."""

    adapted: dict[str, int] = field(default_factory=dict)
    fallback: dict[str, int] = field(default_factory=dict)

    def words(self) -> str:
        def listed(d):
            return ", ".join(f"{k} ({n} photo{'s' if n != 1 else ''})" for k, n in d.items())

        out = []
        if self.adapted:
            out.append(f"adapted to {'this camera' if len(self.adapted) == 1 else 'each camera'} from its own "
                       f"photos: {listed(self.adapted)}")
        if self.fallback:
            out.append(f"not adapted, under {MIN_PHOTOS} photos to learn the camera's look from: "
                       f"{listed(self.fallback)}")
        return "; ".join(out) or "not adapted"


def by_camera(x: np.ndarray, cameras, target_for, min_photos: int = MIN_PHOTOS) -> tuple[np.ndarray, Adaptation]:
    """Every camera's rows of ``x`` standardised by that camera's own statistics onto ``target_for(camera)``
    (a ``Stats``); cameras with fewer than ``min_photos`` rows are left as they are."""
    cameras = np.asarray(cameras)
    out, done = np.array(x, copy=True), Adaptation()
    for cam in dict.fromkeys(cameras.tolist()):
        rows = cameras == cam
        n = int(rows.sum())
        if n < min_photos:
            done.fallback[str(cam)] = n
            continue
        out[rows] = standardise(x[rows], Stats.of(x[rows]), target_for(cam))
        done.adapted[str(cam)] = n
    return out, done
