"""Attributes: per-label probabilities for uploaded images, browse, attribute search, metrics."""
import os
from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st

from core import camera_stats, job_kinds, plots, recommended
from core.attributes import labels as L
from core.attributes import reliability, splits
from core.attributes import train as A
from core.attributes.search import rank_by_attributes
from core.errors import StudioError
from core.images import for_display, load_image
from ui import attributes as ua
from ui import datasets, state
from ui import jobs as uj

st.title(":material/checkroom: Attributes")
st.caption("From one photo of a pedestrian, the probability of each attribute: gender, age group, clothing, "
           "carried things. A network pre-trained on ImageNet extracts features; one small head per attribute "
           "answers.")

source, ds = datasets.show("attributes")
st.markdown(f"**Data:** {source.label} · {len(ds.frame):,} images · {ds.frame.person.nunique():,} persons")

SPLITS = {"person-disjoint": "Person-disjoint (no person in two parts; the honest one)",
          "random-image": "Random images (50/10/40; the same person can be in train and test, which flatters)"}
if "part" in ds.frame.columns:          # a dataset with its own split (PA-100K): offered first
    SPLITS = {"published": "The dataset's own train / validation / test split", **SPLITS}
SITES = splits.subsets(ds.frame)
if SITES:                               # PETA: subsets are sites with their own cameras
    SPLITS["leave-out"] = ("Leave one site out (test on a subset never seen in training: how the model does on "
                           "new cameras)")
INPUTS = {((128, 64), "avg"): "128 x 64, global average (fast)",
          ((256, 128), "stripes"): "256 x 128, global + 4 stripes (more accurate on PETA; ~2x slower)",
          ((256, 128), "stripes-mid"): "256 x 128, stripes of the last and the middle layers (best on new cameras)"}
PRESETS = {**recommended.labels("attributes"), "custom": "Custom settings"}
with st.expander("Train a new model", expanded=not ua.saved_models(str(ds.root))):
    preset = st.radio("Configuration", list(PRESETS), format_func=PRESETS.get, key="attr_preset")
    split_kind = st.radio("Split", list(SPLITS), format_func=SPLITS.get, key="attr_split")
    if split_kind == "leave-out":
        split_kind = splits.LEAVE_OUT + st.selectbox("Site kept out for testing", SITES, key="attr_site")
    if preset == "custom":
        weighted = st.toggle("Weight rare attributes (DeepMAR)", value=True, key="attr_weighted")
        colours = st.toggle("Also upper / lower body colours", value=False, key="attr_colours")
        neighbours = st.toggle("Blend in votes of the most similar training images", value=False,
                               key="attr_neighbours",
                               help="k nearest training images vote on each attribute; k and the blend with the "
                                    "heads are chosen on the validation images. Helps most when the same people "
                                    "appear in training and test images.")
        balance = st.selectbox("Training images", A.BALANCE, key="attr_balance", format_func={
            "none": "Each image once an epoch", "person": "Drawn evenly per person (many frames of one person "
            "count once)", "subset": "Drawn evenly per site (no site dominates)"}.get)
        camera_views = st.toggle("Also learn from each image's mirror and a camera-like view", value=False,
                                 key="attr_camera_views",
                                 help="A seeded crop, white balance, exposure, blur and lower resolution per image, "
                                      "so that the model sees each person as other cameras might; the views' "
                                      "features are computed once and cached (2 more passes over the images).")
        size = st.radio("Backbone input", list(INPUTS), format_func=INPUTS.get, key="attr_input", horizontal=True)
        finetune = st.toggle("Also fine-tune the network's top blocks (minutes, not seconds)",
                             value=False, key="attr_finetune",
                             help="Xception's exit flow is trained with the heads for up to 3 epochs, on images "
                                  "and their mirror images; predictions average an image and its mirror. On PETA "
                                  "at 256 x 128 this takes about 16 minutes on 2 cores.")
        (h, w), pooling = size
        cfg = A.AttrConfig(split=split_kind, weighted=weighted, colours=colours, weights=ua.weights(),
                           height=h, width=w, pooling=pooling, neighbours=neighbours, balance=balance,
                           camera_views=camera_views)
        epochs = A.FINETUNE_EPOCHS if finetune else 0
    else:
        cfg, epochs = A.preset_config(recommended.by_key("attributes", preset).settings, split_kind,
                                      weights=ua.weights())
    st.caption("Backbone features are computed once per image and cached; the times are measured on PETA "
               "(about 14,000 images) on 2 cores, from an empty cache.")
    if st.button("Train", type="primary", key="attr_train"):
        stem = state.model_stem("attr", cfg.model_tag(epochs > 0), ds.name, split_kind)
        uj.start("attributes-train", {"dataset": job_kinds.dataset_settings(source), "config": asdict(cfg),
                                      "epochs": epochs, "stem": str(stem)},
                 uj.key("attributes", ds.root), f"Attribute training ({preset}) on {ds.name}",
                 recommended.seconds_of("attributes", preset))
    st.caption("Training runs in the background: you can leave this page, and the model appears in the list below "
               "when it is saved.")
