"""Re-identification benchmark: VIPeR's three protocols, never mixed, or any recognised dataset's own.

    python -m bench.reid --data-dir ../shared/data [--deep-splits 1] [--epochs-course 20] [--epochs-xception 20]
    python -m bench.reid --data-dir ../shared/data --deep xception-extra --lomo-splits deep --name reid-extra
    python -m bench.reid --data-dir D --dataset prid_2011 --skip-deep     # PRID 2011's protocol -> reid-prid_2011.md
    python -m bench.reid --data-dir ../shared/data --cross "../shared/data/PETA/PETA dataset/PRID/archive"
                                                        # trained on VIPeR, tested elsewhere -> reid-cross.md
    python -m bench.reid --data-dir ../shared/data --cameras "../shared/data/PETA/PETA dataset/PRID/archive"
                        # cameras adapted or not: in domain, and back from that dataset to VIPeR -> reid-cameras.md

With ``--dataset`` the benchmark runs that dataset's protocols (``python -m core.datasets layouts``):
PRID 2011, GRID and CUHK01 their 10 seeded literature splits, Market-1501 / DukeMTMC-reID the fixed
split; the default split of the layout stands in for VIPeR's course split in the latency rows.

* the methods without a trained network on every split of every protocol (1 + 10 + 10): LOMO + XQDA
  (the baseline), GOG + XQDA, LOMO + GOG + XQDA (both descriptors, one metric), frozen Xception + XQDA
  and its fusion with LOMO + GOG + XQDA (``core.reid.frozen``; settings cross-validated inside each
  split's training identities);
* the course network and the Xception stripes model on the course split and on the first
  ``--deep-splits`` splits of the two random protocols (CPU time: minutes per model and split);
* a fusion of each deep model with the best non-deep method (z-scored distances, summed), on the
  same splits;
* Rank-1/5/10/20 and mAP with and without k-reciprocal re-ranking; train time, embedding throughput,
  and query latency (one uploaded image -> ranked 632-image gallery, model loaded).
"""
from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np
import pandas as pd

from core import config, flags
from core.datasets import catalog, layouts
from core.errors import StudioError
from core.images import load_image
from core.reid import evaluation, frozen, handcrafted, protocols
from core.reid import train as T

from . import common


def trained(ds, split, cfg, extra=None):
    """``(model, train seconds, how)``. A deep model is resumable across benchmark runs: it checkpoints
    every epoch under ``<cache>/bench-models/`` and a killed run continues from its last epoch; a finished
    model of the same configuration, data and split is loaded there instead of trained again (its
    training time is the one on its card)."""
    if cfg.method in T.NO_NETWORK_METHODS:
        t0 = time.perf_counter()
        return T.train(ds, split, cfg, extra=extra), time.perf_counter() - t0, "trained"
    stem = config.cache_dir() / "bench-models" / f"{cfg.method}{'-extra' if extra else ''}-{ds.name}-{split.name}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = T.load(stem)
        if done.card.get("config") == cfg.to_dict() and done.card.get("data") == str(ds.root):
            return done, done.card["train_seconds"], "loaded (trained by an earlier run)"
    except StudioError:
        pass                                            # none yet (or unreadable): train it
    model = T.train(ds, split, cfg, extra=extra, checkpoint=stem, resume=True)
    model.save(stem)
    resumed = model.card.get("resumed_from_epoch")
    return model, model.card["train_seconds"], f"resumed after epoch {resumed}" if resumed else "trained"


def run_split(method, ds, split, cfg, rows, cache, extra=None):
    model, train_s, how = trained(ds, split, cfg, extra)
    t0 = time.perf_counter()
    emb = T.test_embeddings(model, ds, split)
    n_img = len(emb.query) + len(emb.gallery)
    per_img = (time.perf_counter() - t0) / n_img
    memoised = cfg.method in T.NO_NETWORK_METHODS      # descriptors computed once for all splits: timings not comparable
    for rerank in (False, True):
        r = T.rank(model, emb, rerank)
        rows.append({"method": method, "protocol": split.name.rsplit("-", 1)[0] if split.name != "course" else "course",
                     "split": split.name, "re-ranking": rerank, **r.summary(),
                     "train s": None if memoised else round(train_s, 1),
                     "images/s": None if memoised else round(1 / per_img, 1),
                     **({} if memoised else {"model": how})})
    cache[(method, split.name)] = (model, emb)
    print(rows[-2], file=sys.stderr, flush=True)
    return model, emb


