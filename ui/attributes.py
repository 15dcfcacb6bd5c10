"""Cached calls into core.attributes for the Attributes page."""
from __future__ import annotations

import streamlit as st

from core.attributes import splits
from core.attributes import train as A
from ui import state


def weights() -> str | None:
    return state.weights_setting()


def saved_models(dataset_root: str) -> list[dict]:
    return state.saved_models("attr-", ("attributes-keras",), dataset_root,
                              ("backbone.name", "split.name"))


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(stem: str, mtime: float):
    return A.load(stem)


@st.cache_resource(show_spinner="Scoring the test images (from cached features; a fine-tuned model runs the "
                                "images themselves, which takes minutes on PETA)…", max_entries=4)
def test_probabilities(stem: str, mtime: float, data_root: str, _ds):
    model = load_model(stem, mtime)
    cfg = A.AttrConfig(**model.card["config"])
    cfg.weights = cfg.weights or weights()
    split = splits.make(_ds.frame, cfg.split, cfg.seed)
    kept = A.saved_test_scores(stem, model, split.test)    # computed in training
    if kept is not None:
        return split, kept
    if model.image_model is not None:          # fine-tuned: runs the images themselves
        return split, model.predict_paths(list(_ds.frame.path.to_numpy()[split.test]))
    F = A.dataset_features(_ds, cfg)
    return split, model.probabilities(F[split.test])


@st.cache_data(show_spinner=False, max_entries=4)
def reliability(stem: str, mtime: float, data_root: str, _ds):
    """The reliability diagram's bins and the ECE of the model's test probabilities (once per model)."""
    from core.attributes import calibration

    model = load_model(stem, mtime)
    split, probs = test_probabilities(stem, mtime, data_root, _ds)
    return calibration.reliability(probs, _ds.labels(model.attributes)[split.test], model.attributes,
                                   model.probability_columns)


@st.cache_data(show_spinner=False, max_entries=8)
def new_camera_reliability(stem: str, mtime: float):
    """Each attribute's balanced accuracy on sites never seen in training (``core.attributes.reliability``)."""
    from core.attributes import reliability

    return reliability.for_card(load_model(stem, mtime).card)


def predicted_lines(model, probs, rel, threshold: float | None) -> tuple[list[tuple[str, bool]], set]:
    """``(lines, said)`` for one photo: each answer in words with how far to trust it on new cameras, and
    the attributes it asserts (what the chart marks). ``threshold``: one for every attribute instead of
    the tuned ones and the one-of questions."""
    from core.attributes import describe, reliability
    from core.attributes import labels as L

    if threshold is None:
        choices, also = model.describe(probs)
        answers, said = choices + also, describe.said_attributes(choices, also)
    else:
        decided = model.decide(probs.to_frame().T, threshold)[0]
        said = {a for a, d in zip(model.attributes, decided) if d}
        answers = [describe.Choice(a, L.words(a), float(probs[a]), said=a, members=(a,))
                   for a in model.attributes if a in said]
    return reliability.worded(answers, rel), said


def percent_columns(per):
    """The per-attribute table for people: rates as percentages with the unit in the header, names in words."""
    from core.attributes import labels as L

    rates = [c for c in per.columns if c not in ("attribute", "positives") and per[c].dtype.kind == "f"]
    out = state.as_percent(per, rates)
    if "attribute" in out:
        out["attribute"] = [L.words(a) for a in out["attribute"]]
    return out


def card_label(c: dict) -> str:
    """A saved model in one line for the model choice: backbone, input, features, heads, split, mA, date."""
    from core.attributes.config import card_config

    m = next(iter(c.get("metrics", {}).values()), {})
    tuned = " · fine-tuned" if c.get("input") == "image" else ""
    b = c["backbone"]
    stripes = {"stripes": " + stripes", "stripes-mid": " + stripes + middle layers"}.get(b.get("pooling"), "")
    stripes += " + neighbours" if c.get("neighbours") else ""
    n = card_config(c)["ensemble"]              # a card from before ensembles: one set of heads
    stripes += f" · {n} heads averaged" if n > 1 else ""
    return (f"{b['name']} {b.get('height')}x{b.get('width')}{stripes}{tuned} · {c['split']['name']} · "
            f"mA {m.get('mA', float('nan')):.1%} · {c.get('saved', '')[:16]}")
