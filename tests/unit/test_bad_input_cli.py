"""Every CLI command that reads a user's file, over the whole bad-input corpus (tests/corpus.py):
a bad file gives exit code 2 and one line ``error: <reason>`` (never a traceback), a good one works,
and nothing on disk changes when the input is refused."""
import json
import os
import subprocess
import sys

import pytest

from core import cli
from core.attributes import __main__ as attr_cli
from core.clustering import __main__ as clu_cli
from core.reid import __main__ as reid_cli
from tests import corpus
from tests.conftest import PROJECT, copy_model, needs_weights


def snapshot(*folders) -> dict:
    """Every file under the folders with its size and modification time."""
    out = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def expect(code: int, capsys, expected: str | None) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if expected is None:
        assert code == 0, err
        return err
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and expected.lower() in last.lower(), err
    return last


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def reid_model(small_reid_model, models_dir):
    return str(copy_model(small_reid_model, models_dir / "reid-lomo"))


@pytest.fixture(scope="module")
def attr_model(small_attr_model, models_dir):
    return str(copy_model(small_attr_model, models_dir / "attr"))


def image_file(tmp_path, case):
    name, make, expected = corpus.IMAGES[case]
    path = tmp_path / name
    path.write_bytes(make())
    return path, expected


# ---------------------------------------------------------------------------- images, per command
@pytest.mark.parametrize("case", list(corpus.IMAGES))
def test_reid_search(case, reid_model, models_dir, demo_dir, tmp_path, capsys):
    path, expected = image_file(tmp_path, case)
    before = snapshot(models_dir, demo_dir)
    code = cli.run(reid_cli.main, ["search", "--model", reid_model, "--query", str(path)])
    expect(code, capsys, expected)
    assert snapshot(models_dir, demo_dir) == before


@pytest.mark.parametrize("case", list(corpus.IMAGES))
def test_reid_embed(case, reid_model, tmp_path, capsys):
    path, expected = image_file(tmp_path, case)
    out = tmp_path / "out" / "emb.npz"
    code = cli.run(reid_cli.main, ["embed", "--model", reid_model, str(path), "--out", str(out)])
    expect(code, capsys, expected)
    assert out.exists() == (expected is None)


@needs_weights
@pytest.mark.parametrize("case", list(corpus.IMAGES))
def test_attributes_predict(case, attr_model, models_dir, tmp_path, capsys):
    path, expected = image_file(tmp_path, case)
    before = snapshot(models_dir)
    code = cli.run(attr_cli.main, ["predict", "--model", attr_model, str(path)])
    err = expect(code, capsys, expected)
    if expected is None:
        assert "Traceback" not in err
    assert snapshot(models_dir) == before


# ---------------------------------------------------------------------------- CSVs
@pytest.mark.parametrize("case", list(corpus.CSVS))
def test_clustering_fit_on_ratings_files(case, tmp_path, capsys):
    ratings, movies, expected = corpus.CSVS[case]
    folder = tmp_path / "data" / "ml-latest-small"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_bytes(ratings())
    (folder / "movies.csv").write_bytes(movies())
    before = snapshot(tmp_path / "data")
    out = tmp_path / "out" / "gmm"
    code = cli.run(clu_cli.main, ["fit", "--k", "2", "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    expect(code, capsys, expected)
    assert snapshot(tmp_path / "data") == before
    assert out.with_suffix(".json").exists() == (expected is None)


# ---------------------------------------------------------------------------- arguments and folders
def test_unknown_user_and_component_counts(capsys):
    expect(cli.run(clu_cli.main, ["recommend", "--user", "999999", "--k", "3"]), capsys, "unknown user id 999999")
    for k in ("0", "-3", "100000"):
        expect(cli.run(clu_cli.main, ["fit", "--k", k]), capsys, "number of components must be between 1 and")


@pytest.mark.parametrize("main,argv", [(clu_cli.main, ["fit", "--k", "2"]),
                                       (reid_cli.main, ["train", "--method", "lomo-xqda"]),
                                       (attr_cli.main, ["features"])])
def test_missing_or_empty_data_folder(main, argv, tmp_path, capsys):
    expect(cli.run(main, argv + ["--data-dir", str(tmp_path / "nope")]), capsys, "data folder not found")
    (tmp_path / "empty").mkdir()
    expect(cli.run(main, argv + ["--data-dir", str(tmp_path / "empty")]), capsys, "use the demo data")
    assert not any((tmp_path / "empty").iterdir())


# ---------------------------------------------------------------------------- model files
def corrupt_copies(stem: str, folder, ext: str) -> dict:
    """Broken copies of a saved model: corrupt bytes (checksum now wrong), corrupt bytes with a card
    rewritten to match them, a card of another kind, a card that is not JSON, a missing model file."""
    from core.artifacts import sha256

    src_card = json.loads(open(stem + ".json").read())
    good = open(stem + ext, "rb").read()
    key = "keras_sha256" if ext == ".keras" else "npz_sha256"
    cases = {}
    for name, data in corpus.corrupt_keras_variants(good).items():
        for matched in (False, True):
            s = folder / f"{name}-{'matched' if matched else 'mismatched'}"
            s.with_suffix(ext).write_bytes(data)
            card = {**src_card, key: sha256(data) if matched else src_card[key]}
            s.with_suffix(".json").write_text(json.dumps(card))
            cases[s.name] = (str(s), "cannot" if matched else "does not match its card")
    s = folder / "other-kind"
    s.with_suffix(ext).write_bytes(good)
    s.with_suffix(".json").write_text(json.dumps({**src_card, "kind": "something-else"}))
    cases["other kind"] = (str(s), "not a")
    s = folder / "bad-json"
    s.with_suffix(ext).write_bytes(good)
    s.with_suffix(".json").write_text("{not json")
    cases["card not JSON"] = (str(s), "not valid JSON")
    s = folder / "no-model-file"
    s.with_suffix(".json").write_text(json.dumps(src_card))
    cases["missing model file"] = (str(s), "model file not found")
    return cases


def test_corrupt_reid_models(reid_model, tmp_path, capsys, demo_dir):
    img = tmp_path / "q.png"
    img.write_bytes(corpus.png())
    for name, (stem, expected) in corrupt_copies(reid_model, tmp_path, ".npz").items():
        before = snapshot(tmp_path)
        code = cli.run(reid_cli.main, ["search", "--model", stem, "--query", str(img)])
        expect(code, capsys, expected)
        assert snapshot(tmp_path) == before, name


@needs_weights
def test_corrupt_attribute_models(attr_model, tmp_path, capsys):
    img = tmp_path / "q.png"
    img.write_bytes(corpus.png())
    for name, (stem, expected) in corrupt_copies(attr_model, tmp_path, ".keras").items():
        before = snapshot(tmp_path)
        expect(cli.run(attr_cli.main, ["predict", "--model", stem, str(img)]), capsys, expected)
        assert snapshot(tmp_path) == before, name


def test_a_real_process_prints_one_line_and_exits_2(tmp_path):
    """The same through ``python -m`` (exit status and stderr as a shell sees them)."""
    bad = tmp_path / "page.jpg"
    bad.write_bytes(b"<html></html>")
    run = subprocess.run([sys.executable, "-m", "core.reid", "embed", "--model", str(tmp_path / "none"), str(bad),
                          "--out", str(tmp_path / "o.npz")], cwd=PROJECT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "model file not found" in lines[-1]
    assert "Traceback" not in run.stderr
