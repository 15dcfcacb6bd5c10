"""A gallery index for re-identification: embed a folder of crops once, then search it fast.

Two backends behind one interface (``build`` / ``search`` / ``save`` / ``load``):

* ``exact`` — numpy: squared Euclidean distances to every gallery embedding, exact top k;
* ``faiss`` — an approximate HNSW graph (``faiss-cpu``, ``IndexHNSWFlat``): sub-linear search for
  galleries of millions; recall@k against exact search is measured by ``bench/scale.py``.

``embed_folder`` embeds a folder of crops in batches with a progress callback. Each batch is written
atomically to ``OUT/parts/`` as it finishes, keyed by the model, the file list and the batch size, so an
interrupted run resumes after the last finished batch. The index is saved as ``OUT/index.npz`` (names,
embeddings, and for faiss the serialised graph, all loaded with ``allow_pickle=False``) beside
``OUT/index.json`` (the card: backend, model card, gallery folder, counts, checksum).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import artifacts
from ..datasets.base import is_image_name
from ..errors import StudioError
from ..images import load_image
from ..progress import emit

BACKENDS = ("exact", "faiss")
KIND = "reid-index"


def _faiss():
    try:
        import faiss
    except ImportError:
        raise StudioError("the faiss backend needs faiss-cpu (pip install -r requirements-scale.txt)") from None
    return faiss


@dataclass
class GalleryIndex:
    backend: str
    names: np.ndarray
    embeddings: np.ndarray                 # float32, n x d
    card: dict = field(default_factory=dict)
    hnsw_m: int = 16
    ef_search: int = 256
    _faiss_index: object = None

    @classmethod
    def build(cls, embeddings: np.ndarray, names=None, backend: str = "exact", hnsw_m: int = 16,
              ef_construction: int = 64, ef_search: int = 256, card: dict | None = None) -> "GalleryIndex":
        if backend not in BACKENDS:
            raise StudioError(f"unknown index backend '{backend}'; choose {' or '.join(BACKENDS)}")
        emb = np.ascontiguousarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise StudioError("an index needs a non-empty n x d array of embeddings")
        names = np.asarray(names if names is not None else [str(i) for i in range(len(emb))])
        index = cls(backend, names, emb, dict(card or {}), hnsw_m, ef_search)
        if backend == "faiss":
            faiss = _faiss()
            graph = faiss.IndexHNSWFlat(emb.shape[1], hnsw_m)
            graph.hnsw.efConstruction = ef_construction
            graph.add(emb)
            index._faiss_index = graph
        return index

    def __len__(self) -> int:
        return len(self.embeddings)

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)``, each queries x k, nearest first; distances are squared Euclidean."""
        q = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        if q.shape[1] != self.embeddings.shape[1]:
            raise StudioError(f"query embeddings have {q.shape[1]} dimensions, the index {self.embeddings.shape[1]}")
        k = min(int(k), len(self))
        if self.backend == "faiss":
            self._faiss_index.hnsw.efSearch = max(self.ef_search, k)
            d, i = self._faiss_index.search(q, k)
            return d, i
        d = (q * q).sum(1)[:, None] + (self.embeddings * self.embeddings).sum(1)[None] - 2 * q @ self.embeddings.T
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(self) else np.tile(np.arange(len(self)), (len(q), 1))
        dk = np.take_along_axis(d, part, 1)
        order = np.argsort(dk, axis=1, kind="stable")
        return np.maximum(np.take_along_axis(dk, order, 1), 0), np.take_along_axis(part, order, 1)

    def save(self, folder) -> Path:
        folder = Path(folder)
        arrays = {"names": self.names.astype(str), "embeddings": self.embeddings}
        if self.backend == "faiss":
            arrays["faiss"] = _faiss().serialize_index(self._faiss_index)
        card = {**self.card, "backend": self.backend, "count": len(self), "dims": int(self.embeddings.shape[1]),
                "hnsw_m": self.hnsw_m, "ef_search": self.ef_search}
        return artifacts.save_arrays(folder / "index", arrays, card, kind=KIND)

    @classmethod
    def load(cls, folder) -> "GalleryIndex":
        arrays, card = artifacts.load_arrays(Path(folder) / "index", KIND)
        try:
            index = cls(card["backend"], arrays["names"], arrays["embeddings"].astype(np.float32), card,
                        int(card.get("hnsw_m", 16)), int(card.get("ef_search", 256)))
            if index.backend == "faiss":
                index._faiss_index = _faiss().deserialize_index(arrays["faiss"])
            elif index.backend != "exact":
                raise KeyError("backend")
        except KeyError as exc:
            raise artifacts.ArtifactError(f"{folder}: the index card does not match its arrays ({exc})") from None
        return index


