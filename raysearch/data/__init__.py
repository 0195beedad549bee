"""Face datasets: the embedded default, a folder of images, or Parquet shards."""

from __future__ import annotations

from pathlib import Path

from raysearch.config import DataConfig
from raysearch.data.embedded import embedded_faces
from raysearch.data.faces import FaceData, load_folder, split_indices
from raysearch.data.parquet import is_parquet_location, load_parquet, pack_folder

__all__ = ["FaceData", "check_data_path", "load_faces", "pack_folder"]


URI_TIMEOUT_S = 20.0  # a bucket that does not answer in this long is reported, not waited on


def check_data_path(path: str) -> None:
    """Fail early (before Ray starts) when the data path cannot be read."""
    if path == "embedded":
        return
    if "://" in path:
        _check_uri(path)
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


def _check_uri(uri: str) -> None:
    """Parquet shards at a URI: a filesystem pyarrow opens, and shards there, within a bound
    (a daemon thread: a call that never returns cannot keep the process alive)."""
    import threading

    from raysearch.data.parquet import shard_paths
    from raysearch.errors import UserError

    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            shard_paths(uri)
            outcome.append(None)
        except BaseException as e:  # handed to the caller's thread
            outcome.append(e)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(URI_TIMEOUT_S)
    if not outcome:
        raise UserError(f"data.path {uri}: no answer within {URI_TIMEOUT_S:.0f} s (network or "
                        "credentials?)")
    error = outcome[0]
    if isinstance(error, UserError):
        raise error
    if error is not None:  # pyarrow's own: unknown scheme, no such bucket, access denied
        raise UserError(f"data.path {uri}: cannot list Parquet shards there "
                        f"({str(error).splitlines()[0][:200]})")
