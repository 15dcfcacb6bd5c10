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
    fig.update_layout(title="Movies per genre", xaxis_title="movies", yaxis_title="genre", **{**LAYOUT, "height": 480})
    return fig


def attribute_frequency(positives: pd.Series, total: int, top: int = 35) -> go.Figure:
    share = (positives.head(top) / max(total, 1)).iloc[::-1]
    fig = go.Figure(go.Bar(x=share.values, y=share.index, orientation="h", marker_color="#54A24B",
                           customdata=np.asarray(positives.head(top).iloc[::-1].values),
                           hovertemplate="%{y}: %{x:.1%} (%{customdata} images)<extra></extra>"))
    fig.update_layout(title="Share of images with each attribute", xaxis_tickformat=".0%", xaxis_title="share of images",
                      **{**LAYOUT, "height": max(340, 16 * len(share) + 80)})
    return fig


# ----------------------------------------------------------------------------- clustering
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D",
           "#BAB0AC"]


def bic_curve(sweep, chosen_k: int | None = None, show_aic: bool = False) -> go.Figure:
    """Mean BIC over seeds with a min-max band, the BIC-best k and the chosen k marked."""
    ks = list(sweep.ks)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ks + ks[::-1], y=list(sweep.bic.max(0)) + list(sweep.bic.min(0))[::-1],
                             fill="toself", fillcolor="rgba(76,120,168,0.18)", line=dict(width=0),
                             hoverinfo="skip", name=f"BIC range over {len(sweep.seeds)} seeds"))
    fig.add_trace(go.Scatter(x=ks, y=sweep.bic.mean(0), mode="lines+markers", name="BIC (mean)",
                             line=dict(color="#4C78A8"), hovertemplate="k = %{x}<br>BIC %{y:,.0f}<extra></extra>"))
    if show_aic:
        fig.add_trace(go.Scatter(x=ks, y=sweep.aic.mean(0), mode="lines+markers", name="AIC (mean)",
                                 line=dict(color="#F58518", dash="dot")))
    best = sweep.best_k
    fig.add_trace(go.Scatter(x=[best], y=[sweep.bic.mean(0)[ks.index(best)]], mode="markers", name=f"BIC-best k = {best}",
                             marker=dict(size=16, color="#E45756", symbol="star")))
    if chosen_k is not None:
        fig.add_vline(x=chosen_k, line_dash="dash", line_color="#555", annotation_text=f"chosen k = {chosen_k}")
    fig.update_layout(title="Model choice: BIC by number of groups (lower is better)", xaxis_title="k (groups)",
                      yaxis_title="BIC", legend=dict(orientation="h", y=-0.25), **{**LAYOUT, "height": 400})
    return fig


def group_label(c: int, names: list[str] | None = None) -> str:
    """``"3 · Animation · Children · Fantasy"`` with names, else ``"group 3"``."""
    return f"{c} · {names[c]}" if names is not None and c < len(names) else f"group {c}"


def cluster_sizes(sizes: pd.Series, names: list[str] | None = None) -> go.Figure:
    """Horizontal bars (group names are long): users per group."""
    fig = go.Figure(go.Bar(y=[group_label(c, names) for c in sizes.index], x=sizes.values, orientation="h",
                           marker_color=[PALETTE[c % len(PALETTE)] for c in sizes.index],
                           hovertemplate="%{y}: %{x} users<extra></extra>"))
    fig.update_layout(title=f"Users per group (k = {len(sizes)})", xaxis_title="users", yaxis_title="group",
                      **{**LAYOUT, "height": max(300, 34 * len(sizes) + 140)})
    fig.update_yaxes(autorange="reversed")
    return fig


def genre_bars(means: pd.DataFrame, clusters: list[int], value_label: str, names: list[str] | None = None) -> go.Figure:
    """Grouped bars: one bar group per genre, one bar per cluster (``means`` is clusters x genres)."""
    fig = go.Figure()
    for c in clusters:
        fig.add_trace(go.Bar(name=group_label(c, names), x=list(means.columns), y=means.loc[c].values,
                             marker_color=PALETTE[c % len(PALETTE)]))
    fig.update_layout(barmode="group", title=f"Genre taste of the largest groups ({value_label})",
                      xaxis_title="genre", yaxis_title=value_label, **{**LAYOUT, "height": 420})
    return fig


def genre_heatmap(means: pd.DataFrame, value_label: str, names: list[str] | None = None) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=means.values, x=list(means.columns), y=[group_label(c, names) for c in means.index],
                               colorscale="RdBu_r" if (means.values < 0).any() else "Blues",
                               colorbar=dict(title=value_label)))
    fig.update_layout(title="All groups x genres", xaxis_title="genre", yaxis_title="group",
                      **{**LAYOUT, "height": max(340, 28 * len(means) + 120)})
    return fig


