"""Images for GOG's reference test: generated here from fixed seeds, described by today's GOG and by the
straightforward implementation it replaced (``BASELINE``, read from the repository's history)."""
from __future__ import annotations

import cv2
import numpy as np

BASELINE = "84e7302"     # the last commit of the straightforward GOG


def reference_images() -> list[np.ndarray]:
    """Four RGB uint8 images: smooth random blobs at the descriptor's size, a larger and a smaller one
    (the resize paths), and one with flat regions (nearly singular patch covariances)."""
    out = []
    for seed, (h, w) in enumerate(((128, 48), (300, 110), (90, 40), (128, 48))):
        rng = np.random.default_rng(seed)
        noise = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
        img = cv2.GaussianBlur(noise, (0, 0), 2.0 + seed)
        img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6) * 255
        if seed == 3:
            img[: h // 2] = np.round(img[: h // 2] / 64) * 64       # flat bands: degenerate patches
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out
