"""Streamlit helpers shared by the pages: settings in the sidebar, cached calls into ``core``.

Only this package and the pages import streamlit; ``core`` never does.
"""
