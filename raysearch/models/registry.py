"""Generator families and critics, registered by name.

A generator family is one registration (timm's ``@register_model``, lama's ``kind:`` blocks): its
builder, its own small parameter dataclass (the knobs only it has, set as
``model.<family>.<key>``) and, when it needs one, a check of the config beyond plain ranges (sizes
the architecture cannot take). The builder takes the whole ``Config`` and the parsed parameters
and returns an ``nn.Module`` whose ``forward(image, mask)`` gets the masked image in [-1, 1]
(hole pixels zeroed) and the mask (1 = hole), and returns the output image in [-1, 1], or a tuple
whose last item is the output and whose earlier items are intermediate outputs (e.g. a coarse
stage) that also get a reconstruction loss.

A critic builder returns a module whose ``forward(image, mask)`` gives one score per image (B,),
or one per patch (B, P); adversarial losses average over all scores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from raysearch.config import Config, build_section
from raysearch.registry import Registry

Builder = Callable[[Config], nn.Module]


@dataclass(frozen=True)
class NoParams:
    """A family with no knobs of its own."""


@dataclass(frozen=True)
class Family:
    """One generator family: what ``model.generator: NAME`` builds, and how it is checked."""

    name: str
    build: Callable[[Config, Any], nn.Module]
    params: type = NoParams
    check: Callable[[Config, Any], None] | None = None
    summary: str = ""  # the paper or idea, in a line (``raysearch families`` lists it)

    def parse(self, cfg: Config, where: str = "config") -> Any:
        """This family's parameters from ``model.<name>``, defaults filled in, types checked."""
        return build_section(self.params, cfg.model.families.get(self.name, {}),
                             f"model.{self.name}.", where)

    def validate(self, cfg: Config, where: str = "config") -> Any:
        params = self.parse(cfg, where)
        if self.check is not None:
            self.check(cfg, params)
        return params

    def __call__(self, cfg: Config) -> nn.Module:
        return self.build(cfg, self.validate(cfg))

    def defaults(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params())


GENERATORS: Registry[Family] = Registry("generator")
CRITICS: Registry[Builder] = Registry("critic")


def register_family(name: str, *, params: type = NoParams,
                    check: Callable[[Config, Any], None] | None = None, summary: str = ""
                    ) -> Callable[[Callable[[Config, Any], nn.Module]], Family]:
    """Decorate a family's builder ``build(cfg, params)``; the registry refuses a name twice."""
    def decorate(build: Callable[[Config, Any], nn.Module]) -> Family:
        family = Family(name, build, params, check, summary)
        GENERATORS.register(name)(family)
        return family

    return decorate
