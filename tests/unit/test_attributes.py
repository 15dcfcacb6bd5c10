import math

import numpy as np
import pandas as pd
import pytest

from core import cli
from core.artifacts import ArtifactError
from core.attributes import __main__ as attr_cli
from core.attributes import labels as L
from core.attributes import layers, metrics, sampling, splits
from core.attributes import train as A
from core.datasets import catalog
from core.errors import StudioError
from core.images import load_image, resize
from tests.conftest import needs_weights


def test_peta35_names_and_groups():
    assert len(L.PETA35) == 35 and len(set(L.PETA35)) == 35
    binary, groups = L.layout(L.PETA35)
    assert groups == {"age": ["personalLess30", "personalLess45", "personalLess60", "personalLarger60"]}
    assert len(binary) == 31 and "personalLess30" not in binary
    assert L.available(["a", "personalMale"]) == ["personalMale"] and L.available(["a", "b"]) == ["a", "b"]


def test_group_targets_none_and_unknown():
    attrs = ["x", "g1", "g2"]
    Y = np.array([[1, 0, 1], [0, 0, 0], [1, np.nan, 0], [0, 1, 0]], np.float32)
    assert L.group_targets(Y, attrs, ["g1", "g2"]).tolist() == [1, 2, -1, 0]


def test_masked_weighted_bce_matches_numpy():
    y = np.array([1, 0, np.nan, 1, 0], np.float32)
    p = np.array([0.9, 0.2, 0.5, 0.3, 0.6], np.float32)
    share = 0.3
    w_pos, w_neg = math.exp(1 - share), math.exp(share)
    k = ~np.isnan(y)
    ref = -(w_pos * y[k] * np.log(p[k]) + w_neg * (1 - y[k]) * np.log(1 - p[k])).mean()
    got = float(layers.MaskedWeightedBCE(share)(y[:, None], p[:, None]))
    assert got == pytest.approx(ref, rel=1e-5)
    plain = float(layers.MaskedWeightedBCE(share, weighted=False)(y[:, None], p[:, None]))
    assert plain == pytest.approx(-(y[k] * np.log(p[k]) + (1 - y[k]) * np.log(1 - p[k])).mean(), rel=1e-5)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    cce = float(layers.MaskedSparseCCE()(np.array([0, -1]), probs))
    assert cce == pytest.approx(-math.log(0.7), rel=1e-5)


