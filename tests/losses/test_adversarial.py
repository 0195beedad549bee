"""Adversarial losses: every one with every critic, and the property each one is chosen for."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from raysearch.config import LossConfig, config_from_dict
from raysearch.losses import ADVERSARIAL, masked_gradient_penalty
from raysearch.models import CRITICS, build_critic


def batch(n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    real = torch.rand(n, 3, size, size) * 2 - 1
    mask = torch.zeros(n, 1, size, size)
    mask[:, :, 8:20, 10:24] = 1
    fake = real * (1 - mask) + torch.rand_like(real) * mask
    return real, fake, mask


@pytest.mark.parametrize("critic_name", CRITICS.names())
@pytest.mark.parametrize("loss_name", ADVERSARIAL.names())
def test_every_loss_with_every_critic(loss_name: str, critic_name: str) -> None:
    cfg = config_from_dict({"model": {"critic": critic_name, "critic_channels": 8},
                            "loss": {"adversarial": loss_name}})
    critic, loss = build_critic(cfg), ADVERSARIAL.get(loss_name)(cfg.loss)
    real, fake, mask = batch()
    fake.requires_grad_(True)
    loss_d, logs = loss.critic_loss(critic, real, fake.detach(), mask)
    loss_d.backward()
    assert torch.isfinite(loss_d) and all(isinstance(v, float) for v in logs.values())
    loss.after_critic_step(critic)
    loss_g = loss.generator_loss(critic, fake, mask)
    loss_g.backward()
    assert torch.isfinite(loss_g) and fake.grad is not None and fake.grad.abs().sum() > 0


class KnownPixelsOnly(nn.Module):
    """A critic that looks only at the known pixels: its gradient in the hole is zero."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (image * (1 - mask)).flatten(1).sum(1)


def test_gradient_penalty_counts_the_hole_only() -> None:
    real, fake, mask = batch()
    critic = KnownPixelsOnly()
    assert masked_gradient_penalty(critic, real, fake, mask) == pytest.approx(1.0)
    assert masked_gradient_penalty(critic, real, fake, None) > 100  # the known pixels' gradient


def test_wgan_clip_clips_every_critic_weight() -> None:
    cfg = LossConfig(adversarial="wgan_clip", clip_value=0.02)
    critic = build_critic(config_from_dict({"model": {"critic": "global+local"}}))
    ADVERSARIAL.get("wgan_clip")(cfg).after_critic_step(critic)
    assert max(float(p.detach().abs().max()) for p in critic.parameters()) <= 0.02


class Fixed(nn.Module):
    def __init__(self, real: float, fake: float) -> None:
        super().__init__()
        self.real, self.fake = real, fake

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.full((len(image),), self.real if image[0, 0, 0, 0] > 0 else self.fake)


def test_hinge_and_bce_values() -> None:
    real, fake = torch.ones(2, 3, 4, 4), -torch.ones(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    hinge, bce = ADVERSARIAL.get("hinge")(LossConfig()), ADVERSARIAL.get("bce")(LossConfig())
    assert float(hinge.critic_loss(Fixed(2.0, -3.0), real, fake, mask)[0]) == 0.0  # margins met
    assert float(hinge.critic_loss(Fixed(0.0, 0.0), real, fake, mask)[0]) == pytest.approx(2.0)
    log2 = float(torch.log(torch.tensor(2.0)))
    assert float(bce.critic_loss(Fixed(0.0, 0.0), real, fake, mask)[0]) == pytest.approx(2 * log2)
    # non-saturating: the generator still gets a large loss (and gradient) when the critic wins
    assert float(bce.generator_loss(Fixed(0.0, -10.0), fake, mask)) == pytest.approx(10.0, abs=1e-3)
