"""Scale-out benchmark: GMMs on 1 million users (scikit-learn vs Spark local mode) and the gallery
index at 10k / 100k / 1M embeddings (exact numpy vs FAISS HNSW), plus embedding throughput on real crops.

    python -m bench.scale --data-dir ../shared/data [--users 1000000] [--ks 2 5 10] [--max-iter 20]
                          [--sizes 10000 100000 1000000] [--dims 256]

* GMM: profiles are generated directly (19 genre shares per user, planted taste groups), so both backends
  fit the same matrix; each (backend, k) runs in its own process, whose peak memory (the whole process
  tree: Python and, for Spark, its JVM) is sampled from /proc. EM is capped at ``--max-iter`` iterations
  for both, so seconds per iteration compare like with like. Spark's mixture has full covariances only:
  both backends use full covariances here.
* Index: generated unit-length embeddings around many centres (like a real gallery: people cluster);
  recall@10 of FAISS against exact search, median query latency for one query, build time, memory.
* Throughput: ``core.reid.index.embed_folder`` over VIPeR's camera-B crops with the course network and
  the Xception stripes network (weights do not change the speed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core import flags

from . import common

GENRES = 19


def planted_profiles(n: int, seed: int = 0, groups: int = 8) -> np.ndarray:
    """``n`` x 19 genre-share profiles: each user mixes one of ``groups`` taste vectors with noise."""
    rng = np.random.default_rng(seed)
    tastes = rng.dirichlet(np.full(GENRES, 0.5), groups)
    which = rng.integers(0, groups, n)
    x = tastes[which] + rng.normal(scale=0.02, size=(n, GENRES))
    x = np.clip(x, 0, None)
    return x / x.sum(1, keepdims=True)


# ----------------------------------------------------------------------------------- process memory
def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (MiB), from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        todo += children.get(p, [])
    return total / 1024


def run_measured(cmd: list[str]) -> tuple[dict, float]:
    """Run a worker process; return its JSON result (last stdout line) and the peak tree RSS (MiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    peak = 0.0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_mb(proc.pid))
            stop.wait(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    stop.set()
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed: {' '.join(cmd)}\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak


# ----------------------------------------------------------------------------------- GMM workers
def gmm_worker(args) -> None:
    """One (backend, k) fit on the generated profiles; prints a JSON line."""
    x = np.load(args.profiles)
    from core.clustering.gmm import GMMSpec

    spec = GMMSpec("full", n_init=1, reg_covar=1e-6, max_iter=args.max_iter)
    if args.backend == "sklearn":
        from core.clustering.gmm import fit

        t0 = time.perf_counter()
        gm = fit(x, args.k, spec, seed=0)
        seconds, iters, ll = time.perf_counter() - t0, int(gm.n_iter_), float(gm.score(x) * len(x))
        prep = 0.0
    else:
        from pyspark.ml.feature import VectorAssembler

        from core.clustering import spark as S
        from core.clustering.features import ProfileSpec

        csv = Path(args.profiles).with_suffix(".csv")
        if not csv.exists():
            np.savetxt(csv, x, fmt="%.6f", delimiter=",")
        session = S.session(args.spark_master, driver_memory="8g")
        t0 = time.perf_counter()
        schema = ", ".join(f"g{j} DOUBLE" for j in range(GENRES))
        raw = session.read.csv(str(csv), schema=schema)
        df = VectorAssembler(inputCols=[f"g{j}" for j in range(GENRES)], outputCol="features") \
            .transform(raw).select("features").repartition(8).cache()
        n = df.count()
        prep = time.perf_counter() - t0
        prof = S.SparkProfiles(df, [f"g{j}" for j in range(GENRES)], ProfileSpec(), np.zeros(GENRES),
                               np.ones(GENRES), n)
        t0 = time.perf_counter()
        f = S.fit(prof, args.k, spec, seed=0)
        seconds, iters, ll = time.perf_counter() - t0, None, f.log_likelihood
        session.stop()
    print(json.dumps({"seconds": seconds, "iterations": iters, "log_likelihood": ll, "load_seconds": prep}))


def bench_gmm(args, rows: list) -> None:
    x = planted_profiles(args.users)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profiles.npy"
        np.save(path, x)
        for k in args.ks:
            for backend in ("sklearn", "spark"):
                cmd = [sys.executable, "-m", "bench.scale", "gmm-worker", "--profiles", str(path), "--k", str(k),
                       "--backend", backend, "--max-iter", str(args.max_iter), "--spark-master", args.spark_master]
                result, peak = run_measured(cmd)
                rows.append({"backend": backend if backend == "sklearn" else f"spark {args.spark_master}",
                             "users": len(x), "k": k, "fit s": round(result["seconds"], 1),
                             "EM iterations": result["iterations"] if result["iterations"] is not None
                             else f"<= {args.max_iter}",
                             "mean log-likelihood": round(result["log_likelihood"] / len(x), 3),
                             "data load s": round(result["load_seconds"], 1), "peak memory MiB": round(peak)})
                print(rows[-1], file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- index
def clustered_embeddings(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(10, n // 20), d)).astype(np.float32)
    out = np.empty((n, d), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = centres[rng.integers(0, len(centres), m)] + 0.35 * rng.normal(size=(m, d)).astype(np.float32)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


EF_SEARCH = (64, 256, 1024, 4096)


def index_worker(args) -> None:
    """Build one index; for FAISS search it at several efSearch values (recall / latency trade-off)."""
    from core.reid.index import GalleryIndex

    emb = clustered_embeddings(args.size, args.dims)
    queries = clustered_embeddings(200, args.dims, seed=1)
    t0 = time.perf_counter()
    index = GalleryIndex.build(emb, backend=args.backend)
    build = time.perf_counter() - t0
    out = []
    for ef in (EF_SEARCH if args.backend == "faiss" else (None,)):
        if ef is not None:
            index.ef_search = ef
        found = index.search(queries, 10)[1]
        times = []
        for q in queries[:100]:
            t0 = time.perf_counter()
            index.search(q[None], 10)
            times.append((time.perf_counter() - t0) * 1000)
        path = f"{args.result}-{ef}.npy"
        np.save(path, found)
        out.append({"ef": ef, "latency_ms": float(np.median(times)), "found": path})
    print(json.dumps({"build": build, "runs": out}))


def bench_index(args, rows: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            exact = None
            for backend in ("exact", "faiss"):
                cmd = [sys.executable, "-m", "bench.scale", "index-worker", "--size", str(size), "--dims",
                       str(args.dims), "--backend", backend, "--result", str(Path(tmp) / f"{backend}-{size}")]
                result, peak = run_measured(cmd)
                for run in result["runs"]:
                    found = np.load(run["found"])
                    exact = found if backend == "exact" else exact
                    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)])
                    rows.append({"backend": backend if run["ef"] is None else f"faiss HNSW, efSearch {run['ef']}",
                                 "embeddings": size, "dims": args.dims, "build s": round(result["build"], 2),
                                 "query latency ms (median, 1 query, top 10)": round(run["latency_ms"], 2),
                                 "recall@10 vs exact": round(float(recall), 4), "peak memory MiB": round(peak)})
                    print(rows[-1], file=sys.stderr, flush=True)


def bench_throughput(args, rows: list) -> None:
    from core import backbones
    from core.datasets import catalog
    from core.reid import index as gallery
    from core.reid import networks
    from core.reid.train import ReidModel

    ds = catalog.load(catalog.resolve("reid", args.data_dir))
    folder = ds.root / "cam_b" if (ds.root / "cam_b").is_dir() else ds.root
    nets = [("course network", networks.course_network(), list(networks.COURSE_INPUT))]
    if args.weights or os.environ.get("STUDIO_XCEPTION_WEIGHTS"):
        base = backbones.build(backbones.BackboneSpec("xception", *networks.STRONG_INPUT), args.weights)
        nets.append(("Xception stripes", networks.xception_stripes(base), list(networks.STRONG_INPUT)))
    for label, net, hw in nets:
        model = ReidModel(label, {"input_hw": hw, "saved": label}, keras_model=net)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            emb, names, _ = gallery.embed_folder(model, folder, tmp, batch=128)
            seconds = time.perf_counter() - t0
        rows.append({"model": label, "images": len(names), "seconds": round(seconds, 1),
                     "images/s (decode + resize + embed, batches of 128)": round(len(names) / seconds, 1)})
        print(rows[-1], file=sys.stderr, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    gw = sub.add_parser("gmm-worker")
    gw.add_argument("--profiles", required=True)
    gw.add_argument("--k", type=int, required=True)
    gw.add_argument("--backend", choices=["sklearn", "spark"], required=True)
    gw.add_argument("--max-iter", type=int, default=20)
    gw.add_argument("--spark-master", default="local[2]")
    iw = sub.add_parser("index-worker")
    iw.add_argument("--size", type=int, required=True)
    iw.add_argument("--dims", type=int, default=256)
    iw.add_argument("--backend", required=True)
    iw.add_argument("--result", required=True)
    flags.add(p, "data-dir", "weights")
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--ks", type=int, nargs="+", default=[2, 5, 10])
    p.add_argument("--max-iter", type=int, default=20)
    p.add_argument("--spark-master", default="local[2]")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--dims", type=int, default=256)
    p.add_argument("--skip", nargs="*", default=[], choices=["gmm", "index", "throughput"])
    args = p.parse_args(argv)
    if args.command == "gmm-worker":
        gmm_worker(args)
        return 0
    if args.command == "index-worker":
        index_worker(args)
        return 0
    gmm_rows, index_rows, tp_rows = [], [], []
    previous = common.RESULTS / "scale.json"
    if args.skip and previous.is_file():            # keep the sections this run skips, as last measured
        old = {sec["heading"].split(" (")[0]: sec["rows"] for sec in json.loads(previous.read_text())["sections"]}
        for name, rows, heading in (("gmm", gmm_rows, "GMM fits on generated profiles"), ("index", index_rows, "Gallery index"),
                                    ("throughput", tp_rows, "Embedding throughput on real crops")):
            if name in args.skip:
                rows += old.get(heading, [])
    info = common.meta([0], users=args.users, ks=args.ks, max_iter=args.max_iter, sizes=args.sizes, dims=args.dims)

    def write():
        return common.write("scale", info, [
            ("GMM fits on generated profiles (full covariances, one initialisation, EM capped)",
             f"{args.users:,} users x {GENRES} genre shares with 8 planted taste groups. Each row is its own process; "
             "peak memory is the whole process tree (Python, and Spark's JVM). Spark's data load converts the "
             "profiles (written once as CSV) into a cached DataFrame and is listed apart from the fit.", pd.DataFrame(gmm_rows)),
            ("Gallery index", "Generated unit-length embeddings around n/20 centres; 200 queries for recall, "
             "100 single-query searches for latency. FAISS: IndexHNSWFlat (M = 16, efConstruction = 64), "
             "searched at several efSearch values (the studio's default is 256).", pd.DataFrame(index_rows)),
            ("Embedding throughput on real crops", "VIPeR camera B (632 crops), core.reid.index.embed_folder.",
             pd.DataFrame(tp_rows)),
        ])

    for name, fn, rows in (("index", bench_index, index_rows), ("throughput", bench_throughput, tp_rows),
                           ("gmm", bench_gmm, gmm_rows)):
        if name not in args.skip:
            fn(args, rows)
            write()
    print(write().read_text())
    return 0


if __name__ == "__main__":
    from core import cli  # a StudioError: one line and exit code 2, no stack trace

    sys.exit(cli.run(main))
