"""Where things live: data dir, cache dir, model dir, pretrained weights, and the default seed.

Each setting is resolved in the same order: an explicit value (CLI flag, sidebar field) > an environment
variable > a default.

===================  ========================  ===============================================
setting              environment variable      default
===================  ========================  ===============================================
data dir             ``STUDIO_DATA_DIR``       none: the embedded demo data is used
cache dir            ``STUDIO_CACHE_DIR``      ``<project>/.cache``
model dir            ``STUDIO_MODEL_DIR``      ``<project>/models``
Xception weights     ``STUDIO_XCEPTION_WEIGHTS`` none: Keras' ``weights="imagenet"`` download
prepared presets     ``STUDIO_PRESETS``        each system's recommended one (``core.recommended``)
===================  ========================  ===============================================
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = 0

ENV_DATA_DIR = "STUDIO_DATA_DIR"
ENV_CACHE_DIR = "STUDIO_CACHE_DIR"
ENV_MODEL_DIR = "STUDIO_MODEL_DIR"
ENV_XCEPTION_WEIGHTS = "STUDIO_XCEPTION_WEIGHTS"
ENV_PRESETS = "STUDIO_PRESETS"


def _pick(explicit: str | os.PathLike | None, env: str) -> Path | None:
    if explicit not in (None, ""):
        return Path(explicit).expanduser()
    value = os.environ.get(env, "").strip()
    return Path(value).expanduser() if value else None


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The user's data directory, or None when none is set (then the demo data is used)."""
    return _pick(explicit, ENV_DATA_DIR)


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    path = _pick(explicit, ENV_CACHE_DIR) or PROJECT_ROOT / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_dir(explicit: str | os.PathLike | None = None) -> Path:
    path = _pick(explicit, ENV_MODEL_DIR) or PROJECT_ROOT / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def xception_weights(explicit: str | os.PathLike | None = None) -> Path | None:
    return _pick(explicit, ENV_XCEPTION_WEIGHTS)


def presets(explicit: str | None = None) -> dict[str, str]:
    """Which preset ``core prepare`` and the home page use per system, where not the recommended one:
    ``"reid=lomo-xqda,attributes=heads-128"`` (flag, else $STUDIO_PRESETS) -> ``{"reid": "lomo-xqda", ...}``."""
    text = explicit if explicit not in (None, "") else os.environ.get(ENV_PRESETS, "")
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        system, _, key = part.partition("=")
        if not key:
            from .errors import StudioError

            raise StudioError(f"presets: '{part}' is not system=preset (e.g. reid=lomo-xqda)")
        out[system.strip()] = key.strip()
    return out
