"""The non-deep methods: hand-crafted descriptors (LOMO, GOG) and the XQDA metric.

**LOMO** (after Liao et al., CVPR 2015, "Person Re-identification by Local Maximal Occurrence
Representation and Metric Learning"), on an image resized to 128 x 48:

* 10 x 10 windows with a step of 5; in each window a joint HSV histogram (8 x 8 x 8 bins) and two
  scale-invariant local ternary pattern (SILTP) texture histograms (4 neighbours at radius 3 and 5,
  tolerance 0.3: 3^4 = 81 bins each, on grey levels);
* the histograms of all windows in one horizontal row are max-pooled (the "local maximal occurrence":
  robust to viewpoint change along the row), giving one histogram per row;
* the same at three scales (the image shrunk 2x and 4x by 2 x 2 averaging);
* ``log(1 + h)`` and L2 normalisation per feature group (colour, texture).

The paper's Retinex pre-processing of the colour part is left out: three Retinex variants tried on
VIPeR's literature splits all lowered Rank-1 (38.6 % without, 22-34 % with).

**GOG** (``gog.py``): the hierarchical Gaussian descriptor, in four colour spaces. **LOMO + GOG**
concatenates both, each colour space's GOG block and LOMO normalised separately (``BlockNormaliser``).

**XQDA** (cross-view quadratic discriminant analysis): from cross-camera pairs of training images,
the intra-personal covariance ``S_I`` (same person) and the extra-personal ``S_E`` (different people)
of feature differences; a subspace ``W`` of the generalised eigenvectors of ``(S_I, S_E)`` with
eigenvalue > 1 (at most ``max_dims``), and the metric ``M = inv(W' S_I W) - inv(W' S_E W)``; the
distance is ``(x - z)' W M W' (x - z)``. Features are first centred on the training mean and scaled to
unit length, then projected by PCA (fitted on training data), which loses nothing within the span of
the training set. ``max_dims = 100`` and the centring + unit length were chosen on 4 of VIPeR's 10
literature splits (Rank-1 35.6 % against 33.5 % without them), a mild optimistic bias that the
benchmark notes.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from .. import threads
from ..feature_cache import ContentCache

H, W = 128, 48
WIN, STEP = 10, 5
HSV_BINS = 8
SILTP_RADII, SILTP_TAU = (3, 5), 0.3


def siltp_codes(gray: np.ndarray, radius: int, tau: float = SILTP_TAU) -> np.ndarray:
    """Scale-invariant local ternary pattern (Liao et al., CVPR 2010) with 4 neighbours at ``radius``:
    each neighbour is 1 when brighter than ``(1 + tau)`` times the centre, 2 when darker than
    ``(1 - tau)`` times it, else 0; the code is the base-3 number of the four digits (0..80)."""
    g = np.pad(gray.astype(np.float64), radius, mode="edge")
    c = g[radius:-radius, radius:-radius]
    code = np.zeros(c.shape, np.int64)
    for k, (dy, dx) in enumerate(((0, radius), (-radius, 0), (0, -radius), (radius, 0))):
        n = g[radius + dy:g.shape[0] - radius + dy, radius + dx:g.shape[1] - radius + dx]
        code += ((n > (1 + tau) * c) + 2 * (n < (1 - tau) * c)) * 3 ** k
    return code


def _row_max_histograms(codes: np.ndarray, n_bins: int) -> np.ndarray:
    """Per row of windows, the max over horizontal positions of each window's histogram.

    All windows at once: each window's codes are offset by ``window index x n_bins`` so that a single
    ``bincount`` gives every window's histogram."""
    windows = np.lib.stride_tricks.sliding_window_view(codes, (WIN, WIN))[::STEP, ::STEP]
    rows, cols = windows.shape[:2]
    flat = windows.reshape(rows * cols, WIN * WIN)
    offsets = (np.arange(rows * cols) * n_bins)[:, None]
    hist = np.bincount((flat + offsets).ravel(), minlength=rows * cols * n_bins)
    return hist.reshape(rows, cols, n_bins).max(1).astype(np.float64)


