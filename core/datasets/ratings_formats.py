"""Ratings in the other published layouts, read into the same :class:`~.movielens.MovieLens` container.

=====================  =======================================  ==========================================
layout                 files                                    notes
=====================  =======================================  ==========================================
MovieLens CSV          ``ratings.csv`` + ``movies.csv``         latest-small of any year, 20M, 25M, 32M
                                                                (:func:`.movielens.load_movielens`)
MovieLens 100K         ``u.data`` + ``u.item`` (+ ``u.genre``)  tab-separated, no header; ``u.item`` is
                                                                ``|``-separated Latin-1 with 19 genre flags
MovieLens 1M / 10M     ``ratings.dat`` + ``movies.dat``         ``::``-separated, no header; 1M's
                                                                ``movies.dat`` is Latin-1
generic                ``*.csv`` with header                    ``user,item,rating[,timestamp]``; items from
                       ``user,item,rating[,timestamp]``         a ``*.csv`` with header ``item,title[,genres]``
                                                                in the same folder, when there is one
=====================  =======================================  ==========================================

Every loader checks what the CSV loader checks (numbers, ratings in (0, 5], repeated pairs) and names
the file and line of the first bad value.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .base import require_dir
from .movielens import (
    NO_GENRES,
    RATINGS_COLUMNS,
    RATINGS_DTYPES,
    MovieLens,
    checked_ratings,
    decode,
    fast_table,
    from_frames,
    movies_frame,
    numeric_ratings,
    read_bytes,
)

# u.genre's order, for a 100K folder without u.genre (it ships with one).
GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
               "War", "Western")


def _movie_lines(path: Path, sep: str, parse) -> pd.DataFrame:
    """A headerless, ``sep``-separated movie list (u.item, movies.dat; Latin-1 when not UTF-8):
    ``parse(cells, lineno) -> (id, title, genres)`` per non-blank line."""
    text = decode(read_bytes(path, str(path)), str(path), latin1=True)
    rows = [parse(line.split(sep), lineno) for lineno, line in enumerate(text.splitlines(), 1) if line.strip()]
    ids, titles, genres = (list(c) for c in zip(*rows)) if rows else ([], [], [])
    return movies_frame(ids, titles, genres, str(path), 1)


def _headerless_ratings(data: bytes, sep: str, name: str) -> pd.DataFrame:
    """``user<sep>item<sep>rating<sep>timestamp`` lines, no header (u.data, ratings.dat)."""
    if sep != "\t":
        data = data.replace(sep.encode(), b"\t")
    fast = fast_table(data, "\t", RATINGS_COLUMNS, RATINGS_DTYPES, header=False)
    if fast is not None:
        return checked_ratings(fast, name, 1)
    rows = [line.split("\t") for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    for lineno, cells in enumerate(rows, 1):
        if len(cells) < 4:
            raise DataError(f"expected 4 fields (user, item, rating, timestamp), found {len(cells)}", name, lineno)
    raw = pd.DataFrame([c[:4] for c in rows], columns=list(RATINGS_COLUMNS))
    return numeric_ratings(raw, name, 1)


# ----------------------------------------------------------------------------- MovieLens 100K
def detect_100k(root: Path) -> bool:
    return (Path(root) / "u.data").is_file() and (Path(root) / "u.item").is_file()


def load_100k(root, name: str | None = None) -> MovieLens:
    root = require_dir(Path(root), "MovieLens 100K")
    ratings = _headerless_ratings(read_bytes(root / "u.data", str(root / "u.data")), "\t", str(root / "u.data"))
    genre_names = list(GENRES_100K)
    if (root / "u.genre").is_file():
        text = decode(read_bytes(root / "u.genre", str(root / "u.genre")), str(root / "u.genre"), latin1=True)
        pairs = [line.rsplit("|", 1) for line in text.splitlines() if line.strip()]
        try:
            genre_names = [g for g, _ in sorted(pairs, key=lambda p: int(p[1]))]
        except (ValueError, IndexError):
            raise DataError("lines must be 'genre|index'", root / "u.genre") from None
    item_path = root / "u.item"

    def parse(cells, lineno):
        flags = cells[5:]
        if len(cells) < 6 or len(flags) != len(genre_names):
            raise DataError(f"expected id|title|release date|video date|URL and {len(genre_names)} genre flags, "
                            f"found {len(cells)} fields", item_path, lineno)
        if not cells[0].strip().isdigit():
            raise DataError(f"item id must be an integer, found '{cells[0]}'", item_path, lineno)
        names = [g for g, f in zip(genre_names, flags) if f.strip() == "1" and g != "unknown"]
        return int(cells[0]), cells[1], "|".join(names) or NO_GENRES
    return from_frames(ratings, _movie_lines(item_path, "|", parse), root.resolve())


# ----------------------------------------------------------------------------- MovieLens 1M / 10M
def detect_dat(root: Path) -> bool:
    return (Path(root) / "ratings.dat").is_file() and (Path(root) / "movies.dat").is_file()


def load_dat(root, name: str | None = None) -> MovieLens:
    root = require_dir(Path(root), "MovieLens 1M / 10M")
    rpath, mpath = root / "ratings.dat", root / "movies.dat"
    ratings = _headerless_ratings(read_bytes(rpath, str(rpath)), "::", str(rpath))

    def parse(cells, lineno):
        if len(cells) != 3 or not cells[0].strip().isdigit():
            raise DataError("expected 'MovieID::Title::Genres'", mpath, lineno)
        return int(cells[0]), cells[1], cells[2].strip() or NO_GENRES
    return from_frames(ratings, _movie_lines(mpath, "::", parse), root.resolve())


# ----------------------------------------------------------------------------- generic CSV
def csv_header(path: Path) -> list[str]:
    """The first line of a CSV file, cells stripped and lower-cased ([] when unreadable)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(4096)
    except OSError:
        return []
    try:
        return [c.strip().lower() for c in next(csv.reader([first.decode("utf-8-sig")]), [])]
    except (UnicodeDecodeError, csv.Error):
        return []


