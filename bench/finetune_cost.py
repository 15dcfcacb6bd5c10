"""What fine-tuning deeper into Xception costs on this machine: training steps per second from a cached
map at each depth, and what that makes of one cross-site run (9 PETA subsets held out in turn).

    .venv/bin/python -m bench.finetune_cost --data-dir ../shared/data --size 256x128

For each depth, the network from that block's input (its map cached once, as ``core.attributes.train.
finetune`` caches the exit flow's) to the pooled features and one sigmoid per attribute is trained for
a few steps of batch 32 (Adam; batch-norm layers frozen, as fine-tuning here keeps them) on the cached
maps of real PETA images; the first steps (graph building) are not counted. From the measured images per
second: one epoch over PETA's images, and one cross-site run (every subset held out in turn, each
training on the other subsets' images for ``--epochs`` epochs), in hours. The cache each depth needs
(image and mirror map, float16) is also given. Speed only: no accuracy is measured here.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bench.common import meta, write
from core import backbones, cli, flags
from core import images as I
from core.datasets import catalog

# (label, the first block trained: the network is cut at its input, ``backbones.block_input``; None: the image)
DEPTHS = [("exit flow (block13 on; what `finetune` trains today)", "block13"),
          ("last 4 middle blocks + exit flow (block9 on)", "block9"),
          ("all 8 middle blocks + exit flow (block5 on)", "block5"),
          ("whole network (from the image)", None)]


def steps_per_second(base, cut, images: np.ndarray, n_out: int, steps: int, seed: int) -> float:
    import keras

    keras.utils.set_random_seed(seed)
    sub = keras.Model(base.input, cut)
    x = np.asarray(sub.predict(images, batch_size=32, verbose=0), dtype=np.float32)
    top = keras.Model(cut, base.output)
    for layer in top.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    inp = keras.Input(x.shape[1:])
    pooled = keras.layers.GlobalAveragePooling2D()(top(inp))
    net = keras.Model(inp, keras.layers.Dense(n_out, activation="sigmoid")(pooled))
    net.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
    y = np.random.default_rng(seed).integers(0, 2, (len(x), n_out)).astype(np.float32)
    batch = 32
    for i in range(2):                                   # graph building and warm-up, not counted
        net.train_on_batch(x[i * batch % len(x):][:batch], y[:batch])
    t0 = time.perf_counter()
    for i in range(steps):
        j = i * batch % (len(x) - batch + 1)
        net.train_on_batch(x[j:j + batch], y[j:j + batch])
    return steps * batch / (time.perf_counter() - t0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add(p, "data-dir", "weights", required={"data-dir"})
    p.add_argument("--size", default="256x128")
    p.add_argument("--steps", type=int, default=12, help="timed training steps of batch 32 per depth")
    p.add_argument("--epochs", type=int, default=3, help="epochs per held-out subset in the estimate")
    flags.add(p, "seed")
    p.add_argument("--name", default="finetune-cost")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    ds = catalog.load(catalog.resolve("attributes", args.data_dir))
    sample = ds.frame.path.sample(96, random_state=args.seed)
    images = np.stack([I.resize(I.load_image(path), h, w) for path in sample]).astype(np.float32) / 127.5 - 1.0
    spec = backbones.BackboneSpec("xception", h, w, "avg")
    base = backbones.build(spec, args.weights)
    n_images = len(ds.frame)
    sizes = ds.frame["subset"].value_counts()
    train_images = int(sum(n_images - n for n in sizes))        # training images over the held-out runs
    out = []
    for label, block in DEPTHS:
        cut = base.input if block is None else backbones.block_input(base, spec, block)
        shape = cut.shape[1:]
        ips = steps_per_second(base, cut, images, len(ds.attributes), args.steps, args.seed)
        cache_mb = 2 * n_images * int(np.prod(shape)) * 2 / 1e6 if block is not None else 0.0
        out.append({"depth": label, "input": "x".join(map(str, shape)), "images per s (train)": round(ips, 1),
                    "one epoch over PETA, min": round(n_images / ips / 60, 1),
                    f"cross-site run ({args.epochs} epochs x {len(sizes)} sites), h":
                        round(train_images * args.epochs / ips / 3600, 1),
                    "map cache (image + mirror, float16), GB": round(cache_mb / 1e3, 1)})
        print(out[-1], flush=True)
    note = ("Training speed (forward + backward + Adam step, batch 32) of the network from each depth's cached "
            f"map on, measured on {len(images)} real PETA images at {h} x {w} after 2 untimed steps; "
            "the cross-site estimate counts training epochs only (no validation passes, no map caching, one seed).")
    write(args.name, meta([args.seed], data=str(ds.root), steps=args.steps),
          [("Fine-tuning speed by depth", note, pd.DataFrame(out))])


if __name__ == "__main__":
    cli.run(main)
