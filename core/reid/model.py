"""A trained re-identification method (``ReidModel``): what it compares, distances, saving and
loading, and embedding a split's queries and gallery for ranking.

Saved artifacts: ``NAME.keras`` (the embedding network) or ``NAME.npz`` (XQDA), each with ``NAME.json``,
the card (method, config, data, split, seed, metrics, date). Every file is written to a temporary name
and renamed, the card last, so an interrupted save leaves the previous model intact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import artifacts, camera_stats, threads
from ..datasets.base import ReidDataset
from ..datasets.splits import Split, split_frames
from ..errors import StudioError
from ..images import load_image, resize
from ..progress import emit, scaled
from . import evaluation, frozen, handcrafted
from .methods import FROZEN_METHODS, NO_NETWORK_METHODS, XQDA_METHODS, cached_descriptors, describe_images, parts


@dataclass
class ReidModel:
    """A trained method: embed images (deep) or features (hand-crafted / frozen) and give query x gallery
    distances."""

    method: str
    card: dict
    keras_model: object = None
    xqdas: list = field(default_factory=list)        # one XQDA metric per part (``parts``)
    history: list = field(default_factory=list)
    weights: str | None = None                       # Xception's ImageNet weights, for the frozen part
    # the training cameras' descriptor statistics, one ``camera_stats.Stats`` per part: "pooled" (every
    # training photo) and "cam<camid>" (each training camera); empty for a model from before them
    camera_stats: dict = field(default_factory=dict)

    @property
    def xqda(self) -> handcrafted.XQDA | None:
        """The metric of a single-part method (None for a plain distance or a fused method)."""
        return self.xqdas[0] if len(self.xqdas) == 1 else None

    @property
    def fusion_weights(self) -> list[float]:
        return list(self.card.get("fusion_weights", [1.0] * len(self.xqdas)))

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.card["input_hw"])

    def embed(self, images: list[np.ndarray], batch_size: int = 64, side: str = "query", source=None) -> np.ndarray:
        """Images (any size, RGB uint8) -> embeddings (deep), descriptors projected by each part's XQDA
        and concatenated (the gallery is projected once, not at every query) or raw descriptors.
        ``side``: ``query`` (an upload) or ``gallery`` (the frozen descriptor adds the mirror image).
        A fused method describes the images with Xception on a second thread meanwhile (side by side
        about 10 % faster than one after the other on 2 cores). ``source``: the statistics of the camera
        the images come from (one ``Stats`` per part), to move them onto the training cameras' first.
        BLAS is held to one thread throughout: a second BLAS thread gains nothing on these small products
        and keeps spinning after them on the core the descriptors need (``bench/results/reid-gog.md``)."""
        if self.method in NO_NETWORK_METHODS:
            if not images:
                return np.zeros((0, 1), np.float32)
            with threads.limited(1):
                feats = self.describe(images, side)
                return self.from_descriptors(feats if source is None else self.moved(feats, source))
        batch = np.stack([resize(im, *self.input_hw) for im in images]).astype(np.float32)
        return np.asarray(self.keras_model.predict(batch, batch_size=batch_size, verbose=0))

    def from_descriptors(self, feats) -> np.ndarray:
        """Methods without a network: each part's descriptors (a list, or one array for a single part) ->
        what ``distance`` compares (the XQDA projections side by side, or the descriptors as they are)."""
        feats = [feats] if isinstance(feats, np.ndarray) else list(feats)
        if not self.xqdas:
            return feats[0]
        return np.concatenate([x.project(f).astype(np.float32) for x, f in zip(self.xqdas, feats)], axis=1)

    @property
    def adaptable(self) -> bool:
        """Whether the model keeps its training cameras' statistics (methods without a network, trained
        since they were kept), so that new cameras' descriptors can be moved onto them."""
        return "pooled" in self.camera_stats

    def target_stats(self, camera=None, same_data: bool = False) -> list:
        """What a camera's descriptors are moved onto: on the training data itself, the training camera of
        the same id; anywhere else (or for a camera training did not have), every training photo pooled."""
        if not self.adaptable:
            raise StudioError("this model keeps no statistics of its training cameras (it has a network, or was "
                              "trained before they were kept): train it again to adapt it to new cameras")
        return self.camera_stats.get(f"cam{camera}", self.camera_stats["pooled"]) if same_data \
            else self.camera_stats["pooled"]

    def adapt(self, feats: list, cameras, same_data: bool = False) -> tuple[list, camera_stats.Adaptation]:
        """Each part's descriptors of photos from ``cameras`` (one id per row), moved camera by camera onto
        the training statistics (``camera_stats.by_camera``; too few photos: left as they are)."""
        out, done = [], None
        for i, f in enumerate(feats):
            moved, done = camera_stats.by_camera(f, cameras, lambda c, i=i: self.target_stats(c, same_data)[i])
            out.append(moved)
        return out, done

    def moved(self, feats: list, source: list) -> list:
        """Each part's descriptors moved from the statistics ``source`` (one ``Stats`` per part: a named
        camera's, or a gallery's pooled) onto the training photos' pooled statistics."""
        return [camera_stats.standardise(f, s, t) for f, s, t in zip(feats, source, self.target_stats())]

    def describe(self, images: list[np.ndarray], side: str = "query") -> list[np.ndarray]:
        """Each part's descriptors of images (methods without a network), before any metric."""
        names = parts(self.method)
        with threads.limited(1):
            if len(names) == 1:
                return [describe_images(names[0], images, self.weights, side)]
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(names) - 1) as pool:
                later = [pool.submit(describe_images, n, images, self.weights, side) for n in names[1:]]
                first = describe_images(names[0], images, self.weights, side)
                return [first] + [f.result() for f in later]

    def distance(self, q: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Distances ``len(q) x len(g)``, BLAS on one thread (see ``embed``: with two, the next upload's
        descriptors waited for the spinning second thread; LOMO + GOG answered in 50 ms, not 32)."""
        with threads.limited(1):
            return self._distance(q, g)

    def _distance(self, q: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.method in XQDA_METHODS:
            if len(self.xqdas) == 1:
                return self.xqda.metric(q, g)
            out, start = 0.0, 0
            for x, w in zip(self.xqdas, self.fusion_weights):
                r = len(x.M_)
                out = out + w * frozen.zscored(x.metric(q[:, start:start + r], g[:, start:start + r]))
                start += r
            return out
        if self.method == "lomo-cosine":
            return evaluation.cosine(q, g)
        return evaluation.euclidean(q, g)

    def save(self, stem) -> Path:
        card = {**self.card, "history": self.history}
        if self.method in NO_NETWORK_METHODS:
            if len(self.xqdas) > 1:
                arrays = {f"part{i}_{k}": v for i, x in enumerate(self.xqdas) for k, v in x.arrays().items()}
            else:
                arrays = self.xqda.arrays() if self.xqda is not None else {"none": np.zeros(0)}
            for key, per_part in self.camera_stats.items():
                for i, st in enumerate(per_part):
                    arrays.update(st.arrays(f"stats{i}_{key}"))
            if self.camera_stats:
                card["camera_statistics"] = {key: per_part[0].count for key, per_part in self.camera_stats.items()}
            return artifacts.save_arrays(stem, arrays, card, kind="reid-lomo")
        path = artifacts.save_keras(stem, self.keras_model, card, kind="reid-keras")
        from .. import checkpoint

        checkpoint.remove(stem)        # the finished model supersedes its training checkpoint
        return path


def load(stem, weights=None) -> ReidModel:
    """Load a saved model by its path without extension (or with .json / .keras / .npz). ``weights``:
    Xception's ImageNet weights file for a method with a frozen part (else the one it was trained with,
    the environment's, or Keras' download)."""
    card = artifacts.read_card(stem)
    if card.get("kind") == "reid-lomo":
        arrays, card = artifacts.load_arrays(stem, "reid-lomo")
        method = card.get("method")
        if method not in NO_NETWORK_METHODS:
            raise artifacts.ArtifactError(f"{stem}: unknown method '{method}' in the model card")
        if card.get("descriptor_version") != handcrafted.DESCRIPTOR_VERSION:
            raise artifacts.ArtifactError(
                f"{stem}: made with an older version of the hand-crafted features; train it again "
                f"(python -m core.reid train --method {method}; it takes seconds to minutes)")
        n = len(parts(method))
        try:
            if method not in XQDA_METHODS:
                xqdas = []
            elif n == 1:
                xqdas = [handcrafted.XQDA.from_arrays(arrays)]
            else:
                xqdas = [handcrafted.XQDA.from_arrays({k[len(f"part{i}_"):]: v for k, v in arrays.items()
                                                       if k.startswith(f"part{i}_")}) for i in range(n)]
                if len(card.get("fusion_weights", [])) != n:
                    raise KeyError("fusion_weights")
        except KeyError as exc:
            raise artifacts.ArtifactError(f"{stem}: the model card does not match its model ({exc})") from None
        try:
            stats = {key: [camera_stats.Stats.from_arrays(arrays, f"stats{i}_{key}") for i in range(n)]
                     for key in card.get("camera_statistics", {})}          # none in a card from before them
        except KeyError as exc:
            raise artifacts.ArtifactError(f"{stem}: the camera statistics do not match the card ({exc})") from None
        trained_with = card.get("config", {}).get("weights")         # a path on the machine that trained it
        if not weights and trained_with and Path(trained_with).is_file():
            weights = trained_with
        return ReidModel(method, card, xqdas=xqdas, history=card.get("history", []), weights=weights or None,
                         camera_stats=stats)
    if card.get("kind") != "reid-keras":
        raise artifacts.ArtifactError(f"{stem}: not a re-identification model card")
    from ..backbones import BUILD_LOCK
    from . import losses  # noqa: F401  (registers the project's losses)

    model, card = artifacts.load_keras(stem, "reid-keras", BUILD_LOCK)
    return ReidModel(card["method"], card, keras_model=model, history=card.get("history", []))



# ----------------------------------------------------------------------------- evaluation
def embed_paths(model: ReidModel, paths, progress=None, batch: int = 128, cache_dir=None,
                side: str = "gallery", cameras=None, same_data: bool = False):
    """Image files -> what the model compares; descriptors come from (and go to) the disk cache, so a
    gallery described once (in training, by ``core.prepare``) is read, not recomputed. ``side``:
    ``gallery`` or ``query`` (the frozen descriptor's mirror image is for the gallery side only).
    ``cameras`` (one id per path): adapt each camera's descriptors to the training cameras first
    (``ReidModel.adapt``) and return ``(embeddings, adaptation, pooled statistics of the raw descriptors)``."""
    if model.method in NO_NETWORK_METHODS:
        if not len(paths):
            return np.zeros((0, 1), np.float32)
        feats = [cached_descriptors(name, paths, cache_dir, model.weights, progress, side)
                 for name in parts(model.method)]
        if cameras is None:
            return model.from_descriptors(feats)
        moved, done = model.adapt(feats, cameras, same_data)
        return model.from_descriptors(moved), done, [camera_stats.Stats.of(f) for f in feats]
    if cameras is not None:
        model.target_stats()          # the clear error: a network keeps no camera statistics
    out = []
    for start in range(0, len(paths), batch):
        chunk = [load_image(p) for p in paths[start:start + batch]]
        out.append(model.embed(chunk))
        emit(progress, "embedding", min(start + batch, len(paths)), len(paths),
             f"embedding {min(start + batch, len(paths))}/{len(paths)}")
    return np.concatenate(out)


def folder_stats(model: ReidModel, folder, progress=None) -> tuple[list | None, camera_stats.Adaptation]:
    """The statistics of a camera a user names by a folder of its photos (query side, as an upload is):
    ``(one Stats per part, what was done)``; with fewer than ``camera_stats.MIN_PHOTOS`` readable photos
    ``(None, fallback)``, and no readable photo at all is an error."""
    from .index import gallery_files

    model.target_stats()                       # a model without camera statistics: the clear error first
    files, images = gallery_files(folder), []
    for n, path in enumerate(files, start=1):
        try:
            images.append(load_image(path))
        except StudioError:
            pass                               # unreadable files are skipped; none at all is an error below
        emit(progress, "camera", n, len(files), f"reading the camera's photos {n}/{len(files)}")
    name = f"camera {Path(folder).name}"
    if not images:
        raise StudioError(f"{folder}: none of the {len(files)} files is a readable image")
    if len(images) < camera_stats.MIN_PHOTOS:
        return None, camera_stats.Adaptation(fallback={name: len(images)})
    return [camera_stats.Stats.of(f) for f in model.describe(images, "query")], \
        camera_stats.Adaptation(adapted={name: len(images)})


def camera_photos_stats(model: ReidModel, paths, name: str, cache_dir=None, progress=None):
    """``folder_stats`` for a camera of a dataset (its photos' paths; descriptors from the disk cache)."""
    model.target_stats()
    if len(paths) < camera_stats.MIN_PHOTOS:
        return None, camera_stats.Adaptation(fallback={name: len(paths)})
    feats = [cached_descriptors(part, list(paths), cache_dir, model.weights, progress, "query")
             for part in parts(model.method)]
    return [camera_stats.Stats.of(f) for f in feats], camera_stats.Adaptation(adapted={name: len(paths)})


@dataclass
class SplitEmbeddings:
    query: np.ndarray
    gallery: np.ndarray
    q_frame: object
    g_frame: object
    adaptation: camera_stats.Adaptation | None = None     # None: the cameras were not adapted
    # the gallery's raw descriptors' pooled statistics (per part), for an upload from no named camera
    gallery_stats: list | None = None


def test_embeddings(model: ReidModel, ds: ReidDataset, split: Split, reverse: bool = False, progress=None,
                    cache_dir=None, adapt: bool = False):
    """The split's queries and gallery (:func:`core.datasets.splits.split_frames`), embedded. ``adapt``:
    each camera's descriptors moved onto the training cameras' statistics first, from that camera's photos
    on each side (``ReidModel.adapt``; no labels used)."""
    _, qf, gf = split_frames(ds, split, reverse)
    if adapt:
        same = model.card.get("data") == str(ds.root)
        half, rest = scaled(progress, 0.0, 0.5), scaled(progress, 0.5, 1.0)
        q, q_done, _ = embed_paths(model, list(qf.path), half, cache_dir=cache_dir, side="query",
                                   cameras=qf.camid.to_numpy(), same_data=same)
        g, g_done, g_stats = embed_paths(model, list(gf.path), rest, cache_dir=cache_dir,
                                         cameras=gf.camid.to_numpy(), same_data=same)
        done = camera_stats.Adaptation(
            {**{f"query camera {k}": n for k, n in q_done.adapted.items()},
             **{f"gallery camera {k}": n for k, n in g_done.adapted.items()}},
            {**{f"query camera {k}": n for k, n in q_done.fallback.items()},
             **{f"gallery camera {k}": n for k, n in g_done.fallback.items()}})
        return SplitEmbeddings(q, g, qf, gf, done, g_stats)
    if model.method in FROZEN_METHODS:            # the two sides are described differently
        half, rest = scaled(progress, 0.0, 0.5), scaled(progress, 0.5, 1.0)
        return SplitEmbeddings(embed_paths(model, list(qf.path), half, cache_dir=cache_dir, side="query"),
                               embed_paths(model, list(gf.path), rest, cache_dir=cache_dir), qf, gf)
    emb = embed_paths(model, list(qf.path) + list(gf.path), progress, cache_dir=cache_dir)
    return SplitEmbeddings(emb[:len(qf)], emb[len(qf):], qf, gf)


def rank(model: ReidModel, e: SplitEmbeddings, rerank: bool = False) -> evaluation.RankResult:
    d = model.distance(e.query, e.gallery)
    if rerank:
        d = evaluation.k_reciprocal_rerank(d, model.distance(e.query, e.query), model.distance(e.gallery, e.gallery))
    return evaluation.evaluate(d, e.q_frame.pid.to_numpy(), e.g_frame.pid.to_numpy(),
                               q_cams=e.q_frame.camid.to_numpy(), g_cams=e.g_frame.camid.to_numpy())
