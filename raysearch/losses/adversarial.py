"""Adversarial losses, registered by name. Each has a critic loss and a generator loss (as in LaMa).

``critic_loss(critic, real, fake, mask)`` returns the loss and a dict of floats to log;
``generator_loss(critic, fake, mask)`` returns the generator's adversarial term.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from raysearch.config import LossConfig
from raysearch.registry import Registry


class AdversarialLoss(Protocol):
    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]: ...

    def generator_loss(self, critic: nn.Module, fake: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor: ...


ADVERSARIAL: Registry[Callable[[LossConfig], AdversarialLoss]] = Registry("adversarial loss")


def masked_gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                            mask: torch.Tensor | None) -> torch.Tensor:
    """WGAN-GP's (||grad||-1)^2 at random interpolates; with ``mask``, over the hole pixels only."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(mixed, mask if mask is not None else torch.zeros_like(real[:, :1]))
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    if mask is not None:
        grad = grad * mask
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1) ** 2).mean()


class WassersteinGP:
    """Wasserstein critic with gradient penalty (Gulrajani et al.), penalty region configurable."""

    def __init__(self, cfg: LossConfig) -> None:
        self.gp_weight = cfg.gp_weight
        self.hole_only = cfg.gp_region == "hole"

    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        wdist = critic(real, mask).mean() - critic(fake, mask).mean()
        gp = masked_gradient_penalty(critic, real, fake, mask if self.hole_only else None)
        return -wdist + self.gp_weight * gp, {"wdist": float(wdist.detach()), "gp": float(gp.detach())}

    def generator_loss(self, critic: nn.Module, fake: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
        return -critic(fake, mask).mean()


@ADVERSARIAL.register("wgan_gp")
def build_wgan_gp(cfg: LossConfig) -> AdversarialLoss:
    return WassersteinGP(cfg)
