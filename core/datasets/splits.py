"""Identity splits for re-identification (train ids / test ids), all seeded and reproducible.

Protocols (VIPeR, 632 identities):

* **course split**: identities sorted by id, the first 482 train, the remaining 150 test. VIPeR's ids
  are not in random order, and its last 150 ids are much harder than a random 150.
* **literature protocol**: 316 train / 316 test identities, 10 seeded random splits, report the mean.
* **random course-sized splits**: 10 seeded random 482 / 150 splits.

On a dataset that is not VIPeR-sized, the counts scale with the number of identities (482/632 for the
course split, one half for the literature protocol).

Other layouts (PRID 2011, GRID, CUHK01) use :func:`half_splits`: half of the persons seen by both
cameras (rounded down) train, with gallery-only persons as ``distractors`` in every test gallery; a
layout with a fixed split (Market-1501) has one :func:`fixed_split` whose images carry their ``role``.
:func:`split_frames` turns any split into its training, query and gallery images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .base import sorted_pids

VIPER_IDS = 632
COURSE_TRAIN = 482
LITERATURE_TRAIN = 316


@dataclass(frozen=True)
class Split:
    """Training and test identities. ``distractors``: identities whose camera-B images join every test
    gallery (never queries, never trained on). ``fixed``: the images' ``role`` column decides (then
    ``train`` / ``test`` list the training and query identities, for counting)."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    seed: int | None = None
    distractors: tuple[str, ...] = ()
    fixed: bool = False

    def __post_init__(self):
        if set(self.train) & set(self.test):
            raise ValueError("train and test identities overlap")
        if set(self.distractors) & (set(self.train) | set(self.test)):
            raise ValueError("distractor identities overlap the train or test identities")


def _n_train(n_ids: int, n_train: int | None, reference: int) -> int:
    if n_train is None:
        n_train = reference if n_ids == VIPER_IDS else round(n_ids * reference / VIPER_IDS)
    if not 0 < n_train < n_ids:
        raise DataError(f"cannot split {n_ids} identities with {n_train} for training")
    return n_train


def course_split(pids, n_train: int | None = None) -> Split:
    """Ids sorted (numerically where they are numbers); the first ``n_train`` train, the rest test."""
    ids = sorted_pids(pids)
    k = _n_train(len(ids), n_train, COURSE_TRAIN)
    return Split("course", tuple(ids[:k]), tuple(ids[k:]))


def random_splits(pids, n_train: int | None = None, n_splits: int = 10, seed: int = 0,
                  name: str = "random", reference: int = LITERATURE_TRAIN, distractors=()) -> list[Split]:
    """``n_splits`` random train/test splits; split ``i`` uses ``seed + i``."""
    ids = sorted_pids(pids)
    k = _n_train(len(ids), n_train, reference)
    splits = []
    for i in range(n_splits):
        order = np.random.default_rng(seed + i).permutation(len(ids))
        train = tuple(sorted_pids(ids[j] for j in order[:k]))
        test = tuple(sorted_pids(ids[j] for j in order[k:]))
        splits.append(Split(f"{name}-{i}", train, test, seed + i, tuple(sorted_pids(distractors))))
    return splits


def literature_splits(pids, n_splits: int = 10, seed: int = 0) -> list[Split]:
    """The literature protocol: half the ids (316 of VIPeR's 632) train, half test, 10 seeded splits."""
    return random_splits(pids, None, n_splits, seed, "literature", LITERATURE_TRAIN)


def random_course_splits(pids, n_splits: int = 10, seed: int = 0) -> list[Split]:
    """Course-sized (482 / 150) splits drawn at random instead of by sorted id."""
    return random_splits(pids, None, n_splits, seed, "random-course", COURSE_TRAIN)


def paired_and_gallery_only(frame) -> tuple[list[str], list[str]]:
    """Identities seen by both cameras, and identities seen only by camera B (gallery side)."""
    cams = frame.groupby("pid")["camera"].agg(lambda c: frozenset(c))
    paired = [p for p, c in cams.items() if c >= {0, 1}]
    gallery_only = [p for p, c in cams.items() if c == frozenset({1})]
    return sorted_pids(paired), sorted_pids(gallery_only)


def half_splits(frame, n_splits: int = 10, seed: int = 0, name: str = "literature") -> list[Split]:
    """Half of the paired identities (rounded down) train, the rest test; gallery-only identities are
    distractors in every test gallery (PRID 2011: 100 / 100 + 549; GRID 125 / 125 + the 0000 images;
    CUHK01 485 / 486)."""
    paired, gallery_only = paired_and_gallery_only(frame)
    if len(paired) < 2:
        raise DataError(f"{len(paired)} identities are seen by both cameras: at least 2 are needed for a split")
    return random_splits(paired, len(paired) // 2, n_splits, seed, name, distractors=gallery_only)


def fixed_split(frame, name: str = "fixed") -> Split:
    """The layout's own split (Market-1501's folders), from the images' ``role``."""
    train = sorted_pids(frame.pid[frame.role == "train"])
    query = [p for p in sorted_pids(frame.pid[frame.role == "query"]) if p not in set(train)]
    return Split(name, tuple(train), tuple(query), None, (), True)


def split_frames(ds, split: Split, reverse: bool = False):
    """``(train, query, gallery)`` image frames of a split (index reset). Query = camera A and gallery =
    camera B of the test identities, plus the distractors' camera-B images; a fixed split takes the
    images' roles. ``reverse`` swaps the cameras (two-camera splits without distractors only)."""
    import pandas as pd

    from ..errors import StudioError

    f = ds.frame
    if split.fixed:
        if reverse:
            raise StudioError("--reverse is not defined for a fixed query / gallery split")
        parts = [f[f.role == r] for r in ("train", "query", "gallery")]
    else:
        if reverse and split.distractors:
            raise StudioError("--reverse is not defined for a protocol with gallery distractors")
        qc, gc = (1, 0) if reverse else (0, 1)
        train = f[f.pid.isin(split.train)]
        test = f[f.pid.isin(split.test)]
        distractors = f[f.pid.isin(split.distractors) & (f.camera == gc)]
        parts = [train, test[test.camera == qc], pd.concat([test[test.camera == gc], distractors])]
    train, query, gallery = (p.reset_index(drop=True) for p in parts)
    if train.empty or query.empty or gallery.empty:
        raise StudioError(f"split {split.name} leaves no training, query or gallery images")
    return train, query, gallery
