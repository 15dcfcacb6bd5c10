"""The hybrid recommender, group names, memberships from a few ratings, cold start and the visitor."""
import numpy as np
import pandas as pd
import pytest

from core.clustering import coldstart, hybrid, pipeline
from core.clustering.evaluation import temporal_split, user_metrics
from core.clustering.features import user_profiles
from core.clustering.gmm import fit_model
from core.clustering.visitor import TasteGuide
from core.datasets import catalog, demo
from core.errors import StudioError


@pytest.fixture(scope="module")
def ml(demo_dir):
    return catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))


@pytest.fixture(scope="module")
def fitted(ml):
    profiles = user_profiles(ml.ratings, ml.movies)
    model = fit_model(profiles, 4, seed=0)
    return profiles, model


@pytest.fixture(scope="module")
def guide(ml, fitted):
    profiles, model = fitted
    return TasteGuide.from_hybrid(pipeline.hybrid_recommender(ml, model, profiles), ml.movies)


def test_group_names_find_the_planted_tastes(fitted):
    profiles, model = fitted
    names = hybrid.group_names(model, profiles)
    assert len(set(names)) == 4
    for liked in demo.TASTE_GROUPS.values():          # every planted group is named by its own genres
        assert any(len(set(n.split(" · ")) & set(liked)) >= 2 for n in names), (liked, names)


def test_memberships_from_a_few_ratings_are_cautious_and_right(ml, fitted):
    profiles, model = fitted
    names = hybrid.group_names(model, profiles)
    liked = list(demo.TASTE_GROUPS.values())[0]
    films = ml.movies[ml.movies.genre_list.map(lambda g: set(g) <= set(liked) and len(g) > 0)].movieId[:6]
    few = pd.DataFrame({"userId": 1, "movieId": films.to_numpy(), "rating": 5.0, "timestamp": 0})
    _, z = hybrid.memberships(model, few, ml.movies)
    assert len(set(names[int(z[0].argmax())].split(" · ")) & set(liked)) >= 2
    _, z1 = hybrid.memberships(model, few.iloc[:1], ml.movies)
    _, raw1 = hybrid.memberships(model, few.iloc[:1], ml.movies, prior_ratings=0)
    assert z1.max() < raw1.max() and z1.max() < 0.999          # one rating leaves room for doubt
    # the shrinkage fades: with many ratings the prior hardly moves the profile
    many = ml.ratings[ml.ratings.userId == profiles.users[0]]
    _, zm = hybrid.memberships(model, many, ml.movies)
    np.testing.assert_allclose(zm[0], model.responsibilities(profiles)[0], atol=0.2)


def test_metrics_match_the_reference_implementation():
    rng = np.random.default_rng(0)
    items = np.arange(100, 160)
    scores = rng.random((7, 60))
    relevant = [set(rng.choice(items, rng.integers(1, 6), replace=False)) | {999} for _ in range(7)]
    top = hybrid.top_cols(scores)
    m = hybrid.metrics_at(top, hybrid.relevance(items, relevant), np.array([len(r) for r in relevant]))
    for u in range(7):
        ref = user_metrics(list(items[top[u]]), relevant[u])
        assert (m["P"][u], m["R"][u], m["NDCG"][u]) == pytest.approx(ref)


def test_choose_weights_follows_the_validation_users():
    items = np.arange(20)
    seen = np.zeros((3, 20), bool)
    group = np.tile(np.linspace(0, 1, 20), (3, 1))           # the group part ranks films 19..10 first
    knn = group[:, ::-1].copy()                                 # item-kNN ranks films 0..9 first
    popular = np.tile(np.array([1.0, 0.0] * 10), (3, 1))      # popularity: every other film
    parts = {"group": group, "knn": knn, "popular": popular}
    w, p = hybrid.choose_weights(parts, seen, items, [set(range(10, 20))] * 3)
    assert w["group"] > w["knn"] and p == pytest.approx(1.0)
    w, p = hybrid.choose_weights(parts, seen, items, [set(range(10))] * 3)
    assert w["knn"] > w["group"] and p == pytest.approx(1.0)


