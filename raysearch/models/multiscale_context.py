"""Multi-scale context encoder: ``model.multiscale_context.scales`` sub-encoders read the broken
image at full, 1/2 and 1/4 resolution and each brings it down to the same 1/2**depth feature map;
the maps are added or concatenated (``aggregation``) and one transposed-convolution decoder makes
the image.

A sub-encoder starts at the channel width the full-resolution encoder has at its scale, so every
scale ends with the same channels; the 1/4-scale encoder needs ``depth >= scales`` (checked by
its check).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.models.blocks import decoder, down, masked_input
from raysearch.models.registry import register_family


class MultiScaleContext(nn.Module):
    def __init__(self, depth: int, base: int, scales: int, aggregation: str,
                 max_channels: int = 512) -> None:
        super().__init__()
        self.concat = aggregation == "concat"
        chans = [min(base * 2**i, max_channels) for i in range(depth)]
        self.encoders = nn.ModuleList(
            nn.Sequential(down(4, chans[k], norm=False),
                          *[down(chans[i - 1], chans[i]) for i in range(k + 1, depth)])
            for k in range(scales)
        )
        width = chans[-1] * (scales if self.concat else 1)
        self.decoder = decoder(chans[::-1], width)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = masked_input(image, mask)
        feats = [enc(F.avg_pool2d(x, 2**k) if k else x) for k, enc in enumerate(self.encoders)]
        merged = torch.cat(feats, dim=1) if self.concat else torch.stack(feats).sum(0)
        return self.decoder(merged)


@dataclass(frozen=True)
class MultiScaleParams:
    """``model.multiscale_context.*``"""

    scales: int = 3  # sub-encoders at full, 1/2 and 1/4 resolution (1..3)
    aggregation: str = "concat"  # add | concat the sub-encoders' features


def check_multiscale_context(cfg: Config, p: MultiScaleParams) -> None:
    key = "model.multiscale_context"
    if not 1 <= p.scales <= 3:
        raise UserError(f"{key}.scales must be 1, 2 or 3, got {p.scales}")
    if p.aggregation not in ("add", "concat"):
        raise UserError(f"{key}.aggregation must be 'add' or 'concat', got {p.aggregation!r}")
    if cfg.model.depth < p.scales:
        raise UserError(f"model.depth {cfg.model.depth} is too small for {key}.scales {p.scales}: "
                        f"the 1/{2 ** (p.scales - 1)}-scale encoder needs depth >= scales")


@register_family("multiscale_context", params=MultiScaleParams, check=check_multiscale_context,
                 summary="multi-scale context encoder, 1-3 input scales added or concatenated")
def build_multiscale_context(cfg: Config, p: MultiScaleParams) -> nn.Module:
    return MultiScaleContext(cfg.model.depth, cfg.model.base_channels, p.scales, p.aggregation)
