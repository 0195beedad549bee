"""Checks that need the registries: every named component of a config must exist, every
``model.<family>`` block must be a family's with valid keys, and the chosen generator must fit the
image size (its family's check). ``config_from_dict`` has already checked the plain ranges."""

from __future__ import annotations

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.losses import ADVERSARIAL, VGG_LAYER_SETS
from raysearch.masks import MASKS
from raysearch.models import CRITICS, GENERATORS, HOLE_FILLS


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
    for family in cfg.model.families:  # a block for a family that is not chosen is still checked
        if family not in GENERATORS:
            raise UserError(f"model.{family}: no generator family of that name; "
                            f"known: {', '.join(GENERATORS.names())}")
        GENERATORS.get(family).parse(cfg)
    GENERATORS.get(cfg.model.generator).validate(cfg)
