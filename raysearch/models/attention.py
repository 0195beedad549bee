"""Knowledge-consistent attention (Li et al. 2020, RFR-Net), on 1x1 patches.

Every position attends to the known positions by cosine similarity of features (softmax with
temperature ``scale``); the scores are blended with those of the previous recurrent pass by a
learned ratio, so that passes fill the hole consistently instead of each guessing afresh. The
attended features and the input are fused by a 1x1 convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_MASKED = -1e4  # added to scores of hole positions: softmax gives them ~0 without NaN when all are


class KnowledgeConsistentAttention(nn.Module):
    def __init__(self, channels: int, scale: float = 10.0) -> None:
        super().__init__()
        self.scale = scale
        self.ratio = nn.Parameter(torch.zeros(1))  # sigmoid(0) = half new, half previous scores
        self.combine = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor, known: torch.Tensor, previous: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, C, H, W), ``known`` (B, 1, H, W) -> output, scores (B, HW, HW)."""
        b, c, h, w = x.shape
        flat = x.flatten(2)  # (B, C, N)
        unit = F.normalize(flat, dim=1)
        logits = self.scale * unit.transpose(1, 2) @ unit  # (B, N query, N key)
        logits = logits + _MASKED * (1 - known.flatten(2))  # keys in the hole are not knowledge
        scores = logits.softmax(dim=-1)
        if previous is not None:
            ratio = torch.sigmoid(self.ratio)
            scores = ratio * scores + (1 - ratio) * previous
        attended = (flat @ scores.transpose(1, 2)).view(b, c, h, w)
        return self.combine(torch.cat([x, attended], dim=1)), scores
