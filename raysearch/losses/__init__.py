"""Losses: adversarial (registered by name), reconstruction, perceptual and style terms."""

from raysearch.losses.adversarial import ADVERSARIAL, AdversarialLoss, masked_gradient_penalty
from raysearch.losses.content import ContentLoss
from raysearch.losses.perceptual import VGG_LAYER_SETS, require_vgg_weights
from raysearch.losses.reconstruction import total_variation, weighted_l1

__all__ = ["ADVERSARIAL", "VGG_LAYER_SETS", "AdversarialLoss", "ContentLoss",
           "masked_gradient_penalty", "require_vgg_weights", "total_variation", "weighted_l1"]
