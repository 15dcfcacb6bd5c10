"""The results registry: every measured number the presets, pages and README state comes from
bench/results/*.json, and a question the results cannot answer is an error, never a made-up number."""
import json

import pytest

from core import recommended, results, wording


@pytest.fixture
def folder(tmp_path):
    data = {"date": "2026-12-06", "commit": "abc1234", "command": "python -m bench.x", "seeds": [0],
            "sections": [{"heading": "Summary (percent)", "note": "", "rows": [
                {"method": "a", "re-ranking": False, "Rank-1": 54.0},
                {"method": "a", "re-ranking": True, "Rank-1": 37.3},
                {"method": "b", "re-ranking": False, "Rank-1": 12.5}]},
                {"heading": "Summary of the other kind", "note": "", "rows": []}]}
    (tmp_path / "x.json").write_text(json.dumps(data))
    return tmp_path


def test_a_value_is_found_by_its_file_section_and_row(folder):
    assert results.value("x", "Summary (", "Rank-1", folder, method="a", re_ranking=False) == 54.0
    assert results.row("x", "Summary (", folder, method="b")["Rank-1"] == 12.5
    assert results.info("x", folder)["commit"] == "abc1234"


@pytest.mark.parametrize("ask, says", [
    (lambda f: results.value("nope", "Summary", "Rank-1", f), "no benchmark results 'nope'"),
    (lambda f: results.rows("x", "Summary", f), "2 sections start with 'Summary'"),
    (lambda f: results.row("x", "Summary (", f, method="a"), "2 rows where"),
    (lambda f: results.row("x", "Summary (", f, method="c"), "0 rows where"),
    (lambda f: results.value("x", "Summary (", "mAP", f, method="b"), "no column 'mAP'"),
])
def test_a_question_the_results_cannot_answer_is_an_error(folder, ask, says):
    with pytest.raises(results.ResultsError, match=says):
        ask(folder)


def test_a_changed_results_file_is_read_again(folder):
    assert results.value("x", "Summary (", "Rank-1", folder, method="b") == 12.5
    data = json.loads((folder / "x.json").read_text())
    data["sections"][0]["rows"][2]["Rank-1"] = 13.0
    (folder / "x.json").write_text(json.dumps(data))
    import os

    os.utime(folder / "x.json", ns=(1, 1))          # another modification time, whatever the clock says
    assert results.value("x", "Summary (", "Rank-1", folder, method="b") == 13.0


def test_every_preset_states_what_its_results_hold():
    """Each preset's words, time and cross-site figure are read from the results files it names."""
    for presets in recommended.PRESETS.values():
        for p in presets:
            assert p.seconds > 0 and p.units > 0, p.key
            assert "{" not in p.measured and p.measured, p.key
            assert all(f"bench/results/{n}.md" in p.source for n in p.sources), p.key
    fused = recommended.by_key("reid", "fused-xqda")
    lit = results.value("reid-nondeep", "Summary", "Rank-1", protocol="literature", method=recommended.FUSED,
                        re_ranking=False)
    assert f"Rank-1 {wording.percent(lit)} on VIPeR's 10 literature splits" in fused.measured
    assert recommended.by_key("reid", "fused-xqda").seconds == results.value("presets", "Training time", "seconds",
                                                                             preset="fused-xqda")


def test_percentages_round_half_up_as_written():
    assert wording.percent(66.55) == "66.6 %" and wording.percent(62.45) == "62.5 %" and wording.percent(54) == "54.0 %"


def test_the_readmes_tables_are_what_the_results_say():
    """``python -m bench.report --readme`` wrote every results table of the README from bench/results; a
    results file changed without it, or a number typed into a table by hand, fails here."""
    from bench import report

    text = report.README.read_text()
    assert set(report.BLOCK.findall(text)) and {m[1] for m in report.BLOCK.findall(text)} == set(report.TABLES)
    assert report.render(text) == text, "run python -m bench.report --readme"
    assert report.main(["--check"]) == 0


def test_a_changed_result_changes_the_readme_table(monkeypatch):
    from bench import report

    real = results.value

    def moved(name, heading, column, folder=None, **where):
        got = real(name, heading, column, folder, **where)
        return got + 1.0 if (name, column) == ("reid-nondeep", "Rank-1") else got

    monkeypatch.setattr(results, "value", moved)
    text = report.README.read_text()
    assert report.render(text) != text
