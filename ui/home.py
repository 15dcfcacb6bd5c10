"""The home page's dashboard: per system, the data in use, the model ready and its headline number, or
"not trained yet" with a button and the expected time (``core.prepare`` does the work)."""
from __future__ import annotations

import streamlit as st

from core import prepare, wording
from ui import datasets, state

ICONS = {"reid": ":material/person_search:", "clustering": ":material/movie:", "attributes": ":material/checkroom:"}


def _settings() -> prepare.Settings:
    """The sidebar's data folder and weights; caches and models where the pages have them (the
    environment's folders, or the defaults)."""
    return prepare.Settings(state.data_dir_setting() or None, weights=state.weights_setting())


def _loaded() -> dict:
    """The datasets the pages use (cached), ``{kind: (source, data)}``; a kind that cannot be loaded is
    left out (``core.prepare`` then reports its reason)."""
    out = {}
    for kind in ("reid", "ratings", "attributes"):
        source, data, _ = datasets.load_dataset(kind)
        if data is not None:
            out[kind] = (source, data)
    return out


def _models_stamp() -> tuple:
    """Changes whenever a model or the preparation log is written (the status is re-read then)."""
    folder = state.model_dir()
    return tuple(sorted((p.name, p.stat().st_mtime) for p in folder.glob("*.json")))


@st.cache_data(show_spinner="Checking which models are ready…", ttl=60, max_entries=8)
def _status(data_dir: str, weights: str, stamp: tuple, _loaded: dict) -> list[dict]:
    return [r.to_dict() for r in prepare.status(_settings(), loaded=_loaded)]


def status() -> list[dict]:
    return _status(state.data_dir_setting(), state.weights_setting() or "", _models_stamp(), _loaded())


def _card(row: dict, page) -> None:
    with st.container(border=True):
        st.subheader(f"{ICONS[row['system']]} {row['title']}")
        if row["state"] == "ready":
            st.markdown(":green-badge[:material/check: Ready]")
            st.metric(row["metric"], row["value"])
            st.markdown(row["headline"])
            took = f" Trained in {wording.minutes(row['seconds'])} here." if row.get("seconds") else ""
            st.caption(f"Model: {row['model']}. Data: {row['dataset']}.{took}")
            st.page_link(page, label=f"Open {row['title']}", icon=":material/arrow_forward:")
        elif row["state"] == "failed":
            st.markdown(":red-badge[:material/error: Cannot be prepared]")
            st.caption(row["note"])
        else:
            st.markdown(":orange-badge[:material/schedule: Not trained yet]")
            st.caption(f"Recommended model: {row['model']}. Data: {row['dataset']}. Expected training time: "
                       f"{wording.minutes(row['expected_s'] or 0)} on 2 cores.")
            if row["system"] == "attributes" and not state.weights_status().ok:
                st.warning("Needs Xception's ImageNet weights first: the sidebar says how to get them.",
                           icon=":material/warning:")
            if st.button("Train it now", key=f"prepare_{row['system']}"):
                _prepare([row["system"]])
        if row.get("note") and row["state"] != "failed":
            st.caption(f":material/info: {row['note']}")


def _prepare(systems: list[str]) -> None:
    """Train these systems' recommended models in a background job (``core.jobs``), one for all."""
    from dataclasses import asdict

    from ui import jobs as uj

    total = sum(r["expected_s"] or 0 for r in status() if r["system"] in systems)
    uj.start("prepare", {"settings": asdict(_settings()), "systems": systems}, PREPARE_KEY,
             "Preparing " + ", ".join(systems), total or None)
    _status.clear()


PREPARE_KEY = "prepare:all"


def dashboard(pages: dict) -> None:
    """``pages``: system -> the st.Page to link to."""
    rows = status()
    missing = [r for r in rows if r["state"] == "missing"]
    if missing:
        total = sum(r["expected_s"] or 0 for r in missing)
        c1, c2 = st.columns([3, 2], vertical_alignment="center")
        c1.markdown(f"**{len(missing)} of {len(rows)} systems have no trained model yet.** One click trains the "
                    f"recommended model of each (expected: {wording.minutes(total)} on 2 cores; the same as "
                    "`make models` on the command line). Models already trained are kept.")
        if c2.button("Prepare all models", type="primary", key="prepare_all"):
            _prepare([r["system"] for r in missing])
    from ui import jobs as uj

    uj.panel(PREPARE_KEY)
    uj.running_list()
    cols = st.columns(len(rows))
    for col, row in zip(cols, rows):
        with col:
            _card(row, pages[row["system"]])
    if any(r["state"] == "ready" for r in rows):
        st.caption("Each number above is measured on the test part of the data in use, never on what the model "
                   "trained on; the split is named beside it. Open a system's page for the details.")