def model_fingerprint(model_card: dict) -> str | None:
    """The checksum of the model file a card describes (a Keras network, or hand-crafted arrays)."""
    return model_card.get("keras_sha256") or model_card.get("npz_sha256")


def built_with(index_card: dict, model_card: dict) -> bool:
    """Whether an index was built with this very model file (its embeddings are only comparable then)."""
    sha = model_fingerprint(model_card)
    model = index_card.get("model") if isinstance(index_card, dict) else None
    return bool(sha) and isinstance(model, dict) and model_fingerprint(model) == sha


def gallery_files(folder) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        raise StudioError(f"{folder}: gallery folder not found")
    files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not files:
        raise StudioError(f"{folder}: no images in the gallery folder")
    return files


def embed_folder(model, folder, out, batch: int = 256, progress=None) -> tuple[np.ndarray, list[str], list[str]]:
    """Embed every image under ``folder`` with ``model`` (a ``train.ReidModel``), resumably.

    Returns ``(embeddings, names, skipped)``: unreadable images are skipped and listed, not fatal."""
    files = gallery_files(folder)
    key = hashlib.sha256(json.dumps([model.card.get("saved"), model.card.get("method"), files, batch]).encode())
    parts = Path(out) / "parts" / key.hexdigest()[:16]
    parts.mkdir(parents=True, exist_ok=True)
    chunks = [files[i:i + batch] for i in range(0, len(files), batch)]
    for n, chunk in enumerate(chunks):
        part = parts / f"part-{n:06d}"
        if (part.with_name(part.name + ".json")).is_file():
            continue                                   # done before an interruption
        images, names, skipped = [], [], []
        for path in chunk:
            try:
                images.append(load_image(path))
                names.append(path)
            except StudioError as exc:
                skipped.append(str(exc))
        emb = model.embed(images, side="gallery") if images else np.zeros((0, 1), np.float32)
        artifacts.save_arrays(part, {"embeddings": np.asarray(emb, np.float32), "names": np.array(names, dtype=str)},
                              {"skipped": skipped}, kind="reid-index-part")
        emit(progress, "embedding", n + 1, len(chunks), f"embedded {min((n + 1) * batch, len(files))}/{len(files)} images")
    embs, names, skipped = [], [], []
    for n in range(len(chunks)):
        a, card = artifacts.load_arrays(parts / f"part-{n:06d}", "reid-index-part")
        if len(a["names"]):
            embs.append(a["embeddings"])
            names += a["names"].tolist()
        skipped += card.get("skipped", [])
    if not embs:
        raise StudioError(f"{folder}: none of the images could be read")
    return np.concatenate(embs), names, skipped


def build_from_folder(model, folder, out, backend: str = "exact", batch: int = 256, progress=None) -> GalleryIndex:
    """Embed a gallery folder (resumable), build the index, save it into ``out``, drop the parts."""
    if model.keras_model is None:
        raise StudioError(f"{model.method} is not a neural network: an index needs a deep model's embeddings")
    emb, names, skipped = embed_folder(model, folder, out, batch, progress)
    index = GalleryIndex.build(emb, names, backend, card={"model": model.card, "gallery": str(Path(folder).resolve()),
                                                          "skipped": skipped[:100], "skipped_count": len(skipped),
                                                          "date": artifacts.now()})
    index.save(out)
    shutil.rmtree(Path(out) / "parts", ignore_errors=True)
    return index
