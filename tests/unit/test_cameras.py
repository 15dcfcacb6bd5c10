"""Cameras: each camera's descriptor statistics kept with a model, new cameras moved onto them (re-ID and
attributes), the fallback with few photos, and models from before the statistics."""
import json

import numpy as np
import pytest

from core import camera_stats as C
from core import cli
from core.datasets import catalog, splits
from core.errors import StudioError
from core.reid import __main__ as reid_cli
from core.reid import methods, search
from core.reid import train as T
from tests.conftest import copy_model, write_image


def test_standardising_moves_a_camera_onto_the_target_and_leaves_an_equal_one_unchanged():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (200, 5)).astype(np.float32)
    x[:, 4] = 7.0                                          # a dimension without spread in this camera
    target = C.Stats(np.array([0, 1, 2, 3, 4], np.float32), np.array([1, 1, 0.5, 2, 1], np.float32), 100)
    moved = C.standardise(x, C.Stats.of(x), target)
    np.testing.assert_allclose(moved[:, :4].mean(0), target.mean[:4], atol=1e-4)
    np.testing.assert_allclose(moved[:, :4].std(0), target.std[:4], rtol=1e-4)
    np.testing.assert_allclose(moved[:, 4], 4.0)          # only shifted
    same = C.Stats.of(x)
    np.testing.assert_allclose(C.standardise(x, same, same), x, atol=1e-5)
    with pytest.raises(StudioError, match="dimensions"):
        C.standardise(x[:, :3], same, target)


def test_cameras_with_few_photos_are_left_as_they_are_and_said_so():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(5, 3, (40, 3)), rng.normal(-5, 1, (C.MIN_PHOTOS - 1, 3))]).astype(np.float32)
    cams = np.array([1] * 40 + [2] * (C.MIN_PHOTOS - 1))
    target = C.Stats(np.zeros(3, np.float32), np.ones(3, np.float32), 10)
    out, done = C.by_camera(x, cams, lambda cam: target)
    assert done.adapted == {"1": 40} and done.fallback == {"2": C.MIN_PHOTOS - 1}
    np.testing.assert_allclose(out[:40].mean(0), 0, atol=1e-4)
    np.testing.assert_array_equal(out[40:], x[40:])
    assert "not adapted, under 30 photos" in done.words() and "2 (29 photos)" in done.words()


@pytest.fixture(scope="module")
def demo(demo_dir):
    return catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))


def test_reid_models_keep_each_training_cameras_statistics_through_saving(small_reid_model, demo, tmp_path):
    model = T.load(small_reid_model)
    assert model.adaptable and set(model.camera_stats) == {"pooled", "cam0", "cam1"}
    split = splits.course_split(demo.pids)
    train = demo.frame[demo.frame.pid.isin(split.train)]
    assert model.camera_stats["cam0"][0].count == int((train.camid == 0).sum())
    assert model.card["camera_statistics"]["pooled"] == len(train)
    # the training photos themselves, adapted on their own data: each camera's statistics are the training
    # camera's, so nothing moves
    feats = [methods.cached_descriptors("lomo", list(train.path), None, None, None, "gallery")]
    moved, done = model.adapt(feats, train.camid.to_numpy(), same_data=True)
    np.testing.assert_allclose(moved[0], feats[0], rtol=1e-4, atol=1e-5)
    assert set(done.adapted) == {"0", "1"}
    # elsewhere, onto the pooled statistics: they move, and the ranking is another one
    moved, _ = model.adapt(feats, train.camid.to_numpy(), same_data=False)
    assert not np.allclose(moved[0], feats[0], atol=1e-3)
    pooled = model.camera_stats["pooled"][0]
    np.testing.assert_allclose(moved[0].mean(0), pooled.mean, atol=1e-3)


def test_a_model_card_from_before_the_statistics_loads_and_evaluates_as_before(small_reid_model, tmp_path, capsys):
    old = copy_model(small_reid_model, tmp_path / "old")
    card = json.loads(old.with_suffix(".json").read_text())
    card.pop("camera_statistics")
    old.with_suffix(".json").write_text(json.dumps(card))    # its arrays' extra keys are simply not read
    model = T.load(old)
    assert not model.adaptable
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(old)]) == 0
    before = capsys.readouterr()
    assert "as trained (not adapted)" in before.err
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(small_reid_model)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == before.out.splitlines()[-1]     # the same numbers
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(old), "--adapt"]) == 2
    assert "train it again to adapt it" in capsys.readouterr().err


