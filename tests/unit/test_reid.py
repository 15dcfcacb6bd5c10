import json
import os
import subprocess

import numpy as np
import pytest

from core import cli
from core.artifacts import ArtifactError
from core.datasets import catalog, splits
from core.errors import StudioError
from core.images import load_image
from core.reid import __main__ as reid_cli
from core.reid import evaluation, gog, handcrafted, losses, protocols, sampling, search
from core.reid import train as T


def ref_triplet(a, p, n, margin):
    dap = np.linalg.norm(a - p, axis=1)
    dan = np.linalg.norm(a - n, axis=1)
    return np.maximum(dap - dan + margin, 0).mean()


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 3)
    emb = rng.normal(size=(12, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return labels, emb


def test_triplet_loss_matches_numpy():
    rng = np.random.default_rng(1)
    a, p, n = (rng.normal(size=(20, 5)).astype(np.float32) for _ in range(3))
    for margin in (0.2, 1.0):
        got = float(losses.triplet_loss(a, p, n, margin))
        assert got == pytest.approx(ref_triplet(a, p, n, margin), rel=1e-5)
    stacked = np.concatenate([a, p, n])
    assert float(losses.TripletStackLoss(1.0)(np.zeros(60), stacked)) == pytest.approx(ref_triplet(a, p, n, 1.0), rel=1e-5)


def test_batch_hard_matches_numpy_mining(batch):
    labels, emb = batch
    d = sampling.pairwise_distances(emb)
    assert np.allclose(d, np.asarray(losses.pairwise_distances(emb)), atol=1e-5)
    pos, neg = sampling.batch_hard(d, labels)
    assert all(labels[pos] == labels) and all(labels[neg] != labels) and all(pos != np.arange(12))
    expected = np.maximum(d[np.arange(12), pos] - d[np.arange(12), neg] + 0.3, 0).mean()
    assert float(losses.batch_hard_triplet_loss(labels, emb, 0.3)) == pytest.approx(expected, rel=1e-5)
    soft = np.log1p(np.exp(d[np.arange(12), pos] - d[np.arange(12), neg])).mean()
    assert float(losses.batch_hard_triplet_loss(labels, emb, soft=True)) == pytest.approx(soft, rel=1e-5)


def test_semi_hard_matches_numpy_mining(batch):
    labels, emb = batch
    d = sampling.pairwise_distances(emb)
    trips = np.array(sampling.semi_hard(d, labels, 0.3))
    assert len(trips) == 12 * 2
    expected = np.maximum(d[trips[:, 0], trips[:, 1]] - d[trips[:, 0], trips[:, 2]] + 0.3, 0).mean()
    assert float(losses.semi_hard_triplet_loss(labels, emb, 0.3)) == pytest.approx(expected, rel=1e-5)


def test_sampling_is_seeded_and_valid():
    labels = np.repeat(np.arange(10), 2)
    cams = np.tile([0, 1], 10)
    t = sampling.random_triplets(labels, 50, seed=3, cameras=cams)
    assert np.array_equal(t, sampling.random_triplets(labels, 50, seed=3, cameras=cams))
    assert (labels[t[:, 0]] == labels[t[:, 1]]).all() and (labels[t[:, 0]] != labels[t[:, 2]]).all()
    assert (cams[t[:, 0]] != cams[t[:, 1]]).all()
    pairs, same = sampling.random_pairs(labels, 40, seed=1)
    assert ((labels[pairs[:, 0]] == labels[pairs[:, 1]]) == same.astype(bool)).all() and 0 < same.mean() < 1
    batches = list(sampling.pk_batches(labels, p=4, k=3, seed=0))
    assert len(batches) == 2 and all(len(b) == 12 for b in batches)
    assert all(len(set(labels[b])) == 4 for b in batches)


def test_cmc_and_map_by_hand():
    # query 0's match is at rank 2, query 1's at rank 1, query 2 has no match in the gallery
    # gallery: a, x, b. Query a ranks x (0.1), a (0.5), b: match at rank 2.
    # Query b ranks b (0.3), a (0.4), x: match at rank 1. Query z has no match: left out.
    dist = np.array([[0.5, 0.1, 0.9], [0.4, 0.8, 0.3], [0.1, 0.2, 0.3]])
    r = evaluation.evaluate(dist, ["a", "b", "z"], ["a", "x", "b"], max_rank=3)
    assert r.n_queries == 2
    assert r.cmc.tolist() == [0.5, 1.0, 1.0]
    assert r.mAP == pytest.approx((1 / 2 + 1) / 2)
    # two correct matches: ranks 1 and 3 -> AP = (1/1 + 2/3) / 2
    r2 = evaluation.evaluate(np.array([[0.1, 0.5, 0.2]]), ["a"], ["a", "a", "b"])
    assert r2.mAP == pytest.approx((1 + 2 / 3) / 2) and r2.rank(1) == 1.0


def test_rerank_keeps_shape_and_perfect_order():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (6, 4))
    q, g = centres + rng.normal(0, 0.1, (6, 4)), centres + rng.normal(0, 0.1, (6, 4))
    rr = evaluation.k_reciprocal_rerank(evaluation.euclidean(q, g), evaluation.euclidean(q, q),
                                        evaluation.euclidean(g, g), k1=3, k2=2)
    assert rr.shape == (6, 6)
    assert evaluation.evaluate(rr, range(6), range(6)).rank(1) == 1.0
    # distances shifted below zero (z-scores, XQDA's indefinite metric) re-rank as the same distances
    d = [evaluation.euclidean(q, g), evaluation.euclidean(q, q), evaluation.euclidean(g, g)]
    low = min(x.min() for x in d) + 50.0
    shifted = evaluation.k_reciprocal_rerank(*[x - low for x in d], k1=3, k2=2)
    assert evaluation.evaluate(shifted, range(6), range(6)).rank(1) == 1.0


def test_lomo_and_xqda_learn_a_cross_view_metric():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (128, 48, 3), dtype=np.uint8)
    f = handcrafted.lomo(img)
    assert f.shape == handcrafted.lomo(img[:64, :24]).shape and np.allclose(f, handcrafted.lomo(img))
    # identities differ along few directions; the camera adds large noise along others
    n, d = 120, 30
    ident = rng.normal(0, 1, (n, 3)) @ rng.normal(0, 1, (3, d))
    cam_noise = rng.normal(0, 3, (2, n, d)) * (np.arange(d) >= 10)
    xa, xb = ident + cam_noise[0], ident + cam_noise[1]
    ids = np.arange(n)
    tr, te = ids < 80, ids >= 80
    x = handcrafted.XQDA(max_dims=10).fit(xa[tr], ids[tr], xb[tr], ids[tr])
    xq = evaluation.evaluate(x.distance(xa[te], xb[te]), ids[te], ids[te]).rank(1)
    eu = evaluation.evaluate(evaluation.euclidean(xa[te], xb[te]), ids[te], ids[te]).rank(1)
    assert xq > 0.8 and xq > eu + 0.3


