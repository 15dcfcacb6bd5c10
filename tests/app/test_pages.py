"""AppTest of every page: what a person sees, on the demo data, the real data and bad settings."""
from tests.app.helpers import open_page

TIMEOUT = 120


def app(page: str | None = None, data_dir: str | None = None):
    return open_page(page, data_dir, TIMEOUT)


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_home_explains_the_three_systems():
    at = app()
    assert at.title[0].value == "Person Re-ID & Clustering Studio"
    text = " ".join(m.value for m in at.markdown)
    for words in ["Find the same person again", "Gaussian mixture", "Describe a pedestrian"]:
        assert words in text
    assert at.sidebar.text_input[0].label == "Data folder"


def test_datasets_page_on_demo_data():
    at = app("pages/1_Datasets.py")
    m = metrics(at)
    assert m["identities"] == "300" and m["camera B images"] == "300"
    assert m["users"] == "320" and m["movies in catalogue"] == "500"
    assert m["persons"] == "300"
    assert len(at.get("image")) == 3            # two camera grids and the attribute grid
    assert len(at.get("plotly_chart")) == 4
    assert not at.error
    # choosing another attribute changes the grid caption
    at.selectbox(key="attr_pick").select("carryingBackpack").run()
    captions = [c for i in at.get("image") for c in i.captions]
    assert any(c.startswith("carryingBackpack:") for c in captions)


def test_datasets_page_on_real_data(real_data):
    at = app("pages/1_Datasets.py", str(real_data))
    m = metrics(at)
    assert m["identities"] == "632" and m["ratings"] == "100,836" and m["images"] == "14,437"
    assert any("TownCentre" in w.value for w in at.warning)


def test_missing_data_folder_falls_back_with_a_message(tmp_path):
    at = app("pages/1_Datasets.py", str(tmp_path / "does-not-exist"))
    assert any("data folder not found" in w.value and "demo data instead" in w.value for w in at.warning)
    assert metrics(at)["identities"] == "300"


def test_malformed_dataset_shows_error_and_other_tabs_still_work(tmp_path):
    (tmp_path / "VIPeR" / "cam_a").mkdir(parents=True)
    (tmp_path / "VIPeR" / "cam_b").mkdir()
    (tmp_path / "ml-latest-small").mkdir()
    (tmp_path / "ml-latest-small" / "ratings.csv").write_text("user,item\n1,2\n")
    (tmp_path / "ml-latest-small" / "movies.csv").write_text("movieId,title,genres\n1,a,Drama\n")
    at = app("pages/1_Datasets.py", str(tmp_path))
    errors = " ".join(e.value for e in at.error)
    assert "no images found" in errors and "missing column(s) userId" in errors
    assert metrics(at)["persons"] == "300"       # attributes: demo fallback still shown
    assert any("has no pedestrian attributes dataset" in w.value for w in at.warning)


def test_capability_pages_offer_demo_or_data_folder(real_data):
    at = app("pages/3_Clustering.py", str(real_data))
    assert any(m.value.startswith("**Data:** ") and "ml-latest-small · 610 users" in m.value for m in at.markdown)
    assert at.selectbox(key="dataset_ratings").options == ["ml-latest-small (MovieLens CSV (latest-small, 20M, 25M, "
                                                           "32M))", "built-in demo data"]
    at.selectbox(key="dataset_ratings").set_value("demo").run()
    assert any(m.value.startswith("**Data:** demo") and "320 users" in m.value for m in at.markdown)
    at.switch_page("pages/2_Re-identification.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="dataset_reid").value == "VIPeR"
    assert any("632 identities" in m.value for m in at.markdown)
