"""Every mask kind lands inside its hole-ratio bin; samplers are pure functions of their rng."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysearch.config import MaskConfig
from raysearch.errors import UserError
from raysearch.masks import MASKS, build_mask_sampler, mask_bank

BINS = [(0.0, 0.1), (0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]


@pytest.mark.parametrize("kind", ["rect", "brush", "face_parts"])
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


@pytest.mark.parametrize("kind", ["rect", "brush"])
def test_ratio_weights_draw_only_the_weighted_sub_bins(kind: str) -> None:
    """[1, 0, 1, 0, 1] over (0.1, 0.6]: every hole in (0.1,0.2], (0.3,0.4] or (0.5,0.6], each
    sub-bin drawn about a third of the time."""
    cfg = MaskConfig(kind=kind, ratio=(0.1, 0.6), ratio_weights=(1, 0, 1, 0, 1))
    ratios = mask_bank(build_mask_sampler(cfg, 64), 150, seed=3).mean(axis=(1, 2, 3))
    which = np.floor((ratios - 1e-9) * 10).astype(int)  # 1 for (0.1, 0.2], ...
    assert set(which) == {1, 3, 5}
    assert all(30 <= int((which == b).sum()) <= 70 for b in (1, 3, 5))


def test_ratio_weights_skew_the_draw() -> None:
    cfg = MaskConfig(kind="rect", ratio=(0.0, 0.4), ratio_weights=(3, 1))
    ratios = mask_bank(build_mask_sampler(cfg, 64), 200, seed=0).mean(axis=(1, 2, 3))
    assert 0.65 < float((ratios <= 0.2).mean()) < 0.85


def _write_masks(folder: Path, count: int, size: int = 32) -> None:
    import cv2

    folder.mkdir()
    for k in range(count):
        m = np.zeros((size, size), np.uint8)
        m[: 4 + k % 8, :] = 255  # ratios 0.125 .. 0.34
        cv2.imwrite(str(folder / f"mask{k:03d}.png"), m)  # not NVIDIA-numbered


def test_folder_subsets_are_disjoint_and_cover_the_folder(tmp_path: Path) -> None:
    from raysearch.masks.folder import subset_files

    files = [tmp_path / f"{k:05d}.png" for k in range(23)]
    train, holdout = subset_files(files, "train"), subset_files(files, "holdout")
    assert not set(train) & set(holdout) and sorted(train + holdout) == files
    assert len(holdout) == 5 and subset_files(files, "all") == files
    _write_masks(tmp_path / "m", 40)
    for subset in ("train", "holdout"):
        cfg = MaskConfig(kind="folder", folder=str(tmp_path / "m"), ratio=(0.1, 0.4), subset=subset)
        assert mask_bank(build_mask_sampler(cfg, 32), 20, seed=0).shape == (20, 1, 32, 32)


def test_ratio_weights_from_a_searchable_string() -> None:
    from raysearch.config import config_from_dict

    cfg = config_from_dict({"mask": {"ratio_weights": "1,0,1,0,1"}})
    assert cfg.mask.ratio_weights == (1.0, 0.0, 1.0, 0.0, 1.0)
    assert config_from_dict({"mask": {"ratio_weights": [2, 1]}}).mask.ratio_weights == (2.0, 1.0)
    for bad, message in (("1,x", "must be a number"), ([0, 0], "positive sum"),
                         ([1, -1], "weights >= 0")):
        with pytest.raises(UserError, match=message):
            config_from_dict({"mask": {"ratio_weights": bad}})
    with pytest.raises(UserError, match="mask.subset must be one of all, train, holdout"):
        config_from_dict({"mask": {"subset": "test"}})
