"""Which training images an epoch draws, and in what order: balanced per person or per site
(``sampling_weights``), seeded per epoch, each example one of an image's cached views (``views``), as a
Keras dataset (``Epochs``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import StudioError

BALANCE = ("none", "person", "subset")


def sampling_weights(frame: pd.DataFrame, balance: str) -> np.ndarray | None:
    """The chance of each training image (rows of ``frame``) to be drawn for a training example: None for
    ``none`` (every image once per epoch, shuffled); ``person``: each person's images share one person's
    chance (TownCentre's ~31 frames of a person count once); ``subset``: each subset (site) gets the same
    total chance, so the largest does not dominate."""
    if balance == "none":
        return None
    if balance not in BALANCE:
        raise StudioError(f"unknown balance '{balance}': {', '.join(BALANCE)}")
    key = frame["person"] if balance == "person" else frame.get("subset", pd.Series("all", index=frame.index))
    counts = key.map(key.value_counts()).to_numpy(np.float64)
    p = 1 / counts
    return p / p.sum()


def epoch_rows(n: int, p: np.ndarray | None, seed: int, epoch: int) -> np.ndarray:
    """One epoch's training rows (positions in the training part): each of the ``n`` once in a seeded
    order when ``p`` is None, else ``n`` drawn with chances ``p`` (``sampling_weights``)."""
    if p is None:
        return np.random.default_rng((seed, epoch)).permutation(n)
    return np.random.default_rng((seed, epoch, 7)).choice(n, n, p=p)


def pick_views(views: list[np.ndarray], idx: np.ndarray, key: tuple) -> np.ndarray:
    """``views[v][i]`` for each ``i`` in ``idx``, the view ``v`` at random (seeded by ``key``): each
    training example is the image, its mirror or, if cached, its camera view."""
    if len(views) == 1:
        return views[0][idx]
    which = (np.random.default_rng(key).random(len(idx)) * len(views)).astype(int)
    out = np.empty((len(idx),) + views[0].shape[1:], views[0].dtype)
    for v, arr in enumerate(views):
        out[which == v] = arr[idx[which == v]]
    return out


class Epochs:
    """A Keras ``PyDataset`` over the training rows: batch ``i`` of an epoch is ``take(rows, key)``, the
    rows from ``epoch_rows`` (anew each epoch), ``key`` = (seed, epoch, i) for any other random choice.
    Built on first use so that ``keras`` is imported only when training."""

    def __new__(cls, take, n: int, p: np.ndarray | None, batch: int, seed: int):
        import keras

        class _Epochs(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.epoch, self.rows = 0, epoch_rows(n, p, seed, 0)

            def __len__(self):
                return int(np.ceil(n / batch))

            def __getitem__(self, i):
                return take(self.rows[i * batch:(i + 1) * batch], (seed, self.epoch, i))

            def on_epoch_end(self):
                self.epoch += 1
                self.rows = epoch_rows(n, p, seed, self.epoch)

        return _Epochs()