uj.panel(uj.key("attributes", ds.root))

card = state.pick_model(ua.saved_models(str(ds.root)), ua.card_label, "attr_model",
                        "No saved attribute model for this data yet: train one above.")
mtime = os.path.getmtime(card["stem"] + ".json")
try:
    model = ua.load_model(card["stem"], mtime)
except StudioError as exc:
    st.error(str(exc))
    st.stop()
names = {a: L.words(a) for a in model.attributes}

tab_pred, tab_browse, tab_search, tab_metrics = st.tabs(["Predict", "Browse", "Search", "Metrics"])

with tab_pred:
    files = st.file_uploader("Photos of pedestrians", type=state.UPLOAD_TYPES,
                             accept_multiple_files=True, key="attr_upload")
    tuned = st.toggle("Use the thresholds tuned on validation", value=True, key="attr_tuned",
                      help="Each attribute is said when its probability reaches the threshold that gave the best "
                           "F1 on the validation images; one-of questions (gender, footwear, ...) say one answer.")
    threshold = None if tuned else st.slider("Threshold", 5, 95, 50, 5, key="attr_threshold", format="%d %%",
                                             help="An attribute is predicted when its probability reaches this.") / 100
    rel = ua.new_camera_reliability(card["stem"], mtime)
    photos = []
    for f in files or []:
        try:
            photos.append((f, load_image(f.getvalue(), name=f.name)))
        except StudioError as exc:
            st.error(f"{f.name} cannot be used: {exc.reason}")
    adapt = False
    if len(photos) >= camera_stats.MIN_PHOTOS and model.adaptable:
        adapt = st.toggle(f"These {len(photos)} photos are all from one camera: adapt to it", value=False,
                          key="attr_adapt", help="The camera's look (colour balance, exposure) is learned from these "
                          "photos themselves and taken out before the heads answer.")
    elif photos and model.adaptable:
        st.caption(f"With {camera_stats.MIN_PHOTOS} or more photos from one camera, the model can adapt to that "
                   "camera's look first.")
    try:
        if adapt:
            every, done = model.predict_adapted([im for _, im in photos], ua.weights())
            st.info(f"Photos {done.words()}.")
        elif photos:
            every = model.predict_images([im for _, im in photos], ua.weights())
    except StudioError as exc:
        st.error(str(exc))
        photos = []
    thresholds = model.thresholds_for("f1") if threshold is None else {a: threshold for a in model.binary}
    for (f, image), (_, probs) in zip(photos, every.iterrows() if photos else []):
        lines, said = ua.predicted_lines(model, probs, rel, threshold)
        untrusted = {a: reliability.words(rel.of(a)) for a in model.attributes if rel and not rel.trusted(a)}
        c1, c2 = st.columns([1, 3])
        c1.image(for_display(image), caption=f.name, width=120)
        c1.markdown("**Predicted:**" + "".join(f"\n- {text}" if ok else f"\n- :gray[{text}]" for text, ok in lines)
                    if lines else "**Predicted:** nothing above its threshold")
        c2.plotly_chart(plots.probability_bars(probs[model.binary], thresholds, names, f"Attributes of {f.name}",
                                               said=said, untrusted=untrusted), key=f"bars_{f.file_id}")
        for g, members in model.groups.items():
            gp = probs[members + [f"{g}: none"]]
            c2.plotly_chart(plots.probability_bars(gp, {m: float(gp.max()) for m in gp.index},
                                                   {**names, f"{g}: none": "none of these"}, f"{g} (one of)",
                                                   untrusted=untrusted), key=f"group_{g}_{f.file_id}")
        c2.caption("Green bars are what the words say (the probability reaches the attribute's threshold, tuned on "
                   "validation images; one answer per one-of question). "
                   + ("Probabilities are calibrated on validation images: of the answers given 70 %, about 70 % "
                      "should be right (the Metrics tab shows how well that held on the test images)."
                      if model.card.get("calibration") else
                      "This model was trained before calibration: its percentages overstate rare attributes. "
                      "Train it again for calibrated ones."))
    if photos:
        st.caption(f"Greyed answers and pale hatched bars: attributes that were right less than "
                   f"{reliability.TRUSTED:.0%} of the time (balanced over yes and no) on cameras left out of training, "
                   f"so not findings; {rel.where()}." if rel else
                   "How far each answer can be trusted on new cameras is not known: no leave-one-site-out benchmark "
                   "results are here.")

