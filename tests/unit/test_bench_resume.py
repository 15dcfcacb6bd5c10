"""``bench.attributes --leave-one-out --resume``: finished held-out subsets are kept only from a run with the
same settings."""
from __future__ import annotations

import pandas as pd
import pytest

from bench import attributes, common

RUN = ["--data-dir", "d", "--size", "256x128", "--pooling", "stripes", "--leave-one-out", "--views", "plain",
       "--name", "loso"]


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    info = {"date": "2026-12-04", "commit": "abc1234", "command": ".venv/bin/python -m bench.attributes " + " ".join(RUN)}
    rows = pd.DataFrame([{"held-out subset": "GRID", "model": "heads", "mA": 58.7},
                         {"held-out subset": "MIT", "model": "heads", "mA": 60.1}])
    common.write("loso", info, [("Mean over the held-out subsets (percent)", "", rows.head(1)),
                                ("Per held-out subset (percent; times in seconds)", "", rows)], tmp_path)
    return tmp_path


def test_resume_keeps_the_finished_subsets_of_the_same_settings(results):
    rows, source = attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume"]))
    assert [r["held-out subset"] for r in rows] == ["GRID", "MIT"] and rows[1]["mA"] == 60.1
    assert source == "2026-12-04 (commit abc1234)"


def test_resume_refuses_other_settings_and_is_off_by_default(results):
    with pytest.raises(SystemExit, match="views"):
        attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume", "--views", "camera"]))
    with pytest.raises(SystemExit, match="finetune_epochs"):
        attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume", "--finetune-epochs", "5"]))
    assert attributes.finished_rows(attributes.parser().parse_args(RUN)) == ([], "")
    other = attributes.parser().parse_args(RUN[:-1] + ["fresh", "--resume"])       # no such results file
    assert attributes.finished_rows(other) == ([], "")
