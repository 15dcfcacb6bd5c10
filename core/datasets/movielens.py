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
RATINGS_DTYPES = {"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"}


def read_bytes(source, name: str) -> bytes:
    """The bytes of a path, bytes or a binary file object (an upload), at most MAX_BYTES, not blank."""
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
    return data


def decode(data: bytes, name: str, latin1: bool = False) -> str:
    """UTF-8 text (a BOM is dropped); with ``latin1``, a file that is not UTF-8 is read as Latin-1, as
    MovieLens 100K's ``u.item`` and 1M's ``movies.dat`` were published."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if latin1:
            return data.decode("latin-1")
        line = data[: exc.start].count(b"\n") + 1
        raise DataError("text is not UTF-8 (save the file as UTF-8)", name, line) from None


def _read_text(source, name: str) -> str:
    return decode(read_bytes(source, name), name)


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


def _numeric(frame: pd.DataFrame, column: str, name: str, integer: bool, first_line: int = 2) -> pd.Series:
    """``column`` as int64 / float64; a DataError naming the line (``first_line`` is row 0's) of the first
    value that is not one."""
    values = pd.to_numeric(frame[column].astype(str).str.strip(), errors="coerce")
    bad = values.isna()
    if integer:
        bad |= values.notna() & (values != values.round())
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        kind = "an integer" if integer else "a number"
        raise DataError(f"column '{column}' must be {kind}, found '{frame[column].iloc[row]}'", name, row + first_line)
    return values.astype("int64" if integer else "float64")


def numeric_ratings(raw: pd.DataFrame, name: str, first_line: int = 2) -> pd.DataFrame:
    """Text columns userId, movieId, rating, timestamp -> typed ratings, checked (``checked_ratings``)."""
    ratings = pd.DataFrame({
        "userId": _numeric(raw, "userId", name, True, first_line),
        "movieId": _numeric(raw, "movieId", name, True, first_line),
        "rating": _numeric(raw, "rating", name, False, first_line),
        "timestamp": _numeric(raw, "timestamp", name, True, first_line),
    })
    return checked_ratings(ratings, name, first_line)


def checked_ratings(ratings: pd.DataFrame, name: str, first_line: int = 2) -> pd.DataFrame:
    """Ratings in (0, 5] (MovieLens' scale) or a DataError naming the line; a repeated (user, movie) pair
    keeps its last rating, with a problem noted in ``ratings.attrs['problems']``."""
    out_of_range = ~ratings["rating"].between(0, 5, inclusive="right")
    if out_of_range.any():
        row = int(out_of_range.to_numpy().nonzero()[0][0])
        raise DataError(f"rating must be in (0, 5], found {ratings['rating'].iloc[row]}", name, row + first_line)
    problems = list(ratings.attrs.get("problems", []))
    dup = ratings.duplicated(["userId", "movieId"], keep="last")
    if dup.any():
        problems.append(f"{int(dup.sum())} repeated (userId, movieId) ratings: kept the last of each")
        ratings = ratings[~dup].reset_index(drop=True)
    ratings.attrs["problems"] = problems
    return ratings


def fast_table(data: bytes, sep: str, columns: tuple[str, ...], dtypes: dict, header: bool) -> pd.DataFrame | None:
    """A large numeric table parsed by pandas' C reader; None unless every column came out with the
    wanted type and no blanks (the caller then reads the text slowly, to say which line is wrong)."""
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=sep, header=0 if header else None, engine="c",
                            names=None if header else list(columns), usecols=None if header else range(len(columns)))
    except (ValueError, TypeError, pd.errors.ParserError, csv.Error, UnicodeDecodeError):
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty or any(c not in frame.columns for c in columns):
        return None
    frame = frame[list(columns)]
    for column, dtype in dtypes.items():
        values = frame[column]
        ok = pd.api.types.is_integer_dtype(values) if dtype == "int64" else \
            pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not ok or values.isna().any():
            return None
    return frame.astype(dtypes).reset_index(drop=True)


def load_ratings(source, name: str | None = None) -> pd.DataFrame:
    name = name or str(source)
    data = read_bytes(source, name)
    fast = fast_table(data, ",", RATINGS_COLUMNS, RATINGS_DTYPES, header=True)
    if fast is not None:
        return checked_ratings(fast, name)
    return numeric_ratings(_read_csv(data, name, RATINGS_COLUMNS, "ratings"), name)


def split_genres(genres: str) -> list[str]:
    """``'Action|Sci-Fi'`` -> ``['Action', 'Sci-Fi']``; ``'(no genres listed)'`` and blanks -> ``[]``."""
    return [g.strip() for g in str(genres).split("|") if g.strip() and g.strip() != NO_GENRES]


def load_movies(source, name: str | None = None) -> pd.DataFrame:
    name = name or str(source)
    raw = _read_csv(source, name, MOVIES_COLUMNS, "movies")
    return movies_frame(_numeric(raw, "movieId", name, True), raw["title"].astype(str), raw["genres"].astype(str), name)


def movies_frame(ids, titles, genres, name: str, first_line: int = 2) -> pd.DataFrame:
    """The movie catalogue from its columns (``genres`` as written, ``|``-separated); DataError naming the
    line of a repeated id (``first_line`` is row 0's)."""
    movies = pd.DataFrame({"movieId": pd.Series(ids, dtype="int64").to_numpy(), "title": list(titles),
                           "genres": list(genres)})
    dup = movies["movieId"].duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0])
        raise DataError(f"movieId {movies['movieId'].iloc[row]} appears twice", name, row + first_line)
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
