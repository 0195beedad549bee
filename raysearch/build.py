"""Checks that need the registries: every named component of a config must exist."""

from __future__ import annotations

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.losses import ADVERSARIAL
from raysearch.masks import MASKS
from raysearch.models import CRITICS, GENERATORS


def validate_names(cfg: Config) -> None:
    """A UserError naming the key and the known names when a component is unknown."""
    for key, registry, name in (
        ("model.generator", GENERATORS, cfg.model.generator),
        ("model.critic", CRITICS, cfg.model.critic),
        ("loss.adversarial", ADVERSARIAL, cfg.loss.adversarial),
        ("mask.kind", MASKS, cfg.mask.kind),
    ):
        if name not in registry:
            raise UserError(f"{key}: unknown {registry.kind} {name!r}; "
                            f"known: {', '.join(registry.names())}")
