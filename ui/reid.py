"""Cached calls into core.reid for the Re-identification page."""
from __future__ import annotations

import streamlit as st

from core.reid import protocols, search
from core.reid import train as T
from ui import state


def saved_models(dataset_root: str) -> list[dict]:
    return state.saved_models("reid-", ("reid-keras", "reid-lomo"), dataset_root,
                              ("method", "split.name"))


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def load_model(stem: str, mtime: float):
    return T.load(stem)


@st.cache_resource(show_spinner="Embedding the test images…", max_entries=8)
def embeddings(stem: str, mtime: float, data_root: str, _ds, split_name: str):
    model = load_model(stem, mtime)
    split = protocols.parse_split(_ds, split_name)
    return T.test_embeddings(model, _ds, split)


@st.cache_data(show_spinner="Ranking…", max_entries=16)
def ranking(stem: str, mtime: float, data_root: str, _ds, split_name: str):
    model = load_model(stem, mtime)
    return T.rank(model, embeddings(stem, mtime, data_root, _ds, split_name))


@st.cache_data(show_spinner="Computing the t-SNE map…", max_entries=8)
def tsne(stem: str, mtime: float, data_root: str, _ds, split_name: str):
    return search.embedding_map(embeddings(stem, mtime, data_root, _ds, split_name))


def indexes(model_card: dict) -> list[dict]:
    """Gallery indexes (``<model dir>/indexes/*/index.json``) built with this very model file."""
    import json

    from core.reid.index import built_with

    out = []
    for card_path in sorted((state.model_dir() / "indexes").glob("*/index.json")):
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            continue
        if built_with(card, model_card):
            out.append({**card, "folder": str(card_path.parent), "mtime": card_path.stat().st_mtime})
    return out


@st.cache_resource(show_spinner="Loading the gallery index…", max_entries=4)
def load_index(folder: str, mtime: float):
    from core.reid.index import GalleryIndex

    return GalleryIndex.load(folder)
