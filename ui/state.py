"""Settings shared by all pages (sidebar) and cached dataset loading."""
from __future__ import annotations

import os

import streamlit as st

from core import config
from core.datasets import catalog
from core.errors import StudioError

DATA_DIR_KEY = "data_dir"


def data_dir_setting() -> str:
    """The data folder typed in the sidebar, else $STUDIO_DATA_DIR, else '' (demo)."""
    if DATA_DIR_KEY not in st.session_state:
        st.session_state[DATA_DIR_KEY] = os.environ.get(config.ENV_DATA_DIR, "")
    return st.session_state[DATA_DIR_KEY].strip()


def sidebar() -> None:
    data_dir_setting()
    st.sidebar.text_input(
        "Data folder", key=DATA_DIR_KEY, placeholder="empty = built-in demo data",
        help="A folder holding VIPeR/, ml-latest-small/ and/or PETA/. Leave empty to use the demo data "
             "the studio generates itself. Also settable with the STUDIO_DATA_DIR environment variable.")


@st.cache_resource(show_spinner="Loading data…", max_entries=12)
def _load(kind: str, data_dir: str, cache_dir: str):
    source = catalog.resolve(kind, data_dir or None, cache_dir or None)
    return source, catalog.load(source)


def load_dataset(kind: str, pick: bool = False):
    """``(source, dataset, error)``. A missing data folder falls back to the demo with ``error`` set;
    a malformed dataset gives ``(source or None, None, error)``. Never raises for bad data.

    ``pick=True`` shows a choice between the data folder and the demo when a data folder is set."""
    cache = os.environ.get(config.ENV_CACHE_DIR, "")
    folder = data_dir_setting()
    if pick and folder:
        choice = st.radio("Dataset", ["data folder", "demo"], horizontal=True, key=f"dataset_{kind}",
                          format_func={"data folder": f"from the data folder ({folder})",
                                       "demo": "built-in demo"}.get)
        if choice == "demo":
            folder = ""
    try:
        catalog.check_data_dir(folder or None)
    except StudioError as exc:
        source, dataset = _load(kind, "", cache)
        return source, dataset, f"{exc}. Showing the demo data instead."
    try:
        source, dataset = _load(kind, folder, cache)
        return source, dataset, source.note or None     # a data folder without this kind: say so
    except StudioError as exc:
        return None, None, str(exc)


def model_dir():
    return config.model_dir(os.environ.get(config.ENV_MODEL_DIR) or None)


def saved_models(prefix: str, kinds: tuple[str, ...], dataset_root: str, required: tuple[str, ...] = ()) -> list[dict]:
    """Cards of saved models (``<model dir>/<prefix>*.json``) of these kinds trained on this dataset,
    newest first, each with its ``stem`` (path without extension). Unreadable cards, and cards without
    the ``required`` fields (nested as ``"split.name"``), are skipped."""
    import json

    cards = []
    for card in model_dir().glob(f"{prefix}*.json"):
        try:
            c = json.loads(card.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(c, dict) and c.get("kind") in kinds and c.get("data") == dataset_root and \
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
    return model_dir() / f"{prefix}-{method}-{dataset_name.replace(' ', '_')}-{split_name}"
