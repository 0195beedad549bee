"""Classical inpainting methods to compare a model against, registered by name.

Each takes a uint8 (H, W, 3) RGB image and a boolean (H, W) mask (true = hole) and returns the
filled image as float in [0, 1]; the caller pastes the known pixels back.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic

from raysearch.registry import Registry

Baseline = Callable[[np.ndarray, np.ndarray], np.ndarray]
BASELINES: Registry[Baseline] = Registry("baseline")

TELEA_RADIUS = 3  # OpenCV's usual neighbourhood radius for Telea's fast marching


@BASELINES.register("biharmonic")
def biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting, channel by channel."""
    return np.clip(inpaint_biharmonic(image / 255.0, mask, channel_axis=-1), 0.0, 1.0)


@BASELINES.register("telea")
def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast-marching method of Telea (2004)."""
    return cv2.inpaint(image, mask.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA) / 255.0
