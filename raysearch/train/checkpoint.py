"""Checkpoints as plain tensors (loadable with ``torch.load(weights_only=True)``) plus the config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from raysearch.config import Config, load_config, save_config
from raysearch.errors import UserError

WEIGHTS = "checkpoint.pt"
CONFIG = "config.yaml"
METRICS = "metrics.json"


def save_checkpoint(folder: Path, state: dict[str, Any], cfg: Config,
                    metrics: dict[str, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / WEIGHTS)
    save_config(cfg, folder / CONFIG)
    (folder / METRICS).write_text(json.dumps(metrics, indent=1))


def load_checkpoint(folder: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise UserError(f"{folder}: not a raysearch checkpoint (no {WEIGHTS})")
    return torch.load(path, map_location=device, weights_only=True)


def load_generator(folder: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Config]:
    """The generator of a checkpoint folder, built from its own config, in eval mode."""
    from raysearch.models import build_generator

    cfg = load_config(Path(folder) / CONFIG)
    gen = build_generator(cfg)
    gen.load_state_dict(load_checkpoint(folder, device)["generator"])
    return gen.to(device).eval(), cfg
