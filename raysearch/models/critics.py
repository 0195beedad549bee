"""Critics: ``global`` sees the whole image, ``local`` a square crop around the hole,
``global+local`` sums both scores (so one adversarial loss and one gradient penalty cover both),
``patch`` is a PatchGAN with spectral norm that scores every overlapping patch (B, P).

With ``model.critic_conditional`` every critic also sees the broken image and the mask (7 input
channels), cropped with the image for ``local``. No batch norm: the gradient penalty is per sample.
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import Config
from raysearch.models.blocks import critic_channels, critic_input
from raysearch.models.registry import CRITICS


def fitting_depth(size: int, depth: int) -> int:
    """``depth`` halvings at most, keeping at least 4x4 features."""
    return max(1, min(depth, size.bit_length() - 3))


class ConvCritic(nn.Module):
    """Strided 4x4 convolutions with LeakyReLU, then one linear score."""

    def __init__(self, size: int, depth: int, base: int, conditional: bool = False) -> None:
        super().__init__()
        self.conditional = conditional
        depth = fitting_depth(size, depth)
        layers: list[nn.Module] = []
        cin = critic_channels(conditional)
        for i in range(depth):
            cout = min(base * 2**i, 512)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(cin * (size >> depth) ** 2, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = critic_input(image, mask, self.conditional)
        return self.score(self.features(x).flatten(1)).squeeze(1)


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

    def __init__(self, size: int, depth: int, base: int, conditional: bool = False) -> None:
        super().__init__()
        self.crop = size // 2
        self.net = ConvCritic(self.crop, depth, base, conditional)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.crop
        boxes = hole_crop_boxes(mask, c)

        def cut(x: torch.Tensor) -> torch.Tensor:
            return torch.stack(
                [x[i, :, top : top + c, left : left + c] for i, (top, left) in enumerate(boxes)]
            )

        return self.net(cut(image), cut(mask))


class SumCritic(nn.Module):
    def __init__(self, *critics: nn.Module) -> None:
        super().__init__()
        self.critics = nn.ModuleList(critics)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([c(image, mask) for c in self.critics]).sum(0)


class PatchCritic(nn.Module):
    """PatchGAN (Isola et al. 2017) with spectral norm on every layer (Miyato et al. 2018):
    strided 4x4 convolutions, then a 3x3 convolution to one score per patch, flattened to (B, P)."""

    def __init__(self, size: int, depth: int, base: int, conditional: bool = False) -> None:
        super().__init__()
        self.conditional = conditional
        sn = nn.utils.parametrizations.spectral_norm
        layers: list[nn.Module] = []
        cin = critic_channels(conditional)
        for i in range(fitting_depth(size, depth)):
            cout = min(base * 2**i, 512)
            layers += [sn(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(sn(nn.Conv2d(cin, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(critic_input(image, mask, self.conditional)).flatten(1)


def _args(cfg: Config) -> tuple[int, int, int, bool]:
    m = cfg.model
    return cfg.data.image_size, m.critic_depth, m.critic_channels, m.critic_conditional


@CRITICS.register("global")
def build_global(cfg: Config) -> nn.Module:
    return ConvCritic(*_args(cfg))


@CRITICS.register("local")
def build_local(cfg: Config) -> nn.Module:
    return LocalCritic(*_args(cfg))


@CRITICS.register("global+local")
def build_global_local(cfg: Config) -> nn.Module:
    return SumCritic(build_global(cfg), build_local(cfg))


@CRITICS.register("patch")
def build_patch(cfg: Config) -> nn.Module:
    return PatchCritic(*_args(cfg))
