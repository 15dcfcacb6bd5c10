"""Seeded splits of an attribute dataset, as index arrays into its frame.

* ``random_image_split``: images shuffled and cut 50 % / 10 % / 40 % (PETA's train / val / test
  proportions, 9,500 / 1,900 / 7,600 of 19,000). The same person can land in several parts
  (TownCentre has ~31 frames per person), which flatters every model.
* ``person_split``: persons (``subset/id``) shuffled and cut in the same proportions, so no person
  is in two parts.
* ``published_split``: the dataset's own train / val / test parts (PA-100K's 80,000 / 10,000 /
  10,000), from the frame's ``part`` column.
* ``leave_out_split`` (kind ``leave-out:<subset>``): cross-site. Every image of one subset (one site,
  its own cameras: PETA's VIPeR, TownCentre, ...) is the test part; the other subsets' persons are
  shuffled and cut 5 : 1 into train and validation (PETA's 50 : 10), so that everything chosen on
  validation is chosen without the test site. ``leave_out_kinds`` lists one kind per subset.
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


LEAVE_OUT = "leave-out:"


def subsets(frame: pd.DataFrame) -> list[str]:
    """The frame's subsets (sites) in order, or [] when it has no ``subset`` column or only one."""
    if "subset" not in frame.columns:
        return []
    names = sorted(frame["subset"].dropna().astype(str).unique())
    return names if len(names) > 1 else []


def leave_out_kinds(frame: pd.DataFrame) -> list[str]:
    return [LEAVE_OUT + s for s in subsets(frame)]


def leave_out_split(frame: pd.DataFrame, held_out: str, seed: int = 0) -> AttrSplit:
    from ..errors import StudioError

    names = subsets(frame)
    if held_out not in names:
        raise StudioError(f"no subset '{held_out}' to leave out: "
                          + (f"this dataset's subsets are {', '.join(names)}" if names else
                             "this dataset is not made of several subsets (sites)"))
    site = frame["subset"].astype(str).to_numpy() == held_out
    others = np.array(sorted(frame.loc[~site, "person"].unique()))
    order = np.random.default_rng(seed).permutation(len(others))
    cut = int(round(len(others) * PROPORTIONS[0] / (PROPORTIONS[0] + PROPORTIONS[1])))
    val_persons = set(others[order[cut:]])
    in_val = frame["person"].isin(val_persons).to_numpy()
    idx = np.arange(len(frame))
    return AttrSplit(LEAVE_OUT + held_out, idx[~site & ~in_val], idx[~site & in_val], idx[site], seed)


KINDS = ("random-image", "person-disjoint", "published")


def make(frame: pd.DataFrame, kind: str, seed: int = 0) -> AttrSplit:
    if kind.startswith(LEAVE_OUT):
        return leave_out_split(frame, kind[len(LEAVE_OUT):], seed)
    if kind == "published":
        return published_split(frame, seed)
    if kind in ("random", "random-image"):
        return random_image_split(frame, seed)
    if kind in ("person", "person-disjoint"):
        return person_split(frame, seed)
    from ..errors import StudioError

    raise StudioError(f"unknown split '{kind}': random-image, person-disjoint, published or "
                      f"{LEAVE_OUT}<subset>")
