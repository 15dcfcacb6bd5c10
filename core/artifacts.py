"""Atomic writes (temporary file in the same folder, then rename) and checked JSON + npz artifacts.

A model is two files: ``NAME.npz`` (arrays, loaded with ``allow_pickle=False``) and ``NAME.json`` (the
card: config, data, split, seed, metrics, date, and the sha256 of the npz). The card is written last
and checked on load, so a half-written, corrupt or mismatched pair is refused with a clear message and
an existing good pair is never overwritten by a broken one.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import logging
import os
import platform
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import StudioError

log = logging.getLogger("studio")


class ArtifactError(StudioError):
    """A saved model or result file is missing, corrupt, or does not match its card."""


def _read_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only be read by setting it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_writer(path):
    """A binary file object whose content replaces ``path`` only when the block ends without error
    (temporary file in the same folder, fsync, rename); on error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)        # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


_WHOLE: dict = {"depth": 0, "pending": None}


class whole:
    """``with whole():`` a model's files are written as one: an interruption (a cancelled background job's
    signal, ``interrupt``) arriving meanwhile waits until they are all written, so a cancel never leaves a
    network without its card or a card without its arrays."""

    def __enter__(self):
        _WHOLE["depth"] += 1
        return self

    def __exit__(self, *exc):
        _WHOLE["depth"] -= 1
        pending, _WHOLE["pending"] = (_WHOLE["pending"], None) if not _WHOLE["depth"] else (None, _WHOLE["pending"])
        if pending is not None and exc[0] is None:
            pending()
        return False


def interrupt(raise_it) -> None:
    """From a signal handler: call ``raise_it`` (which raises) now, or as soon as the model being saved
    is whole."""
    if _WHOLE["depth"]:
        _WHOLE["pending"] = raise_it
    else:
        raise_it()


def _saved_whole(save):
    import functools

    @functools.wraps(save)
    def wrapper(*args, **kwargs):
        with whole():
            return save(*args, **kwargs)
    return wrapper


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_commit(root: Path | None = None) -> str:
    """Short HEAD commit, with ``+dirty`` when tracked files have uncommitted changes."""
    cwd = root or Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=5).stdout.strip()
        # the benchmark results are tracked and rewritten by the run itself: they do not make code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude,top)bench/results"], cwd=cwd, capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return (head or "unknown") + ("+dirty" if head and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def _write_npz(stem: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``stem.npz`` atomically; its sha256 (for the card, written after it)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    data = buf.getvalue()
    atomic_write_bytes(_file(stem, ".npz"), data)
    return sha256(data)


@_saved_whole
def save_arrays(stem, arrays: dict[str, np.ndarray], card: dict, kind: str) -> Path:
    """Write ``stem.npz`` then ``stem.json`` (the card, with kind, date and the npz checksum)."""
    stem = _stem(stem)
    card = {"kind": kind, "saved": now(), "npz_sha256": _write_npz(stem, arrays), **card}
    atomic_write_json(_file(stem, ".json"), card)
    return _file(stem, ".json")


