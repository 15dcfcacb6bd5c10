"""MovieLens ``ratings.csv`` / ``movies.csv`` (latest-small layout; CRLF or LF, quoted titles).

``load_ratings`` returns a DataFrame with columns

* ``userId`` (int64), ``movieId`` (int64), ``rating`` (float64, 0 < rating <= 5),
* ``timestamp`` (int64, seconds since 1970).

``load_movies`` returns ``movieId`` (int64, unique), ``title`` (str), ``genres`` (str, as written,
``|``-separated) and ``genre_list`` (list[str]; empty for ``(no genres listed)``).

Both accept a path or a binary file object (an upload). Bad input raises DataError naming the file
and, where it applies, the line (the header is line 1).
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .base import require_dir

NO_GENRES = "(no genres listed)"
MAX_BYTES = 1024 * 1024 * 1024      # 1 GiB: MovieLens-32M's ratings.csv is ~880 MB
RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIES_COLUMNS = ("movieId", "title", "genres")


def _read_text(source, name: str) -> str:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataError("file not found", path)
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"file is larger than {MAX_BYTES // 2**20} MiB", path)
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        data = source.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise DataError(f"file is larger than {MAX_BYTES // 2**20} MiB", name)
    if not data.strip():
        raise DataError("the file is empty", name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError("text is not UTF-8 (save the file as UTF-8)", name, line) from None


def _read_csv(source, name: str, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """The file's ``columns`` as text; DataError when it is not CSV, lacks a column or has no rows."""
    text = _read_text(source, name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"not a valid CSV file ({str(exc).strip()})", name) from None
    except csv.Error as exc:
        raise DataError(f"not a valid CSV file ({exc})", name) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}; expected header "
                        f"'{','.join(columns)}', found '{','.join(frame.columns)}'", name, 1)
    if frame.empty:
        raise DataError(f"no {what} in the file", name)
    return frame[list(columns)]


def _numeric(frame: pd.DataFrame, column: str, name: str, integer: bool) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna()
    if integer:
        bad |= values.notna() & (values != values.round())
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        kind = "an integer" if integer else "a number"
        raise DataError(f"column '{column}' must be {kind}, found '{frame[column].iloc[row]}'", name, row + 2)
    return values.astype("int64" if integer else "float64")


def load_ratings(source, name: str | None = None) -> pd.DataFrame:
    name = name or str(source)
    raw = _read_csv(source, name, RATINGS_COLUMNS, "ratings")
    ratings = pd.DataFrame({
        "userId": _numeric(raw, "userId", name, True),
        "movieId": _numeric(raw, "movieId", name, True),
        "rating": _numeric(raw, "rating", name, False),
        "timestamp": _numeric(raw, "timestamp", name, True),
    })
    out_of_range = ~ratings["rating"].between(0, 5, inclusive="right")
    if out_of_range.any():
        row = int(out_of_range.to_numpy().nonzero()[0][0])
        raise DataError(f"rating must be in (0, 5], found {ratings['rating'].iloc[row]}", name, row + 2)
    problems = []
    dup = ratings.duplicated(["userId", "movieId"], keep="last")
    if dup.any():
        problems.append(f"{int(dup.sum())} repeated (userId, movieId) ratings: kept the last of each")
        ratings = ratings[~dup].reset_index(drop=True)
    ratings.attrs["problems"] = problems
    return ratings


def split_genres(genres: str) -> list[str]:
    """``'Action|Sci-Fi'`` -> ``['Action', 'Sci-Fi']``; ``'(no genres listed)'`` and blanks -> ``[]``."""
    return [g.strip() for g in str(genres).split("|") if g.strip() and g.strip() != NO_GENRES]


def load_movies(source, name: str | None = None) -> pd.DataFrame:
    name = name or str(source)
    raw = _read_csv(source, name, MOVIES_COLUMNS, "movies")
    movies = pd.DataFrame({
        "movieId": _numeric(raw, "movieId", name, True),
        "title": raw["title"].astype(str),
        "genres": raw["genres"].astype(str),
    })
    dup = movies["movieId"].duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0])
        raise DataError(f"movieId {movies['movieId'].iloc[row]} appears twice", name, row + 2)
    movies["genre_list"] = movies["genres"].map(split_genres)
    return movies


@dataclass
class MovieLens:
    """A ratings table and its movie catalogue (see the module doc for the columns)."""

    root: Path | None
    ratings: pd.DataFrame
    movies: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    @property
    def genres(self) -> list[str]:
        return sorted({g for gl in self.movies["genre_list"] for g in gl})


def from_frames(ratings: pd.DataFrame, movies: pd.DataFrame, root: Path | None = None) -> MovieLens:
    """Check that ratings and movies agree and wrap them (used for folders and for uploads)."""
    problems = list(ratings.attrs.get("problems", []))
    unknown = ~ratings["movieId"].isin(movies["movieId"])
    if unknown.any():
        problems.append(f"{int(unknown.sum())} ratings name movies missing from movies.csv: dropped")
        ratings = ratings[~unknown].reset_index(drop=True)
        if ratings.empty:
            raise DataError("no rating refers to a movie in movies.csv", root)
    return MovieLens(root, ratings, movies, problems)


def load_movielens(root) -> MovieLens:
    root = require_dir(Path(root), "MovieLens")
    ratings = load_ratings(root / "ratings.csv")
    movies = load_movies(root / "movies.csv")
    return from_frames(ratings, movies, root.resolve())
