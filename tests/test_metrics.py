"""Metrics agree with scikit-image on real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from raysearch.config import MaskConfig
from raysearch.data.faces import decode_face
from raysearch.masks import build_mask_sampler
from raysearch.metrics import composite, l1, l1_hole, psnr, ssim


def _pairs(celeba_dir: Path, n: int = 6, size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real faces, and 'restorations' that differ from them inside a real-looking hole."""
    faces = np.stack([decode_face(celeba_dir / f"{i:06d}.jpg", size, "auto") for i in range(1, n + 1)])
    others = np.stack([decode_face(celeba_dir / f"{i:06d}.jpg", size, "auto")
                       for i in range(101, 101 + n)])
    sample = build_mask_sampler(MaskConfig(kind="brush", ratio=(0.2, 0.3)), size)
    rng = np.random.default_rng(0)
    masks = np.stack([sample(rng) for _ in range(n)])
    return faces / 255.0, (0.6 * faces + 0.4 * others) / 255.0, masks


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).float()


@pytest.mark.data
def test_psnr_ssim_match_scikit_image(celeba_dir: Path) -> None:
    truth, guess, masks = _pairs(celeba_dir)
    m = torch.from_numpy(masks)[:, None].float()
    comp = composite(_t(guess), _t(truth), m)
    ours_psnr, ours_ssim = psnr(comp, _t(truth)), ssim(comp, _t(truth))
    comp_np = comp.permute(0, 2, 3, 1).double().numpy()
    for i in range(len(truth)):
        ref_psnr = peak_signal_noise_ratio(truth[i], comp_np[i], data_range=1.0)
        ref_ssim = structural_similarity(truth[i], comp_np[i], data_range=1.0, channel_axis=2,
                                         gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
        assert abs(float(ours_psnr[i]) - ref_psnr) < 1e-3
        assert abs(float(ours_ssim[i]) - ref_ssim) < 1e-3


@pytest.mark.data
def test_l1_whole_and_hole(celeba_dir: Path) -> None:
    truth, guess, masks = _pairs(celeba_dir, n=3)
    m = torch.from_numpy(masks)[:, None].float()
    comp = composite(_t(guess), _t(truth), m)
    diff = np.abs(comp.permute(0, 2, 3, 1).numpy() - truth)
    for i in range(3):
        assert float(l1(comp, _t(truth))[i]) == pytest.approx(diff[i].mean(), abs=1e-5)
        hole = masks[i].astype(bool)
        assert float(l1_hole(comp, _t(truth), m)[i]) == pytest.approx(diff[i][hole].mean(), abs=1e-5)


def test_composite_keeps_known_pixels() -> None:
    img, out = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    m = (torch.rand(2, 1, 32, 32) > 0.5).float()
    comp = composite(out, img, m)
    known = m.expand_as(img) == 0
    assert torch.equal(comp[known], img[known])
    assert torch.equal(comp[~known], out[~known])


def test_identical_images_score_perfectly() -> None:
    x = torch.rand(2, 3, 32, 32)
    assert torch.all(ssim(x, x) > 0.9999)
    assert torch.all(l1(x, x) == 0)
    assert torch.all(psnr(x, x) > 100)


def test_every_metric_carries_its_direction_and_every_layer_uses_it() -> None:
    """One home for a metric's name and direction: the registry; the search, the records and the
    simulator take theirs from it."""
    from raysearch.metrics import METRICS, validation_modes
    from raysearch.search.recorder import _KEPT_METRICS
    from raysearch.search.simulate import _REPLAYED
    from raysearch.search.space import metric_modes

    assert {METRICS.get(n).mode for n in METRICS.names()} <= {"max", "min"}
    assert METRICS.get("psnr").mode == "max" and METRICS.get("l1_hole").mode == "min"
    modes = validation_modes()
    assert modes == metric_modes() and set(modes) <= set(_KEPT_METRICS) and set(modes) <= set(_REPLAYED)
