"""Settings shared by all pages (the sidebar), saved models' lists and choices (datasets: ``datasets.py``)."""
from __future__ import annotations

import os

import streamlit as st

from core import config
from core.datasets.base import IMAGE_EXTS

# What an upload box takes: the image files a dataset folder is read for (core.datasets.base.IMAGE_EXTS).
UPLOAD_TYPES = [ext.lstrip(".") for ext in IMAGE_EXTS]
DATA_DIR_KEY = "data_dir"
WEIGHTS_KEY = "weights_file"


def data_dir_setting() -> str:
    """The data folder typed in the sidebar, else $STUDIO_DATA_DIR, else '' (demo)."""
    if DATA_DIR_KEY not in st.session_state:
        st.session_state[DATA_DIR_KEY] = os.environ.get(config.ENV_DATA_DIR, "")
    return st.session_state[DATA_DIR_KEY].strip()


def weights_setting() -> str | None:
    """The weights file typed in the sidebar, else $STUDIO_XCEPTION_WEIGHTS, else None (Keras' own)."""
    if WEIGHTS_KEY not in st.session_state:
        st.session_state[WEIGHTS_KEY] = os.environ.get(config.ENV_XCEPTION_WEIGHTS, "")
    return st.session_state[WEIGHTS_KEY].strip() or None


@st.cache_data(show_spinner=False, ttl=600, max_entries=16)
def _weights_status(path: str, mtime: float):
    """Checked once per file (and its modification time) for the whole server, not on every page."""
    from core import backbones

    return backbones.weights_status(path or None)


def weights_status():
    path = weights_setting() or ""
    try:
        mtime = os.path.getmtime(os.path.expanduser(path)) if path else 0.0
    except OSError:
        mtime = -1.0
    return _weights_status(path, mtime)


def sidebar() -> None:
    data_dir_setting()
    weights_setting()
    st.sidebar.text_input(
        "Data folder", key=DATA_DIR_KEY, placeholder="empty = built-in demo data",
        help="A folder holding datasets in their published layouts (VIPeR, PRID 2011, Market-1501, GRID, "
             "CUHK01, MovieLens 100K / 1M / 10M / CSV releases, PETA, PA-100K, generic CSVs), under any folder "
             "names, up to three levels deep. Leave empty to use the demo data the studio generates itself. "
             "Also settable with the STUDIO_DATA_DIR environment variable.")
    st.sidebar.text_input(
        "ImageNet weights file", key=WEIGHTS_KEY, placeholder="empty = Keras' cache or download",
        help="Xception's ImageNet weights without the top, for the attribute models and the Xception re-ID "
             "model. Empty: Keras' own cache, else its download. Also settable with the "
             "STUDIO_XCEPTION_WEIGHTS environment variable.")
    status = weights_status()
    if status.ok:
        st.sidebar.caption(f":material/check_circle: {status.message}")
    else:
        st.sidebar.warning(status.message, icon=":material/warning:")


def as_percent(table, columns):
    """Fractions in these columns as percentages (one decimal) with the unit in the header, for people
    (the command line keeps fractions)."""
    out = table.copy()
    present = [c for c in columns if c in out]
    for c in present:
        out[c] = (out[c] * 100).round(1)
    return out.rename(columns={c: f"{c} (%)" for c in present})


def model_dir():
    return config.model_dir(os.environ.get(config.ENV_MODEL_DIR) or None)


def saved_models(prefix: str, kinds: tuple[str, ...], dataset_root: str | None, required: tuple[str, ...] = ()) -> list[dict]:
    """Cards of saved models (``<model dir>/<prefix>*.json``) of these kinds trained on this dataset
    (any dataset when ``dataset_root`` is None), newest first, each with its ``stem`` (path without
    extension). Unreadable cards, and cards without the ``required`` fields (nested as
    ``"split.name"``), are skipped."""
    import json

    cards = []
    for card in model_dir().glob(f"{prefix}*.json"):
        try:
            c = json.loads(card.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(c, dict) and c.get("kind") in kinds and dataset_root in (None, c.get("data")) and \
                all(_has(c, field) for field in required):
            cards.append({**c, "stem": str(card.with_suffix(""))})
    return sorted(cards, key=lambda c: c.get("saved", ""), reverse=True)


def _has(card: dict, field: str) -> bool:
    node = card
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def pick_model(cards: list[dict], label, key: str, empty_message: str) -> dict:
    """A selectbox over saved models' cards (newest first); stops the page with ``empty_message``
    when there is none."""
    if not cards:
        st.info(empty_message)
        st.stop()
    labels = {label(c): c for c in cards}
    return labels[st.selectbox("Model", list(labels), key=key)]


def model_stem(prefix: str, method: str, dataset_name: str, split_name: str):
    from core import artifacts

    return model_dir() / artifacts.model_name(prefix, method, dataset_name, split_name)
