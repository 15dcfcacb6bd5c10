"""Every published layout: found by content under any folder name, loaded with hand-counted
expectations, given its field's protocol, and never misread silently."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core import cli
from core.datasets import __main__ as datasets_cli
from core.datasets import catalog, layouts
from core.datasets import splits as S
from core.errors import DataError, StudioError
from core.reid import __main__ as reid_cli
from core.reid import evaluation, protocols
from tests import layouts as L
from tests.conftest import needs_weights


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data folder holding every layout, under names unlike the datasets' usual ones."""
    d = tmp_path_factory.mktemp("data")
    L.prid(d / "more" / "prid_2011")
    L.market(d / "Market-1501-v15.09.15")
    L.grid(d / "a" / "b" / "grid")
    L.cuhk01(d / "cuhk01")
    L.two_camera(d / "my-two-cams")
    L.ml100k(d / "ml-100k")
    L.ml_dat(d / "ml-1m")
    L.ml_dat(d / "ml-10M100K", half_stars=True, latin1=False, crlf=False)
    L.generic_ratings(d / "generic")
    L.ml_csv(d / "movielens-2016")
    L.peta_cuhk(d / "peta-cuhk")
    L.pa100k(d / "PA-100K")
    L.two_camera(d / "w" / "x" / "y" / "too-deep")            # four levels down: not searched
    (d / "notes").mkdir()
    (d / "notes" / "readme.csv").write_text("a,b\n1,2\n")    # a CSV of no known kind
    return d


def found(data_dir):
    return {s.name: s for s in catalog.discover(data_dir)}


def load(data_dir, name):
    return catalog.load(found(data_dir)[name])


def test_every_layout_is_found_by_content_under_any_name(data_dir):
    got = {name: (s.kind, s.layout) for name, s in found(data_dir).items()}
    assert got == {
        "more/prid_2011": ("reid", "prid2011"), "Market-1501-v15.09.15": ("reid", "market"),
        "a/b/grid": ("reid", "grid"), "cuhk01": ("reid", "cuhk01"), "my-two-cams": ("reid", "two-camera"),
        "ml-100k": ("ratings", "movielens-100k"), "ml-1m": ("ratings", "movielens-dat"),
        "ml-10M100K": ("ratings", "movielens-dat"), "generic/my_ratings": ("ratings", "ratings-csv"),
        "movielens-2016": ("ratings", "movielens-csv"), "peta-cuhk": ("attributes", "peta"),
        "PA-100K": ("attributes", "pa100k")}


def test_resolve_by_name_default_first_and_clear_errors(data_dir, cache_dir):
    assert catalog.resolve("reid", data_dir).name == "Market-1501-v15.09.15"      # breadth first, by name
    assert catalog.resolve("reid", data_dir, dataset="prid_2011").layout == "prid2011"   # last part suffices
    assert catalog.resolve("ratings", data_dir, dataset="ML-1M").name == "ml-1m"         # any case
    assert catalog.resolve("reid", data_dir, cache_dir, dataset="demo").is_demo
    with pytest.raises(DataError, match="no re-identification images dataset named 'nope'.*prid_2011"):
        catalog.resolve("reid", data_dir, dataset="nope")
    with pytest.raises(StudioError, match="set a data folder"):
        catalog.resolve("reid", None, dataset="VIPeR")


def test_petas_flat_copy_of_prid_is_read_with_its_two_cameras(tmp_path):
    root = L.prid_flat(tmp_path / "PRID" / "archive")
    assert layouts.detect(root, "reid").name == "prid2011"
    ds = catalog.load(catalog.Source("reid", root, False))
    assert len(ds.pids) == 7 and len(ds.frame) == 10 and ds.problems == []
    assert (ds.frame.camera == 0).sum() == 5 and (ds.frame.camera == 1).sum() == 5
    both = set(ds.frame.pid[ds.frame.camera == 0]) & set(ds.frame.pid[ds.frame.camera == 1])
    assert both == {"0001", "0002", "0003"}
    split = protocols.parse_split(ds, None)
    assert split.name == "literature-0" and len(split.train) + len(split.test) == 3
    assert set(split.distractors) == {"0006", "0007"}           # camera-B-only persons
    L._img(root / "0009_c.png", 1)                               # a third camera letter: not this layout
    (root / "0001_a.png").unlink()
    for p in sorted(root.glob("*.png"))[:3]:
        p.rename(p.with_name(p.stem.replace("_", "_c") + ".png"))
    assert layouts.detect(root, "reid") is None or layouts.detect(root, "reid").name != "prid2011"


