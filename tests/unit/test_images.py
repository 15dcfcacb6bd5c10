import io

import numpy as np
import pytest
from PIL import Image

from core import images
from core.errors import ImageError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(h=20, w=10, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_rgb_png_round_trip_is_exact():
    arr = rgb()
    out = images.load_image(encode(Image.fromarray(arr), "PNG"))
    assert out.dtype == np.uint8 and out.shape == (20, 10, 3)
    assert np.array_equal(out, arr)


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(200, dtype=np.uint8).reshape(20, 10)
    out = images.load_image(encode(Image.fromarray(gray, "L"), "PNG"))
    assert out.shape == (20, 10, 3)
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 1], out[:, :, 2])


def test_sixteen_bit_png_is_rescaled_not_clipped():
    values = (np.arange(200, dtype=np.uint16).reshape(20, 10) * 300)  # up to 59,700
    out = images.load_image(encode(Image.fromarray(values), "PNG"))
    assert out.shape == (20, 10, 3)
    assert out[0, 0, 0] == 0 and out.max() == round(59700 / 65535 * 255)
    assert len(np.unique(out[:, :, 0])) > 100       # gradient kept, not saturated at 255


def test_rgba_is_composited_on_grey():
    arr = np.zeros((20, 10, 4), np.uint8)
    arr[..., 0] = 255
    arr[:10, :, 3] = 255          # top half opaque red, bottom transparent
    out = images.load_image(encode(Image.fromarray(arr, "RGBA"), "PNG"))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[-1, 0]) == images.BACKGROUND


def test_palette_cmyk_and_animated_gif():
    pal = Image.fromarray(rgb()).convert("P")
    assert images.load_image(encode(pal, "PNG")).shape == (20, 10, 3)
    cmyk = Image.fromarray(rgb()).convert("CMYK")
    assert images.load_image(encode(cmyk, "JPEG")).shape == (20, 10, 3)
    frames = [Image.fromarray(np.full((20, 10, 3), v, np.uint8)) for v in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = images.load_image(buf.getvalue())
    assert abs(int(out.mean()) - 10) <= 2       # the first frame


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"<html><body>not an image</body></html>", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "not an image"),
])
def test_bad_bytes_raise_clear_errors(data, words):
    with pytest.raises(ImageError, match=words):
        images.load_image(data, name="upload.jpg")


def test_truncated_jpeg_is_reported_as_corrupt():
    data = encode(Image.fromarray(rgb(200, 100)), "JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        images.load_image(data[: len(data) // 2], name="cut.jpg")


def test_decompression_bomb_refused_before_decoding():
    bomb = encode(Image.new("1", (5000, 5000)), "PNG")
    assert len(bomb) < 50_000
    with pytest.raises(ImageError, match="limit is 1,000,000 pixels"):
        images.load_image(bomb, max_pixels=1_000_000)


def test_tiny_image_refused_and_missing_file_named(tmp_path):
    with pytest.raises(ImageError, match="only 1 x 1"):
        images.load_image(encode(Image.new("RGB", (1, 1)), "PNG"))
    with pytest.raises(ImageError, match="nope.png"):
        images.load_image(tmp_path / "nope.png")


def test_montage_tiles_images_to_one_height():
    out = images.montage([rgb(20, 10), rgb(40, 10), rgb(10, 10)], height=20, columns=2, gap=2)
    assert out.shape == (42, 2 * 20 + 2, 3)     # two rows; widest tile is 20 px (10 x 10 scaled)


@pytest.mark.parametrize("shape", [(16, 6000), (6000, 16), (2, 2), (3000, 2000)])
def test_for_display_keeps_every_side_visible(shape):
    out = images.for_display(np.zeros(shape + (3,), np.uint8))
    h, w = out.shape[:2]
    assert max(h, w) <= 512 and max(h, w) <= 4 * min(h, w) + 1
    assert round(80 * h / w) >= 1 and round(80 * w / h) >= 1        # a width-80 thumbnail has height > 0
