import math

import pytest

from core.datasets.attribute_csv import load_attribute_csv
from core.datasets.peta import load_peta
from core.errors import DataError
from tests.conftest import write_image


@pytest.fixture
def peta(tmp_path):
    arch = tmp_path / "PETA dataset" / "GRID" / "archive"
    write_image(arch / "0001_1_a.jpeg")
    write_image(arch / "0001_2_b.jpeg")
    write_image(arch / "0002.png")
    write_image(arch / "0099_x.png")            # no label line
    (arch / "Label.txt").write_text("1 personalMale footwearSneakers\n0002 personalFemale carryingBackpack\n"
                                    "0003 personalMale\n")
    other = tmp_path / "PETA dataset" / "MIT" / "archive"
    write_image(other / "00001_male_back.jpg")
    (other / "Label.txt").write_text("00001 personalMale accessoryHat\n")
    (tmp_path / "PETA dataset" / "NoLabels" / "archive").mkdir(parents=True)
    return tmp_path


def test_peta_ids_spelling_and_problems(peta):
    ds = load_peta(peta)
    assert ds.attributes == ["accessoryHat", "carryingBackpack", "footwearSneaker", "personalFemale", "personalMale"]
    f = ds.frame.set_index(ds.frame.path.str.rsplit("/", n=1).str[-1])
    assert f.loc["0001_1_a.jpeg", "person"] == "GRID/1" and f.loc["0001_2_b.jpeg", "footwearSneaker"] == 1.0
    assert f.loc["0002.png", "carryingBackpack"] == 1.0 and f.loc["0002.png", "personalMale"] == 0.0
    assert f.loc["00001_male_back.jpg", "person"] == "MIT/00001"
    assert len(ds.frame) == 4 and ds.frame.person.nunique() == 3
    text = " ".join(ds.problems)
    assert "NoLabels" in text and "1 images have no line" in text and "1 label lines have no images" in text


def test_peta_malformed_label_line(tmp_path):
    arch = tmp_path / "S" / "archive"
    write_image(arch / "1_a.png")
    (arch / "Label.txt").write_text("1 personalMale\n2\n")
    with pytest.raises(DataError, match="Label.txt, line 2: person '2' has no attribute tokens"):
        load_peta(tmp_path)


def test_attribute_csv_blank_is_unknown(tmp_path):
    write_image(tmp_path / "img" / "a.png")
    write_image(tmp_path / "img" / "b.png")
    (tmp_path / "labels.csv").write_text("image,person,male,backpack\nimg/a.png,7,1,\nimg/b.png,8,0,yes\n"
                                         "img/missing.png,9,1,1\n")
    ds = load_attribute_csv(tmp_path / "labels.csv")
    assert ds.attributes == ["male", "backpack"]
    labels = ds.labels()
    assert labels[0, 0] == 1.0 and math.isnan(labels[0, 1]) and labels[1, 1] == 1.0
    assert ds.frame.person.tolist() == ["labels/7", "labels/8"]
    assert "1 rows name image files that do not exist" in ds.problems[0]


@pytest.mark.parametrize("text, match", [
    ("file,male\n", "first column must be 'image'"),
    ("image\n", "no label columns"),
    ("image,male\nimg/a.png,maybe\n", "line 2: column 'male' must be 1, 0 or blank"),
    ("image,male\nimg/a.png,1,0\n", "line 2: expected 2 cells"),
])
def test_attribute_csv_errors(tmp_path, text, match):
    write_image(tmp_path / "img" / "a.png")
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        load_attribute_csv(tmp_path / "labels.csv")
