"""Person Re-ID & Clustering Studio: navigation and the home page.

Run with ``make run`` (``python -m ui.serve``: every page's link works from the first visit; plain
``streamlit run app.py`` works too).
"""
import logging

import streamlit as st

from core import quiet
from ui import state

# TensorFlow's native start-up notices (no GPU here, oneDNN on) would otherwise read as warnings and
# errors in the server's log; anything else on standard error passes unchanged.
quiet.filter_native_stderr()

# Model loads are logged to the server's stderr ("studio loaded model ..."): one line per load, so that
# an operator (and the concurrency test) can see that sessions share the cached models.
_log = logging.getLogger("studio")
if not _log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("studio %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False

st.set_page_config(page_title="Person Re-ID & Clustering Studio", page_icon=":material/person_search:", layout="wide")


def home() -> None:
    from ui import home as dashboard

    st.title("Person Re-ID & Clustering Studio")
    st.markdown(
        "Three machine-learning systems you can train, test and try out in the browser. Everything works on "
        "built-in demo data; point the **Data folder** in the sidebar at the real datasets (VIPeR, MovieLens, "
        "PETA and other published layouts) to use them instead.")
    dashboard.dashboard({"reid": REID, "clustering": CLUSTERING, "attributes": ATTRIBUTES})
    st.divider()
    st.subheader("What the three systems do")
    c1, c2, c3 = st.columns(3)
    c1.markdown(
        "**Find the same person again.** Two cameras see the same people from different angles and in "
        "different light. A model turns each photo into a short list of numbers so that photos of the *same* "
        "person end up close together. Upload a photo and get the most similar people from the other "
        "camera, best match first.")
    c2.markdown(
        "**Groups of movie tastes.** Viewers are described by how much they like each film genre. A "
        "*Gaussian mixture model* finds groups of viewers with similar tastes; you choose how many groups "
        "with a slider. Each viewer then gets films that people in their group loved and they have not seen "
        "yet, and we measure whether that beats simply recommending hits.")
    c3.markdown(
        "**Describe a pedestrian.** From one photo, estimate things like gender, age group, clothing type and "
        "colour, or whether the person carries a backpack, each with a probability. A network pre-trained on "
        "millions of everyday photos does the seeing; small heads, one per attribute, learn the answers.")
    st.markdown(
        "The *Datasets* page shows which data is in use. Every step also runs from the command line: "
        "`python -m core prepare` (all three recommended models), `python -m core.datasets info`, and one "
        "command per system.")
    st.page_link(DATASETS, label="Open the Datasets page", icon=":material/dataset:")


HOME = st.Page(home, title="Home", icon=":material/home:", default=True)
DATASETS = st.Page("pages/1_Datasets.py", title="Datasets", icon=":material/dataset:", url_path="datasets")
REID = st.Page("pages/2_Re-identification.py", title="Re-identification", icon=":material/person_search:",
               url_path="reid")
CLUSTERING = st.Page("pages/3_Clustering.py", title="Clustering & recommendations", icon=":material/movie:",
                     url_path="clustering")

ATTRIBUTES = st.Page("pages/4_Attributes.py", title="Attributes", icon=":material/checkroom:", url_path="attributes")

pages = [HOME, DATASETS, REID, CLUSTERING, ATTRIBUTES]
navigation = st.navigation(pages)
state.sidebar()
navigation.run()
