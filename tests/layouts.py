"""Tiny generated datasets in every published layout the studio reads, with the quirks of the real
releases (Latin-1 text, '::' separators, CRLF, no header, file-name-keyed label lines, missing images,
junk and distractor ids). Counts are small enough to check by hand; each builder returns its root."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import write_image


def _img(path: Path, seed: int) -> None:
    write_image(path, 24, 12, seed)


def prid(root: Path, cam_a: int = 8, cam_b: int = 10, shared: int = 6) -> Path:
    """prid_2011/single_shot: persons 1..cam_a in camera A, 1..cam_b in camera B; 1..shared in both
    (so persons shared+1..cam_a are A-only, cam_a+1..cam_b B-only: PRID's 385 / 749 / 200 shape)."""
    base = root / "single_shot"
    for cam, n in (("cam_a", cam_a), ("cam_b", cam_b)):
        for pid in range(1, n + 1):
            if cam == "cam_b" and shared < pid <= cam_a:
                continue                  # A-only persons are not in camera B
            _img(base / cam / f"person_{pid:04d}.png", pid * 2 + (cam == "cam_b"))
    return root


def prid_flat(root: Path, cam_a: int = 5, cam_b: int = 7, shared: int = 3) -> Path:
    """PRID 2011 as PETA ships it: one folder of NNNN_a.png / NNNN_b.png (and PETA's Label.txt)."""
    for cam, n in (("a", cam_a), ("b", cam_b)):
        for pid in range(1, n + 1):
            if cam == "b" and shared < pid <= cam_a:
                continue
            _img(root / f"{pid:04d}_{cam}.png", pid * 2 + (cam == "b"))
    (root / "Label.txt").write_text("0001 personalMale\n")
    return root


def market(root: Path) -> Path:
    """Market-1501: 3 training persons in 2 cameras; queries of persons 0001 (camera 1) and 0003
    (camera 2); a gallery with each query person in its own and another camera, 2 distractors (0000)
    and 2 junk boxes (-1)."""
    for i, pid in enumerate(("0002", "0007", "0010")):
        for cam in (1, 2):
            _img(root / "bounding_box_train" / f"{pid}_c{cam}s1_00{i}{cam}51_01.jpg", 10 * i + cam)
    _img(root / "query" / "0001_c1s1_001051_00.jpg", 100)
    _img(root / "query" / "0003_c2s1_004051_00.jpg", 101)
    gallery = ["0001_c1s1_001101_01.jpg", "0001_c3s1_001201_01.jpg", "0003_c2s1_004101_01.jpg",
               "0003_c5s1_004201_01.jpg", "0000_c1s1_000001_01.jpg", "0000_c4s1_000002_01.jpg",
               "-1_c1s1_000003_01.jpg", "-1_c2s1_000004_01.jpg"]
    for j, name in enumerate(gallery):
        _img(root / "bounding_box_test" / name, 200 + j)
    return root


def grid(root: Path, persons: int = 6, distractors: int = 4) -> Path:
    base = root / "underground_reid"
    for pid in range(1, persons + 1):
        _img(base / "probe" / f"{pid:04d}_1_2500{pid}_107_32_130.jpeg", pid)
        _img(base / "gallery" / f"{pid:04d}_5_2600{pid}_99_40_120.jpeg", 50 + pid)
    for j in range(distractors):
        _img(base / "gallery" / f"0000_{j % 8 + 1}_3000{j}_10_10_100.jpeg", 90 + j)
    return root


def cuhk01(root: Path, persons: int = 6) -> Path:
    for pid in range(1, persons + 1):
        for shot in range(1, 5):
            _img(root / "campus" / f"{pid:04d}{shot:03d}.png", pid * 10 + shot)
    return root


def two_camera(root: Path, ids=("001", "002", "003", "004")) -> Path:
    for cam in ("cam_a", "cam_b"):
        for k, pid in enumerate(ids):
            _img(root / cam / f"{pid}_{0 if cam == 'cam_a' else 90}.bmp", k + (cam == "cam_b") * 50)
    return root


# ----------------------------------------------------------------------------- ratings
GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
               "War", "Western"]


