"""Facial-part masks: over the part they name, on real aligned faces too (bins: test_masks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysearch.config import MaskConfig
from raysearch.data.faces import decode_face
from raysearch.masks import MASKS, build_mask_sampler
from raysearch.masks.face_parts import FACE_PARTS, part_box


def test_registered_and_deterministic() -> None:
    assert "face_parts" in MASKS
    sample = build_mask_sampler(MaskConfig(kind="face_parts", ratio=(0.02, 0.1)), 64)
    a = [sample(np.random.default_rng(3)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])


def test_each_part_drawn_at_its_place() -> None:
    sample = build_mask_sampler(MaskConfig(kind="face_parts", ratio=(0.02, 0.1)), 64)
    rng = np.random.default_rng(0)
    rows = [np.nonzero(sample(rng).any(1))[0].mean() / 64 for _ in range(300)]
    centres = sorted(c for (c, _), _ in FACE_PARTS.values())
    # every drawn box sits within a few pixels of one of the three part rows
    nearest = [min(abs(r - c) for c in centres) for r in rows]
    assert max(nearest) < 0.1
    for c in centres:
        assert sum(abs(r - c) < 0.05 for r in rows) > 50  # each part drawn often


@pytest.mark.data
def test_boxes_cover_eyes_and_mouth_of_real_aligned_faces(celeba_dir: Path) -> None:
    files = sorted(celeba_dir.glob("*.jpg"))[:300]
    faces = np.stack([decode_face(f, 64, "celeba") for f in files])
    faces = faces.astype(np.float32) / 255
    still = np.random.default_rng(1)

    def inside(part: str, shift: int = 0) -> np.ndarray:
        box = np.roll(part_box(64, part, 0.05, still), shift, axis=0).astype(bool)
        return faces[:, box].mean(1)  # (N, 3)

    eyes, cheeks = inside("eyes").mean(), inside("eyes", 6).mean()
    assert eyes < cheeks - 0.05  # eyes and brows are darker than the skin just below them
    redness = {p: float((inside(p)[:, 0] - inside(p)[:, 1]).mean()) for p in ("eyes", "mouth")}
    assert redness["mouth"] > redness["eyes"] + 0.02  # lips