def test_siltp_codes_by_hand():
    g = np.full((11, 11), 100, np.uint8)
    g[5, 8] = 140          # right neighbour at radius 3: brighter than 1.3 x centre -> digit 1 (x 3^0)
    g[2, 5] = 60           # upper neighbour: darker than 0.7 x centre -> digit 2 (x 3^1)
    g[5, 2] = 120          # left neighbour: within the tolerance -> 0
    assert handcrafted.siltp_codes(g, 3)[5, 5] == 1 + 2 * 3
    assert handcrafted.siltp_codes(g * 0 + 7, 5).max() == 0        # flat image: all zeros
    # scale invariance: the same pattern at another brightness keeps its code
    assert (handcrafted.siltp_codes(g // 2, 3)[5, 5]) == 1 + 2 * 3


def test_gog_matches_a_reference_and_its_layout():
    from scipy.linalg import logm

    rng = np.random.default_rng(1)
    mu = rng.normal(0, 1, (3, 4))
    a = rng.normal(0, 1, (3, 4, 4))
    cov = a @ a.transpose(0, 2, 1)
    got = gog.spd_log_vectors(mu, cov)
    for i in range(3):
        c = cov[i] + gog.EPS * np.eye(4)
        P = np.block([[c + np.outer(mu[i], mu[i]), mu[i][:, None]], [mu[i][None, :], np.ones((1, 1))]])
        L = np.real(logm(P * np.linalg.det(c) ** (-1 / 5)))
        iu = np.triu_indices(5)
        assert np.allclose(got[i], L[iu] * np.where(iu[0] == iu[1], 1, np.sqrt(2)), atol=1e-8)
    img = rng.integers(0, 255, (160, 70, 3), dtype=np.uint8)
    f = gog.gog(img)
    assert gog.block_sizes() == [7567, 7567, 7567, 4921] and f.shape == (27622,) and np.isfinite(f).all()
    assert np.allclose(f, gog.gog(img)) and gog.gog(img[:80, :35]).shape == f.shape
    flat = gog.gog(np.full((128, 48, 3), 90, np.uint8))     # no texture, one colour: finite, not all equal
    assert np.isfinite(flat).all() and flat.std() > 0


def test_gog_equals_the_straightforward_implementation():
    """The vectorised GOG gives the descriptors the straightforward implementation (``core/reid/gog.py`` at
    commit 84e7302, read from the repository's history) gives for the same images, within 1e-5 relative,
    on one thread, split over two, and in batches."""
    from bench.gog import baseline_module
    from tests.unit.gog_images import BASELINE, reference_images

    try:
        old = baseline_module(BASELINE)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"this checkout has no git history with commit {BASELINE} (a clone has it)")
    ref = np.stack([old.gog(im) for im in reference_images()])
    images = reference_images()
    for got in (np.stack([gog.gog(im) for im in images]), np.stack([gog.gog(im, threads=2) for im in images]),
                handcrafted.describe_many(images, "gog", 2)):
        rel = np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)
        assert rel.max() < 1e-5 and np.allclose(got, ref, rtol=1e-5, atol=1e-6)
    one = handcrafted.describe_many(images[:1], "lomo+gog", 2)
    assert one.shape == (1, handcrafted.LOMO_DIMS + 27622) and np.allclose(one[0, handcrafted.LOMO_DIMS:], ref[0],
                                                                           rtol=1e-5, atol=1e-6)


