"""Facial-part masks, as in the U-Net GAN face-inpainting paper: a box over the eyes, the nose or
the mouth of an aligned face.

The part centres and box shapes are those of aligned CelebA after the usual centre crop
(``data.crop`` celeba/auto), measured on the mean of 2,000 faces at 64 px; the embedded faces share
them. The part is drawn uniformly; its box keeps the part's shape and takes its area from the
ratio bin (so a large bin covers the part and its surroundings), and its centre moves by a normal
jitter of 2 % of the side, as landmarks do between faces.
"""

from __future__ import annotations

import numpy as np

from raysearch.config import MaskConfig
from raysearch.masks.registry import MASKS, MaskSampler
from raysearch.masks.shapes import box_size, filled_box, redraw_into_bin, target_ratio

# part: (centre row, centre column) as fractions of the side, and height/width of its box
FACE_PARTS: dict[str, tuple[tuple[float, float], float]] = {
    "eyes": ((0.51, 0.50), 0.16 / 0.58),
    "nose": ((0.62, 0.50), 0.22 / 0.20),
    "mouth": ((0.80, 0.50), 0.14 / 0.36),
}
_JITTER = 0.02


def part_box(size: int, part: str, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """One part's box covering about ``ratio`` of the image."""
    (cy, cx), aspect = FACE_PARTS[part]
    h, w = box_size(size, ratio * size * size, aspect)
    cy, cx = (np.array([cy, cx]) + rng.normal(0.0, _JITTER, 2)) * size
    top = int(np.clip(round(cy - h / 2), 0, size - h))
    left = int(np.clip(round(cx - w / 2), 0, size - w))
    return filled_box(size, top, left, h, w)


@MASKS.register("face_parts")
def face_parts_mask(cfg: MaskConfig, size: int) -> MaskSampler:
    """Eyes, nose or mouth box with hole ratio inside the bin."""
    lo, hi = cfg.ratio
    parts = sorted(FACE_PARTS)

    def draw(rng: np.random.Generator) -> np.ndarray:
        part = parts[int(rng.integers(len(parts)))]
        return part_box(size, part, target_ratio(rng, lo, hi), rng)

    return redraw_into_bin(draw, cfg, size, "a face-part box")
