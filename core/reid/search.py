"""What the page shows, computed here: gallery search, triplet examples, the embedding map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import threads
from ..datasets.base import ReidDataset
from ..datasets.splits import Split
from .train import ReidModel, SplitEmbeddings


@dataclass
class Hit:
    rank: int
    path: str
    pid: str
    distance: float
    is_match: bool | None
    similarity: float = 0.0     # 0-100, see ``similarity``


SIMILARITY_MEANS = ("Similarity runs from 0 to 100 for each query: 100 is its closest photo in the gallery, "
                    "0 a typical one (the median distance) or farther. A first match far above the others is a "
                    "confident one; several close together mean the model cannot tell them apart.")


def similarity(row: np.ndarray, d=None) -> np.ndarray:
    """0-100 for distances ``d`` (default: the whole ``row``) of one query, relative to its distances to
    the whole gallery ``row``: 100 at the closest gallery photo, 0 at the median one and beyond. A scale
    a person can read where raw distances (XQDA's run to 1e5, cosine's to 2) mean nothing."""
    row = np.asarray(row, float)
    d = row if d is None else np.asarray(d, float)
    best, typical = float(row.min()), float(np.median(row))
    if typical - best <= 0:
        return np.where(d <= best, 100.0, 0.0)
    return np.clip(100.0 * (typical - d) / (typical - best), 0.0, 100.0)


def search(model: ReidModel, query_image: np.ndarray | None, emb: SplitEmbeddings, top: int = 10,
           true_pid: str | None = None, source=None, query_row: int | None = None) -> list[Hit]:
    """Rank the gallery for one query image; ``is_match`` is known only when ``true_pid`` is given.
    With adapted embeddings (``emb.adaptation``) the query is moved from ``source`` (the statistics of the
    camera it comes from, one per part) or else from the gallery's pooled statistics onto the training
    cameras' first. ``query_row``: one of ``emb``'s own queries (already embedded, adapted with its camera)
    instead of an image."""
    if query_row is not None:
        q = emb.query[query_row:query_row + 1]
    elif emb.adaptation is not None:
        q = model.embed([query_image], source=source or emb.gallery_stats)
    else:
        q = model.embed([query_image])
    d = model.distance(q, emb.gallery)[0]
    order = np.argsort(d, kind="stable")[:top]
    sim = similarity(d)
    return [Hit(i + 1, emb.g_frame.path[j], emb.g_frame.pid[j], float(d[j]),
                None if true_pid is None else emb.g_frame.pid[j] == true_pid, float(sim[j]))
            for i, j in enumerate(order)]


def query_camera_words(source, done=None) -> str:
    """How an upload was adapted, in words: from the camera the user named, or from the gallery's photos
    pooled (no camera named, or too few of its photos)."""
    if source is not None:
        return done.words() if done is not None else "adapted to the camera you named"
    why = f" ({done.words()})" if done is not None and done.fallback else ""
    return "adapted with the gallery's photos pooled, as no camera of its own was named" + why


def triplets(model: ReidModel, emb: SplitEmbeddings, mode: str = "random", n: int = 4, seed: int = 0) -> pd.DataFrame:
    """Anchor (camera A) / positive (same person, camera B) / negative (another person, camera B).

    ``random``: a random negative; ``hardest``: the closest negative, anchors with the smallest margin
    first; ``wrong``: only anchors whose closest negative is closer than their positive.
    """
    d = model.distance(emb.query, emb.gallery)
    qp, gp = emb.q_frame.pid.to_numpy(), emb.g_frame.pid.to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(len(qp)):
        pos = np.nonzero(gp == qp[a])[0]
        negs = np.nonzero(gp != qp[a])[0]
        if not len(pos) or not len(negs):
            continue
        p = pos[d[a, pos].argmin()]
        nn = negs[d[a, negs].argmin()] if mode != "random" else rng.choice(negs)
        sim = similarity(d[a], d[a, [p, nn]])
        rows.append({"anchor": emb.q_frame.path[a], "positive": emb.g_frame.path[p], "negative": emb.g_frame.path[nn],
                     "anchor_pid": qp[a], "negative_pid": gp[nn], "d_ap": float(d[a, p]), "d_an": float(d[a, nn]),
                     "s_ap": float(sim[0]), "s_an": float(sim[1])})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["margin"] = df.d_an - df.d_ap
    if mode == "random":
        return df.sample(min(n, len(df)), random_state=seed).reset_index(drop=True)
    if mode == "wrong":
        df = df[df.margin < 0]
    return df.sort_values("margin", kind="stable").head(n).reset_index(drop=True)


def embedding_map(emb: SplitEmbeddings, seed: int = 0, max_points: int = 700, thumbnails: bool = True) -> pd.DataFrame:
    """2-D t-SNE of query and gallery embeddings (deterministic for a seed); with ``thumbnails`` a column
    ``image`` holds each photo as a small data URL (``images.data_url``; '' where a file is unreadable)."""
    from sklearn.manifold import TSNE

    from ..errors import StudioError
    from ..images import data_url, load_image

    X = np.vstack([emb.query, emb.gallery])
    frame = pd.concat([emb.q_frame.assign(role="query (camera A)"), emb.g_frame.assign(role="gallery (camera B)")],
                      ignore_index=True)
    if len(X) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), max_points, replace=False))
        X, frame = X[keep], frame.iloc[keep].reset_index(drop=True)
    perplexity = float(min(30, max(2, (len(X) - 1) // 3)))
    with threads.limited(2):
        xy = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(X)
    frame = frame.assign(x=xy[:, 0], y=xy[:, 1])
    if thumbnails:
        def thumb(path):
            try:
                return data_url(load_image(path), 96)
            except StudioError:
                return ""

        frame["image"] = [thumb(p) for p in frame.path]
    return frame


def camera_b(model: ReidModel, ds: ReidDataset, progress=None, cache_dir=None, adapt: bool = False) -> SplitEmbeddings:
    """Every gallery-side (camera B) photo of the dataset, embedded, as a gallery to search: not only the
    split's test identities (on VIPeR 632 photos instead of 316 or 150); ``adapt``: its cameras adapted
    (as ``test_embeddings``)."""
    from .train import embed_paths

    g = ds.camera(1).reset_index(drop=True)
    if not adapt:
        gallery = embed_paths(model, list(g.path), progress, cache_dir=cache_dir)
        return SplitEmbeddings(gallery[:0], gallery, g.iloc[:0], g)
    gallery, done, stats = embed_paths(model, list(g.path), progress, cache_dir=cache_dir, cameras=g.camid.to_numpy(),
                                       same_data=model.card.get("data") == str(ds.root))
    return SplitEmbeddings(gallery[:0], gallery, g.iloc[:0], g, done, stats)


def gallery_frames(ds: ReidDataset, split: Split) -> pd.DataFrame:
    f = ds.frame
    return f[f.pid.isin(split.test)].reset_index(drop=True)