def test_cli_evaluates_with_and_without_adapting(small_reid_model, capsys):
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(small_reid_model), "--adapt"]) == 0
    out = capsys.readouterr()
    assert "cameras adapted" in out.out
    assert "query camera 0 (71 photos), gallery camera 1 (71 photos)" in out.err
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(small_reid_model), "--no-adapt"]) == 0
    assert "cameras adapted" not in capsys.readouterr().out


def test_an_upload_is_adapted_from_the_camera_named_or_the_gallery(small_reid_model, demo, tmp_path, capsys):
    model = T.load(small_reid_model)
    split = splits.course_split(demo.pids)
    emb = T.test_embeddings(model, demo, split, adapt=True)
    assert emb.adaptation.adapted and len(emb.gallery_stats) == 1
    photo = demo.frame.path[demo.frame.camid == 0].iloc[0]
    image = __import__("core.images", fromlist=["load_image"]).load_image(photo)
    named, done = T.camera_photos_stats(model, list(demo.frame.path[demo.frame.camid == 0]), "camera 0")
    by_gallery = search.search(model, image, emb, 5)
    by_camera = search.search(model, image, emb, 5, source=named)
    assert [h.distance for h in by_gallery] != [h.distance for h in by_camera]
    assert "camera 0 (300 photos)" in search.query_camera_words(named, done)
    assert "gallery's photos pooled" in search.query_camera_words(None)
    # a camera folder: too few photos falls back, none readable is an error on the CLI
    few = tmp_path / "few"
    for i in range(3):
        write_image(few / f"{i}.png", 64, 32, seed=i)
    stats, done = T.folder_stats(model, few)
    assert stats is None and done.fallback == {"camera few": 3}
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_bytes(b"not an image")
    assert cli.run(reid_cli.main, ["search", "--model", str(small_reid_model), "--query", photo, "--adapt",
                                   "--query-camera", str(junk)]) == 2
    assert "none of the 1 files is a readable image" in capsys.readouterr().err
    assert cli.run(reid_cli.main, ["search", "--model", str(small_reid_model), "--query", photo, "--adapt",
                                   "--query-camera", str(few)]) == 0
    assert "gallery's photos pooled" in capsys.readouterr().err


# ------------------------------------------------------------------ attributes
def test_attribute_models_keep_their_sites_statistics_and_adapt_a_camera_folder(small_attr_model, demo_dir, tmp_path,
                                                                                 capsys):
    from core.attributes import __main__ as attr_cli
    from core.attributes import train as A

    model = A.load(small_attr_model)
    assert model.adaptable and "pooled" in model.feature_stats
    sites = {k for k in model.feature_stats if k.startswith("site ")}
    assert sites and sum(model.feature_stats[k].count for k in sites) == model.feature_stats["pooled"].count
    ds = catalog.load(catalog.Source("attributes", demo_dir / "PETA", True))
    paths = list(ds.frame.path[:C.MIN_PHOTOS + 2])
    plain = model.predict_paths(paths)
    adapted, done = model.predict_adapted(paths)
    assert done.adapted == {"this camera": C.MIN_PHOTOS + 2}
    assert plain.shape == adapted.shape and not np.allclose(plain.to_numpy(), adapted.to_numpy(), atol=1e-4)
    # the CLI: a folder of one camera's photos, adapted; too few photos are predicted as they are, and said so
    folder = tmp_path / "camera"
    folder.mkdir()
    for p in paths:
        (folder / p.split("/")[-1]).write_bytes(open(p, "rb").read())
    assert cli.run(attr_cli.main, ["predict", "--model", str(small_attr_model), "--adapt", str(folder)]) == 0
    out = capsys.readouterr()
    assert f"this camera ({C.MIN_PHOTOS + 2} photos)" in out.err and out.out.count(str(folder)) == C.MIN_PHOTOS + 2
    assert cli.run(attr_cli.main, ["predict", "--model", str(small_attr_model), "--adapt", paths[0], paths[1]]) == 0
    assert "not adapted, under 30 photos" in capsys.readouterr().err
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_bytes(b"no image")
    assert cli.run(attr_cli.main, ["predict", "--model", str(small_attr_model), "--adapt", str(junk)]) == 2
    assert "a.png" in capsys.readouterr().err


