"""Pretrained ImageNet backbones and a disk cache of their features.

Weights, in this order: an explicit file (``--weights`` / the app's setting), the environment variable
``STUDIO_XCEPTION_WEIGHTS``, then Keras' own ``weights="imagenet"`` download. Where none works the error
says how to get a file. Features are cached per image *content* (sha1 of the file bytes) and backbone
configuration, so renaming or moving a dataset reuses them and a changed image is recomputed.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import artifacts, config
from .errors import StudioError
from .images import camera_view, load_image, resize

KERAS_FILE = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/xception/" + KERAS_FILE
HOW_TO_GET_WEIGHTS = (
    "Xception's ImageNet weights are needed. On a machine with internet access Keras downloads them by "
    f"itself; otherwise download {KERAS_URL} (88 MB) on a machine that can, copy it here, and give its path "
    "in the sidebar's 'ImageNet weights file' (or set STUDIO_XCEPTION_WEIGHTS=/path/to/file, or pass "
    "--weights on the command line). A Keras 3 '.weights.h5' file of Xception without its top works too.")


class WeightsError(StudioError):
    pass


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class WeightsStatus:
    """Where Xception's ImageNet weights will come from: ``source`` is ``file`` (a setting or
    $STUDIO_XCEPTION_WEIGHTS), ``keras-cache`` (downloaded by Keras before), ``download`` (Keras can
    fetch them), or ``missing``; ``ok`` when training can start; ``message`` says it in words, with the
    fix when something is wrong."""

    source: str
    ok: bool
    message: str
    path: str = ""


def keras_cache_file() -> Path:
    """Where Keras keeps the file it downloads ($KERAS_HOME, else ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / KERAS_FILE


def _looks_like_weights(path: Path) -> str:
    """'' for a readable HDF5 file, else what is wrong with it."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    return "" if head == HDF5_SIGNATURE else "is not an HDF5 weights file (.h5)"


def weights_status(explicit: str | os.PathLike | None = None, can_download=None) -> WeightsStatus:
    """Check, without loading Keras, where the weights would come from. ``can_download``: a callable
    telling whether the download site answers (asked only when no file is found; default: a 3-second
    request)."""
    path = config.xception_weights(explicit)
    if path is not None:
        problem = _looks_like_weights(path)
        if problem:
            return WeightsStatus("file", False, f"The weights file {path} {problem}. {HOW_TO_GET_WEIGHTS}", str(path))
        return WeightsStatus("file", True, f"Xception ImageNet weights from {path}.", str(path))
    cached = keras_cache_file()
    if not _looks_like_weights(cached):
        return WeightsStatus("keras-cache", True, f"Xception ImageNet weights from Keras' cache ({cached}).",
                             str(cached))
    if (can_download or _download_reachable)():
        return WeightsStatus("download", True, "Xception ImageNet weights: Keras will download them (88 MB) on "
                                               "first use.")
    return WeightsStatus("missing", False, "No Xception ImageNet weights: none set, none in Keras' cache, and the "
                                           f"download site does not answer from this machine. {HOW_TO_GET_WEIGHTS}")


def _download_reachable(timeout: float = 3.0) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(KERAS_URL, method="HEAD"), timeout=timeout) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


class _BuildLock:
    """Held by everything that builds a Keras model.

    Keras names unnamed layers ("conv2d", "conv2d_1", ...) from counters kept per thread, but
    ``keras.backend.clear_session()`` throws away every thread's counters at once. Streamlit calls it
    after *every* script run of every session, so a model being built in one session while another
    session's run ends restarts its counters half-way and takes "conv2d" twice ("The name "conv2d" is
    used 2 times in the model"). Taking this lock first replaces ``keras.backend.clear_session`` (and
    ``keras.utils.clear_session``, the same function) with one that does nothing while a model is being
    built, and clears as before otherwise."""

    def __init__(self):
        self._lock = threading.RLock()
        self._guarded = False

    def __enter__(self):
        if not self._guarded:
            self._guard()
        self._lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()

    def _guard(self) -> None:
        keras = _import_keras()
        import keras.utils

        clear = keras.backend.clear_session
        if getattr(clear, "studio_guarded", False):      # another thread got here first
            self._guarded = True
            return

        def guarded(*args, **kwargs):
            if not self._lock.acquire(blocking=False):
                return None                               # a build is under way: its names stay
            try:
                return clear(*args, **kwargs)
            finally:
                self._lock.release()

        guarded.studio_guarded = True
        keras.backend.clear_session = keras.utils.clear_session = guarded
        self._guarded = True


BUILD_LOCK = _BuildLock()


# How a backbone's maps become one feature vector. "avg": the last map's global average (2048-d for
# Xception); "stripes": + its average over 4 horizontal stripes (5 x); "stripes-mid": + the same 5 averages
# of the map where Xception's exit flow begins (the middle flow's output, 728 channels): mid-level
# colour, texture and part features, which carry over to cameras never seen in training better than the
# last map alone (bench/results/attributes-cross-site-mid.md).
POOLINGS = ("avg", "stripes", "stripes-mid")


@dataclass(frozen=True)
class BackboneSpec:
    name: str = "xception"
    height: int = 128
    width: int = 64
    pooling: str = "avg"          # one of POOLINGS

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise StudioError(f"unknown pooling '{self.pooling}' ({', '.join(POOLINGS)})")
        if self.with_mid and self.name not in EXIT_FLOW:
            raise StudioError(f"'{self.pooling}' pooling takes Xception's middle flow; {self.name} has none")

    @property
    def with_mid(self) -> bool:
        """Whether the features include the middle flow's map (``pool``'s ``mid``)."""
        return self.pooling == "stripes-mid"

    @property
    def key(self) -> str:
        return f"{self.name}-{self.height}x{self.width}-{self.pooling}"


def _import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build(spec: BackboneSpec, weights: str | os.PathLike | None = None):
    """The Keras backbone (no top, no pooling) with ImageNet weights, or WeightsError with instructions.

    Built in a fresh thread, whose Keras layer-name counters start from zero, holding ``BUILD_LOCK``."""
    box: dict = {}

    def run():
        try:
            box["model"] = _build(spec, weights)
        except BaseException as exc:     # re-raised in the caller's thread
            box["error"] = exc

    with BUILD_LOCK:
        worker = threading.Thread(target=run, name="keras-build")
        worker.start()
        worker.join()
    if "error" in box:
        raise box["error"]
    return box["model"]


def _build(spec: BackboneSpec, weights):
    keras = _import_keras()
    # Keras refuses fixed input shapes under 71 px for Xception; a free-size input takes them fine.
    shape = (spec.height, spec.width, 3) if min(spec.height, spec.width) >= 75 else (None, None, 3)
    if spec.name == "xception":
        ctor = keras.applications.Xception
    elif spec.name == "mobilenetv2":
        ctor = keras.applications.MobileNetV2
    else:
        raise StudioError(f"unknown backbone '{spec.name}' (xception or mobilenetv2)")
    path = config.xception_weights(weights) if spec.name == "xception" else (Path(weights) if weights else None)
    if path is not None:
        if not path.is_file():
            raise WeightsError(f"weights file not found: {path}. {HOW_TO_GET_WEIGHTS}")
        try:
            return ctor(weights=str(path), include_top=False, input_shape=shape)
        except Exception as exc:  # keras raises many types for a bad file
            raise WeightsError(f"cannot load weights from {path} ({type(exc).__name__}: {exc})") from None
    try:
        return ctor(weights="imagenet", include_top=False, input_shape=shape)
    except Exception as exc:
        raise WeightsError(f"could not download ImageNet weights ({type(exc).__name__}). {HOW_TO_GET_WEIGHTS}") from None


# Where the frozen part of a backbone ends when only its top is fine-tuned: the input of Xception's exit
# flow (block 13 onward; the middle flow's output, 728 channels at 1/16 of the input size).
EXIT_FLOW = {"xception": "block13_sepconv1_act"}
# Where fine-tuning can start deeper: a middle-flow block (5-12; each begins with a ReLU on its input, which
# is also the block's residual) or the exit flow's block13. Every one of these inputs is 728 channels at
# 1/16 of the input size, so the maps cached there are the same size as the exit flow's.
CUT_BLOCKS = {"xception": tuple(f"block{i}" for i in range(5, 14))}
TAPS = {"exit": "block13"}          # a FeatureCache tap's block (the exit flow's keeps its cache name)


def check_weights_file(weights) -> None:
    """A weights file given explicitly must exist (WeightsError saying how to get one); None passes."""
    if weights and not Path(weights).is_file():
        raise WeightsError(f"weights file not found: {weights}. {HOW_TO_GET_WEIGHTS}")


def exit_flow_input(base, spec: BackboneSpec):
    """The tensor where ``base``'s exit flow begins: ``keras.Model(base.input, t)`` is the frozen part and
    ``keras.Model(t, base.output)`` the exit flow, sharing their layers (and weights) with ``base``."""
    return block_input(base, spec, "block13")


def block_input(base, spec: BackboneSpec, block: str):
    """The tensor entering ``block`` (one of ``CUT_BLOCKS``), as ``exit_flow_input`` for the exit flow."""
    if spec.name not in EXIT_FLOW:
        raise StudioError(f"fine-tuning the top blocks is written for Xception's exit flow, not for {spec.name}")
    if block not in CUT_BLOCKS[spec.name]:
        raise StudioError(f"maps can be taken where {', '.join(CUT_BLOCKS[spec.name])} begin, not at '{block}'")
    return base.get_layer(f"{block}_sepconv1_act").input


def preprocess(images: np.ndarray, spec: BackboneSpec) -> np.ndarray:
    """uint8 RGB batch -> the backbone's input scaling (both backbones use [-1, 1])."""
    return images.astype(np.float32) / 127.5 - 1.0


