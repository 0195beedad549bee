"""Generator and critic registries.

A generator builder takes the whole ``Config`` and returns an ``nn.Module`` whose
``forward(image, mask)`` gets the masked image in [-1, 1] (hole pixels zeroed) and the mask
(1 = hole), and returns the output image in [-1, 1], or a tuple whose last item is the output and
whose earlier items are intermediate outputs (e.g. a coarse stage) that also get a reconstruction
loss. A critic builder returns a module whose ``forward(image, mask)`` gives one score per image
(B,), or one per patch (B, P); adversarial losses average over all scores.

``GENERATOR_CHECKS`` holds, for the generators that need one, a check of the config beyond plain
ranges (sizes the architecture cannot take): ``check(cfg)`` raises a UserError naming the key.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from raysearch.config import Config
from raysearch.registry import Registry

Builder = Callable[[Config], nn.Module]
GENERATORS: Registry[Builder] = Registry("generator")
CRITICS: Registry[Builder] = Registry("critic")
GENERATOR_CHECKS: Registry[Callable[[Config], None]] = Registry("generator check")
