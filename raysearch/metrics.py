"""Image-quality metrics on the composite (known pixels pasted back), images in [0, 1].

Each metric is a pure function ``(pred, target, mask) -> per-image tensor (B,)``, registered by name.
SSIM follows scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)``: 11x11 Gaussian window, mean over the valid region.

MS-SSIM (Wang et al. 2003) is made valid from 32 px: the standard 5 scales with the 11x11 window
need 176 px. Here: 3 scales (full, 1/2, 1/4 by 2x2 averaging), the SSIM Gaussian (sigma 1.5) cut to
7x7 (+-2 sigma), and Wang's three finest-scale weights (0.0448, 0.2856, 0.3001) renormalised to sum
to 1; the coarsest of 32 px is 8 px, still a whole window. Negative contrast-structure means are
clamped to 0 before the fractional powers (as pytorch-msssim does), per channel, then averaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from raysearch.registry import Registry

MetricFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Metric:
    """A registered metric: the function, which way is better, and how a table names it.

    Validation reports each as ``val_<name>``; searches, records, the simulator, ``evaluate`` and
    the report all take the list and the directions from here.
    """

    fn: MetricFn
    mode: str  # "max": higher is better; "min": lower is better
    display: str

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
        return self.fn(pred, target, mask)


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, mode: str, display: str) -> Callable[[MetricFn], MetricFn]:
    def decorate(fn: MetricFn) -> MetricFn:
        METRICS.register(name)(Metric(fn, mode, display))
        return fn

    return decorate


def validation_modes() -> dict[str, str]:
    """``{"val_psnr": "max", ...}``: every validation metric a search can optimise."""
    return {f"val_{n}": METRICS.get(n).mode for n in METRICS.names()}

_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # scikit-image: int(truncate 3.5 * sigma + 0.5) -> an 11-pixel window
_K1, _K2 = 0.01, 0.03
_MS_SSIM_RADIUS = 3
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001)


def composite(output: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Generated pixels in the hole, the known image elsewhere (mask: 1 = hole)."""
    return output * mask + image * (1 - mask)


@register_metric("psnr", "max", "PSNR (dB)")
def psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    mse = (pred - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


def _gaussian_window(device: torch.device, dtype: torch.dtype, radius: int = _SSIM_RADIUS
                     ) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    g = torch.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    return g


def _band(n: int, g: torch.Tensor) -> torch.Tensor:
    """(n, n - len(g) + 1) matrix whose column j holds ``g`` at rows j..j+len(g)-1: ``x @ band``
    is the valid 1-D correlation of the last axis with ``g``."""
    k = len(g)
    band = g.new_zeros(n, n - k + 1)
    for j in range(k):
        band.diagonal(-j).fill_(float(g[j]))
    return band


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter over the valid region only (no padding), per channel.

    Two matrix products with banded matrices: in float64 on CPU this is several times faster
    than a grouped ``conv2d`` (which has no fast double path), and equal to it to rounding.
    """
    h, w = x.shape[-2:]
    rows = x @ _band(w, g)
    return (rows.transpose(-1, -2) @ _band(h, g)).transpose(-1, -2)


def ssim_terms(pred: torch.Tensor, target: torch.Tensor, g: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel SSIM and its contrast-structure factor over the valid region of window ``g``."""
    c1, c2 = _K1**2, _K2**2
    # the five blurred quantities in one call
    blurred = _blur(torch.stack([pred, target, pred * pred, target * target, pred * target]), g)
    mu_x, mu_y, exx, eyy, exy = blurred.unbind(0)
    sxx = exx - mu_x**2
    syy = eyy - mu_y**2
    sxy = exy - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs, cs


def ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM over the valid region, shape (B, C, H-10, W-10)."""
    return ssim_terms(pred, target, _gaussian_window(pred.device, pred.dtype))[0]


@register_metric("ssim", "max", "SSIM")
def ssim(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return ssim_map(pred.double(), target.double()).flatten(1).mean(1).to(pred.dtype)


@register_metric("ms_ssim", "max", "MS-SSIM")
def ms_ssim(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
            ) -> torch.Tensor:
    """Three-scale MS-SSIM with a 7x7 window (see the module docstring), valid from 32 px."""
    x, y = pred.double(), target.double()
    g = _gaussian_window(x.device, x.dtype, _MS_SSIM_RADIUS)
    weights = torch.tensor(_MS_SSIM_WEIGHTS, dtype=x.dtype) / sum(_MS_SSIM_WEIGHTS)
    score = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    for j, w in enumerate(weights.tolist()):
        full, cs = ssim_terms(x, y, g)
        last = j == len(weights) - 1
        score = score * (full if last else cs).flatten(2).mean(2).clamp_min(0) ** w
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return score.mean(1).to(pred.dtype)


@register_metric("l1", "min", "L1")
def l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return (pred - target).abs().flatten(1).mean(1)


@register_metric("l1_hole", "min", "L1 in the hole")
def l1_hole(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over hole pixels only (all channels)."""
    diff = (pred - target).abs() * mask
    hole = mask.expand_as(diff).flatten(1).sum(1).clamp_min(1.0)
    return diff.flatten(1).sum(1) / hole


def evaluate_batch(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Every (or the named) registered metric on one batch; per-image values."""
    return {n: METRICS.get(n)(pred, target, mask) for n in (names or METRICS.names())}
