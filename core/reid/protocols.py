"""The three VIPeR protocols, never mixed: the course split (sorted ids, 482 / 150), the literature
protocol (316 / 316, 10 seeded random splits) and 10 seeded random 482 / 150 splits."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..datasets import splits as S
from ..datasets.base import ReidDataset
from ..errors import StudioError

PROTOCOLS = ("course", "literature", "random-course")


def protocol_splits(ds: ReidDataset, protocol: str, n_splits: int = 10, seed: int = 0) -> list[S.Split]:
    if protocol == "course":
        return [S.course_split(ds.pids)]
    if protocol == "literature":
        return S.literature_splits(ds.pids, n_splits, seed)
    if protocol == "random-course":
        return S.random_course_splits(ds.pids, n_splits, seed)
    raise StudioError(f"unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")


def parse_split(ds: ReidDataset, text: str, seed: int = 0) -> S.Split:
    """``course``, ``literature:3`` (or ``literature-3``, a split's name) or ``random-course:7``."""
    m = re.fullmatch(r"(course|literature|random-course)(?:[:-](\d+))?", text.strip())
    if m is None:
        raise StudioError(f"split '{text}': use course, literature:I or random-course:I (I = 0..9)")
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
