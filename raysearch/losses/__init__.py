"""Losses: adversarial (registered by name) and reconstruction terms."""

from raysearch.losses.adversarial import ADVERSARIAL, AdversarialLoss, masked_gradient_penalty
from raysearch.losses.reconstruction import weighted_l1

__all__ = ["ADVERSARIAL", "AdversarialLoss", "masked_gradient_penalty", "weighted_l1"]
