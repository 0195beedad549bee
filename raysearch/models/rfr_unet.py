"""RFR U-Net: recurrent feature reasoning (Li et al. 2020, "Recurrent Feature Reasoning for Image
Inpainting") in an asymmetric U-Net, for face inpainting.

- Encoder: three gated convolutions (full, 1/2, 1/4 size); their full and 1/2 features are the
  U-Net skips. The decoder is plain transposed convolutions: the asymmetry.
- Recurrent feature reasoning at 1/4 size, ``model.rfr_unet.iterations`` passes with shared weights. Each
  pass: area identification (two partial convolutions that grow the known area by a pixel each),
  then feature reasoning: down to 1/8 size, a dual-branch dilated bottleneck (two 3x3 convolutions
  at a small and a large rate valid for the 1/8-size map, fused by a 1x1 convolution, residual),
  optional knowledge-consistent attention (``model.rfr_unet.attention``) whose scores carry over from
  pass to pass, and back up to 1/4 size. Features outside the known area are zeroed after each pass.
- Feature merging: the passes' features averaged, each pixel weighted by the passes that knew it
  (the paper's adaptive merging), then decoded with the skips; the broken image joins the last
  layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.models.attention import KnowledgeConsistentAttention
from raysearch.models.blocks import check_max_dilation, masked_input, valid_dilations
from raysearch.models.mask_aware_convs import GatedConv, PartialConv
from raysearch.models.registry import register_family


def known_at(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """1 where a ``factor``-sized block of the image holds no hole pixel (mask: 1 = hole)."""
    return 1 - F.max_pool2d(mask, factor)


def branch_rates(feature_size: int, max_dilation: int) -> tuple[int, int]:
    """The dual bottleneck's (small, large) rates: the largest valid rate and half of it (>= 1)."""
    large = max(valid_dilations(feature_size, max_dilation), default=1)
    return max(large // 2, 1), large


class FeatureReasoning(nn.Module):
    """One pass's encoder-decoder on the 1/4-size features (weights shared by all passes)."""

    def __init__(self, c: int, rates: tuple[int, int], attention: bool) -> None:
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.branches = nn.ModuleList(nn.Conv2d(2 * c, 2 * c, 3, 1, r, r) for r in rates)
        self.fuse = nn.Conv2d(4 * c, 2 * c, 1)
        self.attention = KnowledgeConsistentAttention(2 * c) if attention else None
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.out = nn.Sequential(nn.Conv2d(2 * c, c, 3, 1, 1), nn.LeakyReLU(0.2, True))

    def forward(self, x: torch.Tensor, known: torch.Tensor, scores: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.down(x)
        h = h + self.fuse(torch.cat([F.leaky_relu(b(h), 0.2) for b in self.branches], dim=1))
        if self.attention is not None:
            h, scores = self.attention(h, 1 - F.max_pool2d(1 - known, 2), scores)
        return self.out(torch.cat([self.up(h), x], dim=1)), scores


class RecurrentFeatureReasoning(nn.Module):
    def __init__(self, c: int, iterations: int, rates: tuple[int, int], attention: bool) -> None:
        super().__init__()
        self.iterations = iterations
        self.identify = nn.ModuleList([PartialConv(c, c), PartialConv(c, c)])
        self.reason = FeatureReasoning(c, rates, attention)

    def forward(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        feats, knowns = [], []
        scores: torch.Tensor | None = None
        for _ in range(self.iterations):
            for pconv in self.identify:
                x, known = pconv(x, known)
                x = F.leaky_relu(x, 0.2)
            x, scores = self.reason(x, known, scores)
            x = x * known
            feats.append(x)
            knowns.append(known)
        weight = torch.stack(knowns).sum(0)
        return torch.stack(feats).sum(0) / weight.clamp_min(1.0)


class RFRUNet(nn.Module):
    def __init__(self, base: int, iterations: int, rates: tuple[int, int], attention: bool
                 ) -> None:
        super().__init__()
        c = base
        self.enc1 = GatedConv(4, c, 5)
        self.enc2 = GatedConv(c, 2 * c, 3, 2)
        self.enc3 = GatedConv(2 * c, 4 * c, 3, 2)
        self.rfr = RecurrentFeatureReasoning(4 * c, iterations, rates, attention)
        self.up3 = nn.Sequential(nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.dec2 = nn.Sequential(nn.Conv2d(4 * c, 2 * c, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.dec1 = nn.Sequential(nn.Conv2d(2 * c, c, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Sequential(nn.Conv2d(c + 4, 3, 3, 1, 1), nn.Tanh())

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = masked_input(image, mask)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        merged = self.rfr(self.enc3(e2), known_at(mask, 4))
        d2 = self.dec2(torch.cat([self.up3(merged), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up2(d2), e1], dim=1))
        return self.head(torch.cat([d1, x], dim=1))


def feature_size(cfg: Config) -> int:
    """Side of the map the dilated bottleneck runs on."""
    return cfg.data.image_size // 8


@dataclass(frozen=True)
class RFRParams:
    """``model.rfr_unet.*``"""

    iterations: int = 6  # recurrent feature-reasoning passes, shared weights (1..8; published 6)
    attention: bool = True  # knowledge-consistent attention in each pass
    max_dilation: int = 0  # largest rate of the dilated bottleneck (0 = largest valid, at most 16)


def check_rfr_unet(cfg: Config, p: RFRParams) -> None:
    if not 1 <= p.iterations <= 8:
        raise UserError(f"model.rfr_unet.iterations must be 1..8, got {p.iterations}")
    check_max_dilation(cfg, p.max_dilation, feature_size(cfg))


@register_family("rfr_unet", params=RFRParams, check=check_rfr_unet,
                 summary="gated-conv U-Net, recurrent feature reasoning with attention "
                         "(Li et al. 2020)")
def build_rfr_unet(cfg: Config, p: RFRParams) -> nn.Module:
    rates = branch_rates(feature_size(cfg), p.max_dilation)
    return RFRUNet(cfg.model.base_channels, p.iterations, rates, p.attention)
