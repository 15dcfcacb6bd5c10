"""core.prepare (make models / python -m core prepare), the weights check, similarity and kept test scores."""
import json

import numpy as np
import pandas as pd
import pytest

from core import artifacts, backbones, prepare, recommended, wording
from core.errors import StudioError
from core.progress import Phases, Progress
from core.reid import search
from tests.conftest import needs_weights


@pytest.fixture
def settings(tmp_path, cache_dir, demo_dir):
    return prepare.Settings(model_dir=str(tmp_path / "models"), cache_dir=str(cache_dir))


def test_status_on_an_empty_model_folder_says_what_is_missing(settings):
    rows = prepare.status(settings)
    assert [r.system for r in rows] == ["reid", "clustering", "attributes"]
    for r in rows:
        assert r.state == "missing" and r.dataset == "the built-in demo data" and not r.headline
        assert r.model == recommended.recommended(r.system).title
        assert r.expected_s and r.expected_s > 0


def test_clustering_is_prepared_once_then_kept(settings):
    steps = []
    rows = prepare.run(settings, ["clustering"], progress=lambda event: steps.append(event.fraction))
    (row,) = rows
    assert row.state == "ready", row.note
    assert row.metric == "Good picks in the top 10" and row.value.endswith(" %")
    assert "taste groups" in row.headline and "most popular" in row.headline
    assert steps == sorted(steps) and steps[-1] == 1.0             # one bar, forward only
    card_path = next(settings.models.glob("clustering-*.json"))
    card = json.loads(card_path.read_text())
    assert card["kind"] == prepare.CLUSTERING_KIND and card["best_k"] >= 1
    log = json.loads((settings.models / prepare.LOG).read_text())
    assert log[row.path]["seconds"] == row.seconds

    stamp = card_path.stat().st_mtime_ns
    (again,) = prepare.run(settings, ["clustering"])                # kept: nothing written
    assert again.state == "ready" and card_path.stat().st_mtime_ns == stamp
    assert again.headline == row.headline and again.seconds == row.seconds
    (status,) = prepare.status(settings, ["clustering"])
    assert status.state == "ready" and status.value == row.value


def test_an_unreadable_summary_is_trained_again(settings):
    prepare.run(settings, ["clustering"])
    card_path = next(settings.models.glob("clustering-*.json"))
    card_path.write_text("{not json")
    (row,) = prepare.status(settings, ["clustering"])
    assert row.state == "missing"
    (row,) = prepare.run(settings, ["clustering"])
    assert row.state == "ready" and json.loads(card_path.read_text())["kind"] == prepare.CLUSTERING_KIND


def test_attributes_without_usable_weights_fail_with_the_fix(settings, tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_text("not weights")
    settings.weights = str(bad)
    (row,) = prepare.run(settings, ["attributes"])
    assert row.state == "failed"
    assert "is not an HDF5 weights file" in row.note and backbones.KERAS_URL in row.note
    assert not list(settings.models.glob("attr-*"))


def test_reid_without_weights_prepares_the_best_method_that_needs_none(settings, tmp_path):
    from core.reid import train as T

    assert recommended.recommended("reid").settings["method"] in T.FROZEN_METHODS
    settings.weights = str(tmp_path / "missing.h5")
    (row,) = prepare.status(settings, ["reid"])
    fallback = next(p for p in recommended.REID if p.settings["method"] not in T.FROZEN_METHODS)
    assert row.model == fallback.title and "No Xception ImageNet weights" in row.note
    assert "lomo-gog-xqda" in row.path


def test_a_reid_model_of_an_older_configuration_is_trained_again(settings):
    """A saved re-ID model whose card matches today's recommended configuration is kept; one trained
    before the metrics learned from the mirrored training images (no ``mirror`` in its config) is not."""
    from core.reid import handcrafted
    from core.reid import train as T

    system = prepare.adapter("reid")(settings)
    card = {"kind": "reid-lomo", "method": system.preset.settings["method"], "data": str(system.data.root),
            "split": {"name": system.split.name}, "descriptor_version": handcrafted.DESCRIPTOR_VERSION,
            "config": T.TrainConfig(system.preset.settings["method"]).to_dict(),
            "metrics": {system.split.name: {"Rank-1": 0.5, "mAP": 0.6}}}
    path = system.stem.with_name(system.stem.name + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card))
    assert system.check() is not None
    del card["config"]["mirror"]
    path.write_text(json.dumps(card))
    assert system.check() is None


