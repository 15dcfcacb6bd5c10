"""Interrupted work: a killed training run leaves the last saved model intact and can be resumed;
one training at a time per model folder."""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from core import artifacts, checkpoint
from core.datasets import catalog, splits
from core.reid import train as T
from tests.conftest import PROJECT


@pytest.fixture(scope="module")
def demo_reid(demo_dir):
    return catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))


class Stop(Exception):
    pass


def stop_in_epoch(n):
    """A progress callback that raises during epoch ``n``, before its checkpoint: as if killed there."""
    def report(event):
        if len(event.history) == n:
            raise Stop

    return report


def small(epochs=3):
    return T.TrainConfig("course", epochs=epochs, steps_per_epoch=2, triplets_per_batch=64, seed=0)


def test_resume_continues_from_the_last_epoch_checkpoint(demo_reid, tmp_path):
    split = splits.course_split(demo_reid.pids)
    stem = tmp_path / "m"
    with pytest.raises(Stop):
        T.train(demo_reid, split, small(), stop_in_epoch(2), checkpoint=stem)
    assert checkpoint.info(stem)["epoch"] == 1
    assert not (tmp_path / "m.json").exists()          # a checkpoint is not a model
    model = T.train(demo_reid, split, small(), checkpoint=stem, resume=True)
    assert model.card["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in model.history] == [1, 2, 3]
    model.save(stem)
    assert checkpoint.info(stem) is None and not any(p.exists() for p in checkpoint.paths(stem))
    assert T.load(stem).method == "course"


def test_a_checkpoint_of_another_configuration_is_not_resumed(demo_reid, tmp_path):
    split = splits.course_split(demo_reid.pids)
    stem = tmp_path / "m"
    with pytest.raises(Stop):
        T.train(demo_reid, split, small(), stop_in_epoch(2), checkpoint=stem)
    other = T.train(demo_reid, split, small(epochs=1), checkpoint=stem, resume=True)
    assert other.card["resumed_from_epoch"] == 0 and len(other.history) == 1


def test_one_training_at_a_time(tmp_path):
    with artifacts.training_lock("reid", tmp_path):
        with pytest.raises(artifacts.Busy, match="reid training is already running"):
            with artifacts.training_lock("reid", tmp_path):
                pass
        with artifacts.training_lock("clustering", tmp_path):      # other systems do not wait
            pass
    with artifacts.training_lock("reid", tmp_path):                # released on exit
        pass


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args):
    return [sys.executable, "-m", "core.reid", *args]


def test_killed_cli_training_keeps_the_saved_model_and_resumes(tmp_path, cache_dir):
    env = {**os.environ, "STUDIO_MODEL_DIR": str(tmp_path), "PYTHONPATH": str(PROJECT)}
    out = tmp_path / "reid-course"
    first = subprocess.run(cli("train", "--method", "lomo-xqda", "--out", str(out)), cwd=PROJECT, env=env,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = {p.name: digest(p) for p in tmp_path.glob("reid-course.*")}
    run = subprocess.Popen(cli("train", "--method", "course", "--epochs", "2", "--out", str(out)), cwd=PROJECT,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while checkpoint.info(out) is None and run.poll() is None:     # wait for the first epoch's checkpoint
            time.sleep(0.05)
        assert run.poll() is None, run.stderr.read()
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
    assert {p.name: digest(p) for p in tmp_path.glob("reid-course.*")} == before     # the saved model is untouched
    assert T.load(out).method == "lomo-xqda"
    assert checkpoint.info(out)["epoch"] == 1
    again = subprocess.run(cli("train", "--method", "course", "--epochs", "2", "--out", str(out), "--resume"),
                           cwd=PROJECT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resumed after epoch 1" in again.stderr
    card = artifacts.read_card(out)
    assert card["method"] == "course" and card["resumed_from_epoch"] == 1 and len(card["history"]) == 2
    assert checkpoint.info(out) is None
