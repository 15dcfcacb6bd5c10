"""Every upload widget and the saved-model pickers over the bad-input corpus (tests/corpus.py): a clear
message naming the problem, no exception, the next upload and other pages still work, nothing on disk
changes. Models live in a model folder of this module's own."""
import json
import os
import shutil

import pytest

from tests import corpus
from tests.app.helpers import open_page
from tests.conftest import SMALL_ATTR, SMALL_REID, copy_model, needs_weights

REID, ATTR, CLUSTER = "pages/2_Re-identification.py", "pages/4_Attributes.py", "pages/3_Clustering.py"


def snapshot(*folders) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for f in folders for p in sorted(f.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, request, small_reid_model):
    """A model folder with a LOMO + XQDA re-ID model (named as the page names it) and, with weights,
    an attribute model."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("models")
    mp.setenv("STUDIO_MODEL_DIR", str(path))
    copy_model(small_reid_model, path / SMALL_REID)
    if os.environ.get("STUDIO_XCEPTION_WEIGHTS"):
        copy_model(request.getfixturevalue("small_attr_model"), path / SMALL_ATTR)
    yield path
    mp.undo()


def ranked(at) -> list[str]:
    return [c for el in at.get("image") for c in el.captions if c.startswith("#")]


def test_reid_upload_over_the_corpus(model_dir, demo_dir):
    at = open_page(REID)
    before = snapshot(model_dir, demo_dir)
    for case, (name, make, expected) in corpus.IMAGES.items():
        at.file_uploader(key="reid_upload").set_value((name, make(), "application/octet-stream"))
        at.run()
        assert not at.exception, (case, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        if expected is None:
            assert not errors and len(ranked(at)) == 10, case
        else:
            assert len(errors) == 1 and errors[0].startswith("That file cannot be used:"), case
            assert expected.lower() in errors[0].lower(), (case, errors)
            assert not ranked(at), case
    at.file_uploader(key="reid_upload").set_value(None)
    at.run()
    assert len(ranked(at)) == 10 and not at.error          # back to a camera-A query: still works
    assert snapshot(model_dir, demo_dir) == before
    at.switch_page(CLUSTER).run()                           # another page in the same session is fine
    assert not at.exception


@needs_weights
def test_attribute_uploads_all_at_once(model_dir):
    at = open_page(ATTR)
    before = snapshot(model_dir)
    at.file_uploader(key="attr_upload").set_value([(name, make(), "application/octet-stream")
                                                    for name, make, _ in corpus.IMAGES.values()])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    titles = [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.get("plotly_chart")]
    errors = [e.value for e in at.error]
    for case, (name, _, expected) in corpus.IMAGES.items():
        if expected is None:
            assert f"Attributes of {name}" in titles, case
        else:
            mine = [e for e in errors if e.startswith(f"{name} cannot be used:")]
            assert len(mine) == 1 and expected.lower() in mine[0].lower(), (case, errors)
            assert f"Attributes of {name}" not in titles
    assert snapshot(model_dir) == before


@pytest.mark.parametrize("case", list(corpus.CSVS))
def test_ratings_uploads(case, model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))        # fitted mixtures of uploads go here
    ratings, movies, expected = corpus.CSVS[case]
    at = open_page(CLUSTER)
    at.file_uploader(key="up_ratings").set_value(("ratings.csv", ratings(), "text/csv"))
    at.file_uploader(key="up_movies").set_value(("movies.csv", movies(), "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if expected is None:
        assert any(s.value.startswith("Using your files:") for s in at.success)
        assert not at.error
    else:
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith("Your files could not be used:"), errors
        assert expected.lower() in errors[0].lower(), errors
        # the page goes on with the data it had: the demo ratings
        assert any(m.value.startswith("**Data:** demo") for m in at.markdown)


def test_broken_saved_models_are_reported_not_crashed(model_dir, tmp_path_factory):
    """A corrupt model file, a card that does not match its model and a card missing its fields, all
    newer than the good model, in the model folder the page reads."""
    good = model_dir / "reid-lomo-xqda-demo_pedestrians-course"
    card = json.loads(good.with_suffix(".json").read_text())
    broken = {"reid-zz-corrupt": (b"PK\x03\x04 not really", {**card, "saved": "9999-01-01T00:00:00"}),
              "reid-zz-mismatch": (good.with_suffix(".npz").read_bytes(),
                                   {**card, "saved": "9999-01-02T00:00:00", "npz_sha256": "0" * 64}),
              "reid-zz-fieldless": (b"", {"kind": "reid-lomo", "data": card["data"], "saved": "9999-01-03"})}
    for stem, (npz, c) in broken.items():
        (model_dir / f"{stem}.npz").write_bytes(npz)
        (model_dir / f"{stem}.json").write_text(json.dumps(c))
    try:
        before = snapshot(model_dir)
        at = open_page(REID)
        options = at.selectbox(key="reid_model").options
        assert len(options) == 3                                  # the fieldless card is skipped
        for option in options[:2]:
            at.selectbox(key="reid_model").set_value(option).run()
            assert not at.exception
            assert any("does not match its card" in e.value for e in at.error), [e.value for e in at.error]
        at.selectbox(key="reid_model").set_value(options[2]).run()
        assert not at.error and len(ranked(at)) == 10
        assert snapshot(model_dir) == before
    finally:
        for stem in broken:
            for ext in (".npz", ".json"):
                (model_dir / f"{stem}{ext}").unlink(missing_ok=True)


def test_empty_data_folder_says_so_and_shows_the_demo(tmp_path):
    (tmp_path / "empty").mkdir()
    for page in (REID, CLUSTER):
        at = open_page(page, data_dir=str(tmp_path / "empty"))
        notes = [w.value for w in at.warning] + [i.value for i in at.info]
        assert any("using the demo data instead" in n for n in notes), notes
    assert not any((tmp_path / "empty").iterdir())
    shutil.rmtree(tmp_path / "empty")


def test_a_missing_data_folder_from_the_environment_falls_back_to_the_demo_on_every_page(tmp_path, monkeypatch):
    """$STUDIO_DATA_DIR naming a folder that is not there: a warning and the demo, never a stack trace (the
    fallback once resolved the same missing folder again)."""
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "gone"))
    for page in (REID, CLUSTER, "pages/4_Attributes.py", "pages/1_Datasets.py"):
        at = open_page(page)
        notes = [w.value for w in at.warning] + [e.value for e in at.error]
        assert any("data folder not found" in n for n in notes), (page, notes)
        assert not at.exception
