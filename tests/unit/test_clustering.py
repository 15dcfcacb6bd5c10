import math

import numpy as np
import pandas as pd
import pytest

from core import cli
from core.artifacts import ArtifactError
from core.clustering import __main__ as clustering_cli
from core.clustering import evaluation, pipeline
from core.clustering.features import ProfileSpec, genre_matrix, user_profiles
from core.clustering.gmm import ClusterModel, GMMSpec, check_k, fit_model, sweep
from core.clustering.recommend import ClusterRecommender, ItemKNNRecommender, PopularRecommender
from core.datasets import catalog
from core.datasets.movielens import split_genres
from core.errors import StudioError

MOVIES = pd.DataFrame({"movieId": [1, 2, 3, 4], "title": list("abcd"),
                       "genres": ["Action|Comedy", "Comedy", "Drama", "(no genres listed)"]})
MOVIES["genre_list"] = MOVIES.genres.map(split_genres)
RATINGS = pd.DataFrame({"userId": [1, 1, 1, 2, 2], "movieId": [1, 2, 4, 2, 3],
                        "rating": [4.0, 2.0, 5.0, 5.0, 1.0], "timestamp": [1, 2, 3, 1, 2]})


@pytest.fixture(scope="module")
def demo_ml(demo_dir):
    return catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))


def test_genre_matrix_keeps_names_and_no_genres_row_is_zero():
    G = genre_matrix(MOVIES)
    assert list(G.columns) == ["Action", "Comedy", "Drama"]
    assert G.loc[1].tolist() == [1, 1, 0] and G.loc[4].tolist() == [0, 0, 0]


def test_profiles_by_hand():
    share = user_profiles(RATINGS, MOVIES, ProfileSpec("share")).frame()
    # user 1 rated 3 movies: Action in 1 of them, Comedy in 2, Drama in none
    assert share.loc[1].tolist() == pytest.approx([1 / 3, 2 / 3, 0])
    mean = user_profiles(RATINGS, MOVIES, ProfileSpec("mean", "zero")).frame()
    assert mean.loc[1].tolist() == pytest.approx([4.0, 3.0, 0.0])
    assert mean.loc[2].tolist() == pytest.approx([0.0, 5.0, 1.0])
    filled = user_profiles(RATINGS, MOVIES, ProfileSpec("mean", "user-mean")).frame()
    assert filled.loc[1, "Drama"] == pytest.approx(11 / 3)
    dev = user_profiles(RATINGS, MOVIES, ProfileSpec("deviation", shrinkage=1.0)).frame()
    # user 2's mean is 3: Comedy +2 over (1 + 1) -> 1.0; Drama -2 / 2 -> -1.0; Action unrated -> 0
    assert dev.loc[2].tolist() == pytest.approx([0.0, 1.0, -1.0])
    z = user_profiles(RATINGS, MOVIES, ProfileSpec("share", scale="standard"))
    assert np.allclose(z.values.mean(0), 0) and z.raw[0, 0] == pytest.approx(1 / 3)
    with pytest.raises(StudioError, match="unknown user id 7"):
        z.row(7)


def test_bic_picks_the_planted_k_on_generated_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, (3, 5))
    X = np.vstack([c + rng.normal(0, 1, (150, 5)) for c in centres])
    result = sweep(X, range(1, 8), GMMSpec("diag", 2), seeds=(0, 1, 2))
    assert result.best_k == 3 and result.agreement == 1.0
    assert result.bic.shape == (3, 7) and (result.aic < result.bic).all()


def test_demo_sweep_finds_the_four_taste_groups(demo_ml, demo_dir):
    from sklearn.metrics import adjusted_rand_score

    P = user_profiles(demo_ml.ratings, demo_ml.movies)
    result = sweep(P.values, range(1, 9), GMMSpec(), seeds=(0, 1, 2))
    assert result.best_k == 4
    groups = pd.read_csv(demo_dir / "ml-latest-small" / "demo_groups.csv").set_index("userId").loc[P.users, "group"]
    labels = fit_model(P, 4).predict(P)
    assert adjusted_rand_score(groups, labels) > 0.9


def test_k_out_of_range_is_refused():
    with pytest.raises(StudioError, match="between 1 and 10"):
        check_k(11, 10)
    with pytest.raises(StudioError):
        check_k(0, 100)