def test_metrics_by_hand():
    y = np.array([[1, 0], [1, 1], [0, np.nan], [0, 0]], np.float64)
    p = np.array([[1, 0], [0, 1], [1, 1], [0, 1]], np.float64)
    per = metrics.label_based(y, p, ["a", "b"]).set_index("attribute")
    # a: P = 2 (TP 1), N = 2 (TN 1) -> (0.5 + 0.5) / 2; b: P = 1 (TP 1), N = 2 (TN 1) -> (1 + 0.5) / 2
    assert per.loc["a", "mA"] == 0.5 and per.loc["b", "mA"] == 0.75
    inst = metrics.instance_based(y, p)
    # per image (known labels only): acc 1, 1/2, 0/1, 0/1 ; prec 1, 1, 0, 0 ; rec 1, 1/2, 0 (empty), 0 (empty)
    assert inst["accuracy"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert inst["precision"] == pytest.approx(0.5) and inst["recall"] == pytest.approx(1.5 / 4)
    s = metrics.summary(y, p, ["a", "b"])
    assert s["mA"] == pytest.approx(0.625) and s["F1"] == pytest.approx(2 * 0.5 * 0.375 / 0.875)


def test_splits_proportions_and_person_disjointness():
    frame = pd.DataFrame({"person": [f"s/{i // 3}" for i in range(300)]})
    r = splits.random_image_split(frame, 0)
    assert (len(r.train), len(r.val), len(r.test)) == (150, 30, 120)
    assert len(set(r.train) | set(r.val) | set(r.test)) == 300
    p = splits.person_split(frame, 0)
    parts = [set(frame.person[idx]) for idx in (p.train, p.val, p.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(p.train) + len(p.val) + len(p.test) == 300
    assert np.array_equal(splits.person_split(frame, 0).test, p.test)


def test_leave_one_subset_out_tests_on_a_site_never_trained_or_validated_on():
    sites = ["A"] * 60 + ["B"] * 120 + ["C"] * 120
    frame = pd.DataFrame({"subset": sites, "person": [f"{s}/{i // 2}" for i, s in enumerate(sites)]})
    assert splits.leave_out_kinds(frame) == ["leave-out:A", "leave-out:B", "leave-out:C"]
    s = splits.make(frame, "leave-out:B", 3)
    assert s.name == "leave-out:B" and set(frame.subset[s.test]) == {"B"} and len(s.test) == 120
    assert "B" not in set(frame.subset[s.train]) | set(frame.subset[s.val])
    assert not set(frame.person[s.train]) & set(frame.person[s.val])
    assert len(s.train) + len(s.val) == 180 and set(frame.subset[s.val]) <= {"A", "C"}
    assert len(set(frame.person[s.val])) == 15                       # 90 persons cut 5 : 1
    assert np.array_equal(splits.make(frame, "leave-out:B", 3).val, s.val)
    with pytest.raises(StudioError, match="subsets are A, B, C"):
        splits.make(frame, "leave-out:D")
    with pytest.raises(StudioError, match="not made of several subsets"):
        splits.make(frame.drop(columns="subset"), "leave-out:A")


@pytest.fixture(scope="module")
def demo_attrs(demo_dir):
    return catalog.load(catalog.Source("attributes", demo_dir / "PETA", True))


@pytest.fixture(scope="module")
def half_attrs(demo_attrs):
    """Half of the demo's images (its first 300): for the tests whose cost is Xception over every image
    (maps of three views, networks through all of Xception), not the heads."""
    from dataclasses import replace

    return replace(demo_attrs, frame=demo_attrs.frame.iloc[:300].reset_index(drop=True))


@needs_weights
def test_short_run_beats_majority_and_round_trips(demo_attrs, tmp_path):
    model, report = A.train(demo_attrs, A.AttrConfig(epochs=40))
    per = report["per_attribute"].set_index("attribute")
    for planted in ["personalMale", "carryingBackpack", "lowerBodyJeans", "lowerBodyShorts", "upperBodyTshirt"]:
        assert per.loc[planted, "mA"] > 0.6, (planted, per.loc[planted].to_dict())   # majority guess: 0.5
    assert report["summary"]["mA"] > 0.65
    s = report["summary"]     # calibrated on validation (the demo's raw probabilities are near-calibrated already)
    assert set(model.card["calibration"]["binary"]) == set(model.binary) and set(model.card["f1_thresholds"]) == set(model.binary)
    assert 0 <= s["ECE"] < 0.08 and s["ECE"] <= s["ECE before calibration"] + 0.01, s
    split = report["split"]
    Y = demo_attrs.labels(model.attributes)[split.test]
    majority = (np.nanmean(Y, 0) >= 0.5).astype(float)
    acc_model = (report["predictions"] == Y).mean()
    acc_major = (np.tile(majority, (len(Y), 1)) == Y).mean()
    assert acc_model > acc_major
    model.save(tmp_path / "a")
    again = A.load(tmp_path / "a")
    F = A.dataset_features(demo_attrs, A.AttrConfig(**again.card["config"]))
    assert np.allclose(again.probabilities(F[split.test]).to_numpy(), report["probabilities"].to_numpy(), atol=1e-5)
    assert again.thresholds == model.thresholds
    (tmp_path / "a.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ArtifactError, match="does not match its card"):
        A.load(tmp_path / "a")


def test_masked_metrics_by_hand():
    y = np.array([[1], [0], [np.nan], [1]], np.float32)
    p = np.array([[0.9], [0.6], [0.1], [0.2]], np.float32)
    assert float(layers.masked_binary_accuracy(y, p)) == pytest.approx(1 / 3)
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]], np.float32)
    assert float(layers.masked_class_accuracy(np.array([0, 0, -1]), probs)) == pytest.approx(0.5)


@needs_weights
def test_colour_attributes_are_optional_heads(demo_attrs):
    model, report = A.train(demo_attrs, A.AttrConfig(epochs=3, colours=True))
    colours = [a for a in model.attributes if a.startswith("upperBody") and a[9:] in L.COLOURS]
    assert len(colours) >= 5 and all(c in model.binary for c in colours)
    assert L.words("upperBodyRed") == "red top" and L.words("lowerBodyBlue") == "blue bottom"
    last = model.history[-1]
    assert 0.5 < last["accuracy"] <= 1 and 0.5 < last["val_accuracy"] <= 1   # per-output metrics, averaged


def test_the_heads_size_and_dropout_are_settings_kept_on_the_card(demo_attrs, tmp_path):
    model, _ = A.train(demo_attrs, A.AttrConfig(epochs=2, head_hidden=48, head_dropout=0.25))
    assert model.heads.get_layer("shared").units == 48 and model.heads.get_layer("shared_dropout").rate == 0.25
    model.save(tmp_path / "h")
    again = A.load(tmp_path / "h")
    assert again.heads.get_layer("shared").units == 48
    assert (again.card["config"]["head_hidden"], again.card["config"]["head_dropout"]) == (48, 0.25)
    for bad in (dict(head_hidden=0), dict(head_dropout=1.0), dict(head_dropout=-0.1)):
        with pytest.raises(StudioError, match="heads'"):
            A.AttrConfig(**bad)


def test_an_ensemble_of_heads_averages_its_members_and_round_trips(demo_attrs, tmp_path):
    cfg = A.AttrConfig(epochs=3, ensemble=2, seed=4)
    assert cfg.tag == "xception-x2"
    model, report = A.train(demo_attrs, cfg)
    F = A.dataset_features(demo_attrs, cfg)[report["split"].test]
    one, two = (model.heads.get_layer(f"attribute_heads_{i}") for i in (1, 2))
    a, b, mean = (m.predict(F, verbose=0) for m in (one, two, model.heads))
    assert not np.allclose(a["personalMale"], b["personalMale"], atol=1e-3)           # two seeds, two models
    for k in mean:
        assert np.allclose(mean[k], (a[k] + b[k]) / 2, atol=1e-6), k
    assert [h.get("member") for h in model.history].count(2) >= 1 and model.card["config"]["ensemble"] == 2
    model.save(tmp_path / "e")
    again = A.load(tmp_path / "e")                                                 # safe mode
    assert np.allclose(again.probabilities(F).to_numpy(), report["probabilities"].to_numpy(), atol=1e-5)
    with pytest.raises(StudioError, match="1 to 20 members"):
        A.AttrConfig(ensemble=0)


def test_cli_errors(tmp_path, capsys):
    assert cli.run(attr_cli.main, ["predict", "--model", str(tmp_path / "none"), "x.png"]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert cli.run(attr_cli.main, ["train", "--size", "big"]) == 2
    assert "--size must look like 128x64" in capsys.readouterr().err.strip().splitlines()[-1]
    assert cli.run(attr_cli.main, ["train", "--head-dropout", "1.5"]) == 2
    assert "dropout must be at least 0 and below 1, got 1.5" in capsys.readouterr().err.strip().splitlines()[-1]
    assert cli.run(attr_cli.main, ["train", "--finetune-epochs", "2", "--finetune-from", "block3"]) == 2
    assert "fine-tuning starts at one of block5" in capsys.readouterr().err.strip().splitlines()[-1]
    assert cli.run(attr_cli.main, ["features", "--weights", str(tmp_path / "missing.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "weights file not found" in err and "STUDIO_XCEPTION_WEIGHTS" in err


def test_mirror_layer_flips_left_right():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    assert np.array_equal(np.asarray(layers.Mirror()(x)), x[:, :, ::-1])


@needs_weights
def test_exit_maps_cache_the_frozen_layers_and_give_the_pooled_features(demo_attrs, tmp_path):
    import keras

    from core import backbones

    cfg = A.AttrConfig(pooling="stripes")
    idx = np.arange(6)
    maps = A.exit_maps(demo_attrs, cfg, idx, cache_dir=tmp_path)
    mirrored = A.exit_maps(demo_attrs, cfg, idx, flip=True, cache_dir=tmp_path)
    assert maps.dtype == np.float16 and maps.shape == (6, 8, 4, 728)     # 128x64 input: 1/16 of it, 728 channels
    keys = sorted(p.name.split("-w")[0] for p in (tmp_path / "features").glob("*.npz"))   # less weights, version
    assert keys == ["xception-128x64-exit", "xception-128x64-exit-flip"]
    base = backbones.build(cfg.backbone_spec())
    lower = keras.Model(base.input, backbones.exit_flow_input(base, cfg.backbone_spec()))
    images = np.stack([resize(load_image(p), 128, 64) for p in demo_attrs.frame.path[:6]]).astype(np.float32)
    direct = lower.predict(images / 127.5 - 1, verbose=0)
    assert np.abs(maps - direct).max() <= 2e-3 * np.abs(direct).max()           # float16 rounding only
    mirror = lower.predict(images[:, :, ::-1] / 127.5 - 1, verbose=0)
    assert np.abs(mirrored - mirror).max() <= 2e-3 * np.abs(mirror).max()
    assert np.abs(mirror - direct).max() > 0.1                                     # really the mirror images
    pooled = A.dataset_features(demo_attrs, cfg, cache_dir=tmp_path)[:6]           # the whole network at once
    assert np.abs(A.features_from_maps(maps, cfg) - pooled).max() <= 1e-2 * np.abs(pooled).max()
    deeper = A.exit_maps(demo_attrs, cfg, idx, cache_dir=tmp_path, block="block9")    # for fine-tuning from block9
    assert deeper.shape == maps.shape and np.abs(deeper - maps).max() > 0.1
    assert np.abs(A.features_from_maps(deeper, cfg, "block9") - pooled).max() <= 1e-2 * np.abs(pooled).max()
    assert list((tmp_path / "features").glob("xception-128x64-block9-w*.npz"))
    for wrong in ("block4", "block15", "exit"):
        with pytest.raises(StudioError, match="fine-tuning starts at one of block5, .* or block14"):
            A.cut_block(wrong)
    with pytest.raises(StudioError, match="Xception's exit flow"):
        backbones.exit_flow_input(base, backbones.BackboneSpec("mobilenetv2"))


@needs_weights
def test_stripe_pooling_is_the_same_in_the_feature_cache_and_the_image_network(half_attrs, tmp_path):
    """stripes-mid (the last map's and the middle map's stripes; "stripes" is its first part, and both share
    backbones.pool_layers, tested on its own): cached features, the image network and the maps agree."""
    from core import backbones

    pooling, dim = "stripes-mid", 5 * 2048 + 5 * 728
    cfg = A.AttrConfig(epochs=2, pooling=pooling)
    assert cfg.tag == f"xception-{pooling}" and A.AttrConfig(height=256, width=128).tag == "xception-256x128"
    assert A.AttrConfig(pooling=pooling, head_hidden=1024, head_dropout=0.3).tag == f"xception-{pooling}-h1024-d30"
    model, _ = A.train(half_attrs, cfg, cache_dir=tmp_path)
    assert model.heads.input_shape[-1] == dim                 # global + 4 stripes (of the last and middle maps)
    images = [load_image(p) for p in half_attrs.frame.path[:6]]
    cached = model.predict_images(images)                     # FeatureCache (numpy pooling) + heads
    net = model.image_network()                               # one Keras model (Keras pooling layers)
    batch = np.stack([resize(im, 128, 64) for im in images]).astype(np.float32)
    out = net.predict(batch, verbose=0)
    for a in model.binary:      # float32 calibration of a saturated output (p > 1 - 1e-6) can move ~1e-3
        assert np.abs(np.asarray(out[a]).reshape(-1) - cached[a].to_numpy()).max() <= 2e-3, a
    spec = cfg.backbone_spec()
    features = A.on_images(backbones.build(spec), model.heads, spec, "pooled", with_features=True)
    direct = np.asarray(features.predict(batch, verbose=0)[A.FEATURES])
    assert np.abs(direct - model.features(images)).max() <= 1e-5 * np.abs(direct).max()
    # the same features from the frozen layers' cached maps (what fine-tuning and the benchmark use)
    pooled = A.dataset_features(half_attrs, cfg, cache_dir=tmp_path)[:6]
    from_maps = A.features_from_maps(A.exit_maps(half_attrs, cfg, np.arange(6), cache_dir=tmp_path), cfg)
    assert from_maps.shape == (6, dim) and np.abs(from_maps - pooled).max() <= 1e-2 * np.abs(pooled).max()
    with pytest.raises(StudioError, match="divisible by 4"):
        A.AttributeModel(model.heads, {**model.card, "backbone": {**model.card["backbone"], "height": 96}}).image_network()


def test_neighbour_votes_by_hand():
    from core.attributes.neighbours import NeighbourVotes, blend

    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (6, 4))
    Y = np.array([[1, 0], [0, 1], [1, np.nan], [0, 0], [1, 1], [np.nan, 0]], np.float32)
    nv = NeighbourVotes.fit(X, Y, ["a", "b"], dims=8)
    assert nv.train.shape == (6, 4)                             # dims capped by the data
    v = nv.votes(X, k=1)                                        # each image's nearest neighbour is itself
    assert np.array_equal(v[[0, 1, 3, 4]], Y[[0, 1, 3, 4]])
    assert v[2, 1] == 0.5 and v[5, 0] == 0.5                    # its own label unknown, no other neighbour
    v6 = nv.votes(X, k=6)                                       # everyone votes; only known labels count
    assert np.all((v6 >= 0) & (v6 <= 1)) and 0 < v6[0, 0] < 1
    heads = pd.DataFrame({"a": [1.0, 0.0], "b": [0.0, 0.0]})
    votes = pd.DataFrame({"b": [1.0, 1.0], "a": [0.0, 0.0]})
    assert np.allclose(blend(heads, votes, 0.75).to_numpy(), [[0.75, 0.25], [0.0, 0.25]])
    again = NeighbourVotes.from_arrays(nv.arrays(), ["a", "b"], 1)
    assert np.array_equal(again.votes(X), v)
    with pytest.raises(KeyError):
        NeighbourVotes.from_arrays(nv.arrays(), ["a", "b", "c"], 1)


@needs_weights
def test_neighbour_votes_train_save_load_and_refuse_export(demo_attrs, tmp_path):
    model, report = A.train(demo_attrs, A.AttrConfig(epochs=5, neighbours=True))
    nb = model.card["neighbours"]
    assert nb["k"] in (10, 20) and nb["weight"] in (0.0, 0.25, 0.5, 0.75, 1.0) and 0.5 < nb["validation_mA"] <= 1
    assert report["summary"]["mA"] > 0.65
    model.save(tmp_path / "n")
    assert (tmp_path / "n.npz").is_file()
    again = A.load(tmp_path / "n")
    F = A.dataset_features(demo_attrs, A.AttrConfig(**again.card["config"]))
    test = report["split"].test
    assert np.allclose(again.probabilities(F[test]).to_numpy(), report["probabilities"].to_numpy(), atol=1e-5)
    with pytest.raises(StudioError, match="retrain without neighbour votes to export"):
        again.image_network()
    (tmp_path / "n.npz").write_bytes(b"PK\x03\x04 not an npz")
    with pytest.raises(ArtifactError, match="does not match its card"):
        A.load(tmp_path / "n")


def test_calibration_fixes_overconfident_and_biased_probabilities():
    from core.attributes import calibration as C

    rng = np.random.default_rng(0)
    n = 4000
    true_p = rng.beta(0.6, 3.0, n)                       # a rare-ish attribute, ~17 % positive
    y = (rng.random(n) < true_p).astype(float)
    raw = 1 / (1 + np.exp(-(3 * C._logit(true_p) + 1.5)))  # over-confident and pushed up (as DeepMAR does)
    frame = pd.DataFrame({"a": raw})
    Y = y[:, None]
    before = C.reliability(frame, Y, ["a"], ["a"])[1]
    cal = C.fit(frame.iloc[:2000], Y[:2000], ["a"], ["a"], {})
    a, b = cal["binary"]["a"]
    assert a == pytest.approx(1 / 3, rel=0.15) and b < 0
    after_frame = C.apply(frame.iloc[2000:].reset_index(drop=True), cal, {})
    bins, after = C.reliability(after_frame, Y[2000:], ["a"], ["a"])
    assert before > 0.08 and after < 0.03, (before, after)
    assert bins["pairs"].sum() == 2000 and list(bins["low"])[:2] == [0.0, 0.1]
    # the order of images never changes, so the balanced threshold picks the same images
    order = np.argsort(frame["a"][2000:].to_numpy(), kind="stable")
    assert (np.diff(after_frame["a"].to_numpy()[order]) >= 0).all()
    bal = C.tune(after_frame, Y[2000:], ["a"], ["a"], "balanced")["a"]
    f1 = C.tune(after_frame, Y[2000:], ["a"], ["a"], "f1")["a"]
    assert bal < 0.2 < f1                 # calibrated, the balanced threshold sits near the base rate
    with pytest.raises(ValueError):
        C.tune(after_frame, Y[2000:], ["a"], ["a"], "accuracy")


def test_group_calibration_keeps_a_distribution_and_learns_the_bias():
    from core.attributes import calibration as C

    rng = np.random.default_rng(1)
    n = 3000
    target = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    logits = rng.normal(0, 1, (n, 3)) + 2.0 * np.eye(3)[target]
    logits[:, 2] += 1.0                                  # the rare class is pushed up
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t, b = C.fit_vector(P, np.where(np.arange(n) % 10 == 0, -1, target))
    Q = C.vector(P, t, b)
    assert np.allclose(Q.sum(1), 1) and b[2] == 0.0 and b[0] > b[2] - 1e-9 + 0.5
    assert abs(Q[:, 2].mean() - 0.1) < abs(P[:, 2].mean() - 0.1)
    assert C.fit_vector(P, np.zeros(n, int)) == (1.0, [0.0, 0.0, 0.0])     # one class: left alone


def test_description_says_one_choice_per_exclusive_set_and_the_close_runner_up():
    from core.attributes import describe as D

    binary = [a for a in L.PETA35 if a not in L.GROUPS["age"]]
    probs = pd.Series({a: 0.05 for a in binary})
    probs.update({"lowerBodyJeans": 0.62, "lowerBodyTrousers": 0.55, "lowerBodyShorts": 0.3,      # close: both said
                  "footwearSneaker": 0.8, "footwearShoes": 0.4,                                  # clear: one said
                  "personalMale": 0.1, "upperBodyShortSleeve": 0.45,                              # complements
                  "carryingBackpack": 0.5, "accessorySunglasses": 0.3, "hairLong": 0.9})
    probs = pd.concat([probs, pd.Series({"personalLess30": 0.45, "personalLess45": 0.35, "personalLess60": 0.1,
                                         "personalLarger60": 0.05, "age: none": 0.05})])
    thresholds = {a: 0.4 for a in binary} | {"accessorySunglasses": 0.6}
    choices, also = D.describe(probs, binary, L.layout(L.PETA35)[1], thresholds)
    said = {c.question: c for c in choices}
    assert said["lower-body garment"].answer == "jeans" and said["lower-body garment"].runner_up == "trousers"
    assert said["footwear"].answer == "sneakers" and said["footwear"].runner_up is None
    assert said["gender"].answer == "female" and said["gender"].probability == pytest.approx(0.9)
    assert said["sleeves"].answer == "long sleeves" and said["sleeves"].runner_up == "short sleeves"
    assert said["age"].answer == "aged 16-30" and said["age"].runner_up == "aged 31-45"
    assert [c.answer for c in also] == ["long hair", "backpack"]   # sunglasses under its threshold; sets apart
    # what is said is what a chart marks: jeans and sneakers, not male (the answer is female) nor trousers
    assert D.said_attributes(choices, also) == {"lowerBodyJeans", "footwearSneaker", "personalLess30", "hairLong",
                                                "carryingBackpack", "upperBodyCasual", "lowerBodyCasual"}
    line = D.sentence(choices, also)
    assert "jeans (62%; or trousers, 55%)" in line and "shorts" not in line and "female (90%)" in line


def test_balanced_sampling_weights_persons_and_subsets_evenly(demo_attrs):
    frame = pd.DataFrame({"person": ["T/1"] * 6 + ["T/2"] * 2 + ["V/1", "V/2"], "subset": ["T"] * 8 + ["V"] * 2})
    assert A.sampling_weights(frame, "none") is None
    by_person = A.sampling_weights(frame, "person")
    assert np.allclose(by_person, [1 / 24] * 6 + [1 / 8] * 2 + [1 / 4] * 2)          # each person 1/4
    by_subset = A.sampling_weights(frame, "subset")
    assert np.allclose(by_subset[:8].sum(), 0.5) and np.allclose(by_subset[8:], 0.25)
    drawn = np.concatenate([sampling.epoch_rows(10, by_subset, 0, e) for e in range(400)])
    assert abs(np.isin(drawn, [8, 9]).mean() - 0.5) < 0.03
    assert np.array_equal(sampling.epoch_rows(10, by_subset, 0, 3), sampling.epoch_rows(10, by_subset, 0, 3))
    with pytest.raises(StudioError, match="unknown balance"):
        A.sampling_weights(frame, "camera")


@needs_weights
def test_heads_train_on_person_balanced_draws_reproducibly(demo_attrs):
    cfg = A.AttrConfig(epochs=3, balance="person", seed=2)
    one, r1 = A.train(demo_attrs, cfg)
    two, r2 = A.train(demo_attrs, cfg)
    assert len(one.history) == 3 and one.card["config"]["balance"] == "person"
    assert np.allclose(r1["probabilities"].to_numpy(), r2["probabilities"].to_numpy(), atol=1e-5)


def test_views_pick_each_example_from_one_view_at_random():
    views = [np.full((6, 2), v, np.float32) + np.arange(6)[:, None] * 10 for v in range(3)]
    idx = np.array([5, 0, 3] * 100)
    got = sampling.pick_views(views, idx, (0, 1, 2))
    assert np.array_equal(got[:, 0] // 10, idx) and np.array_equal(got[:, 0], got[:, 1])   # row i of a view
    which = got[:, 0] % 10
    assert set(which) == {0, 1, 2} and np.array_equal(got, sampling.pick_views(views, idx, (0, 1, 2)))
    assert np.array_equal(sampling.pick_views(views[:1], idx, (0,)), views[0][idx])


def test_camera_view_is_another_look_at_the_same_image():
    from core.images import camera_view

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (128, 48, 3), dtype=np.uint8)
    view = camera_view(image)
    assert view.dtype == np.uint8 and view.ndim == 3 and view.shape[2] == 3
    assert 0.8 * 128 * 48 * 0.85 <= view.shape[0] * view.shape[1] <= 128 * 48       # a crop of 80-100 %
    assert np.array_equal(view, camera_view(image))                               # the same view every time
    assert not np.array_equal(camera_view(image, seed=1), camera_view(image, seed=2))
    assert camera_view(np.zeros((3, 2, 3), np.uint8)).shape[2] == 3                  # tiny images work


@needs_weights
def test_finetuning_from_a_middle_block_with_votes_camera_views_and_mirror_round_trips(half_attrs, tmp_path):
    """Fine-tuning from block12 (middle flow) on the maps entering it, with a third, camera view cached and
    neighbour votes on the fine-tuned features: what fine-tuning moved, and the saved network through all
    of Xception (image and mirror) gives the fine-tuning's own scores. (One test for the exit flow's
    fine-tuning and the deeper one: they share every step but where the maps are taken.)"""
    from core import backbones

    cfg = A.AttrConfig(epochs=10, camera_views=True, seed=1, pooling="stripes-mid", neighbours=True)
    tuned, report = A.train_finetuned(half_attrs, cfg, epochs=2, cache_dir=tmp_path, from_block="block12")
    card = tuned.card
    names = sorted(p.name for p in (tmp_path / "features").iterdir())
    assert any(n.startswith("xception-128x64-block12-camera") for n in names), names
    assert not any("exit" in n for n in names), names
    assert tuned.image_model is not None and card["input"] == "image" and card["config"]["neighbours"]
    assert card["config"]["camera_views"] and card["finetune"]["from_block"] == "block12"
    assert card["finetune"]["mirror"] and 1 <= card["finetune"]["epochs_run"] <= 2
    assert card["neighbours"]["k"] in (10, 20) and sum(1 for h in tuned.history if h.get("finetune")) >= 1
    assert report["summary"]["mA"] > 0.6
    assert cfg.model_tag(True, "block12") == "xception-stripes-mid-finetuned-block12"
    assert cfg.model_tag(True) == "xception-stripes-mid-finetuned"
    fresh = backbones.build(cfg.backbone_spec())
    trained = tuned.image_model.get_layer(fresh.name + "_maps")        # stripes-mid: Xception's two maps
    for name, moved in (("block1_conv1", False), ("block11_sepconv3", False), ("block12_sepconv1", True),
                        ("block14_sepconv2", True)):
        before, after = fresh.get_layer(name).get_weights()[0], trained.get_layer(name).get_weights()[0]
        assert (np.abs(before - after).max() > 0) == moved, name
    tuned.save(tmp_path / "ft")
    again = A.load(tmp_path / "ft")
    paths = list(half_attrs.frame.path.to_numpy()[report["split"].test[:8]])
    # the saved network (image and mirror through all of Xception) = the fine-tuning's own scoring (cached maps)
    assert np.abs(again.predict_paths(paths).to_numpy() - report["probabilities"].iloc[:8].to_numpy()).max() < 5e-3
    image = load_image(paths[0])
    both = again.predict_images([image, image[:, ::-1]]).to_numpy()
    assert np.abs(both[0] - both[1]).max() < 1e-4                    # an image and its mirror: one answer
    with pytest.raises(StudioError, match="reads images"):
        again.probabilities(np.zeros((1, 5 * 2048 + 5 * 728), np.float32))
    with pytest.raises(StudioError, match="retrain without neighbour votes to export"):
        again.image_network()
    with pytest.raises(StudioError, match="already fine-tuned"):
        A.finetune(half_attrs, again, cfg)


def test_a_saved_models_preset_is_recognised_and_a_custom_one_is_not():
    """The Metrics tab and the home card quote a preset's cross-site figure only for a model of that preset."""
    import json
    from dataclasses import asdict, replace

    from core import recommended, results, wording

    for preset in recommended.ATTRIBUTES:
        cfg, epochs = A.preset_config(preset.settings, "person-disjoint", seed=3, weights="w.h5")
        card = json.loads(json.dumps({"config": asdict(cfg), "input": "image" if epochs else "features"}))
        assert A.card_settings(card) == preset.settings
        assert recommended.matching("attributes", A.card_settings(card)) is preset
        assert A.new_site_words(card) == preset.new_sites
        other = dict(card, config=asdict(replace(cfg, balance="subset")))
        assert A.card_settings(other) is None and recommended.matching("attributes", None) is None
        assert A.new_site_words(other) == ""
        held_out, _ = A.preset_config(preset.settings, "leave-out:GRID", seed=3, weights="w.h5")
        assert A.new_site_words(dict(card, config=asdict(held_out))) == ""   # its own test is a new site
    assert A.card_settings({"config": {}}) is None                      # a card from before configs were kept
    for preset in recommended.ATTRIBUTES:       # a card from before the heads were settings: one, 512, 0.5
        cfg, epochs = A.preset_config(preset.settings, "random-image", weights="w.h5")
        old = {k: v for k, v in asdict(cfg).items() if k not in A.HEAD_SETTINGS}
        expected = {k: v for k, v in preset.settings.items() if k not in A.HEAD_SETTINGS}
        assert A.card_settings({"config": old, "input": "image" if epochs else "features"}) == expected
    before = A.card_settings({"config": {k: v for k, v in asdict(A.preset_config(
        recommended.recommended("attributes").settings, "random-image")[0]).items() if k not in A.HEAD_SETTINGS}})
    assert recommended.matching("attributes", before).key == "heads-256-mid-one"     # what it was trained as
    wide = A.card_settings({"config": asdict(A.AttrConfig(height=256, width=128, head_hidden=1024))})
    assert wide["head_hidden"] == 1024 and "head_dropout" not in wide
    heads = recommended.by_key("attributes", "heads-256")
    site_ma = results.value("attributes-cross-site-heads", "Mean over", "mean mA", model="heads + neighbour votes")
    assert heads.new_sites.startswith(wording.percent(site_ma))
    assert heads.new_sites in recommended.labels("attributes")["heads-256"]


def test_people_are_ranked_by_the_chance_of_having_every_attribute_asked_for():
    from core.attributes.search import rank_by_attributes

    probs = pd.DataFrame({"hat": [0.9, 0.5, 0.9, 0.1], "bag": [0.5, 1.0, 0.6, 1.0]})
    rows, chance = rank_by_attributes(probs, ["hat", "bag"], top=3)
    assert rows.tolist() == [2, 1, 0] and np.allclose(chance, [0.54, 0.5, 0.45])
    rows, _ = rank_by_attributes(probs, ["hat"])
    assert rows.tolist() == [0, 2, 1, 3]                        # ties keep the images' order
    assert len(rank_by_attributes(probs, [])[0]) == 0
    with pytest.raises(StudioError, match="no attribute 'scarf'"):
        rank_by_attributes(probs, ["scarf"])


def test_a_saved_models_label_says_what_it_is():
    from ui.attributes import card_label

    card = {"backbone": {"name": "xception", "height": 256, "width": 128, "pooling": "stripes"},
            "neighbours": {"k": 10}, "split": {"name": "person-disjoint"}, "metrics": {"person-disjoint": {"mA": 0.6834}},
            "config": {"ensemble": 3}, "saved": "2026-12-06T05:00:00+00:00"}
    assert card_label(card) == ("xception 256x128 + stripes + neighbours · 3 heads averaged · person-disjoint · "
                                "mA 68.3% · 2026-12-06T05:00")
    old = {**card, "config": {}, "input": "image", "neighbours": None}          # a card from before ensembles
    assert card_label(old).startswith("xception 256x128 + stripes · fine-tuned · ")


def test_heads_with_an_exclusive_group_train_on_given_features_and_round_trip(tmp_path):
    """Age is one softmax head over its four classes + none (the demo data has no age, so this generated
    set has): the heads learn it from features that carry it, and a saved model answers the same."""
    from core.datasets.attributes import AttributeDataset

    rng = np.random.default_rng(0)
    n = 400
    age = rng.integers(0, 5, n)                                      # 4: none of the four groups
    male = rng.integers(0, 2, n).astype(np.float32)
    frame = pd.DataFrame({"path": [f"/nowhere/{i}.png" for i in range(n)], "subset": "gen",
                          "pid": [str(i) for i in range(n)], "person": [f"gen/{i}" for i in range(n)],
                          "personalMale": male})
    for j, a in enumerate(L.GROUPS["age"]):
        frame[a] = (age == j).astype(np.float32)
    frame.loc[:9, "personalLess30"] = np.nan                         # unknown labels are masked out
    ds = AttributeDataset("generated", tmp_path, frame, ["personalMale", *L.GROUPS["age"]])
    features = np.concatenate([np.eye(5)[age] * 3, male[:, None] * 3, rng.normal(0, 1, (n, 10))], 1)
    model, report = A.train(ds, A.AttrConfig(epochs=25, split="random-image"), features=features.astype(np.float32))
    assert model.groups == {"age": L.GROUPS["age"]} and model.binary == ["personalMale"]
    probs = report["probabilities"]
    assert {"age: none", *L.GROUPS["age"]} <= set(probs.columns)
    assert np.allclose(probs[[*L.GROUPS["age"], "age: none"]].sum(1), 1, atol=1e-4)
    assert report["summary"]["mA"] > 0.9, report["summary"]
    model.save(tmp_path / "m")
    again = A.load(tmp_path / "m")
    test = report["split"].test
    assert np.abs(again.probabilities(features[test].astype(np.float32)).to_numpy() - probs.to_numpy()).max() < 1e-5
