"""AppTest of the Attributes page (needs Xception's ImageNet weights: ../shared/weights or the env var)."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from core import recommended, results, wording
from core.attributes import train as A
from core.errors import StudioError
from tests.app.helpers import open_page
from tests.conftest import needs_weights

PAGE = "pages/4_Attributes.py"
pytestmark = needs_weights


@pytest.fixture(scope="module")
def trained():
    at = open_page(PAGE, timeout=600)
    assert any("No saved attribute model" in i.value for i in at.info)   # nothing trained on page load
    assert at.radio(key="attr_preset").value == "heads-256-mid"          # the recommended model by default
    assert at.radio(key="attr_split").value == "person-disjoint"
    assert at.radio(key="attr_preset").options[0].startswith("Recommended: ")
    pd_ma = results.value("attributes-256x128-mid-ensemble-pd", "Spread over the seeds", "mA", statistic="mean")
    site_ma = results.value("attributes-cross-site-mid-ensemble", "Mean over", "mean mA", model="heads + neighbour votes")
    label = at.radio(key="attr_preset").options[0]                       # the numbers the benchmarks wrote
    assert f"mA {wording.percent(pd_ma)} on PETA's person-disjoint split" in label
    assert f"{wording.percent(site_ma)} on a site never seen in training" in label
    assert "3 heads averaged" in at.radio(key="attr_preset").options[0]
    at.radio(key="attr_preset").set_value("heads-128")                    # the fastest, for the tests
    at.radio(key="attr_split").set_value("random-image")
    at.button(key="attr_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Trained and saved attr-xception") for s in at.success)
    return at


def charts(at):
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def png(arr, mode=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


def test_upload_gives_probability_bars(trained, demo_dir):
    at = trained
    person = (demo_dir / "VIPeR" / "cam_a").glob("000_*.png").__next__().read_bytes()
    gray16 = png((np.arange(128 * 48).reshape(128, 48) * 9).astype(np.uint16))
    at.file_uploader(key="attr_upload").set_value([("person.png", person, "image/png"),
                                                     ("gray16.png", gray16, "image/png"),
                                                     ("notes.jpg", b"hello", "image/jpeg")])
    at.run()
    assert not at.exception
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    assert "Attributes of person.png" in titles and "Attributes of gray16.png" in titles
    bars = next(c for c in charts(at) if c["layout"]["title"]["text"] == "Attributes of person.png")
    assert len(bars["data"][0]["y"]) >= 10
    assert any("notes.jpg cannot be used" in e.value for e in at.error)
    assert any(m.value.startswith("**Predicted:**") and "jeans" in m.value for m in at.markdown)
    # every answer says how far to trust it on new cameras; the near-coin-toss ones are greyed
    said = next(m.value for m in at.markdown if m.value.startswith("**Predicted:**"))
    assert "on new cameras" in said and ":gray[" in said
    assert any("Greyed answers" in c.value and "recommended configuration" in c.value for c in at.caption)
    assert at.get("toggle") and not any(t.key == "attr_adapt" for t in at.toggle)      # under 30 photos: no adapting
    at.file_uploader(key="attr_upload").set_value([(f"p{i}.png", person, "image/png") for i in range(30)]).run()
    at.toggle(key="attr_adapt").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(i.value.startswith("Photos adapted to this camera from its own photos: this camera (30 photos)")
               for i in at.info)
    at.toggle(key="attr_adapt").set_value(False)
    at.file_uploader(key="attr_upload").set_value([("person.png", person, "image/png")]).run()
    at.toggle(key="attr_tuned").set_value(False).run()
    at.slider(key="attr_threshold").set_value(95).run()
    assert not at.exception


def test_browse_search_and_metrics(trained):
    at = trained
    at.selectbox(key="browse_attr").select("carryingBackpack").run()
    marks = [c for el in at.get("image") for c in el.captions if c[:1] in "✓✗"]
    assert marks and sum(c.startswith("✓") for c in marks) > len(marks) / 2
    at.multiselect(key="search_attrs").set_value(["lowerBodyJeans", "carryingMessengerBag"]).run()
    ranked = [c for el in at.get("image") for c in el.captions if c.startswith("#")]
    assert len(ranked) == 12 and ranked[0].startswith("#1 · ") and "%" in ranked[0]
    assert sum(c.endswith("✓") for c in ranked[:6]) >= 3
    labels = {m.label for m in at.metric}
    assert {"mA", "accuracy", "precision", "recall", "F1"} <= labels
    assert any("Per-attribute mA" in c["layout"]["title"]["text"] for c in charts(at))
    reliability = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Reliability on the test"))
    assert [t["name"] for t in reliability["data"]] == ["share true", "bin average", "perfectly calibrated"]
    assert any(c.value.startswith("Calibration error (ECE) ") and "Before calibration: " in c.value
               for c in at.caption)


def test_metrics_say_what_to_expect_on_a_new_camera(trained, monkeypatch):
    from dataclasses import replace


    at = trained
    assert not any("never saw" in c.value for c in at.caption)          # heads-128: not measured across sites
    measured = tuple(replace(p, sites=lambda: "61.0 % on a site never seen") if p.key == "heads-128" else p
                     for p in recommended.ATTRIBUTES)
    monkeypatch.setitem(recommended.PRESETS, "attributes", measured)
    at.run()
    assert any("On cameras it never saw, the benchmark measured this configuration's mA at 61.0 % on a site" in c.value
               for c in at.caption)


class Recorded(Exception):
    pass


@pytest.fixture
def recorded(monkeypatch):
    """What the page hands to training, without training: the real training through the page runs once, in
    ``trained``; the models these settings make are trained in tests/unit/test_attributes.py."""
    calls = []

    def record(ds, cfg, stem, finetune_epochs=0, **kw):
        calls.append({"cfg": cfg, "stem": stem, "epochs": finetune_epochs, "ds": ds})
        raise StudioError("recorded, not trained")

    monkeypatch.setattr(A, "train_and_save", record)
    return calls


def test_custom_settings_reach_training(trained, recorded):
    at = trained
    at.radio(key="attr_preset").set_value("custom").run()
    at.toggle(key="attr_neighbours").set_value(True)
    at.radio(key="attr_input").set_value(((256, 128), "stripes"))
    at.button(key="attr_train").click().run()
    assert any("recorded, not trained" in e.value for e in at.error)          # the page says why, nothing saved
    cfg = recorded[-1]["cfg"]
    assert (cfg.height, cfg.width, cfg.pooling, cfg.neighbours) == (256, 128, "stripes", True)
    assert recorded[-1]["epochs"] == 0 and recorded[-1]["stem"].name.startswith("attr-xception-256x128-stripes")
    at.radio(key="attr_input").set_value(((128, 64), "avg"))
    at.toggle(key="attr_finetune").set_value(True)
    at.button(key="attr_train").click().run()
    cfg = recorded[-1]["cfg"]
    assert (cfg.height, cfg.pooling, cfg.neighbours) == (128, "avg", True) and recorded[-1]["epochs"] == A.FINETUNE_EPOCHS
    assert recorded[-1]["stem"].name.startswith("attr-xception-finetuned")
    at.toggle(key="attr_finetune").set_value(False)
    at.radio(key="attr_preset").set_value("heads-128").run()


def test_a_fine_tuned_model_is_listed_and_used(trained, demo_dir):
    """A fine-tuned model with neighbour votes (trained here in core, on a quarter of the demo's images, so
    that the page's own scoring of the test images runs through its network): listed, scored, answering."""
    from dataclasses import replace

    from core import config
    from core.datasets import catalog

    ds = catalog.load(catalog.Source("attributes", demo_dir / "PETA", True))
    few = replace(ds, frame=ds.frame.iloc[:150].reset_index(drop=True))
    cfg = A.AttrConfig(epochs=4, neighbours=True, split="random-image")
    stem = config.model_dir() / "attr-xception-finetuned-demo_pedestrians-random-image"
    A.train_and_save(few, cfg, stem, finetune_epochs=1)
    at = trained
    at.run()
    box = at.selectbox(key="attr_model")
    tuned = [o for o in box.options if o.startswith("xception 128x64 + neighbours · fine-tuned")]
    assert len(tuned) == 1, box.options
    box.select(tuned[0]).run(timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    marks = [c for el in at.get("image") for c in el.captions if c[:1] in "✓✗"]   # test images run through it
    assert marks and sum(c.startswith("✓") for c in marks) > len(marks) / 2
    person = next((demo_dir / "VIPeR" / "cam_a").glob("000_*.png")).read_bytes()
    at.file_uploader(key="attr_upload").set_value([("person.png", person, "image/png")]).run()
    assert not at.exception
    assert "Attributes of person.png" in [c["layout"]["title"]["text"] for c in charts(at)]


def test_leave_one_site_out_reaches_training(demo_dir, tmp_path, recorded):
    from tests import layouts

    data = layouts.peta_sites(tmp_path / "data", demo_dir / "PETA" / "PETA dataset" / "Demo" / "archive")
    at = open_page(PAGE, str(data), timeout=600)
    assert at.radio(key="attr_split").options[-1].startswith("Leave one site out")   # PETA-like data has sites
    at.radio(key="attr_split").set_value("leave-out").run()
    assert at.selectbox(key="attr_site").options == ["SiteA", "SiteB"]
    at.selectbox(key="attr_site").select("SiteB")
    at.radio(key="attr_preset").set_value("custom").run()
    at.selectbox(key="attr_balance").select("subset")
    at.toggle(key="attr_camera_views").set_value(True)
    at.button(key="attr_train").click().run()
    assert any("recorded, not trained" in e.value for e in at.error)
    cfg, stem = recorded[-1]["cfg"], recorded[-1]["stem"]
    assert cfg.balance == "subset" and cfg.camera_views and cfg.split == "leave-out:SiteB"
    assert stem.name.endswith("leave-out_SiteB") and str(recorded[-1]["ds"].root).startswith(str(data.resolve()))