def test_xqda_blocks_are_normalised_separately():
    rng = np.random.default_rng(2)
    n = 60
    ident = rng.normal(0, 1, (n, 6))
    xa = np.hstack([ident, ident[:, :3]]) + rng.normal(0, 0.3, (n, 9))
    xb = np.hstack([ident, ident[:, :3]]) + rng.normal(0, 0.3, (n, 9))
    ids = np.arange(n)
    scale = np.r_[np.ones(6), 50 * np.ones(3)]          # one descriptor's values on a far larger scale
    blocks = ((6, 1.0), (3, 0.5))
    x = handcrafted.XQDA(max_dims=5, blocks=blocks).fit(xa, ids, xb, ids)
    xs = handcrafted.XQDA(max_dims=5, blocks=blocks).fit(xa * scale, ids, xb * scale, ids)
    assert np.allclose(x.distance(xa, xb), xs.distance(xa * scale, xb * scale))      # blocks: scale-free
    plain = handcrafted.XQDA(max_dims=5).fit(xa, ids, xb, ids)
    plain_s = handcrafted.XQDA(max_dims=5).fit(xa * scale, ids, xb * scale, ids)
    assert not np.allclose(plain.distance(xa, xb), plain_s.distance(xa * scale, xb * scale))
    again = handcrafted.XQDA.from_arrays(x.arrays())
    assert again.blocks == blocks and np.allclose(again.distance(xa, xb), x.distance(xa, xb))
    assert handcrafted.XQDA.from_arrays(plain.arrays()).blocks == ()
    assert x.proj_.shape == (9, len(x.M_)) and "pca" not in x.arrays()       # PCA and W folded into one
    legacy = {k: v for k, v in x.arrays().items() if k != "proj"}             # files saved before the fold
    legacy.update(pca=x.proj_ * 2, W=np.eye(len(x.M_)) / 2)
    assert np.allclose(handcrafted.XQDA.from_arrays(legacy).distance(xa, xb), x.distance(xa, xb))
    with pytest.raises(ValueError, match="learned on 9"):
        x.distance(xa[:, :8], xb[:, :8])


