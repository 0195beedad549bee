"""Convolutions that know about the hole: gated (learned soft mask) and partial (explicit mask)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedConv(nn.Module):
    """Gated convolution (Yu et al. 2019): ELU features times a learned sigmoid gate per pixel."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, k, stride, (k - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


class PartialConv(nn.Module):
    """Partial convolution (Liu et al. 2018) with mask update.

    Convolves the known features only, rescales by the share of the window that was known, and
    marks as known every pixel whose window held a known pixel: each call grows the known area by
    one pixel around the hole's edge. ``known`` is (B, 1, H, W), 1 = known.
    """

    window: torch.Tensor

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, 1, k // 2, bias=False)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("window", torch.ones(1, 1, k, k), persistent=False)

    def forward(self, x: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            count = F.conv2d(known, self.window, padding=self.conv.padding)
            grown = (count > 0).to(x.dtype)
            scale = self.window.numel() / count.clamp_min(1.0) * grown
        out = self.conv(x * known) * scale + self.bias.view(1, -1, 1, 1) * grown
        return out, grown
