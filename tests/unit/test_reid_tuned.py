"""The strong baseline (``xception-bnneck``): Xception's exit flow fine-tuned on cached middle-flow maps."""

import numpy as np
import pytest

from core import checkpoint
from core.datasets import catalog, splits
from core.images import load_image
from core.progress import Phases
from core.reid import train as T
from core.reid import tuned
from tests.conftest import needs_weights


class Stop(Exception):
    pass


def test_random_erasing_on_maps_blanks_one_rectangle_per_erased_map():
    maps = np.ones((200, 16, 8, 3), np.float32)
    out = tuned.erase(maps.copy(), np.random.default_rng(0), p=0.5)
    zero = out == 0
    erased = zero.any((1, 2, 3))
    assert 70 < erased.sum() < 130                        # about half the maps
    for m in zero[erased]:
        rows, cols = np.nonzero(m[..., 0])
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert m[..., 0].sum() == h * w                    # one filled rectangle, on every channel
        assert 2 <= h <= 8 and 2 <= w <= 4 and (m.all(2) == m[..., 0]).all()
    assert (tuned.erase(maps.copy(), np.random.default_rng(0), p=0.0) == 1).all()


@needs_weights
def test_exit_flow_copy_keeps_the_weights_and_last_stride_one_keeps_the_resolution():
    from core import backbones

    spec = backbones.BackboneSpec("xception", tuned.HEIGHT, tuned.WIDTH)
    base = backbones.build(spec)
    import keras

    upper = keras.Model(backbones.exit_flow_input(base, spec), base.output)
    x = np.random.default_rng(0).normal(0, 1, (2, 16, 8, 728)).astype(np.float32)
    same = tuned.exit_flow(base, last_stride=2)
    assert np.allclose(np.asarray(same(x)), np.asarray(upper(x)), atol=1e-4)
    finer = np.asarray(tuned.exit_flow(base, last_stride=1)(x))
    assert finer.shape == (2, 16, 8, 2048) and np.asarray(upper(x)).shape == (2, 8, 4, 2048)
    with pytest.raises(ValueError, match="last_stride"):
        tuned.exit_flow(base, last_stride=3)


@needs_weights
def test_strong_baseline_learns_resumes_and_round_trips(demo_dir, tmp_path):
    """40 demo identities, 6 short epochs: stopped in epoch 3 and resumed, the identity loss falls, the
    saved image network embeds as the trained one, and it ranks the test identities above chance."""
    ds = catalog.load(catalog.Source("reid", demo_dir / "VIPeR", True))
    ds = ds.subset(ds.pids[:40])
    split = splits.course_split(ds.pids)
    cfg = T.TrainConfig(tuned.METHOD, epochs=6, p=8, k=4, warmup_epochs=1)
    stem, cache_dir = tmp_path / "bn", tmp_path / "cache"      # an empty cache: the maps are computed here

    bar = []
    one_bar = Phases(T.PHASES, lambda fraction, text: bar.append((fraction, text)))

    def stop_in_epoch_3(event):
        one_bar(event)
        if len(event.history) == 3:
            raise Stop

    with pytest.raises(Stop):
        T.train(ds, split, cfg, stop_in_epoch_3, checkpoint=stem, cache_dir=cache_dir)
    assert checkpoint.info(stem)["epoch"] == 2
    fractions = [f for f, _ in bar]                # the bar moves while the maps are cached, never back
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.1 + 0.75 * 3 / 6)
    assert any(0 < f <= 0.1 and "frozen layers" in text for f, text in bar), bar
    names = sorted(p.name for p in (cache_dir / "features").glob("reid-*.npz"))      # ran once per image
    assert [n.split("-w")[0] for n in names] == ["reid-xception-256x128-exit-flip", "reid-xception-256x128-exit"]
    model = T.train(ds, split, cfg, checkpoint=stem, resume=True, cache_dir=cache_dir)
    assert model.card["resumed_from_epoch"] == 2 and [h["epoch"] for h in model.history] == list(range(1, 7))
    losses = [(h["loss"], h["id_logits_loss"]) for h in model.history]
    assert losses[-1][0] < losses[0][0] - 0.5 and losses[-1][1] < losses[0][1] - 0.05, losses
    emb = T.test_embeddings(model, ds, split)
    assert emb.query.shape[1] == 2048 and np.allclose(np.linalg.norm(emb.query, axis=1), 1, atol=1e-4)
    r = T.rank(model, emb)
    assert r.rank(1) >= 2 / len(split.test) and r.mAP > 0.45, r.summary()       # chance: 1 / 9, mAP ~0.31
    model.save(stem)
    assert checkpoint.info(stem) is None
    again = T.load(stem)
    photo = load_image(emb.q_frame.path[0])
    assert np.allclose(again.embed([photo]), emb.query[:1], atol=1e-4)
