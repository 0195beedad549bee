"""Hole pre-fills: known pixels kept exactly, each guess the one it claims to be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def _skimage_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scikit-image's inpaint_biharmonic on [0, 1] images, as (B, 3, H, W) in [0, 1]."""
    from skimage.restoration import inpaint_biharmonic

    unit = ((image + 1) / 2).permute(0, 2, 3, 1).double().numpy()
    holes = mask[:, 0].numpy() > 0.5
    out = np.stack([inpaint_biharmonic(u, h, channel_axis=-1) for u, h in zip(unit, holes, strict=True)])
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def _mean_abs_difference(image: torch.Tensor, mask: torch.Tensor) -> float:
    ours = (HoleFill("biharmonic")(image * (1 - mask), mask).double() + 1) / 2
    return float((ours - _skimage_fill(image, mask)).abs().mean())


def test_biharmonic_matches_scikit_image_with_holes_at_the_border() -> None:
    image = faces(3, 32)
    mask = box_masks(3, 32)
    mask[0, 0, :6, :] = 1  # a hole along the top edge: the stencil is cut there
    mask[1, 0, 20:, 25:] = 1  # and one in a corner
    assert _mean_abs_difference(image, mask) <= 1e-5  # the issue asks for 0.005


def test_biharmonic_factorises_each_mask_once() -> None:
    from raysearch.models.biharmonic import cache_info

    image, mask = faces(4, 32), box_masks(4, 32)
    before = cache_info()
    first = HoleFill("biharmonic")(image, mask)
    middle = cache_info()
    assert torch.equal(HoleFill("biharmonic")(image.flip(0), mask.flip(0)).flip(0), first)
    after = cache_info()
    assert middle["misses"] - before["misses"] <= 4
    assert after["misses"] == middle["misses"] and after["hits"] - middle["hits"] == 4


def test_biharmonic_of_a_mask_with_nothing_known_is_defined() -> None:
    image, mask = faces(1, 32), torch.ones(1, 1, 32, 32)
    assert torch.isfinite(HoleFill("biharmonic")(image, mask)).all()


@pytest.mark.data
def test_biharmonic_matches_scikit_image_on_real_faces_and_nvidia_masks(celeba_dir: Path,
                                                                         masks_dir: Path) -> None:
    from raysearch.masks.folder import load_mask

    image = celeba_faces(celeba_dir, 12, 64)
    files = [masks_dir / f"{k:05d}.png" for k in range(7, 12000, 1000)][: len(image)]
    mask = torch.from_numpy(np.stack([load_mask(f, 64) for f in files]))[:, None]
    assert float(mask.mean((1, 2, 3)).min()) > 0.05 and float(mask.mean((1, 2, 3)).max()) > 0.5
    assert _mean_abs_difference(image, mask) <= 0.005
