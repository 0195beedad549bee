"""Face images from a folder or Parquet shards: decode, centre face crop, resize, split."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from raysearch.config import DataConfig
from raysearch.errors import UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CELEBA_SIZES = {(178, 218), (89, 109)}  # aligned CelebA, full and half resolution
_CELEBA_CROP = 148 / 178  # side of the usual face square, as a share of the image width


@dataclass
class FaceData:
    """Decoded faces held in memory as uint8 (N, H, W, 3), split into train and validation."""

    train: np.ndarray
    val: np.ndarray
    train_ids: list[str]
    val_ids: list[str]
    skipped: int = 0  # unreadable files left out


def face_crop(img: Image.Image, mode: str) -> Image.Image:
    """The square face region: CelebA's centre 148/178 square, or the largest centre square."""
    w, h = img.size
    if mode == "none":
        return img
    if mode == "celeba" or (mode == "auto" and (w, h) in _CELEBA_SIZES):
        side = round(w * _CELEBA_CROP)
    else:
        side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def decode_face(data: bytes | Path, size: int, crop: str) -> np.ndarray:
    """Decode one image to an RGB (size, size, 3) uint8 array; raises OSError/ValueError if bad."""
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(src) as raw:
        face = face_crop(raw.convert("RGB"), crop)
        face = face.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        return np.asarray(face, dtype=np.uint8)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; a UserError if there are none."""
    if not folder.exists():
        raise UserError(f"data path {folder} does not exist (give a folder of jpg/png faces, "
                        "Parquet shards from 'raysearch data pack', or 'embedded')")
    if not folder.is_dir():
        raise UserError(f"data path {folder} is not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"data path {folder} holds no .jpg/.jpeg/.png images")
    return files


def parse_id_ranges(spec: str, key: str) -> set[int]:
    """'1-7000,7500' -> the set of ids; a UserError naming ``key`` when malformed."""
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"{key}: {part!r} is not an id or range like 1-7000")
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if hi < lo:
            raise UserError(f"{key}: range {part!r} is inverted (write low-high)")
        ids.update(range(lo, hi + 1))
    if not ids:
        raise UserError(f"{key} is empty; give ids like 1-7000 when data.split is 'ids'")
    return ids


def _numeric_id(name: str) -> int | None:
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else None


def split_indices(ids: list[str], cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation index split by seeded fraction or by id ranges."""
    n = len(ids)
    if cfg.split == "ids":
        train_set = parse_id_ranges(cfg.train_ids, "data.train_ids")
        val_set = parse_id_ranges(cfg.val_ids, "data.val_ids")
        nums = [_numeric_id(i) for i in ids]
        tr = np.array([k for k, v in enumerate(nums) if v in train_set], dtype=np.int64)
        va = np.array([k for k, v in enumerate(nums) if v in val_set], dtype=np.int64)
        if len(tr) == 0 or len(va) == 0:
            raise UserError(
                f"data.split=ids selects {len(tr)} training and {len(va)} validation images of {n}; "
                "ids are the numeric file names (e.g. 000123.jpg is 123)"
            )
        return tr, va
    order = np.random.default_rng(cfg.seed).permutation(n)
    n_val = max(1, round(n * cfg.val_fraction))
    if n - n_val < 1:
        raise UserError(f"only {n} images: too few to split with val_fraction {cfg.val_fraction}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def decode_all(items: Iterable[tuple[str, bytes | Path]], size: int, crop: str
               ) -> tuple[np.ndarray, list[str], int]:
    """Decode (id, source) pairs; unreadable ones are skipped, counted and logged."""
    arrays: list[np.ndarray] = []
    ids: list[str] = []
    skipped = 0
    for ident, src in items:
        try:
            arrays.append(decode_face(src, size, crop))
            ids.append(ident)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            skipped += 1
            log.warning("skipping unreadable image %s: %s", ident, e)
    if skipped:
        log.warning("skipped %d unreadable image(s)", skipped)
    if not arrays:
        raise UserError(f"none of the {skipped} images could be decoded")
    return np.stack(arrays), ids, skipped


def _select(paths: list[str], cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    tr, va = split_indices(paths, cfg)
    if cfg.max_images:
        # keep the split's proportions when capping
        n_va = max(1, round(cfg.max_images * len(va) / (len(tr) + len(va))))
        tr, va = tr[: cfg.max_images - n_va], va[:n_va]
    return tr, va


def _iter_folder(files: list[Path], idx: np.ndarray) -> Iterator[tuple[str, Path]]:
    for k in idx:
        yield files[k].name, files[k]


def load_folder(folder: Path, cfg: DataConfig) -> FaceData:
    files = list_images(folder)
    names = [f.name for f in files]
    tr, va = _select(names, cfg)
    train, train_ids, s1 = decode_all(_iter_folder(files, tr), cfg.image_size, cfg.crop)
    val, val_ids, s2 = decode_all(_iter_folder(files, va), cfg.image_size, cfg.crop)
    return FaceData(train, val, train_ids, val_ids, s1 + s2)
