"""An exponential moving average of the generator's weights (``train.ema``).

Most GAN inpainting work validates and ships the averaged generator (StyleGAN's ``G_ema``): it is
smoother than the weights of any one step. The decay ramps up from about 0.1 in the first updates
(``(1 + n) / (10 + n)``, as timm's and TensorFlow's EMA do) so the average does not drag the random
initial weights through the short runs of a search. Buffers (batch-norm statistics) are copied.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class GeneratorEMA:
    def __init__(self, generator: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        self.updates += 1
        keep = self.current_decay()
        for avg, live in zip(self.model.parameters(), generator.parameters(), strict=True):
            avg.lerp_(live.detach(), 1.0 - keep)
        for kept, current in zip(self.model.buffers(), generator.buffers(), strict=True):
            kept.copy_(current)

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Any], updates: int) -> None:
        self.model.load_state_dict(state)
        self.updates = updates
