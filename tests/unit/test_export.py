"""Export: ONNX (checked with ONNX Runtime against Keras within 1e-4 on real images) and SavedModel."""
import json

import numpy as np

from core import cli, export
from core.attributes import __main__ as attr_cli
from core.attributes import train as A
from core.datasets import catalog, splits
from core.images import load_image, resize
from core.reid import __main__ as reid_cli
from core.reid import train as T
from tests.conftest import copy_model, needs_weights


def person_batch(demo_dir, height, width, n=8) -> np.ndarray:
    paths = sorted((demo_dir / "VIPeR" / "cam_a").iterdir())[:n]
    return np.stack([resize(load_image(p), height, width) for p in paths]).astype(np.float32)


def test_reid_course_network_exports_to_matching_onnx(demo_dir, tmp_path, capsys):
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    model = T.train(ds, splits.course_split(ds.pids), T.TrainConfig("course", epochs=1, steps_per_epoch=2,
                                                                     triplets_per_batch=32))
    model.save(tmp_path / "m")
    out = tmp_path / "export"
    assert cli.run(reid_cli.main, ["export", "--model", str(tmp_path / "m"), "--out", str(out)]) == 0
    card = json.loads((out / "m.export.json").read_text())
    assert card["source_card"]["method"] == "course" and card["max_abs_difference_onnx_vs_keras"] <= 1e-4
    assert (out / "m.savedmodel" / "saved_model.pb").is_file()
    batch = person_batch(demo_dir, *model.input_hw)
    got = list(export.onnx_outputs(out / "m.onnx", batch).values())[0]
    assert got.shape == (8, 32)
    assert np.abs(got - model.keras_model.predict(batch, verbose=0)).max() <= 1e-4
    # exporting again replaces the previous export in place
    assert cli.run(reid_cli.main, ["export", "--model", str(tmp_path / "m"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["m.export.json", "m.onnx", "m.savedmodel"]


def test_non_deep_and_broken_models_are_refused(demo_dir, tmp_path, capsys):
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    T.train(ds, splits.course_split(ds.pids), T.TrainConfig("lomo-cosine")).save(tmp_path / "lomo")
    assert cli.run(reid_cli.main, ["export", "--model", str(tmp_path / "lomo"), "--out", str(tmp_path / "x")]) == 2
    assert "not a neural network" in capsys.readouterr().err
    assert cli.run(reid_cli.main, ["export", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@needs_weights
def test_attribute_model_exports_images_to_probabilities(demo_dir, tmp_path, small_attr_model):
    model = A.load(copy_model(small_attr_model, tmp_path / "a"))
    out = tmp_path / "export"
    assert cli.run(attr_cli.main, ["export", "--model", str(tmp_path / "a"), "--out", str(out)]) == 0
    card = json.loads((out / "a.export.json").read_text())
    assert set(model.binary) <= set(card["outputs"]) and card["max_abs_difference_onnx_vs_keras"] <= 1e-4
    paths = sorted((demo_dir / "VIPeR" / "cam_a").iterdir())[:8]
    batch = person_batch(demo_dir, model.spec.height, model.spec.width)
    onnx = export.onnx_outputs(out / "a.onnx", batch)
    keras_probs = model.predict_images([load_image(p) for p in paths])     # the app's own path
    for attribute in model.binary:
        got = next(v for k, v in onnx.items() if k == attribute or k.endswith(f"/{attribute}") or k.startswith(attribute))
        assert np.abs(got.reshape(-1) - keras_probs[attribute].to_numpy()).max() <= 1e-4, attribute