def _averages(fmap: np.ndarray, stripes: bool) -> list[np.ndarray]:
    """The global average of each map, then (``stripes``) its average over 4 horizontal stripes."""
    return [fmap.mean((1, 2))] + ([s.mean((1, 2)) for s in np.array_split(fmap, 4, axis=1)] if stripes else [])


def pool(fmap: np.ndarray, spec: BackboneSpec, mid: np.ndarray | None = None) -> np.ndarray:
    """The feature vectors of a batch of last maps ``fmap`` (and, for ``spec.with_mid``, of the middle
    flow's maps ``mid``), as ``POOLINGS`` describes."""
    parts = _averages(fmap, spec.pooling != "avg")
    if spec.with_mid:
        if mid is None:
            raise ValueError(f"'{spec.pooling}' pooling needs the middle flow's maps")
        parts += _averages(mid, True)
    return np.concatenate(parts, axis=1)


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
            if progress is not None:
                progress(min(1.0, (start + len(chunk)) / len(todo_unique)),
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
            elif self.spec.with_mid:
                with BUILD_LOCK:
                    base = _import_keras().Model(base.input, [exit_flow_input(base, self.spec), base.output])
            self._model = base
        return self._model

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        if self.camera:
            images = [camera_view(im) for im in images]
        batch = np.stack([resize(im, self.spec.height, self.spec.width) for im in images])
        if self.flip:
            batch = batch[:, :, ::-1]
        fmap = self.model.predict(preprocess(batch, self.spec), verbose=0, batch_size=self.batch_size)
        if self.tap is not None:
            return fmap.astype(self.dtype)
        if self.spec.with_mid:
            mid, fmap = fmap
            return pool(fmap, self.spec, mid).astype(np.float32)
        return pool(fmap, self.spec).astype(np.float32)

    compute = embed_images
