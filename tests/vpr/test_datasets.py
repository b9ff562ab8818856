"""Loaders on generated fixtures in each real layout, and their bad-input errors."""
import numpy as np
import pytest
from PIL import Image

from biosim.core.validation import BiosimError
from biosim.vpr.datasets import (PlaceDataset, Traverse, dark_frames, distance_ground_truth,
                                 drop_dark_places, load_folder_dataset, load_ground_truth,
                                 load_images, load_nordland, load_robotcar, load_st_lucia,
                                 load_traverse, same_index_ground_truth, select_frames)


def write_images(folder, names, size=(8, 4), seed=0, dark=()):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, n in enumerate(names):
        a = rng.integers(60, 256, (size[1], size[0], 3)).astype(np.uint8)
        if i in dark:
            a[:] = 3
        Image.fromarray(a).save(folder / n)
    return folder


def test_select_frames_arithmetic():
    """VPRSNN's skip: indices divisible by `every`, then the offset, then the count; the
    27,592-name speed-filtered Nordland list at every 8 keeps ceil(27592 / 8) = 3,449 frames."""
    idx = select_frames(27592, every=8)
    assert len(idx) == 3449 and idx[:3].tolist() == [0, 8, 16] and idx[-1] == 27584
    np.testing.assert_array_equal(select_frames(20, every=3, offset=2, count=3), [6, 9, 12])
    with pytest.raises(BiosimError, match="offset"):
        select_frames(10, every=5, offset=2)


def test_generic_folder_with_names_and_csv_ground_truth(tmp_path):
    names = [f"{i:03d}.png" for i in range(6)]
    write_images(tmp_path / "ref", names)
    write_images(tmp_path / "qry", names[::-1], seed=1)
    (tmp_path / "list.txt").write_text("\n".join(names[:4]) + "\n\n")
    t = load_traverse(tmp_path / "ref", tmp_path / "list.txt")
    assert t.files == names[:4] and t.images.shape == (4, 4, 8)
    np.testing.assert_array_equal(t.images[1], np.asarray(Image.open(tmp_path / "ref/001.png").convert("L")))
    # CSV: query, reference, tolerance (1-based like OpenSeqSLAM2), with a header
    (tmp_path / "gt.csv").write_text("query,reference,tolerance\n1,6,0\n2,4,1\n")
    ds = load_folder_dataset(tmp_path / "ref", tmp_path / "qry", tmp_path / "gt.csv", one_based=True)
    assert ds.ground_truth.shape == (6, 6)
    assert np.flatnonzero(ds.ground_truth[:, 0]).tolist() == [5]
    assert np.flatnonzero(ds.ground_truth[:, 1]).tolist() == [2, 3, 4]
    assert not ds.ground_truth[:, 2:].any()
    g = np.zeros((6, 6), bool)
    np.save(tmp_path / "gt.npy", g | np.eye(6, dtype=bool))
    ds = load_folder_dataset(tmp_path / "ref", tmp_path / "qry", str(tmp_path / "gt.npy"))
    np.testing.assert_array_equal(ds.ground_truth, np.eye(6, dtype=bool))
    ds = load_folder_dataset(tmp_path / "ref", tmp_path / "qry", "same", tolerance=1)
    np.testing.assert_array_equal(ds.ground_truth, same_index_ground_truth(6, 6, 1))
    assert ds.ground_truth[0, 1] and not ds.ground_truth[0, 2]


def test_nordland_layout_names_and_frame_skip(tmp_path):
    names = [f"images-{i:05d}.png" for i in range(1, 21)]
    for k, s in enumerate(("spring", "fall", "winter")):
        write_images(tmp_path / s, names, seed=k, dark=(4,) if s == "winter" else ())
    # a VPRSNN-style list with its own folder prefix, every other name (speed-filtered)
    (tmp_path / "nordland_imageNames_spring.txt").write_text(
        "\n".join(f"./nordland/spring/{n}" for n in names[::2]))
    ds = load_nordland(tmp_path, "spring", "winter", ("fall",),
                       names=tmp_path / "nordland_imageNames_spring.txt", every=2, offset=1)
    # list: 1,3,5,...,19 -> every 2nd: 1,5,9,13,17 -> offset 1: 5,9,13,17
    assert ds.reference.files == [f"images-{i:05d}.png" for i in (5, 9, 13, 17)]
    assert ds.query.files == ds.reference.files and ds.references[1].name == "fall"
    np.testing.assert_array_equal(ds.ground_truth, np.eye(4, dtype=bool))
    full = load_nordland(tmp_path, "spring", "winter", drop_dark=20)
    assert full.notes["dropped_dark"] == ["images-00005.png"]
    assert len(full.reference) == 19 and full.ground_truth.shape == (19, 19)
    assert "images-00005.png" not in full.query.files


