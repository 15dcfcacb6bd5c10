import pytest

from core.datasets import movielens
from core.errors import DataError

MOVIES = ('movieId,title,genres\r\n1,"Toy Story (1995)",Adventure|Animation|Children\r\n'
          '2,"American President, The (1995)",Comedy|Drama|Romance\r\n3,Nothing Here (2001),(no genres listed)\r\n')
RATINGS = "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.5,964981247\r\n2,1,5,964982224\r\n"


def test_movies_crlf_quoted_commas_and_no_genres(tmp_path):
    (tmp_path / "movies.csv").write_bytes(MOVIES.encode())
    movies = movielens.load_movies(tmp_path / "movies.csv")
    assert movies.title.tolist()[1] == "American President, The (1995)"
    assert movies.genre_list.tolist() == [["Adventure", "Animation", "Children"], ["Comedy", "Drama", "Romance"], []]
    assert str(movies.movieId.dtype) == "int64"


def test_ratings_types_and_folder(tmp_path):
    (tmp_path / "movies.csv").write_bytes(MOVIES.encode())
    (tmp_path / "ratings.csv").write_bytes(RATINGS.encode())
    ml = movielens.load_movielens(tmp_path)
    assert ml.ratings.dtypes.astype(str).tolist() == ["int64", "int64", "float64", "int64"]
    assert ml.ratings.rating.tolist() == [4.0, 3.5, 5.0]
    assert ml.genres == ["Adventure", "Animation", "Children", "Comedy", "Drama", "Romance"]


@pytest.mark.parametrize("text, match", [
    ("user,movie,rating\n1,1,4\n", "line 1: missing column"),
    ("userId,movieId,rating,timestamp\n1,1,4,5\n1,2,four,6\n", "line 3: column 'rating' must be a number"),
    ("userId,movieId,rating,timestamp\n1,1.5,4,5\n", "line 2: column 'movieId' must be an integer"),
    ("userId,movieId,rating,timestamp\n1,1,9,5\n", r"line 2: rating must be in \(0, 5\]"),
    ("", "empty"),
    ("userId,movieId,rating,timestamp\n", "no ratings"),
])
def test_bad_ratings_name_the_line(text, match):
    with pytest.raises(DataError, match=match):
        movielens.load_ratings(text.encode(), name="ratings.csv")


def test_non_utf8_and_duplicates():
    with pytest.raises(DataError, match="line 3: text is not UTF-8"):
        movielens.load_movies("movieId,title,genres\n1,a,Drama\n2,Caf\xe9,Drama\n".encode("latin-1"), name="m.csv")
    with pytest.raises(DataError, match="movieId 1 appears twice"):
        movielens.load_movies(b"movieId,title,genres\n1,a,Drama\n1,b,Drama\n", name="m.csv")
    r = movielens.load_ratings(b"userId,movieId,rating,timestamp\n1,1,4,5\n1,1,2,9\n", name="r.csv")
    assert r.rating.tolist() == [2.0] and "kept the last" in r.attrs["problems"][0]


def test_ratings_for_unknown_movies_are_dropped_and_reported():
    movies = movielens.load_movies(MOVIES.encode(), name="m")
    ratings = movielens.load_ratings(b"userId,movieId,rating,timestamp\n1,1,4,5\n1,99,2,9\n", name="r")
    ml = movielens.from_frames(ratings, movies)
    assert len(ml.ratings) == 1 and "missing from movies.csv" in ml.problems[0]
