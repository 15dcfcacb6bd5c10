import pytest

from core.datasets import splits
from core.datasets.folders import load_identity_folders
from core.datasets.layouts import load_reid
from core.datasets.viper import load_two_camera
from core.errors import DataError
from tests.conftest import write_image


@pytest.fixture
def two_cam(tmp_path):
    for i, pid in enumerate(["000", "002", "010", "100"]):
        write_image(tmp_path / "cam_a" / f"{pid}_0.bmp", seed=i)
        write_image(tmp_path / "cam_b" / f"{pid}_90.png", seed=10 + i)
    write_image(tmp_path / "cam_a" / "777_45.jpg")          # only in camera A
    (tmp_path / "cam_b" / "notes.txt").write_text("hello")
    return tmp_path


def test_two_camera_layout(two_cam):
    ds = load_two_camera(two_cam)
    assert ds.pids == ["000", "002", "010", "100", "777"]
    assert ds.num_images == 9
    assert set(ds.camera(0)["pid"]) == {"000", "002", "010", "100", "777"}
    assert ds.frame.loc[ds.frame.pid == "010", "view"].tolist() == ["0", "90"]
    assert any("notes.txt" in p for p in ds.problems)
    assert any("only one camera" in p for p in ds.problems)
    assert load_reid(two_cam).num_images == 9               # auto-detected layout


def test_two_camera_errors_name_the_folder(tmp_path):
    (tmp_path / "cam_a").mkdir()
    with pytest.raises(DataError, match="cam_b"):
        load_two_camera(tmp_path)
    (tmp_path / "cam_b").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_two_camera(tmp_path)
    with pytest.raises(DataError, match="not found"):
        load_two_camera(tmp_path / "missing")


def test_identity_folders_with_and_without_camera_tokens(tmp_path):
    write_image(tmp_path / "0001" / "0001_c2s1_000.jpg")
    write_image(tmp_path / "0001" / "0001_c1s1_000.jpg")
    write_image(tmp_path / "0001" / "0001_c3s1_000.jpg")
    write_image(tmp_path / "bob" / "a.png")
    write_image(tmp_path / "bob" / "b.png")
    (tmp_path / "empty").mkdir()
    ds = load_identity_folders(tmp_path)
    cams = dict(zip(ds.frame.path.str.rsplit("/", n=1).str[-1], ds.frame.camera))
    assert cams == {"0001_c1s1_000.jpg": 0, "0001_c2s1_000.jpg": 1, "0001_c3s1_000.jpg": 1,
                    "a.png": 0, "b.png": 1}
    assert any("empty" in p for p in ds.problems)


def test_course_split_sorts_ids_numerically():
    pids = [str(i) for i in range(632)][::-1]
    s = splits.course_split(pids)
    assert len(s.train) == 482 and len(s.test) == 150
    assert s.train[:3] == ("0", "1", "2") and s.test[0] == "482" and s.test[-1] == "631"
    assert len(splits.course_split([str(i) for i in range(300)]).train) == round(300 * 482 / 632)


def test_literature_splits_are_seeded_disjoint_and_different():
    pids = [f"{i:03d}" for i in range(632)]
    a = splits.literature_splits(pids, seed=3)
    b = splits.literature_splits(pids, seed=3)
    assert [x.train for x in a] == [x.train for x in b]
    assert len(a) == 10 and all(len(x.train) == 316 and len(x.test) == 316 for x in a)
    assert all(not set(x.train) & set(x.test) for x in a)
    assert len({x.train for x in a}) == 10
    rc = splits.random_course_splits(pids)
    assert all(len(x.train) == 482 and len(x.test) == 150 for x in rc)


def test_split_refuses_impossible_sizes():
    with pytest.raises(DataError):
        splits.course_split(["1", "2"], n_train=2)
