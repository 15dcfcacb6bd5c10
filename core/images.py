"""Safe decoding and normalisation of any image a user or a dataset hands in.

``load_image`` accepts a path, bytes or a binary file object and always returns an ``H x W x 3`` uint8
RGB array, or raises :class:`core.errors.ImageError` with a one-line reason. It

* refuses files larger than ``MAX_BYTES`` and images whose *declared* size exceeds ``MAX_PIXELS``
  before decoding a single pixel (decompression bombs);
* applies the EXIF orientation;
* takes the first frame of animated files;
* converts every mode: 1-bit, grayscale, 16-bit / 32-bit integer and float (rescaled to 0..255),
  palette, CMYK, and alpha (composited on a mid-grey background).
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

MAX_BYTES = 50 * 1024 * 1024          # 50 MiB on disk / in an upload
MAX_PIXELS = 40_000_000               # declared width x height
MIN_SIDE = 2                          # smaller images carry no usable content
BACKGROUND = (128, 128, 128)          # what transparent pixels become

ImageSource = Union[str, os.PathLike, bytes, bytearray, BinaryIO]


def _read_bytes(source: ImageSource, name: str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageError(f"cannot read the file ({exc.strerror or exc})", path) from None
        if size > MAX_BYTES:
            raise ImageError(f"file is {size / 2**20:.0f} MiB; the limit is {MAX_BYTES // 2**20} MiB", path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read the file ({exc.strerror or exc})", path) from None
    else:
        data = source.read(MAX_BYTES + 1)
        if isinstance(data, str):
            raise ImageError("expected binary image data, got text", name)
    if len(data) > MAX_BYTES:
        raise ImageError(f"file is larger than the {MAX_BYTES // 2**20} MiB limit", name)
    if not data:
        raise ImageError("the file is empty", name)
    return data


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if mode.startswith("I;16") and hi <= 65535 and lo >= 0:
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        gray = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", im.size, BACKGROUND + (255,))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def load_image(source: ImageSource, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode ``source`` to an ``H x W x 3`` uint8 RGB array; see the module doc for what is handled."""
    if name is None:
        name = str(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "upload")
    data = _read_bytes(source, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width * height > max_pixels:
                raise ImageError(
                    f"image declares {width} x {height} pixels; the limit is {max_pixels:,} pixels", name)
            if min(width, height) < MIN_SIDE:
                raise ImageError(f"image is only {width} x {height} pixels", name)
            if getattr(im, "is_animated", False):
                im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image file this app can read (PNG, JPEG, BMP, GIF, TIFF, WebP)", name) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("image declares too many pixels (decompression bomb?)", name) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"the image is corrupt or truncated ({exc})", name) from None


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an RGB array to ``height x width`` (area interpolation when shrinking)."""
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if (h > height or w > width) else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Scale an image to ``height`` keeping its aspect ratio (for thumbnails and grids)."""
    h, w = image.shape[:2]
    width = max(1, round(w * height / h))
    return resize(image, height, width)


def for_display(image: np.ndarray, max_aspect: float = 4.0, max_side: int = 512) -> np.ndarray:
    """A copy fit to show on a page: padded (background grey) so neither side is more than
    ``max_aspect`` times the other (a 16 x 6000 strip would otherwise scale to 0 pixels high), then
    shrunk so its longer side is at most ``max_side``."""
    h, w = image.shape[:2]
    if w > h * max_aspect or h > w * max_aspect:
        th, tw = max(h, int(np.ceil(w / max_aspect))), max(w, int(np.ceil(h / max_aspect)))
        canvas = np.full((th, tw, 3), BACKGROUND, np.uint8)
        y, x = (th - h) // 2, (tw - w) // 2
        canvas[y:y + h, x:x + w] = image
        image, (h, w) = canvas, (th, tw)
    scale = max_side / max(h, w)
    return resize(image, max(1, round(h * scale)), max(1, round(w * scale))) if scale < 1 else image


def data_url(image: np.ndarray, height: int = 96) -> str:
    """A small PNG of the image (scaled to ``height``) as a ``data:`` URL, for chart tooltips."""
    import base64

    ok, png = cv2.imencode(".png", cv2.cvtColor(fit_height(for_display(image), height), cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii") if ok else ""


def montage(images: list[np.ndarray], height: int = 128, columns: int = 8, gap: int = 2) -> np.ndarray:
    """Tile images (scaled to one height) into a grid; an empty list gives a 1-row blank strip."""
    if not images:
        return np.full((height, height // 2, 3), 255, np.uint8)
    tiles = [fit_height(im, height) for im in images]
    cell_w = max(t.shape[1] for t in tiles)
    rows = (len(tiles) + columns - 1) // columns
    cols = min(columns, len(tiles))
    canvas = np.full((rows * (height + gap) - gap, cols * (cell_w + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = r * (height + gap), c * (cell_w + gap) + (cell_w - tile.shape[1]) // 2
        canvas[y:y + height, x:x + tile.shape[1]] = tile
    return canvas


def montage_paths(paths: list[str], height: int = 128, columns: int = 8) -> tuple[np.ndarray, list[str]]:
    """Montage of the images at ``paths``; unreadable ones are skipped and their errors returned."""
    images, errors = [], []
    for path in paths:
        try:
            images.append(load_image(path))
        except ImageError as exc:
            errors.append(str(exc))
    return montage(images, height, columns), errors


def camera_view(image: np.ndarray, seed: int | None = None) -> np.ndarray:
    """The image as another camera might have seen it: a random crop of 80-100 % of its area (the person
    framed differently), white balance and exposure (a gain per channel of 0.8-1.25, brightness 0.7-1.3,
    contrast 0.75-1.25, saturation 0.6-1.4), half the time a blur (sigma 0.5-1.5) and half the time a
    lower resolution (down by 2-4 and back up), half the time mirrored. ``seed`` None: drawn from the
    image's own pixels, so the same image always gets the same view (what a content-keyed cache needs)."""
    import hashlib

    if seed is None:
        seed = int.from_bytes(hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    area, aspect = rng.uniform(0.8, 1.0), np.exp(rng.uniform(-0.1, 0.1))
    ch = int(round(min(h, h * np.sqrt(area * aspect))))
    cw = int(round(min(w, w * np.sqrt(area / aspect))))
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = image[y0:y0 + ch, x0:x0 + cw].astype(np.float32)
    out = out * rng.uniform(0.8, 1.25, 3) * rng.uniform(0.7, 1.3)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.75, 1.25) + mean
    grey = out.mean(2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.6, 1.4)
    out = np.clip(out, 0, 255)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        f = rng.uniform(2, 4)
        small = cv2.resize(out, (max(1, int(cw / f)), max(1, int(ch / f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (cw, ch), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(np.clip(np.round(out), 0, 255).astype(np.uint8))
