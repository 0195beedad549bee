"""Two-stage coarse-to-fine generator (Yu et al. 2018, "Generative Image Inpainting with Contextual
Attention", trained with WGAN-GP).

Each stage is the paper's network: ELU activations, reflect padding, no batch norm; two stride-2
convolutions down to 1/4 size, dilated 3x3 convolutions there (rates 2, 4, 8, 16, keeping those
valid for the 1/4-size map, see ``valid_dilations``), nearest-neighbour upsampling back. Stage 1
sees the broken image; stage 2 sees stage 1's result pasted into the hole. ``forward`` returns
``(coarse, fine)``: the training loop gives both the reconstruction loss and only the fine output
the adversarial loss, which is the paper's split between the stages.

Departures, on purpose: no contextual-attention branch in stage 2 (the RFR family carries
attention); Tanh instead of clipping the output, so that saturated pixels still get gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from raysearch.config import Config
from raysearch.models.blocks import check_max_dilation, masked_input, valid_dilations
from raysearch.models.registry import register_family


def elu_conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1,
             act: bool = True) -> nn.Sequential:
    """Reflect-padded convolution, ELU."""
    conv = nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation,
                     padding_mode="reflect")
    return nn.Sequential(conv, nn.ELU(inplace=True)) if act else nn.Sequential(conv)


def elu_up(cin: int, cout: int) -> nn.Sequential:
    """Nearest-neighbour doubling, then a reflect-padded 3x3 convolution (no checkerboard)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), elu_conv(cin, cout))


def stage(c: int, rates: list[int]) -> nn.Sequential:
    """One stage: (image, mask) channels in, RGB in [-1, 1] out."""
    return nn.Sequential(
        elu_conv(4, c, 5),
        elu_conv(c, 2 * c, 3, 2), elu_conv(2 * c, 2 * c),
        elu_conv(2 * c, 4 * c, 3, 2), elu_conv(4 * c, 4 * c), elu_conv(4 * c, 4 * c),
        *[elu_conv(4 * c, 4 * c, dilation=r) for r in rates],
        elu_conv(4 * c, 4 * c), elu_conv(4 * c, 4 * c),
        elu_up(4 * c, 2 * c), elu_conv(2 * c, 2 * c),
        elu_up(2 * c, c), elu_conv(c, max(c // 2, 3)),
        elu_conv(max(c // 2, 3), 3, act=False), nn.Tanh(),
    )


class CoarseToFine(nn.Module):
    residual = False  # set by raysearch.models.filled: stage 1 then predicts a correction

    def __init__(self, base: int, rates: list[int]) -> None:
        super().__init__()
        self.coarse = stage(base, rates)
        self.fine = stage(base, rates)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse = self.coarse(masked_input(image, mask))
        # stage 2 reads stage 1's image: the fill plus its correction in residual mode
        pasted = image + coarse * mask if self.residual else image * (1 - mask) + coarse * mask
        return coarse, self.fine(torch.cat([pasted, mask], dim=1))


def feature_size(cfg: Config) -> int:
    """Side of the map the dilated convolutions run on."""
    return cfg.data.image_size // 4


@dataclass(frozen=True)
class CoarseToFineParams:
    """``model.coarse_to_fine.*``"""

    max_dilation: int = 0  # largest rate of the dilated convolutions (0 = largest valid, <= 16)


def check_coarse_to_fine(cfg: Config, p: CoarseToFineParams) -> None:
    check_max_dilation(cfg, p.max_dilation, feature_size(cfg))


@register_family("coarse_to_fine", params=CoarseToFineParams, check=check_coarse_to_fine,
                 summary="two-stage coarse-to-fine WGAN-GP generator, ELU, reflect padding "
                         "(Yu et al. 2018)")
def build_coarse_to_fine(cfg: Config, p: CoarseToFineParams) -> nn.Module:
    return CoarseToFine(cfg.model.base_channels, valid_dilations(feature_size(cfg), p.max_dilation))
