"""``python -m ui.serve [streamlit flags]``: ``streamlit run app.py`` with every page's link working from
the first visit after a start (``make run`` uses it).

Streamlit treats an app with a ``pages/`` folder beside its main script as an old-style multipage app until
``st.navigation`` has run once in the server's life: the first visitor of a link such as ``/clustering``
got a "Page not found" dialog over an inert page, and only later visitors the page. The studio's pages are
all declared in ``app.py`` with ``st.navigation``, so the folder is never to be read on its own; saying so
before the server starts gives ``st.navigation`` every URL from the first request. (Plain
``streamlit run app.py`` still works, with that first-visit dialog.)
"""
from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> int:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False      # st.navigation in app.py owns routing, not pages/ discovery
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
