"""The backbone feature cache: computes each image once, keeps batches across an interruption, merges
its parts (a stand-in network, so no ImageNet weights are needed)."""
import numpy as np
import pytest
from PIL import Image

from core import backbones, feature_cache


class FakeNet:
    """Feature map = the mean colour of each image, on a 4 x 2 grid, pooled as the spec says; counts the
    images it sees."""

    def __init__(self, fail_after: int | None = None):
        self.seen, self.calls, self.fail_after = 0, 0, fail_after

    def predict(self, x, verbose=0, batch_size=32):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt          # as if the user stopped the run
        self.seen += len(x)
        fmap = np.repeat(np.repeat(x.mean((1, 2))[:, None, None, :], 4, 1), 2, 2)
        return backbones.pool(fmap, backbones.BackboneSpec(pooling="stripes"))


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(300):
        p = tmp_path / "img" / f"{i:03d}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 10, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def cache(tmp_path, net, weights=None):
    c = feature_cache.FeatureCache(backbones.BackboneSpec("xception", 128, 64, "stripes"), tmp_path / "cache",
                                   weights)
    c._model = net
    return c


def test_interrupted_caching_keeps_its_batches_and_merges_them(tmp_path, photos):
    first = cache(tmp_path, FakeNet(fail_after=2))               # 2 batches of 128 images, then stopped
    with pytest.raises(KeyboardInterrupt):
        first.features(photos)
    parts = sorted(first.parts_dir.glob("part-*.npz"))
    assert len(parts) == 2 and not first.path.exists()           # nothing rewritten, nothing merged yet

    net = FakeNet()
    second = cache(tmp_path, net)
    feats = second.features(photos)
    assert net.seen == 300 - 256                                  # only the images not cached yet
    assert feats.shape == (300, 5 * 3)                            # global + 4 stripes, 3 "channels"
    assert second.path.is_file() and not second.parts_dir.exists()    # parts merged into one file

    net3 = FakeNet()
    again = cache(tmp_path, net3).features(photos[::-1])
    assert net3.seen == 0 and np.array_equal(again, feats[::-1])  # all from the merged file, in order


def test_an_unreadable_part_is_recomputed(tmp_path, photos):
    first = cache(tmp_path, FakeNet(fail_after=1))
    with pytest.raises(KeyboardInterrupt):
        first.features(photos)
    part = next(first.parts_dir.glob("part-*.npz"))
    part.write_bytes(b"not an npz")
    net = FakeNet()
    c = cache(tmp_path, net)
    assert c.features(photos).shape == (300, 15) and net.seen == 300
    assert c.path.is_file() and not c.parts_dir.exists()         # the broken part is gone with the merge


def test_a_session_clearing_keras_cannot_rename_layers_mid_build():
    """Streamlit calls keras.backend.clear_session() after every script run, from that session's thread;
    it must not restart the layer-name counters of a model another thread is building."""
    import threading

    import keras

    def clear_elsewhere():
        t = threading.Thread(target=keras.backend.clear_session)   # looked up as Streamlit does
        t.start()
        t.join()

    keras.backend.clear_session()
    with backbones.BUILD_LOCK:
        first = keras.layers.Dense(2)
        clear_elsewhere()
        second = keras.layers.Dense(2)
        x = keras.Input((3,))
        keras.Model(x, second(first(x)))       # raises "used 2 times in the model" if renamed
    assert (first.name, second.name) == ("dense", "dense_1")
    clear_elsewhere()                          # no build under way: clears as Keras does
    assert keras.layers.Dense(2).name == "dense"


def test_the_cache_key_carries_the_weights_and_the_code_version(tmp_path, photos):
    weights = tmp_path / "xception.weights.h5"
    weights.write_bytes(b"weights, first release")
    net = FakeNet()
    first = cache(tmp_path, net, weights)
    feats = first.features(photos[:20])
    assert net.seen == 20
    name = first.path.name
    assert name.startswith("xception-128x64-stripes-w") and name.endswith(f"-v{feature_cache.VERSION}.npz")
    assert backbones.weights_fingerprint(weights) in name

    net = FakeNet()
    assert np.array_equal(cache(tmp_path, net, weights).features(photos[:20]), feats) and net.seen == 0

    weights.write_bytes(b"weights, second release")          # same path, other weights: recomputed
    net = FakeNet()
    changed = cache(tmp_path, net, weights)
    changed.features(photos[:20])
    assert net.seen == 20 and changed.path != first.path and first.path.is_file()

    mid = feature_cache.FeatureCache(backbones.BackboneSpec("xception", 128, 64, "stripes-mid"), tmp_path / "c",
                                     weights)
    assert mid.path.name.startswith("xception-128x64-stripes-mid-w")     # not the "stripes" file


def test_an_old_cache_file_without_the_fingerprint_is_not_read(tmp_path, photos):
    """A cache written before keys carried the weights (``xception-128x64-stripes.npz``) is left alone."""
    old = tmp_path / "cache" / "features" / "xception-128x64-stripes.npz"
    old.parent.mkdir(parents=True)
    hashes = [feature_cache.content_hash(p) for p in photos[:5]]
    np.savez(old, hashes=np.array(hashes), features=np.full((5, 15), 99.0, np.float32))
    net = FakeNet()
    feats = cache(tmp_path, net).features(photos[:5])
    assert net.seen == 5 and not np.any(feats == 99.0)


def test_pool_takes_the_middle_map_only_where_the_pooling_says():
    rng = np.random.default_rng(0)
    last, mid = rng.normal(size=(2, 8, 4, 3)), rng.normal(size=(2, 16, 8, 5))
    spec = backbones.BackboneSpec("xception", 256, 128, "stripes-mid")
    pooled = backbones.pool(last, spec, mid)
    assert pooled.shape == (2, 5 * 3 + 5 * 5)
    assert np.allclose(pooled[:, 15:20], mid.mean((1, 2)))                  # the middle map's global average
    assert np.allclose(pooled[:, 20:25], mid[:, :4].mean((1, 2)))           # and its top stripe
    assert np.allclose(backbones.pool(last, backbones.BackboneSpec(pooling="stripes")), pooled[:, :15])
    with pytest.raises(ValueError, match="middle flow"):
        backbones.pool(last, spec)
    with pytest.raises(backbones.StudioError, match="unknown pooling"):
        backbones.BackboneSpec(pooling="max")
    with pytest.raises(backbones.StudioError, match="mobilenetv2 has none"):
        backbones.BackboneSpec("mobilenetv2", pooling="stripes-mid")
