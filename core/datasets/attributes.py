"""The container shared by the attribute loaders (PETA and the generic attribute CSV)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

KEY_COLUMNS = ("path", "subset", "pid", "person")


@dataclass
class AttributeDataset:
    """Images with binary attribute labels.

    ``frame`` has one row per image, with columns

    * ``path`` (str): absolute image path;
    * ``subset`` (str): the source (a PETA subset, or the CSV's name);
    * ``pid`` (str): person id within the subset ('' when unknown);
    * ``person`` (str): ``subset/pid``, unique across subsets (the image path when the id is unknown);
    * one float32 column per attribute in ``attributes``: 1.0, 0.0, or NaN for unknown;
    * ``part`` (str), only where the dataset fixes its split (PA-100K): ``train`` / ``val`` / ``test``.
    """

    name: str
    root: Path
    frame: pd.DataFrame
    attributes: list[str]
    problems: list[str] = field(default_factory=list)

    def labels(self, attributes: list[str] | None = None) -> np.ndarray:
        """``N x A`` float32 matrix (NaN = unknown) for the given attributes (default: all)."""
        return self.frame[list(attributes or self.attributes)].to_numpy(np.float32)

    def examples(self, attribute: str, n: int = 8, seed: int = 0, value: float = 1.0) -> list[str]:
        """Paths of up to ``n`` images whose ``attribute`` equals ``value``, one per person, seeded."""
        rows = self.frame[self.frame[attribute] == value].drop_duplicates("person")
        if len(rows) > n:
            rows = rows.sample(n, random_state=seed)
        return rows["path"].tolist()

    def positives(self) -> pd.Series:
        """Number of positive images per attribute, most frequent first."""
        return self.frame[self.attributes].sum().sort_values(ascending=False).astype(int)


def safe_names(names: list[str], where) -> tuple[list[str], list[str]]:
    """Attribute names usable as network output names: characters other than letters, digits, ``_``,
    ``.`` and ``-`` become ``_`` (PA-100K's ``Skirt&Dress`` -> ``Skirt_Dress``). Returns the names and a
    problem line per renamed one; two names that become one are a DataError."""
    import re

    from ..errors import DataError

    out, problems = [], []
    for name in names:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name.strip()) or "attribute"
        if safe != name:
            problems.append(f"attribute '{name}' is called '{safe}' (network output names allow letters, digits, _ . -)")
        out.append(safe)
    if len(set(out)) != len(out):
        dup = next(n for n in out if out.count(n) > 1)
        raise DataError(f"two attribute names both become '{dup}'; rename one", where)
    return out, problems


def make_frame(rows: list[dict], attributes: list[str], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(KEY_COLUMNS) + list(extra) + list(attributes))
    for a in attributes:
        frame[a] = frame[a].astype("float32")
    return frame
