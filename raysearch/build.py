"""Checks that need the registries: every named component of a config must exist, and the chosen
generator must fit the image size (its ``GENERATOR_CHECKS`` entry). ``config_from_dict`` has
already checked the plain ranges."""

from __future__ import annotations

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.losses import ADVERSARIAL, VGG_LAYER_SETS
from raysearch.masks import MASKS
from raysearch.models import CRITICS, GENERATOR_CHECKS, GENERATORS, HOLE_FILLS


def validate_names(cfg: Config) -> None:
    """A UserError naming the key and the known names when a component is unknown, or naming the
    key when the generator cannot be built at this size."""
    for key, registry, name in (
        ("model.generator", GENERATORS, cfg.model.generator),
        ("model.critic", CRITICS, cfg.model.critic),
        ("model.hole_fill", HOLE_FILLS, cfg.model.hole_fill),
        ("loss.adversarial", ADVERSARIAL, cfg.loss.adversarial),
        ("mask.kind", MASKS, cfg.mask.kind),
    ):
        if name not in registry:
            raise UserError(f"{key}: unknown {registry.kind} {name!r}; "
                            f"known: {', '.join(registry.names())}")
    if cfg.loss.vgg not in VGG_LAYER_SETS:
        raise UserError(f"loss.vgg: unknown VGG layer set {cfg.loss.vgg!r}; "
                        f"known: {', '.join(sorted(VGG_LAYER_SETS))}")
    if cfg.model.generator in GENERATOR_CHECKS:
        GENERATOR_CHECKS.get(cfg.model.generator)(cfg)
