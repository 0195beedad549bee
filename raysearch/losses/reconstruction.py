"""Pixel reconstruction losses."""

from __future__ import annotations

import torch


def weighted_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                hole_weight: float, valid_weight: float) -> torch.Tensor:
    """L1 with separate weights for the hole (mask = 1) and the known pixels, each a mean."""
    diff = (output - target).abs()
    hole = (diff * mask).sum() / (mask.sum() * diff.shape[1]).clamp_min(1.0)
    valid = (diff * (1 - mask)).sum() / ((1 - mask).sum() * diff.shape[1]).clamp_min(1.0)
    return hole_weight * hole + valid_weight * valid


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertical and between horizontal neighbours."""
    dy = (image[:, :, 1:] - image[:, :, :-1]).abs().mean()
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs().mean()
    return dy + dx