def lomo(image: np.ndarray) -> np.ndarray:
    """LOMO-like descriptor of an RGB uint8 image (any size); float32 vector."""
    img = cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA if image.shape[0] > H else cv2.INTER_LINEAR)
    colour, texture = [], []
    for _ in range(3):
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
        q = (hsv.astype(np.int64) * HSV_BINS) // 256
        joint = q[..., 0] * HSV_BINS * HSV_BINS + q[..., 1] * HSV_BINS + q[..., 2]
        colour.append(_row_max_histograms(joint, HSV_BINS ** 3).ravel())
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        for radius in SILTP_RADII:
            texture.append(_row_max_histograms(siltp_codes(gray, radius), 81).ravel())
        img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if img.shape[0] < WIN or img.shape[1] < WIN:
            break
    parts = []
    for group in (np.concatenate(colour), np.concatenate(texture)):
        g = np.log1p(group)
        parts.append(g / max(np.linalg.norm(g), 1e-12))
    return np.concatenate(parts).astype(np.float32)


# ----------------------------------------------------------------------------- descriptors
DESCRIPTOR_VERSION = 2       # 1: LOMO with LBP texture (models saved with it must be retrained)
LOMO_DIMS = HSV_BINS ** 3 * (24 + 11 + 5) + 81 * len(SILTP_RADII) * (24 + 11 + 5)
DESCRIPTORS = ("lomo", "gog", "lomo+gog")


_MEMO: dict | None = None


@contextmanager
def memoised():
    """Within the block, each image's descriptors are computed once (keyed by its pixels): for
    benchmarks that describe the same images on many splits. Not thread-safe; not for the app."""
    global _MEMO
    _MEMO = {}
    try:
        yield
    finally:
        _MEMO = None


def _single(image: np.ndarray, name: str, threads: int = 1) -> np.ndarray:
    from . import gog

    fn = lomo if name == "lomo" else (lambda im: gog.gog(im, threads=threads))
    if _MEMO is None:
        return fn(image)
    key = (name, image.shape, hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest())
    if key not in _MEMO:
        _MEMO[key] = fn(image)
    return _MEMO[key]


def describe(image: np.ndarray, descriptor: str, threads: int = 1) -> np.ndarray:
    """The named descriptor of an RGB uint8 image: ``lomo``, ``gog`` or ``lomo+gog`` (concatenated).
    ``threads=2``: GOG's colour spaces on two threads (one query image)."""
    if descriptor not in DESCRIPTORS:
        raise ValueError(f"unknown descriptor '{descriptor}'")
    return np.concatenate([_single(image, name, threads) for name in descriptor.split("+")])


def describe_many(images: list[np.ndarray], descriptor: str, workers: int = 2) -> np.ndarray:
    """``describe`` for a list of images, ``workers`` threads at a time (OpenCV and numpy's linear
    algebra release the GIL, so two threads use both cores). BLAS is held to one thread meanwhile: its
    own pool on top of ours made two workers no faster than one (``bench/results/reid-gog.md``).
    A single image is split across the workers by GOG's colour spaces instead."""
    with threads.limited(1):
        if len(images) == 1:
            return describe(images[0], descriptor, threads=workers)[None]
        if workers <= 1:
            return np.stack([describe(im, descriptor) for im in images])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            return np.stack(list(pool.map(lambda im: describe(im, descriptor), images)))


