"""Every family's shell: the hole is filled before the network sees it, and (``model.residual``)
the network learns a correction of that fill rather than the image.

``FilledGenerator(net, fill, residual)`` zeroes the hole (no caller can leak the truth), fills it
(``model.hole_fill``), hands the filled image and the mask to the family's network and returns its
output(s). With ``residual`` each output is ``fill + gate * net_output``; the per-channel gate
starts at zero (ReZero, Bachlechner et al. 2020), so an untrained model returns exactly the fill
and training starts from the classical method instead of from noise.
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.models.hole_fill import HoleFill

Output = torch.Tensor | tuple[torch.Tensor, ...]


class FilledGenerator(nn.Module):
    def __init__(self, net: nn.Module, fill: str, residual: bool) -> None:
        super().__init__()
        self.fill = HoleFill(fill)
        self.net = net
        self.residual = residual
        if hasattr(net, "residual"):
            # a family whose later stages read an earlier output (coarse_to_fine)
            setattr(net, "residual", residual)  # noqa: B010
        self.gate = nn.Parameter(torch.zeros(1, 3, 1, 1)) if residual else None

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> Output:
        filled = self.fill(image, mask)
        out = self.net(filled, mask)
        if self.gate is None:
            return out
        if isinstance(out, tuple):
            return tuple(filled + self.gate * o for o in out)
        return filled + self.gate * out
