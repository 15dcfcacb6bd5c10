"""``python -m core.reid train | evaluate | embed | search``: person re-identification.

Examples::

    python -m core.reid train --method lomo-xqda --split literature:0 --data-dir ../shared/data
    python -m core.reid train --method course --split course --epochs 30 --out models/reid-course
    python -m core.reid evaluate --model models/reid-course --split course --rerank
    python -m core.reid evaluate --method lomo-xqda --protocol literature   # trains per split
    python -m core.reid evaluate --model models/reid-lomo-xqda --data-dir D --dataset prid_2011   # cross-dataset,
                                               # adapted to prid_2011's cameras (--no-adapt: as trained)

Splits (``--split``; default: the dataset's first): VIPeR-style data ``course``, ``literature:I``,
``random-course:I``; PRID 2011, GRID and CUHK01 ``literature:I``; Market-1501 / DukeMTMC-reID ``fixed``.
    python -m core.reid embed --model models/reid-course photos/ --out embeddings.npz
    python -m core.reid search --model models/reid-course --query person.jpg --split course
    python -m core.reid search --model M --dataset OTHER --query person.jpg --query-camera photos/cam3/
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from .. import artifacts, cli, config, flags
from ..datasets import catalog
from ..datasets.base import input_images
from ..errors import StudioError
from ..images import load_image
from . import protocols, search
from . import train as T


def _report(name: str, result) -> str:
    s = result.summary()
    return (f"{name}: " + ", ".join(f"{k} {v * 100:.1f}%" for k, v in s.items()) + f" ({result.n_queries} queries)")


def _adapting(args, model, ds) -> bool:
    """``--adapt`` / ``--no-adapt`` as given; by default on for another dataset than the model was
    trained on, when the model keeps its cameras' statistics."""
    if args.adapt is not None:
        return args.adapt
    return model.adaptable and model.card.get("data") != str(ds.root)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.reid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a method on a split, evaluate it, save model + card")
    flags.add(tr, *flags.COMMON, "weights", "model-dir")
    tr.add_argument("--method", choices=T.METHODS, default="course")
    tr.add_argument("--split", help="course | literature:I | random-course:I | fixed (default: the dataset's first)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--out", help="model path without extension (default: <model dir>/reid-<method>-<dataset>-<split>)")
    tr.add_argument("--resume", action="store_true",
                    help="deep methods: continue an interrupted run from its last epoch checkpoint (OUT-ckpt.*)")
    tr.add_argument("--extra-identities", action="store_true",
                    help="deep methods: also train on PETA's other subsets' persons (never its VIPeR subset)")
    tr.add_argument("--no-mirror", action="store_true",
                    help="methods without a network: learn the metric from the training images alone, not also "
                         "from their mirror images")
    ev = sub.add_parser("evaluate", help="CMC / mAP of a saved model on a split, or of a method over a protocol")
    flags.add(ev, *flags.COMMON, "weights")
    ev.add_argument("--model", help="a saved model (path without extension)")
    ev.add_argument("--split", help="default: the dataset's first split")
    ev.add_argument("--method", choices=T.METHODS, help="train and evaluate this method on every split of --protocol")
    ev.add_argument("--protocol", choices=protocols.PROTOCOLS, help="default: the dataset's first protocol")
    ev.add_argument("--epochs", type=int)
    ev.add_argument("--extra-identities", action="store_true", help="as for train")
    ev.add_argument("--no-mirror", action="store_true", help="as for train")
    ev.add_argument("--reverse", action="store_true", help="query = camera B, gallery = camera A")
    ev.add_argument("--rerank", action="store_true", help="also report k-reciprocal re-ranking")
    ev.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=None,
                    help="--model: move each camera's descriptors onto the training cameras' statistics, learned "
                         "from that camera's photos (no labels); default: on for another dataset than the model's, "
                         "off on its own")
    em = sub.add_parser("embed", help="embed images (files or folders) with a saved model")
    em.add_argument("--model", required=True)
    em.add_argument("inputs", nargs="+")
    em.add_argument("--out", required=True, help="output .npz (names + embeddings), written atomically")
    se = sub.add_parser("search", help="rank the test gallery (camera B) for a query image")
    flags.add(se, *flags.COMMON)
    se.add_argument("--model", required=True)
    se.add_argument("--query", required=True)
    se.add_argument("--index", help="search this gallery index (made by 'index') instead of the split's camera B")
    se.add_argument("--split", help="default: the dataset's first split")
    se.add_argument("--top", type=int, default=10)
    se.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=None,
                    help="as for evaluate: the gallery's cameras adapted (default: on for another dataset)")
    se.add_argument("--query-camera", metavar="FOLDER",
                    help="photos from the query's camera (30 or more), to adapt the query to that camera; "
                         "default: the gallery's statistics")
    ix = sub.add_parser("index", help="embed a folder of crops (resumable) and build a gallery index")
    ix.add_argument("--model", required=True)
    ix.add_argument("--gallery", required=True, help="folder of images (searched recursively)")
    ix.add_argument("--out", help="index folder (default: <model dir>/indexes/<model>-<gallery folder>, "
                                   "where the app's search page finds it)")
    ix.add_argument("--backend", choices=["exact", "faiss"], default="exact",
                    help="exact: numpy, every distance; faiss: approximate HNSW graph for large galleries")
    ix.add_argument("--batch", type=int, default=256)
    ex = sub.add_parser("export", help="write a deep model as ONNX + SavedModel (images in, embeddings out), "
                                       "checked against Keras with ONNX Runtime")
    ex.add_argument("--model", required=True)
    ex.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)

    if args.command == "export":
        from .. import export

        model = T.load(args.model)
        if model.keras_model is None:
            raise StudioError(f"{model.method} is not a neural network: nothing to export (its arrays are in the .npz)")
        name = artifacts.stem_of(args.model).name
        card = export.export(model.keras_model, args.out, name, model.card)
        print(f"wrote {card.parent / name}.onnx and .savedmodel/ (card {card.name})")
        return 0
    if args.command == "index":
        from . import index as gallery_index

        model = T.load(args.model)
        bar, update = cli.progress_bar("index")
        out = args.out or config.model_dir() / "indexes" / f"{artifacts.stem_of(args.model).name}-{Path(args.gallery).name}"
        idx = gallery_index.build_from_folder(model, args.gallery, out, args.backend, args.batch, update)
        bar.close()
        skipped = idx.card.get("skipped_count", 0)
        print(f"indexed {len(idx)} images ({args.backend}) into {out}"
              + (f"; {skipped} unreadable images skipped" if skipped else ""))
        return 0
    if args.command == "search" and args.index:
        from . import index as gallery_index

        model = T.load(args.model)
        idx = gallery_index.GalleryIndex.load(args.index)
        if not gallery_index.built_with(idx.card, model.card):
            raise StudioError(f"{args.index} was built with another model; rebuild it with this one")
        d, i = idx.search(model.embed([load_image(args.query)]), args.top)
        for rank, (dist, j) in enumerate(zip(d[0], i[0]), start=1):
            print(f"{rank:3d}  {dist:10.4f}  {idx.names[j]}")
        return 0
    if args.command == "embed":
        model = T.load(args.model)
        paths = input_images(args.inputs)
        bar, update = cli.progress_bar()
        emb = T.embed_paths(model, paths, update, cache_dir=getattr(args, "cache_dir", None))
        bar.close()
        buf = io.BytesIO()
        np.savez(buf, names=np.array(paths), embeddings=emb.astype(np.float32))
        artifacts.atomic_write_bytes(args.out, buf.getvalue())
        print(f"wrote {len(paths)} embeddings of size {emb.shape[1]} to {args.out}")
        return 0

    ds = flags.dataset("reid", args)
    print(f"data: {ds.name} ({ds.layout} layout, {len(ds.pids)} identities, {len(ds.frame)} images)", file=sys.stderr)
    if args.command == "train":
        split = protocols.parse_split(ds, args.split, args.seed)
        cfg = T.TrainConfig(method=args.method, seed=args.seed, weights=args.weights, mirror=not args.no_mirror)
        if args.epochs:
            cfg.epochs = args.epochs
        extra = catalog.extra_reid_identities(args.data_dir, args.cache_dir) if args.extra_identities else None
        out = Path(args.out) if args.out else \
            config.model_dir(args.model_dir) / artifacts.model_name("reid", args.method, ds.name, split.name)
        with artifacts.training_lock("reid", args.model_dir):
            bar, update = cli.progress_bar()
            model, result = T.train_and_save(ds, split, cfg, out, update, extra=extra, resume=args.resume,
                                                 cache_dir=args.cache_dir)
            bar.close()
            if model.card.get("resumed_from_epoch"):
                print(f"resumed after epoch {model.card['resumed_from_epoch']}", file=sys.stderr)
        print(_report(f"{args.method} on {split.name}", result))
        print(f"saved {out} (.keras or .npz, and .json); trained in {model.card['train_seconds']:.0f} s")
        return 0
    if args.command == "search":
        model = T.load(args.model)
        split = protocols.parse_split(ds, args.split, args.seed)
        adapt = _adapting(args, model, ds)
        emb = T.test_embeddings(model, ds, split, cache_dir=args.cache_dir, adapt=adapt)
        source = None
        if args.query_camera:
            if not adapt:
                raise StudioError("--query-camera adapts the query: it needs --adapt")
            source, done = T.folder_stats(model, args.query_camera)
            print(f"query {done.words()}", file=sys.stderr)
        hits = search.search(model, load_image(args.query), emb, args.top, source=source)
        if adapt:
            print(f"gallery {emb.adaptation.words()}; query: {search.query_camera_words(source, done if source else None)}",
                  file=sys.stderr)
        for hit in hits:
            print(f"{hit.rank:3d}  {hit.distance:10.4f}  id {hit.pid:>6}  {hit.path}")
        return 0
    # evaluate
    if args.model:
        model = T.load(args.model)
        split = protocols.parse_split(ds, args.split, args.seed)
        trained_on = model.card.get("dataset", "?")
        if model.card.get("data") != str(ds.root):
            print(f"cross-dataset: trained on {trained_on} ({model.card.get('split', {}).get('name', '?')}), "
                  f"evaluated on {ds.name}", file=sys.stderr)
        adapt = _adapting(args, model, ds)
        emb = T.test_embeddings(model, ds, split, reverse=args.reverse, cache_dir=args.cache_dir, adapt=adapt)
        print(f"cameras: {emb.adaptation.words() if adapt else 'as trained (not adapted)'}", file=sys.stderr)
        print(_report(f"{model.method} (trained on {trained_on}) on {ds.name} {split.name}"
                      + (", cameras adapted" if adapt else ""), T.rank(model, emb)))
        if args.rerank:
            print(_report("  with k-reciprocal re-ranking", T.rank(model, emb, rerank=True)))
        return 0
    if not args.method:
        raise StudioError("give --model, or --method with --protocol")
    rows, rows_rr = [], []
    extra = catalog.extra_reid_identities(args.data_dir, args.cache_dir) if args.extra_identities else None
    protocol = args.protocol or protocols.available(ds)[0]
    for split in protocols.protocol_splits(ds, protocol, 10, args.seed):
        cfg = T.TrainConfig(method=args.method, seed=args.seed, weights=args.weights, mirror=not args.no_mirror)
        if args.epochs:
            cfg.epochs = args.epochs
        model = T.train(ds, split, cfg, extra=extra, cache_dir=args.cache_dir)
        emb = T.test_embeddings(model, ds, split, reverse=args.reverse, cache_dir=args.cache_dir)
        r = T.rank(model, emb)
        rows.append(r.summary())
        print(_report(split.name, r))
        if args.rerank:
            rows_rr.append(T.rank(model, emb, rerank=True).summary())
    print(f"{args.method}, {protocol} protocol on {ds.name}, mean (std) over {len(rows)} split(s):")
    print(protocols.summarise(rows).round(4).to_string())
    if rows_rr:
        print("with k-reciprocal re-ranking:")
        print(protocols.summarise(rows_rr).round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
