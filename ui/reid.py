"""Cached calls into core.reid for the Re-identification page."""
from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from core import config
from core.reid import protocols, search
from core.reid import train as T


def model_dir() -> Path:
    return config.model_dir(os.environ.get(config.ENV_MODEL_DIR) or None)


def saved_models(dataset_root: str) -> list[dict]:
    """Cards of saved re-ID models trained on this dataset, newest first."""
    cards = []
    for card in model_dir().glob("reid-*.json"):
        try:
            c = json.loads(card.read_text())
        except (OSError, ValueError):
            continue
        if c.get("kind") in ("reid-keras", "reid-lomo-xqda") and c.get("data") == dataset_root:
            cards.append({**c, "stem": str(card.with_suffix(""))})
    return sorted(cards, key=lambda c: c.get("saved", ""), reverse=True)


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