def test_parse_split_and_protocols(demo_dir):
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    assert protocols.parse_split(ds, "course").name == "course"
    assert protocols.parse_split(ds, "literature:3") == protocols.parse_split(ds, "literature-3")
    assert protocols.parse_split(ds, "random-course:2").seed == 2
    with pytest.raises(StudioError):
        protocols.parse_split(ds, "literature:10")
    with pytest.raises(StudioError):
        protocols.parse_split(ds, "nonsense")


@pytest.fixture(scope="module")
def demo_reid(demo_dir):
    return catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))


@pytest.fixture(scope="module")
def few_reid(demo_reid):
    """120 of the demo's identities: enough for the hand-crafted methods' checks at a third of the cost of
    describing every demo image (GOG is the slowest descriptor)."""
    return demo_reid.subset(demo_reid.pids[:120])


def test_short_course_training_beats_chance_and_round_trips(demo_reid, tmp_path):
    split = splits.course_split(demo_reid.pids)
    cfg = T.TrainConfig("course", epochs=5, steps_per_epoch=4, triplets_per_batch=128, seed=0)
    seen = []
    model = T.train(demo_reid, split, cfg, progress=seen.append)
    assert seen[-1].fraction == 1.0 and seen[-1].phase == "epochs" and len(model.history) == 5
    assert list(seen[-1].history) == model.history                      # the live chart's epochs
    emb = T.test_embeddings(model, demo_reid, split)
    r = T.rank(model, emb)
    chance = 1 / len(split.test)
    assert r.rank(1) > 8 * chance, r.summary()
    assert np.allclose(np.linalg.norm(emb.query, axis=1), 1, atol=1e-4)       # L2-normalised
    model.save(tmp_path / "m")
    again = T.load(tmp_path / "m")
    assert np.allclose(T.test_embeddings(again, demo_reid, split).query, emb.query, atol=1e-5)
    hits = search.search(again, np.zeros((200, 80, 3), np.uint8) + 128, emb, 10)
    assert len(hits) == 10 and [h.rank for h in hits] == list(range(1, 11))
    assert all(h.is_match is None for h in hits)
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "m.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="does not match its card"):
        T.load(tmp_path / "m")


def test_lomo_xqda_method_and_triplet_modes(demo_reid, tmp_path):
    split = splits.course_split(demo_reid.pids)
    model = T.train(demo_reid, split, T.TrainConfig("lomo-xqda"))
    emb = T.test_embeddings(model, demo_reid, split)
    assert T.rank(model, emb).rank(1) > 0.5
    # by default each training image's mirror is one more sample of its person; without them, another metric
    plain = T.train(demo_reid, split, T.TrainConfig("lomo-xqda", mirror=False))
    assert model.card["mirrored_training_images"] and not plain.card["mirrored_training_images"]
    assert not np.allclose(model.xqda.M_, plain.xqda.M_)
    model.save(tmp_path / "x")
    assert T.load(tmp_path / "x").method == "lomo-xqda"
    hard = search.triplets(model, emb, "hardest", 4)
    assert len(hard) == 4 and hard.margin.is_monotonic_increasing
    wrong = search.triplets(model, emb, "wrong", 50)
    assert (wrong.margin < 0).all()
    rand = search.triplets(model, emb, "random", 3, seed=1)
    assert len(rand) == 3 and (rand.anchor_pid != rand.negative_pid).all()
    for plain in ("lomo-euclidean", "lomo-cosine"):
        m = T.train(demo_reid, split, T.TrainConfig(plain))
        m.save(tmp_path / plain)
        again = T.load(tmp_path / plain)
        assert again.method == plain and again.xqda is None
        r = T.rank(again, T.test_embeddings(again, demo_reid, split))
        assert 1 / len(split.test) < r.rank(1) < T.rank(model, emb).rank(1)   # above chance, below XQDA
    pts = search.embedding_map(emb)
    assert len(pts) == len(emb.query) + len(emb.gallery) and {"x", "y", "pid", "role"} <= set(pts.columns)


