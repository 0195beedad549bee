"""Multi-scale context encoder: ``model.scales`` sub-encoders read the broken image at full, 1/2 and
1/4 resolution and each brings it down to the same 1/2**depth feature map; the maps are added or
concatenated (``model.aggregation``) and one transposed-convolution decoder makes the image.

A sub-encoder starts at the channel width the full-resolution encoder has at its scale, so every
scale ends with the same channels; the 1/4-scale encoder needs ``depth >= scales`` (checked by
``raysearch.build.validate_names``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.models.blocks import decoder, down, masked_input
from raysearch.models.registry import GENERATOR_CHECKS, GENERATORS


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


@GENERATOR_CHECKS.register("multiscale_context")
def check_multiscale_context(cfg: Config) -> None:
    m = cfg.model
    if m.depth < m.scales:
        raise UserError(f"model.depth {m.depth} is too small for model.scales {m.scales}: the "
                        f"1/{2 ** (m.scales - 1)}-scale encoder needs depth >= scales")


@GENERATORS.register("multiscale_context")
def build_multiscale_context(cfg: Config) -> nn.Module:
    check_multiscale_context(cfg)
    m = cfg.model
    return MultiScaleContext(m.depth, m.base_channels, m.scales, m.aggregation)
