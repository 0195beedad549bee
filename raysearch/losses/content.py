"""The generator's non-adversarial objective: every term weighted by a searchable ``loss.*`` key.

- L1 with separate hole and valid weights, on every output (a coarse stage's too);
- perceptual and style (VGG, see ``perceptual``) on the final output and its composite;
- total variation of the composite (gradients reach only the hole: the known pixels are pasted).
"""

from __future__ import annotations

import torch
from torch import nn

from raysearch.config import LossConfig
from raysearch.losses.perceptual import VGGFeatures, perceptual_and_style, uses_vgg
from raysearch.losses.reconstruction import total_variation, weighted_l1
from raysearch.metrics import composite


class ContentLoss(nn.Module):
    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vgg = VGGFeatures(cfg) if uses_vgg(cfg) else None

    def forward(self, outputs: tuple[torch.Tensor, ...], real: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss and its terms to log (l1 with its hole/valid weights, the others unweighted).

        ``outputs[-1]`` is the final output; earlier outputs get the L1 term only.
        """
        c = self.cfg
        l1 = sum((weighted_l1(o, real, mask, c.l1_hole, c.l1_valid) for o in outputs),
                 real.new_zeros(()))
        total, logs = l1, {"l1": float(l1.detach())}
        final = outputs[-1]
        comp = composite(final, real, mask)
        if self.vgg is not None:
            perceptual, style = perceptual_and_style(self.vgg, final, comp, real)
            total = total + c.perceptual_weight * perceptual + c.style_weight * style
            logs |= {"perceptual": float(perceptual.detach()), "style": float(style.detach())}
        if c.tv_weight > 0:
            tv = total_variation(comp)
            total = total + c.tv_weight * tv
            logs["tv"] = float(tv.detach())
        return total, logs