def test_hybrid_never_recommends_seen_films_and_weights_come_from_training_only(ml, fitted):
    train, test = temporal_split(ml.ratings)
    profiles = user_profiles(train, ml.movies)
    model = fit_model(profiles, 4, seed=0)
    h = hybrid.HybridRecommender(model, profiles).fit(train, ml.movies)
    assert sum(h.weights.values()) == pytest.approx(1) and 0 <= h.validation_precision <= 1
    h2 = hybrid.HybridRecommender(model, profiles).fit(train, ml.movies)
    assert h2.weights == h.weights                                  # deterministic
    users = np.sort(train.userId.unique())[:20]
    top = h.top_n(users, 10)
    for u, row in zip(users, top):
        assert not set(row) & set(train[train.userId == u].movieId)
    fixed = hybrid.HybridRecommender(model, profiles, weights={"group": 0, "knn": 1, "popular": 0}).fit(train, ml.movies)
    knn = hybrid.ItemKNNRecommender(hybrid.NEIGHBOURS).fit(train, ml.movies)
    assert (fixed.top_n(users[:5], 5) == knn.top_n(users[:5], 5)).mean() > 0.9   # knn alone: the kNN ranking
    table = h.recommend(int(users[0]), 10)
    assert len(table) == 10 and table.why.str.len().gt(10).all()


def test_first_n_by_time_ties_by_movie():
    r = pd.DataFrame({"userId": [1, 1, 1, 2, 2], "movieId": [30, 10, 20, 5, 6], "rating": 4.0,
                      "timestamp": [5, 7, 5, 1, 2]})
    known, later = coldstart.first_n(r, 2)
    assert known[known.userId == 1].movieId.tolist() == [20, 30] and later.movieId.tolist() == [10]


def test_cold_start_never_fits_on_the_users_it_judges(ml, monkeypatch):
    calls = []
    real_fit, real_new = coldstart._fit, coldstart._new_users

    def spy_fit(ratings, *a, **kw):
        calls.append(("fit", set(ratings.userId)))
        return real_fit(ratings, *a, **kw)

    def spy_new(ratings, *a, **kw):
        calls.append(("judge", set(ratings.userId)))
        return real_new(ratings, *a, **kw)
    monkeypatch.setattr(coldstart, "_fit", spy_fit)
    monkeypatch.setattr(coldstart, "_new_users", spy_new)
    table = coldstart.evaluate(ml, 4, ns=(1, 5), folds=2)
    fitted_on = None
    for kind, users in calls:
        if kind == "fit":
            fitted_on = users
        else:
            assert not users & fitted_on
    assert len(table) == 8 and set(table.method) == set(coldstart.METHODS)
    assert table.users.max() <= ml.ratings.userId.nunique()
    by = table.set_index(["n", "method"])["P@10"]
    assert by[(5, "GMM groups")] > by[(5, "most popular")]       # the demo's planted groups help new users


def test_visitor_questions_and_placement(guide, ml):
    starters = guide.starters(12)
    assert len(starters) == 12 and len(set(starters)) == 12
    covered = set()
    for m in starters:                                             # each starter adds a genre until all are in
        genres = set(guide.titles.genre_list[m])
        assert not genres <= covered or covered >= set(ml.genres)
        covered |= genres
    assert guide.next_question({}) == starters[0]
    rated = {starters[0]: 5.0, starters[1]: 1.0}
    assert guide.next_question(rated, skipped=[starters[2]]) == starters[3]
    asked = set(starters)
    nxt = guide.next_question({m: 3.0 for m in starters})
    assert nxt is not None and nxt not in asked
    place = guide.place(rated)
    assert place.membership.sum() == pytest.approx(1) and len(place.recommendations) == 10
    assert not set(place.recommendations.movieId) & set(rated)
    assert set(place.profile.index) == set(ml.genres)
    with pytest.raises(StudioError, match="rate at least one film"):
        guide.place({})
    with pytest.raises(StudioError, match="not in this catalogue"):
        guide.place({-5: 4.0})
    title = ml.movies.title.iloc[0]
    assert title in guide.search(title[:6].upper()).title.tolist()


def test_cli_recommend_hybrid_and_coldstart(ml, tmp_path, capsys):
    import json

    from core import cli
    from core.clustering import __main__ as clustering_cli

    user = int(ml.ratings.userId.iloc[0])
    assert cli.run(clustering_cli.main, ["recommend", "--user", str(user), "--k", "4"]) == 0
    out = capsys.readouterr().out
    assert f"user {user}: group " in out and " · " in out and "blend: groups" in out and "why" in out
    assert cli.run(clustering_cli.main, ["recommend", "--user", "999999", "--k", "4"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "unknown user id 999999" in err[-1] and not any("Traceback" in e for e in err)
    out_json = tmp_path / "cold.json"
    assert cli.run(clustering_cli.main, ["coldstart", "--k", "4", "--n", "1", "3", "--folds", "2",
                                         "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())
    assert {(r["n"], r["method"]) for r in rows} == {(n, m) for n in (1, 3) for m in coldstart.METHODS}
