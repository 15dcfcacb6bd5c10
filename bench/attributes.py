"""Attribute benchmark on PETA (the 9 subsets present, 35 attributes): both splits, four models.

    python -m bench.attributes --data-dir ../shared/data --size 256x128 --pooling stripes --name attributes-256x128
    python -m bench.attributes --data-dir ../shared/data --finetune-epochs 0        # 128x64, no fine-tuning

* feature extraction throughput (fresh, uncached images) and the time to cache the whole dataset;
* "course" model: frozen Xception features + one head per label, plain BCE, threshold 0.5;
* "best heads": the same heads with DeepMAR weighting and thresholds tuned on validation, then with
  neighbour votes (k and the blend chosen on validation);
* "fine-tuned" (``--finetune-epochs N``, default 3, 0 = skip): ``train_finetuned`` from an empty cache:
  the frozen layers' maps of every image and its mirror cached, heads trained on them, Xception's exit
  flow fine-tuned with the heads (flip augmentation, early stopping), features averaged over image and
  mirror, neighbour votes on them: its time is the whole pipeline, feature caching included (on the
  person-disjoint split the maps are already cached);
* mA and instance-based accuracy / precision / recall / F1 on the random image split (50/10/40) and
  on the person-disjoint split; per-attribute table of the final model on both.

Cross-site (``--leave-one-out``, PETA's subsets are sites with their own cameras): each subset in turn is
the test set; the models train and choose every setting (early stopping, thresholds, neighbour votes) on
the other subsets (their persons cut 5 : 1 into train and validation). The mean mA over the held-out
subsets is the headline number; the table is rewritten after every subset, and ``--resume`` runs only
the subsets a stopped run of the same settings did not finish (the file says which rows were kept).

    python -m bench.attributes --data-dir ../shared/data --size 256x128 --pooling stripes \
        --leave-one-out --name attributes-cross-site
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from core import backbones, feature_cache, flags
from core.attributes import train as A
from core.attributes.__main__ import add_finetune_from_flag, add_head_flags, head_settings
from core.datasets import catalog

from . import common


def tuned_part(args) -> str:
    """What the fine-tuned rows' label says was fine-tuned."""
    return "exit flow" if args.finetune_from == "block13" else f"from {args.finetune_from} on"


