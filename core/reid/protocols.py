"""Evaluation protocols per dataset layout, never mixed.

* two cameras (VIPeR) and identity folders: the course split (sorted ids, 482 / 150), the literature
  protocol (316 / 316, 10 seeded random splits) and 10 seeded random 482 / 150 splits;
* PRID 2011, GRID, CUHK01: ``literature``, the field's 10 seeded splits of half the paired persons,
  with gallery-only persons as distractors (:func:`core.datasets.splits.half_splits`);
* Market-1501 / DukeMTMC-reID: ``fixed``, the published split.

A split is named ``course``, ``fixed``, or ``<protocol>-<i>``; the first protocol of a layout is its
default, and its first split the default split of the CLI and the page.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..datasets import splits as S
from ..datasets.base import ReidDataset
from ..errors import StudioError

PROTOCOLS = ("course", "literature", "random-course", "fixed")
VIPER_STYLE = ("course", "literature", "random-course")
BY_LAYOUT = {"two-camera": VIPER_STYLE, "folders": VIPER_STYLE, "prid2011": ("literature",),
             "grid": ("literature",), "cuhk01": ("literature",), "market": ("fixed",)}


def available(ds: ReidDataset) -> tuple[str, ...]:
    """The protocols defined for this dataset's layout, the default first."""
    return BY_LAYOUT.get(ds.layout, VIPER_STYLE)


def default_split(ds: ReidDataset) -> str:
    first = available(ds)[0]
    return first if first in ("course", "fixed") else f"{first}-0"


def protocol_splits(ds: ReidDataset, protocol: str, n_splits: int = 10, seed: int = 0) -> list[S.Split]:
    if protocol not in PROTOCOLS:
        raise StudioError(f"unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")
    if protocol not in available(ds):
        raise StudioError(f"protocol '{protocol}' is not defined for {ds.name} ({ds.layout} layout); "
                          f"use {' or '.join(available(ds))}")
    if protocol == "fixed":
        return [S.fixed_split(ds.frame)]
    if ds.layout in BY_LAYOUT and BY_LAYOUT[ds.layout] == ("literature",):
        return S.half_splits(ds.frame, n_splits, seed)
    if protocol == "course":
        return [S.course_split(ds.pids)]
    if protocol == "literature":
        return S.literature_splits(ds.pids, n_splits, seed)
    return S.random_course_splits(ds.pids, n_splits, seed)


def parse_split(ds: ReidDataset, text: str | None = None, seed: int = 0) -> S.Split:
    """``course``, ``fixed``, ``literature:3`` (or ``literature-3``, a split's name) or ``random-course:7``;
    None: the layout's default split."""
    text = default_split(ds) if text is None else text
    m = re.fullmatch(r"(course|fixed|literature|random-course)(?:[:-](\d+))?", text.strip())
    if m is None:
        raise StudioError(f"split '{text}': use {', '.join(p if p in ('course', 'fixed') else p + ':I' for p in available(ds))}"
                          " (I = 0..9)")
    all_splits = protocol_splits(ds, m.group(1), 10, seed)
    i = int(m.group(2) or 0)
    if i >= len(all_splits):
        raise StudioError(f"split '{text}': the index must be 0..{len(all_splits) - 1}")
    return all_splits[i]


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Per-split rows -> mean and std per metric (std is 0 for a single split)."""
    df = pd.DataFrame(rows)
    metrics = [c for c in df.columns if c.startswith("Rank-") or c == "mAP"]
    out = {}
    for m in metrics:
        out[m] = df[m].mean()
        out[f"{m} std"] = df[m].std(ddof=0) if len(df) > 1 else 0.0
    out["splits"] = len(df)
    return pd.Series(out)


def mean_cmc(results) -> np.ndarray:
    return np.mean([r.cmc for r in results], axis=0)
