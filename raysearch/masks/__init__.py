"""Hole masks (1 = hole, 0 = known), registered by kind; every sampler is a pure function of its rng.

``build_mask_sampler(cfg, size)`` returns ``sample(rng) -> (size, size) float32``. Samplers keep the
hole ratio inside the configured bin (low, high] wherever the kind allows it; ``mask.ratio_weights``
splits the bin into equal sub-bins drawn with those weights, for every kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from raysearch.config import MaskConfig
from raysearch.masks import face_parts as face_parts
from raysearch.masks import folder as folder
from raysearch.masks import shapes as shapes
from raysearch.masks.registry import MASKS, MaskSampler

__all__ = ["MASKS", "MaskSampler", "build_mask_sampler", "hole_ratio", "mask_bank"]


def build_mask_sampler(cfg: MaskConfig, size: int) -> MaskSampler:
    """The kind's sampler; with ``ratio_weights``, one per sub-bin, chosen by weight each draw."""
    make = MASKS.get(cfg.kind)
    if len(cfg.ratio_weights) <= 1:
        return make(cfg, size)
    lo, hi = cfg.ratio
    edges = np.round(np.linspace(lo, hi, len(cfg.ratio_weights) + 1), 6)
    parts = [make(dataclasses.replace(cfg, ratio=(float(edges[i]), float(edges[i + 1])),
                                      ratio_weights=()), size)
             for i, w in enumerate(cfg.ratio_weights) if w > 0]
    weights = np.array([w for w in cfg.ratio_weights if w > 0], dtype=np.float64)
    weights /= weights.sum()

    def sample(rng: np.random.Generator) -> np.ndarray:
        return parts[int(rng.choice(len(parts), p=weights))](rng)

    return sample


def hole_ratio(mask: np.ndarray) -> float:
    return float(mask.mean())


def mask_bank(sample: Callable[[np.random.Generator], np.ndarray], count: int, seed: int
              ) -> np.ndarray:
    """``count`` masks drawn with one seeded rng, stacked as (count, 1, H, W) float32."""
    rng = np.random.default_rng(seed)
    return np.stack([sample(rng) for _ in range(count)])[:, None].astype(np.float32)
