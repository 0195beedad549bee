"""The two phases of a GAN step, as stylegan3's and lama's trainers split them.

``critic_step`` and ``generator_step`` each run one optimiser step and return every term they
computed, prefixed (``d_loss``, ``d_wdist``, ``d_gp``; ``g_loss``, ``g_l1``, ``g_adv``...), so the
loop only orders the phases and averages what they logged. Nothing here knows of epochs or Ray.

``train.precision`` bf16/fp16 runs the forward passes and losses under ``torch.autocast``; fp16
also scales each player's loss with its own ``torch.amp.GradScaler`` (a disabled scaler, as in
fp32 and bf16, passes everything through unchanged).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from raysearch.config import Config
from raysearch.errors import DivergedError
from raysearch.losses import ADVERSARIAL, ContentLoss
from raysearch.metrics import composite
from raysearch.train.ema import GeneratorEMA

# (epoch, step, generator loss) -> the loss to back-propagate: a seam for tests (see TrainHooks)
LossHook = Callable[[int, int, torch.Tensor], torch.Tensor]

AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16,
}


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Dist:
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()


def average_gradients(module: nn.Module, world: int) -> None:
    """Data-parallel step: one all-reduce of the flattened gradients, divided by the world size."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if world == 1 or not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_parameters(module: nn.Module) -> None:
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def check_finite(value: float, what: str, epoch: int, step: int) -> None:
    if not math.isfinite(value):
        raise DivergedError(f"{what} became {value} at epoch {epoch}, step {step}")


class GanPhases:
    """The networks, their optimisers and losses, and the two steps that train them."""

    def __init__(self, cfg: Config, generator: nn.Module, critic: nn.Module,
                 device: torch.device, ddp: Dist) -> None:
        self.cfg, self.ddp = cfg, ddp
        self.generator, self.critic = generator, critic
        self.adversarial = ADVERSARIAL.get(cfg.loss.adversarial)(cfg.loss)
        self.content = ContentLoss(cfg.loss).to(device)
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        self.opt_g = torch.optim.Adam(generator.parameters(), cfg.optim.lr_g, betas)
        self.opt_d = torch.optim.Adam(critic.parameters(), cfg.optim.lr_d, betas)
        self.ema = GeneratorEMA(generator, cfg.train.ema) if cfg.train.ema > 0 else None
        self.device = device
        self.autocast_dtype = AUTOCAST_DTYPES[cfg.train.precision]
        fp16 = cfg.train.precision == "fp16"
        # one scaler per player: each optimiser's inf/NaN check and scale history is its own
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast to ``train.precision`` (a no-op context in fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @property
    def scored(self) -> nn.Module:
        """The generator that validation scores and checkpoints ship: the EMA when there is one."""
        return self.ema.model if self.ema is not None else self.generator

    def forward(self, real: torch.Tensor, mask: torch.Tensor
                ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Every output of the generator (a coarse stage's first) and the final composite."""
        with self.autocast():
            out = self.generator(real * (1 - mask), mask)
        outs = out if isinstance(out, tuple) else (out,)
        outs = tuple(o.float() for o in outs)  # the losses compare in fp32 (a no-op in fp32)
        return outs, composite(outs[-1], real, mask)

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor
                    ) -> dict[str, float]:
        """One critic update on real faces and (detached) composites."""
        if self.scaler_d.is_enabled() and hasattr(self.adversarial, "grad_scale"):
            self.adversarial.grad_scale = float(self.scaler_d.get_scale())  # the penalty's
        with self.autocast():
            loss, terms = self.adversarial.critic_loss(self.critic, real, fake.detach(), mask)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss).backward()
        average_gradients(self.critic, self.ddp.world)  # scaled or not: the mean is linear
        self.scaler_d.step(self.opt_d)  # unscales first; skips the step on inf/NaN (fp16)
        self.scaler_d.update()
        self.adversarial.after_critic_step(self.critic)
        return {"d_loss": float(loss.detach()), **{f"d_{k}": v for k, v in terms.items()}}

    def generator_step(self, outs: tuple[torch.Tensor, ...], fake: torch.Tensor, real: torch.Tensor,
                       mask: torch.Tensor, adv_weight: float, *, where: tuple[int, int] = (0, 0),
                       hook: LossHook | None = None) -> dict[str, float]:
        """One generator update: the content terms, plus the adversarial one when weighted."""
        with self.autocast():
            loss, terms = self.content(outs, real, mask)
            logs = {f"g_{k}": v for k, v in terms.items()}
            if adv_weight > 0:
                self.critic.requires_grad_(False)  # the critic is a fixed judge here
                adv = self.adversarial.generator_loss(self.critic, fake, mask)
                self.critic.requires_grad_(True)
                loss = loss + adv_weight * adv
                logs |= {"g_adv": float(adv.detach()), "g_adv_weight": adv_weight}
        loss = loss.float()
        if hook is not None:
            loss = hook(*where, loss)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        average_gradients(self.generator, self.ddp.world)
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        check_finite(float(loss.detach()), "generator loss", *where)
        if self.ema is not None:
            self.ema.update(self.generator)
        return {"g_loss": float(loss.detach()), **logs}