def membership(probabilities: np.ndarray, names: list[str] | None = None) -> go.Figure:
    """Horizontal bars: the probability of each group."""
    ks = list(range(len(probabilities)))
    fig = go.Figure(go.Bar(y=[group_label(c, names) for c in ks], x=probabilities, orientation="h",
                           marker_color=[PALETTE[c % len(PALETTE)] for c in ks],
                           hovertemplate="%{y}: %{x:.0%}<extra></extra>"))
    fig.update_layout(title="Membership probability", xaxis_tickformat=".0%", xaxis_range=[0, 1],
                      xaxis_title="probability", yaxis_title="group", **{**LAYOUT, "height": max(300, 34 * len(ks) + 140)})
    fig.update_yaxes(autorange="reversed")
    return fig


def profile_vs_cluster(user: pd.Series, cluster: pd.Series, population: pd.Series, value_label: str,
                       who: str = "this user", group: str = "their group") -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Bar(name=who, x=list(user.index), y=user.values, marker_color="#E45756"))
    fig.add_trace(go.Bar(name=group, x=list(cluster.index), y=cluster.values, marker_color="#4C78A8"))
    fig.add_trace(go.Scatter(name="all users", x=list(population.index), y=population.values, mode="markers",
                             marker=dict(symbol="line-ew-open", size=18, color="#333")))
    fig.update_layout(barmode="group", title=f"Genre profile: {who} against {group}", xaxis_title="genre",
                      yaxis_title=value_label,
                      **{**LAYOUT, "height": 360})
    return fig


def metric_bars(table: pd.DataFrame, metric: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=table[metric].values, y=table["method"].values, orientation="h",
                           marker_color=["#4C78A8" if m.startswith("GMM") else "#BAB0AC" for m in table["method"]],
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(title=f"{metric} on held-out ratings (higher is better)", xaxis_title=metric,
                      xaxis_tickformat=".0%", yaxis_title="recommender", **{**LAYOUT, "height": 300})
    fig.update_yaxes(autorange="reversed")
    return fig


def coldstart_curve(table: pd.DataFrame, metric: str = "P@10") -> go.Figure:
    """``metric`` against the number of ratings a new user has given, one line per method."""
    fig = go.Figure()
    for i, (method, g) in enumerate(table.groupby("method", sort=False)):
        fig.add_trace(go.Scatter(x=g["n"], y=g[metric], mode="lines+markers", name=method,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=3 if method == "hybrid" else 2),
                                 hovertemplate=f"{method}<br>%{{x}} ratings known: %{{y:.1%}}<extra></extra>"))
    fig.update_layout(title=f"New users: {metric} by how many ratings they have given", xaxis_title="ratings known",
                      yaxis_title=f"{metric} (share of the 10 films they later liked)", yaxis_tickformat=".0%",
                      legend=dict(orientation="h", y=-0.3), **{**LAYOUT, "height": 420})
    fig.update_xaxes(type="log", tickvals=sorted(table["n"].unique()))
    return fig


# ----------------------------------------------------------------------------- re-identification
def cmc_curves(curves: dict[str, np.ndarray], title: str = "CMC: share of queries matched within the top k") -> go.Figure:
    fig = go.Figure()
    for i, (name, cmc) in enumerate(curves.items()):
        ranks = np.arange(1, len(cmc) + 1)
        fig.add_trace(go.Scatter(x=ranks, y=cmc, mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate=f"{name}<br>rank %{{x}}: %{{y:.1%}}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="rank k", yaxis_title="matched within top k", yaxis_tickformat=".0%",
                      yaxis_range=[0, 1.02], legend=dict(orientation="h", y=-0.25), **{**LAYOUT, "height": 420})
    return fig


def loss_curve(history: list[dict]) -> go.Figure:
    fig = go.Figure()
    if history:
        epochs = [h["epoch"] for h in history]
        for key in [k for k in history[-1] if k.endswith("loss")]:
            fig.add_trace(go.Scatter(x=epochs, y=[h.get(key) for h in history], mode="lines+markers", name=key))
    fig.update_layout(title="Training loss", xaxis_title="epoch", yaxis_title="loss", **{**LAYOUT, "height": 300})
    return fig


def embedding_map(points: pd.DataFrame, highlight: str | None = None):
    """t-SNE map of test images (Altair): one colour per identity (cycled), circles for camera-A queries,
    squares for camera-B gallery photos; hovering a point shows its photo (column ``image``: a data URL,
    ``images.data_url``); the photos of identity ``highlight`` are ringed in red and labelled."""
    import altair as alt

    ids = {p: i for i, p in enumerate(sorted(points["pid"].unique()))}
    df = pd.DataFrame({"x": points["x"], "y": points["y"], "identity": points["pid"].astype(str),
                       "photo": points["role"], "colour": [ids[p] % len(PALETTE) for p in points["pid"]],
                       "image": points["image"] if "image" in points else ""})
    axis = dict(axis=None, scale=alt.Scale(zero=False, nice=False))
    tooltip = ["identity", "photo"] + (["image"] if "image" in points else [])
    dots = alt.Chart(df).mark_point(filled=True, size=70, opacity=0.85, stroke="#333", strokeWidth=0.5).encode(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis),
        color=alt.Color("colour:N", scale=alt.Scale(range=PALETTE), legend=None),
        shape=alt.Shape("photo:N", scale=alt.Scale(domain=["query (camera A)", "gallery (camera B)"],
                                                   range=["circle", "square"]),
                        legend=alt.Legend(title=None, orient="bottom")),
        tooltip=tooltip)
    layers = [dots]
    if highlight is not None and (df.identity == str(highlight)).any():
        chosen = df[df.identity == str(highlight)]
        layers.append(alt.Chart(chosen).mark_point(size=500, stroke="#d62728", strokeWidth=3, filled=False,
                                                   shape="circle").encode(x="x:Q", y="y:Q", tooltip=tooltip))
        label = chosen.iloc[:1].assign(label=f"identity {highlight}")
        layers.append(alt.Chart(label).mark_text(dy=-24, color="#d62728", fontWeight="bold").encode(
            x="x:Q", y="y:Q", text="label:N"))
    return alt.layer(*layers).properties(
        height=520, title="Embedding map: t-SNE of the test photos (close together = the model finds them alike)")