def _row(split: str, label: str, model, report, total_s: float | None = None) -> dict:
    ft = model.card.get("finetune", {})
    nb = model.card.get("neighbours")
    row = {"split": split, "model": label, **{k: round(v * 100, 2) for k, v in report["summary"].items()},
           "head train s": round(model.card["timing"]["train_s"], 1),
           "head epochs (early stop)": model.card["timing"]["epochs_run"],
           "maps s": ft.get("maps_s", ""), "fine-tune s": ft.get("train_s", ""),
           "fine-tune epochs run": ft.get("epochs_run", ""),
           "total s": round(total_s, 1) if total_s is not None else "",
           "neighbours k / heads weight": f"{nb['k']} / {nb['weight']}" if nb else ""}
    print(row, file=sys.stderr, flush=True)
    return row


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    flags.add(p, "data-dir", "weights", required={"data-dir"})
    p.add_argument("--size", default="128x64")
    p.add_argument("--pooling", choices=list(backbones.POOLINGS), default="avg")
    add_head_flags(p)
    p.add_argument("--name", default="attributes", help="results file name (bench/results/NAME.md)")
    p.add_argument("--throughput-images", type=int, default=256)
    p.add_argument("--finetune-epochs", type=int, default=3)
    add_finetune_from_flag(p)
    p.add_argument("--seed-split", choices=["random-image", "person-disjoint"], default="random-image",
                   help="the split of --finetuned-seeds (default %(default)s)")
    p.add_argument("--finetuned-seeds", type=int, nargs="+",
                   help="only the fine-tuned model (heads + votes with --finetune-epochs 0) on --seed-split, once "
                        "per seed (split, heads and fine-tuning all seeded): the spread of its mA; maps cached in "
                        "--cache-dir")
    flags.add(p, "cache-dir", cache_dir={"help": "cache for --finetuned-seeds and --leave-one-out (default: the "
                                                  "project's); given to the main benchmark, its maps are used there "
                                                  "too (features from them, the fine-tuned pipeline's times without "
                                                  "caching the maps)"})
    p.add_argument("--leave-one-out", action="store_true",
                   help="cross-site: every subset in turn held out as the test set (heads with neighbour votes, "
                        "and the fine-tuned model unless --finetune-epochs 0)")
    p.add_argument("--subsets", nargs="+", help="with --leave-one-out: only these held-out subsets")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="with --leave-one-out: each held-out subset once per seed (the train / validation cut of "
                        "the other subsets' persons and the heads' initialisation); the mean is over sites and "
                        "seeds, with each seed's own mean beside it")
    p.add_argument("--balance", nargs="+", default=["none"], choices=A.BALANCE,
                   help="with --leave-one-out: heads rows for each way of drawing training images (none, evenly "
                        "per person, evenly per subset); the fine-tuned rows use the first")
    p.add_argument("--views", nargs="+", default=["plain"], choices=["plain", "camera"],
                   help="with --leave-one-out: heads rows trained on the images alone (plain) and / or also on each "
                        "image's mirror and camera view (camera: images.camera_view, their maps cached first); the "
                        "fine-tuned rows use the first")
    p.add_argument("--votes", nargs="+", default=["on"], choices=["on", "off"],
                   help="with --leave-one-out: heads rows with the neighbour votes (on) and / or without (off); "
                        "the fine-tuned rows use the first")
    p.add_argument("--cameras", nargs="+", default=["as-trained"], choices=["as-trained", "adapted", "sites"],
                   help="with --leave-one-out: heads rows on the features as they are (as-trained), the same heads on "
                        "the held-out site's features adapted from its own statistics (adapted), and / or heads "
                        "trained with every site's features standardised by its own statistics (sites)")
    p.add_argument("--resume", action="store_true",
                   help="with --leave-one-out: keep the held-out subsets already in bench/results/NAME.json when it "
                        "was run with the same settings, run only the others")
    p.add_argument("--splits", nargs="+", default=["random-image", "person-disjoint"],
                   choices=["random-image", "person-disjoint"], help="the splits of the main benchmark")
    return p


def config(args, h: int, w: int, **kw) -> A.AttrConfig:
    """The configuration the flags ask for (input size, pooling, weights, heads), with ``kw`` on top."""
    return A.AttrConfig(height=h, width=w, weights=args.weights, pooling=args.pooling, **head_settings(args), **kw)