def latency(model, emb, ds, repeats: int = 20) -> tuple[float, float]:
    """Median ms from a decoded upload to a ranked gallery of all camera-B (gallery-side) images (632 on
    VIPeR), and the gallery's embedding throughput (images/s, reading the files included)."""
    t0 = time.perf_counter()
    gallery = T.embed_paths(model, list(ds.camera(1).path))
    per_s = len(gallery) / (time.perf_counter() - t0)
    img = load_image(ds.camera(0).path.iloc[0])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        q = model.embed([img])
        np.argsort(model.distance(q, gallery)[0], kind="stable")
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), per_s


BEST_NONDEEP = "LOMO + GOG + XQDA"
FUSED = "fused: LOMO + GOG + XQDA and frozen Xception + XQDA"
DEEP = {"course": "course network", "xception": "Xception stripes",
        "xception-extra": "Xception stripes + PETA identities",
        "xception-bnneck": "strong baseline: Xception exit flow fine-tuned (BNNeck, last stride 1)",
        "xception-bnneck-extra": "strong baseline + PETA identities"}


def write_results(args, ds, rows, cache, methods, lomo, finished: bool):
    """Summary, latency (once everything ran) and every split; written after each split so that an
    interrupted run still leaves what it measured (marked ``complete: False``)."""
    df = pd.DataFrame(rows)
    summary = []
    for (method, protocol, rr), g in df.groupby(["method", "protocol", "re-ranking"], sort=False):
        s = protocols.summarise(g.to_dict("records"))
        summary.append({"protocol": protocol, "method": method, "re-ranking": rr, "splits": int(s["splits"]),
                        **{k: round(s[k] * 100, 1) for k in ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP")},
                        "Rank-1 std": round(s["Rank-1 std"] * 100, 1),
                        "train s": round(g["train s"].mean(), 1) if g["train s"].notna().any() else None,
                        "images/s": round(g["images/s"].mean(), 1) if g["images/s"].notna().any() else None})
    summary = pd.DataFrame(summary).sort_values(["protocol", "re-ranking", "method"], kind="stable")
    lat = []
    if finished:
        default = protocols.parse_split(ds, None)
        for label in [label for label, _ in lomo] + [m for m, *_ in methods]:
            if (label, default.name) not in cache:          # --splits without the default split
                continue
            m, e = cache[(label, default.name)]
            ms, per_s = latency(m, e, ds)
            train_s = m.card.get("train_seconds")
            if m.method in T.NO_NETWORK_METHODS:          # trained on memoised descriptors: time a fresh training
                t0 = time.perf_counter()
                T.train(ds, default, T.TrainConfig(m.method))
                train_s = time.perf_counter() - t0
            lat.append({"method": label, "query latency ms (median of 20)": round(ms, 1),
                        "gallery embedding images/s": round(per_s, 1),
                        f"train s ({default.name} split)": round(train_s, 1)})
    if ds.layout in ("two-camera", "folders"):
        described = ("Protocols: course = ids sorted, first 482 train / last 150 test (one split); literature = "
                     "316/316, seeded random; random-course = 482/150, seeded random. Query = camera A, gallery = "
                     "camera B, single shot. ")
    else:
        described = f"Protocol ({layouts.BY_NAME[ds.layout].title}): {layouts.BY_NAME[ds.layout].protocol}. "
    sections = [
        ("Summary (percent; mean over the splits run)",
         described + (f"Deep models ran on {', '.join(args.splits)} only (CPU time). " if args.splits else
                            "Deep models ran on the course split and the first "
                            f"{args.deep_splits} split(s) of each random protocol only (CPU time). ") +
         ("Non-deep methods on all. " if args.lomo_splits == "all" else "Non-deep methods on the same splits. ") +
         "XQDA's two settings (100 dims, centring) were chosen on literature splits 0-3 (with the earlier LBP "
         "texture); LOMO's and GOG's own settings are the papers'. The metrics of the hand-crafted descriptors "
         "learn from each training image's mirror as one more sample of its person (horizontal flipping, the "
         "field's standard augmentation; 3-fold cross-validation inside the training identities of the course "
         "split and the 10 literature splits, LOMO + GOG + XQDA: held-out Rank-1 58.0 % without, 58.9 % with, "
         "better on 6 of 11, equal on 1, worse on 4 incl. the course split's own 60.8 -> 59.1 %); it is one fixed setting "
         "for every protocol. " +
         ("" if args.skip_frozen else
          "Frozen Xception: the tap (end of the middle flow, among four taps), input size and 4 stripes were "
          "picked in an exploration that scored the candidates on the course split and literature splits 0-3 "
          "(their test identities): an optimistic bias on those splits, like XQDA's two settings. On every split, "
          "that split's training identities alone chose (3-fold cross-validation over identities, held-out "
          "Rank-1) the metric's regularisation and the fusion weight. ") +
         ("Strong baseline: every setting is the published recipe's (Luo et al. 2019: BNNeck, last stride 1, "
          "label smoothing 0.1, warm-up, triplet margin 0.3, P x K = 16 x 4, AdamW at 3.5e-4 with weight "
          "decay 5e-4) or fixed before the first run (30 epochs, exit flow only, random erasing on the cached "
          "maps); nothing was tuned on VIPeR. "
          "Deep fusion rows: each query's distances z-scored over the gallery and summed with weight 1, fixed "
          "beforehand. " if any(m.method == "xception-bnneck" for _, m, _ in methods) else ""), summary),
        ("Query latency and speed (after the model is loaded)",
         "Measured after all splits, one method at a time. The non-deep rows above leave train s and images/s "
         "empty: their descriptors are computed once per image for all splits; their speed is here. train s: "
         "a fresh training with the descriptors already cached on disk (the frozen methods' include their "
         "cross-validation). Gallery images/s for the methods without a network reads their cached descriptors "
         "from disk: it is not their description speed (GOG's is in reid-gog.md).",
         pd.DataFrame(lat)),
        ("Every split", "", df.round(4)),
    ]
    info = common.meta([0], data=str(ds.root), dataset=ds.name, layout=ds.layout, epochs_course=args.epochs_course,
                       epochs_xception=args.epochs_xception, deep=args.deep, lomo_splits=args.lomo_splits,
                       complete=finished)
    suffix = "-" + re.sub(r"[^\w.-]+", "_", ds.name) if args.dataset else ""
    default = ("reid-nondeep" if args.skip_deep else "reid") + suffix
    return common.write(args.name or default, info, sections)


NONDEEP = [("LOMO + XQDA", "lomo-xqda"), ("GOG + XQDA", "gog-xqda"), (BEST_NONDEEP, "lomo-gog-xqda"),
           ("frozen Xception + XQDA", "xception-xqda"), (FUSED, "fused-xqda")]


def _name(args, p: str) -> str:
    """A dataset folder's name in a table: its path inside the data folder where it is there, else as given."""
    from pathlib import Path

    try:
        return str(Path(p).resolve().relative_to(Path(args.data_dir).resolve()))
    except ValueError:
        return p


ADAPTED = {False: "as trained", True: "adapted"}
ADAPTED_NOTE = ("Cameras *adapted*: each test camera's descriptors (query side and gallery side apart) moved, "
                "dimension by dimension, from that camera's own mean and spread (its test photos, no labels) onto "
                "the training photos' (core.camera_stats); *as trained*: the descriptors as they are.")


def cross_dataset(args, ds) -> int:
    """Methods trained on ``ds``'s default split, evaluated (never trained) on every split of each other
    re-ID dataset's first protocol: the other recognised datasets of the data folder and ``--cross`` folders."""
    from pathlib import Path

    others = [s for s in catalog.available("reid", args.data_dir) if Path(s.path).resolve() != Path(ds.root).resolve()]
    others += [catalog.Source("reid", Path(p), False, name=_name(args, p)) for p in args.cross or []]
    if not others:
        print("no other re-identification dataset in the data folder and no --cross folder", file=sys.stderr)
        return 2
    default = protocols.parse_split(ds, None)
    methods = [(label, m) for label, m in NONDEEP if not (args.skip_frozen and m in T.FROZEN_METHODS)]
    models = {label: T.train(ds, default, T.TrainConfig(m, weights=args.weights)) for label, m in methods}
    rows, targets = [], []
    for source in others:
        target = catalog.load(source)
        protocol = protocols.available(target)[0]
        splits = protocols.protocol_splits(target, protocol)
        targets.append(f"{target.name} ({target.layout}, {protocol}: {len(splits)} split(s))")
        for label, model in models.items():
            for split in splits:
                for adapt in (False, True):
                    e = T.test_embeddings(model, target, split, adapt=adapt)
                    rows.append({"trained on": f"{ds.name} {default.name}", "tested on": target.name, "method": label,
                                 "cameras": ADAPTED[adapt], "split": split.name, **T.rank(model, e).summary()})
                    if adapt:
                        rows[-1]["adaptation"] = e.adaptation.words()
                    print(rows[-1], file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    summary = []
    for (tested, method, cameras), g in df.groupby(["tested on", "method", "cameras"], sort=False):
        s = protocols.summarise(g.to_dict("records"))
        summary.append({"trained on": g["trained on"].iloc[0], "tested on": tested, "method": method,
                        "cameras": cameras, "splits": int(s["splits"]),
                        **{k: round(s[k] * 100, 1) for k in ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP")}})
    info = common.meta([0], data=str(ds.root), dataset=ds.name, targets="; ".join(targets))
    path = common.write("reid-cross", info, [
        ("Cross-dataset (percent; mean over the target's splits)",
         f"Each method trained once on {ds.name}'s {default.name} split (its settings chosen as in the main table, "
         "inside those training identities), then evaluated on the test identities of every split of the other "
         "dataset's protocol; nothing of the other dataset is trained on or tuned to. " + ADAPTED_NOTE,
         pd.DataFrame(summary)),
        ("Every split", "", df.round(4))])
    print(path.read_text())
    return 0


def cameras(args, ds) -> int:
    """Adapting the cameras (``core.camera_stats``) where it should change nothing much and where it should
    help: in domain on ``ds`` (its course split and each literature split, a model trained per split), and
    trained on the ``--cameras`` dataset's first split, tested on ``ds``'s literature splits (the way back
    of ``--cross``); each with the cameras as trained and adapted, and the adaptation's own cost."""
    from pathlib import Path

    from core import camera_stats
    from core.datasets.splits import split_frames
    from core.reid.methods import cached_descriptors

    methods = [(label, m) for label, m in (("LOMO + GOG + XQDA", "lomo-gog-xqda"), (FUSED, "fused-xqda"))
               if not (args.skip_frozen and m in T.FROZEN_METHODS)]
    rows, cost = [], []

    def evaluate(model, target, split, how):
        for adapt in (False, True):
            e = T.test_embeddings(model, target, split, adapt=adapt)
            rows.append({**how, "cameras": ADAPTED[adapt], "split": split.name, **T.rank(model, e).summary()})
            print(rows[-1], file=sys.stderr, flush=True)

    for protocol in ("course", "literature"):
        splits = protocols.protocol_splits(ds, protocol)[:args.camera_splits]
        for label, m in methods:
            for split in splits:
                model = T.train(ds, split, T.TrainConfig(m, weights=args.weights))
                evaluate(model, ds, split, {"trained on": ds.name, "tested on": f"{ds.name} ({protocol})", "method": label})
    back = catalog.load(catalog.Source("reid", Path(args.cameras), False, name=_name(args, args.cameras)))
    first = protocols.parse_split(back, None)
    for label, m in methods:
        model = T.train(back, first, T.TrainConfig(m, weights=args.weights))
        for split in protocols.protocol_splits(ds, "literature")[:args.camera_splits]:
            evaluate(model, ds, split, {"trained on": f"{back.name} {first.name}", "tested on": f"{ds.name} (literature)",
                                        "method": label})
        # the adaptation alone: statistics of 100 photos' descriptors and the move, median of 7
        _, qf, _ = split_frames(ds, protocols.protocol_splits(ds, "literature")[0])
        feats = [cached_descriptors(n, list(qf.path[:100]), None, model.weights, None, "query") for n in T.parts(m)]
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            model.adapt(feats, np.zeros(len(feats[0]), int))
            times.append(time.perf_counter() - t0)
        cost.append({"method": label, "photos": len(feats[0]), "dimensions": sum(f.shape[1] for f in feats),
                     "seconds per 100 photos (median of 7)": round(float(np.median(times)) * 100 / len(feats[0]), 4)})
    df = pd.DataFrame(rows)
    summary = []
    for (trained_on, tested, method, how), g in df.groupby(["trained on", "tested on", "method", "cameras"], sort=False):
        s = protocols.summarise(g.to_dict("records"))
        summary.append({"trained on": trained_on, "tested on": tested, "method": method, "cameras": how,
                        "splits": int(s["splits"]),
                        **{k: round(s[k] * 100, 1) for k in ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP")}})
    info = common.meta([0], data=str(ds.root), dataset=ds.name, back=f"{back.name} ({back.layout}, split {first.name})",
                       min_photos=camera_stats.MIN_PHOTOS)
    path = common.write("reid-cameras", info, [
        ("Cameras as trained and adapted (percent; mean over the splits)",
         f"In domain: a model trained on each split's training identities, tested on its test identities. Back: "
         f"trained once on {back.name}'s first split, tested on {ds.name}'s literature splits. " + ADAPTED_NOTE,
         pd.DataFrame(summary)),
        ("The adaptation's cost", "The per-camera statistics of 100 query photos' descriptors (read from the cache) "
         "and their move onto the training statistics, every part of the method; describing the photos is "
         "not included (it is needed with or without adapting).", pd.DataFrame(cost)),
        ("Every split", "", df.round(4))])
    print(path.read_text())
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    flags.add(p, "data-dir", "dataset", "weights", required={"data-dir"})
    p.add_argument("--deep-splits", type=int, default=1)
    p.add_argument("--epochs-course", type=int, default=20)
    p.add_argument("--epochs-xception", type=int, default=20)
    p.add_argument("--deep", default="course,xception",
                   help=f"comma-separated deep methods among {', '.join(DEEP)} (xception-extra adds PETA's "
                        "persons outside VIPeR as training identities)")
    p.add_argument("--skip-xception", action="store_true", help="drop xception and xception-extra from --deep")
    p.add_argument("--skip-deep", action="store_true", help="only the methods without a trained network "
                                                            "(writes reid-nondeep.md)")
    p.add_argument("--skip-frozen", action="store_true", help="leave out the frozen Xception metric and its fusion")
    p.add_argument("--lomo-splits", choices=("all", "deep"), default="all",
                   help="run LOMO + XQDA on every split, or only on those the deep methods use")
    p.add_argument("--name", help="results file name (default: reid, or reid-nondeep with --skip-deep)")
    p.add_argument("--splits", nargs="+", help="deep methods on these splits only (e.g. literature-0), instead of "
                                              "the course split and the first --deep-splits of each protocol")
    p.add_argument("--latency-only", action="store_true",
                   help="only the query latency of LOMO + XQDA on the course split (writes reid-latency.md)")
    p.add_argument("--cross", nargs="*", metavar="FOLDER",
                   help="only the cross-dataset table (reid-cross.md): methods trained on --dataset's default split, "
                        "evaluated on these re-ID datasets (and the data folder's other ones)")
    p.add_argument("--cameras", metavar="FOLDER",
                   help="only the cameras table (reid-cameras.md): adapted or not in domain, and trained on FOLDER's "
                        "dataset, tested on --dataset's")
    p.add_argument("--camera-splits", type=int, default=10, help="with --cameras: the first N splits of each protocol")
    args = p.parse_args(argv)
    if args.cameras:
        return cameras(args, catalog.load(catalog.resolve("reid", args.data_dir, dataset=args.dataset)))
    if args.cross is not None:
        return cross_dataset(args, catalog.load(catalog.resolve("reid", args.data_dir, dataset=args.dataset)))
    if args.latency_only:
        ds = catalog.load(catalog.resolve("reid", args.data_dir, dataset=args.dataset))
        split = protocols.parse_split(ds, None)
        model = T.train(ds, split, T.TrainConfig("lomo-xqda"))
        emb = T.test_embeddings(model, ds, split)
        ms, _ = latency(model, emb, ds)
        table = pd.DataFrame([{"method": "LOMO + XQDA", "gallery": "all 632 camera-B images",
                               "query latency ms (median of 20)": round(ms, 1)}])
        path = common.write("reid-latency", common.meta([0], data=str(ds.root)),
                            [("Query latency (after the model is loaded)", "Decoded upload -> LOMO features -> XQDA "
                              "projection -> distances to the gallery (projected once, when it is embedded) -> "
                              "ranking.", table)])
        print(path.read_text())
        return 0
    deep_keys = [m.strip() for m in args.deep.split(",") if m.strip()]
    unknown = [m for m in deep_keys if m not in DEEP]
    if unknown:
        p.error(f"unknown deep method(s): {', '.join(unknown)}")
    if args.skip_xception:
        deep_keys = [m for m in deep_keys if not m.startswith("xception")]
    ds = catalog.load(catalog.resolve("reid", args.data_dir, dataset=args.dataset))
    rows, cache = [], {}
    all_splits = {name: protocols.protocol_splits(ds, name) for name in protocols.available(ds)}
    lomo = [(label, m) for label, m in NONDEEP if not (args.skip_frozen and m in T.FROZEN_METHODS)]
    if args.skip_deep:
        lomo += [("LOMO, Euclidean", "lomo-euclidean"), ("LOMO, cosine", "lomo-cosine")]
    deep = [s for name, splits in all_splits.items()
            for s in (splits[:1] if name in ("course", "fixed") else splits[:args.deep_splits])]
    if args.splits:
        named = {s.name: s for splits in all_splits.values() for s in splits}
        unknown = [n for n in args.splits if n not in named]
        if unknown:
            p.error(f"unknown split(s): {', '.join(unknown)}")
        deep = [named[n] for n in args.splits]
    with handcrafted.memoised():          # each image's descriptors once, not once per split
        for splits in all_splits.values():
            for split in splits:
                if args.lomo_splits == "all" or split in deep:
                    for label, method in lomo:
                        run_split(label, ds, split, T.TrainConfig(method), rows, cache)
    methods = []
    for key in [] if args.skip_deep else deep_keys:
        epochs = args.epochs_course if key == "course" else args.epochs_xception
        method = key.removesuffix("-extra")
        methods.append((DEEP[key], T.TrainConfig(method, epochs=epochs, weights=args.weights), key))
    extra = None
    if any(key.endswith("-extra") for *_, key in methods):
        extra = catalog.extra_reid_identities(args.data_dir)
    write_results(args, ds, rows, cache, methods, lomo, finished=False)
    for label, cfg, key in methods:
        for split in deep:
            model, emb = run_split(label, ds, split, cfg, rows, cache, extra if key.endswith("-extra") else None)
            # fusion with the best non-deep methods on the same split: each query's distances z-scored over
            # the gallery (as the fused method does), summed with weight 1 (fixed beforehand, not tuned)
            d_deep = frozen.zscored(model.distance(emb.query, emb.gallery))
            for partner in (BEST_NONDEEP, FUSED):
                if (partner, split.name) not in cache:
                    continue
                b, be = cache[(partner, split.name)]
                r = evaluation.evaluate(d_deep + frozen.zscored(b.distance(be.query, be.gallery)),
                                        emb.q_frame.pid.to_numpy(), emb.g_frame.pid.to_numpy(),
                                        q_cams=emb.q_frame.camid.to_numpy(), g_cams=emb.g_frame.camid.to_numpy())
                rows.append({"method": f"fusion: {label} + {partner}", "split": split.name,
                             "protocol": split.name.rsplit("-", 1)[0] if split.name != "course" else "course",
                             "re-ranking": False, **r.summary(), "train s": None, "images/s": None})
            write_results(args, ds, rows, cache, methods, lomo, finished=False)
    path = write_results(args, ds, rows, cache, methods, lomo, finished=True)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
