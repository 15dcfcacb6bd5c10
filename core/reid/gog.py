"""GOG: the hierarchical Gaussian descriptor (Matsukawa et al., CVPR 2016, "Hierarchical Gaussian
Descriptor for Person Re-Identification"), written from the paper.

On an image resized to 128 x 48:

1. every pixel gets ``[y, M_0, M_90, M_180, M_270, c_1, c_2, c_3]``: its row (0..1), the gradient
   magnitude soft-assigned to four orientation bins, and its colour in one colour space (RGB, Lab,
   HSV, or the two channels of normalised rg);
2. every 5 x 5 patch (step 2) is summarised by the Gaussian of its pixel features, embedded as a
   symmetric positive-definite matrix ``|S|^(-1/(d+1)) [[S + m m', m], [m', 1]]`` and flattened by the
   matrix logarithm (upper triangle, off-diagonals times sqrt 2): the *patch Gaussians*;
3. in each of 7 overlapping horizontal strips (height 32, step 16) the patch vectors are summarised by
   their Gaussian again (patches weighted by a Gaussian of their distance from the image's vertical
   centre line, sigma = width / 4, to play down the background) and embedded the same way.

One block of ``7 x (p + 1)(p + 2) / 2`` values per colour space (``p`` the patch-vector length): 7,567
for RGB, Lab and HSV, 4,921 for nRnG, 27,622 in all. Each block is centred and scaled to unit length
separately before a metric is learned (``handcrafted.BlockNormaliser``), as the paper does.
"""
from __future__ import annotations

import cv2
import numpy as np

H, W = 128, 48
PATCH, STEP = 5, 2
STRIPS, STRIP_H, STRIP_STEP = 7, 32, 16
EPS = 1e-3
SPACES = ("rgb", "lab", "hsv", "nrng")


def _pixel_dims(space: str) -> int:
    return 5 + (2 if space == "nrng" else 3)


def block_sizes(spaces=SPACES) -> list[int]:
    out = []
    for s in spaces:
        d = _pixel_dims(s)
        p = (d + 1) * (d + 2) // 2
        out.append(STRIPS * (p + 1) * (p + 2) // 2)
    return out


def spd_log_vectors(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Gaussians ``(n, d)`` / ``(n, d, d)`` -> ``(n, (d+1)(d+2)/2)``: the log-Euclidean vector of each
    one's SPD embedding (determinant-normalised, so the scale of the covariance does not dominate)."""
    n, d = mean.shape
    cov = cov + EPS * np.eye(d)
    sign, logdet = np.linalg.slogdet(cov)
    P = np.empty((n, d + 1, d + 1))
    P[:, :d, :d] = cov + mean[:, :, None] * mean[:, None, :]
    P[:, :d, d] = mean
    P[:, d, :d] = mean
    P[:, d, d] = 1.0
    P *= np.exp(-logdet / (d + 1))[:, None, None]
    w, v = np.linalg.eigh(P)
    logm = (v * np.log(np.maximum(w, 1e-12))[:, None, :]) @ np.swapaxes(v, 1, 2)
    iu = np.triu_indices(d + 1)
    return logm[:, iu[0], iu[1]] * np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))


def _shared_channels(img: np.ndarray) -> np.ndarray:
    """Row position and the four orientation-binned gradient magnitudes, ``H x W x 5``."""
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    gx = cv2.filter2D(gray, -1, np.array([[-1, 0, 1]], np.float32), borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(gray, -1, np.array([[-1], [0], [1]], np.float32), borderType=cv2.BORDER_REPLICATE)
    mag = np.hypot(gx, gy)
    ori = np.mod(np.arctan2(gy, gx), 2 * np.pi) / (np.pi / 2)          # 0..4, bins at 0, 90, 180, 270 deg
    low = np.floor(ori).astype(np.int64) % 4
    frac = ori - np.floor(ori)
    out = np.zeros(gray.shape + (5,), np.float32)
    out[..., 0] = (np.arange(img.shape[0], dtype=np.float32) / (img.shape[0] - 1))[:, None]
    for b in range(4):
        out[..., 1 + b] = mag * ((low == b) * (1 - frac) + ((low + 1) % 4 == b) * frac)
    return out


def _colour(img: np.ndarray, space: str) -> np.ndarray:
    if space == "rgb":
        return img.astype(np.float32) / 255
    if space == "lab":
        return cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32) / 255
    if space == "hsv":
        return cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL).astype(np.float32) / 255
    if space == "nrng":
        f = img.astype(np.float32)
        return (f / np.maximum(f.sum(2, keepdims=True), 1.0))[..., :2]
    raise ValueError(f"unknown colour space '{space}'")


def _patch_gaussians(feat: np.ndarray):
    """Mean and covariance of every PATCH x PATCH window (step STEP), from box filters."""
    d = feat.shape[2]
    iu = np.triu_indices(d)
    box = lambda x: cv2.boxFilter(x, -1, (PATCH, PATCH), normalize=True, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    means = np.stack([box(feat[..., c]) for c in range(d)], 2)
    squares = np.stack([box(feat[..., i] * feat[..., j]) for i, j in zip(*iu)], 2)
    r = PATCH // 2
    ys = np.arange(r, feat.shape[0] - r, STEP)
    xs = np.arange(r, feat.shape[1] - r, STEP)
    m = means[np.ix_(ys, xs)].reshape(-1, d).astype(np.float64)
    sq = squares[np.ix_(ys, xs)].reshape(-1, len(iu[0])).astype(np.float64)
    cov = np.zeros((len(m), d, d))
    cov[:, iu[0], iu[1]] = sq
    cov[:, iu[1], iu[0]] = sq
    cov -= m[:, :, None] * m[:, None, :]
    return m, cov, ys, xs


def _space_block(shared: np.ndarray, img: np.ndarray, space: str) -> np.ndarray:
    feat = np.concatenate([shared, _colour(img, space)], 2)
    m, cov, ys, xs = _patch_gaussians(feat)
    g = spd_log_vectors(m, cov).reshape(len(ys), len(xs), -1)
    wx = np.exp(-((xs - img.shape[1] / 2) ** 2) / (2 * (img.shape[1] / 4) ** 2))
    means, covs = [], []
    for k in range(STRIPS):
        rows = (ys >= k * STRIP_STEP) & (ys < k * STRIP_STEP + STRIP_H)
        v = g[rows].reshape(-1, g.shape[2])
        w = np.tile(wx, int(rows.sum()))
        w /= w.sum()
        mu = w @ v
        c = v - mu
        means.append(mu)
        covs.append((c * w[:, None]).T @ c)
    return spd_log_vectors(np.stack(means), np.stack(covs)).ravel()


def gog(image: np.ndarray, spaces=SPACES) -> np.ndarray:
    """GOG descriptor of an RGB uint8 image (any size): the colour spaces' blocks, concatenated
    (``block_sizes(spaces)`` long each), float32."""
    interp = cv2.INTER_AREA if image.shape[0] > H else cv2.INTER_LINEAR
    img = cv2.resize(image, (W, H), interpolation=interp)
    shared = _shared_channels(img)
    return np.concatenate([_space_block(shared, img, s) for s in spaces]).astype(np.float32)
