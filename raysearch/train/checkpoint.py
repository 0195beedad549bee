"""Checkpoints as plain tensors (loadable with ``torch.load(weights_only=True)``) plus the config."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from raysearch.config import Config, load_config, save_config
from raysearch.errors import UserError
from raysearch.preflight import WEIGHTS, check_checkpoint_file

CONFIG = "config.yaml"
METRICS = "metrics.json"


def save_checkpoint(folder: Path, state: dict[str, Any], cfg: Config,
                    metrics: dict[str, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / WEIGHTS)
    save_config(cfg, folder / CONFIG)
    (folder / METRICS).write_text(json.dumps(metrics, indent=1))


def load_checkpoint(folder: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    path = check_checkpoint_file(folder)
    try:
        with warnings.catch_warnings():  # bytes that are no pickle make torch warn, then fail
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        # empty, truncated, random bytes (EOFError, UnpicklingError, IndexError...), or a pickle
        # of code that weights_only refuses
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a raysearch checkpoint (holds a {type(state).__name__})")
    return state


def load_generator(folder: Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Config]:
    """The generator of a checkpoint folder, built from its own config, in eval mode."""
    from raysearch.models import build_generator

    cfg = load_config(Path(folder) / CONFIG)
    gen = build_generator(cfg)
    state = load_checkpoint(folder, device)
    if "generator" not in state:
        raise UserError(f"{Path(folder) / WEIGHTS}: no 'generator' weights in it "
                        f"(keys: {', '.join(sorted(map(str, state))[:8])})")
    try:
        gen.load_state_dict(state["generator"])
    except (RuntimeError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0][:200]
        raise UserError(f"{folder}: the weights do not fit the network its {CONFIG} describes "
                        f"({first})") from None
    return gen.to(device).eval(), cfg
