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
# Background jobs run in the calling thread in the AppTests (which patch what a job calls, and read its
# result in the same run); tests/unit/test_jobs.py and the browser tests start real job processes.
os.environ["STUDIO_JOBS"] = "inline"
_weights = PROJECT.parent / "shared" / "weights" / "xception_imagenet_notop.weights.h5"
if _weights.is_file():
    os.environ.setdefault("STUDIO_XCEPTION_WEIGHTS", str(_weights))
os.environ.pop("STUDIO_DATA_DIR", None)
os.environ.setdefault("OMP_NUM_THREADS", "2")
# As many test processes as cores (pytest-xdist's -n 2 on 2 cores): each computes on one thread, so that
# TensorFlow's and BLAS's pools do not spin against the other process's (and the servers and CLIs they
# start inherit it). A test that needs more threads asks for them (threadpoolctl).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= (os.cpu_count() or 1):
    for _var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[_var] = "1"

# Tests that build Xception need its ImageNet weights (../shared/weights here; skipped where absent).
needs_weights = pytest.mark.skipif(not os.environ.get("STUDIO_XCEPTION_WEIGHTS"), reason="no Xception weights file")
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


# ------------------------------------------------------------------ small models, trained once and shared
# Trained once per test process (pytest-xdist runs two) on the demo data and copied where a test wants one:
# the pages and CLIs under test only load them. Training itself is tested in tests/unit.
SMALL_REID = "reid-lomo-xqda-demo_pedestrians-course"          # the names the pages give them
SMALL_ATTR = "attr-xception-demo_pedestrians-random-image"


def copy_model(stem: Path, dest: Path) -> Path:
    """The files of the model saved at ``stem`` (card, arrays, network) copied to ``dest`` (a stem)."""
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    for ext in (".npz", ".keras", ".json"):                      # the card last, as saving does
        src = stem.with_name(stem.name + ext)
        if src.is_file():
            shutil.copyfile(src, dest.with_name(dest.name + ext))
    return dest


@pytest.fixture(scope="session")
def small_reid_model(tmp_path_factory, demo_dir) -> Path:
    """LOMO + XQDA on the demo's course split (seconds to train)."""
    from core.datasets import catalog, splits
    from core.reid import train as T

    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    stem = tmp_path_factory.mktemp("small-models") / SMALL_REID
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("lomo-xqda")).save(stem)
    return stem


@pytest.fixture(scope="session")
def small_attr_model(tmp_path_factory, demo_dir) -> Path:
    """Heads on the demo's 128 x 64 Xception features, 3 epochs, random image split (needs the weights)."""
    if not os.environ.get("STUDIO_XCEPTION_WEIGHTS"):
        pytest.skip("no Xception weights file")
    from core.attributes import train as A
    from core.datasets import catalog

    ds = catalog.load(catalog.Source("attributes", demo_dir / "PETA", True))
    stem = tmp_path_factory.mktemp("small-models") / SMALL_ATTR
    A.train(ds, A.AttrConfig(epochs=3))[0].save(stem)
    return stem


# ------------------------------------------------------------------ the longest files first
# pytest-xdist (--dist loadfile) hands each process whole files in collection order, so a long file
# collected last leaves one process working while the other idles. The longest files (minutes each on 2
# cores, from --durations) go first; the rest keep their order.
LONGEST_FIRST = ("unit/test_attributes.py", "unit/test_reid_tuned.py", "app/test_attributes_page.py",
                 "e2e/test_concurrency.py", "unit/test_reid.py", "app/test_reid_page.py", "unit/test_scale.py",
                 "unit/test_interrupted.py", "e2e/test_presenter.py", "e2e/test_browser.py", "unit/test_export.py",
                 "app/test_bad_input_pages.py", "unit/test_bad_input_cli.py", "app/test_clustering_page.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))
    items.sort(key=rank)                 # stable: within a file, and among the rest, the order is kept
