"""AppTest of the home page's dashboard and the sidebar's weights setting."""
import re

import pytest

from core import backbones
from tests.app.helpers import open_page


@pytest.fixture
def empty_models(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_dashboard_says_what_is_missing_and_prepares_it(empty_models):
    at = open_page(timeout=300)
    assert texts(at).count("Not trained yet") == 3
    assert at.button(key="prepare_all").label == "Prepare all models"
    assert "3 of 3 systems have no trained model yet" in texts(at)
    assert re.search(r"Expected training time: about \d+ (seconds|minutes?) on 2 cores", texts(at))

    at.button(key="prepare_clustering").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.run()                                 # the page re-reads the status after preparing
    assert texts(at).count("Not trained yet") == 2
    metric = {m.label: m.value for m in at.metric}
    assert re.fullmatch(r"\d+\.\d %", metric["Good picks in the top 10"])
    assert "taste groups" in texts(at)
    assert list(empty_models.glob("clustering-*.json"))
    # what a person reads: no long raw floats, no scientific notation
    assert not re.search(r"\d\.\d{3,}|\d[eE][+-]\d", texts(at))


def test_weights_setting_in_the_sidebar(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path / "models"))
    at = open_page(timeout=300)
    box = at.sidebar.text_input(key="weights_file")
    assert box.label == "ImageNet weights file"
    box.set_value(str(tmp_path / "missing.h5")).run()
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "does not exist" in warnings and backbones.KERAS_URL in warnings
    good = tmp_path / "good.h5"
    good.write_bytes(backbones.HDF5_SIGNATURE + b"\0" * 16)
    at.sidebar.text_input(key="weights_file").set_value(str(good)).run()
    assert not at.sidebar.warning
    assert any(str(good) in c.value for c in at.sidebar.caption)


def test_the_home_page_lists_every_running_job_and_its_end(empty_models, monkeypatch):
    """A job running in another process (here: a stand-in process named by the job's id, as a job's is) is
    listed with its progress; once it is gone without a final state the job is interrupted, nothing is
    listed."""
    import subprocess
    import sys
    import time

    from core import artifacts, jobs

    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "abc123def456"])
    record = jobs.Job("abc123def456", "prepare", "prepare:all", "Preparing reid, attributes", {}, state="running",
                      phase="reid", fraction=0.4, message="re-identification: features 120/600", created=artifacts.now(),
                      started=artifacts.now(), started_at=time.time() - 95, pid=stand_in.pid)
    artifacts.atomic_write_json(jobs.folder() / "abc123def456.json", record.to_dict())
    at = open_page(timeout=300)
    assert "1 job running in the background" in texts(at)
    bars = [p.proto.text for p in at.get("progress")]
    assert any(re.match(r"Preparing reid, attributes · \d+ minutes? so far · re-identification: features", t)
               for t in bars), bars
    stand_in.kill()                                # it dies without saying so
    stand_in.wait()
    at.run()
    assert "running in the background" not in texts(at)
    assert jobs.get("abc123def456").state == "interrupted"
