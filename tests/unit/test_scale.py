"""Scale-out backends: the gallery index (exact vs FAISS, resumable embedding) and GMMs on Spark
(profiles and mixtures agree with the scikit-learn backend on small data)."""
import json
import shutil

import numpy as np
import pytest

from core import cli
from core.clustering import __main__ as clu_cli
from core.clustering import spark as S
from core.clustering.features import ProfileSpec, user_profiles
from core.clustering.gmm import GMMSpec, fit
from core.datasets import catalog, splits
from core.errors import StudioError
from core.reid import __main__ as reid_cli
from core.reid import index as X
from core.reid import train as T


def clustered(n=4000, d=32, centres=200, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, d))
    x = c[rng.integers(0, centres, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ------------------------------------------------------------------------------------------ index
def test_exact_index_is_brute_force_and_faiss_recalls_it(tmp_path):
    pytest.importorskip("faiss")
    emb, queries = clustered(), clustered(50, seed=1)
    exact = X.GalleryIndex.build(emb, backend="exact")
    d, i = exact.search(queries, 10)
    brute = ((queries[:, None, :] - emb[None]) ** 2).sum(-1)
    assert np.array_equal(i, np.argsort(brute, 1, kind="stable")[:, :10])
    assert np.allclose(d, np.sort(brute, 1)[:, :10], atol=1e-4)
    approx = X.GalleryIndex.build(emb, backend="faiss")
    _, j = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i, j)])
    assert recall >= 0.95
    for index, name in ((exact, "e"), (approx, "f")):
        index.save(tmp_path / name)
        again = X.GalleryIndex.load(tmp_path / name)
        assert np.array_equal(again.search(queries, 10)[1], index.search(queries, 10)[1])
    with pytest.raises(StudioError, match="dimensions"):
        exact.search(np.zeros((1, 3)), 5)
    (tmp_path / "f" / "index.npz").write_bytes(b"garbage")
    with pytest.raises(StudioError, match="does not match its card"):
        X.GalleryIndex.load(tmp_path / "f")


class Counting:
    """A stand-in model that counts the images it embeds."""
    keras_model = object()
    method = "fake"
    card = {"saved": "x", "method": "fake"}

    def __init__(self):
        self.seen = 0

    def embed(self, images, side="query"):
        self.seen += len(images)
        return np.stack([im.mean((0, 1)) for im in images]).astype(np.float32)


def test_embedding_a_folder_resumes_after_an_interruption(demo_dir, tmp_path):
    gallery = demo_dir / "VIPeR" / "cam_b"
    (tmp_path / "g").mkdir()
    for p in sorted(gallery.iterdir())[:50]:
        shutil.copy(p, tmp_path / "g" / p.name)
    (tmp_path / "g" / "broken.png").write_bytes(b"not an image")
    model = Counting()

    def stop_after_two(event):
        if event.fraction >= 2 / 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        X.embed_folder(model, tmp_path / "g", tmp_path / "out", batch=9, progress=stop_after_two)
    assert model.seen == 18
    emb, names, skipped = X.embed_folder(model, tmp_path / "g", tmp_path / "out", batch=9)
    assert model.seen == 50 and len(names) == 50 and emb.shape == (50, 3)     # only the rest was embedded
    assert len(skipped) == 1 and "broken.png" in skipped[0]


def test_index_cli_on_a_trained_model(demo_dir, tmp_path, capsys):
    pytest.importorskip("faiss")
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("course", epochs=1, steps_per_epoch=2,
                                                              triplets_per_batch=32)).save(tmp_path / "m")
    for backend in ("exact", "faiss"):
        out = tmp_path / f"index-{backend}"
        assert cli.run(reid_cli.main, ["index", "--model", str(tmp_path / "m"), "--gallery",
                                       str(demo_dir / "VIPeR" / "cam_b"), "--out", str(out), "--backend", backend]) == 0
        assert "indexed 300 images" in capsys.readouterr().out
        assert not (out / "parts").exists()
        query = next((demo_dir / "VIPeR" / "cam_a").iterdir())
        assert cli.run(reid_cli.main, ["search", "--model", str(tmp_path / "m"), "--query", str(query),
                                       "--index", str(out), "--top", "5"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 5 and lines[0].split()[0] == "1"
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("lomo-cosine")).save(tmp_path / "lomo")
    assert cli.run(reid_cli.main, ["index", "--model", str(tmp_path / "lomo"), "--gallery",
                                   str(demo_dir / "VIPeR" / "cam_b"), "--out", str(tmp_path / "x")]) == 2
    assert "not a neural network" in capsys.readouterr().err
    # an index answers only the model it was built with: another network, or a LOMO model, is refused
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("course", epochs=1, steps_per_epoch=1,
                                                              triplets_per_batch=16, seed=3)).save(tmp_path / "m2")
    for other in ("m2", "lomo"):
        assert cli.run(reid_cli.main, ["search", "--model", str(tmp_path / other), "--query", str(query),
                                       "--index", str(tmp_path / "index-exact")]) == 2
        assert "was built with another model" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ Spark
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    try:
        session = S.session("local[2]", driver_memory="2g")
    except StudioError as exc:
        pytest.skip(str(exc))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo_ratings(demo_dir):
    return catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))