def load_arrays(stem, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    stem = _stem(stem)
    card = read_card(stem)
    if not _file(stem, ".npz").is_file():
        raise ArtifactError(f"model file not found: {_file(stem, '.npz')}")
    if card.get("kind") != kind:
        raise ArtifactError(f"{_file(stem, '.json')}: not a {kind} model card")
    return read_npz(stem, card), card


def read_npz(stem, card: dict) -> dict[str, np.ndarray]:
    """The arrays of ``stem.npz``, checked against the card's ``npz_sha256`` (no pickle)."""
    stem = _stem(stem)
    npz_path = _file(stem, ".npz")
    if not npz_path.is_file():
        raise ArtifactError(f"model file not found: {npz_path}")
    data = npz_path.read_bytes()
    if card.get("npz_sha256") != sha256(data):
        raise ArtifactError(f"{npz_path}: the model file does not match its card (changed or corrupt)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{npz_path}: cannot read the model arrays ({type(exc).__name__}: {exc})") from None
    log.info("loaded model %s", npz_path)
    return arrays


def _file(stem: Path, ext: str) -> Path:
    """``stem`` + ``ext`` (appended: a stem with dots in its name keeps them)."""
    return stem.with_name(stem.name + ext)


def model_name(prefix: str, method: str, dataset: str, split: str) -> str:
    """``<prefix>-<method>-<dataset>-<split>``, the default file stem of a saved model on the CLI and the
    pages alike; characters other than letters, digits, ``.`` and ``-`` become ``_`` (a dataset named
    ``more/VIPeR`` must not become a folder)."""
    import re

    return "-".join(re.sub(r"[^\w.-]+", "_", str(part)).strip("_") for part in (prefix, method, dataset, split))


def stem_of(path) -> Path:
    """A model path without its .json / .npz / .keras extension."""
    return _stem(path)


def _stem(path) -> Path:
    stem = Path(path)
    return stem.with_suffix("") if stem.suffix in (".json", ".npz", ".keras") else stem


def read_card(stem) -> dict:
    """The JSON card beside a model (``stem.json``); ArtifactError when missing or not JSON."""
    card_path = _file(_stem(stem), ".json")
    if not card_path.is_file():
        raise ArtifactError(f"model file not found: {card_path}")
    try:
        card = json.loads(card_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{card_path}: the model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ArtifactError(f"{card_path}: the model card is not a JSON object")
    return card


@_saved_whole
def save_keras(stem, model, card: dict, kind: str, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``stem.keras`` (via a temporary file, then rename), ``arrays`` (if any) as ``stem.npz``, and
    then the card with both checksums."""
    stem = _stem(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if arrays is not None:
        card = {**card, "npz_sha256": _write_npz(stem, arrays)}
    fd, tmp = tempfile.mkstemp(prefix=f".{stem.name}.", suffix=".keras", dir=stem.parent)
    os.close(fd)
    try:
        model.save(tmp)
        data = Path(tmp).read_bytes()
        os.replace(tmp, _file(stem, ".keras"))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    atomic_write_json(_file(stem, ".json"), {**card, "kind": kind, "saved": now(), "keras_sha256": sha256(data)})
    return _file(stem, ".json")


def load_keras(stem, kind: str, lock=None):
    """``(model, card)``: the card must be of ``kind`` and match the file's sha256; the model loads with
    ``safe_mode=True`` (no arbitrary code), uncompiled. ``lock`` serialises Keras building."""
    stem = _stem(stem)
    card = read_card(stem)
    if card.get("kind") != kind:
        raise ArtifactError(f"{_file(stem, '.json')}: not a {kind} model card")
    path = _file(stem, ".keras")
    if not path.is_file():
        raise ArtifactError(f"model file not found: {path}")
    if sha256(path.read_bytes()) != card.get("keras_sha256"):
        raise ArtifactError(f"{path}: the model file does not match its card (changed or corrupt)")
    import contextlib

    import keras

    try:
        with lock or contextlib.nullcontext():
            model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:    # a corrupt zip / h5 raises many types
        raise ArtifactError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    log.info("loaded model %s", path)
    return model, card


class Busy(StudioError):
    """Another run already holds an exclusive lock (e.g. training in this model folder)."""


class exclusive:
    """``with exclusive(path, "training"):`` — an OS file lock (``flock``) that never waits: a second
    holder, in this process (another app session) or another one (the CLI), gets ``Busy`` at once. The
    lock goes with the process, so a killed run leaves no stale lock behind."""

    def __init__(self, path, what: str = "training"):
        self.path, self.what, self._fd = Path(path), what, None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip()
            os.close(fd)
            raise Busy(f"{self.what} is already running ({holder or 'another run'}); "
                       "wait for it to finish, then try again") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"started {now()[:19]} by process {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        return False


class exclusive_wait:
    """``with exclusive_wait(path):`` an OS file lock (``flock``) that waits its turn: short critical
    sections shared by processes (starting a background job)."""

    def __init__(self, path):
        self.path, self._fd = Path(path), None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def training_lock(system: str, model_dir=None) -> exclusive:
    """One training of ``system`` ("reid", "attributes", "clustering") at a time per model folder, for
    app sessions and CLI runs alike; the systems do not wait for each other."""
    from . import config

    return exclusive(Path(config.model_dir(model_dir)) / f".training-{system}.lock", f"{system} training")