class DescriptorCache(ContentCache):
    """The descriptors of image files, cached on disk by content (``feature_cache.ContentCache``) and
    descriptor version: training, the test gallery and ``core.prepare`` describe an image once, and a
    page opened after them reads its gallery from disk."""

    chunk = 64

    def __init__(self, descriptor: str, cache_dir=None, workers: int = 2, mirror: bool = False):
        """``mirror``: the descriptors of the images flipped left to right (more training samples of the
        same persons for a metric), kept apart from the plain ones."""
        if descriptor not in DESCRIPTORS:
            raise ValueError(f"unknown descriptor '{descriptor}'")
        self.descriptor, self.workers, self.mirror = descriptor, workers, mirror
        self.label = descriptor.upper() + (", mirrored" if mirror else "")
        super().__init__(f"handcrafted-{descriptor.replace('+', '-')}-v{DESCRIPTOR_VERSION}"
                         + ("-mirror" if mirror else ""), cache_dir)

    def compute(self, images: list[np.ndarray]) -> np.ndarray:
        if self.mirror:
            images = [np.ascontiguousarray(im[:, ::-1]) for im in images]
        return describe_many(images, self.descriptor, self.workers)


def blocks(descriptor: str) -> tuple[tuple[int, float], ...]:
    """(length, weight) of the parts normalised separately before XQDA; () = the whole vector at once.

    GOG's four colour-space blocks each get unit length times 1/2 (together unit length, as LOMO)."""
    from . import gog

    gog_blocks = tuple((n, 0.5) for n in gog.block_sizes())
    return {"lomo": (), "gog": gog_blocks, "lomo+gog": ((LOMO_DIMS, 1.0),) + gog_blocks}[descriptor]


