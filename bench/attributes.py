"""Attribute benchmark on PETA (the 9 subsets present, 35 attributes): both splits, two models.

    python -m bench.attributes --data-dir ../shared/data [--weights FILE] [--finetune-epochs 3]
    python -m bench.attributes --data-dir ../shared/data --size 256x128 --pooling stripes --name attributes-256x128

* feature extraction throughput (fresh, uncached images) and the time to cache the whole dataset;
* "course" model: frozen Xception features + one head per label, plain BCE, threshold 0.5;
* "best" model: the same heads with DeepMAR weighting and thresholds tuned on validation;
* mA and instance-based accuracy / precision / recall / F1 on the random image split (50/10/40) and
  on the person-disjoint split; per-attribute table of the best model on both;
* with ``--finetune-epochs N``: the best model's heads and Xception's exit flow fine-tuned together on
  the random image split's training images (flip augmentation), thresholds re-tuned, test scored once.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import pandas as pd

from core import backbones
from core.attributes import train as A
from core.datasets import catalog

from . import common


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--weights", default=os.environ.get("STUDIO_XCEPTION_WEIGHTS"))
    p.add_argument("--size", default="128x64")
    p.add_argument("--pooling", choices=["avg", "stripes"], default="avg")
    p.add_argument("--name", default="attributes", help="results file name (bench/results/NAME.md)")
    p.add_argument("--throughput-images", type=int, default=256)
    p.add_argument("--finetune-epochs", type=int, default=0)
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    ds = catalog.load(catalog.resolve("attributes", args.data_dir))
    base = A.AttrConfig(height=h, width=w, weights=args.weights, pooling=args.pooling)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = backbones.FeatureCache(base.backbone_spec(), tmp, args.weights)
        sample = list(ds.frame.path.sample(args.throughput_images, random_state=0))
        fresh.features(sample[:32])                    # build the model and warm up
        t0 = time.perf_counter()
        fresh.features(sample[32:])
        per_s = (len(sample) - 32) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    F = A.dataset_features(ds, base)                    # cached after the first run
    cached_s = time.perf_counter() - t0
    rows, per_tables = [], []
    for split in ("random-image", "person-disjoint"):
        for label, kw in (("course: frozen Xception + heads, plain BCE, threshold 0.5",
                           dict(weighted=False, tune_thresholds=False)),
                          ("best: + DeepMAR weights + thresholds tuned on validation", dict()),
                          ("best + neighbour votes (k and blend chosen on validation)", dict(neighbours=True))):
            cfg = A.AttrConfig(height=h, width=w, weights=args.weights, split=split, pooling=args.pooling, **kw)
            model, report = A.train(ds, cfg, features=F)
            s = report["summary"]
            rows.append({"split": split, "model": label, **{k: round(v * 100, 2) for k, v in s.items()},
                         "head train s": round(model.card["timing"]["train_s"], 1),
                         "epochs (early stop)": model.card["timing"]["epochs_run"],
                         "neighbours k / heads weight": (f"{model.card['neighbours']['k']} / "
                                                         f"{model.card['neighbours']['weight']}"
                                                         if "neighbours" in model.card else "")})
            print(rows[-1], file=sys.stderr, flush=True)
            if cfg.neighbours:               # the per-attribute table of the final model
                per = report["per_attribute"][["attribute", "positives", "TPR", "TNR", "mA"]].copy()
                per.insert(0, "split", split)
                per_tables.append(per.round(4))
            if label.startswith("best:"):
                if args.finetune_epochs and split == "random-image":
                    t0 = time.perf_counter()
                    tuned, rep = A.finetune(ds, model, cfg, args.finetune_epochs,
                                            progress=lambda f, t: print(t, file=sys.stderr, flush=True))
                    rows.append({"split": split, "model": f"best + Xception exit flow fine-tuned "
                                                          f"({args.finetune_epochs} epochs max)",
                                 **{k: round(v * 100, 2) for k, v in rep["summary"].items()},
                                 "head train s": round(time.perf_counter() - t0, 1),
                                 "epochs (early stop)": sum(1 for h in tuned.history if h.get("finetune"))})
                    print(rows[-1], file=sys.stderr, flush=True)
    n_persons = ds.frame.person.nunique()
    timing = pd.DataFrame([{"images": len(ds.frame), "persons": n_persons,
                            "backbone": base.backbone_spec().key,
                            "fresh extraction images/s": round(per_s, 1),
                            "estimated full extraction min": round(len(ds.frame) / per_s / 60, 1),
                            "dataset features s (this run: extraction, or reading the cache)": round(cached_s, 1)}])
    sections = [
        ("Results (percent)", "mA = mean over the 35 attributes of (TPR + TNR) / 2. Age is one softmax head "
         "(4 classes + none). The fine-tuned row's time is the fine-tuning alone (on top of the heads).",
         pd.DataFrame(rows)),
        ("Feature extraction", "", timing),
        ("Per attribute, best model (with neighbour votes)", "", pd.concat(per_tables, ignore_index=True)),
    ]
    path = common.write(args.name, common.meta([0], data=str(ds.root), backbone=base.backbone_spec().key), sections)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
