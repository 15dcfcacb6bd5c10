"""Plotly figure builders: pure functions from results to figures (no streamlit, no I/O)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=340, template="plotly_white")


def rating_histogram(ratings: pd.DataFrame) -> go.Figure:
    counts = ratings["rating"].value_counts().sort_index()
    fig = go.Figure(go.Bar(x=counts.index.astype(str), y=counts.values, marker_color="#4C78A8",
                           hovertemplate="%{x} stars: %{y:,} ratings<extra></extra>"))
    fig.update_layout(title="How often each star rating is given", xaxis_title="rating",
                      yaxis_title="number of ratings", **LAYOUT)
    return fig


def ratings_per_user(ratings: pd.DataFrame) -> go.Figure:
    per_user = ratings.groupby("userId").size()
    fig = go.Figure(go.Histogram(x=per_user.values, nbinsx=40, marker_color="#72B7B2",
                                 hovertemplate="%{x} ratings: %{y} users<extra></extra>"))
    fig.update_layout(title="Ratings per user", xaxis_title="ratings by one user", yaxis_title="users",
                      **LAYOUT)
    fig.update_xaxes(type="linear")
    return fig


def genre_counts(movies: pd.DataFrame) -> go.Figure:
    counts = pd.Series([g for gl in movies["genre_list"] for g in gl]).value_counts().sort_values()
    fig = go.Figure(go.Bar(x=counts.values, y=counts.index, orientation="h", marker_color="#F58518"))
    fig.update_layout(title="Movies per genre", xaxis_title="movies", **{**LAYOUT, "height": 480})
    return fig


def attribute_frequency(positives: pd.Series, total: int, top: int = 35) -> go.Figure:
    share = (positives.head(top) / max(total, 1)).iloc[::-1]
    fig = go.Figure(go.Bar(x=share.values, y=share.index, orientation="h", marker_color="#54A24B",
                           customdata=np.asarray(positives.head(top).iloc[::-1].values),
                           hovertemplate="%{y}: %{x:.1%} (%{customdata} images)<extra></extra>"))
    fig.update_layout(title="Share of images with each attribute", xaxis_tickformat=".0%",
                      **{**LAYOUT, "height": max(340, 16 * len(share) + 80)})
    return fig