def test_an_attribute_card_from_before_the_statistics_loads_and_predicts_as_before(small_attr_model, demo_dir,
                                                                                  tmp_path, capsys):
    from core import artifacts
    from core.attributes import __main__ as attr_cli
    from core.attributes import train as A

    old = copy_model(small_attr_model, tmp_path / "old")
    card = json.loads(old.with_suffix(".json").read_text())
    card.pop("feature_statistics")
    card.pop("npz_sha256", None)                 # heads without votes had no arrays file before
    old.with_suffix(".json").write_text(json.dumps(card))
    old.with_suffix(".npz").unlink()
    before, now = A.load(old), A.load(small_attr_model)
    assert not before.adaptable
    photo = str(next((demo_dir / "PETA").rglob("*.png")))
    assert np.allclose(before.predict_paths([photo]).to_numpy(), now.predict_paths([photo]).to_numpy())
    with pytest.raises(StudioError, match="train it again"):
        before.predict_adapted([photo])
    assert cli.run(attr_cli.main, ["predict", "--model", str(old), "--adapt", photo]) == 2
    assert "cannot be adapted" in capsys.readouterr().err
    assert artifacts.read_card(old)["kind"] == "attributes-keras"


def test_reliability_on_new_cameras_in_words_and_the_grey_rule():
    from core.attributes import describe as D
    from core.attributes import reliability as R

    assert R.words(0.80) == "right about 4 times in 5 on new cameras"
    assert R.words(0.69) == "right about 7 times in 10 on new cameras"
    assert R.words(0.52) == "close to a coin toss on new cameras"
    assert R.words(0.58) == "little better than a coin toss on new cameras"      # greyed: never "3 times in 5"
    assert R.words(None) == "not measured on new cameras"
    rel = R.Reliability({"hairLong": 0.8, "personalMale": 0.68, "personalLess30": 0.55, "personalLess45": 0.52},
                        "test", True, 9)
    male = D.Choice("gender", "female", 0.7, said=None, members=("personalMale",))
    age = D.Choice("age", "aged 16-30", 0.4, said="personalLess30", members=("personalLess30", "personalLess45"))
    hair = D.Choice("hairLong", "long hair", 0.9, said="hairLong", members=("hairLong",))
    lines = R.worded([male, age, hair], rel)
    assert lines[0] == ("female (70%) — right about 2 times in 3 on new cameras", True)    # the complement: gender's
    assert lines[1] == ("aged 16-30 (40%) — close to a coin toss on new cameras", False)  # greyed
    assert lines[2][1] and R.of_answer(D.Choice("age", "aged under 16", 0.5, members=age.members), rel) == \
        pytest.approx(0.535)
    # from the benchmark results: PETA's recommended configuration is its own; another falls back and says so
    own = R.for_card({"backbone": {"name": "xception", "height": 256, "width": 128, "pooling": "stripes-mid"}})
    other = R.for_card({"backbone": {"name": "xception", "height": 128, "width": 64, "pooling": "avg"}})
    assert own.own_configuration and not other.own_configuration and "recommended configuration" in other.where()
    assert own.of("hairLong") > R.TRUSTED > own.of("accessorySunglasses")


def test_the_chart_marks_what_the_words_say():
    import pandas as pd

    from core import plots

    probs = pd.Series({"personalMale": 0.45, "hairLong": 0.9, "accessoryHat": 0.3})
    thresholds = {"personalMale": 0.4, "hairLong": 0.5, "accessoryHat": 0.5}
    # the words say "female, 55%": personalMale passes its threshold but is not said, so not green
    fig = plots.probability_bars(probs, thresholds, said={"hairLong"}, untrusted={"hairLong": "coin toss"})
    colours = dict(zip(fig.data[0].y, fig.data[0].marker.color))
    assert colours["personalMale"] == colours["accessoryHat"] == "#BAB0AC"
    assert colours["hairLong"] == "#C7DFC1"                       # said, but pale: not trusted on new cameras
    fig = plots.probability_bars(probs, thresholds)
    assert dict(zip(fig.data[0].y, fig.data[0].marker.color))["personalMale"] == "#54A24B"
