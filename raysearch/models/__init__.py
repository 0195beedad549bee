"""Generators and critics, registered by name; ``build_generator`` / ``build_critic`` make them.

Every module of this package is imported here, so a new family is one module with a
``@register_family`` builder (plus its test, and optionally a search-space preset): nothing to
add to this file.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pkgutil

from torch import nn

from raysearch.config import Config
from raysearch.models.filled import FilledGenerator
from raysearch.models.hole_fill import HOLE_FILLS
from raysearch.models.registry import CRITICS, GENERATORS, Family, register_family

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CRITICS",
    "GENERATORS",
    "HOLE_FILLS",
    "Family",
    "build_critic",
    "build_generator",
    "count_parameters",
    "register_family",
    "resolved",
]


def build_generator(cfg: Config) -> nn.Module:
    """The family's network inside the shell every family shares: hole fill, optional residual."""
    net = GENERATORS.get(cfg.model.generator)(cfg)
    return FilledGenerator(net, cfg.model.hole_fill, cfg.model.residual)


def resolved(cfg: Config) -> Config:
    """A copy whose chosen family's block holds every one of its knobs (defaults filled in):
    what is written beside a run, so the file alone says how the network was built."""
    family = GENERATORS.get(cfg.model.generator)
    out = copy.deepcopy(cfg)
    knobs = dataclasses.asdict(family.parse(cfg))
    if knobs:  # a family with no knobs of its own gets no empty block
        out.model.families[family.name] = knobs
    return out


def build_critic(cfg: Config) -> nn.Module:
    return CRITICS.get(cfg.model.critic)(cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
