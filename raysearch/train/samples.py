"""Sample grids: masked input | output | ground truth, one row per validation image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    arr = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return arr.permute(0, 2, 3, 1).numpy()


def save_sample_grid(path: Path, images: torch.Tensor, masks: torch.Tensor, outputs: torch.Tensor,
                     rows: int = 8) -> None:
    n = min(rows, len(images))
    masked = images[:n] * (1 - masks[:n]) + masks[:n]  # holes shown white
    cols = [to_uint8(masked), to_uint8(outputs[:n]), to_uint8(images[:n])]
    grid = np.concatenate([np.concatenate(list(c), axis=0) for c in cols], axis=1)
    Image.fromarray(grid).save(path)
