"""AppTest: datasets in other published layouts, found by content and chosen on the pages; a model
trained on one dataset searched on another (cross-dataset)."""
import pytest

from tests import layouts as L
from tests.app.helpers import open_page


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, demo_dir):
    from core.datasets import catalog

    d = tmp_path_factory.mktemp("layouts")
    L.prid(d / "prid_2011")
    L.market(d / "Market-1501")
    L.pa100k(d / "PA-100K")
    ml = catalog.load(catalog.Source("ratings", demo_dir / "ml-latest-small", True))
    L.ratings_in_every_layout(ml, d / "ratings")
    (d / "broken" / "cam_a").mkdir(parents=True)
    (d / "broken" / "cam_b").mkdir()
    return d


@pytest.fixture()
def model_dir(tmp_path, monkeypatch):
    """Models of this module stay out of the other tests' model folder."""
    monkeypatch.setenv("STUDIO_MODEL_DIR", str(tmp_path))
    return tmp_path


def test_datasets_page_lists_every_dataset_found(data_dir):
    at = open_page("pages/1_Datasets.py", str(data_dir))
    table = at.dataframe[0].value
    assert set(table.dataset) == {"Market-1501", "PA-100K", "broken", "prid_2011", "ratings/as-100k",
                                  "ratings/as-1m", "ratings/as-generic/ratings"}
    row = table.set_index("dataset").loc["prid_2011"]
    assert row.format == "PRID 2011 (single-shot)" and row.contents.startswith("10 identities, 16 images")
    assert table.set_index("dataset").loc["broken"].status.startswith("cannot be read:")
    # the first re-ID dataset found is 'Market-1501'; choosing another one shows its counts
    assert at.selectbox(key="dataset_reid").value == "Market-1501"
    assert {m.label: m.value for m in at.metric}["query images"] == "2"
    at.selectbox(key="dataset_reid").set_value("prid_2011").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["identities"] == "10"
    at.selectbox(key="dataset_reid").set_value("broken").run()
    assert any("no images found" in e.value for e in at.error)       # reported, the page still works
    assert {m.label: m.value for m in at.metric}["users"] == "320"   # the ratings tab: ratings/as-100k


def test_reid_page_protocol_per_layout_and_cross_dataset_search(data_dir, model_dir):
    at = open_page("pages/2_Re-identification.py", str(data_dir), timeout=300)
    at.selectbox(key="dataset_reid").set_value("prid_2011").run()
    text = " ".join(m.value for m in at.markdown)
    assert "PRID 2011 (single-shot)" in text and "split *literature-0*: 3 identities to train on, 3 to test on " \
        "+ 2 distractor identities in the gallery" in text
    at.radio(key="train_method").set_value("lomo-xqda").run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Trained and saved reid-lomo-xqda-prid_2011-literature-0") for s in at.success)
    at.selectbox(key="dataset_reid").set_value("Market-1501").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "split *fixed*" in " ".join(m.value for m in at.markdown)
    assert "cross-dataset" in at.selectbox(key="reid_model").value
    assert any(i.value.startswith("Cross-dataset: this model was trained on prid_2011") for i in at.info)
    ranked = [c for el in at.get("image") for c in el.captions if c.startswith("#")]
    assert len(ranked) == 6                                          # Market's gallery: 6 images, junk left out


def test_clustering_and_attributes_pages_on_other_layouts(data_dir):
    at = open_page("pages/3_Clustering.py", str(data_dir))
    assert at.selectbox(key="dataset_ratings").value == "ratings/as-100k"
    assert any("320 users" in m.value for m in at.markdown)
    at.selectbox(key="dataset_ratings").set_value("ratings/as-1m").run()
    assert not at.exception and any("320 users" in m.value for m in at.markdown)
    at = open_page("pages/4_Attributes.py", str(data_dir))
    assert at.radio(key="attr_split").options[0] == "The dataset's own train / validation / test split"
    assert any("7 images" in m.value for m in at.markdown)
