"""Seeded splits of an attribute dataset, as index arrays into its frame.

* ``random_image_split``: images shuffled and cut 50 % / 10 % / 40 % (PETA's train / val / test
  proportions, 9,500 / 1,900 / 7,600 of 19,000). The same person can land in several parts
  (TownCentre has ~31 frames per person), which flatters every model.
* ``person_split``: persons (``subset/id``) shuffled and cut in the same proportions, so no person
  is in two parts.
* ``published_split``: the dataset's own train / val / test parts (PA-100K's 80,000 / 10,000 /
  10,000), from the frame's ``part`` column.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PROPORTIONS = (0.5, 0.1, 0.4)


@dataclass(frozen=True)
class AttrSplit:
    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int


def _cut(n: int, proportions=PROPORTIONS) -> tuple[int, int]:
    a = int(round(n * proportions[0]))
    b = a + int(round(n * proportions[1]))
    return a, b


def random_image_split(frame: pd.DataFrame, seed: int = 0) -> AttrSplit:
    order = np.random.default_rng(seed).permutation(len(frame))
    a, b = _cut(len(frame))
    return AttrSplit("random-image", np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]), seed)


def person_split(frame: pd.DataFrame, seed: int = 0) -> AttrSplit:
    persons = np.array(sorted(frame["person"].unique()))
    order = np.random.default_rng(seed).permutation(len(persons))
    a, b = _cut(len(persons))
    part = {}
    for name, chunk in (("train", order[:a]), ("val", order[a:b]), ("test", order[b:])):
        for i in chunk:
            part[persons[i]] = name
    where = frame["person"].map(part).to_numpy()
    idx = np.arange(len(frame))
    return AttrSplit("person-disjoint", idx[where == "train"], idx[where == "val"], idx[where == "test"], seed)


def published_split(frame: pd.DataFrame, seed: int = 0) -> AttrSplit:
    from ..errors import StudioError

    if "part" not in frame.columns:
        raise StudioError("this dataset has no published split: use random-image or person-disjoint")
    part = frame["part"].to_numpy()
    idx = np.arange(len(frame))
    return AttrSplit("published", idx[part == "train"], idx[part == "val"], idx[part == "test"], seed)


KINDS = ("random-image", "person-disjoint", "published")


def make(frame: pd.DataFrame, kind: str, seed: int = 0) -> AttrSplit:
    if kind == "published":
        return published_split(frame, seed)
    if kind in ("random", "random-image"):
        return random_image_split(frame, seed)
    if kind in ("person", "person-disjoint"):
        return person_split(frame, seed)
    from ..errors import StudioError

    raise StudioError(f"unknown split '{kind}': random-image, person-disjoint or published")
