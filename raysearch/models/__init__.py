"""Generators and critics, registered by name; ``build_generator`` / ``build_critic`` make them."""

from __future__ import annotations

from torch import nn

from raysearch.config import Config
from raysearch.models import coarse_to_fine as coarse_to_fine
from raysearch.models import critics as critics
from raysearch.models import multiscale_context as multiscale_context
from raysearch.models import rfr_unet as rfr_unet
from raysearch.models import skip_encoder_decoder as skip_encoder_decoder
from raysearch.models import unet as unet
from raysearch.models.filled import FilledGenerator
from raysearch.models.hole_fill import HOLE_FILLS
from raysearch.models.registry import CRITICS, GENERATOR_CHECKS, GENERATORS

__all__ = [
    "CRITICS",
    "GENERATORS",
    "GENERATOR_CHECKS",
    "HOLE_FILLS",
    "build_critic",
    "build_generator",
    "count_parameters",
]


def build_generator(cfg: Config) -> nn.Module:
    """The family's network inside the shell every family shares: hole fill, optional residual."""
    net = GENERATORS.get(cfg.model.generator)(cfg)
    return FilledGenerator(net, cfg.model.hole_fill, cfg.model.residual)


def build_critic(cfg: Config) -> nn.Module:
    return CRITICS.get(cfg.model.critic)(cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
