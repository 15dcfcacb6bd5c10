"""Pretrained ImageNet backbones: where their weights come from, building them, where they can be cut,
and how their maps are pooled into one feature vector (the disk cache of features: ``feature_cache.py``).

Weights, in this order: an explicit file (``--weights`` / the app's setting), the environment variable
``STUDIO_XCEPTION_WEIGHTS``, then Keras' own ``weights="imagenet"`` download. Where none works the error
says how to get a file. ``weights_fingerprint`` names the weights used, for the caches' keys.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config
from .errors import StudioError

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
        _import_keras()                    # TensorFlow's log level set before Keras loads
        import keras.utils  # binds ``keras`` with its ``utils`` submodule loaded

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


def _averages(fmap, stripes: bool, suffix: str):
    """Keras layers: the global average of a map, then (``stripes``) its 4 horizontal stripes' averages."""
    keras = _import_keras()

    x = keras.layers.GlobalAveragePooling2D(name="pool" + suffix)(fmap)
    if not stripes:
        return x
    rows, cols = fmap.shape[1], fmap.shape[2]
    if rows is None or rows % 4:
        raise StudioError(f"stripe pooling needs a feature map height divisible by 4 (a map of {rows} rows); "
                          "use an input height that is a multiple of 128")
    stripes = keras.layers.AveragePooling2D((rows // 4, cols), name="stripe_pool" + suffix)(fmap)
    stripes = keras.layers.Flatten(name="stripes" + suffix)(stripes)
    return keras.layers.Concatenate(name="pool_concat" + suffix)([x, stripes])


def pool_layers(fmap, spec: BackboneSpec, suffix: str = "", mid=None):
    """Keras layers turning the last map ``fmap`` (and, for ``spec.with_mid``, the middle flow's map ``mid``)
    into one feature vector, as ``POOLINGS`` describes: the only definition of the pooling, used by the
    feature cache, the fine-tuned networks and the exported ones alike."""
    keras = _import_keras()

    x = _averages(fmap, spec.pooling != "avg", suffix)
    if spec.with_mid:
        if mid is None:
            raise ValueError(f"'{spec.pooling}' pooling needs the middle flow's maps")
        x = keras.layers.Concatenate(name="with_mid" + suffix)([x, _averages(mid, True, "_mid" + suffix)])
    return x


def maps_of(base, spec: BackboneSpec):
    """A callable: image tensor -> (``base``'s last map, the middle flow's map or None when ``spec``'s
    pooling does not use it), through ``base``'s own layers."""
    if not spec.with_mid:
        return lambda x: (base(x), None)
    keras = _import_keras()
    both = keras.Model(base.input, [exit_flow_input(base, spec), base.output], name=base.name + "_maps")

    def run(x):
        mid, last = both(x)
        return last, mid
    return run


def pooled_network(base, spec: BackboneSpec):
    """raw [-1, 1]-scaled image of ``spec``'s size -> ``base`` -> ``pool_layers``, as one Keras model."""
    keras = _import_keras()
    with BUILD_LOCK:
        inp = keras.Input((spec.height, spec.width, 3), name="scaled_image")
        last, mid = maps_of(base, spec)(inp)
        return keras.Model(inp, pool_layers(last, spec, mid=mid), name=f"{spec.name}_pooled")


def pool(fmap: np.ndarray, spec: BackboneSpec, mid: np.ndarray | None = None) -> np.ndarray:
    """``pool_layers`` run on a batch of maps in memory (numpy in, numpy out)."""
    keras = _import_keras()
    with BUILD_LOCK:
        last_in = keras.Input(fmap.shape[1:])
        mid_in = keras.Input(mid.shape[1:]) if mid is not None else None
        net = keras.Model([last_in] + ([mid_in] if mid_in is not None else []),
                          pool_layers(last_in, spec, mid=mid_in))
    return np.asarray(net([fmap] + ([mid] if mid is not None else []), training=False))


_FINGERPRINTS: dict[tuple, str] = {}


def weights_fingerprint(weights=None) -> str:
    """What identifies the ImageNet weights a backbone is built from, for cache keys: the first 16 hex
    digits of the sha256 of the file used (an explicit one, $STUDIO_XCEPTION_WEIGHTS, or Keras' cache),
    or "imagenet" when Keras would download them. Remembered per (path, size, modification time), so the
    file is read once per process."""
    path = config.xception_weights(weights)
    if path is None and not _looks_like_weights(keras_cache_file()):
        path = keras_cache_file()
    if path is None or not path.is_file():
        return "imagenet"
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]
