"""Training one configuration, without Ray."""

from raysearch.train.checkpoint import load_checkpoint, load_generator
from raysearch.train.loop import train

__all__ = ["load_checkpoint", "load_generator", "train"]
