"""Take full-page screenshots of given app pages: ``python -m tests.e2e.shots OUT_DIR [URL_PATH ...]``."""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from .server import CHROMIUM, CHROMIUM_ARGS, streamlit_server


def main(out: str, paths: list[str]) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for p in paths or [""]:
            page.goto(f"{url}/{p}")
            page.get_by_text("Running...").wait_for(state="detached", timeout=120_000)
            page.wait_for_timeout(1500)  # only for the screenshot's sake, never in tests
            page.screenshot(path=f"{out}/{p or 'home'}.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