def ml100k(root: Path) -> Path:
    """3 users, 4 movies, 7 ratings; movie 3's title is Latin-1 ('Café Society'); movie 4 has only
    'unknown' set."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n"
                                 "2\t3\t2\t881250952\n3\t2\t5\t881250953\n3\t4\t1\t881250954\n3\t1\t4\t881250955\n")
    (root / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES_100K)) + "\n")

    def flags(*names):
        return "|".join("1" if g in names else "0" for g in GENRES_100K)
    children = "Children's"
    lines = [f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags('Animation', children, 'Comedy')}",
             f"2|GoldenEye (1995)|01-Jan-1995||http://x|{flags('Action', 'Thriller')}",
             f"3|Café Society (1995)|01-Jan-1995||http://x|{flags('Drama')}",
             f"4|Mystery Film (1996)|01-Jan-1996||http://x|{flags('unknown')}"]
    (root / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return root


def ml_dat(root: Path, half_stars: bool = False, latin1: bool = True, crlf: bool = True) -> Path:
    """MovieLens 1M / 10M: 3 users, 3 movies, 6 ratings; movie 2's title has 'é'."""
    root.mkdir(parents=True, exist_ok=True)
    nl = "\r\n" if crlf else "\n"
    stars = ["5", "3.5" if half_stars else "3", "4", "2", "4.5" if half_stars else "5", "1"]
    pairs = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 3)]
    (root / "ratings.dat").write_text(nl.join(f"{u}::{m}::{s}::97830076{i}" for i, ((u, m), s) in
                                              enumerate(zip(pairs, stars))) + nl)
    movies = nl.join(["1::Toy Story (1995)::Animation|Children's|Comedy", "2::Amélie (2001)::Comedy|Romance",
                      "3::Heat (1995)::Action|Crime|Thriller"]) + nl
    (root / "movies.dat").write_bytes(movies.encode("latin-1" if latin1 else "utf-8"))
    return root


