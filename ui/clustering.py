"""Cached calls into core.clustering for the Clustering page (keys are explicit data ids + settings)."""
from __future__ import annotations

import hashlib
import os

import streamlit as st

from core import config
from core.clustering import pipeline
from core.clustering.features import ProfileSpec, user_profiles
from core.clustering.gmm import GMMSpec
from core.clustering.recommend import ClusterRecommender
from core.datasets import movielens
from ui import jobs as uj


def cache_dir() -> str:
    return str(config.cache_dir(os.environ.get(config.ENV_CACHE_DIR) or None))


@st.cache_resource(show_spinner="Reading your files…", max_entries=4)
def uploaded(ratings_bytes: bytes, movies_bytes: bytes, ratings_name: str, movies_name: str):
    ratings = movielens.load_ratings(ratings_bytes, name=ratings_name)
    movies = movielens.load_movies(movies_bytes, name=movies_name)
    ml = movielens.from_frames(ratings, movies)
    digest = hashlib.sha256(ratings_bytes + b"\0" + movies_bytes).hexdigest()[:16]
    return f"upload:{digest}", ml


@st.cache_resource(show_spinner="Building genre profiles…", max_entries=8)
def profiles(data_id: str, _ml, spec: ProfileSpec):
    return user_profiles(_ml.ratings, _ml.movies, spec)


@st.cache_resource(show_spinner=False, max_entries=32)
def model(folder: str, k: int):
    return pipeline.load_model(folder, k)


@st.cache_resource(show_spinner=False, max_entries=32)
def recommender(folder: str, k: int, data_id: str, _ml, _profiles, scorer: str, min_support: float):
    return ClusterRecommender(model(folder, k), _profiles, scorer, min_support).fit(_ml.ratings, _ml.movies)


@st.cache_data(show_spinner=False, max_entries=32)
def names(folder: str, k: int, data_id: str, _profiles) -> list[str]:
    from core.clustering.hybrid import group_names

    return group_names(model(folder, k), _profiles)


@st.cache_data(show_spinner=False, max_entries=32)
def evaluation(data_id: str, _ml, k: int, spec: ProfileSpec, gmm_spec: GMMSpec):
    return pipeline.evaluate_k(_ml, k, spec, gmm_spec)


_READY: set = set()         # (folder, k, data_id) whose hybrid this server has fitted (shared by sessions)


@st.cache_resource(show_spinner="Preparing recommendations: item similarities and the blend's weights…",
                   max_entries=8)
def hybrid(folder: str, k: int, data_id: str, _ml, _profiles, min_support: float = 3.0):
    fitted = pipeline.hybrid_recommender(_ml, model(folder, k), _profiles, min_support, folder, k)
    _READY.add((folder, k, data_id))
    return fitted


def hybrid_ready(folder: str, k: int, data_id: str, ml, key: str, job=None, job_key: str | None = None) -> bool:
    """True when the hybrid for this data and k is fitted here or its weights are kept on disk (``make
    models``, or an earlier fit); else a button to prepare it: ``job()`` starts the background job that
    prepares every k (data from the data folder), without it the hybrid of this k is fitted here (an
    upload). Never on page load: item similarities take seconds here and minutes on MovieLens-25M."""
    if (folder, k, data_id) in _READY or pipeline.hybrid_weights(folder, k) is not None:
        return True
    if job_key is not None and any(j.active for j in [uj.current(job_key)] if j is not None):
        uj.panel(job_key)             # being prepared (by anyone): its progress, then the films
        return False
    st.info(f"The recommender that blends the groups with similar films and popularity is not prepared for "
            f"this data and k yet: it compares every pair of the {ml.ratings.movieId.nunique():,} rated films "
            f"(about 10 seconds for 100,000 ratings; this data has {len(ml.ratings):,}) and chooses the blend"
            + (" for every k at once, in the background." if job else ".") + " Once prepared it serves every visitor.")
    if not st.button("Prepare the recommender", type="primary", key=key):
        return False
    if job is None:
        return True
    if not job().active:
        st.rerun()
    return False


@st.cache_resource(show_spinner=False, max_entries=8)
def guide(folder: str, k: int, data_id: str, _ml, _profiles):
    from core.clustering.visitor import TasteGuide

    return TasteGuide.from_hybrid(hybrid(folder, k, data_id, _ml, _profiles), _ml.movies)


_COLDSTART: dict = {}        # shared by sessions; not st.cache_data, which cannot replay a progress bar made outside


def coldstart(data_id: str, ml, k: int, spec: ProfileSpec, gmm_spec: GMMSpec, progress=None):
    from core.clustering import coldstart as cs

    key = (data_id, k, spec, gmm_spec)
    if key not in _COLDSTART:
        table = cs.evaluate(ml, k, profile_spec=spec, gmm_spec=gmm_spec, progress=progress)
        while len(_COLDSTART) >= 8:
            _COLDSTART.pop(next(iter(_COLDSTART)))
        _COLDSTART[key] = table
    return _COLDSTART[key]


