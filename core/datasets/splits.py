"""Identity splits for re-identification (train ids / test ids), all seeded and reproducible.

Protocols (VIPeR, 632 identities):

* **course split**: identities sorted by id, the first 482 train, the remaining 150 test. VIPeR's ids
  are not in random order, and its last 150 ids are much harder than a random 150.
* **literature protocol**: 316 train / 316 test identities, 10 seeded random splits, report the mean.
* **random course-sized splits**: 10 seeded random 482 / 150 splits.

On a dataset that is not VIPeR-sized, the counts scale with the number of identities (482/632 for the
course split, one half for the literature protocol).
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
    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    seed: int | None = None

    def __post_init__(self):
        if set(self.train) & set(self.test):
            raise ValueError("train and test identities overlap")


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
                  name: str = "random", reference: int = LITERATURE_TRAIN) -> list[Split]:
    """``n_splits`` random train/test splits; split ``i`` uses ``seed + i``."""
    ids = sorted_pids(pids)
    k = _n_train(len(ids), n_train, reference)
    splits = []
    for i in range(n_splits):
        order = np.random.default_rng(seed + i).permutation(len(ids))
        train = tuple(sorted_pids(ids[j] for j in order[:k]))
        test = tuple(sorted_pids(ids[j] for j in order[k:]))
        splits.append(Split(f"{name}-{i}", train, test, seed + i))
    return splits


def literature_splits(pids, n_splits: int = 10, seed: int = 0) -> list[Split]:
    """The literature protocol: half the ids (316 of VIPeR's 632) train, half test, 10 seeded splits."""
    return random_splits(pids, None, n_splits, seed, "literature", LITERATURE_TRAIN)


def random_course_splits(pids, n_splits: int = 10, seed: int = 0) -> list[Split]:
    """Course-sized (482 / 150) splits drawn at random instead of by sorted id."""
    return random_splits(pids, None, n_splits, seed, "random-course", COURSE_TRAIN)
