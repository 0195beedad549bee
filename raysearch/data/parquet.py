"""Parquet image shards (encoded bytes + id): what cluster nodes read from shared storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from raysearch.config import DataConfig
from raysearch.data.faces import FaceData, _select, decode_all, list_images
from raysearch.errors import UserError

SCHEMA = pa.schema([("id", pa.string()), ("image", pa.binary())])


def pack_folder(folder: Path, out: Path, shard_size: int = 2000) -> list[Path]:
    """Write the folder's images, bytes unchanged, as ``shard-NNNNN.parquet`` files under ``out``."""
    files = list_images(folder)
    if shard_size < 1:
        raise UserError(f"shard size must be at least 1, got {shard_size}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create output folder {out}: {e.strerror}") from None
    written = []
    for k, start in enumerate(range(0, len(files), shard_size)):
        chunk = files[start : start + shard_size]
        table = pa.table(
            {"id": [f.name for f in chunk], "image": [f.read_bytes() for f in chunk]}, schema=SCHEMA
        )
        path = out / f"shard-{k:05d}.parquet"
        pq.write_table(table, path, compression="none")  # JPEG/PNG bytes do not compress further
        written.append(path)
    return written


def _filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    try:
        return pafs.FileSystem.from_uri(location)
    except (pa.ArrowInvalid, ValueError):
        return pafs.LocalFileSystem(), str(Path(location).resolve())


def shard_paths(location: str) -> tuple[pafs.FileSystem, list[str]]:
    """The Parquet files at ``location`` (one file, or a folder of them; local path or URI)."""
    fs, path = _filesystem(location)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise UserError(f"data path {location} does not exist")
    if info.type == pafs.FileType.File:
        return fs, [path]
    found = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    shards = sorted(i.path for i in found if i.path.endswith(".parquet"))
    if not shards:
        raise UserError(f"data path {location} holds no .parquet shards")
    return fs, shards


def is_parquet_location(location: str) -> bool:
    if "://" in location:
        return True
    p = Path(location)
    return (p.is_file() and p.suffix == ".parquet") or (p.is_dir() and any(p.glob("*.parquet")))


def load_parquet(location: str, cfg: DataConfig) -> FaceData:
    """Read shards, split by id, and decode only the selected rows."""
    fs, shards = shard_paths(location)
    tables = []
    for s in shards:
        try:
            tables.append(pq.read_table(s, filesystem=fs, columns=["id", "image"]))
        except (pa.ArrowInvalid, KeyError, OSError) as e:
            raise UserError(f"{s}: not a raysearch image shard ({e})") from None
    table = pa.concat_tables(tables)
    ids: list[str] = table.column("id").to_pylist()
    images = table.column("image")
    tr, va = _select(ids, cfg)

    def rows(idx: np.ndarray) -> list[tuple[str, bytes]]:
        return [(ids[k], images[int(k)].as_py()) for k in idx]

    train, train_ids, s1 = decode_all(rows(tr), cfg.image_size, cfg.crop)
    val, val_ids, s2 = decode_all(rows(va), cfg.image_size, cfg.crop)
    return FaceData(train, val, train_ids, val_ids, s1 + s2)
