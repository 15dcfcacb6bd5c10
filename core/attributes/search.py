"""Finding people by their attributes: images ranked by the chance that they have every attribute asked
for (the product of the attributes' probabilities, each taken as its own evidence)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import StudioError


def rank_by_attributes(probs: pd.DataFrame, wanted: list[str], top: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, chance)``: the ``top`` rows of ``probs`` (one image a row, one column per attribute) most
    likely to have all of ``wanted``, best first (ties in row order), and that chance for each."""
    missing = [a for a in wanted if a not in probs.columns]
    if missing:
        raise StudioError(f"the model has no attribute {missing[0]!r}")
    if not wanted:
        return np.zeros(0, int), np.zeros(0)
    joint = np.prod(np.stack([probs[a].to_numpy(np.float64) for a in wanted]), axis=0)
    rows = np.argsort(-joint, kind="stable")[:top]
    return rows, joint[rows]
