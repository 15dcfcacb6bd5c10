"""Datasets on the pages: found in the data folder, loaded once per server (cached), and the block every
page starts with: load the data, warn about what is wrong, stop where there is nothing to show."""
from __future__ import annotations

import os

import streamlit as st

from core import config
from core.datasets import catalog
from core.errors import StudioError

from .state import data_dir_setting


@st.cache_data(show_spinner="Looking for datasets…", ttl=60, max_entries=8)
def _discover(data_dir: str) -> list[catalog.Source]:
    return catalog.discover(catalog.check_data_dir(data_dir))


def datasets_found(folder: str) -> list[catalog.Source]:
    """Every dataset in the data folder (re-read at most once a minute); [] without a usable folder."""
    if not folder:
        return []
    try:
        return _discover(folder)
    except StudioError:
        return []


@st.cache_resource(show_spinner="Loading data…", max_entries=12)
def _load(kind: str, data_dir: str, cache_dir: str, name: str = ""):
    source = catalog.resolve(kind, data_dir or None, cache_dir or None, dataset=name or None)
    return source, catalog.load(source)


def load_dataset(kind: str, pick: bool = False):
    """``(source, dataset, error)``. A missing data folder falls back to the demo with ``error`` set;
    a malformed dataset gives ``(source or None, None, error)``. Never raises for bad data.

    ``pick=True`` shows a select box of the data folder's datasets of this kind (and the demo) when a
    data folder is set; the first found is the default."""
    cache = os.environ.get(config.ENV_CACHE_DIR, "")
    folder = data_dir_setting()
    try:
        catalog.check_data_dir(folder or None)
    except StudioError as exc:
        source, dataset = _load(kind, "", cache, catalog.DEMO)
        return source, dataset, f"{exc}. Showing the demo data instead."
    found = [s for s in datasets_found(folder) if s.kind == kind] if pick and folder else []
    name = ""
    if found:           # a choice only where there is one: else the demo, with the note saying why
        options = [s.name for s in found] + [catalog.DEMO]
        titles = {s.name: f"{s.name} ({s.layout_title})" for s in found}
        titles[catalog.DEMO] = "built-in demo data"
        if st.session_state.get(f"dataset_{kind}") not in options:
            st.session_state.pop(f"dataset_{kind}", None)       # the folder changed: back to the first
        name = st.selectbox("Dataset", options, key=f"dataset_{kind}", format_func=titles.get,
                            help="Every dataset of this kind found in the data folder, by its folder's path "
                                 "inside it; the first is the default.")
        if name == catalog.DEMO:
            folder = ""
    try:
        source, dataset = _load(kind, folder, cache, name)
        return source, dataset, source.note or None     # a data folder without this kind: say so
    except StudioError as exc:
        return None, None, str(exc)


def show(kind: str, stop: bool = True):
    """``(source, dataset)`` for a page: the dataset of ``kind`` chosen in its *Dataset* box, with a warning
    for a problem that left something to show (the demo instead of a missing folder) and an error for one
    that did not; with ``stop``, the page ends there when there is no dataset (else ``dataset`` is None)."""
    source, dataset, error = load_dataset(kind, pick=True)
    if error:
        (st.warning if dataset is not None else st.error)(error)
    if dataset is None and stop:
        st.stop()
    return source, dataset
