"""AppTest of the Re-identification page (the non-deep baseline trains in seconds on the demo)."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.app.helpers import open_page

PAGE = "pages/2_Re-identification.py"


@pytest.fixture(scope="module")
def trained():
    at = open_page(PAGE, timeout=300)
    assert any("No saved model for this data yet" in i.value for i in at.info)   # nothing trained on load
    at.radio(key="train_method").set_value("lomo-xqda").run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Trained and saved reid-lomo-xqda") for s in at.success)
    return at


def captions(at):
    return [c for el in at.get("image") for c in el.captions]


def test_search_from_camera_a_marks_the_true_match(trained):
    caps = captions(trained)
    ranked = [c for c in caps if c.startswith("#")]
    assert len(ranked) == 10 and ranked[0].startswith("#1 id ")
    assert any("✓" in c for c in ranked)
    scores = [int(c.rsplit("similarity ", 1)[1]) for c in ranked]       # 0-100, never a raw distance
    assert scores[0] == 100 and scores == sorted(scores, reverse=True) and "d=" not in " ".join(ranked)
    assert any(c.value.startswith("True match at rank") for c in trained.caption)


def test_upload_good_and_bad_images(trained):
    at = trained
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 120, 4), 200, np.uint8), "RGBA").save(buf, "PNG")
    at.file_uploader(key="reid_upload").set_value(("me.png", buf.getvalue(), "image/png"))
    at.run()
    ranked = [c for c in captions(at) if c.startswith("#")]
    assert len(ranked) == 10 and not any("✓" in c or "✗" in c for c in ranked)   # truth unknown for uploads
    at.file_uploader(key="reid_upload").set_value(("evil.jpg", b"<html>nope</html>", "image/jpeg"))
    at.run()
    assert not at.exception
    assert any("That file cannot be used" in e.value and "not an image" in e.value for e in at.error)
    at.file_uploader(key="reid_upload").set_value(None)
    at.run()


def test_triplets_cmc_and_map(trained):
    at = trained
    at.radio(key="trip_mode").set_value("hardest").run()
    assert sum(c.startswith("anchor (id") for c in captions(at)) == 4
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["model", "Rank-1"] and table["Rank-1"].iloc[0] > 50
    at.toggle(key="show_map").set_value(True).run()
    assert not at.exception
    people = at.selectbox(key="map_person").options
    at.selectbox(key="map_person").set_value(people[3]).run()
    chart = at.get("vega_lite_chart")[0].proto
    spec = chart.spec + "".join(str(d) for d in chart.datasets)
    assert "Embedding map" in spec and '"image"' in spec             # the photo in each point's tooltip
    assert "#d62728" in spec                                          # the chosen person ringed in red
    assert any(f"identity {people[3]}'s 2 photos" in c.value for c in at.caption)


def test_search_covers_the_split_or_all_of_camera_b(trained):
    at = trained
    options = at.radio(key="reid_gallery").options
    assert options[0].startswith("camera B of the test split") and options[1].startswith("all of camera B (300")
    at.radio(key="reid_gallery").set_value("camera-b").run()
    assert not at.exception
    ranked = [c for c in captions(at) if c.startswith("#")]
    assert len(ranked) == 10 and any("✓" in c for c in ranked)
    at.radio(key="reid_gallery").set_value("split").run()


def test_an_interrupted_run_is_offered_for_resuming(tmp_path, monkeypatch, demo_dir):
    """A course-network run stopped after epoch 1 of 2 (as if the server was killed): the page offers to
    resume it and finishes with the second epoch only."""
    from core import checkpoint
    from core.datasets import catalog, splits
    from core.reid import train as T

    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path))
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    stem = tmp_path / "reid-course-demo_pedestrians-course"
    cfg = T.TrainConfig("course", epochs=2, weights=os.environ.get("STUDIO_XCEPTION_WEIGHTS") or None)

    def stop_in_epoch_2(event):
        if len(event.history) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        T.train(ds, splits.course_split(ds.pids), cfg, stop_in_epoch_2, checkpoint=stem)
    at = open_page(PAGE, timeout=300)
    at.radio(key="train_method").set_value("course").run()
    at.slider(key="train_epochs").set_value(2).run()
    assert at.checkbox(key="train_resume").label == "Resume the interrupted run (after epoch 1)"
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Trained and saved reid-course") for s in at.success)
    card = T.load(stem).card
    assert card["resumed_from_epoch"] == 1 and [h["epoch"] for h in card["history"]] == [1, 2]
    assert checkpoint.info(stem) is None


def test_search_in_a_gallery_index(tmp_path, monkeypatch, demo_dir):
    """An index built for the selected model (python -m core.reid index) is offered as a gallery."""
    from core.datasets import catalog, splits
    from core.reid import index as gallery
    from core.reid import train as T

    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path))
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    stem = tmp_path / "reid-course-demo_pedestrians-course"
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("course", epochs=1, steps_per_epoch=2,
                                                              triplets_per_batch=32)).save(stem)
    gallery.build_from_folder(T.load(stem), demo_dir / "VIPeR" / "cam_b", tmp_path / "indexes" / "demo-b")
    at = open_page(PAGE, timeout=300)
    choice = at.radio(key="reid_gallery")
    assert any("index of cam_b (300 photos, exact)" in o for o in choice.options), choice.options
    choice.set_value(str(tmp_path / "indexes" / "demo-b")).run()
    assert not at.exception, [e.value for e in at.exception]
    ranked = [c for c in captions(at) if c.startswith("#")]
    assert len(ranked) == 10 and all(".png" in c for c in ranked)


def test_a_model_from_another_dataset_is_adapted_to_these_cameras(tmp_path, monkeypatch, small_reid_model):
    """Cross-dataset: the page adapts the cameras by default, says how, and adapts an upload from a camera
    the user names."""
    import json

    from tests.conftest import SMALL_REID, copy_model

    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path))
    stem = copy_model(small_reid_model, tmp_path / SMALL_REID)
    card = json.loads(stem.with_suffix(".json").read_text())
    card.update(data="/elsewhere/VIPeR", dataset="another dataset")        # trained elsewhere, as far as the page knows
    stem.with_suffix(".json").write_text(json.dumps(card))
    at = open_page(PAGE, timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key="reid_adapt").value is True
    assert any(c.value.startswith("Cameras adapted to each camera from its own photos: query camera 0") for c in at.caption)
    rows = at.dataframe[0].value
    assert any("cameras adapted" in m for m in rows.model) and any("cameras adapted" not in m for m in rows.model)
    buf = io.BytesIO()
    Image.fromarray(np.full((160, 64, 3), 120, np.uint8)).save(buf, "PNG")
    at.file_uploader(key="reid_upload").set_value(("me.png", buf.getvalue(), "image/png")).run()
    assert any("adapted with the gallery's photos pooled" in c.value for c in at.caption)
    at.selectbox(key="reid_query_camera").set_value(0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("Your photo was adapted to this camera from its own photos: camera 0 (300 photos)")
               for c in at.caption)
    at.toggle(key="reid_adapt").set_value(False).run()
    assert not any(c.value.startswith("Cameras adapted") for c in at.caption)
