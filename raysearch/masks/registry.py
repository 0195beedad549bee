"""The mask-kind registry (kept apart so that mask modules can register without import cycles)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from raysearch.config import MaskConfig
from raysearch.registry import Registry

MaskSampler = Callable[[np.random.Generator], np.ndarray]
MASKS: Registry[Callable[[MaskConfig, int], MaskSampler]] = Registry("mask kind")