def meta(args, ds, h: int, w: int, seeds=(0,)) -> dict:
    """The results file's header: ``common.meta`` with the data, the backbone and the heads."""
    return common.meta(list(seeds), data=str(ds.root), backbone=config(args, h, w).backbone_spec().key,
                       heads=f"shared layer of {args.head_hidden} units, dropout {args.head_dropout:g}"
                       + (f"; {args.ensemble} heads from consecutive seeds, averaged" if args.ensemble > 1 else ""))


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    A.cut_block(args.finetune_from)                          # a misspelt block: said before hours of work
    ds = catalog.load(catalog.resolve("attributes", args.data_dir))
    if args.finetuned_seeds:
        return seeds(ds, args, h, w)
    if args.leave_one_out:
        return leave_one_out(ds, args, h, w)
    base = config(args, h, w)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = feature_cache.FeatureCache(base.backbone_spec(), tmp, args.weights)
        sample = list(ds.frame.path.sample(args.throughput_images, random_state=0))
        fresh.features(sample[:32])                    # build the model and warm up
        t0 = time.perf_counter()
        fresh.features(sample[32:])
        per_s = (len(sample) - 32) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    if args.cache_dir:      # the maps cached there: features through the frozen exit flow, ~8x faster
        F = A.features_from_maps(A.exit_maps(ds, base, cache_dir=args.cache_dir), base)
    else:
        F = A.dataset_features(ds, base)                # cached after the first run
    cached_s = time.perf_counter() - t0
    rows, per_tables, final = [], [], {}
    ft_cache = tempfile.TemporaryDirectory()           # the fine-tuned pipeline starts from an empty cache
    ft_dir = args.cache_dir or ft_cache.name            # unless told to use the maps cached there
    for split in args.splits:
        for label, kw in (("course: frozen Xception + heads, plain BCE, threshold 0.5",
                           dict(weighted=False, tune_thresholds=False, calibrate=False)),
                          ("best heads: + DeepMAR weights + thresholds tuned on validation", dict()),
                          ("best heads + neighbour votes (k and blend chosen on validation)", dict(neighbours=True))):
            cfg = config(args, h, w, split=split, **kw)
            model, report = A.train(ds, cfg, features=F)
            rows.append(_row(split, label, model, report))
            final[split] = report
        if args.finetune_epochs:
            cfg = config(args, h, w, split=split, neighbours=True)
            t0 = time.perf_counter()
            tuned, report = A.train_finetuned(ds, cfg, args.finetune_epochs, cache_dir=ft_dir,
                                              from_block=args.finetune_from, progress=common.stderr_progress())
            total = time.perf_counter() - t0
            rows.append(_row(split, f"fine-tuned: {tuned_part(args)} + heads ({args.finetune_epochs} epochs max), "
                                    "image + mirror averaged, neighbour votes", tuned, report, total))
            final[split] = report
    ft_cache.cleanup()
    for split, report in final.items():
        per = report["per_attribute"][["attribute", "positives", "TPR", "TNR", "mA"]].copy()
        per.insert(0, "split", split)
        per_tables.append(per.round(4))
    n_persons = ds.frame.person.nunique()
    timing = pd.DataFrame([{"images": len(ds.frame), "persons": n_persons,
                            "backbone": base.backbone_spec().key,
                            "fresh extraction images/s": round(per_s, 1),
                            "estimated full extraction min": round(len(ds.frame) / per_s / 60, 1),
                            "dataset features s (this run: extraction, or reading the cache)": round(cached_s, 1)}])
    sections = [
        ("Results (percent)", "mA = mean over the 35 attributes of (TPR + TNR) / 2. Age is one softmax head "
         "(4 classes + none). Times in seconds. Heads rows: heads training on cached features. Fine-tuned rows: "
         "the whole pipeline (frozen-layer maps of every image and its mirror, heads, fine-tuning, votes), from "
         "an empty cache on the random split; on the person-disjoint split the maps were cached by then."
         + (" This run (--cache-dir) used maps cached before it: no row's time includes caching them."
            if args.cache_dir else "")
         + " ECE: expected calibration error over every (test image, attribute) pair, 10 bins; the course row is "
         "not calibrated, the others are calibrated on validation (Platt per attribute, vector scaling for age).",
         pd.DataFrame(rows)),
        ("Feature extraction", "", timing),
        ("Per attribute, final model (the last row of each split)", "", pd.concat(per_tables, ignore_index=True)),
    ]
    path = common.write(args.name, meta(args, ds, h, w), sections)
    print(path.read_text())
    return 0