def test_an_upload_is_answered_with_blas_on_one_thread_and_the_setting_restored(few_reid):
    """A second BLAS thread spins on after each small product and slowed the next upload's descriptors by
    half (bench/results/reid-gog.md): describing, projecting and comparing a query hold BLAS to one."""
    from threadpoolctl import threadpool_info

    from core import threads

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    split = splits.course_split(few_reid.pids)
    model = T.train(few_reid, split, T.TrainConfig("lomo-gog-xqda"))
    emb = T.test_embeddings(model, few_reid, split)
    seen = []
    for name in ("from_descriptors", "_distance"):
        inner = getattr(model, name)
        setattr(model, name, lambda *a, inner=inner: (seen.append(blas()), inner(*a))[1])
    query = load_image(few_reid.camera(0).path.iloc[0])
    with threads.limited(2):
        assert blas() == {2}
        hits = search.search(model, query, emb, top=3)
        assert blas() == {2}
    assert len(hits) == 3 and seen == [{1}, {1}]


def test_gog_methods_train_save_load_and_refuse_old_features(few_reid, tmp_path):
    split = splits.course_split(few_reid.pids)
    r1 = {}
    with handcrafted.memoised():      # each demo image's descriptors once for all three methods
        for method in ("lomo-xqda", "gog-xqda", "lomo-gog-xqda"):
            model = T.train(few_reid, split, T.TrainConfig(method))
            assert model.card["descriptor"] == T.HANDCRAFTED[method]
            emb = T.test_embeddings(model, few_reid, split)
            r1[method] = T.rank(model, emb).rank(1)
            model.save(tmp_path / method)
            again = T.load(tmp_path / method)
            assert again.xqda.blocks == model.xqda.blocks
            assert np.allclose(T.test_embeddings(again, few_reid, split).query, emb.query, atol=1e-5)
    assert len(T.load(tmp_path / "lomo-gog-xqda").xqda.blocks) == 5
    assert r1["gog-xqda"] > 0.5 and r1["lomo-gog-xqda"] >= r1["lomo-xqda"] - 0.05, r1
    # a model saved before SILTP / GOG (descriptor version 1) is refused with a way out, not misread
    card = tmp_path / "lomo-gog-xqda.json"
    old = json.loads(card.read_text())
    old.pop("descriptor_version")
    card.write_text(json.dumps(old))
    with pytest.raises(ArtifactError, match="older version of the hand-crafted features; train it again"):
        T.load(tmp_path / "lomo-gog-xqda")
    with handcrafted.memoised():
        img = np.random.default_rng(0).integers(0, 255, (128, 48, 3), dtype=np.uint8)
        assert np.array_equal(handcrafted.describe(img, "lomo+gog"),
                              np.concatenate([handcrafted.lomo(img), gog.gog(img)]))
        assert len(handcrafted._MEMO) == 2
    assert handcrafted._MEMO is None


