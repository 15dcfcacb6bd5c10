"""Five browser sessions at once against one server on 127.0.0.1: each sees its own results, cached
models are shared (loaded once for all sessions), training runs once at a time and does not freeze the
other sessions. The server gets a model folder of its own."""
import os
import re

import numpy as np
import pytest
from PIL import Image

from core.reid import train as T
from tests.conftest import SMALL_ATTR, SMALL_REID, copy_model

from .server import CHROMIUM, CHROMIUM_ARGS, clustering_slider, streamlit_server

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
LONG = 240_000            # ms; five sessions and a training run share two cores
SESSIONS = 5
MAX_REQUESTS = 250        # per page visit (one visit loads about 170: scripts, styles, images); a page
                          # that keeps reloading itself would exceed it
HAS_WEIGHTS = bool(os.environ.get("STUDIO_XCEPTION_WEIGHTS"))
REID_STEM, ATTR_STEM = SMALL_REID, SMALL_ATTR


@pytest.fixture(scope="module")
def models(tmp_path_factory, request, small_reid_model):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    path = tmp_path_factory.mktemp("shared-models")
    copy_model(small_reid_model, path / REID_STEM)
    if HAS_WEIGHTS:
        copy_model(request.getfixturevalue("small_attr_model"), path / ATTR_STEM)
    return path


def loads(log_path, stem: str) -> int:
    """How often the model was loaded: its main file's load lines (an attribute model also reads its arrays)."""
    main = stem + (".keras" if stem == ATTR_STEM else ".npz")
    return sum("loaded model" in line and line.rstrip().endswith(main)
               for line in log_path.read_text(errors="replace").splitlines())


def photo(tmp_path, i: int):
    rng = np.random.default_rng(i)
    small = rng.integers(0, 255, (8, 4, 3), dtype=np.uint8)
    path = tmp_path / f"person-{i}.png"
    Image.fromarray(small).resize((48, 128), Image.NEAREST).save(path)
    return path


@pytest.fixture
def no_job_left(models):
    """Whatever happens in the test, no training job outlives it (a job's process outlives the server)."""
    yield
    from core import jobs

    for job in jobs.active(models):
        jobs.cancel(job.id, models)


