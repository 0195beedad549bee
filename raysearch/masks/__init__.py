"""Hole masks (1 = hole, 0 = known), registered by kind; every sampler is a pure function of its rng.

``build_mask_sampler(cfg, size)`` returns ``sample(rng) -> (size, size) float32``. Samplers keep the
hole ratio inside the configured bin (low, high] wherever the kind allows it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from raysearch.config import MaskConfig
from raysearch.masks import folder as folder
from raysearch.masks import shapes as shapes
from raysearch.masks.registry import MASKS, MaskSampler

__all__ = ["MASKS", "MaskSampler", "build_mask_sampler", "hole_ratio", "mask_bank"]


def build_mask_sampler(cfg: MaskConfig, size: int) -> MaskSampler:
    return MASKS.get(cfg.kind)(cfg, size)


def hole_ratio(mask: np.ndarray) -> float:
    return float(mask.mean())


def mask_bank(sample: Callable[[np.random.Generator], np.ndarray], count: int, seed: int
              ) -> np.ndarray:
    """``count`` masks drawn with one seeded rng, stacked as (count, 1, H, W) float32."""
    rng = np.random.default_rng(seed)
    return np.stack([sample(rng) for _ in range(count)])[:, None].astype(np.float32)
