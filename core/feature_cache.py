"""Disk caches of values computed from image files, keyed by each file's *content*, and the cache of
ImageNet-backbone features and maps (``FeatureCache``).

A cache file's name (its key) carries everything that determines what it holds: for backbone features
the backbone, input size, pooling or tap, view (mirror, camera), the sha256 of the weights file
(``backbones.weights_fingerprint``) and ``VERSION`` of the code that computes them. A changed weights
file, pooling or code writes a new file; files under other keys are never read for it.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from . import artifacts, config
from .backbones import (
    BUILD_LOCK,
    CUT_BLOCKS,
    TAPS,
    BackboneSpec,
    _import_keras,
    block_input,
    build,
    check_weights_file,
    pooled_network,
    preprocess,
    weights_fingerprint,
)
from .images import camera_view, load_image, resize
from .progress import emit

# The version of the code that computes backbone features and maps: raise it when what they hold for the
# same image, weights and settings changes (1: before keys carried the weights and the version).
VERSION = 2


def content_hash(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


class ContentCache:
    """``features(paths)`` -> ``N x D`` array, computing (``compute``, in subclasses) only images whose
    *content* is not cached yet: renaming or moving a dataset reuses the values, a changed image is
    computed again.

    Under ``<cache>/features/``: ``<key>.npz`` (``hashes``: content sha1, ``features``) and a folder
    ``<key>.parts/`` where each chunk of new images is written as its own small npz as soon as it is
    computed (atomically), so an interrupted run keeps what it computed and no chunk rewrites what came
    before. At the end of ``features`` the parts are merged into the npz.
    """

    label = "images"           # what the progress text says the images went through
    chunk = 128                # images computed (and saved as one part) at a time

    def __init__(self, key: str, cache_dir=None, dtype=np.float32):
        self.dtype = dtype
        self.path = config.cache_dir(cache_dir) / "features" / f"{key}.npz"
        self.parts_dir = self.path.with_name(f"{key}.parts")
        self._index: dict[str, int] = {}
        self._hashes: list[str] = []
        self._feats: list[np.ndarray] = []
        self._parts: list[Path] = []           # part files read or written, merged by ``_merge``
        if self.path.is_file():
            self._read(self.path)
        for part in sorted(self.parts_dir.glob("part-*.npz")):
            self._read(part)
            self._parts.append(part)            # merged (or, unreadable, dropped) at the next ``_merge``

    def compute(self, images: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _read(self, file: Path) -> None:
        try:
            with np.load(file, allow_pickle=False) as z:
                hashes, feats = [str(h) for h in z["hashes"]], list(z["features"])
        except (ValueError, OSError, KeyError, EOFError):
            return                              # unreadable: recomputed (and overwritten) later
        for h, f in zip(hashes, feats):
            if h not in self._index:
                self._index[h] = len(self._hashes)
                self._hashes.append(h)
                self._feats.append(f)

    def _write(self, path: Path, hashes, feats) -> None:
        with artifacts.atomic_writer(path) as f:
            np.savez(f, hashes=np.array(hashes), features=np.stack(feats).astype(self.dtype, copy=False))

    def _save_part(self, hashes, feats) -> None:
        part = self.parts_dir / f"part-{os.getpid()}-{threading.get_ident()}-{len(self._hashes):09d}.npz"
        self._write(part, hashes, feats)
        self._parts.append(part)

    def _merge(self) -> None:
        if not self._parts:
            return
        self._write(self.path, self._hashes, self._feats)
        for part in self._parts:
            part.unlink(missing_ok=True)
        self._parts = []
        try:
            self.parts_dir.rmdir()
        except OSError:
            pass                                # not empty (another process's parts) or gone

    def features(self, paths, progress=None) -> np.ndarray:
        hashes = [content_hash(p) for p in paths]
        todo = [i for i, h in enumerate(hashes) if h not in self._index]
        todo_unique = list(dict.fromkeys(hashes[i] for i in todo))
        first_path = {}
        for i in todo:
            first_path.setdefault(hashes[i], paths[i])
        for start in range(0, len(todo_unique), self.chunk):
            chunk = todo_unique[start:start + self.chunk]
            feats = self.compute([load_image(first_path[h]) for h in chunk])
            self._save_part(chunk, list(feats))
            for h, f in zip(chunk, feats):
                self._index[h] = len(self._hashes)
                self._hashes.append(h)
                self._feats.append(f)
            emit(progress, "images", start + len(chunk), len(todo_unique),
                 f"{start + len(chunk)} / {len(todo_unique)} images through {self.label}")
        self._merge()
        if not hashes:
            return np.zeros((0, 0), self.dtype)
        return np.stack([self._feats[self._index[h]] for h in hashes])


class FeatureCache(ContentCache):
    """Pooled ImageNet-backbone features of images, cached by content (see ``ContentCache``).

    ``tap="exit"`` caches, instead of pooled features, the map where the exit flow begins
    (``exit_flow_input``; ``N x H/16 x W/16 x 728``, float16): what fine-tuning the exit flow trains on;
    ``tap="block9"`` (any of ``CUT_BLOCKS``) the map entering that block, for fine-tuning from there.
    ``flip=True``: the mirror images' (training augmentation); ``camera=True``: each image as another
    camera might see it (``images.camera_view``, the same view of an image every time). One cache file per
    backbone configuration; ``prefix`` keeps one user's images in a file of their own (re-ID's maps are not
    read with every PETA map cached for the attribute model).
    """

    def __init__(self, spec: BackboneSpec, cache_dir=None, weights=None, batch_size: int = 32, flip: bool = False,
                 tap: str | None = None, camera: bool = False, prefix: str = ""):
        if tap not in (None, "exit", *CUT_BLOCKS.get(spec.name, ())):
            raise ValueError(f"unknown tap {tap!r}")
        self.spec, self.weights, self.batch_size, self.flip, self.tap = spec, weights, batch_size, flip, tap
        self.camera = camera
        check_weights_file(weights)          # said explicitly: check now, even if all is cached
        key = prefix + (spec.key if tap is None else f"{spec.name}-{spec.height}x{spec.width}-{tap}")
        key += ("-flip" if flip else "") + ("-camera" if camera else "")
        key += f"-w{weights_fingerprint(weights)}-v{VERSION}"
        self.label, self.chunk = spec.name, batch_size * 4
        self._model = None
        super().__init__(key, cache_dir, np.float32 if tap is None else np.float16)

    @property
    def model(self):
        if self._model is None:
            base = build(self.spec, self.weights)
            if self.tap is not None:
                with BUILD_LOCK:
                    block = TAPS.get(self.tap, self.tap)
                    base = _import_keras().Model(base.input, block_input(base, self.spec, block))
            else:
                base = pooled_network(base, self.spec)
            self._model = base
        return self._model

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        if self.camera:
            images = [camera_view(im) for im in images]
        batch = np.stack([resize(im, self.spec.height, self.spec.width) for im in images])
        if self.flip:
            batch = batch[:, :, ::-1]
        out = self.model.predict(preprocess(batch, self.spec), verbose=0, batch_size=self.batch_size)
        return np.asarray(out).astype(self.dtype)

    compute = embed_images
