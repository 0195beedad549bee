"""What a generator sees in the hole before it runs: zeros, or a guess from the surroundings.

The U-Net GAN paper pre-fills the hole from its surroundings instead of feeding noise; each fill is
a pure function ``(image, mask) -> image`` on (B, 3, H, W) in [-1, 1] with the mask (B, 1, H, W),
1 = hole, that keeps every known pixel as it was. They run without gradients: the fill is input,
not model.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from scipy import ndimage
from torch import nn

from raysearch.models.biharmonic import biharmonic_fill
from raysearch.registry import Registry

Fill = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
HOLE_FILLS: Registry[Fill] = Registry("hole fill")

_TELEA_RADIUS = 3  # OpenCV's usual neighbourhood; at 32-256 px a larger one only blurs more


def _keep_known(image: torch.Tensor, mask: torch.Tensor, guess: torch.Tensor) -> torch.Tensor:
    return image * (1 - mask) + guess * mask


@HOLE_FILLS.register("zero")
def zero_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return image * (1 - mask)


@HOLE_FILLS.register("mean")
def mean_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each channel's mean over the known pixels (0 where nothing is known)."""
    known = 1 - mask
    mean = (image * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)
    return _keep_known(image, mask, mean.expand_as(image))


@HOLE_FILLS.register("nearest")
def nearest_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Every hole pixel copies the nearest known pixel (Euclidean distance)."""
    out = zero_fill(image, mask)
    holes = mask[:, 0].detach().cpu().numpy() > 0.5
    for i, hole in enumerate(holes):
        if hole.any() and not hole.all():
            _, (iy, ix) = ndimage.distance_transform_edt(hole, return_indices=True)
            rows = torch.from_numpy(iy).to(image.device)
            cols = torch.from_numpy(ix).to(image.device)
            out[i] = image[i][:, rows, cols]
    return out


HOLE_FILLS.register("biharmonic")(biharmonic_fill)  # scikit-image's system, factorised per mask


@HOLE_FILLS.register("telea")
def telea_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """OpenCV's fast-marching inpainting (Telea 2004) on the 8-bit image, per sample."""
    as_bytes = ((image.detach().clamp(-1, 1) + 1) * 127.5).round().byte()
    pixels = as_bytes.permute(0, 2, 3, 1).cpu().numpy()
    holes = (mask[:, 0].detach().cpu().numpy() > 0.5).astype(np.uint8)
    filled = np.stack([
        cv2.inpaint(np.ascontiguousarray(p), h, _TELEA_RADIUS, cv2.INPAINT_TELEA) if h.any() else p
        for p, h in zip(pixels, holes, strict=True)
    ])
    guess = torch.from_numpy(filled).to(image.device).permute(0, 3, 1, 2).to(image.dtype)
    return _keep_known(image, mask, guess / 127.5 - 1)


class HoleFill(nn.Module):
    """Zeroes the hole (so no caller can leak the truth) and fills it with the chosen guess."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.fill = HOLE_FILLS.get(kind)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.fill(zero_fill(image, mask), mask)

    def extra_repr(self) -> str:
        return self.kind
