"""Poisson blending of a generated hole (plain uint8 images, no model): OpenCV seamlessClone."""

from __future__ import annotations

import cv2
import numpy as np

_MARGIN = 8  # reflect padding so that no hole touches the border (seamlessClone misplaces those)
_GROW = np.ones((3, 3), np.uint8)  # seamlessClone erodes its mask: grow it so thin holes survive


def poisson_blend(output: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The generated hole blended into the image by Poisson editing (OpenCV ``seamlessClone``).

    ``output`` and ``image`` are (H, W, 3) uint8, ``mask`` (H, W) with 1 (or 255) = hole. Inside the
    hole the result keeps the output's gradients and meets the known pixels at the hole's edge;
    outside it the known pixels are returned bit-exact.
    """
    hole = np.asarray(mask) > 0
    if not hole.any():
        return image.copy()
    if hole.all():
        return output.copy()
    pad = ((_MARGIN, _MARGIN), (_MARGIN, _MARGIN), (0, 0))
    src = np.pad(output, pad, mode="reflect")
    dst = np.pad(image, pad, mode="reflect")
    clone = cv2.dilate(np.pad(hole, pad[:2]).astype(np.uint8) * 255, _GROW, iterations=2)
    x, y, w, h = cv2.boundingRect(clone)
    # seamlessClone centres the mask's bounding box on this point: the box's own centre keeps it put
    blended = cv2.seamlessClone(src, dst, clone, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    blended = blended[_MARGIN:-_MARGIN, _MARGIN:-_MARGIN]
    return np.where(hole[..., None], blended, image)