def test_save_load_round_trip_and_corruption(tmp_path, demo_ml):
    P = user_profiles(demo_ml.ratings, demo_ml.movies)
    for cov in ("diag", "full", "tied", "spherical"):
        model = fit_model(P, 3, GMMSpec(cov, 1))
        model.save(tmp_path / f"m-{cov}")
        again = ClusterModel.load(tmp_path / f"m-{cov}")
        assert np.allclose(again.responsibilities(P), model.responsibilities(P))
        assert again.genres == model.genres and again.profile_spec == model.profile_spec
    (tmp_path / "m-diag.npz").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="does not match its card"):
        ClusterModel.load(tmp_path / "m-diag")
    (tmp_path / "m-full.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        ClusterModel.load(tmp_path / "m-full")
    with pytest.raises(ArtifactError, match="not found"):
        ClusterModel.load(tmp_path / "missing")


def test_run_sweep_saves_models_and_reuses_them(tmp_path, demo_ml):
    P = user_profiles(demo_ml.ratings, demo_ml.movies)
    folder = pipeline.sweep_folder(tmp_path, P, range(1, 5), (0,), GMMSpec())
    first = pipeline.run_sweep(P, folder, range(1, 5), (0,))
    assert sorted(p.name for p in folder.glob("k*.json")) == ["k1.json", "k2.json", "k3.json", "k4.json"]
    again = pipeline.run_sweep(P, folder, range(1, 5), (0,), progress=lambda *a: pytest.fail("refitted"))
    assert np.array_equal(first.bic, again.bic)
    model = pipeline.load_model(folder, 4)
    assert model.card["bic"] == pytest.approx(first.bic[0, 3])


def test_temporal_split_ties_and_fraction():
    r = pd.DataFrame({"userId": [1] * 6, "movieId": [6, 5, 4, 3, 2, 1], "rating": [4.0] * 6,
                      "timestamp": [10, 10, 10, 20, 30, 30]})
    train, test = evaluation.temporal_split(r)
    # ceil(0.2 * 6) = 2 latest: timestamp 30 for movies 1 and 2 (tie broken by movieId)
    assert sorted(test.movieId) == [1, 2] and train.movieId.tolist() == [4, 5, 6, 3]


def test_metrics_against_hand_worked_example():
    p, r, n = evaluation.user_metrics([1, 2, 3, 4], {2, 4, 9}, k=4)
    assert p == 0.5 and r == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert n == pytest.approx(dcg / idcg)
    assert evaluation.user_metrics([9, 8], {9}, k=2) == (0.5, 1.0, 1.0)


def test_recommenders_never_return_seen_movies(demo_ml):
    train, test = evaluation.temporal_split(demo_ml.ratings)
    P = user_profiles(train, demo_ml.movies)
    recs = pipeline.recommenders(train, demo_ml.movies, fit_model(P, 4), P)
    users = np.sort(train.userId.unique())
    seen = train.groupby("userId").movieId.apply(set)
    for rec in recs.values():
        top = rec.top_n(users, 20)
        for u, row in zip(users, top):
            assert not set(row[row >= 0]) & seen[u]


def test_cluster_recommender_min_support_and_reasons(demo_ml):
    P = user_profiles(demo_ml.ratings, demo_ml.movies)
    model = fit_model(P, 4)
    rec = ClusterRecommender(model, P, "liked", min_support=3).fit(demo_ml.ratings, demo_ml.movies)
    table = rec.recommend(42, 10)
    assert len(table) == 10 and (table["cluster raters"] >= 3 - 1e-9).all()
    assert table.score.is_monotonic_decreasing
    assert {"cluster", "cluster mean rating", "matching genres", "title"} <= set(table.columns)
    strict = ClusterRecommender(model, P, "liked", min_support=1e9).fit(demo_ml.ratings, demo_ml.movies)
    assert strict.recommend(42, 10).empty
    with pytest.raises(StudioError, match="unknown user id 999"):
        rec.recommend(999)


def test_item_knn_and_popular_by_hand():
    r = pd.DataFrame({"userId": [1, 1, 2, 2, 3], "movieId": [10, 20, 10, 20, 30], "rating": [5.0, 4, 4, 5, 3],
                      "timestamp": 0})
    knn = ItemKNNRecommender(neighbours=1).fit(r)
    # movie 10 and 20 have near-identical columns; 30 shares no user with them
    assert knn.sim[0, 1] == pytest.approx((5 * 4 + 4 * 5) / (41 ** 0.5 * 41 ** 0.5))
    s = knn.scores([3])[0]
    assert s[2] == -np.inf and s[0] == 0 and s[1] == 0
    pop = PopularRecommender().fit(r)
    assert pop.top_n([3], 2)[0].tolist() == [10, 20]


def test_evaluation_gmm_beats_popular_on_demo(demo_ml):
    table = pipeline.evaluate_k(demo_ml, 4).set_index("method")
    assert table.loc["GMM clusters (liked share)", "P@10"] > table.loc["most popular", "P@10"] * 2
    assert set(table["users"]) == {table["users"].iloc[0]} and table["users"].iloc[0] > 250


def test_cli_commands_and_errors(tmp_path, capsys, cache_dir):
    common = ["--cache-dir", str(cache_dir)]
    assert cli.run(clustering_cli.main, ["sweep", "--k-max", "5", "--seeds", "2", *common]) == 0
    assert "BIC-best k = 4" in capsys.readouterr().out
    out = tmp_path / "g4"
    assert cli.run(clustering_cli.main, ["fit", "--k", "4", "--out", str(out), *common]) == 0
    assert cli.run(clustering_cli.main, ["recommend", "--user", "42", "--model", str(out), "-n", "5", *common]) == 0
    printed = capsys.readouterr().out
    assert "user 42: group " in printed and "blend: groups" in printed      # the hybrid by default
    assert cli.run(clustering_cli.main, ["recommend", "--user", "42", "--model", str(out), "-n", "5",
                                         "--method", "groups", *common]) == 0
    assert "user 42: cluster" in capsys.readouterr().out
    assert cli.run(clustering_cli.main, ["recommend", "--user", "4242", "--k", "3", *common]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "error: unknown user id 4242: no ratings for this user"
    assert "Traceback" not in err
    assert cli.run(clustering_cli.main, ["fit", "--k", "999", *common]) == 2
    report = tmp_path / "eval.json"
    assert cli.run(clustering_cli.main, ["evaluate", "--k", "4", "--json", str(report), *common]) == 0
    assert "item-kNN" in report.read_text()


def test_groups_summarise_memberships_sizes_and_mean_profiles(demo_ml):
    profiles = user_profiles(demo_ml.ratings, demo_ml.movies, ProfileSpec("share"))
    model = fit_model(profiles, 4, GMMSpec(), seed=0)
    g = pipeline.groups(model, profiles)
    assert g.resp.shape == (len(profiles.users), 4) and np.allclose(g.resp.sum(1), 1)
    assert g.sizes.sum() == len(profiles.users) and list(g.sizes.index) == [0, 1, 2, 3]
    frame = profiles.frame()
    for group in range(4):
        members = frame[g.hard == group]
        assert np.allclose(g.means.loc[group], members.mean()) and g.sizes[group] == len(members)
    group, chance = g.of(0)
    assert group == g.resp[0].argmax() and chance == pytest.approx(g.resp[0].max())
    one = fit_model(profiles, 6, GMMSpec(), seed=0)
    six = pipeline.groups(one, profiles)
    empty = [k for k in range(6) if six.sizes[k] == 0]
    assert all(six.means.loc[k].isna().all() for k in empty)        # an empty group has no mean, not zeros


def test_a_sweep_folder_is_named_by_everything_that_decides_its_mixtures(tmp_path, monkeypatch):
    profiles = user_profiles(RATINGS, MOVIES, ProfileSpec("share"))
    base = pipeline.sweep_folder(tmp_path, profiles, range(1, 3), (0,), GMMSpec())
    assert base == pipeline.sweep_folder(tmp_path, profiles, range(1, 3), (0,), GMMSpec())
    others = {pipeline.sweep_folder(tmp_path, profiles, range(1, 4), (0,), GMMSpec()),
              pipeline.sweep_folder(tmp_path, profiles, range(1, 3), (1,), GMMSpec()),
              pipeline.sweep_folder(tmp_path, profiles, range(1, 3), (0,), GMMSpec("full")),
              pipeline.sweep_folder(tmp_path, user_profiles(RATINGS, MOVIES, ProfileSpec("mean", "zero")),
                                    range(1, 3), (0,), GMMSpec())}
    monkeypatch.setattr(pipeline, "SWEEP_VERSION", pipeline.SWEEP_VERSION + 1)      # newer code: not read
    others.add(pipeline.sweep_folder(tmp_path, profiles, range(1, 3), (0,), GMMSpec()))
    assert base not in others and len(others) == 5


def test_the_recommender_is_kept_for_every_k_and_its_item_similarities_once(tmp_path, demo_ml, monkeypatch):
    """prepare_hybrids (make models) keeps each k's weights in the sweep folder and the item similarities
    beside it: a slider step then reads them (nothing chosen or computed again), with the same weights."""
    from core.clustering import hybrid, recommend

    P = user_profiles(demo_ml.ratings, demo_ml.movies)
    folder = pipeline.sweep_folder(tmp_path, P, range(1, 4), (0,), GMMSpec())
    pipeline.run_sweep(P, folder, range(1, 4), (0,))
    assert pipeline.hybrid_weights(folder, 2) is None
    pipeline.prepare_hybrids(demo_ml, folder, range(1, 4), P)
    kept = {k: pipeline.hybrid_weights(folder, k) for k in range(1, 4)}
    assert all(w is not None and sum(w.values()) == pytest.approx(1.0) for w in kept.values())
    assert len(list(folder.parent.glob("items-*.npz"))) == 2          # all ratings, and the validation split's
    chosen = hybrid.HybridRecommender(pipeline.load_model(folder, 2), P).fit(demo_ml.ratings, demo_ml.movies)
    assert chosen.weights == kept[2]                                   # what a fit from nothing chooses

    def refit(*a, **kw):
        raise AssertionError("computed again")
    monkeypatch.setattr(hybrid, "choose_weights", refit)               # a slider step chooses nothing...
    monkeypatch.setattr(recommend.ItemKNNRecommender, "fit", refit)    # ...and reads the similarities
    again = pipeline.hybrid_recommender(demo_ml, pipeline.load_model(folder, 2), P, 3.0, folder, 2)
    assert again.weights == kept[2]
    assert list(again.recommend(int(demo_ml.ratings.userId.iloc[0]), 5).movieId) == \
        list(chosen.recommend(int(demo_ml.ratings.userId.iloc[0]), 5).movieId)
    assert pipeline.hybrid_weights(folder, 2, min_support=5.0) is None   # other settings: not these weights
