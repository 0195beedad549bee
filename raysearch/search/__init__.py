"""The only layer that imports Ray: Tune + Optuna + ASHA over the training loop."""
