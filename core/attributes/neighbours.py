"""Neighbour votes: attribute probabilities from the most similar training images, blended with the heads.

The training images' backbone features are projected by PCA (fitted on them) to ``dims`` values and
scaled to unit length; an image's vote for an attribute is the share of its ``k`` nearest training
images (cosine similarity, each weighted by ``exp(similarity * temperature)``) that have it, counting
only neighbours whose label is known. Mutually exclusive groups vote per class; the group's "none"
class gets what its members leave. ``blend`` mixes the votes with the heads' probabilities; ``k`` and the
mixing weight are chosen on the validation images (``train.choose_blend``), never on the test images.

On PETA's random image split the same person appears in training and test images, which neighbours
exploit; on the person-disjoint split they help far less, and ``train.choose_blend`` may pick the heads alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TEMPERATURE = 10.0


@dataclass
class NeighbourVotes:
    mean: np.ndarray            # feature mean of the training images
    components: np.ndarray      # PCA directions, dims x feature length
    train: np.ndarray           # training images, projected and unit length, n x dims
    labels: np.ndarray          # n x attributes, NaN = unknown
    attributes: list
    k: int = 10

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, attributes: list[str], dims: int = 256,
            seed: int = 0) -> "NeighbourVotes":
        from sklearn.decomposition import PCA

        dims = int(min(dims, len(features) - 1, features.shape[1]))
        pca = PCA(dims, svd_solver="randomized", random_state=seed).fit(features)
        out = cls(pca.mean_.astype(np.float32), pca.components_.astype(np.float32), np.zeros((0, dims), np.float32),
                  np.asarray(labels, np.float32), list(attributes))
        out.train = out._project(features)
        return out

    def _project(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, np.float32) - self.mean) @ self.components.T
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def votes(self, features: np.ndarray, k: int | None = None, batch: int = 1024) -> np.ndarray:
        """n x attributes: the weighted share of the k nearest training images with each attribute."""
        k = int(min(k or self.k, len(self.train)))
        known = ~np.isnan(self.labels)
        y = np.nan_to_num(self.labels, nan=0.0)
        out = []
        z = self._project(features)
        for start in range(0, len(z), batch):
            sim = z[start:start + batch] @ self.train.T
            nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            w = np.exp((np.take_along_axis(sim, nn, 1) - 1.0) * TEMPERATURE)[:, :, None]
            num = (w * y[nn]).sum(1)
            den = (w * known[nn]).sum(1)
            out.append(np.where(den > 0, num / np.maximum(den, 1e-12), 0.5))
        return np.concatenate(out) if out else np.zeros((0, len(self.attributes)), np.float32)

    def frame(self, features: np.ndarray, groups: dict[str, list[str]], k: int | None = None) -> pd.DataFrame:
        """The votes in the heads' layout (``AttributeModel._frame``): one column per attribute plus
        ``<group>: none`` for each exclusive group."""
        v = self.votes(features, k)
        df = pd.DataFrame(v, columns=self.attributes)
        for g, members in groups.items():
            df[f"{g}: none"] = np.clip(1.0 - df[members].sum(1), 0.0, 1.0)
        return df

    def arrays(self) -> dict:
        return {"knn_mean": self.mean, "knn_components": self.components, "knn_train": self.train,
                "knn_labels": self.labels}

    @classmethod
    def from_arrays(cls, a: dict, attributes: list[str], k: int) -> "NeighbourVotes":
        out = cls(a["knn_mean"], a["knn_components"], a["knn_train"], a["knn_labels"], list(attributes), k)
        if out.labels.shape != (len(out.train), len(attributes)) or out.components.shape[0] != out.train.shape[1]:
            raise KeyError("knn array shapes")
        return out


def blend(heads: pd.DataFrame, votes: pd.DataFrame, weight: float) -> pd.DataFrame:
    """``weight`` x heads + (1 - weight) x votes, column by column (weight 1: the heads alone)."""
    return heads * weight + votes[heads.columns] * (1.0 - weight)