def test_robotcar_distance_ground_truth(tmp_path):
    stamps = [1_000_000 * k for k in range(5)]
    write_images(tmp_path / "ref", [f"{s}.png" for s in stamps])
    write_images(tmp_path / "qry", [f"{s + 500_000}.png" for s in stamps], seed=3)
    # reference drives north at 10 m/s, query 30 m east of it on a parallel road
    (tmp_path / "ref.csv").write_text("timestamp,northing,easting\n0,0,0\n10000000,100,0\n")
    (tmp_path / "qry.csv").write_text("timestamp,northing,easting\n0,0,30\n10000000,100,30\n")
    ds = load_robotcar(tmp_path / "ref", tmp_path / "qry", tmp_path / "ref.csv",
                       tmp_path / "qry.csv", threshold=35.0)
    np.testing.assert_allclose(ds.reference.positions[:, 0], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(ds.query.positions[:, 0], [5, 15, 25, 35, 45])
    # distance ref i to query j: sqrt((10 (i - j) - 5)^2 + 30^2) <= 35 -> |10(i-j) - 5| <= 18.03
    want = np.abs(10 * (np.arange(5)[:, None] - np.arange(5)[None, :]) - 5) <= np.sqrt(35**2 - 30**2)
    np.testing.assert_array_equal(ds.ground_truth, want)
    np.testing.assert_allclose(ds.query.timestamps, np.array(stamps) * 1e-6 + 0.5)


def test_st_lucia_zero_marks_the_match(tmp_path):
    """St Lucia ground truth as published with VPRSNN: integers, 0 marks the match."""
    write_images(tmp_path / "ref", [f"{i:07d}.png" for i in range(3)])
    write_images(tmp_path / "qry", [f"{i:07d}.png" for i in range(4)])
    gt = np.ones((3, 4), np.int64)
    gt[[0, 1, 2, 2], [0, 1, 2, 3]] = 0
    np.save(tmp_path / "gt.npy", gt)
    ds = load_st_lucia(tmp_path / "ref", tmp_path / "qry", tmp_path / "gt.npy")
    np.testing.assert_array_equal(ds.ground_truth, gt == 0)
    np.save(tmp_path / "bad.npy", np.ones((4, 3), np.int64))
    with pytest.raises(BiosimError, match="bad.npy"):
        load_st_lucia(tmp_path / "ref", tmp_path / "qry", tmp_path / "bad.npy")


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(BiosimError, match="missing"):
        load_traverse(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BiosimError, match="empty"):
        load_traverse(tmp_path / "empty")
    write_images(tmp_path / "a", ["0.png", "1.png"])
    data = (tmp_path / "a/1.png").read_bytes()
    (tmp_path / "a/1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BiosimError, match="1.png"):
        load_traverse(tmp_path / "a")
    (tmp_path / "a/2.png").write_bytes(b"not an image")
    with pytest.raises(BiosimError, match="2.png"):
        load_images([tmp_path / "a/2.png"])
    write_images(tmp_path / "b", ["0.png"])
    write_images(tmp_path / "b", ["1.png"], size=(9, 4))
    with pytest.raises(BiosimError, match="1.png"):
        load_traverse(tmp_path / "b")
    write_images(tmp_path / "c", ["0.png", "1.png", "2.png"])
    with pytest.raises(BiosimError, match="gt.npy"):
        np.save(tmp_path / "gt.npy", np.eye(2, dtype=bool))
        load_folder_dataset(tmp_path / "c", tmp_path / "c", tmp_path / "gt.npy")
    write_images(tmp_path / "d", ["0.png", "1.png"])
    with pytest.raises(BiosimError, match="same length"):
        load_folder_dataset(tmp_path / "c", tmp_path / "d", "same")
    with pytest.raises(BiosimError, match="names"):
        load_traverse(tmp_path / "c", ["0.png", "9.png"])
    with pytest.raises(BiosimError, match="ground_truth"):
        load_ground_truth(np.eye(3), 3, 2)


def test_containers_and_dark_frames():
    imgs = np.full((3, 4, 4), 100, np.uint8)
    imgs[1] = 5
    np.testing.assert_array_equal(dark_frames(imgs), [False, True, False])
    t = Traverse(imgs, [0, 1, 2], "x")
    assert len(t.subset([2, 0])) == 2
    with pytest.raises(BiosimError, match="place_ids"):
        Traverse(imgs, [0, 1])
    with pytest.raises(BiosimError, match="ground_truth"):
        PlaceDataset(t, t, np.eye(2, dtype=bool))
    ds = drop_dark_places(PlaceDataset(t, t, np.eye(3, dtype=bool)))
    assert ds.notes["dropped_dark"] == [1] and len(ds.query) == 2
    np.testing.assert_array_equal(distance_ground_truth([[0, 0]], [[3, 4], [3, 5]], 5.0), [[True, False]])
