"""MS-SSIM at 32-64 px: against a plain NumPy/SciPy reference written from the definition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from raysearch.metrics import METRICS, evaluate_batch, ms_ssim

NO_HOLE = torch.zeros(1, 1, 1, 1)  # MS-SSIM is taken over the whole image
WEIGHTS = np.array([0.0448, 0.2856, 0.3001]) / 0.6305


def reference(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s MS-SSIM, 3 scales, 7x7 Gaussian (sigma 1.5), valid windows, per channel."""
    g = np.exp(-(np.arange(-3, 4) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    per_channel = []
    for a, b in zip(x, y, strict=True):
        score = 1.0
        for j, w in enumerate(WEIGHTS):
            def blur(v: np.ndarray) -> np.ndarray:
                return convolve2d(v, window, mode="valid")

            mx, my = blur(a), blur(b)
            vx, vy, cov = blur(a * a) - mx**2, blur(b * b) - my**2, blur(a * b) - mx * my
            cs = (2 * cov + c2) / (vx + vy + c2)
            lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
            term = (lum * cs).mean() if j == len(WEIGHTS) - 1 else cs.mean()
            score *= max(term, 0.0) ** w
            h, wd = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
            a = a[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
            b = b[:h, :wd].reshape(h // 2, 2, wd // 2, 2).mean((1, 3))
        per_channel.append(score)
    return float(np.mean(per_channel))


@pytest.mark.parametrize("size", [32, 48, 64])
def test_matches_the_reference(size: int) -> None:
    rng = np.random.default_rng(size)
    truth = rng.random((3, 3, size, size))
    noisy = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)
    got = ms_ssim(torch.from_numpy(noisy).float(), torch.from_numpy(truth).float(), NO_HOLE)
    want = [reference(n, t) for n, t in zip(noisy, truth, strict=True)]
    assert got.shape == (3,)
    assert np.allclose(got.numpy(), want, atol=1e-5)


def test_identity_and_monotone_with_noise() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(ms_ssim(x, x, NO_HOLE), torch.ones(2))
    scores = [float(ms_ssim((x + s * torch.randn_like(x)).clamp(0, 1), x, NO_HOLE).mean())
              for s in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert all(a > b for a, b in itertools.pairwise(scores))
    assert 0 <= scores[-1] < 1


def test_registered_and_reported_with_the_others() -> None:
    assert "ms_ssim" in METRICS
    x = torch.rand(2, 3, 32, 32)
    assert set(evaluate_batch(x, x, torch.zeros(2, 1, 32, 32))) >= {"ms_ssim", "ssim", "psnr"}
