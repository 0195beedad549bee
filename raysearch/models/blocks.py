"""Small building blocks shared by the generators and critics."""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import Config
from raysearch.errors import UserError


def down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    """4x4 stride-2 convolution, optional batch norm, LeakyReLU(0.2): halves the size."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def up(cin: int, cout: int) -> nn.Sequential:
    """4x4 stride-2 transposed convolution, batch norm, ReLU: doubles the size."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The (already filled) broken image and its mask as one 4-channel input."""
    return torch.cat([image, mask], dim=1)


def critic_input(image: torch.Tensor, mask: torch.Tensor, conditional: bool) -> torch.Tensor:
    """What a critic sees: the image, or (conditional) the image, the broken image and the mask."""
    if not conditional:
        return image
    return torch.cat([image, image * (1 - mask), mask], dim=1)


def critic_channels(conditional: bool) -> int:
    return 7 if conditional else 3


def valid_dilations(feature_size: int, max_dilation: int, rates: tuple[int, ...] = (2, 4, 8, 16)
                    ) -> list[int]:
    """The rates (of ``rates``) a 3x3 dilated convolution can use on ``feature_size`` features.

    A rate must stay below the side of the map (its outer taps then reach inside it, and reflect
    padding needs it) and at most ``max_dilation`` when that is set (0 = no cap).
    """
    cap = max_dilation or max(rates)
    return [r for r in rates if r < feature_size and r <= cap]


def check_max_dilation(cfg: Config, rate: int, feature_size: int) -> None:
    """A set ``model.<family>.max_dilation`` must be in 0..16 and usable on the generator's
    ``feature_size`` map."""
    key = f"model.{cfg.model.generator}.max_dilation"
    if not 0 <= rate <= 16:
        raise UserError(f"{key} must be 0 (largest valid) to 16, got {rate}")
    if rate and rate >= feature_size:
        raise UserError(
            f"{key} {rate} is too large for {cfg.model.generator} at "
            f"{cfg.data.image_size}px: its dilated convolutions run on "
            f"{feature_size}x{feature_size} features, so rates must be below {feature_size} "
            "(or 0: the largest valid)"
        )


def decoder(chans: list[int], cin: int) -> nn.Sequential:
    """Transposed-convolution decoder from ``cin`` channels up through ``chans`` (deepest first)
    to a Tanh RGB image: ``len(chans)`` doublings of the side."""
    layers: list[nn.Module] = []
    for cout in chans[1:]:
        layers.append(up(cin, cout))
        cin = cout
    layers += [nn.ConvTranspose2d(cin, 3, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)
