"""WGAN critics: ``global`` sees the whole image, ``local`` a square crop around the hole,
``global+local`` sums both scores (so one adversarial loss and one gradient penalty cover both).

No batch norm: the gradient penalty is taken per sample.
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import Config
from raysearch.models.registry import CRITICS


class ConvCritic(nn.Module):
    """Strided 4x4 convolutions with LeakyReLU, then one linear score."""

    def __init__(self, size: int, depth: int, base: int, in_channels: int = 3) -> None:
        super().__init__()
        depth = max(1, min(depth, size.bit_length() - 3))  # keep at least 4x4 features
        layers: list[nn.Module] = []
        cin = in_channels
        for i in range(depth):
            cout = min(base * 2**i, 512)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(cin * (size >> depth) ** 2, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(image).flatten(1)).squeeze(1)


def hole_crop_boxes(mask: torch.Tensor, crop: int) -> list[tuple[int, int]]:
    """Top-left corners of ``crop``-sized windows centred on each hole's bounding box."""
    size = mask.shape[-1]
    boxes = []
    for m in mask[:, 0]:
        ys, xs = torch.nonzero(m > 0.5, as_tuple=True)
        if len(ys) == 0:
            cy = cx = size // 2
        else:
            cy = int(ys.min() + ys.max()) // 2
            cx = int(xs.min() + xs.max()) // 2
        top = min(max(cy - crop // 2, 0), size - crop)
        left = min(max(cx - crop // 2, 0), size - crop)
        boxes.append((top, left))
    return boxes


class LocalCritic(nn.Module):
    """Scores a half-size crop centred on the hole (works for irregular holes: bounding box)."""

    def __init__(self, size: int, depth: int, base: int) -> None:
        super().__init__()
        self.crop = size // 2
        self.net = ConvCritic(self.crop, depth, base)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.crop
        boxes = hole_crop_boxes(mask, c)
        crops = torch.stack(
            [image[i, :, top : top + c, left : left + c] for i, (top, left) in enumerate(boxes)]
        )
        return self.net(crops, mask)


class SumCritic(nn.Module):
    def __init__(self, *critics: nn.Module) -> None:
        super().__init__()
        self.critics = nn.ModuleList(critics)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([c(image, mask) for c in self.critics]).sum(0)


@CRITICS.register("global")
def build_global(cfg: Config) -> nn.Module:
    return ConvCritic(cfg.data.image_size, cfg.model.critic_depth, cfg.model.critic_channels)


@CRITICS.register("local")
def build_local(cfg: Config) -> nn.Module:
    return LocalCritic(cfg.data.image_size, cfg.model.critic_depth, cfg.model.critic_channels)


@CRITICS.register("global+local")
def build_global_local(cfg: Config) -> nn.Module:
    return SumCritic(build_global(cfg), build_local(cfg))