def test_cli_train_evaluate_embed_and_errors(tmp_path, capsys, cache_dir, demo_dir):
    out = tmp_path / "lx"
    assert cli.run(reid_cli.main, ["train", "--method", "lomo-xqda", "--out", str(out), "--cache-dir", str(cache_dir)]) == 0
    assert "lomo-xqda on course: Rank-1" in capsys.readouterr().out
    plain = tmp_path / "lx-plain"
    assert cli.run(reid_cli.main, ["train", "--method", "lomo-xqda", "--no-mirror", "--out", str(plain),
                                   "--cache-dir", str(cache_dir)]) == 0
    cards = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("lx", "lx-plain")]
    assert [c["config"]["mirror"] for c in cards] == [True, False]
    assert [c["mirrored_training_images"] for c in cards] == [True, False]
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(out), "--rerank", "--cache-dir", str(cache_dir)]) == 0
    assert "re-ranking" in capsys.readouterr().out
    npz = tmp_path / "e.npz"
    assert cli.run(reid_cli.main, ["embed", "--model", str(out), str(demo_dir / "VIPeR" / "cam_a"), "--out", str(npz)]) == 0
    assert np.load(npz)["embeddings"].shape[0] == 300
    (tmp_path / "bad.json").write_text("{")
    assert cli.run(reid_cli.main, ["evaluate", "--model", str(tmp_path / "bad")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert cli.run(reid_cli.main, ["search", "--model", str(out), "--query", str(tmp_path / "bad.json")]) == 2
    assert "not an image" in capsys.readouterr().err.strip().splitlines()[-1]


def test_descriptors_are_cached_by_content_and_threads_change_nothing(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (128, 48, 3), dtype=np.uint8) for _ in range(3)]
    paths = []
    for i, im in enumerate(images):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(im).save(paths[-1])
    serial = handcrafted.describe_many(images, "lomo+gog", workers=1)
    assert np.array_equal(handcrafted.describe_many(images, "lomo+gog", workers=2), serial)
    cache = handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache")
    first = cache.features([str(p) for p in paths])
    assert np.array_equal(first, serial)
    copy = tmp_path / "renamed.png"
    copy.write_bytes(paths[1].read_bytes())

    def no_compute(*_):
        raise AssertionError("described again")

    monkeypatch.setattr(handcrafted, "describe_many", no_compute)
    again = handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache").features([str(copy), str(paths[0])])
    assert np.array_equal(again, serial[[1, 0]])
    assert handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache").path.name == \
        f"handcrafted-lomo-gog-v{handcrafted.DESCRIPTOR_VERSION}.npz"


def test_mirrored_descriptors_are_of_the_flipped_images_and_cached_apart(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(4)
    images = [rng.integers(0, 255, (128, 48, 3), dtype=np.uint8) for _ in range(2)]
    paths = []
    for i, im in enumerate(images):
        paths.append(str(tmp_path / f"m{i}.png"))
        Image.fromarray(im).save(paths[-1])
    mirrored = handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache", mirror=True)
    got = mirrored.features(paths)
    assert np.array_equal(got, handcrafted.describe_many([im[:, ::-1].copy() for im in images], "lomo+gog"))
    plain = handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache").features(paths)
    assert not np.allclose(got, plain)
    assert mirrored.path != handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache").path
    assert np.array_equal(handcrafted.DescriptorCache("lomo+gog", tmp_path / "cache", mirror=True).features(paths), got)


def test_xqda_takes_the_mirrors_as_more_samples_of_the_same_persons():
    rng = np.random.default_rng(5)
    n = 40
    pids = np.repeat(np.arange(n), 2)
    cams = np.tile([0, 1], n)
    ident = rng.normal(0, 1, (n, 16))
    F = np.repeat(ident, 2, axis=0) + rng.normal(0, 0.5, (2 * n, 16))
    rows = np.arange(60)                                  # 30 persons to learn from, 10 to test
    q, g = np.arange(60, 80, 2), np.arange(61, 80, 2)
    plain = handcrafted.XQDA().fit_rows(F, pids, cams, rows)
    a, b = rows[cams[rows] == 0], rows[cams[rows] == 1]
    assert np.allclose(plain.distance(F[q], F[g]), handcrafted.XQDA().fit(F[a], pids[a], F[b], pids[b]).distance(F[q], F[g]))
    # mirrors equal to the images: the same statistics, so the same distances; the samples are counted twice
    same = handcrafted.XQDA().fit_rows(F, pids, cams, rows, mirrored=F.copy())
    assert np.allclose(same.distance(F[q], F[g]), plain.distance(F[q], F[g]), rtol=1e-6, atol=1e-8)
    # mirrors of other persons (rows shuffled): labelled with the row's person, they change the metric
    shuffled = handcrafted.XQDA().fit_rows(F, pids, cams, rows, mirrored=F[rng.permutation(2 * n)])
    assert not np.allclose(shuffled.distance(F[q], F[g]), plain.distance(F[q], F[g]), rtol=1e-3)


def test_cross_validation_chooses_inside_the_training_identities():
    from core.reid import frozen

    rng = np.random.default_rng(0)
    n = 30
    pids = np.repeat(np.array([f"p{i:02d}" for i in range(n)]), 2)
    cams = np.tile([0, 1], n)
    fs = frozen.folds(pids, cams, k=3, seed=0)
    held = [set(pids[f.query]) for f in fs]
    assert set().union(*held) == set(pids) and sum(map(len, held)) == n          # every identity held out once
    for f in fs:
        assert not set(pids[f.fit]) & set(pids[f.query]) and set(pids[f.query]) == set(pids[f.gallery])
    ident = rng.normal(0, 1, (n, 12))
    informative = np.repeat(ident, 2, axis=0) + rng.normal(0, 0.4, (2 * n, 12))
    noise = rng.normal(0, 1, (2 * n, 12))
    seen = []
    cv = frozen.cross_validate([informative, noise], [(), ()], [False, True], pids, cams,
                               progress=lambda event: seen.append(event.fraction))
    assert cv["regs"][0] is None and cv["regs"][1] in (0.01, 0.03, 0.1, 0.3, 1.0)
    assert cv["weight"] == 0.0                 # noise as the second part: fused with weight 0, i.e. left out
    assert set(cv["held-out Rank-1"]) == {"part 2 regularisation", "fusion weight"} and seen[-1] == 1.0
    cv = frozen.cross_validate([noise, informative], [(), ()], [False, True], pids, cams)
    assert cv["weight"] >= 0.5                 # the informative part weighs in
    # mirrors enter the folds' fits as more samples: identical ones leave every held-out score as it was,
    # other persons' ones (as if mislabelled) do not
    same = frozen.cross_validate([noise, informative], [(), ()], [False, True], pids, cams,
                                 mirrors=[noise.copy(), informative.copy()])
    assert same["held-out Rank-1"] == cv["held-out Rank-1"]
    other = frozen.cross_validate([noise, informative], [(), ()], [False, True], pids, cams,
                                  mirrors=[None, informative[rng.permutation(2 * n)]])
    assert other["held-out Rank-1"] != cv["held-out Rank-1"]
    with pytest.raises(ValueError, match="at least 6 identities"):
        frozen.folds(pids[:8], cams[:8], k=3)
    d = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]])
    z = frozen.zscored(d)
    assert np.allclose(z.mean(1), 0) and np.allclose(z.std(1), 1) and z[1, 2] > z[1, 0]


