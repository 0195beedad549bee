"""Every mask kind lands inside its hole-ratio bin; samplers are pure functions of their rng."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysearch.config import MaskConfig
from raysearch.errors import UserError
from raysearch.masks import MASKS, build_mask_sampler, mask_bank

BINS = [(0.0, 0.1), (0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]


@pytest.mark.parametrize("kind", ["rect", "brush"])
@pytest.mark.parametrize("ratio", BINS)
@pytest.mark.parametrize("size", [32, 64, 128])
def test_drawn_masks_inside_bin(kind: str, ratio: tuple[float, float], size: int) -> None:
    bank = mask_bank(build_mask_sampler(MaskConfig(kind=kind, ratio=ratio), size), 60, seed=1)
    ratios = bank.mean(axis=(1, 2, 3))
    assert bank.shape == (60, 1, size, size)
    assert set(np.unique(bank)) <= {0.0, 1.0}
    assert np.all(ratios > ratio[0]) and np.all(ratios <= ratio[1])


def test_center_is_centred_and_in_bin() -> None:
    m = build_mask_sampler(MaskConfig(kind="center", ratio=(0.2, 0.3)), 64)(np.random.default_rng(0))
    ys, xs = np.nonzero(m)
    assert 0.2 < m.mean() <= 0.3
    assert abs((ys.min() + ys.max()) / 2 - 31.5) <= 0.5 and abs((xs.min() + xs.max()) / 2 - 31.5) <= 0.5


def test_same_seed_same_masks() -> None:
    s = build_mask_sampler(MaskConfig(kind="brush"), 32)
    assert np.array_equal(mask_bank(s, 8, seed=3), mask_bank(s, 8, seed=3))
    assert not np.array_equal(mask_bank(s, 8, seed=3), mask_bank(s, 8, seed=4))


@pytest.mark.data
@pytest.mark.parametrize("ratio", [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)])
def test_nvidia_folder_masks_by_bin(masks_dir: Path, ratio: tuple[float, float]) -> None:
    sample = build_mask_sampler(MaskConfig(kind="folder", folder=str(masks_dir), ratio=ratio,
                                           bank_size=64), 64)
    bank = mask_bank(sample, 40, seed=0)
    ratios = bank.mean(axis=(1, 2, 3))
    assert np.all(ratios > ratio[0]) and np.all(ratios <= ratio[1])
    assert len({m.tobytes() for m in bank}) > 10  # really sampled, not one mask repeated


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs mask.folder"):
        build_mask_sampler(MaskConfig(kind="folder"), 32)
    with pytest.raises(UserError, match="no mask with hole ratio"):
        build_mask_sampler(MaskConfig(kind="folder", folder=str(tmp_path)), 32)


def test_unknown_kind_lists_known() -> None:
    with pytest.raises(UserError, match="known: .*brush.*rect"):
        MASKS.get("blob")
