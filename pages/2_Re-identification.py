"""Re-identification: train or load a model, search the gallery, triplets, CMC, embedding map."""
import os
from pathlib import Path

import numpy as np
import streamlit as st

from core import checkpoint, job_kinds, plots, recommended
from core.errors import StudioError
from core.images import for_display, load_image
from core.reid import protocols, search
from core.reid import train as T
from ui import datasets, state
from ui import jobs as uj
from ui import reid as ur

st.title(":material/person_search: Re-identification")
st.caption("Match a person seen by camera A to the same person in camera B. A model turns each photo into a "
           "vector; the closest camera-B vectors are the best candidates.")

source, ds = datasets.show("reid")
SPLITS = ur.split_choices(ds)
c1, c2 = st.columns([2, 3])
split_label = c1.selectbox("Evaluation split", list(SPLITS), key=f"reid_split_{ds.layout}")
split = protocols.parse_split(ds, SPLITS[split_label])
distractors = f" + {len(split.distractors)} distractor identities in the gallery" if split.distractors else ""
c2.markdown(f"**Data:** {source.label} · {ur.layout_title(source)} · {len(ds.pids)} identities · split "
            f"*{split.name}*: {len(split.train)} identities to train on, {len(split.test)} to test on{distractors}")

# ------------------------------------------------------------------ train
# the preset keys are the method names; every number in these labels is the benchmarks' (core.results)
METHOD_LABELS = {**recommended.labels("reid"), **recommended.reid_method_labels()}
EPOCHS = {"course": 30, "xception": 20, "xception-bnneck": 30}          # each method's default
with st.expander("Train a new model", expanded=not ur.saved_models(str(ds.root))):
    method = st.radio("Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="train_method")
    epochs = None
    if method not in T.NO_NETWORK_METHODS:
        epochs = st.slider("Epochs", 1, 60, EPOCHS[method], key="train_epochs")
    stem = state.model_stem("reid", method, ds.name, split.name)
    resume = False
    left = checkpoint.info(stem)
    if left is not None and method not in T.NO_NETWORK_METHODS:
        resume = st.checkbox(f"Resume the interrupted run (after epoch {left['epoch']})", value=True, key="train_resume",
                             help="Training of this method on this split stopped before the end; its last "
                                  "epoch was saved. Untick to start again from scratch.")
    if st.button("Train", type="primary", key="train"):
        cfg = T.TrainConfig(method=method, epochs=epochs or 1, weights=state.weights_setting())
        expected = recommended.seconds_of("reid", method)
        uj.start("reid-train", {"dataset": job_kinds.dataset_settings(source), "split": split.name,
                                "config": cfg.to_dict(), "stem": str(stem), "resume": resume},
                 uj.key("reid", ds.root), f"Re-ID training: {method} on {ds.name} ({split.name})", expected)
    st.caption("Training runs in the background: you can leave this page, and the model appears in the list below "
               "when it is saved.")
uj.panel(uj.key("reid", ds.root))

cards = ur.saved_models(str(ds.root), everywhere=True)
card = state.pick_model(cards, ur.card_label, "reid_model",
                        "No saved model for this data yet. Train one above: the non-deep baseline takes seconds.")
stem = card["stem"]
mtime = os.path.getmtime(stem + ".json")
adapt = False
if card["cross"]:
    st.info(f"Cross-dataset: this model was trained on {card.get('dataset', 'another dataset')} "
            f"({card['split']['name']} split) and is tested here on {ds.name}'s {split.name} split, which it "
            "has never seen.")
    adapt = bool(card.get("camera_statistics")) and st.toggle(
        "Adapt to these cameras", value=True, key="reid_adapt",
        help="Each camera's look (colour balance, exposure) is learned from its own photos, no names needed, and "
             "taken out before comparing: on VIPeR → PRID this found the right person first about 1.5 times as "
             "often. Off: the descriptors as the model was trained.")
elif card["split"]["name"] != split.name:
    st.warning(f"This model was trained on split {card['split']['name']}; evaluating it on {split.name} may put "
               "training identities in the test set.")
try:
    model = ur.load_model(stem, mtime)
    emb = ur.embeddings(stem, mtime, str(ds.root), ds, split.name, adapt)
except StudioError as exc:
    st.error(str(exc))
    st.stop()
if emb.adaptation is not None:
    st.caption(f"Cameras {emb.adaptation.words()}.")

tab_search, tab_triplets, tab_cmc, tab_map = st.tabs(["Search", "Triplets", "CMC", "Embedding map"])

with tab_search:
    st.markdown("Upload a photo of a person, or pick a camera-A photo of a test identity: the ten closest "
                "camera-B photos are shown, best first.")
    c1, c2 = st.columns(2)
    upload = c1.file_uploader("Photo", type=state.UPLOAD_TYPES,
                              key="reid_upload")
    qids = list(emb.q_frame.pid)              # a person can have several queries (CUHK01, Market-1501)
    picked = c2.selectbox("…or a test identity from camera A", list(dict.fromkeys(qids)), key="reid_query")
    query, true_pid, row, source, named = None, None, None, None, None
    if upload is not None:
        try:
            query = load_image(upload.getvalue(), name=upload.name)
        except StudioError as exc:
            st.error(f"That file cannot be used: {exc.reason}")
        if query is not None and emb.adaptation is not None:
            cams = sorted(int(c) for c in ds.frame.camid.unique())
            which = st.selectbox("The photo's camera", [None] + cams, key="reid_query_camera",
                                 format_func=lambda c: "not known: use the gallery's photos" if c is None
                                 else f"camera {c} of {ds.name} ({int((ds.frame.camid == c).sum())} photos)",
                                 help="The upload is adapted like the gallery: from the look of the camera it comes "
                                      "from, learned from that camera's photos.")
            if which is not None:
                source, named = ur.camera_statistics(stem, mtime, str(ds.root), ds, which)
    else:
        row = qids.index(picked)
        query, true_pid = load_image(emb.q_frame.path[row]), picked
    index_cards = {ix["folder"]: ix for ix in ur.indexes(card)}
    galleries = ur.gallery_choices(ds, emb, index_cards)
    gallery = st.radio("Search in", list(galleries), format_func=galleries.get, horizontal=True, key="reid_gallery") \
        if len(galleries) > 1 else "split"
    if query is not None and gallery not in ("split", "camera-b"):
        try:
            index = ur.load_index(gallery, index_cards[gallery]["mtime"])
            dist, found = index.search(model.embed([query]), 10)
        except StudioError as exc:
            st.error(str(exc))                       # the other tabs still work
            dist, found = np.zeros((1, 0)), np.zeros((1, 0), int)
        tiles = []
        for rank, j in enumerate(found[0], start=1):
            try:
                tiles.append((for_display(load_image(index.names[j])), f"#{rank} {Path(index.names[j]).name}"))
            except StudioError:
                tiles.append((None, f"#{rank} {Path(index.names[j]).name} (file no longer readable)"))
        ur.result_grid(query, tiles)
        st.caption("Ranked from the most similar; an index returns its ten closest photos only, so no similarity "
                   "relative to the whole gallery is shown.")
    elif query is not None:
        searched = emb if gallery == "split" else ur.camera_b(stem, mtime, str(ds.root), ds, adapt)
        hits = search.search(model, query, searched, 10, true_pid, source=source,
                             query_row=row if gallery == "split" else None)
        if upload is not None and searched.adaptation is not None:
            st.caption("Your photo was " + search.query_camera_words(source, named) + ".")
        tiles = []
        for hit in hits:
            mark = " ✓" if hit.is_match else (" ✗" if hit.is_match is False else "")
            tiles.append((load_image(hit.path), f"#{hit.rank} id {hit.pid}{mark} · similarity {hit.similarity:.0f}"))
        ur.result_grid(query, tiles)
        found = [h.rank for h in hits if h.is_match]
        truth = "" if true_pid is None else (f"True match at rank {found[0]}. " if found else
                                             "The true match is not in the top 10. ")
        st.caption(truth + search.SIMILARITY_MEANS)

with tab_triplets:
    mode = st.radio("Which triplets", ["random", "hardest", "wrong"], horizontal=True, key="trip_mode",
                    format_func={"random": "Random", "hardest": "Hardest",
                                 "wrong": "The model got it wrong"}.get)
    table = search.triplets(model, emb, mode, n=4)
    if table.empty:
        st.info("No such triplets: the model ranks every positive above every negative here.")
    for _, t in table.iterrows():
        c = st.columns([1, 1, 1, 3])
        c[0].image(load_image(t.anchor), caption=f"anchor (id {t.anchor_pid})", width=90)
        c[1].image(load_image(t.positive), caption=f"positive · similarity {t.s_ap:.0f}", width=90)
        c[2].image(load_image(t.negative), caption=f"negative (id {t.negative_pid}) · similarity {t.s_an:.0f}",
                   width=90)
        verdict = "right" if t.margin > 0 else "wrong"
        c[3].markdown(f"The positive is **{'closer' if t.margin > 0 else 'farther'}** than the negative "
                      f"(similarity {t.s_ap:.0f} against {t.s_an:.0f} out of 100): the model is **{verdict}** here.")
    st.caption(search.SIMILARITY_MEANS.replace("each query", "each anchor"))

with tab_cmc:
    curves, rows = ur.cmc_comparison(cards, ds, split.name)
    if curves:
        st.plotly_chart(plots.cmc_curves(curves), key="cmc")
        st.dataframe(rows, hide_index=True)
        st.caption("Percentages. Rank-k: share of queries whose true match is among the k closest gallery photos; "
                   "mAP: mean average precision. Models trained on this split are compared, and models trained on "
                   "other datasets (cross-dataset).")
    else:
        st.info("No model trained on this split yet.")

with tab_map:
    if st.toggle("Compute the map (t-SNE, a few seconds)", key="show_map"):
        points = ur.tsne(stem, mtime, str(ds.root), ds, split.name)
        people = list(dict.fromkeys(points.pid))
        who = st.selectbox("Highlight a person", people, key="map_person",
                           index=people.index(picked) if picked in people else 0)
        st.altair_chart(plots.embedding_map(points, who), width="stretch", key="tsne")
        shown = int((points.pid == who).sum())
        st.caption(f"Hover over a point to see its photo. Red rings: identity {who}'s {shown} photo"
                   f"{'s' if shown != 1 else ''} on the map; the model recognises a person across the cameras "
                   "when their query (circle) and gallery photo (square) lie close together. Distances on a "
                   "t-SNE map have no unit; only neighbourhoods mean something.")
