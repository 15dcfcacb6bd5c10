"""A real browser (Playwright + Debian's chromium) walking through the studio."""
import os
import re

import pytest

from tests.conftest import SMALL_ATTR, SMALL_REID, copy_model, needs_weights

from .server import CHROMIUM, CHROMIUM_ARGS, clustering_slider, streamlit_server

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
LONG = 120_000  # ms: first loads build caches on a 2-core machine
SHOTS = os.environ.get("STUDIO_SCREENSHOT_DIR")   # make screenshots: docs/screenshots


def snap(page, name: str, tmp_path, height: int = 1600) -> None:
    """Screenshot of what the person sees at the end of a journey: into $STUDIO_SCREENSHOT_DIR when set
    (the README's pictures, made small with a 256-colour palette), else the test's temporary folder."""
    from pathlib import Path

    from PIL import Image

    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})   # the app scrolls inside its own
    expect(page.get_by_text("Running...")).to_have_count(0, timeout=LONG)   # frame: show more of it at once
    out = Path(SHOTS or tmp_path) / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    page.set_viewport_size(size)
    im = Image.open(out).convert("RGB")
    im.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    assert Image.open(out).width >= 1280


@pytest.fixture(scope="module")
def server(cache_dir, tmp_path_factory, request, small_reid_model):
    """A live server whose model folder holds the small shared models (training through the Train button is
    the AppTests' job: tests/app)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    models = tmp_path_factory.mktemp("browser-models")
    copy_model(small_reid_model, models / SMALL_REID)
    if os.environ.get("STUDIO_XCEPTION_WEIGHTS"):
        copy_model(request.getfixturevalue("small_attr_model"), models / SMALL_ATTR)
    with streamlit_server({"STUDIO_MODEL_DIR": str(models)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with playwright.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    yield p
    context.close()


def test_every_link_works_for_the_first_visitor_of_a_fresh_server(browser, server):
    """The first test on this module's new server: a link to a page, opened before anybody visited the
    home page, shows that page and no "Page not found" dialog over it, and its widgets answer (the
    clustering slider moves). Then every other page's link, each in a new browser."""
    links = [("clustering", "Clustering & recommendations"), ("reid", "Re-identification"),
             ("attributes", "Attributes"), ("datasets", "Datasets")]
    for path, title in links:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        p = context.new_page()
        if path == "clustering":
            slider = clustering_slider(p, server, LONG)        # opens the link (the server's first visit)
        else:
            p.goto(f"{server}/{path}")
        expect(p.get_by_role("heading", name=title).first).to_be_visible(timeout=LONG)
        expect(p.get_by_text("Page not found")).to_have_count(0)
        if path == "clustering":
            before = slider.input_value()
            assert before
            slider.focus()
            p.keyboard.press("ArrowRight")
            expect(slider).to_have_value(str(int(before) + 1), timeout=LONG)
            expect(p.get_by_text(f"Users per group (k = {int(before) + 1})")).to_be_visible(timeout=LONG)
        context.close()