def test_prid_is_read_as_persons_not_one_identity(data_dir):
    ds = load(data_dir, "more/prid_2011")
    assert ds.layout == "prid2011" and len(ds.pids) == 10 and len(ds.frame) == 16
    # before: the VIPeR name parser read 'person' as the id of every image
    assert "person" not in ds.pids and ds.pids[:2] == ["0001", "0002"]
    splits = protocols.protocol_splits(ds, "literature")
    assert len(splits) == 10 and len({s.train for s in splits}) > 1
    for split in splits:
        assert len(split.train) == 3 and len(split.test) == 3           # half of the 6 shared persons
        assert split.distractors == ("0009", "0010")                    # camera-B-only persons
        train, query, gallery = S.split_frames(ds, split)
        assert set(query.pid) == set(split.test) and (query.camera == 0).all() and len(query) == 3
        assert len(gallery) == 3 + 2 and set(gallery.pid) == set(split.test) | {"0009", "0010"}
        assert not set(train.pid) & (set(gallery.pid) | set(query.pid))
        assert not {"0007", "0008"} & (set(train.pid) | set(query.pid) | set(gallery.pid))   # A-only: unused
    assert protocols.default_split(ds) == "literature-0"
    with pytest.raises(StudioError, match="not defined for"):
        protocols.protocol_splits(ds, "course")


def test_market_fixed_split_junk_and_distractors(data_dir):
    ds = load(data_dir, "Market-1501-v15.09.15")
    f = ds.frame
    assert "-1" not in set(f.pid)                                        # junk never in the gallery
    assert any("2 junk images" in p for p in ds.problems)
    split = protocols.parse_split(ds, None)
    assert split.fixed and split.name == "fixed" and split.test == ("0001", "0003")
    train, query, gallery = S.split_frames(ds, split)
    assert len(train) == 6 and len(query) == 2 and len(gallery) == 6
    assert (gallery.pid == "0000").sum() == 2                            # distractors kept
    assert sorted(set(train.camid)) == [1, 2] and set(train.camera) == {0, 1}


def test_same_camera_gallery_images_are_left_out_of_a_querys_ranking():
    # query: person 1, camera 1. Gallery: [1 cam 1 (same camera), 2 cam 2, 1 cam 3]
    q, g = np.array(["1"]), np.array(["1", "2", "1"])
    d = np.array([[0.1, 0.2, 0.3]])
    plain = evaluation.evaluate(d, q, g)
    assert plain.rank(1) == 1.0
    standard = evaluation.evaluate(d, q, g, q_cams=np.array([1]), g_cams=np.array([1, 2, 3]))
    assert standard.rank(1) == 0.0 and standard.rank(2) == 1.0        # the camera-1 image no longer counts
    assert standard.mAP == pytest.approx(0.5)                          # one match, at rank 2 of the kept
    # a query whose only match is in its own camera has no valid match and is not counted
    r = evaluation.evaluate(np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.2]]), np.array(["1", "2"]),
                            g, q_cams=np.array([1, 2]), g_cams=np.array([1, 2, 3]))
    assert r.n_queries == 1


def test_grid_distractors_join_every_test_gallery(data_dir):
    ds = load(data_dir, "a/b/grid")
    assert len(ds.frame) == 16 and (ds.frame.pid == "0000").sum() == 4 and (ds.camera(0).pid != "0000").all()
    for split in protocols.protocol_splits(ds, "literature"):
        assert len(split.train) == 3 and len(split.test) == 3 and split.distractors == ("0000",)
        _, query, gallery = S.split_frames(ds, split)
        assert len(query) == 3 and len(gallery) == 3 + 4


