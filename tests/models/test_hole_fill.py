"""Hole pre-fills: known pixels kept exactly, each guess the one it claims to be."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from raysearch.models.hole_fill import HOLE_FILLS, HoleFill
from tests.models.tiny import box_masks, celeba_faces, faces


@pytest.mark.parametrize("kind", HOLE_FILLS.names())
def test_known_pixels_kept_and_hole_filled_from_them(kind: str) -> None:
    image, mask = faces(3, 32), box_masks(3, 32)
    filled = HoleFill(kind)(image, mask)
    known = mask.expand_as(image) == 0
    assert torch.equal(filled[known], image[known])
    assert filled.abs().max() <= 1 and not filled.requires_grad
    assert torch.equal(HoleFill(kind)(image * (1 - mask), mask), filled)  # the truth never leaks


def test_zero_and_mean() -> None:
    image, mask = faces(2, 32), box_masks(2, 32)
    assert (HoleFill("zero")(image, mask)[mask.expand_as(image) == 1] == 0).all()
    filled = HoleFill("mean")(image, mask)
    known = 1 - mask
    mean = (image * known).sum((2, 3)) / known.sum((2, 3))
    assert torch.allclose(filled[0, :, 8, 12], mean[0])  # inside the first box


def test_nearest_copies_the_closest_known_pixel() -> None:
    image = torch.zeros(1, 3, 8, 8)
    image[0, :, :, :4] = -0.5
    image[0, :, :, 4:] = 0.5
    mask = torch.zeros(1, 1, 8, 8)
    mask[0, 0, 2:6, 2:6] = 1
    filled = HoleFill("nearest")(image, mask)
    assert (filled[0, :, 2:6, 2] == -0.5).all() and (filled[0, :, 2:6, 5] == 0.5).all()


def test_telea_continues_a_smooth_gradient() -> None:
    ramp = torch.linspace(-0.8, 0.8, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64).clone()
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, 24:40, 24:40] = 1
    hole = mask.expand_as(ramp) == 1
    telea = HoleFill("telea")(ramp, mask)
    error = (telea - ramp)[hole].abs().mean()
    assert error < 0.6 * (HoleFill("mean")(ramp, mask) - ramp)[hole].abs().mean()


@pytest.mark.data
def test_on_real_faces_a_guess_from_the_surroundings_beats_zeros_and_the_mean(celeba_dir: Path
                                                                               ) -> None:
    image = celeba_faces(celeba_dir, 64, 64)
    mask = box_masks(len(image), 64)
    hole = mask.expand_as(image) == 1
    error = {k: float((HoleFill(k)(image, mask) - image)[hole].abs().mean())
             for k in HOLE_FILLS.names()}
    assert error["telea"] < error["mean"] < error["zero"]
    assert error["nearest"] < error["mean"]