def generic_ratings(root: Path, items: bool = True) -> Path:
    """user,item,rating without timestamps, string user ids; items.csv with genres."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "my_ratings.csv").write_text("user,item,rating\nann,10,4\nann,20,2\nbob,10,5\nbob,30,3\ncat,20,4.5\n")
    if items:
        (root / "items.csv").write_text('item,title,genres\n10,"Film, The",Drama|Comedy\n20,Other,Action\n'
                                        "30,Third,Drama\n")
    return root


def ml_csv(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\r\n1,1,4.0,10\r\n1,2,3.0,11\r\n"
                                      "2,1,5.0,12\r\n2,2,1.0,13\r\n")
    (root / "movies.csv").write_text('movieId,title,genres\r\n1,"Film, A",Drama\r\n2,B,Action|Drama\r\n')
    return root


# ----------------------------------------------------------------------------- attributes
def peta_cuhk(root: Path) -> Path:
    """PETA's CUHK subset: label lines keyed by file name, in no order, two naming absent images; one
    image without a line."""
    archive = root / "PETA dataset" / "CUHK" / "archive"
    names = ["0606.png", "0101.png", "0333.png", "0042.png"]
    for k, name in enumerate(names + ["0999.png"]):
        _img(archive / name, k)
    lines = ["0333.png upperBodyGrey personalMale", "0606.png upperBodyGrey lowerBodyBlack personalFemale",
             "0042.png personalMale carryingBackpack", "7777.png personalMale", "0101.png personalFemale",
             "8888.png personalFemale hairLong"]
    (archive / "Label.txt").write_text("\n".join(lines) + "\n")
    return root


def pa100k(root: Path, parts=(4, 2, 2)) -> Path:
    """annotation/annotation.mat (MATLAB v5, cell arrays as PA-100K writes them) and the images under
    data/release_data/release_data/; one listed test image is missing."""
    from scipy.io import savemat

    attributes = ["Female", "AgeOver60", "Age18-60", "Backpack", "Skirt&Dress"]
    rng = np.random.default_rng(0)
    mat, k = {}, 1
    folder = root / "data" / "release_data" / "release_data"
    for part, n in zip(("train", "val", "test"), parts):
        names = [f"{k + i:06d}.jpg" for i in range(n)]
        k += n
        labels = rng.integers(0, 2, (n, len(attributes))).astype(np.uint8)
        labels[0] = [1, 0, 1, 0, 1]
        labels[-1] = [0, 1, 0, 1, 0]
        cell = np.empty((n, 1), dtype=object)
        for i, name in enumerate(names):
            cell[i, 0] = np.array([name])
            if not (part == "test" and i == n - 1):
                _img(folder / name, k + i)
        mat[f"{part}_images_name"], mat[f"{part}_label"] = cell, labels
    attr_cell = np.empty((len(attributes), 1), dtype=object)
    for i, a in enumerate(attributes):
        attr_cell[i, 0] = np.array([a])
    mat["attributes"] = attr_cell
    (root / "annotation").mkdir(parents=True, exist_ok=True)
    savemat(root / "annotation" / "annotation.mat", mat)
    return root


def ratings_in_every_layout(ml, root: Path) -> dict[str, Path]:
    """The same ratings and movies (a MovieLens container) written as MovieLens 100K, as 1M ('::',
    Latin-1 movies) and as a generic CSV pair; returns {layout id: folder}."""
    genres = ["unknown"] + ml.genres
    k100, dat, generic = root / "as-100k", root / "as-1m", root / "as-generic"
    for d in (k100, dat, generic):
        d.mkdir(parents=True, exist_ok=True)
    r = ml.ratings[["userId", "movieId", "rating", "timestamp"]]
    r.to_csv(k100 / "u.data", sep="\t", header=False, index=False)
    (k100 / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)))
    items = ["|".join([str(m), t, "", "", "http://x"] + ["1" if g in gl else "0" for g in genres])
             for m, t, gl in zip(ml.movies.movieId, ml.movies.title, ml.movies.genre_list)]
    (k100 / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (dat / "ratings.dat").write_text("".join(f"{u}::{m}::{s:g}::{t}\n" for u, m, s, t in r.itertuples(index=False)))
    movies = "".join(f"{m}::{t}::{'|'.join(gl) or '(no genres listed)'}\n"
                     for m, t, gl in zip(ml.movies.movieId, ml.movies.title, ml.movies.genre_list))
    (dat / "movies.dat").write_bytes(movies.encode("latin-1"))
    r.rename(columns={"userId": "user", "movieId": "item"}).to_csv(generic / "ratings.csv", index=False)
    ml.movies[["movieId", "title", "genres"]].rename(columns={"movieId": "item"}).to_csv(generic / "items.csv",
                                                                                          index=False)
    return {"movielens-100k": k100, "movielens-dat": dat, "ratings-csv": generic}


def peta_sites(root: Path, demo_archive: Path, sites=("SiteA", "SiteB")) -> Path:
    """PETA with several subsets (sites), made from the demo's one: its persons dealt in turn to each
    site, images and label lines copied."""
    import shutil

    lines = (demo_archive / "Label.txt").read_text().splitlines()
    for k, site in enumerate(sites):
        archive = root / "PETA" / "PETA dataset" / site / "archive"
        archive.mkdir(parents=True)
        mine = lines[k::len(sites)]
        for line in mine:
            for image in demo_archive.glob(f"{line.split()[0]}_*"):
                shutil.copy(image, archive / image.name)
        (archive / "Label.txt").write_text("\n".join(mine) + "\n")
    return root