split, test_probs = ua.test_probabilities(card["stem"], mtime, str(ds.root), ds)
test_frame = ds.frame.iloc[split.test].reset_index(drop=True)
truth = ds.labels(model.attributes)[split.test]
pred = model.decide(test_probs)

with tab_browse:
    attr = st.selectbox("Show test images where this attribute is true", model.attributes,
                        format_func=names.get, key="browse_attr")
    j = model.attributes.index(attr)
    rows = np.nonzero(truth[:, j] == 1)[0][:12]
    st.caption(f"{int((truth[:, j] == 1).sum())} test images have it; the model says yes for "
               f"{int(pred[:, j].sum())}. Under each photo: the model's probability for this attribute, "
               "✓ when its yes / no is right, ✗ when wrong.")
    cols = st.columns(6)
    for k, i in enumerate(rows):
        ok = pred[i, j] == truth[i, j]
        cols[k % 6].image(load_image(test_frame.path[i]), width=90,
                          caption=f"{'✓' if ok else '✗'} {test_probs[attr][i]:.0%}")

with tab_search:
    wanted = st.multiselect("Find people with", model.attributes, default=model.attributes[:1],
                            format_func=names.get, key="search_attrs")
    if wanted:
        top, chance = rank_by_attributes(test_probs, wanted)
        cols = st.columns(6)
        for k, (i, p) in enumerate(zip(top, chance)):
            has = all(truth[i, model.attributes.index(a)] == 1 for a in wanted)
            cols[k % 6].image(load_image(test_frame.path[i]), width=90,
                              caption=f"#{k + 1} · {p:.0%} {'✓' if has else '✗'}")
        st.caption("Ranked by the probability that the person has all the chosen attributes (the product of "
                   "their probabilities); ✓ when the ground truth has them all.")

with tab_metrics:
    per = pd.DataFrame(card.get("per_attribute", []))
    summary = next(iter(card.get("metrics", {}).values()), {})
    shown = {k: v for k, v in summary.items() if k in ("mA", "accuracy", "precision", "recall", "F1")}
    cols = st.columns(len(shown) or 1)
    for col, (k, v) in zip(cols, shown.items()):
        col.metric(k, f"{v:.1%}")
    elsewhere = A.new_site_words(model.card)
    if elsewhere:
        st.caption(f"These are on this model's own test images. On cameras it never saw, the benchmark measured this "
                   f"configuration's mA at {elsewhere}: the number to expect for photos from a new camera.")
    bins, ece = ua.reliability(card["stem"], mtime, str(ds.root), ds)
    st.plotly_chart(plots.reliability_diagram(bins, ece), key="attr_reliability")
    before = summary.get("ECE before calibration")
    st.caption(f"Calibration error (ECE) {ece:.1%}: how far, on average over every test image and attribute, the "
               "stated probability is from how often such statements were true (0 % is perfect)."
               + (f" Before calibration: {before:.1%}." if before is not None and model.card.get("calibration")
                  else " This model's probabilities are not calibrated (trained before calibration existed)."))
    if not per.empty:
        st.plotly_chart(plots.attribute_scores(per.assign(attribute=[names.get(a, a) for a in per.attribute])),
                        key="attr_scores")
        st.dataframe(ua.percent_columns(per), hide_index=True)
    st.caption("mA: mean over attributes of (true-positive rate + true-negative rate) / 2. Instance-based "
               "accuracy / precision / recall / F1 compare each image's predicted and true label sets.")
