"""Person Re-ID & Clustering Studio: the UI-free library.

Everything the Streamlit pages do goes through this package, so a notebook or the command line can do
the same. Nothing here imports streamlit.
"""
__version__ = "0.1.0"