def seeds(ds, args, h: int, w: int) -> int:
    """The fine-tuned model (or, with ``--finetune-epochs 0``, heads + neighbour votes on the cached
    features) on ``--seed-split`` (the random image split by default), one row per seed, and their mean and
    spread."""
    rows, split = [], args.seed_split
    what = f"Fine-tuned model ({tuned_part(args)})" if args.finetune_epochs else "Heads + neighbour votes"
    F = None if args.finetune_epochs else A.dataset_features(ds, config(args, h, w), args.cache_dir,
                                                             common.stderr_progress())
    for seed in args.finetuned_seeds:
        cfg = config(args, h, w, neighbours=True, seed=seed, split=split)
        t0 = time.perf_counter()
        if args.finetune_epochs:
            tuned, report = A.train_finetuned(ds, cfg, args.finetune_epochs, cache_dir=args.cache_dir,
                                              from_block=args.finetune_from, progress=common.stderr_progress())
        else:
            tuned, report = A.train(ds, cfg, features=F)
        rows.append({"seed": seed, **_row(split, what, tuned, report, time.perf_counter() - t0)})
    table = pd.DataFrame(rows).drop(columns=["split", "model"])
    metric_cols = ["mA", "accuracy", "precision", "recall", "F1", "ECE"]
    spread = pd.DataFrame([{"statistic": name, **{c: round(float(fn(table[c])), 2) for c in metric_cols}}
                           for name, fn in (("mean", pd.Series.mean), ("std (n - 1)", pd.Series.std),
                                            ("min", pd.Series.min), ("max", pd.Series.max))])
    sections = [
        (f"{what}, {split.replace('-', ' ')} split, one row per seed (percent; times in seconds)",
         f"Each seed draws its own 50/10/40 split of the {'images' if split == 'random-image' else 'persons'} "
         "and initialises the heads (and the fine-tuning) with it. The first seed's time includes caching the "
         "frozen layers' maps unless the cache already held them (heads only: the features, cached before the "
         "first seed, are not in any row's time).", table),
        ("Spread over the seeds", "", spread),
    ]
    path = common.write(args.name, meta(args, ds, h, w, args.finetuned_seeds), sections)
    print(path.read_text())
    return 0


SETTINGS = ("size", "pooling", "finetune_epochs", "finetune_from", "balance", "views", "votes", "weights", "head_hidden",
            "head_dropout", "ensemble", "cameras")  # rows comparable


PER_SUBSET, PER_ATTRIBUTE = "Per held-out subset", "Per attribute"


def finished_rows(args) -> tuple[list[dict], list[dict], str]:
    """With ``--resume``: the per-subset and per-attribute rows of ``bench/results/NAME.json`` and where they
    came from, when that run's command had the same settings (refused with the difference named, otherwise);
    none without the file."""
    path = common.RESULTS / f"{args.name}.json"
    if not args.resume or not path.exists():
        return [], [], ""
    import json
    import shlex

    old = json.loads(path.read_text())
    words = shlex.split(old["command"])
    before = parser().parse_args(words[words.index("bench.attributes") + 1:])
    differ = [k for k in SETTINGS if getattr(before, k) != getattr(args, k)]
    if differ:
        raise SystemExit(f"--resume: {path} was run with other settings ({', '.join(differ)}); "
                         "use another --name or the same settings")
    rows, per_attribute = ([r for s in old["sections"] if s["heading"].startswith(h) for r in s["rows"]]
                           for h in (PER_SUBSET, PER_ATTRIBUTE + " in each"))
    return rows, per_attribute, f"{old['date']} (commit {old['commit']})"


def attribute_sections(per_attribute: list[dict]) -> list[tuple[str, str, pd.DataFrame]]:
    """Each attribute's mA on every held-out subset, and per model its mean and lowest over them: which
    attributes carry over to a camera never seen."""
    if not per_attribute:
        return []
    long = pd.DataFrame(per_attribute)
    scored = long[long["positives"] > 0]
    mean = (scored.groupby(["model", "attribute"], sort=False)
            .agg(**{"subsets with positives": ("mA", "size"), "mean mA": ("mA", "mean"), "lowest mA": ("mA", "min"),
                    "test positives": ("positives", "sum")}).round(2).reset_index()
            .sort_values(["model", "mean mA"], ascending=[True, False], kind="stable"))
    return [(PER_ATTRIBUTE + " over the held-out subsets (percent)",
             "Each attribute's mA on the subsets where it has positive test images (a subset without any scores "
             "only true negatives and is left out here), their mean and the lowest; best first.", mean),
            (PER_ATTRIBUTE + " in each held-out subset (percent)", "", long)]


def attribute_rows(where: dict, model: str, report: dict) -> list[dict]:
    per = report["per_attribute"]
    return [{"held-out subset": where["held-out subset"], "seed": where.get("seed", 0), "model": model,
             "attribute": r.attribute, "positives": int(r.positives), "mA": round(float(r.mA) * 100, 2)}
            for r in per.itertuples() if r.mA == r.mA]                  # NaN: no image with a known label


