"""Generators and critics, registered by name; ``build_generator`` / ``build_critic`` make them."""

from __future__ import annotations

from torch import nn

from raysearch.config import Config
from raysearch.models import critics as critics
from raysearch.models import skip_encoder_decoder as skip_encoder_decoder
from raysearch.models.registry import CRITICS, GENERATORS

__all__ = ["CRITICS", "GENERATORS", "build_critic", "build_generator", "count_parameters"]


def build_generator(cfg: Config) -> nn.Module:
    return GENERATORS.get(cfg.model.generator)(cfg)


def build_critic(cfg: Config) -> nn.Module:
    return CRITICS.get(cfg.model.critic)(cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
