"""Checks that need the registries: every named component of a config must exist, every
``model.<family>`` block must be a family's with valid keys, and the chosen generator must fit the
image size (its family's check). ``config_from_dict`` has already checked the plain ranges.

A miss (an unknown name, a family block's unknown or mistyped knob) is answered from the
registries' torch-free index when it is current (``raysearch.registry_index``), before torch
loads; the same checks then run on the live registries, followed by the family's own check.
"""

from __future__ import annotations

from raysearch.config import Config, build_section
from raysearch.errors import UserError
from raysearch.registry_index import Names, indexed, live


def check_names(cfg: Config, names: Names) -> None:
    """A UserError naming the key and the known names when a component is unknown, or naming the
    family block's key when a knob is unknown or of the wrong type."""
    chosen = {"model.generator": cfg.model.generator, "model.critic": cfg.model.critic,
              "model.hole_fill": cfg.model.hole_fill, "loss.adversarial": cfg.loss.adversarial,
              "mask.kind": cfg.mask.kind, "loss.vgg": cfg.loss.vgg}
    for key, name in chosen.items():
        known = names.registries[key]
        if name not in known:
            raise UserError(f"{key}: unknown {names.kinds[key]} {name!r}; known: {', '.join(known)}")
    families = names.registries["model.generator"]
    for family, block in cfg.model.families.items():  # a block for a family not chosen is checked
        if family not in families:
            raise UserError(f"model.{family}: no generator family of that name; "
                            f"known: {', '.join(families)}")
        build_section(names.knobs[family], block, f"model.{family}.", "config")


def validate_names(cfg: Config) -> None:
    """``check_names`` (from the index first, when current), then the chosen family's check."""
    index = indexed()
    if index is not None:
        check_names(cfg, index)
    check_names(cfg, live())
    from raysearch.models import GENERATORS

    GENERATORS.get(cfg.model.generator).validate(cfg)