def is_generic_ratings(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and csv_header(path)[:3] == ["user", "item", "rating"]


def _items_file(folder: Path) -> Path | None:
    for path in sorted(folder.glob("*.csv")):
        if csv_header(path)[:2] == ["item", "title"]:
            return path
    return None


def _text_table(path: Path) -> pd.DataFrame:
    """A UTF-8 CSV as text cells, header names stripped and lower-cased."""
    text = decode(read_bytes(path, str(path)), str(path))
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"not a valid CSV file ({str(exc).strip()})", path) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw


def _codes(values: pd.Series) -> tuple[np.ndarray, dict | None]:
    """Integer ids as they are; other ids numbered 1, 2, … in sorted order (with the mapping)."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64").to_numpy(), None
    mapping = {v: i + 1 for i, v in enumerate(sorted(values.unique()))}
    return values.map(mapping).astype("int64").to_numpy(), mapping


def load_generic(path, name: str | None = None) -> MovieLens:
    """``user,item,rating[,timestamp]`` (header names case-insensitive; other columns ignored). Without
    a timestamp the file's order stands in for time (said as a problem). Items come from a CSV with
    header ``item,title[,genres]`` in the same folder; without one, items are titled by id and have no
    genres (recommendations work; genre clustering needs genres and says so)."""
    path = Path(path)
    raw = _text_table(path)
    if list(raw.columns[:3]) != ["user", "item", "rating"]:
        raise DataError("the header must start with user,item,rating", path, 1)
    if raw.empty:
        raise DataError("no ratings in the file", path)
    problems = []
    for column in ("user", "item"):
        blank = raw[column].str.strip() == ""
        if blank.any():
            raise DataError(f"column '{column}' is blank", path, int(blank.to_numpy().nonzero()[0][0]) + 2)
    users, user_map = _codes(raw["user"].str.strip())
    items, item_map = _codes(raw["item"].str.strip())
    if user_map:
        problems.append("user ids are not integers: numbered 1, 2, … in sorted order")
    if "timestamp" not in raw.columns:
        raw["timestamp"] = [str(i) for i in range(len(raw))]
        problems.append("no timestamp column: the file's row order stands in for time")
    frame = pd.DataFrame({"userId": users.astype(str), "movieId": items.astype(str), "rating": raw["rating"],
                          "timestamp": raw["timestamp"]})
    ratings = numeric_ratings(frame, str(path))
    ratings.attrs["problems"] = problems + list(ratings.attrs.get("problems", []))
    movies = _generic_items(path, item_map, sorted(set(items.tolist())))
    return from_frames(ratings, movies, path.resolve())


def _generic_items(path: Path, item_map: dict | None, ids: list[int]) -> pd.DataFrame:
    items_path = _items_file(path.parent)
    if items_path is None:
        labels = {v: k for k, v in item_map.items()} if item_map else {}
        return movies_frame(ids, [f"item {labels.get(i, i)}" for i in ids], [NO_GENRES] * len(ids), str(path))
    raw = _text_table(items_path)
    keys = raw["item"].str.strip()
    if item_map:
        codes = keys.map(item_map)
        raw, codes = raw[codes.notna()], codes[codes.notna()]
        item_ids = codes.astype("int64").tolist()
    else:
        numbers = pd.to_numeric(keys, errors="coerce")
        if numbers.isna().any():
            row = int(numbers.isna().to_numpy().nonzero()[0][0])
            raise DataError(f"item id must be an integer like the ratings' ids, found '{keys.iloc[row]}'",
                            items_path, row + 2)
        item_ids = numbers.astype("int64").tolist()
    genres = raw["genres"].tolist() if "genres" in raw.columns else [NO_GENRES] * len(raw)
    return movies_frame(item_ids, raw["title"].tolist(), [g or NO_GENRES for g in genres], str(items_path))
