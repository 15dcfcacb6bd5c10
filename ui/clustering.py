"""Cached calls into core.clustering for the Clustering page (keys are explicit data ids + settings)."""
from __future__ import annotations

import hashlib
import os

import streamlit as st

from core import config
from core.clustering import pipeline
from core.clustering.features import ProfileSpec, user_profiles
from core.clustering.gmm import GMMSpec
from core.clustering.recommend import ClusterRecommender
from core.datasets import movielens


def cache_dir() -> str:
    return str(config.cache_dir(os.environ.get(config.ENV_CACHE_DIR) or None))


@st.cache_resource(show_spinner="Reading your files…", max_entries=4)
def uploaded(ratings_bytes: bytes, movies_bytes: bytes, ratings_name: str, movies_name: str):
    ratings = movielens.load_ratings(ratings_bytes, name=ratings_name)
    movies = movielens.load_movies(movies_bytes, name=movies_name)
    ml = movielens.from_frames(ratings, movies)
    digest = hashlib.sha256(ratings_bytes + b"\0" + movies_bytes).hexdigest()[:16]
    return f"upload:{digest}", ml


@st.cache_resource(show_spinner="Building genre profiles…", max_entries=8)
def profiles(data_id: str, _ml, spec: ProfileSpec):
    return user_profiles(_ml.ratings, _ml.movies, spec)


@st.cache_resource(show_spinner=False, max_entries=32)
def model(folder: str, k: int):
    return pipeline.load_model(folder, k)


@st.cache_resource(show_spinner=False, max_entries=32)
def recommender(folder: str, k: int, data_id: str, _ml, _profiles, scorer: str, min_support: float):
    return ClusterRecommender(model(folder, k), _profiles, scorer, min_support).fit(_ml.ratings, _ml.movies)


@st.cache_data(show_spinner=False, max_entries=32)
def evaluation(data_id: str, _ml, k: int, spec: ProfileSpec, gmm_spec: GMMSpec):
    return pipeline.evaluate_k(_ml, k, spec, gmm_spec)
