"""Procedurally drawn faces: the default dataset, built in memory with no download.

Each face is drawn from its index alone (same index, same face): skin, hair, eyes with irises,
brows, nose, mouth and ears at roughly aligned positions, over a two-tone background, with
a soft light gradient. Enough face structure for an inpainter to have something to learn.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

_SKIN = np.array(
    [[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 90], [141, 85, 54], [92, 56, 40]]
)
_HAIR = np.array([[20, 16, 14], [60, 40, 28], [110, 72, 40], [170, 130, 80], [210, 190, 150],
                  [120, 120, 120]])
_IRIS = np.array([[60, 40, 20], [40, 90, 150], [60, 110, 60], [90, 70, 50]])

_DRAW_SIZE = 128  # faces are drawn at this size and resized, so every size gets the same faces


def _jitter(rng: np.random.Generator, scale: float) -> float:
    return float(rng.normal(0.0, scale))


def _color(rng: np.random.Generator, palette: np.ndarray, spread: float = 12.0) -> tuple[int, ...]:
    c = palette[rng.integers(len(palette))] + rng.normal(0, spread, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def draw_face(index: int, size: int) -> np.ndarray:
    """One deterministic face as an (size, size, 3) uint8 array."""
    rng = np.random.default_rng([20240917, index])
    s = _DRAW_SIZE
    bg1 = tuple(int(v) for v in rng.integers(30, 230, 3))
    bg2 = tuple(int(v) for v in rng.integers(30, 230, 3))
    img = Image.new("RGB", (s, s), bg1)
    d = ImageDraw.Draw(img)
    split = int(s * (0.3 + 0.4 * rng.random()))
    d.rectangle([0, split, s, s], fill=bg2)

    skin = _color(rng, _SKIN)
    hair = _color(rng, _HAIR)
    cx = s / 2 + _jitter(rng, 2.5)
    cy = s * 0.54 + _jitter(rng, 2.0)
    fw = s * (0.30 + 0.04 * rng.random())  # half-width of the face
    fh = s * (0.38 + 0.04 * rng.random())

    d.ellipse([cx - fw * 0.7, cy + fh * 0.55, cx + fw * 0.7, s + 20], fill=_color(rng, _HAIR, 40))
    d.rectangle([cx - fw * 0.35, cy + fh * 0.5, cx + fw * 0.35, cy + fh * 1.1], fill=skin)
    if rng.random() < 0.8:  # hair behind the head
        d.ellipse([cx - fw * 1.15, cy - fh * 1.15, cx + fw * 1.15, cy + fh * 0.6], fill=hair)
    for side in (-1, 1):  # ears
        ex = cx + side * fw * 0.98
        d.ellipse([ex - fw * 0.13, cy - fh * 0.12, ex + fw * 0.13, cy + fh * 0.22], fill=skin)
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    # fringe
    fringe = cy - fh * (0.45 + 0.25 * rng.random())
    d.chord([cx - fw * 1.02, cy - fh * 1.08, cx + fw * 1.02, fringe + fh * 0.5], 180, 360, fill=hair)

    eye_y = cy - fh * 0.08 + _jitter(rng, 1.0)
    eye_dx = fw * (0.42 + 0.06 * rng.random())
    eye_w = fw * (0.20 + 0.05 * rng.random())
    eye_h = eye_w * (0.45 + 0.2 * rng.random())
    iris = _color(rng, _IRIS, 8)
    brow_dy = eye_h * (1.8 + 0.8 * rng.random())
    brow_tilt = _jitter(rng, 1.5)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        d.ellipse([ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h], fill=(245, 245, 240))
        r = eye_h * 0.95
        d.ellipse([ex - r, eye_y - r, ex + r, eye_y + r], fill=iris)
        r2 = r * 0.45
        d.ellipse([ex - r2, eye_y - r2, ex + r2, eye_y + r2], fill=(10, 10, 10))
        by = eye_y - brow_dy
        d.line([ex - eye_w * 1.1, by + side * brow_tilt, ex + eye_w * 1.1, by - side * brow_tilt],
               fill=tuple(int(v * 0.8) for v in hair), width=max(2, int(eye_h * 0.6)))

    shade = tuple(int(v * 0.78) for v in skin)
    nose_top = eye_y + eye_h
    nose_y = cy + fh * (0.28 + 0.06 * rng.random())
    nose_w = fw * (0.13 + 0.05 * rng.random())
    d.polygon([(cx, nose_top), (cx - nose_w, nose_y), (cx + nose_w, nose_y)], fill=shade)

    mouth_y = cy + fh * (0.55 + 0.05 * rng.random())
    mouth_w = fw * (0.32 + 0.12 * rng.random())
    lips = (int(150 + 60 * rng.random()), int(60 + 40 * rng.random()), int(60 + 40 * rng.random()))
    if rng.random() < 0.5:  # smile
        d.chord([cx - mouth_w, mouth_y - mouth_w * 0.45, cx + mouth_w, mouth_y + mouth_w * 0.45],
                0, 180, fill=lips)
    else:
        d.ellipse([cx - mouth_w, mouth_y - mouth_w * 0.18, cx + mouth_w, mouth_y + mouth_w * 0.18],
                  fill=lips)

    img = img.filter(ImageFilter.GaussianBlur(radius=0.8))
    arr = np.asarray(img, dtype=np.float32)
    # soft directional light and sensor noise
    angle = rng.random() * 2 * np.pi
    yy, xx = np.mgrid[0:s, 0:s] / s - 0.5
    light = 1.0 + 0.25 * (np.cos(angle) * xx + np.sin(angle) * yy)
    arr = arr * light[..., None] + rng.normal(0, 3.0, arr.shape)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if size != s:
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.uint8)


def embedded_faces(count: int, size: int) -> tuple[np.ndarray, list[str]]:
    """``count`` faces as an (N, size, size, 3) uint8 array, with their ids."""
    faces = np.stack([draw_face(i, size) for i in range(count)])
    return faces, [f"embedded-{i:06d}" for i in range(count)]