def test_cuhk01_cameras_from_image_numbers(data_dir):
    ds = load(data_dir, "cuhk01")
    f = ds.frame
    assert len(ds.pids) == 6 and len(f) == 24
    assert (f[f.view.isin(["001", "002"])].camera == 0).all() and (f[f.view.isin(["003", "004"])].camera == 1).all()
    split = protocols.parse_split(ds, "literature:4")
    assert split.name == "literature-4" and len(split.train) == 3 and len(split.test) == 3
    _, query, gallery = S.split_frames(ds, split)
    assert len(query) == 6 and len(gallery) == 6                        # two images a camera a person


def test_ratings_layouts_with_their_quirks(data_dir):
    ml = load(data_dir, "ml-100k")
    assert len(ml.ratings) == 7 and ml.ratings.userId.nunique() == 3
    movies = ml.movies.set_index("movieId")
    assert movies.title[3] == "Café Society (1995)"                       # Latin-1 decoded
    assert movies.genre_list[1] == ["Animation", "Children's", "Comedy"]  # in u.genre's order
    assert movies.genre_list[4] == []                                    # 'unknown' only: no genre
    m1 = load(data_dir, "ml-1m")
    assert len(m1.ratings) == 6 and m1.movies.set_index("movieId").title[2] == "Amélie (2001)"   # Latin-1 + CRLF
    assert m1.ratings.rating.tolist() == [5.0, 3.0, 4.0, 2.0, 5.0, 1.0]
    m10 = load(data_dir, "ml-10M100K")
    assert m10.movies.set_index("movieId").title[2] == "Amélie (2001)"    # UTF-8
    assert 3.5 in set(m10.ratings.rating) and m10.ratings.timestamp.is_monotonic_increasing
    generic = load(data_dir, "generic/my_ratings")
    assert len(generic.ratings) == 5 and generic.ratings.userId.nunique() == 3
    assert generic.ratings.timestamp.tolist() == [0, 1, 2, 3, 4]          # row order stands in for time
    assert generic.movies.set_index("movieId").title[10] == "Film, The"
    assert any("no timestamp" in p for p in generic.problems)
    csv = load(data_dir, "movielens-2016")
    assert len(csv.ratings) == 4 and csv.movies.title.tolist() == ["Film, A", "B"]


def test_generic_ratings_without_items_file_recommend_but_do_not_cluster(tmp_path):
    from core.clustering.features import user_profiles

    L.generic_ratings(tmp_path / "g", items=False)
    ml = catalog.load(catalog.discover(tmp_path)[0])
    assert ml.movies.title.tolist() == ["item 10", "item 20", "item 30"] and ml.genres == []
    with pytest.raises(StudioError, match="taste groups need items with genres"):
        user_profiles(ml.ratings, ml.movies)


def test_headerless_ratings_errors_name_the_line(tmp_path):
    root = L.ml_dat(tmp_path / "m")
    (root / "ratings.dat").write_text("1::1::5::978300760\n1::2::x::978300761\n")
    with pytest.raises(DataError, match=r"ratings.dat, line 2: column 'rating' must be a number, found 'x'"):
        catalog.load(catalog.discover(tmp_path)[0])
    (root / "ratings.dat").write_text("1::1::5::978300760\n2::2::7::978300761\n")
    with pytest.raises(DataError, match=r"line 2: rating must be in \(0, 5\]"):
        catalog.load(catalog.discover(tmp_path)[0])


def test_peta_label_lines_keyed_by_file_name(data_dir):
    ds = load(data_dir, "peta-cuhk")
    f = ds.frame.set_index(ds.frame.path.str.rsplit("/", n=1).str[-1])
    assert sorted(f.index) == ["0042.png", "0101.png", "0333.png", "0606.png"]      # 0999.png has no line
    assert f.loc["0606.png", "personalFemale"] == 1.0 and f.loc["0606.png", "lowerBodyBlack"] == 1.0
    assert f.loc["0333.png", "personalMale"] == 1.0 and f.loc["0333.png", "lowerBodyBlack"] == 0.0
    assert f.loc["0042.png", "person"] == "CUHK/0042"
    assert "CUHK: 1 images have no line in Label.txt, skipped" in ds.problems
    assert "CUHK: 2 label lines have no images" in ds.problems


