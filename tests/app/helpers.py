"""Helpers for the AppTest tests."""
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT


def open_page(page: str | None = None, data_dir: str | None = None, timeout: float = 180) -> AppTest:
    """Run the app (navigation and sidebar included), switch to ``page``; fail on any exception."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=timeout)
    if data_dir is not None:
        at.session_state["data_dir"] = data_dir
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
