"""``python -m core.attributes features | train | evaluate | predict``: pedestrian attributes.

Examples::

    python -m core.attributes features --data-dir ../shared/data --weights xception_notop.weights.h5
    python -m core.attributes train --split random-image --out models/attr-xception
    python -m core.attributes evaluate --model models/attr-xception --split person-disjoint
    python -m core.attributes predict --model models/attr-xception photo1.jpg photo2.png
    python -m core.attributes predict --model models/attr-xception --adapt photos/camera3/   # one camera, adapted
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import artifacts, camera_stats, cli, config, flags
from ..datasets.base import input_images
from ..images import load_image
from . import describe, metrics, splits
from . import train as A

SPLIT_HELP = ("random-image, person-disjoint, published (the dataset's own train / val / test parts, PA-100K) or "
              "leave-out:SUBSET (cross-site: test on every image of one subset, e.g. leave-out:VIPeR on PETA)")


def _split_kind(text: str) -> str:
    if text in splits.KINDS or (text.startswith(splits.LEAVE_OUT) and len(text) > len(splits.LEAVE_OUT)):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is not a split: {SPLIT_HELP}")


def _flags(p):
    flags.add(p, *flags.COMMON, "weights")
    p.add_argument("--backbone", choices=["xception", "mobilenetv2"], default="xception")
    p.add_argument("--size", default="128x64", help="backbone input HxW (default 128x64; 256x128 is more accurate "
                                                    "and about 2x slower)")
    p.add_argument("--pooling", choices=["avg", "stripes", "stripes-mid"], default="avg",
                   help="global average (default); global + 4 horizontal stripes; or those of the last map and of "
                        "the middle flow's (stripes-mid: best on cameras never seen in training)")


def add_head_flags(p) -> None:
    """The heads' settings as flags (``train`` here, ``bench.attributes``); ``head_settings`` reads them."""
    p.add_argument("--head-hidden", type=int, default=A.AttrConfig.head_hidden,
                   help="units of the heads' shared layer (default %(default)s)")
    p.add_argument("--head-dropout", type=float, default=A.AttrConfig.head_dropout,
                   help="dropout after the heads' shared layer (default %(default)s)")
    p.add_argument("--ensemble", type=int, default=A.AttrConfig.ensemble,
                   help="train N heads from seeds seed .. seed + N - 1 and average their probabilities "
                        "(default %(default)s)")


def add_finetune_from_flag(p) -> None:
    """Where fine-tuning starts (``train`` here, ``bench.attributes``)."""
    p.add_argument("--finetune-from", default="block13", metavar="BLOCK",
                   help="the first Xception block fine-tuned: block13 (the exit flow, default), block14, or deeper "
                        "from a middle-flow block, block5 to block12 (slower: bench/results/finetune-cost.md)")


def head_settings(args) -> dict:
    return {k: getattr(args, k) for k in A.HEAD_SETTINGS}


def _cfg(args, **kw) -> A.AttrConfig:
    try:
        h, w = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        from ..errors import StudioError

        raise StudioError(f"--size must look like 128x64, got '{args.size}'") from None
    return A.AttrConfig(backbone=args.backbone, height=h, width=w, seed=args.seed, weights=args.weights,
                        pooling=args.pooling, **kw)


