"""U-Net generator of the U-Net GAN face-inpainting design (trained with BCE: ``loss.adversarial``).

Ronneberger's U-Net: at each level two 3x3 convolutions with batch norm and ReLU, max-pool down,
transposed convolution up, the encoder features of the same level concatenated on the way up; a
1x1 convolution and Tanh give the image. The paper pre-fills the hole from its surroundings
(``model.hole_fill``, applied to every family by ``raysearch.models.filled``) rather than noise.
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import Config
from raysearch.models.blocks import masked_input
from raysearch.models.registry import NoParams, register_family


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
    )


class UNet(nn.Module):
    def __init__(self, depth: int, base: int, max_channels: int = 512) -> None:
        super().__init__()
        chans = [min(base * 2**i, max_channels) for i in range(depth + 1)]
        self.inc = double_conv(4, chans[0])
        levels = range(depth)
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), double_conv(chans[i], chans[i + 1])) for i in levels
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(chans[i + 1], chans[i], 2, 2) for i in reversed(levels)
        )
        self.merges = nn.ModuleList(double_conv(2 * chans[i], chans[i]) for i in reversed(levels))
        self.head = nn.Sequential(nn.Conv2d(chans[0], 3, 1), nn.Tanh())

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.inc(masked_input(image, mask))
        skips = []
        for layer in self.downs:
            skips.append(x)
            x = layer(x)
        for up, merge in zip(self.ups, self.merges, strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


@register_family("unet_bce", summary="U-Net GAN with BCE loss, hole pre-filled from its surroundings")
def build_unet_bce(cfg: Config, _p: NoParams) -> nn.Module:
    m = cfg.model
    return UNet(m.depth, m.base_channels)
