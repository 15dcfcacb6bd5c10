"""Cached calls into core.reid for the Re-identification page."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.reid import protocols, search
from core.reid import train as T
from ui import state


def saved_models(dataset_root: str, everywhere: bool = False) -> list[dict]:
    """Re-ID models trained on this dataset, newest first; with ``everywhere``, then those trained on
    other datasets (a cross-dataset search or evaluation), each marked ``cross``."""
    cards = state.saved_models("reid-", ("reid-keras", "reid-lomo"), None if everywhere else dataset_root,
                               ("method", "split.name"))
    for c in cards:
        c["cross"] = c.get("data") != dataset_root
    return sorted(cards, key=lambda c: c["cross"])          # stable: newest first within each group


def split_choices(ds) -> dict[str, str]:
    """Select-box labels -> split names for this dataset's layout (its default first)."""
    labels = {"course": "Course split (sorted ids; the last ones are hardest)",
              "literature": "Literature split 0 (random half of the ids)",
              "fixed": "The dataset's own split (train / query / gallery folders)"}
    if ds.layout in ("prid2011", "grid", "cuhk01"):
        labels["literature"] = "Literature split 0 (half of the persons seen by both cameras)"
    out = {}
    for protocol in protocols.available(ds):
        if protocol in labels:
            out[labels[protocol]] = protocol if protocol in ("course", "fixed") else f"{protocol}-0"
    return out


def layout_title(source) -> str:
    return "demo data" if source.is_demo else source.layout_title


def card_label(c: dict) -> str:
    m = c.get("metrics", {}).get(c["split"]["name"], {})
    r1 = f", Rank-1 {m['Rank-1']:.1%}" if "Rank-1" in m else ""
    where = f"trained on {c.get('dataset', '?')} {c['split']['name']}"
    return f"{c['method']} · {where}{r1}{' · cross-dataset' if c.get('cross') else ''} · {c.get('saved', '')[:16]}"


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _load_model(stem: str, mtime: float, weights: str | None):
    return T.load(stem, weights=weights)


def load_model(stem: str, mtime: float):
    """The saved model; a method with a frozen Xception part reads the ImageNet weights set in the sidebar."""
    return _load_model(stem, mtime, state.weights_setting())


@st.cache_resource(show_spinner="Embedding the test images…", max_entries=8)
def embeddings(stem: str, mtime: float, data_root: str, _ds, split_name: str, adapt: bool = False):
    model = load_model(stem, mtime)
    split = protocols.parse_split(_ds, split_name)
    return T.test_embeddings(model, _ds, split, adapt=adapt)


@st.cache_data(show_spinner="Ranking…", max_entries=16)
def ranking(stem: str, mtime: float, data_root: str, _ds, split_name: str, adapt: bool = False):
    model = load_model(stem, mtime)
    return T.rank(model, embeddings(stem, mtime, data_root, _ds, split_name, adapt))


@st.cache_resource(show_spinner="Learning the camera's look from its photos…", max_entries=8)
def camera_statistics(stem: str, mtime: float, data_root: str, _ds, camid: int):
    """The statistics of one camera of the dataset, to adapt an upload from it."""
    model = load_model(stem, mtime)
    return T.camera_photos_stats(model, list(_ds.frame.path[_ds.frame.camid == camid]), f"camera {camid}")


@st.cache_resource(show_spinner="Describing every camera-B photo…", max_entries=4)
def camera_b(stem: str, mtime: float, data_root: str, _ds, adapt: bool = False):
    return search.camera_b(load_model(stem, mtime), _ds, adapt=adapt)


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


def result_grid(query, tiles: list, per_row: int = 5) -> None:
    """The query on the left, the results in rows of ``per_row`` fixed-size tiles on the right: fits any
    page width (ten tiles in one row ran past the edge at 1,400 px). ``tiles``: (image or None, caption)."""
    from core.images import for_display

    left, right = st.columns([1, 5])
    left.image(for_display(query), caption="query", width=80)
    for start in range(0, len(tiles), per_row):
        cols = right.columns(per_row)
        for col, (image, caption) in zip(cols, tiles[start:start + per_row]):
            if image is None:
                col.caption(caption)
            else:
                col.image(image, caption=caption, width=80)


def gallery_choices(ds, emb, index_cards: dict) -> dict[str, str]:
    """Where an upload can be searched, in words: the test split's camera B, all of camera B where it holds
    more (distractors too), and every gallery index made for the model (``index_cards``, by folder)."""
    galleries = {"split": f"camera B of the test split ({len(emb.g_frame)} photos)"}
    n_b = int((ds.frame.camera == 1).sum())
    if n_b > len(emb.g_frame):
        galleries["camera-b"] = f"all of camera B ({n_b} photos, every identity)"
    for folder, ix in index_cards.items():
        name = Path(ix.get("gallery", folder)).name
        galleries[folder] = f"index of {name} ({ix['count']:,} photos, {ix['backend']})"
    return galleries


def cmc_comparison(cards: list[dict], ds, split_name: str) -> tuple[dict, list[dict]]:
    """``(curves, rows)``: the CMC curve and the summary in percent of every saved model trained on this
    split or on another dataset (cross-dataset), each named by method, where it was trained and when."""
    curves, rows = {}, []
    for c in cards:
        if not (c["cross"] or c["split"]["name"] == split_name):
            continue
        trained = f", trained on {c.get('dataset', '?')}" if c["cross"] else ""
        # a cross-dataset model that keeps its cameras' statistics: as trained, and adapted to these cameras
        for adapt in (False, True) if c["cross"] and c.get("camera_statistics") else (False,):
            r = ranking(c["stem"], os.path.getmtime(c["stem"] + ".json"), str(ds.root), ds, split_name, adapt)
            name = f"{c['method']}{trained}{', cameras adapted' if adapt else ''} ({c.get('saved', '')[:16]})"
            curves[name] = r.cmc
            rows.append({"model": name, **{k: round(v * 100, 1) for k, v in r.summary().items()}})
    return curves, rows