def test_visit_every_page(page, server, tmp_path):
    page.goto(server)
    expect(page.get_by_role("heading", name="Person Re-ID & Clustering Studio")).to_be_visible(timeout=LONG)
    page.get_by_role("link", name="Datasets").first.click()
    expect(page.get_by_role("heading", name="Re-identification images")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Camera A (query side)")).to_be_visible(timeout=LONG)
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text("300")
    snap(page, "datasets", tmp_path)
    page.get_by_role("tab", name="Ratings").click()
    expect(page.get_by_role("heading", name="Movie ratings")).to_be_visible(timeout=LONG)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=LONG)
    page.get_by_role("tab", name="Attributes").click()
    expect(page.get_by_role("heading", name="Pedestrian attributes")).to_be_visible(timeout=LONG)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_clustering_slider_changes_the_charts(page, server, tmp_path):
    slider = clustering_slider(page, server, LONG)
    expect(page.get_by_role("heading", name="Clustering & recommendations")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Users per group (k = 4)")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("User 42 belongs to group")).to_be_visible(timeout=LONG)
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("Users per group (k = 6)")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("chosen k = 6")).to_be_visible(timeout=LONG)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    # a visitor rates two films and is placed in a named group, with recommendations and reasons
    prepare = page.get_by_role("button", name="Prepare the recommender").first
    start = page.get_by_text("Start here:")
    expect(prepare.or_(start).first).to_be_visible(timeout=LONG)
    if prepare.is_visible():
        prepare.click()
    expect(start).to_be_visible(timeout=LONG)
    page.get_by_role("button", name="5 ★", exact=True).first.click()
    expect(page.get_by_text("After 1 rating you are closest to group")).to_be_visible(timeout=LONG)
    page.get_by_role("button", name="4 ★", exact=True).first.click()
    expect(page.get_by_text("After 2 ratings you are closest to group")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Films for you")).to_be_visible(timeout=LONG)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    snap(page, "clustering", tmp_path, 2200)


def test_reid_upload_shows_ten_ranked_results(page, server, tmp_path, demo_dir):
    import re

    from PIL import Image

    page.goto(server + "/reid")
    expect(page.get_by_role("heading", name="Re-identification")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Model", exact=True)).to_be_visible(timeout=LONG)
    expect(page.get_by_text("No saved model for this data yet")).to_have_count(0)
    expect(page.get_by_text("True match at rank")).to_be_visible(timeout=LONG)    # a camera-A query first
    # a photo of a test person from camera A, as a user would have it: a larger JPEG
    source = sorted((demo_dir / "VIPeR" / "cam_a").glob("25*_*.png"))[0]
    photo = tmp_path / "walking-person.jpg"
    im = Image.open(source).convert("RGB")
    im.resize((im.width * 3, im.height * 3)).save(photo, quality=92)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    # an upload has no known identity: the true-match line goes, no result is marked right or wrong
    expect(page.get_by_text("True match at rank")).to_have_count(0, timeout=LONG)
    expect(page.get_by_text(re.compile("[✓✗]"))).to_have_count(0)
    ranked = page.get_by_text(re.compile(r"^#\d+ id "))
    expect(ranked).to_have_count(10, timeout=LONG)
    expect(page.get_by_text(re.compile(r"^#1 id "))).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    snap(page, "reid", tmp_path, 1250)


def test_reid_map_shows_a_photo_on_hover(page, server, tmp_path):
    """After the upload journey (its model is saved): the embedding map rings the chosen person and shows
    a point's photo when the pointer rests on it."""
    page.set_viewport_size({"width": 1400, "height": 1250})     # the screenshot's size: the tooltip stays up
    page.goto(server + "/reid")
    expect(page.get_by_text("True match at rank")).to_be_visible(timeout=LONG)
    page.get_by_role("tab", name="Embedding map").click()
    page.get_by_text("Compute the map").click()
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    expect(chart).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Red rings: identity")).to_be_visible(timeout=LONG)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tip = page.locator("#vg-tooltip-element img")
    # sweep the pointer over the plot until it rests on a point: no fixed coordinates to break
    for fy in (i / 24 for i in range(4, 22)):
        for fx in (i / 30 for i in range(2, 29)):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            if tip.count() and tip.first.is_visible():
                break
        else:
            continue
        break
    expect(tip.first).to_be_visible()
    assert tip.first.get_attribute("src").startswith("data:image/png;base64,")
    snap(page, "reid-map", tmp_path, 1250)


@needs_weights
def test_attributes_upload_shows_probability_bars(page, server, demo_dir, tmp_path):
    page.goto(server + "/attributes")
    expect(page.get_by_role("heading", name="Attributes")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Model", exact=True)).to_be_visible(timeout=LONG)
    expect(page.get_by_text("No saved attribute model")).to_have_count(0)
    photo = next((demo_dir / "VIPeR" / "cam_b").glob("001_*.png"))
    page.locator("input[type=file]").first.set_input_files(str(photo))
    expect(page.get_by_text(f"Attributes of {photo.name}")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Predicted:")).to_be_visible(timeout=LONG)
    expect(page.locator(".js-plotly-plot .bars").first).to_be_visible(timeout=LONG)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    snap(page, "attributes", tmp_path, 1100)
    page.get_by_role("tab", name="Metrics").click()           # how far the stated percentages can be trusted
    expect(page.get_by_text("Reliability on the test images", exact=False)).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Calibration error (ECE)", exact=False)).to_be_visible(timeout=LONG)
    snap(page, "attributes-reliability", tmp_path, 1400)


def test_a_training_goes_on_in_the_background_for_every_visitor(browser, server):
    """Last in this file (its model becomes the newest): Train, then another page and back; the job went on
    meanwhile, a second browser sees it running on the home page, and the model is saved and listed."""
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    page.goto(server + "/reid")
    page.get_by_text("Train a new model").click()
    page.get_by_text("Course network", exact=False).first.click()
    epochs = page.get_by_role("slider", name="Epochs")
    epochs.focus()
    page.keyboard.press("Home")                      # 1 epoch, then 3: a short job
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(epochs).to_have_value("3")
    page.get_by_role("button", name="Train", exact=True).click()
    panel = page.get_by_text("Re-ID training: course on demo pedestrians")
    expect(panel).to_be_visible(timeout=LONG)
    expect(page.get_by_role("button", name="Cancel")).to_be_visible(timeout=LONG)
    page.get_by_role("link", name="Clustering & recommendations").click()          # away from the page...
    expect(page.get_by_role("heading", name="Clustering & recommendations")).to_be_visible(timeout=LONG)
    second = browser.new_context(viewport={"width": 1400, "height": 1000})      # ...another visitor sees it:
    other = second.new_page()                                                   # running, or just finished
    other.goto(server + "/reid")
    expect(other.get_by_text("Re-ID training: course on demo pedestrians").or_(
        other.get_by_text(re.compile(r"^Trained and saved reid-course-demo_pedestrians-course: Rank-1")))
    ).to_be_visible(timeout=LONG)
    second.close()
    page.get_by_role("link", name="Re-identification").click()                  # ...and back: it went on
    expect(page.get_by_text(re.compile(r"^Trained and saved reid-course-demo_pedestrians-course: Rank-1")).or_(
        page.get_by_role("button", name="Cancel"))).to_be_visible(timeout=LONG)
    expect(page.get_by_text(re.compile(r"^Trained and saved reid-course-demo_pedestrians-course: Rank-1"))
           ).to_be_visible(timeout=10 * LONG)
    page.get_by_role("combobox", name="Model").click()                         # listed among the models
    expect(page.get_by_role("option", name=re.compile(r"^course · trained on demo pedestrians course"))
           ).to_be_visible(timeout=LONG)
    first.close()