# ----------------------------------------------------------------------------- attributes
def probability_bars(probs: pd.Series, thresholds: dict, names: dict | None = None, title: str = "",
                     said: set | None = None, untrusted: dict | None = None) -> go.Figure:
    """Horizontal bars of each attribute's probability, green where it is predicted: ``said`` (the
    attributes the description asserts, ``describe.said_attributes``, so the chart and the words agree),
    else where it passes its threshold. ``untrusted``: attribute -> words for those not to be trusted on
    new cameras (``reliability``), drawn pale and hatched, not as findings."""
    probs = probs.sort_values()
    names, untrusted = names or {}, untrusted or {}
    passed = [a in said if said is not None else p >= thresholds.get(a, 0.5) for a, p in probs.items()]
    colours = [("#C7DFC1" if a in untrusted else "#54A24B") if ok else "#BAB0AC" for a, ok in zip(probs.index, passed)]
    fig = go.Figure(go.Bar(
        x=probs.values, y=[names.get(a, a) for a in probs.index], orientation="h", marker_color=colours,
        marker_pattern_shape=["/" if a in untrusted else "" for a in probs.index],
        customdata=[[thresholds.get(a, 0.5), untrusted.get(a, "")] for a in probs.index],
        hovertemplate="%{y}: %{x:.1%} (threshold %{customdata[0]:.0%}) %{customdata[1]}<extra></extra>"))
    fig.update_layout(title=title or "Probability per attribute (green: predicted)", xaxis_tickformat=".0%",
                      xaxis_range=[0, 1], xaxis_title="probability", **{**LAYOUT, "height": max(300, 18 * len(probs) + 80)})
    return fig


def attribute_scores(per: pd.DataFrame, metric: str = "mA") -> go.Figure:
    d = per.sort_values(metric)
    fig = go.Figure(go.Bar(x=d[metric], y=d["attribute"], orientation="h", marker_color="#4C78A8",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.add_vline(x=0.5, line_dash="dot", annotation_text="chance")
    fig.update_layout(title=f"Per-attribute {metric} on the test images (hard ones at the top)", xaxis_tickformat=".0%",
                      xaxis_range=[0, 1], xaxis_title=metric, **{**LAYOUT, "height": max(340, 18 * len(d) + 100)})
    fig.update_yaxes(autorange="reversed")
    return fig


def reliability_diagram(bins: pd.DataFrame, ece: float) -> go.Figure:
    """Bars of the share of true labels per probability bin (``core.attributes.calibration.reliability``)
    against the diagonal a calibrated model follows; the bar's width is the bin, its hover the count."""
    used = bins[bins["pairs"] > 0]
    mid = (used["low"] + used["high"]) / 2
    fig = go.Figure()
    fig.add_trace(go.Bar(x=mid, y=used["share true"], width=used["high"] - used["low"], name="share true",
                         marker_color="#4C78A8", marker_line_color="white", marker_line_width=1,
                         customdata=np.stack([used["mean probability"], used["pairs"]], axis=1),
                         hovertemplate="stated %{customdata[0]:.0%} on average: true for %{y:.0%} "
                                       "(%{customdata[1]:,} image-attribute pairs)<extra></extra>"))
    fig.add_trace(go.Scatter(x=used["mean probability"], y=used["share true"], mode="markers", name="bin average",
                             marker=dict(color="#E45756", size=8), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line=dict(color="#888", dash="dot"), hoverinfo="skip"))
    fig.update_layout(title=f"Reliability on the test images: stated probability against how often it was true "
                            f"(calibration error {ece:.1%})",
                      xaxis_title="stated probability", yaxis_title="share of them true", xaxis_tickformat=".0%",
                      yaxis_tickformat=".0%", xaxis_range=[0, 1], yaxis_range=[0, 1], showlegend=True,
                      legend=dict(orientation="h", y=-0.2), **{**LAYOUT, "height": 420})
    return fig
