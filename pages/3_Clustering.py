"""Clustering & recommendations: BIC curve and k slider, groups, a user's recommendations, quality."""
from dataclasses import asdict

import streamlit as st

from core import artifacts, job_kinds, plots, recommended
from core.clustering import pipeline
from core.clustering.features import ProfileSpec
from core.clustering.gmm import GMMSpec
from core.errors import StudioError
from ui import clustering as uc
from ui import datasets, state
from ui import jobs as uj

st.title(":material/movie: Clustering & recommendations")
st.caption("Viewers are grouped by their taste in film genres with a Gaussian mixture model; each viewer "
           "is then recommended films their group liked.")

PROFILES = {
    "Share of ratings per genre (recommended)": pipeline.RECOMMENDED_PROFILE,
    "Rating above one's own average, per genre": ProfileSpec("deviation"),
    "Course: mean rating per genre, 0 if unrated, standardised": pipeline.COURSE_PROFILE,
}
UNITS = {"share": "share of the user's ratings", "deviation": "stars above own average", "mean": "z-score"}

# ------------------------------------------------------------------ data: the data folder, or an upload
source, ml = datasets.show("ratings", stop=False)       # own ratings can still be uploaded below
data_id = f"{source.path}" if source is not None else ""
with st.expander("Bring your own ratings (MovieLens format)"):
    c1, c2 = st.columns(2)
    up_r = c1.file_uploader("ratings.csv", type=["csv"], key="up_ratings")
    up_m = c2.file_uploader("movies.csv", type=["csv"], key="up_movies")
    if up_r is not None and up_m is not None:
        try:
            data_id, ml = uc.uploaded(up_r.getvalue(), up_m.getvalue(), up_r.name, up_m.name)
            st.success(f"Using your files: {ml.ratings.userId.nunique():,} users, {len(ml.ratings):,} ratings.")
            for p in ml.problems:
                st.warning(p)
        except StudioError as exc:
            st.error(f"Your files could not be used: {exc}")
    elif up_r is not None or up_m is not None:
        st.info("Upload both ratings.csv and movies.csv to use your own data.")
if ml is None:
    st.stop()
st.markdown(f"**Data:** {'your upload' if data_id.startswith('upload:') else source.label} · "
            f"{ml.ratings.userId.nunique():,} users · {len(ml.ratings):,} ratings · {len(ml.movies):,} movies")

with st.expander("Model settings"):
    choice = st.radio("How a user's taste is described", list(PROFILES), key="profile_kind")
    c1, c2, c3 = st.columns(3)
    covariance = c1.selectbox("Covariance", ["diag", "full", "tied", "spherical"], key="covariance",
                              help="diag: each group has its own spread per genre; full adds correlations "
                                   "(many more parameters, so BIC prefers fewer groups)")
    n_seeds = c2.selectbox("Seeds (BIC band)", [3, 5, 8], index=1, key="n_seeds")
    k_max = c3.selectbox("Largest k", [10, 15, 25], index=2, key="k_max")
    course_ks, share_ks = recommended.bic_k_range(recommended.COURSE_PROFILE), recommended.bic_k_range()
    st.markdown(
        "**Why share of ratings?** The course described users by their mean rating per genre and put 0 "
        "where a user rated no film of a genre. Those zeros are not tastes, and after standardising they "
        "form extra, degenerate directions: on MovieLens the BIC-best k then moves between "
        f"{course_ks[0]} and {course_ks[1]} with the random seed. The share of a user's ratings per genre has no "
        f"holes and one scale, and its BIC minimum is stable ({share_ks[0]} to {share_ks[1]} on MovieLens; the 4 "
        "planted groups on the demo data). The band around the BIC curve shows how much the choice moves over "
        "seeds.")
spec = PROFILES[choice]
gmm_spec = GMMSpec(covariance, 3 if covariance != "full" else 1)
profiles = uc.profiles(data_id, ml, spec)
seeds, ks = tuple(range(n_seeds)), pipeline.k_range(len(profiles.users), k_max)
folder = pipeline.sweep_folder(uc.cache_dir(), profiles, ks, seeds, gmm_spec)
sweep = pipeline.load_sweep(folder)

in_folder = source is not None and not data_id.startswith("upload:")     # a job's process can read it
job_key = uj.key("clustering", data_id)


