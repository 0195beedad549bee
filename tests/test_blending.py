"""Poisson blending of the generated hole: known pixels untouched, the hole meets its edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from raysearch.blending import poisson_blend


def smooth_image(size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((size, size, 3)) * 200 + 20).astype(np.uint8), (7, 7), 0)


@pytest.mark.parametrize("box", [(20, 40, 20, 40), (0, 20, 0, 30), (50, 64, 10, 64), (30, 31, 5, 6)])
def test_known_pixels_bit_exact_and_an_offset_removed(box: tuple[int, int, int, int]) -> None:
    image = smooth_image()
    output = image + np.uint8(30)  # right gradients, wrong brightness: what blending fixes
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[box[0] : box[1], box[2] : box[3]] = 1
    blended = poisson_blend(output, image, mask)
    assert blended.dtype == np.uint8 and blended.shape == image.shape
    assert np.array_equal(blended[mask == 0], image[mask == 0])
    assert np.abs(blended[mask == 1].astype(int) - image[mask == 1]).max() <= 2


def test_empty_and_full_holes() -> None:
    image, output = smooth_image(32, 1), smooth_image(32, 2)
    assert np.array_equal(poisson_blend(output, image, np.zeros((32, 32))), image)
    assert np.array_equal(poisson_blend(output, image, np.ones((32, 32))), output)


def seam(result: np.ndarray, mask: np.ndarray) -> float:
    """Brightness step between the hole's outer ring and the known pixels around it."""
    kernel = np.ones((3, 3), np.uint8)
    inner = (mask - cv2.erode(mask, kernel)).astype(bool)
    ring = (cv2.dilate(mask, kernel) - mask).astype(bool)
    return abs(float(result[inner].mean()) - float(result[ring].mean()))


@pytest.mark.data
def test_on_real_faces_blending_narrows_the_seam(celeba_dir: Path) -> None:
    from raysearch.data.faces import decode_face

    seams = []
    for f in sorted(celeba_dir.glob("*.jpg"))[:20]:
        image = decode_face(f, 64, "celeba")
        output = np.clip(image.astype(int) + 25, 0, 255).astype(np.uint8)
        mask = np.zeros((64, 64), np.uint8)
        mask[20:44, 16:48] = 1
        pasted = np.where(mask[..., None] == 1, output, image)
        seams.append((seam(pasted, mask), seam(poisson_blend(output, image, mask), mask)))
    before, after = np.mean(seams, axis=0)
    assert after < before / 3


@pytest.mark.parametrize("box", [(20, 40, 20, 40), (0, 20, 0, 30)])
def test_what_the_hole_held_before_is_never_read(box: tuple[int, int, int, int]) -> None:
    """seamlessClone takes boundary values inside the mask it is given: the hole's old pixels
    (magenta here, as a user's masked photo may hold) must not leak into the blend."""
    image = smooth_image(seed=3)
    yy, xx = np.mgrid[:64, :64]
    bump = 50 * np.exp(-((yy - 30) ** 2 + (xx - 30) ** 2) / 40)
    output = np.clip(image + bump[..., None] + 20, 0, 255).astype(np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[box[0] : box[1], box[2] : box[3]] = 1
    defaced = image.copy()
    defaced[mask == 1] = (255, 0, 255)
    assert np.array_equal(poisson_blend(output, defaced, mask), poisson_blend(output, image, mask))
