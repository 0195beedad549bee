"""Loading faces: the embedded set, a real folder, Parquet shards, splits and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from raysearch.config import DataConfig
from raysearch.data import check_data_path, load_faces, pack_folder
from raysearch.data.faces import face_crop
from raysearch.errors import UserError


def test_embedded_is_deterministic_and_split() -> None:
    cfg = DataConfig(num_images=40, image_size=32, val_fraction=0.25)
    a, b = load_faces(cfg), load_faces(cfg)
    assert a.train.shape == (30, 32, 32, 3) and a.val.shape == (10, 32, 32, 3)
    assert np.array_equal(a.train, b.train) and a.val_ids == b.val_ids
    assert not set(a.train_ids) & set(a.val_ids)
    assert a.train.std() > 30  # faces with structure, not a flat colour


def test_celeba_crop_is_centre_square() -> None:
    img = Image.new("RGB", (89, 109))
    assert face_crop(img, "auto").size == (74, 74)  # 148/178 of the width
    assert face_crop(Image.new("RGB", (250, 250)), "auto").size == (250, 250)


@pytest.mark.data
def test_folder_with_id_split(celeba_dir: Path, tmp_path: Path) -> None:
    for i in list(range(1, 31)) + list(range(7001, 7011)):
        shutil.copy(celeba_dir / f"{i:06d}.jpg", tmp_path)
    cfg = DataConfig(path=str(tmp_path), image_size=64, split="ids", train_ids="1-7000",
                     val_ids="7001-8000")
    data = load_faces(cfg)
    assert data.train.shape == (30, 64, 64, 3) and data.val.shape == (10, 64, 64, 3)
    assert data.val_ids[0] == "007001.jpg"


@pytest.mark.data
def test_unreadable_images_skipped_and_counted(celeba_dir: Path, tmp_path: Path) -> None:
    for i in range(1, 11):
        shutil.copy(celeba_dir / f"{i:06d}.jpg", tmp_path)
    (tmp_path / "000011.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "000012.png").write_bytes(b"")
    data = load_faces(DataConfig(path=str(tmp_path), image_size=32, val_fraction=0.2))
    assert data.skipped == 2
    assert len(data.train) + len(data.val) == 10


@pytest.mark.data
def test_parquet_round_trip(celeba_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(1, 26):
        shutil.copy(celeba_dir / f"{i:06d}.jpg", folder)
    shards = pack_folder(folder, tmp_path / "shards", shard_size=10)
    assert [s.name for s in shards] == ["shard-00000.parquet", "shard-00001.parquet",
                                        "shard-00002.parquet"]
    cfg = DataConfig(image_size=64, val_fraction=0.2, seed=3)
    from_folder = load_faces(DataConfig(**{**cfg.__dict__, "path": str(folder)}))
    from_shards = load_faces(DataConfig(**{**cfg.__dict__, "path": str(tmp_path / "shards")}))
    assert from_folder.train_ids == from_shards.train_ids
    assert np.array_equal(from_folder.train, from_shards.train)
    assert np.array_equal(from_folder.val, from_shards.val)
    uri = load_faces(DataConfig(**{**cfg.__dict__, "path": f"file://{tmp_path / 'shards'}"}))
    assert np.array_equal(uri.val, from_folder.val)


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        check_data_path(str(tmp_path / "nope"))
    with pytest.raises(UserError, match=r"holds no \.jpg/\.jpeg/\.png images"):
        check_data_path(str(tmp_path))


def test_bad_id_ranges(tmp_path: Path) -> None:
    Image.new("RGB", (40, 40)).save(tmp_path / "000001.png")
    Image.new("RGB", (40, 40)).save(tmp_path / "000002.png")
    with pytest.raises(UserError, match="inverted"):
        load_faces(DataConfig(path=str(tmp_path), split="ids", train_ids="9-3", val_ids="2"))
    with pytest.raises(UserError, match="selects 1 training and 0 validation"):
        load_faces(DataConfig(path=str(tmp_path), split="ids", train_ids="1", val_ids="5-6"))
