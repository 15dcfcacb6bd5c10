import hashlib

import pandas as pd
import pytest

from core import cli
from core.datasets import __main__ as datasets_cli
from core.datasets import catalog, demo
from core.errors import DataError


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_is_deterministic(tmp_path):
    a = demo.ensure_demo(tmp_path / "a")
    b = demo.ensure_demo(tmp_path / "b")
    for rel in ["VIPeR/cam_a/000_180.png", "VIPeR/cam_b/150_90.png", "ml-latest-small/ratings.csv",
                "PETA/PETA dataset/Demo/archive/Label.txt"]:
        files = list(a.glob(rel.rsplit("_", 1)[0] + "_*")) if "VIPeR" in rel else [a / rel]
        assert files, rel
        for f in files:
            assert digest(f) == digest(b / f.relative_to(a))
    assert demo.ensure_demo(tmp_path / "a") == a       # reused, not regenerated
    other = demo.ensure_demo(tmp_path / "c", seed=1)
    assert digest(other / "ml-latest-small/ratings.csv") != digest(a / "ml-latest-small/ratings.csv")


def test_demo_contents_are_what_the_issue_asks(demo_dir):
    reid = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    assert len(reid.pids) >= 200
    assert (reid.frame.groupby("pid").camera.nunique() == 2).all()
    ml = catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))
    assert ml.ratings.userId.nunique() >= 300 and len(ml.movies) == 500
    assert set(ml.genres) <= set(demo.GENRES) and len(ml.genres) >= 15
    attrs = catalog.load(catalog.Source("attributes", demo_dir / "PETA", True))
    for name in ["personalMale", "carryingBackpack", "lowerBodyJeans", "upperBodyTshirt", "hairLong"]:
        assert name in attrs.attributes and 0.1 < attrs.frame[name].mean() < 0.9


def test_demo_taste_groups_are_planted(demo_dir):
    ml = demo_dir / "ml-latest-small"
    ratings = pd.read_csv(ml / "ratings.csv")
    movies = pd.read_csv(ml / "movies.csv")
    groups = pd.read_csv(ml / "demo_groups.csv")
    assert groups.group.nunique() == 4
    joined = ratings.merge(movies, on="movieId").merge(groups, on="userId")
    for group, liked in demo.TASTE_GROUPS.items():
        rows = joined[joined.group == group]
        hit = rows.genres.str.split("|").map(lambda gl, liked=liked: bool(set(gl) & set(liked)))
        assert rows[hit].rating.mean() > rows[~hit].rating.mean() + 0.4
        assert hit.mean() > 0.6


def test_resolve_falls_back_to_demo_with_a_note(tmp_path, cache_dir):
    assert catalog.resolve("reid", None, cache_dir).is_demo
    (tmp_path / "ml-latest-small").mkdir()
    (tmp_path / "ml-latest-small" / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n2,1,3,2\n")
    (tmp_path / "ml-latest-small" / "movies.csv").write_text("movieId,title,genres\n1,A,Drama\n")
    src = catalog.resolve("reid", tmp_path, cache_dir)
    assert src.is_demo and "has no re-identification images dataset" in src.note and "PRID 2011" in src.note
    assert not catalog.resolve("ratings", tmp_path, cache_dir).is_demo
    with pytest.raises(DataError, match="data folder not found"):
        catalog.resolve("reid", tmp_path / "missing", cache_dir)


def test_cli_info_and_one_line_errors(tmp_path, capsys, cache_dir):
    assert cli.run(datasets_cli.main, ["info", "--kind", "reid", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "demo data" in out and "identities: 300" in out
    assert cli.run(datasets_cli.main, ["info", "--data-dir", str(tmp_path / "nope")]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "data folder not found" in err[0]
    (tmp_path / "VIPeR" / "cam_a").mkdir(parents=True)
    (tmp_path / "VIPeR" / "cam_b").mkdir()
    assert cli.run(datasets_cli.main, ["info", "--kind", "reid", "--data-dir", str(tmp_path)]) == 2
    assert "no images found" in capsys.readouterr().err
