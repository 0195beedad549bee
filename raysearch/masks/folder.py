"""Masks read from a folder of images (white = hole), e.g. NVIDIA's irregular masks, by ratio bin."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from raysearch.config import MaskConfig
from raysearch.errors import UserError
from raysearch.masks.registry import MASKS, MaskSampler

_NVIDIA_BUCKET = 2000  # NVIDIA's files come in buckets of 2,000 by hole ratio, 0.1 wide each
_MAX_LOADED = 2000  # masks kept in memory per run
_HOLDOUT_EVERY = 5  # mask.subset: one file in five is held out from training


def nvidia_bucket(path: Path) -> tuple[float, float] | None:
    """The (low, high] hole-ratio bucket that NVIDIA's file numbering promises, if it is one."""
    m = re.fullmatch(r"\d{5}", path.stem)
    if not m:
        return None
    b = int(path.stem) // _NVIDIA_BUCKET
    return (round(0.1 * b, 1), round(0.1 * (b + 1), 1))


def subset_files(files: list[Path], subset: str) -> list[Path]:
    """``holdout``: every fifth file of the sorted folder; ``train``: the others; ``all``: all.

    Taken over the whole sorted listing, before any ratio filter, so a file's side never depends
    on the bin asked for: a model trained on ``train`` masks is evaluated on masks it never saw.
    """
    if subset == "all":
        return files
    held = subset == "holdout"
    return [f for i, f in enumerate(files) if (i % _HOLDOUT_EVERY == 0) == held]


def resize_mask(raw: np.ndarray, width: int, height: int) -> np.ndarray:
    """A grey (H, W) uint8 mask at ``width`` x ``height``: area averaging, then the threshold 128,
    so it stays binary. True = hole."""
    return cv2.resize(raw, (width, height), interpolation=cv2.INTER_AREA) >= 128


def load_mask(path: Path, size: int) -> np.ndarray:
    """A mask image resized to ``size`` (area averaging, then threshold): 1 = hole."""
    raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if raw is None:
        raise ValueError(f"{path}: not a readable image")
    return resize_mask(raw, size, size).astype(np.float32)


@MASKS.register("folder")
def folder_mask(cfg: MaskConfig, size: int) -> MaskSampler:
    """Uniform choice among the folder's masks whose ratio, at this size, lies in the bin."""
    if not cfg.folder:
        raise UserError("mask.kind 'folder' needs mask.folder: a folder of mask PNGs (white = hole)")
    folder = Path(cfg.folder)
    if not folder.is_dir():
        raise UserError(f"mask.folder {folder} is not a folder")
    lo, hi = cfg.ratio
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    files = subset_files(files, cfg.subset)
    # skip files whose NVIDIA bucket cannot overlap the bin, and load in a fixed shuffled order
    files = [f for f in files if (b := nvidia_bucket(f)) is None or (b[0] < hi and b[1] > lo)]
    order = np.random.default_rng(0).permutation(len(files))
    masks: list[np.ndarray] = []
    for k in order:
        try:
            m = load_mask(files[k], size)
        except ValueError:
            continue
        if lo < m.mean() <= hi:
            masks.append(m)
            if len(masks) >= min(_MAX_LOADED, max(cfg.bank_size, 64)):
                break
    if not masks:
        among = "" if cfg.subset == "all" else f" in mask.subset {cfg.subset!r}"
        raise UserError(f"mask.folder {folder}: no mask with hole ratio in ({lo}, {hi}] at "
                        f"{size}px{among}")
    stack = np.stack(masks)

    def sample(rng: np.random.Generator) -> np.ndarray:
        return stack[int(rng.integers(len(stack)))].copy()

    return sample