def fit_job():
    """The sweep and the recommender at every k, in the background (data from the data folder)."""
    return uj.start("clustering-fit", {"dataset": job_kinds.dataset_settings(source), "profile": asdict(spec),
                                       "gmm": asdict(gmm_spec), "ks": list(ks), "seeds": list(seeds),
                                       "cache_dir": uc.cache_dir(), "model_dir": str(state.model_dir())},
                    job_key, f"Fitting the mixtures and the recommender on {ml.ratings.userId.nunique():,} users")


if sweep is None:
    st.info(f"No mixtures are fitted yet for this data and these settings: {len(ks)} values of k x "
            f"{len(seeds)} seeds (a few seconds to a minute), then the recommender for every k. They are saved, "
            "so this happens once.")
    if st.button("Fit the mixtures", type="primary", key="fit_sweep"):
        if in_folder:
            if not fit_job().active:
                st.rerun()
        else:                                    # an upload lives in this session only: fitted here
            bar = st.progress(0.0, text="Fitting…")
            try:
                with artifacts.training_lock("clustering", state.model_dir()):
                    pipeline.run_sweep(profiles, folder, ks, seeds, gmm_spec,
                                       progress=lambda e: bar.progress(e.fraction, text=f"Fitting {e.message}"))
            except StudioError as exc:
                st.error(str(exc))
                st.stop()
            st.rerun()
    uj.panel(job_key)
    st.stop()

# ------------------------------------------------------------------ BIC and the slider
best = sweep.best_k
k = st.slider("Number of groups (k)", min_value=1, max_value=max(ks), value=best, key=f"k_{folder.name}")
show_aic = st.toggle("Show AIC too", key="show_aic")
st.plotly_chart(plots.bic_curve(sweep, k, show_aic), key="bic")
per_seed = sweep.best_k_per_seed
st.caption(f"BIC-best k = **{best}** (lowest mean BIC over {len(seeds)} seeds). Each seed's own minimum: "
           f"{', '.join(map(str, per_seed))}, so {sweep.agreement:.0%} of seeds agree. Sweep took "
           f"{sweep.seconds:.1f} s.")

model = uc.model(str(folder), k)
found = pipeline.groups(model, profiles)
sizes, means, raw = found.sizes, found.means, profiles.frame()
unit = UNITS[spec.kind] if spec != pipeline.COURSE_PROFILE else "mean rating (0 = unrated)"

names = uc.names(str(folder), k, data_id, profiles)
c1, c2 = st.columns([1, 2])
c1.plotly_chart(plots.cluster_sizes(sizes, names), key="sizes")
c1.caption("How many users each group holds; each group is named by the genres it likes most above the "
           "average user.")
top = sizes.sort_values(ascending=False).index[: min(4, k)].tolist()
if c2.toggle("Heatmap of all groups", key="heatmap"):
    c2.plotly_chart(plots.genre_heatmap(means.dropna(), unit, names), key="genre_heatmap")
else:
    c2.plotly_chart(plots.genre_bars(means, top, unit, names), key="genre_bars")
c2.caption(f"What sets the groups apart: each group's average profile per genre ({unit}).")

# ------------------------------------------------------------------ a visitor
st.header("Rate a few films yourself")
st.markdown("Rate the films you know: after each rating you see which taste group you are closest to, your "
            "taste against that group's, and films recommended for you with the reason for each. The next "
            "question is the film that best tells apart the groups still likely for you.")
if uc.hybrid_ready(str(folder), k, data_id, ml, key="prepare_visitor", job=fit_job if in_folder else None,
                   job_key=job_key):
    uc.visitor_panel(uc.guide(str(folder), k, data_id, ml, profiles), f"{data_id}|{folder.name}|{k}")

# ------------------------------------------------------------------ one user
st.header("A user's group and recommendations")
known = profiles.users
EXAMPLES = [42, 314, 444]


def _pick():
    st.session_state["user_id"] = int(st.session_state["user_example"])


c1, c2, c3 = st.columns([1, 1, 2])
c1.pills("Examples", EXAMPLES, key="user_example", on_change=_pick)
user_id = int(c2.number_input("User id", min_value=0, value=42, step=1, key="user_id"))
n = c3.slider("How many recommendations", 5, 30, 10, key="n_recs")
if user_id not in set(known.tolist()):
    st.warning(f"User {user_id} has no ratings in this data, so there is nothing to go on. "
               f"Known user ids run from {known.min()} to {known.max()} ({len(known):,} users).")
