"""Drawn masks: centre square, random rectangles and free-form brush strokes (DeepFill v2 style)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from raysearch.config import MaskConfig
from raysearch.masks.registry import MASKS, MaskSampler


def target_ratio(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A ratio strictly inside (lo, hi], away from the open end."""
    return float(rng.uniform(lo + 0.1 * (hi - lo), hi))


@MASKS.register("center")
def center_mask(cfg: MaskConfig, size: int) -> MaskSampler:
    """One centred square whose area is the middle of the ratio bin (the same every time)."""
    lo, hi = cfg.ratio
    side = max(1, round(size * math.sqrt((lo + hi) / 2)))
    mask = np.zeros((size, size), np.float32)
    start = (size - side) // 2
    mask[start : start + side, start : start + side] = 1.0

    def sample(rng: np.random.Generator) -> np.ndarray:
        return mask.copy()

    return sample


def box_size(size: int, area: float, aspect: float) -> tuple[int, int]:
    """(height, width) of a box of about ``area`` pixels and height/width ``aspect`` that fits."""
    h = min(size, max(1, round(math.sqrt(area * aspect))))
    w = min(size, max(1, round(area / h)))
    return h, w


def redraw_into_bin(draw: MaskSampler, cfg: MaskConfig, size: int, what: str) -> MaskSampler:
    """A sampler that redraws until the hole ratio lies in the bin (100 tries, then ValueError)."""
    lo, hi = cfg.ratio

    def sample(rng: np.random.Generator) -> np.ndarray:
        for _ in range(100):
            mask = draw(rng)
            if lo < mask.mean() <= hi:
                return mask
        raise ValueError(f"cannot fit {what} with hole ratio in ({lo}, {hi}] at {size}px")

    return sample


def _rect(rng: np.random.Generator, size: int, area: float) -> np.ndarray:
    h, w = box_size(size, area, math.exp(rng.uniform(math.log(0.5), math.log(2.0))))
    return filled_box(size, int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1)),
                      h, w)


def filled_box(size: int, top: int, left: int, h: int, w: int) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[top : top + h, left : left + w] = 1.0
    return mask


@MASKS.register("rect")
def rect_mask(cfg: MaskConfig, size: int) -> MaskSampler:
    """One rectangle at a random place, aspect 1:2 to 2:1, with area ratio inside the bin."""
    lo, hi = cfg.ratio

    def draw(rng: np.random.Generator) -> np.ndarray:
        return _rect(rng, size, target_ratio(rng, lo, hi) * size * size)

    return redraw_into_bin(draw, cfg, size, "a rectangle")


def _stroke(rng: np.random.Generator, size: int, max_width: float) -> np.ndarray:
    """One free-form stroke: a polyline of random vertices with round joints."""
    canvas = np.zeros((size, size), np.uint8)
    vertices = int(rng.integers(4, 13))
    width = max(1, int(rng.uniform(max_width / 3, max_width)))
    x, y = rng.integers(0, size, 2)
    max_len = size / 4
    for _ in range(vertices):
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(max_len / 4, max_len)
        nx = int(np.clip(x + length * math.cos(angle), 0, size - 1))
        ny = int(np.clip(y + length * math.sin(angle), 0, size - 1))
        cv2.line(canvas, (int(x), int(y)), (nx, ny), 1, width)
        cv2.circle(canvas, (nx, ny), width // 2, 1, -1)
        x, y = nx, ny
    return canvas


@MASKS.register("brush")
def brush_mask(cfg: MaskConfig, size: int) -> MaskSampler:
    """Brush strokes added until the hole ratio lands in the bin; overshooting strokes are undone."""
    lo, hi = cfg.ratio

    def sample(rng: np.random.Generator) -> np.ndarray:
        for _ in range(20):
            mask = np.zeros((size, size), np.uint8)
            max_width = size / 8
            for _ in range(200):
                candidate = mask | _stroke(rng, size, max_width)
                ratio = candidate.mean()
                if ratio > hi:
                    max_width = max(1.0, max_width * 0.7)  # finer strokes to land inside the bin
                    continue
                mask = candidate
                if ratio > lo:
                    return mask.astype(np.float32)
        raise ValueError(f"cannot draw strokes with hole ratio in ({lo}, {hi}] at {size}px")

    return sample
