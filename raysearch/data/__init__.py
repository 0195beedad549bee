"""Face datasets: the embedded default, a folder of images, or Parquet shards."""

from __future__ import annotations

from pathlib import Path

from raysearch.config import DataConfig
from raysearch.data.embedded import embedded_faces
from raysearch.data.faces import FaceData, load_folder, split_indices
from raysearch.data.parquet import is_parquet_location, load_parquet, pack_folder

__all__ = ["FaceData", "check_data_path", "load_faces", "pack_folder"]


def check_data_path(path: str) -> None:
    """Fail early (before Ray starts) when the data path cannot be read."""
    if path == "embedded" or "://" in path:
        return
    from raysearch.data.faces import list_images

    p = Path(path)
    if is_parquet_location(path):
        return
    list_images(p)


def load_faces(cfg: DataConfig) -> FaceData:
    """Decode the configured dataset into memory and split it."""
    if cfg.path == "embedded":
        faces, ids = embedded_faces(cfg.num_images, cfg.image_size)
        tr, va = split_indices(ids, cfg)
        return FaceData(faces[tr], faces[va], [ids[i] for i in tr], [ids[i] for i in va])
    if is_parquet_location(cfg.path):
        return load_parquet(cfg.path, cfg)
    return load_folder(Path(cfg.path), cfg)
