"""Small building blocks shared by the generators and critics."""

from __future__ import annotations

import torch
from torch import nn


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
    """The broken image and its mask as one 4-channel input."""
    return torch.cat([image * (1 - mask), mask], dim=1)
