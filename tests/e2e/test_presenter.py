"""A presenter's path in a real browser: ``python -m core prepare`` on the demo data, then the home
dashboard and every page show a trained model, in words and units, with nothing trained on the spot and
no warning in the server's log."""
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import needs_weights

from .server import CHROMIUM, CHROMIUM_ARGS, PROJECT, streamlit_server
from .test_browser import LONG, snap

pytestmark = [pytest.mark.e2e,
              needs_weights]
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

# The fast presets: prepare, the dashboard and the pages take the same path whatever the preset (the
# recommended ones are trained by prepare's own tests); make screenshots prepares the recommended ones.
FAST = "" if os.environ.get("STUDIO_SCREENSHOT_DIR") else "reid=lomo-xqda,attributes=heads-128"
RAW = re.compile(r"\d\.\d{3,}|\d[eE][+-]\d|\bd=|\blogit")      # what a person must not read


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, cache_dir, demo_dir):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    models = tmp_path_factory.mktemp("presenter-models")
    env = {**os.environ, "STUDIO_MODEL_DIR": str(models), "STUDIO_PRESETS": FAST}
    env.pop("STUDIO_DATA_DIR", None)
    done = subprocess.run([sys.executable, "-m", "core", "prepare"], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    assert table.count(" ready ") == 3, table
    for words in ("Rank-1", "taste groups", "mA"):
        assert words in table
    return models


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def test_presenter_path(prepared, tmp_path, demo_dir):
    log_path = tmp_path / "server.log"
    with streamlit_server({"STUDIO_MODEL_DIR": str(prepared), "STUDIO_PRESETS": FAST}, log_path=log_path) as url, \
            playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        # the home dashboard: all three ready, each with its number and split, nothing to train
        page.goto(url)
        expect(page.locator(".stMarkdownBadge").filter(has_text="Ready")).to_have_count(3, timeout=LONG)
        expect(page.get_by_text("Not trained yet")).to_have_count(0)
        expect(page.get_by_role("button", name="Prepare all models")).to_have_count(0)
        for label in ("Rank-1", "Good picks in the top 10", "mA"):
            expect(page.get_by_test_id("stMetricLabel").filter(has_text=label)).to_be_visible()
        assert not RAW.search(main_text(page)), main_text(page)
        snap(page, "home", tmp_path, 1000)

        # re-identification: a model is there; a test person's search shows ranked results with similarity
        page.get_by_role("link", name="Open Re-identification").click()
        expect(page.get_by_text(re.compile(r"^#1 id .* · similarity \d+$"))).to_be_visible(timeout=LONG)
        expect(page.get_by_text(re.compile(r"^#\d+ id "))).to_have_count(10)
        expect(page.get_by_text("No saved model for this data yet")).to_have_count(0)
        assert not RAW.search(main_text(page)), main_text(page)

        # clustering: the mixtures are fitted; the slider moves without a Fit button
        page.goto(url + "/clustering")
        slider = page.get_by_role("slider", name="Number of groups (k)")
        expect(slider).to_be_visible(timeout=LONG)
        expect(page.get_by_role("button", name="Fit the mixtures")).to_have_count(0)
        caption = page.get_by_text(re.compile(r"^Users per group \(k = \d+\)"))
        expect(caption).to_be_visible(timeout=LONG)
        k = int(re.search(r"k = (\d+)", caption.text_content()).group(1))
        slider.focus()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_text(f"Users per group (k = {k + 1})")).to_be_visible(timeout=LONG)
        # the recommender is ready at this k too (prepare kept every k's): films to rate, no Prepare button
        expect(page.get_by_role("button", name="Prepare the recommender")).to_have_count(0)
        assert not RAW.search(main_text(page)), main_text(page)

        # attributes: the prepared model answers an upload at once (its test scores were kept)
        page.goto(url + "/attributes")
        expect(page.get_by_text("Photos of pedestrians")).to_be_visible(timeout=LONG)
        expect(page.get_by_text("No saved attribute model")).to_have_count(0)
        photo = next((demo_dir / "VIPeR" / "cam_b").glob("002_*.png"))
        page.locator("input[type=file]").first.set_input_files(str(photo))
        expect(page.get_by_text("Predicted:")).to_be_visible(timeout=LONG)
        assert not RAW.search(main_text(page)), main_text(page)

        page.goto(url + "/datasets")
        expect(page.get_by_role("heading", name="Datasets")).to_be_visible(timeout=LONG)
        assert not RAW.search(main_text(page)), main_text(page)
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        browser.close()
    log = log_path.read_text(errors="replace")
    assert not [line for line in log.splitlines() if re.search(r"warn|error|overflow|traceback", line, re.I)], log
