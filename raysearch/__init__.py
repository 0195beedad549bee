"""raysearch: hyperparameter and architecture search for face-inpainting GANs on Ray."""

__version__ = "0.1.0"