def _print_report(summary: dict, per) -> None:
    print(per[["attribute", "positives", "TPR", "TNR", "mA"]].round(3).to_string(index=False))
    print(", ".join(f"{k} {v * 100:.1f}%" for k, v in summary.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.attributes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fe = sub.add_parser("features", help="compute and cache backbone features for the whole dataset")
    _flags(fe)
    tr = sub.add_parser("train", help="train the heads (features are cached first), tune thresholds, save")
    _flags(tr)
    flags.add(tr, "model-dir")
    tr.add_argument("--split", type=_split_kind, default="random-image", help=SPLIT_HELP)
    tr.add_argument("--epochs", type=int, default=80)
    tr.add_argument("--no-weighting", action="store_true", help="plain BCE instead of DeepMAR weights")
    tr.add_argument("--colours", action="store_true", help="also the upper / lower body colour attributes")
    tr.add_argument("--balance", choices=A.BALANCE, default="none",
                    help="draw training images evenly per person or per subset (site) instead of each once an epoch")
    tr.add_argument("--camera-views", action="store_true",
                    help="also train on each image's mirror and a camera view (crop, white balance, blur, lower "
                         "resolution), cached like the features")
    tr.add_argument("--neighbours", action="store_true",
                    help="blend in votes of the nearest training images (k and the blend chosen on validation)")
    tr.add_argument("--finetune-epochs", type=int, default=0,
                    help="also fine-tune Xception's exit flow with the heads, for up to N epochs (early stopping), "
                         "e.g. --size 256x128 --pooling stripes --neighbours --finetune-epochs 3 (~20 min on 2 cores "
                         "for PETA; heads on --pooling stripes-mid features measured better, in less time)")
    add_head_flags(tr)
    tr.add_argument("--finetune-lr", type=float, default=1e-4, help="learning rate of the fine-tuning (Adam)")
    add_finetune_from_flag(tr)
    tr.add_argument("--out", help="model path without extension (default: "
                                  "<model dir>/attr-<backbone>[-<size>][-<pooling>][-h<units>-d<dropout %%>]"
                                  "[-x<ensemble>][-finetuned]-<dataset>-<split>)")
    ev = sub.add_parser("evaluate", help="metrics of a saved model on a split's test part")
    flags.add(ev, *flags.COMMON, "weights")
    ev.add_argument("--model", required=True)
    ev.add_argument("--split", type=_split_kind, help=SPLIT_HELP)
    pr = sub.add_parser("predict", help="per-attribute probabilities for image files")
    pr.add_argument("--model", required=True)
    pr.add_argument("images", nargs="+", help="image files or folders")
    pr.add_argument("--adapt", action="store_true",
                    help=f"the photos are all from one camera ({camera_stats.MIN_PHOTOS} or more): move their features "
                         "from that camera's statistics onto the training images' first")
    flags.add(pr, "weights")
    ex = sub.add_parser("export", help="write the model as ONNX + SavedModel (images in, probabilities out), "
                                       "checked against Keras with ONNX Runtime")
    ex.add_argument("--model", required=True)
    ex.add_argument("--out", required=True, help="output folder")
    flags.add(ex, "weights")
    args = parser.parse_args(argv)

    if args.command == "export":
        from .. import export

        model = A.load(args.model)
        name = artifacts.stem_of(args.model).name
        card = export.export(model.image_network(args.weights), args.out, name, model.card)
        print(f"wrote {card.parent / name}.onnx and .savedmodel/ (card {card.name})")
        return 0

    if args.command == "predict":
        model = A.load(args.model)
        paths = input_images(args.images)
        if args.adapt:
            bar, update = cli.progress_bar()
            probs, done = model.predict_adapted(paths, args.weights, progress=update)
            bar.close()
            print(f"cameras: {done.words()}", file=sys.stderr)
        else:
            probs = model.predict_images([load_image(p) for p in paths], args.weights)
        for path, (_, row) in zip(paths, probs.iterrows()):
            print(f"{path}: {describe.sentence(*model.describe(row)) or '(no attribute above its threshold)'}")
            for a in model.attributes:
                print(f"  {a:24s} {row[a]:.3f}")
        return 0
    if args.command == "train":
        A.cut_block(args.finetune_from)                  # a misspelt block: said before the data is read
    ds = flags.dataset("attributes", args)
    print(f"data: {ds.name} ({len(ds.frame)} images, {ds.frame.person.nunique()} persons)", file=sys.stderr)
    if args.command == "features":
        cfg = _cfg(args)
        bar, update = cli.progress_bar()
        F = A.dataset_features(ds, cfg, args.cache_dir, update)
        bar.close()
        print(f"{F.shape[0]} feature vectors of size {F.shape[1]} cached for {cfg.backbone_spec().key}")
        return 0
    if args.command == "train":
        cfg = _cfg(args, split=args.split, epochs=args.epochs, weighted=not args.no_weighting, colours=args.colours,
                   neighbours=args.neighbours, balance=args.balance,
                   camera_views=args.camera_views, **head_settings(args))
        out = Path(args.out) if args.out else config.model_dir(args.model_dir) / artifacts.model_name(
            "attr", cfg.model_tag(bool(args.finetune_epochs), args.finetune_from), ds.name, args.split)
        with artifacts.training_lock("attributes"):
            bar, update = cli.progress_bar()
            model, report = A.train_and_save(ds, cfg, out, args.finetune_epochs or 0, args.finetune_lr,
                                             progress=update, cache_dir=args.cache_dir, from_block=args.finetune_from)
            bar.close()
        _print_report(report["summary"], report["per_attribute"])
        if "neighbours" in model.card:
            nb = model.card["neighbours"]
            print(f"neighbour votes: k {nb['k']}, heads weight {nb['weight']} (chosen on validation)")
        print(f"saved {out}.keras and {out}.json")
        return 0
    model = A.load(args.model)
    cfg = A.AttrConfig(**{**model.card["config"], "split": args.split or model.card["config"]["split"]})
    split = splits.make(ds.frame, cfg.split, cfg.seed)
    Y = ds.labels(model.attributes) if all(a in ds.attributes for a in model.attributes) else None
    if Y is None:
        from ..errors import StudioError

        raise StudioError("this dataset lacks some of the model's attributes")
    bar, update = cli.progress_bar()
    if model.image_model is not None:           # fine-tuned: runs the test images themselves
        probs = model.predict_paths(list(ds.frame.path.to_numpy()[split.test]), args.weights, progress=update)
    else:
        probs = model.probabilities(A.dataset_features(ds, cfg, args.cache_dir, update)[split.test])
    bar.close()
    pred = model.decide(probs)
    _print_report(metrics.summary(Y[split.test], pred, model.attributes),
                  metrics.label_based(Y[split.test], pred, model.attributes))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
