"""Skip-connected encoder-decoder generator (the improved-WGAN face inpainting design).

LeakyReLU encoder, ReLU decoder with transposed convolutions, Tanh output. With ``model.skip``
each decoder stage also receives the encoder features of the same size (U-Net style).
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import Config
from raysearch.models.blocks import down, masked_input, up
from raysearch.models.registry import NoParams, register_family


class SkipEncoderDecoder(nn.Module):
    def __init__(self, depth: int, base: int, skip: bool, max_channels: int = 512) -> None:
        super().__init__()
        self.skip = skip
        chans = [min(base * 2**i, max_channels) for i in range(depth)]
        self.encoder = nn.ModuleList(
            [down(4 if i == 0 else chans[i - 1], chans[i], norm=i > 0) for i in range(depth)]
        )
        decoder = []
        for i in reversed(range(1, depth)):
            cin = chans[i] * (2 if skip and i < depth - 1 else 1)
            decoder.append(up(cin, chans[i - 1]))
        self.decoder = nn.ModuleList(decoder)
        last_in = chans[0] * (2 if skip and depth > 1 else 1)
        self.head = nn.Sequential(nn.ConvTranspose2d(last_in, 3, 4, 2, 1), nn.Tanh())

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = masked_input(image, mask)
        feats = []
        for layer in self.encoder:
            x = layer(x)
            feats.append(x)
        for k, layer in enumerate(self.decoder):
            if self.skip and k > 0:
                x = torch.cat([x, feats[-1 - k]], dim=1)
            x = layer(x)
        if self.skip and len(feats) > 1:
            x = torch.cat([x, feats[0]], dim=1)
        return self.head(x)


@register_family("skip_encoder_decoder",
                 summary="skip-connected encoder-decoder, global + local WGAN critics")
def build_skip_encoder_decoder(cfg: Config, _p: NoParams) -> nn.Module:
    m = cfg.model
    return SkipEncoderDecoder(m.depth, m.base_channels, m.skip)