def test_pa100k_annotation_and_published_split(data_dir):
    from core.attributes import splits as AS

    ds = load(data_dir, "PA-100K")
    assert ds.attributes == ["Female", "AgeOver60", "Age18-60", "Backpack", "Skirt_Dress"]
    assert any("'Skirt&Dress' is called 'Skirt_Dress'" in p for p in ds.problems)
    assert ds.frame.part.value_counts().to_dict() == {"train": 4, "val": 2, "test": 1}
    assert any("1 images listed in annotation.mat are missing" in p for p in ds.problems)
    split = AS.make(ds.frame, "published")
    assert (len(split.train), len(split.val), len(split.test)) == (4, 2, 1)
    assert ds.frame.loc[split.train[0], ["Female", "Age18-60", "Skirt_Dress"]].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(StudioError, match="no published split"):
        AS.make(load(data_dir, "peta-cuhk").frame, "published")


@pytest.mark.parametrize("make, found_text", [
    (lambda r: L.two_camera(r / "one", ids=("007",)), "1 identity"),
    (lambda r: [L.two_camera(r / "nocommon", ids=("001", "002")),
                [p.rename(p.with_name(p.name.replace("00", "90", 1))) for p in (r / "nocommon" / "cam_b").iterdir()]],
     "no identity is seen by both cameras"),
])
def test_reid_nonsense_is_an_error_naming_the_folder(tmp_path, make, found_text):
    make(tmp_path)
    source = catalog.discover(tmp_path)[0]
    with pytest.raises(DataError, match=found_text) as err:
        catalog.load(source)
    assert str(source.path) in str(err.value) and "Layouts understood" in str(err.value)


def test_ratings_and_attributes_nonsense_are_errors(tmp_path):
    one_user = tmp_path / "one"
    one_user.mkdir()
    (one_user / "r.csv").write_text("user,item,rating\n1,1,4\n1,2,3\n")
    with pytest.raises(DataError, match="come from 1 user"):
        catalog.load(catalog.discover(one_user)[0])
    same = tmp_path / "same"
    for i in range(3):
        L._img(same / f"{i}.png", i)
    (same / "labels.csv").write_text("image,hat,bag\n0.png,1,0\n1.png,1,0\n2.png,1,0\n")
    with pytest.raises(DataError, match="all 3 images have the same labels"):
        catalog.load(catalog.discover(same)[0])


def test_info_lists_every_dataset_and_an_unreadable_one_does_not_hide_the_others(data_dir, tmp_path, capsys):
    assert cli.run(datasets_cli.main, ["info", "--data-dir", str(data_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["datasets"]) == 12 and not report["kinds_not_found"]
    prid = next(r for r in report["datasets"] if r["name"] == "more/prid_2011")
    assert prid["format"] == "PRID 2011 (single-shot)" and prid["counts"]["identities"] == 10
    L.ml100k(tmp_path / "good")
    (tmp_path / "bad" / "cam_a").mkdir(parents=True)
    (tmp_path / "bad" / "cam_b").mkdir()
    assert cli.run(datasets_cli.main, ["info", "--data-dir", str(tmp_path)]) == cli.EXIT_USER_ERROR
    out, err = capsys.readouterr()
    assert "good — Movie ratings, MovieLens 100K" in out and "users: 3" in out
    assert err.strip().count("\n") == 0 and "bad cannot be read" in err and "no images found" in err


@pytest.mark.parametrize("name, split_text", [("more/prid_2011", "literature-0"), ("Market-1501-v15.09.15", "fixed"),
                                              ("a/b/grid", "literature-0"), ("cuhk01", "literature-0"),
                                              ("my-two-cams", "course")])
def test_each_reid_layout_runs_its_protocol_end_to_end_on_the_cli(data_dir, name, split_text, capsys):
    args = ["evaluate", "--method", "lomo-euclidean", "--data-dir", str(data_dir), "--dataset", name]
    assert cli.run(reid_cli.main, args) == 0
    out = capsys.readouterr().out
    protocol = split_text.split("-")[0]
    assert f"{protocol} protocol on {name}" in out
    assert f"over {1 if protocol in ('fixed', 'course') else 10} split(s)" in out


def test_cross_dataset_evaluation_says_where_the_model_was_trained(data_dir, tmp_path, capsys, cache_dir):
    stem = tmp_path / "viper-model"
    assert cli.run(reid_cli.main, ["train", "--method", "lomo-xqda", "--dataset", "demo", "--data-dir", str(data_dir),
                                   "--cache-dir", str(cache_dir), "--out", str(stem)]) == 0
    capsys.readouterr()
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(stem), "--data-dir", str(data_dir),
                                   "--dataset", "prid_2011"]) == 0
    out, err = capsys.readouterr()
    assert "cross-dataset: trained on demo pedestrians (course), evaluated on more/prid_2011" in err
    assert "(trained on demo pedestrians) on more/prid_2011 literature-0, cameras adapted: Rank-1" in out
    assert "cameras: adapted to each camera from its own photos" in err or "under 30 photos" in err


