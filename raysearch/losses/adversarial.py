"""Adversarial losses, registered by name. Each has a critic loss and a generator loss (as in LaMa).

``critic_loss(critic, real, fake, mask)`` returns the loss and a dict of floats to log;
``generator_loss(critic, fake, mask)`` returns the generator's adversarial term;
``after_critic_step(critic)`` runs after each critic update (weight clipping needs it).
Critic scores may be per image (B,) or per patch (B, P): every loss averages over all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from raysearch.config import LossConfig
from raysearch.registry import Registry


class AdversarialLoss(Protocol):
    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]: ...

    def generator_loss(self, critic: nn.Module, fake: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor: ...

    def after_critic_step(self, critic: nn.Module) -> None: ...


ADVERSARIAL: Registry[Callable[[LossConfig], AdversarialLoss]] = Registry("adversarial loss")


def masked_gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                            mask: torch.Tensor | None, grad_scale: float = 1.0) -> torch.Tensor:
    """WGAN-GP's (||grad||-1)^2 at random interpolates; with ``mask``, over the hole pixels only.

    Correct under autocast: the critic may run in bf16/fp16, but the interpolates, the gradient
    handed back and its norm are fp32. Under fp16, ``grad_scale`` (the GradScaler's scale) scales
    the score before the inner gradient, which is unscaled after (PyTorch AMP's gradient-penalty
    recipe), so that small fp16 gradients do not flush to zero.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=torch.float32)
    mixed = (alpha * real.float() + (1 - alpha) * fake.float()).requires_grad_(True)
    score = critic(mixed, mask if mask is not None else torch.zeros_like(real[:, :1]))
    (grad,) = torch.autograd.grad(score.float().sum() * grad_scale, mixed, create_graph=True)
    grad = grad.float() / grad_scale
    if mask is not None:
        grad = grad * mask
    with torch.autocast(real.device.type, enabled=False):
        norm = grad.flatten(1).norm(2, dim=1)
        return ((norm - 1) ** 2).mean()


def _scores(critic: nn.Module, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The critic's scores in fp32, whatever autocast ran it in: losses reduce in full precision."""
    return critic(image, mask).float()


class RaiseFakeScore:
    """Shared defaults: the generator raises its fakes' mean score; nothing after a critic step."""

    def generator_loss(self, critic: nn.Module, fake: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
        return -_scores(critic, fake, mask).mean()

    def after_critic_step(self, critic: nn.Module) -> None:
        pass


class Wasserstein(RaiseFakeScore):
    """Wasserstein critic: real scores up, fake scores down, unbounded."""

    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        wdist = _scores(critic, real, mask).mean() - _scores(critic, fake, mask).mean()
        return -wdist, {"wdist": float(wdist.detach())}


class WassersteinGP(Wasserstein):
    """Wasserstein critic with gradient penalty (Gulrajani et al.), penalty region configurable."""

    def __init__(self, cfg: LossConfig) -> None:
        self.gp_weight = cfg.gp_weight
        self.hole_only = cfg.gp_region == "hole"
        self.grad_scale = 1.0  # fp16 training sets it to the GradScaler's scale before each step

    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs = super().critic_loss(critic, real, fake, mask)
        gp = masked_gradient_penalty(critic, real, fake, mask if self.hole_only else None,
                                     self.grad_scale)
        return loss + self.gp_weight * gp, {**logs, "gp": float(gp.detach())}


class WassersteinClip(Wasserstein):
    """The original WGAN (Arjovsky et al.): critic weights clipped after every step."""

    def __init__(self, cfg: LossConfig) -> None:
        self.clip = cfg.clip_value

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        for p in critic.parameters():
            p.clamp_(-self.clip, self.clip)


class BoundedScores(RaiseFakeScore):
    """Losses that read real and fake scores through a saturating function (hinge, logistic)."""

    def objective(self, s_real: torch.Tensor, s_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def critic_loss(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        s_real, s_fake = _scores(critic, real, mask), _scores(critic, fake, mask)
        gap = float((s_real.mean() - s_fake.mean()).detach())
        return self.objective(s_real, s_fake), {"score_gap": gap}


class Hinge(BoundedScores):
    """Hinge loss (SN-GAN, SAGAN): the critic pushes real scores above 1 and fakes below -1."""

    def objective(self, s_real: torch.Tensor, s_fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - s_real).mean() + F.relu(1 + s_fake).mean()


class BinaryCrossEntropy(BoundedScores):
    """The original GAN loss on logits; the generator uses the non-saturating form."""

    def objective(self, s_real: torch.Tensor, s_fake: torch.Tensor) -> torch.Tensor:
        return (F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))
                + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake)))

    def generator_loss(self, critic: nn.Module, fake: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
        s_fake = _scores(critic, fake, mask)
        return F.binary_cross_entropy_with_logits(s_fake, torch.ones_like(s_fake))


@ADVERSARIAL.register("wgan_gp")
def build_wgan_gp(cfg: LossConfig) -> AdversarialLoss:
    return WassersteinGP(cfg)


@ADVERSARIAL.register("wgan_clip")
def build_wgan_clip(cfg: LossConfig) -> AdversarialLoss:
    return WassersteinClip(cfg)


@ADVERSARIAL.register("hinge")
def build_hinge(cfg: LossConfig) -> AdversarialLoss:
    return Hinge()


@ADVERSARIAL.register("bce")
def build_bce(cfg: LossConfig) -> AdversarialLoss:
    return BinaryCrossEntropy()