def test_fused_method_trains_with_its_settings_on_the_card_and_round_trips(demo_reid, tmp_path, cache_dir):
    """Frozen Xception + XQDA fused with LOMO + GOG + XQDA, on 40 demo identities (real ImageNet weights)."""
    from core.reid import frozen

    if not os.environ.get("STUDIO_XCEPTION_WEIGHTS"):
        pytest.skip("needs Xception's ImageNet weights (../shared/weights)")
    ds = demo_reid.subset(demo_reid.pids[:40])
    split = splits.course_split(ds.pids)
    model, result = T.train_and_save(ds, split, T.TrainConfig("fused-xqda"), tmp_path / "fused", cache_dir=cache_dir)
    cv = model.card["cross_validation"]
    assert cv["identities"] == len(split.train) and len(model.card["fusion_weights"]) == 2
    assert model.card["fusion_weights"][1] == cv["weight"] and cv["regs"][1] == model.xqdas[1].reg
    assert [len(x.M_) for x in model.xqdas] and result.rank(1) > 0.3
    again = T.load(tmp_path / "fused")
    card = json.loads((tmp_path / "fused.json").read_text())
    card["config"]["weights"] = "/elsewhere/xception.h5"       # trained on another machine: its path is ignored
    (tmp_path / "fused.json").write_text(json.dumps(card))
    assert T.load(tmp_path / "fused").weights is None and T.load(tmp_path / "fused", weights="w.h5").weights == "w.h5"
    emb = T.test_embeddings(again, ds, split, cache_dir=cache_dir)
    assert np.allclose(T.rank(again, emb).cmc, result.cmc)
    # an uploaded photo goes the same way as the cached gallery (two threads, no disk cache)
    q = load_image(emb.q_frame.path[0])
    assert np.allclose(again.embed([q])[0], emb.query[0], rtol=1e-4, atol=1e-4)
    assert frozen.StripeCache(cache_dir).path.is_file()
    hits = search.search(again, q, emb, 5, emb.q_frame.pid[0])
    assert len(hits) == 5 and all(0 <= h.similarity <= 100 for h in hits)