PERCENT_COLUMNS = ("P@10", "R@10", "NDCG@10", "coverage")


def percent_table(table):
    """The recommenders' metrics as percentages (``state.as_percent``)."""
    from ui import state

    return state.as_percent(table, PERCENT_COLUMNS)


def recommendation_table(table, share: str, before: list[str], after: list[str] = ()):
    """Recommended films for people: the columns ``before``, the group's share that liked each film
    (``share``, a fraction) as "liked by the group (%)", then ``after``."""
    liked = "liked by the group (%)"
    return table.assign(**{liked: (table[share] * 100).round(0)})[list(before) + [liked] + list(after)]


STARS = {1: "1 ★", 2: "2 ★", 3: "3 ★", 4: "4 ★", 5: "5 ★"}


def visitor_panel(g, data_id: str) -> None:
    """See :func:`hybrid_ready` for ``g``'s preparation (a TasteGuide from :func:`guide`)."""
    """Rate films one question at a time (or found by title); membership, taste and recommendations
    after every rating. The ratings live in this browser session only."""
    from core import plots

    state = st.session_state.setdefault("visitor", {"data": data_id, "rated": {}, "skipped": []})
    if state["data"] != data_id:                    # another dataset or k: start again
        state.update(data=data_id, rated={}, skipped=[])
    rated, skipped = state["rated"], state["skipped"]
    titles = g.titles

    def rate(movie: int, stars: float | None):
        if stars is None:
            skipped.append(movie)
        else:
            rated[movie] = stars

    q = g.next_question(rated, skipped)
    c1, c2 = st.columns([3, 2])
    with c1:
        if q is None:
            st.info("No more questions: rate films by title on the right.")
        else:
            st.markdown(f"**{'Start here' if not rated else 'Next'}:** how did you like "
                        f"**{titles.title[q]}** ({', '.join(titles.genre_list[q]) or 'no genre listed'})?")
            cols = st.columns(6)
            for col, (s, label) in zip(cols, STARS.items()):
                if col.button(label, key=f"rate_{q}_{s}", help=f"{s} of 5 stars"):
                    rate(q, float(s))
                    st.rerun()
            if cols[5].button("Not seen", key=f"skip_{q}"):
                rate(q, None)
                st.rerun()
    with c2:
        text = st.text_input("Find a film by title", key="visitor_search", placeholder="e.g. star wars")
        hits = g.search(text) if text else None
        if hits is not None and hits.empty:
            st.caption("No title contains that.")
        elif hits is not None:
            pick = st.selectbox("Film", hits.movieId.tolist(), format_func=lambda m: titles.title[m], key="visitor_pick")
            stars = st.radio("Your rating", list(STARS), format_func=STARS.get, horizontal=True, index=None,
                             key=f"visitor_stars_{pick}")
            if st.button("Add my rating", key="visitor_add", disabled=stars is None):
                rate(pick, float(stars))
                st.rerun()
    if not rated:
        st.caption("Your ratings stay in this browser tab: nothing is written on the server.")
        return
    place = g.place(rated)
    label = plots.group_label(place.group, g.names)
    st.markdown(f"After **{len(rated)}** rating{'s' if len(rated) > 1 else ''} you are closest to group "
                f"**{label}** ({place.membership[place.group]:.0%} likely). "
                f"Updated in {place.seconds * 1000:.0f} ms.")
    c1, c2 = st.columns([1, 2])
    c1.plotly_chart(plots.membership(place.membership, g.names), key="visitor_membership")
    c1.caption("How likely each group is for you, from your ratings so far; a few ratings leave room for doubt.")
    c2.plotly_chart(plots.profile_vs_cluster(place.profile, g.group_profiles.loc[place.group], g.profiles.frame().mean(),
                                             "share of ratings", who="you", group=f"group {label}"),
                    key="visitor_profile")
    c2.caption("Bars: the share of your ratings (red) and of your group's (blue) in each genre; the dash is the "
               "average user.")
    recs = place.recommendations
    st.markdown("**Films for you**")
    st.dataframe(recs.assign(**{"liked by your group": (recs["liked by your group"] * 100).round(0)})[
        ["title", "genres", "why", "liked by your group"]].rename(columns={"liked by your group": "liked by your group (%)"}),
        hide_index=True)
    with st.expander(f"Your ratings ({len(rated)})"):
        st.dataframe([{"film": titles.title[m], "your rating": STARS[int(round(s))]} for m, s in rated.items()],
                     hide_index=True)
        if st.button("Forget my ratings", key="visitor_reset"):
            state.update(rated={}, skipped=[])
            st.rerun()
