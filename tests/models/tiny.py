"""Tiny configs and batches shared by the model tests (small channels keep CPU tests fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from raysearch.config import Config, config_from_dict
from raysearch.data.embedded import embedded_faces
from raysearch.data.faces import decode_face


def tiny_config(size: int = 32, **model: Any) -> Config:
    """A config with narrow networks; ``model`` overrides ``model.*`` keys."""
    return config_from_dict({
        "data": {"image_size": size},
        "model": {"base_channels": 8, "critic_channels": 8, "critic_depth": 2,
                  "rfr_unet": {"iterations": 2}, **model},
    })


def faces(n: int, size: int) -> torch.Tensor:
    """``n`` embedded faces as (n, 3, size, size) in [-1, 1]."""
    arr, _ = embedded_faces(n, size)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


def box_masks(n: int, size: int) -> torch.Tensor:
    """A different off-centre box per image, touching no border, 1 = hole."""
    m = torch.zeros(n, 1, size, size)
    for i in range(n):
        top, left = size // 8 + i, size // 4 + 2 * i
        m[i, :, top : top + size // 3, left : left + size // 3] = 1
    return m


def celeba_faces(folder: Path, n: int, size: int) -> torch.Tensor:
    """The first ``n`` real CelebA faces of ``folder`` (the ``celeba_dir`` fixture)."""
    files = sorted(folder.glob("*.jpg"))[:n]
    arr = np.stack([decode_face(f, size, "celeba") for f in files])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1
