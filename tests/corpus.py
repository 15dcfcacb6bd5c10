"""The bad-input corpus, generated (no committed binaries): every kind of file a user may hand in.

``IMAGES`` and ``CSVS`` map a case name to ``(file name, bytes factory, expected)``. ``expected`` is
``None`` when the file must be accepted, else a phrase the error message must contain (case-insensitive).
The same corpus drives every entry point: the upload widgets (AppTest) and the CLI commands.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _person(h: int = 128, w: int = 48, seed: int = 0) -> np.ndarray:
    """A plausible pedestrian-sized RGB picture (random blocks, deterministic)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (8, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.NEAREST))


def png(h=128, w=48) -> bytes:
    return _encode(Image.fromarray(_person(h, w)), "PNG")


def jpeg(h=128, w=48) -> bytes:
    return _encode(Image.fromarray(_person(h, w)), "JPEG", quality=90)


def png16() -> bytes:
    values = (np.arange(128 * 48, dtype=np.uint32).reshape(128, 48) * 10).astype(np.uint16)
    return _encode(Image.fromarray(values), "PNG")


def grayscale() -> bytes:
    return _encode(Image.fromarray(_person()[:, :, 0], "L"), "PNG")


def rgba() -> bytes:
    arr = np.dstack([_person(), np.full((128, 48), 128, np.uint8)])
    return _encode(Image.fromarray(arr, "RGBA"), "PNG")


def palette() -> bytes:
    return _encode(Image.fromarray(_person()).convert("P"), "PNG")


def cmyk() -> bytes:
    return _encode(Image.fromarray(_person()).convert("CMYK"), "JPEG")


def animated_gif() -> bytes:
    frames = [Image.fromarray(_person(seed=s)) for s in (1, 2, 3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid tiny PNG whose header declares ``width x height`` pixels (10 gigapixels by default)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


IMAGES = {
    "empty file": ("empty.jpg", lambda: b"", "empty"),
    "truncated JPEG": ("cut.jpg", lambda: jpeg()[: len(jpeg()) // 2], "corrupt or truncated"),
    "truncated PNG": ("cut.png", lambda: png()[: len(png()) // 2], "corrupt or truncated"),
    "HTML named .jpg": ("page.jpg", lambda: b"<!doctype html><html><body>hello</body></html>", "not an image"),
    "text named .png": ("notes.png", lambda: "id,name\n1,Ann\n".encode(), "not an image"),
    "PNG named .jpg": ("really-a-png.jpg", png, None),
    "16-bit PNG": ("deep.png", png16, None),
    "grayscale PNG": ("gray.png", grayscale, None),
    "RGBA PNG": ("alpha.png", rgba, None),
    "palette PNG": ("palette.png", palette, None),
    "CMYK JPEG": ("cmyk.jpg", cmyk, None),
    "animated GIF": ("anim.gif", animated_gif, None),
    "1x1 image": ("dot.png", lambda: _encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), "only 1 x 1"),
    "very wide image": ("wide.png", lambda: png(h=16, w=6000), None),
    "very tall image": ("tall.png", lambda: png(h=6000, w=16), None),
    "decompression bomb": ("bomb.png", bomb, "too many pixels"),
}


# ----------------------------------------------------------------------------------------- CSVs
MOVIES_OK = b"movieId,title,genres\n1,Alpha (1999),Comedy|Drama\n2,Beta (2001),Action\n3,Gamma (2003),Drama\n"


def _ratings_rows(n: int) -> bytes:
    users = np.arange(n) // 20 + 1
    movies = np.arange(n) % 3 + 1
    body = "\n".join(f"{u},{m},{(i % 9 + 1) / 2},{1000 + i}" for i, (u, m) in enumerate(zip(users, movies)))
    return ("userId,movieId,rating,timestamp\n" + body + "\n").encode()


def millions_of_rows() -> bytes:
    """2,000,000 ratings rows (about 40 MB): within the upload limit, must load, not time out."""
    n = 2_000_000
    users = np.arange(n) // 40 + 1                 # 50,000 users with 40 ratings each
    movies = np.arange(n) % 40 + 1
    ratings = (np.arange(n) % 9 + 1) / 2
    buf = io.StringIO()
    buf.write("userId,movieId,rating,timestamp\n")
    np.savetxt(buf, np.column_stack([users, movies, ratings, np.full(n, 1000)]), fmt=["%d", "%d", "%.1f", "%d"],
               delimiter=",")
    return buf.getvalue().encode()


def many_movies() -> bytes:
    genres = ["Comedy", "Drama", "Action|Thriller", "Romance|Comedy", "Sci-Fi"]
    return b"movieId,title,genres\n" + "".join(f"{i},Film {i} (2000),{genres[i % 5]}\n"
                                                for i in range(1, 51)).encode()


# (ratings.csv bytes, movies.csv bytes, expected)
CSVS = {
    "missing columns": (lambda: b"userId,movieId\n1,1\n", lambda: MOVIES_OK, "missing column"),
    "wrong types": (lambda: b"userId,movieId,rating,timestamp\n1,1,good,5\n", lambda: MOVIES_OK, "must be"),
    "rating out of range": (lambda: b"userId,movieId,rating,timestamp\n1,1,9,5\n", lambda: MOVIES_OK, "rating must be"),
    "duplicate rows": (lambda: _ratings_rows(60) + b"1,1,4.0,1000\n1,1,4.0,1000\n", lambda: MOVIES_OK, None),
    "non-UTF-8 text": (lambda: _ratings_rows(60), lambda: MOVIES_OK + "4,Caf\u00e9 (2005),Drama\n".encode("latin-1"),
                       "not UTF-8"),
    "empty file": (lambda: b"", lambda: MOVIES_OK, "empty"),
    "not a CSV (binary)": (lambda: png(), lambda: MOVIES_OK, ""),
    "duplicate movieId": (lambda: _ratings_rows(60), lambda: MOVIES_OK + b"3,Gamma again (2003),Drama\n", "appears twice"),
    "no rating refers to a movie": (lambda: b"userId,movieId,rating,timestamp\n1,99,4.0,5\n", lambda: MOVIES_OK,
                                    "no rating refers"),
    "millions of rows": (millions_of_rows, many_movies, None),
}


def corrupt_keras_variants(good: bytes) -> dict[str, bytes]:
    """Broken versions of a saved ``.keras`` file's bytes."""
    return {"truncated": good[: len(good) // 2], "garbage": b"PK\x03\x04" + b"\0" * 200, "empty": b""}