def cross_site_summary(table: pd.DataFrame) -> pd.DataFrame:
    """A row per model of the per-(subset, seed) ``table``: the mean over sites of each site's mean over
    its seeds, the lowest site, the sites below 60 %, and with several seeds each seed's mean and their spread."""
    table = table.assign(seed=table["seed"].fillna(0).astype(int) if "seed" in table else 0)
    out = []
    for model, g in table.groupby("model", sort=False):
        site = g.groupby("held-out subset", sort=False)["mA"].mean()
        row = {"model": model, "subsets": len(site), "seeds": g["seed"].nunique(), "mean mA": round(site.mean(), 2),
               "lowest mA": round(site.min(), 2), "lowest subset": site.idxmin(),
               "subsets below 60 %": int((site < 60).sum()), "mean F1": round(g["F1"].mean(), 2),
               **({"mean ECE": round(g["ECE"].mean(), 2)} if "ECE" in g else {})}
        if row["seeds"] > 1:
            per_seed = g.groupby("seed")["mA"].mean()
            row["each seed's mean"] = ", ".join(f"{seed}: {v:.2f}" for seed, v in per_seed.items())
            row["std over seeds"] = round(per_seed.std(), 2)
        out.append(row)
    return pd.DataFrame(out)


CAMERAS = {"as-trained": "", "adapted": ", held-out site adapted",
           "sites": ", every site standardised (training and held-out)"}


def camera_variants(ds, cfg, F, views, held_out, wanted):
    """``(variant, model, report)`` per way of handling the sites' cameras (``CAMERAS``): the features as
    they are; the same heads with the held-out site's features moved from its own statistics (its photos,
    no labels) onto the training images' (``AttributeModel.adapt``); heads trained on features where every
    site, the held-out one too, was moved from its own statistics onto the training images' pooled ones."""
    from core import camera_stats
    from core.attributes.postfit import scored

    if {"as-trained", "adapted"} & set(wanted):
        model, report = A.train(ds, cfg, features=F, views=views)
        if "as-trained" in wanted:
            yield "as-trained", model, report
        if "adapted" in wanted:
            test = report["split"].test
            moved, _ = model.adapt(F[test], camera="held-out site")
            yield "adapted", model, {**scored(model, model.probabilities(moved), ds.labels(model.attributes)[test]),
                                     "split": report["split"]}
    if "sites" in wanted:
        target = camera_stats.Stats.of(F[~held_out])
        moved = np.array(F, copy=True)
        sites = ds.frame.subset.astype(str).to_numpy()
        for s in set(sites):
            rows = sites == s
            moved[rows] = camera_stats.standardise(F[rows], camera_stats.Stats.of(F[rows]), target)
        if views:
            raise SystemExit("--cameras sites is not defined with camera views")
        yield ("sites", *A.train(ds, cfg, features=moved))


