"""Generators and critics, registered by name; ``build_generator`` / ``build_critic`` make them."""

from __future__ import annotations

from torch import nn

from raysearch.config import Config
from raysearch.models import critics as critics  # noqa: F401  (registers)
from raysearch.models import skip_encoder_decoder as skip_encoder_decoder  # noqa: F401
from raysearch.models.registry import CRITICS, GENERATORS

__all__ = ["GENERATORS", "CRITICS", "build_generator", "build_critic", "count_parameters"]


def build_generator(cfg: Config) -> nn.Module:
    return GENERATORS.get(cfg.model.generator)(cfg)


def build_critic(cfg: Config) -> nn.Module:
    return CRITICS.get(cfg.model.critic)(cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
