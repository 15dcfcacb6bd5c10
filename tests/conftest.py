"""Shared fixtures: an isolated cache dir, the real-data folder (tests skip without it), tiny images."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("STUDIO_REAL_DATA", PROJECT.parent / "shared" / "data"))

# One demo cache for the whole run (generating it takes a few seconds), away from the user's .cache.
# Under pytest-xdist (``-n 2``: the README's test command) each worker has a folder of its own in it:
# its saved models, caches and demo data, so no worker sees, or deletes, what another one is writing.
os.environ.setdefault("STUDIO_CACHE_DIR", str(PROJECT / ".cache" / "test"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["STUDIO_CACHE_DIR"] = str(Path(os.environ["STUDIO_CACHE_DIR"]) / os.environ["PYTEST_XDIST_WORKER"])
os.environ["STUDIO_MODEL_DIR"] = str(Path(os.environ["STUDIO_CACHE_DIR"]) / "models")
_weights = PROJECT.parent / "shared" / "weights" / "xception_imagenet_notop.weights.h5"
if _weights.is_file():
    os.environ.setdefault("STUDIO_XCEPTION_WEIGHTS", str(_weights))
os.environ.pop("STUDIO_DATA_DIR", None)
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def clean_model_dir():
    """Every run starts with no saved models (the pages' "no model yet" states are tested)."""
    import shutil

    shutil.rmtree(os.environ["STUDIO_MODEL_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    path = Path(os.environ["STUDIO_CACHE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_dir(cache_dir) -> Path:
    from core.datasets import demo

    return demo.ensure_demo(cache_dir)


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real datasets not found at {REAL_DATA}")
    return REAL_DATA


def write_image(path: Path, h: int = 32, w: int = 16, seed: int = 0, ext: str | None = None) -> Path:
    """A small random RGB image written with Pillow in the format of the path's extension."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, format=ext)
    return path