def leave_one_out(ds, args, h: int, w: int) -> int:
    """Each subset held out in turn: heads with neighbour votes on the frozen features, and the fine-tuned
    model (today's best pipeline), trained on the other subsets; a row per (subset, model), then the mean
    and the worst subset per model."""
    from core.attributes import splits

    base = config(args, h, w, neighbours=True)
    rows, per_attribute, resumed = finished_rows(args)
    done = {(r["held-out subset"], r.get("seed", 0)) for r in rows}        # rows from before seeds: seed 0
    todo = [(seed, splits.LEAVE_OUT + s) for seed in args.seeds for s in args.subsets or splits.subsets(ds.frame)
            if (s, seed) not in done]
    if not todo:
        print(f"every held-out subset and seed asked for is already in {args.name}.json (--resume)")
        return 0
    for _, kind in todo:                               # an unknown subset: refused before hours of work
        splits.make(ds.frame, kind)
    cut = A.cut_block(args.finetune_from) if args.finetune_epochs else "block13"     # where the maps are taken
    maps = {"image": A.exit_maps(ds, base, cache_dir=args.cache_dir, progress=common.stderr_progress(), block=cut)}
    F = A.features_from_maps(maps["image"], base, cut)
    views = {"plain": None}
    if "camera" in args.views or args.finetune_epochs:
        for view, kw in (("mirror", dict(flip=True)), ("camera", dict(camera=True))):
            if view == "camera" and "camera" not in args.views:
                continue
            maps[view] = A.exit_maps(ds, base, cache_dir=args.cache_dir, progress=common.stderr_progress(),
                                     block=cut, **kw)
    if "camera" in args.views:
        views["camera"] = [A.features_from_maps(maps[v], base, cut) for v in ("mirror", "camera")]
    if not args.finetune_epochs:
        maps.clear()                  # read once, kept only for the fine-tuned models (one load, not one a subset)
    seen = {"plain": "", "camera": " + mirror and camera views"}
    said = {"on": " + neighbour votes", "off": ", no neighbour votes"}
    info = meta(args, ds, h, w, sorted({seed for seed, _ in todo} | {seed for _, seed in done}))
    if done:
        kept = ", ".join(f"{s} (seed {seed})" for s, seed in sorted(done))
        info["resumed"] = f"subsets {kept} kept from the run of {resumed}"
    for seed, kind in todo:
        site = ds.frame.subset.astype(str) == kind[len(splits.LEAVE_OUT):]
        where = {"held-out subset": kind[len(splits.LEAVE_OUT):], "seed": seed, "test images": int(site.sum()),
                 "test persons": int(ds.frame.person[site].nunique())}
        for look in args.views:
            for balance in args.balance:
                for votes in args.votes:
                    cfg = replace(base, split=kind, seed=seed, balance=balance, camera_views=look == "camera",
                                  neighbours=votes == "on")
                    drawn = "" if balance == "none" else f", drawn evenly per {balance}"
                    for cameras, model, report in camera_variants(ds, cfg, F, views[look], site.to_numpy(), args.cameras):
                        label = f"heads{seen[look]}{said[votes]}{drawn}{CAMERAS[cameras]}"
                        rows.append({**where, **_row(kind, label, model, report)})
                        per_attribute += attribute_rows(where, rows[-1]["model"], report)
        if args.finetune_epochs:
            t0 = time.perf_counter()
            tuned, report = A.train_finetuned(ds, replace(base, split=kind, seed=seed, balance=args.balance[0],
                                                          camera_views=args.views[0] == "camera",
                                                          neighbours=args.votes[0] == "on"), args.finetune_epochs,
                                              cache_dir=args.cache_dir, progress=common.stderr_progress(), maps=maps,
                                              from_block=args.finetune_from)
            drawn = "" if args.balance[0] == "none" else f", drawn evenly per {args.balance[0]}"
            label = (f"fine-tuned {tuned_part(args)} ({args.finetune_epochs} epochs max)"
                     f"{seen[args.views[0]]}{said[args.votes[0]]}")
            rows.append({**where, **_row(kind, label + drawn, tuned, report, time.perf_counter() - t0)})
            per_attribute += attribute_rows(where, rows[-1]["model"], report)
        gc.collect()
        table = pd.DataFrame(rows).drop(columns=["split"])
        sections = [
            ("Mean over the held-out subsets (percent)", "Unweighted mean of the per-subset mA: each site counts "
             "once, whatever its size; a site run with several seeds counts with the mean of its seeds. Lowest: "
             "the site with the lowest such mean. With several seeds, each seed's own mean over the sites and the "
             "standard deviation of those means (n - 1).", cross_site_summary(table)),
            ("Per held-out subset (percent; times in seconds)",
             "Test: every image of the held-out subset. Train and validation: the other subsets' persons, cut "
             "5 : 1 by the row's seed, which also starts the heads. Early stopping, the neighbour votes' k and "
             "blend, the calibration (where the code has it: ECE columns) and the thresholds (balanced accuracy per "
             "attribute) are chosen on that validation part only. Fine-tuned rows' times exclude caching the frozen "
             "layers' maps (done once, before the first subset).", table),
            *attribute_sections(per_attribute),
        ]
        info["seeds"] = sorted({r["seed"] for r in rows if "seed" in r} or {0})   # those with rows, so far
        path = common.write(args.name, info, sections)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
