"""Checks of a config against the registries, done once at the edge (CLI, search-space validation).

``config_from_dict`` checks plain ranges; what needs the registries (names that exist, an
architecture that fits the image size) is checked here, with the key named in every error.
"""

from __future__ import annotations

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.losses import ADVERSARIAL, VGG_LAYER_SETS
from raysearch.masks import MASKS
from raysearch.models import CRITICS, GENERATOR_CHECKS, GENERATORS, HOLE_FILLS
from raysearch.registry import Registry


def _known(key: str, registry: Registry, name: str) -> None:  # type: ignore[type-arg]
    try:
        registry.get(name)
    except UserError as e:
        raise UserError(f"{key}: {e}") from None


def validate_names(cfg: Config) -> None:
    """Registry names and model constraints; a UserError naming the key and the known values."""
    _known("model.generator", GENERATORS, cfg.model.generator)
    _known("model.critic", CRITICS, cfg.model.critic)
    _known("model.hole_fill", HOLE_FILLS, cfg.model.hole_fill)
    _known("loss.adversarial", ADVERSARIAL, cfg.loss.adversarial)
    _known("mask.kind", MASKS, cfg.mask.kind)
    if cfg.loss.vgg not in VGG_LAYER_SETS:
        raise UserError(f"loss.vgg: unknown VGG layer set {cfg.loss.vgg!r}; "
                        f"known: {', '.join(sorted(VGG_LAYER_SETS))}")
    if cfg.model.generator in GENERATOR_CHECKS:
        GENERATOR_CHECKS.get(cfg.model.generator)(cfg)