def test_five_sessions_at_once(models, tmp_path, no_job_left):
    log_path = tmp_path / "server.log"
    before = {p.name: p.stat().st_mtime_ns for p in models.iterdir()}
    with streamlit_server({"STUDIO_MODEL_DIR": str(models)}, log_path=log_path) as url, \
            playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # warm-up: one session loads the models and fits the demo mixtures once
        warm = browser.new_page(viewport={"width": 1400, "height": 1000})
        warm.goto(url)
        expect(warm.get_by_role("heading", name="Person Re-ID & Clustering Studio")).to_be_visible(timeout=LONG)
        warm.goto(url + "/reid")
        expect(warm.get_by_text(re.compile(r"^#\d+ id ")).first).to_be_visible(timeout=LONG)
        clustering_slider(warm, url, LONG)
        if HAS_WEIGHTS:
            warm.goto(url + "/attributes")
            expect(warm.get_by_text("Photos of pedestrians")).to_be_visible(timeout=LONG)
        warm.close()
        loaded = {stem: loads(log_path, stem) for stem in (REID_STEM, ATTR_STEM)}
        assert loaded[REID_STEM] == 1 and loaded[ATTR_STEM] == (1 if HAS_WEIGHTS else 0)

        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(SESSIONS)]
        pages = [c.new_page() for c in contexts]
        requests = [0] * SESSIONS
        for i, p in enumerate(pages):
            p.on("request", lambda _, i=i: requests.__setitem__(i, requests[i] + 1))

        # session 0 starts a long training run; session 1 asks for another one at the same time
        trainer, second = pages[0], pages[1]
        for p in (trainer, second):
            p.goto(url + "/reid", timeout=LONG)
            expect(p.get_by_role("heading", name="Re-identification")).to_be_visible(timeout=LONG)
            p.get_by_text("Train a new model").click()
        trainer.get_by_text("Course network: small CNN", exact=False).click()
        trainer.get_by_role("button", name="Train", exact=True).click()
        expect(trainer.get_by_text(re.compile(r"epoch \d+/\d+"))).to_be_visible(timeout=LONG)   # a job, live
        second.get_by_role("button", name="Train", exact=True).click()      # one job per system and dataset:
        expect(second.get_by_text(re.compile(r"was already running .* Cancel it first"))).to_be_visible(timeout=LONG)
        expect(second.get_by_text(re.compile(r"epoch \d+/\d+"))).to_be_visible(timeout=LONG)    # the same one

        # meanwhile every other session works: searches, slider moves, attribute predictions
        others = pages[2:]
        for p in others:
            p.goto(url + "/clustering", timeout=LONG)
        targets = {}
        for i, p in enumerate(others, start=2):
            s = p.get_by_role("slider", name="Number of groups (k)")
            expect(s).to_be_visible(timeout=LONG)
            caption = p.get_by_text(re.compile(r"^Users per group \(k = \d+\)"))
            expect(caption).to_be_visible(timeout=LONG)
            start = int(re.search(r"k = (\d+)", caption.text_content()).group(1))
            targets[i] = start + i - 1                # session i moves to its own k
            s.focus()
            for _ in range(i - 1):
                p.keyboard.press("ArrowRight")
        for i, p in enumerate(others, start=2):
            expect(p.get_by_text(f"Users per group (k = {targets[i]})")).to_be_visible(timeout=LONG)
            expect(p.get_by_text(f"chosen k = {targets[i]}")).to_be_visible(timeout=LONG)
        for p in others:
            p.goto(url + "/reid", timeout=LONG)
        for i, p in enumerate(others, start=2):
            expect(p.locator("input[type=file]").first).to_be_attached(timeout=LONG)
            p.locator("input[type=file]").first.set_input_files(str(photo(tmp_path, i)))
        for p in others:
            expect(p.get_by_text(re.compile(r"^#\d+ id "))).to_have_count(10, timeout=LONG)
        if HAS_WEIGHTS:
            for p in others:
                p.goto(url + "/attributes", timeout=LONG)
            for i, p in enumerate(others, start=2):
                expect(p.locator("input[type=file]").first).to_be_attached(timeout=LONG)
                p.locator("input[type=file]").first.set_input_files(str(photo(tmp_path, i)))
            for i, p in enumerate(others, start=2):
                expect(p.get_by_text(f"Attributes of person-{i}.png")).to_be_visible(timeout=LONG)
                for j in range(2, SESSIONS):
                    if j != i:
                        expect(p.get_by_text(f"Attributes of person-{j}.png")).to_have_count(0)
        # the other sessions finished all that while the training run was still going
        assert trainer.get_by_text("Trained and saved").count() == 0
        for p in pages:
            expect(p.locator("[data-testid='stException']")).to_have_count(0)
        visits = [1, 1] + [3 if HAS_WEIGHTS else 2] * (SESSIONS - 2)
        assert all(r < MAX_REQUESTS * v for r, v in zip(requests, visits)), (requests, visits)
        assert loads(log_path, REID_STEM) == loaded[REID_STEM]          # shared, not reloaded per session
        assert loads(log_path, ATTR_STEM) == loaded[ATTR_STEM]
        trainer.get_by_role("button", name="Cancel").click()                 # the job outlives the server: stop it
        expect(trainer.get_by_text(re.compile(r"was cancelled; nothing half-written was kept"))).to_be_visible(
            timeout=LONG)
        browser.close()
    # the training job was cancelled half-way: the saved models are untouched
    after = {p.name: p.stat().st_mtime_ns for p in models.iterdir() if p.name in before}
    assert after == before
    assert T.load(models / REID_STEM).method == "lomo-xqda"