@dataclass
class XQDA:
    """Fit on cross-camera training data; ``distance(query, gallery)`` for new data."""

    max_dims: int = 100
    reg: float = 1e-3
    pca_energy: float = 0.999
    blocks: tuple = ()           # (length, weight) parts, each centred and scaled to unit length alone

    def fit(self, xa: np.ndarray, ya, xb: np.ndarray, yb) -> "XQDA":
        """``xa`` / ``ya``: camera-A features and identity labels; ``xb`` / ``yb``: camera B."""
        ya, yb = np.asarray(ya), np.asarray(yb)
        self.center_ = np.vstack([xa, xb]).astype(np.float64).mean(0)
        xa, xb = self._unit(xa), self._unit(xb)
        allx = np.vstack([xa, xb])
        self.mean_ = allx.mean(0)
        centred = allx - self.mean_
        # PCA through the n x n Gram matrix: n (training images) is far below d (feature length)
        evals, evecs = np.linalg.eigh(centred @ centred.T)
        order = np.argsort(evals)[::-1]
        evals, evecs = np.maximum(evals[order], 0), evecs[:, order]
        energy = np.cumsum(evals) / max(evals.sum(), 1e-12)
        keep = int(min(np.searchsorted(energy, self.pca_energy) + 1, (evals > evals[0] * 1e-10).sum()))
        pca = centred.T @ evecs[:, :keep] / np.sqrt(evals[:keep])
        a, b = (xa - self.mean_) @ pca, (xb - self.mean_) @ pca
        same = ya[:, None] == yb[None, :]
        n_i = same.sum()
        n_e = same.size - n_i
        if n_i == 0 or n_e == 0:
            raise ValueError("XQDA needs same-identity and different-identity cross-camera pairs")
        # sum over all cross pairs of (a_i - b_j)(a_i - b_j)^T, then the same-identity part
        na, nb = len(a), len(b)
        sa, sb = a.sum(0), b.sum(0)
        all_sum = nb * a.T @ a + na * b.T @ b - np.outer(sa, sb) - np.outer(sb, sa)
        ii, jj = np.nonzero(same)
        diff = a[ii] - b[jj]
        intra_sum = diff.T @ diff
        s_i = intra_sum / n_i
        s_e = (all_sum - intra_sum) / n_e
        d = s_i.shape[0]
        s_i += self.reg * np.trace(s_i) / d * np.eye(d)
        # generalised eigenproblem S_E w = lambda S_I w via whitening by S_I
        li, ui = np.linalg.eigh(s_i)
        whiten = ui / np.sqrt(np.maximum(li, 1e-12))
        le, ue = np.linalg.eigh(whiten.T @ s_e @ whiten)
        order = np.argsort(le)[::-1]
        r = max(1, min(self.max_dims, int((le > 1).sum())))
        W = whiten @ ue[:, order[:r]]
        self.M_ = np.linalg.inv(W.T @ s_i @ W) - np.linalg.inv(W.T @ s_e @ W)
        self._fold(pca, W)
        return self

    def fit_rows(self, F: np.ndarray, pids, cameras, rows, mirrored: np.ndarray | None = None) -> "XQDA":
        """``fit`` on the ``rows`` of ``F`` (camera 0 against camera 1); with ``mirrored`` (the same
        images' descriptors flipped left to right, row for row with ``F``) each training image's mirror
        is one more sample of its person."""
        pids, cameras, rows = np.asarray(pids), np.asarray(cameras), np.asarray(rows)
        a, b = rows[cameras[rows] == 0], rows[cameras[rows] == 1]
        if mirrored is None:
            return self.fit(F[a], pids[a], F[b], pids[b])
        return self.fit(np.vstack([F[a], mirrored[a]]), np.r_[pids[a], pids[a]],
                        np.vstack([F[b], mirrored[b]]), np.r_[pids[b], pids[b]])

    def _fold(self, pca: np.ndarray, W: np.ndarray) -> None:
        """PCA and the XQDA subspace as one ``d x r`` projection (r <= max_dims): a query costs ``d r``
        multiplications instead of ``d n`` (n: training images), and the saved model is that much smaller."""
        self.proj_ = pca @ W
        self.offset_ = self.mean_ @ self.proj_

    def _unit(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if x.shape[1] != self.center_.shape[0]:
            raise ValueError(f"features have {x.shape[1]} values; this metric was learned on {self.center_.shape[0]}")
        c = x - self.center_
        start = 0
        for size, weight in self.blocks:
            part = c[:, start:start + int(size)]
            part *= weight / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
            start += int(size)
        return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)

    def project(self, x: np.ndarray) -> np.ndarray:
        return self._unit(x) @ self.proj_ - self.offset_

    def distance(self, q: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Distances between raw features (projects both sides; see ``metric`` for projected ones)."""
        return self.metric(self.project(q), self.project(g))

    def metric(self, pq: np.ndarray, pg: np.ndarray) -> np.ndarray:
        """Distances between features already projected with ``project`` (a gallery is projected once)."""
        pq, pg = np.asarray(pq, np.float64), np.asarray(pg, np.float64)
        mq = (pq @ self.M_ * pq).sum(1)
        mg = (pg @ self.M_ * pg).sum(1)
        return mq[:, None] + mg[None, :] - 2 * pq @ self.M_ @ pg.T

    def arrays(self) -> dict:
        return {"center": self.center_, "mean": self.mean_, "proj": self.proj_, "M": self.M_,
                "blocks": np.asarray(self.blocks, np.float64).reshape(-1, 2)}

    @classmethod
    def from_arrays(cls, a: dict) -> "XQDA":
        """From ``arrays()``; files saved before the projection was folded (``pca`` and ``W``) still load."""
        blocks = tuple((int(n), float(w)) for n, w in np.asarray(a.get("blocks", np.zeros((0, 2)))).reshape(-1, 2))
        x = cls(blocks=blocks)
        x.center_, x.mean_, x.M_ = a["center"], a["mean"], a["M"]
        if "proj" in a:
            x.proj_ = a["proj"]
            x.offset_ = x.mean_ @ x.proj_
        else:
            x._fold(a["pca"], a["W"])
        if sum(n for n, _ in blocks) not in (0, len(x.center_)) or x.proj_.shape != (len(x.center_), len(x.M_)):
            raise KeyError("blocks")
        return x
