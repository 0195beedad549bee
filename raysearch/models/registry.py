"""Generator and critic registries.

A generator builder takes the whole ``Config`` and returns an ``nn.Module`` whose
``forward(image, mask)`` gets the masked image in [-1, 1] (hole pixels zeroed) and the mask
(1 = hole), and returns the output image in [-1, 1], or a tuple whose last item is the output and
whose earlier items are intermediate outputs (e.g. a coarse stage) that also get a reconstruction
loss. A critic builder returns a module whose ``forward(image, mask)`` gives one score per image.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from raysearch.config import Config
from raysearch.registry import Registry

Builder = Callable[[Config], nn.Module]
GENERATORS: Registry[Builder] = Registry("generator")
CRITICS: Registry[Builder] = Registry("critic")