def test_a_data_folder_without_a_kind_says_so_and_uses_the_demo(settings, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    settings.data_dir = str(folder)
    (row,) = prepare.status(settings, ["clustering"])
    assert row.dataset == "the built-in demo data" and row.note


def test_cli_status_json_and_bad_systems(settings, capsys):
    from core.__main__ import main

    assert main(["status", "--systems", "clustering", "--model-dir", settings.model_dir,
                 "--cache-dir", settings.cache_dir, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["system"] == "clustering" and rows[0]["state"] in ("missing", "ready")
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "--systems", "reid,nonsense"])
    assert exc.value.code == 2


def test_phased_progress_moves_forward_only_by_the_events_phase_not_their_words():
    seen = []
    update = Phases({"first": (0.0, 0.5), "second": (0.5, 0.9), "last": (0.9, 1.0)},
                    lambda f, t: seen.append((round(f, 3), t)))
    for phase in ("first", "second"):
        for done in (0, 1, 2):
            update(Progress(phase, done, 2, "last: reworded"))     # the message says nothing to the bar
        update(Progress("between", 1, 1, "first: between phases"))  # a phase not listed leaves the bar
    update(Progress("last", 1, 5, "step"))
    assert [f for f, _ in seen] == [0.0, 0.25, 0.5, 0.5, 0.5, 0.7, 0.9, 0.9, 0.92]
    assert seen[-1][1] == "step"


def test_preset_estimates_scale_with_the_data():
    p = recommended.recommended("attributes")
    assert p.estimate_seconds(p.units) == pytest.approx(p.seconds)
    assert p.overhead < p.estimate_seconds(100) < p.estimate_seconds(1000)
    assert wording.minutes(30) == "about 30 seconds" and wording.minutes(970) == "about 16 minutes"
    assert wording.minutes(4000) == "about 1 hour 7 minutes"


def test_the_attribute_headline_quotes_the_cross_site_number_only_for_a_measured_preset():
    from dataclasses import asdict, replace

    from core.attributes import train as A

    def headline(card):                     # what the attribute part of prepare says of a card
        return wording.attributes_headline(card, A.new_site_words(card))

    preset = recommended.by_key("attributes", "finetuned-256")
    cfg, _ = A.preset_config(preset.settings, "person-disjoint", seed=0)
    card = {"config": asdict(cfg), "input": "image", "split": {"test": 120},
            "metrics": {"person-disjoint": {"mA": 0.668}}}
    metric, value, words = headline(card)
    assert (metric, value) == ("mA", "66.8 %") and "120 test images" in words
    assert words.endswith(f"On cameras it never saw, the benchmark measured {preset.new_sites}.")
    _, _, custom = headline(dict(card, config=asdict(replace(cfg, camera_views=True))))
    assert "never saw" not in custom


# ------------------------------------------------------------------------------------ weights
def test_weights_status(tmp_path, monkeypatch):
    good = tmp_path / "good.h5"
    good.write_bytes(backbones.HDF5_SIGNATURE + b"\0" * 64)
    assert backbones.weights_status(str(good)).source == "file" and backbones.weights_status(str(good)).ok
    missing = backbones.weights_status(str(tmp_path / "nope.h5"))
    assert not missing.ok and "does not exist" in missing.message
    monkeypatch.delenv("STUDIO_XCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    none = backbones.weights_status(None, can_download=lambda: False)
    assert none.source == "missing" and not none.ok and backbones.KERAS_URL in none.message
    assert backbones.weights_status(None, can_download=lambda: True).source == "download"
    cached = backbones.keras_cache_file()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(good.read_bytes())
    assert backbones.weights_status(None, can_download=lambda: False).source == "keras-cache"


# ------------------------------------------------------------------------------------ similarity
def test_similarity_is_100_at_the_closest_and_0_from_the_median():
    row = np.array([5.0, 1.0, 3.0, 9.0, 7.0])
    s = search.similarity(row)
    assert s[1] == 100 and s[2] == 50 and s[0] == 0 and s[3] == 0 and s[4] == 0
    assert list(search.similarity(row, [1.0, 2.0])) == [100.0, 75.0]
    assert list(search.similarity(np.ones(4))) == [100.0] * 4            # no spread: all equally close


# ------------------------------------------------------------------------------------ kept test scores
def test_test_scores_are_used_only_for_the_same_model_and_rows(tmp_path):
    from core.attributes import train as A

    stem = tmp_path / "attr-x"
    artifacts.atomic_write_json(tmp_path / "attr-x.json", {"kind": A.KIND, "keras_sha256": "abc"})
    probs = pd.DataFrame({"a": [0.1, 0.9], "b": [0.5, 0.25]})
    split = type("S", (), {"test": np.array([3, 7])})
    A.save_test_scores(stem, {"probabilities": probs, "split": split})
    model = type("M", (), {"card": {"keras_sha256": "abc"}})
    kept = A.saved_test_scores(stem, model, np.array([3, 7]))
    pd.testing.assert_frame_equal(kept, probs.astype(np.float32))
    assert A.saved_test_scores(stem, model, np.array([3, 8])) is None
    assert A.saved_test_scores(stem, type("M", (), {"card": {"keras_sha256": "other"}}), np.array([3, 7])) is None
    (tmp_path / "attr-x.test-scores.npz").write_bytes(b"garbage")
    assert A.saved_test_scores(stem, model, np.array([3, 7])) is None


# ------------------------------------------------------------------------------------ quiet server log
def test_native_start_up_notices_are_dropped_and_the_rest_kept(tmp_path):
    import subprocess
    import sys

    from tests.conftest import PROJECT

    script = tmp_path / "noisy.py"
    script.write_text(
        "import os, sys\n"
        "from core import quiet\n"
        "quiet.filter_native_stderr()\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1796364316.874407    2962 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'E0000 00:00:1796364321.141102    2962 cuda_platform.cc:52] failed call to cuInit: x\\n')\n"
        "os.write(2, b'E0000 00:00:1796364321.141102    2962 other.cc:1] a real error\\n')\n"
        "print('a Python warning', file=sys.stderr)\n"
        "raise SystemExit('the last line')\n")
    done = subprocess.run([sys.executable, str(script)], cwd=PROJECT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["E0000 00:00:1796364321.141102    2962 other.cc:1] a real error",
                                        "a Python warning", "the last line"]


@needs_weights
def test_an_interrupted_run_keeps_what_was_finished(settings):
    def stop_at_attributes(event):
        if event.phase == "attributes":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare.run(settings, ["clustering", "attributes"], progress=stop_at_attributes)
    rows = {r.system: r for r in prepare.status(settings, ["clustering", "attributes"])}
    assert rows["clustering"].state == "ready" and rows["attributes"].state == "missing"
    assert not list(settings.models.glob("attr-*"))                 # nothing half-written


def test_prepare_takes_the_presets_it_is_given(settings, monkeypatch):
    """A presenter may prepare the faster presets (--presets, $STUDIO_PRESETS); a misspelt one is one line."""
    from dataclasses import replace

    fast = replace(settings, presets="reid=lomo-xqda,attributes=heads-128")
    assert fast.preset("reid").key == "lomo-xqda" and fast.preset("attributes").key == "heads-128"
    assert fast.preset("clustering") is recommended.recommended("clustering")
    (row,) = prepare.status(fast, ["reid"])
    assert row.model == recommended.by_key("reid", "lomo-xqda").title and "lomo-xqda" in row.path
    monkeypatch.setenv("STUDIO_PRESETS", "attributes=heads-256")
    assert settings.preset("attributes").key == "heads-256"
    for bad, says in (("reid=nope", "reid has no preset 'nope'"), ("video=x", "no system 'video'"),
                      ("reid", "is not system=preset")):
        with pytest.raises(StudioError, match=says):
            replace(settings, presets=bad).preset("reid")
    from core import cli
    from core.__main__ import main

    assert cli.run(main, ["status", "--presets", "reid=nope"]) == cli.EXIT_USER_ERROR
