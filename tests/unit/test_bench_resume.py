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
    per_attribute = [{"held-out subset": s, "model": "heads", "attribute": "male", "positives": 9, "mA": m}
                     for s, m in (("GRID", 70.0), ("MIT", 64.0))]
    common.write("loso", info, [("Mean over the held-out subsets (percent)", "", rows.head(1)),
                                ("Per held-out subset (percent; times in seconds)", "", rows),
                                *attributes.attribute_sections(per_attribute)], tmp_path)
    return tmp_path


def test_resume_keeps_the_finished_subsets_of_the_same_settings(results):
    rows, per_attribute, source = attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume"]))
    assert [r["held-out subset"] for r in rows] == ["GRID", "MIT"] and rows[1]["mA"] == 60.1
    assert [r["mA"] for r in per_attribute] == [70.0, 64.0]
    assert source == "2026-12-04 (commit abc1234)"


def test_resume_refuses_other_settings_and_is_off_by_default(results):
    with pytest.raises(SystemExit, match="views"):
        attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume", "--views", "camera"]))
    with pytest.raises(SystemExit, match="finetune_epochs"):
        attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume", "--finetune-epochs", "5"]))
    assert attributes.finished_rows(attributes.parser().parse_args(RUN)) == ([], [], "")
    other = attributes.parser().parse_args(RUN[:-1] + ["fresh", "--resume"])       # no such results file
    assert attributes.finished_rows(other) == ([], [], "")


def test_per_attribute_summary_leaves_out_subsets_without_positives():
    rows = [{"held-out subset": s, "model": m, "attribute": a, "positives": p, "mA": v}
            for s, m, a, p, v in (("A", "heads", "male", 10, 70.0), ("B", "heads", "male", 4, 60.0),
                                  ("A", "heads", "hat", 0, 90.0), ("B", "heads", "hat", 3, 52.0),
                                  ("A", "tuned", "male", 10, 72.0))]
    (_, _, mean), (_, _, long) = attributes.attribute_sections(rows)
    assert len(long) == 5
    got = {(r["model"], r["attribute"]): (r["subsets with positives"], r["mean mA"], r["lowest mA"])
           for _, r in mean.iterrows()}
    assert got == {("heads", "male"): (2, 65.0, 60.0), ("heads", "hat"): (1, 52.0, 52.0),
                   ("tuned", "male"): (1, 72.0, 72.0)}
    assert list(mean.attribute[mean.model == "heads"]) == ["male", "hat"]          # best first
    assert attributes.attribute_sections([]) == []


def test_resume_refuses_other_heads(results):
    """A run with wider heads is another experiment: its rows never join the default heads' table."""
    with pytest.raises(SystemExit, match="head_hidden"):
        attributes.finished_rows(attributes.parser().parse_args(RUN + ["--resume", "--head-hidden", "1024"]))


def test_cross_site_summary_averages_each_site_over_its_seeds_then_the_sites():
    table = pd.DataFrame([{"held-out subset": s, "seed": seed, "model": "heads", "mA": v, "F1": 40.0}
                          for s, seed, v in (("A", 0, 58.0), ("B", 0, 62.0), ("A", 1, 60.0), ("B", 1, 63.0))]
                         + [{"held-out subset": "A", "model": "old", "mA": 61.0, "F1": 30.0}])   # no seed: 0
    heads, old = (r for _, r in attributes.cross_site_summary(table).iterrows())
    assert (heads["subsets"], heads["seeds"], heads["mean mA"]) == (2, 2, 60.75)     # (59 + 62.5) / 2
    assert (heads["lowest subset"], heads["lowest mA"], heads["subsets below 60 %"]) == ("A", 59.0, 1)
    assert heads["each seed's mean"] == "0: 60.00, 1: 61.50" and heads["std over seeds"] == round(2 ** 0.5 * 0.75, 2)
    assert (old["seeds"], old["mean mA"], old["subsets below 60 %"]) == (1, 61.0, 0)
    assert pd.isna(old["std over seeds"])                  # one seed: no spread to state