def test_readme_lists_every_layout():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for layout in layouts.LAYOUTS:
        assert layout.title in readme, layout.title


def test_the_same_ratings_in_every_layout_give_the_same_profiles_and_results(demo_dir, tmp_path, capsys):
    """Profiles, sweeps, recommendations and their evaluation run unchanged on each ratings layout: the
    demo's ratings written as 100K, 1M and generic CSV load to the same table and the same numbers."""
    from core.clustering import __main__ as clustering_cli
    from core.clustering.features import user_profiles

    ml = catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))
    folders = L.ratings_in_every_layout(ml, tmp_path)
    reference = user_profiles(ml.ratings, ml.movies).values
    for layout, folder in folders.items():
        source = catalog.discover(tmp_path / folder.name)[0]
        assert source.layout == layout
        other = catalog.load(source)
        assert other.ratings[["userId", "movieId", "rating", "timestamp"]].equals(ml.ratings[
            ["userId", "movieId", "rating", "timestamp"]]), layout
        assert other.genres == ml.genres, layout
        np.testing.assert_array_equal(user_profiles(other.ratings, other.movies).values, reference)
    tables = []
    for name in ("as-100k", "as-1m"):
        out = tmp_path / f"{name}.json"
        assert cli.run(clustering_cli.main, ["evaluate", "--k", "4", "--data-dir", str(tmp_path), "--dataset", name,
                                             "--json", str(out)]) == 0
        tables.append([{k: v for k, v in row.items() if k != "seconds"} for row in json.loads(out.read_text())])
    assert tables[0] == tables[1] and len(tables[0]) >= 4 and all("P@10" in row for row in tables[0])


@needs_weights
def test_pa100k_trains_and_evaluates_on_its_published_split_from_the_cli(tmp_path, capsys):
    from core.attributes import __main__ as attr_cli

    L.pa100k(tmp_path / "data" / "PA-100K", parts=(24, 8, 8))
    stem = tmp_path / "pa-model"
    common = ["--data-dir", str(tmp_path / "data"), "--dataset", "PA-100K", "--cache-dir", str(tmp_path / "cache")]
    assert cli.run(attr_cli.main, ["train", "--split", "published", "--epochs", "3", "--out", str(stem)] + common) == 0
    card = json.loads(stem.with_suffix(".json").read_text())
    assert card["config"]["split"] == "published"
    capsys.readouterr()
    assert cli.run(attr_cli.main, ["evaluate", "--model", str(stem), "--split", "published"] + common) == 0
    out = capsys.readouterr().out
    assert "Skirt_Dress" in out and "mA" in out


def test_attribute_names_become_network_safe_and_collisions_are_refused(tmp_path):
    from core.datasets.attribute_csv import load_attribute_csv

    for i in range(3):
        L._img(tmp_path / f"{i}.png", i)
    (tmp_path / "labels.csv").write_text("image,long hair,bag\n0.png,1,0\n1.png,0,1\n2.png,1,1\n")
    ds = load_attribute_csv(tmp_path / "labels.csv")
    assert ds.attributes == ["long_hair", "bag"] and ds.frame.long_hair.tolist() == [1.0, 0.0, 1.0]
    assert any("'long hair' is called 'long_hair'" in p for p in ds.problems)
    (tmp_path / "labels.csv").write_text("image,a b,a_b\n0.png,1,0\n")
    with pytest.raises(DataError, match="both become 'a_b'"):
        load_attribute_csv(tmp_path / "labels.csv")
