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

from functools import lru_cache

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
    return _log_vectors(_embedding(mean, cov + mean[:, :, None] * mean[:, None, :]))


def _embedding(mean: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``[[E[xx'] + eps I, m], [m', 1]]`` from the means and second moments (``S + m m'``)."""
    n, d = mean.shape
    P = np.empty((n, d + 1, d + 1))
    P[:, :d, :d] = second + EPS * np.eye(d)
    P[:, :d, d] = mean
    P[:, d, :d] = mean
    P[:, d, d] = 1.0
    return P


def _log_vectors(P: np.ndarray) -> np.ndarray:
    """The upper triangle (off-diagonals times sqrt 2) of ``log(|P|^(-1/k) P)`` for each ``k x k`` SPD
    matrix in ``P``, from one batched eigendecomposition: ``det P = det(S + eps I)`` (the Schur
    complement of the bottom-right 1 is ``1 - m' (S + m m')^-1 m``), so the determinant comes from the
    same eigenvalues, and scaling ``P`` only adds a constant to each of their logarithms."""
    n, k = P.shape[:2]
    w, v = np.linalg.eigh(P)
    logw = np.log(np.maximum(w, 1e-300))
    logw -= (logw.sum(1) / k)[:, None]                   # |P|^(-1/k) P: determinant 1
    np.maximum(logw, np.log(1e-12), out=logw)            # the floor on the scaled eigenvalues
    idx, scale = _upper(k)
    logm = np.matmul(v * logw[:, None, :], np.swapaxes(v, 1, 2))
    return np.take(logm.reshape(n, -1), idx, axis=1) * scale


@lru_cache(maxsize=None)
def _upper(k: int):
    """The flat positions of a ``k x k`` matrix's upper triangle, and sqrt 2 for its off-diagonals."""
    iu = np.triu_indices(k)
    return iu[0] * k + iu[1], np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))


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


def _window_means(x: np.ndarray) -> np.ndarray:
    """Means of every PATCH x PATCH window (step STEP) of ``x`` (``C x H x W``, float32), summed in
    float64 and rounded to float32, as OpenCV's box filter does; windows never cross the border.
    Returns ``(windows in row-major order, C + 1)`` in float64, the last column 1."""
    ny, nx = len(range(PATCH // 2, x.shape[1] - PATCH // 2, STEP)), len(range(PATCH // 2, x.shape[2] - PATCH // 2, STEP))
    rows = x[:, 0: STEP * (ny - 1) + 1: STEP].astype(np.float64)
    for k in range(1, PATCH):
        rows += x[:, k: k + STEP * (ny - 1) + 1: STEP]
    sums = rows[:, :, 0: STEP * (nx - 1) + 1: STEP].copy()
    for k in range(1, PATCH):
        sums += rows[:, :, k: k + STEP * (nx - 1) + 1: STEP]
    out = np.empty((ny * nx, len(x) + 1))
    out[:, :-1] = (sums * (1.0 / PATCH ** 2)).astype(np.float32).reshape(len(x), -1).T
    out[:, -1] = 1.0
    return out


@lru_cache(maxsize=None)
def _layout(spaces: tuple):
    """For the stacked channels ``[shared 5, colours of each space...]``: the channel pairs whose
    products are needed (any space's; the shared ones once), and the spaces grouped by the size ``k``
    of their ``k x k`` embeddings: ``(k, the spaces' positions, for each of them the column of
    [channels, products, 1] that fills each entry of its embedding, flattened in order)``."""
    index, start = [], 5
    for s in spaces:
        c = _pixel_dims(s) - 5
        index.append(list(range(5)) + list(range(start, start + c)))
        start += c
    pairs = sorted({(min(a, b), max(a, b)) for idx in index for a in idx for b in idx})
    pos = {p: start + k for k, p in enumerate(pairs)}
    one = start + len(pairs)
    fill = []
    for idx in index:
        e = idx + [None]
        fill.append([one if a is None and b is None else b if a is None else a if b is None
                     else pos[(min(a, b), max(a, b))] for a in e for b in e])
    groups = []
    for k in sorted({len(idx) + 1 for idx in index}):
        members = tuple(i for i, idx in enumerate(index) if len(idx) + 1 == k)
        groups.append((k, members, np.array([fill[i] for i in members]).ravel()))
    return np.array(pairs).T, groups


@lru_cache(maxsize=None)
def _strip_pieces(h: int, w: int):
    """The strips cut into the pieces between any two strip edges (overlapping strips share them):
    each piece's range of window rows, and which pieces make up each strip (``STRIPS x pieces``, 0/1);
    and the windows' weights along a row (a Gaussian of the distance from the vertical centre line)."""
    r = PATCH // 2
    ys, xs = np.arange(r, h - r, STEP), np.arange(r, w - r, STEP)
    starts = [k * STRIP_STEP for k in range(STRIPS)]
    edges = sorted({e for s in starts for e in (s, s + STRIP_H)})
    pieces = [(int(np.searchsorted(ys, lo)), int(np.searchsorted(ys, hi))) for lo, hi in zip(edges, edges[1:])]
    member = np.array([[float(s <= lo and hi <= s + STRIP_H) for lo, hi in zip(edges, edges[1:])] for s in starts])
    wx = np.exp(-((xs - w / 2) ** 2) / (2 * (w / 4) ** 2))
    return pieces, member, wx


def _patch_logs(img: np.ndarray, shared: np.ndarray, spaces: tuple) -> list[np.ndarray]:
    """Per colour space, the log-Euclidean vectors ``(windows, p)`` of the SPD embeddings of the pixel
    features' Gaussians in every PATCH x PATCH window (step STEP, row-major): all spaces' window sums in
    one pass, one eigendecomposition per embedding size."""
    x = np.concatenate([shared] + [_colour(img, s) for s in spaces], 2).transpose(2, 0, 1)
    (pi, pj), groups = _layout(spaces)
    stacked = np.empty((len(x) + len(pi),) + x.shape[1:], np.float32)
    stacked[: len(x)] = x
    np.multiply(x[pi], x[pj], out=stacked[len(x):])                      # channels, then their products
    means = _window_means(stacked)
    out = [None] * len(spaces)
    for k, members, cols in groups:
        P = means[:, cols].reshape(-1, k, k)                             # window-major, then space
        P[:, np.arange(k - 1), np.arange(k - 1)] += EPS
        logs = _log_vectors(P).reshape(len(means), len(members), -1)
        for j, i in enumerate(members):
            out[i] = logs[:, j]
    return out


def _blocks(img: np.ndarray, shared: np.ndarray, spaces: tuple) -> list[np.ndarray]:
    """Each colour space's block: the strips' Gaussians of the patch vectors (weighted sums over the
    pieces the strips share, added up per strip), embedded and flattened like the patches'."""
    pieces, member, wx = _strip_pieces(*img.shape[:2])
    nx = len(wx)
    strips = []
    for g in _patch_logs(img, shared, spaces):
        p = g.shape[1]
        s1, s2, tot = np.zeros((len(pieces), p)), np.zeros((len(pieces), p, p)), np.zeros(len(pieces))
        for j, (a, b) in enumerate(pieces):
            v = g[a * nx: b * nx]
            vw = v * np.tile(wx, b - a)[:, None]
            s1[j], s2[j], tot[j] = vw.sum(0), vw.T @ v, wx.sum() * (b - a)
        tot = member @ tot
        mean = (member @ s1) / tot[:, None]
        second = np.tensordot(member, s2, 1) / tot[:, None, None]
        strips.append(_embedding(mean, second))
    return [b.ravel() for b in _by_size(strips, _log_vectors)]


def _by_size(mats: list[np.ndarray], fn) -> list[np.ndarray]:
    """``fn`` once per matrix size over the stacked ``mats`` (three of the four colour spaces share
    one), results back in the original order."""
    out = [None] * len(mats)
    for k in sorted({m.shape[1] for m in mats}):
        members = [i for i, m in enumerate(mats) if m.shape[1] == k]
        res = fn(np.concatenate([mats[i] for i in members]))
        for i, part in zip(members, np.split(res, np.cumsum([len(mats[i]) for i in members])[:-1])):
            out[i] = part
    return out


def gog(image: np.ndarray, spaces=SPACES, threads: int = 1) -> np.ndarray:
    """GOG descriptor of an RGB uint8 image (any size): the colour spaces' blocks, concatenated
    (``block_sizes(spaces)`` long each), float32. ``threads=2`` describes half the colour spaces on a
    second thread (one uploaded query: about half the wait; many images are better split by image)."""
    interp = cv2.INTER_AREA if image.shape[0] > H else cv2.INTER_LINEAR
    img = cv2.resize(image, (W, H), interpolation=interp)
    shared = _shared_channels(img)
    spaces = tuple(spaces)
    if threads > 1 and len(spaces) > 1:
        from concurrent.futures import ThreadPoolExecutor

        half = (len(spaces) + 1) // 2
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_blocks, img, shared, spaces[:half])
            rest = _blocks(img, shared, spaces[half:])
            parts = first.result() + rest
    else:
        parts = _blocks(img, shared, spaces)
    return np.concatenate(parts).astype(np.float32)