else:
    row = profiles.row(user_id)
    group, chance = found.of(row)
    label = plots.group_label(group, names)
    st.markdown(f"User **{user_id}** belongs to group **{label}** with probability **{chance:.0%}** "
                f"({int(sizes[group])} users in that group).")
    c1, c2 = st.columns([1, 2])
    c1.plotly_chart(plots.membership(found.resp[row], names), key="membership")
    c2.plotly_chart(plots.profile_vs_cluster(raw.iloc[row], means.loc[group], raw.mean(), unit,
                                             group=f"group {label}"), key="profile")
    st.caption("Left: how likely each group is for this user. Right: the user's taste (red) against the group's "
               "(blue) and the average user's (black marks): where red and blue agree, the group fits.")
    how = st.radio("Recommend with", ["hybrid", "groups"], horizontal=True, key="rec_method",
                   format_func={"hybrid": "Groups + similar films + popularity (best measured)",
                                "groups": "The taste groups alone"}.get)
    if how == "hybrid":
        if uc.hybrid_ready(str(folder), k, data_id, ml, key="prepare_user", job=fit_job if in_folder else None,
                           job_key=job_key):
            table = uc.hybrid(str(folder), k, data_id, ml, profiles).recommend(user_id, n)
            st.dataframe(uc.recommendation_table(table, "liked by your group", ["title", "genres", "why"]),
                         hide_index=True)
            st.caption("Each film's score blends what the user's group liked, films similar to those the user "
                       "rated highly, and popularity, with weights chosen on held-out ratings; *why* names the "
                       "part that lifted it most.")
    else:
        rec = uc.recommender(str(folder), k, data_id, ml, profiles, "liked", 3.0)
        table = rec.recommend(user_id, n)
        if table.empty:
            st.info("No unseen movie has enough support in this user's group.")
        else:
            st.dataframe(uc.recommendation_table(table, "score", ["title", "genres"],
                                                 ["cluster raters", "cluster mean rating", "matching genres"]),
                         hide_index=True)
            st.caption("Score: the share of the group (weighted by membership) that rated the film 4 stars or "
                       "more; films fewer than 3 group members rated are left out. Matching genres: the film's "
                       "genres in which this user is above the average user.")

# ------------------------------------------------------------------ quality
st.header("Do the groups help?")
st.markdown("Each user's latest 20 % of ratings are hidden, the model is fitted on the rest, and we count "
            "how many of the 10 recommended films the user did rate 4+ later (Precision@10), among other "
            "measures. The same hidden ratings judge two baselines: the most popular films, and item-kNN.")
key = (data_id, k, spec, gmm_spec)
if st.session_state.get("evaluated") == key or st.button(f"Evaluate recommendations for k = {k}", key="evaluate"):
    st.session_state["evaluated"] = key
    with st.spinner("Fitting on the training part and scoring the hidden ratings (about half a minute)…"):
        table = uc.evaluation(data_id, ml, k, spec, gmm_spec)
    st.dataframe(uc.percent_table(table.drop(columns=["k"])).round({"seconds": 2}), hide_index=True)
    st.plotly_chart(plots.metric_bars(table, "P@10"), key="quality")
    st.caption("Precision@10: of the 10 films recommended, the share the user rated 4+ later. Higher is better.")

st.subheader("New users")
st.markdown("A new user has rated only a few films. Users are split into 5 folds; the models are fitted "
            "without a fold's users, who are then known by their first 1, 3, 5, 10 or 20 ratings only, and "
            "judged on the films they rated 4+ later. The hybrid's weights are chosen for each number of "
            "ratings on other users than those judged.")
if st.session_state.get("coldstart") == key or st.button(f"Evaluate for new users, k = {k} (about a minute)",
                                                          key="coldstart_run"):
    st.session_state["coldstart"] = key
    bar = st.progress(0.0, text="Starting…")
    cold = uc.coldstart(data_id, ml, k, spec, gmm_spec, lambda e: bar.progress(e.fraction, text=e.message))
    bar.empty()
    st.plotly_chart(plots.coldstart_curve(cold), key="coldstart_curve")
    st.caption("Each line: how often a method's 10 films are ones the new user later liked, by how many "
               "ratings the user has given. Where the hybrid line is on top, the groups help.")
    st.dataframe(uc.percent_table(cold), hide_index=True)
