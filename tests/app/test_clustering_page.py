"""AppTest of the Clustering & recommendations page."""
import base64
import json

import numpy as np
import pytest

from tests.app.helpers import open_page

PAGE = "pages/3_Clustering.py"


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("cache")
    mp.setenv("STUDIO_CACHE_DIR", str(path))
    yield path
    mp.undo()


def chart(at, title_start: str) -> dict:
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if title.startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def values(v) -> list:
    """Plotly sends numpy arrays as {"dtype", "bdata"}: decode them to a list."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def k_slider(at):
    return next(s for s in at.slider if s.label == "Number of groups (k)")


@pytest.fixture(scope="module")
def fitted(fresh_cache):
    at = open_page(PAGE)
    assert any("No mixtures are fitted yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")                     # nothing trained on page load
    at.button(key="fit_sweep").click().run()         # a job: the mixtures, then the recommender at every k
    assert not at.exception, [e.value for e in at.exception]
    assert not any("not prepared for this data and k yet" in i.value for i in at.info)   # ready at once
    assert not [b for b in at.button if b.key == "prepare_visitor"]
    return at


def test_sweep_button_then_bic_curve_with_best_k(fitted):
    spec = chart(fitted, "Model choice: BIC")
    names = [t.get("name", "") for t in spec["data"]]
    assert "BIC-best k = 4" in names and any(n.startswith("BIC range over 5 seeds") for n in names)
    assert k_slider(fitted).value == 4
    assert "so 100% of seeds agree" in " ".join(c.value for c in fitted.caption)


def test_slider_moves_change_the_charts(fitted):
    at = fitted
    assert len(chart(at, "Users per group")["data"][0]["y"]) == 4
    k_slider(at).set_value(7).run()
    assert not at.exception
    sizes = chart(at, "Users per group (k = 7)")
    assert len(sizes["data"][0]["y"]) == 7 and sum(values(sizes["data"][0]["x"])) == 320
    assert all(" · " in label for label in sizes["data"][0]["y"])     # groups named by their genres
    assert len(chart(at, "Genre taste")["data"]) == 4      # the four largest groups
    assert len(chart(at, "Membership probability")["data"][0]["y"]) == 7
    assert sum(values(chart(at, "Membership probability")["data"][0]["x"])) == pytest.approx(1)
    at.toggle(key="heatmap").set_value(True).run()
    assert len(chart(at, "All groups x genres")["data"][0]["y"]) == 7
    k_slider(at).set_value(4).run()


def test_user_recommendations_and_unknown_user(fitted):
    at = fitted
    assert any(m.value.startswith("User **42** belongs to group **") and " · " in m.value for m in at.markdown)
    table = at.dataframe[0].value                          # the hybrid by default, a reason for every film
    assert len(table) == 10 and list(table.columns) == ["title", "genres", "why", "liked by the group (%)"]
    assert table.why.str.contains("similar to|liked by|popular").all()
    at.radio(key="rec_method").set_value("groups").run()
    table = at.dataframe[0].value
    assert len(table) == 10 and {"title", "cluster raters", "matching genres"} <= set(table.columns)
    assert table["liked by the group (%)"].between(0, 100).all()
    at.radio(key="rec_method").set_value("hybrid").run()
    at.number_input(key="user_id").set_value(444).run()
    assert any("User 444 has no ratings in this data" in w.value for w in at.warning)
    assert not at.exception
    at.number_input(key="user_id").set_value(42).run()


def test_quality_panel_compares_with_baselines(fitted):
    at = fitted
    at.button(key="evaluate").click().run()
    table = at.dataframe[-1].value.set_index("method")
    assert {"most popular", "item-kNN (50 neighbours)", "GMM clusters (course: plain mean)",
            "hybrid (groups + item-kNN + popularity)"} <= set(table.index)
    assert table.loc["GMM clusters (liked share)", "P@10 (%)"] > table.loc["most popular", "P@10 (%)"]
    assert table["P@10 (%)"].between(0, 100).all()


def test_cold_start_panel(fitted):
    at = fitted
    at.button(key="coldstart_run").click().run()
    assert not at.exception
    spec = chart(at, "New users: P@10")
    assert {t["name"] for t in spec["data"]} == {"most popular", "item-kNN", "GMM groups", "hybrid"}
    table = at.dataframe[-1].value
    assert sorted(table.n.unique()) == [1, 3, 5, 10, 20] and len(table) == 20
    best = table.set_index(["n", "method"])["P@10 (%)"]
    assert all(best[(n, "GMM groups")] > best[(n, "most popular")] for n in (1, 3, 5, 10, 20))   # planted groups


def test_a_visitor_rates_films_and_gets_placed(fitted):
    at = fitted
    assert any(m.value.startswith("**Start here:** how did you like") for m in at.markdown)
    five = [b for b in at.button if b.key and b.key.startswith("rate_") and b.key.endswith("_5")]
    five[0].click().run()
    assert not at.exception
    assert any(m.value.startswith("After **1** rating you are closest to group") for m in at.markdown)
    spec = chart(at, "Membership probability")            # the visitor's comes before the known user's
    assert len(spec["data"][0]["y"]) == 4 and max(values(spec["data"][0]["x"])) < 1.0
    recs = next(d.value for d in at.dataframe if "why" in d.value.columns and "liked by your group (%)" in d.value.columns)
    assert len(recs) == 10
    skip = [b for b in at.button if b.key and b.key.startswith("skip_")]
    skip[0].click().run()                               # "not seen": asked something else, nothing rated
    assert any(m.value.startswith("After **1** rating") for m in at.markdown)
    at.text_input(key="visitor_search").set_value("harbor").run()
    at.radio(key=f"visitor_stars_{at.selectbox(key='visitor_pick').value}").set_value(2).run()
    assert any(m.value.startswith("After **1** rating") for m in at.markdown)     # not until it is added
    at.button(key="visitor_add").click().run()
    assert not at.exception
    assert any(m.value.startswith("After **2** ratings") for m in at.markdown)
    at.button(key="visitor_reset").click().run()
    assert any(m.value.startswith("**Start here:**") for m in at.markdown)


def test_uploads_good_and_malformed(fitted):
    at = fitted
    at.file_uploader(key="up_ratings").set_value(("ratings.csv", b"userId,movieId,rating\n1,2,x\n", "text/csv"))
    at.file_uploader(key="up_movies").set_value(("movies.csv", b"movieId,title,genres\n2,A,Drama\n", "text/csv"))
    at.run()
    assert any("missing column(s) timestamp" in e.value for e in at.error)
    assert not at.exception and at.get("plotly_chart")   # the page goes on with the current data
    ratings = "userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{m},{(u + m) % 5 + 1},{u * 100 + m}\n" for u in range(1, 31) for m in range(1, 11) if (u * m) % 3)
    movies = "movieId,title,genres\n" + "".join(
        f"{m},Film {m},{['Drama', 'Comedy|Romance', 'Action'][m % 3]}\n" for m in range(1, 11))
    at.file_uploader(key="up_ratings").set_value(("ratings.csv", ratings.encode(), "text/csv"))
    at.file_uploader(key="up_movies").set_value(("movies.csv", movies.encode(), "text/csv"))
    at.run()
    assert any("Using your files: 20 users" in s.value for s in at.success)
    assert any("No mixtures are fitted yet" in i.value for i in at.info)



def test_a_sweep_without_the_recommender_offers_to_prepare_every_k(tmp_path, monkeypatch, demo_dir):
    """Mixtures fitted before the recommender was kept (or by the CLI): the page asks once, a job prepares
    every k, and from then on the slider finds films to rate at any k."""
    from core.clustering import pipeline
    from core.clustering.features import user_profiles
    from core.clustering.gmm import GMMSpec
    from core.datasets import catalog

    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    ml = catalog.load(catalog.resolve("ratings", None, str(tmp_path), dataset="demo"))
    profiles = user_profiles(ml.ratings, ml.movies, pipeline.RECOMMENDED_PROFILE)
    ks, seeds = pipeline.k_range(len(profiles.users), 10), tuple(range(5))        # the page's "Largest k" 10
    folder = pipeline.sweep_folder(tmp_path, profiles, ks, seeds, GMMSpec("diag", 3))
    pipeline.run_sweep(profiles, folder, ks, seeds, GMMSpec("diag", 3))
    at = open_page(PAGE)
    at.selectbox(key="k_max").set_value(10).run()
    assert any("not prepared for this data and k yet" in i.value and "every k at once" in i.value for i in at.info)
    at.button(key="prepare_visitor").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert all(pipeline.hybrid_weights(folder, k) is not None for k in ks)
    assert not [b for b in at.button if b.key == "prepare_visitor"]