@pytest.mark.parametrize("spec", [ProfileSpec(), ProfileSpec("mean", scale="standard"), ProfileSpec("deviation")])
def test_spark_profiles_equal_the_numpy_ones(spark, demo_ratings, spec):
    ml = demo_ratings
    ratings = spark.createDataFrame(ml.ratings[["userId", "movieId", "rating"]])
    prof = S.profiles(spark, ratings, ml.movies, spec)
    users, values = prof.to_numpy()
    ref = user_profiles(ml.ratings, ml.movies, spec)
    assert prof.genres == ref.genres and np.array_equal(users, ref.users)
    assert np.allclose(values, ref.values, atol=1e-9)
    assert np.allclose(prof.center, ref.center) and np.allclose(prof.scale, ref.scale)


def planted(spark, n_per=200, seed=0):
    """Three well separated 4-D Gaussian groups, as Spark profiles."""
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 3, 0]], float)
    x = np.vstack([c + rng.normal(scale=[1.0, 0.5, 0.8, 1.2], size=(n_per, 4)) for c in centres])
    df = spark.createDataFrame([(i, Vectors.dense(v)) for i, v in enumerate(x)], ["userId", "features"]).cache()
    return x, S.SparkProfiles(df, [f"g{j}" for j in range(4)], ProfileSpec(), np.zeros(4), np.ones(4), len(x))


def test_spark_and_sklearn_agree_on_planted_groups(spark):
    x, prof = planted(spark)
    spec = GMMSpec("full", n_init=2, reg_covar=1e-6)
    ks = [1, 2, 3, 4, 5]
    sweep = S.sweep(prof, ks, spec, seeds=(0,))
    sk = [fit(x, k, spec, 0) for k in ks]
    sk_bic = [g.bic(x) for g in sk]
    assert sweep.best_k == 3 and ks[int(np.argmin(sk_bic))] == 3
    f = S.fit(prof, 3, spec, 0)
    ll_spark, ll_sk = f.log_likelihood / len(x), sk[2].score(x)      # mean log-likelihood per user
    assert abs(ll_spark - ll_sk) < 0.01, (ll_spark, ll_sk)
    assert abs(f.bic - sk_bic[2]) / abs(sk_bic[2]) < 0.001
    assert np.allclose(f.gmm.predict_proba(x).max(1).mean(), sk[2].predict_proba(x).max(1).mean(), atol=0.01)


def test_spark_backend_cli_writes_the_same_model_format(spark, tmp_path, capsys):
    from core.clustering.gmm import ClusterModel

    out = tmp_path / "sweep"
    code = cli.run(clu_cli.main, ["sweep", "--backend", "spark", "--covariance", "full", "--k-max", "3", "--seeds", "1",
                                  "--n-init", "1", "--spark-master", "local[2]", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    table = json.loads((out / "sweep.json").read_text())
    assert table["ks"] == [1, 2, 3] and table["spec"]["backend"] == "spark"
    model = ClusterModel.load(out / "k3")
    assert model.k == 3 and model.card["backend"] == "spark" and model.gmm.covariance_type == "full"
    assert cli.run(clu_cli.main, ["recommend", "--user", "42", "--model", str(out / "k3")]) == 0
    assert "user 42: group " in capsys.readouterr().out             # a Spark-fitted model serves the hybrid too
    assert cli.run(clu_cli.main, ["sweep", "--backend", "spark", "--covariance", "diag"]) == 2
    assert "full covariances only" in capsys.readouterr().err
