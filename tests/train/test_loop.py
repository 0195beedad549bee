"""The training loop without Ray: `raysearch train` writes checkpoints, metrics and samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from raysearch.cli import main
from raysearch.config import Config
from raysearch.train import load_generator, train


def small_config(epochs: int = 2) -> Config:
    cfg = Config()
    cfg.data.num_images = 96
    cfg.data.num_val = 16
    cfg.model.depth = 3
    cfg.model.base_channels = 8
    cfg.model.critic_channels = 8
    cfg.train.epochs = epochs
    cfg.train.batch_size = 16
    return cfg


def test_train_command_writes_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_file = tmp_path / "c.yaml"
    from raysearch.config import save_config
    save_config(small_config(), cfg_file)
    main(["train", "--config", str(cfg_file), "--out", str(tmp_path / "run"),
          "--set", "train.epochs=2"])
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    assert all(10 < m["val_psnr"] < 60 and 0 < m["val_ssim"] <= 1 for m in lines)
    ckpt = run / "checkpoints" / "epoch_0002"
    grid = Image.open(ckpt / "sample.png")
    assert grid.size == (3 * 32, 8 * 32)  # masked | output | truth, 8 rows
    state = torch.load(ckpt / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2
    gen, cfg = load_generator(ckpt)
    assert cfg.model.depth == 3 and sum(p.numel() for p in gen.parameters()) > 0
    assert "done: val_psnr" in capsys.readouterr().out


def test_psnr_improves_with_training(tmp_path: Path) -> None:
    cfg = small_config(epochs=4)
    cfg.optim.lr_g = 1e-3
    seen: list[dict[str, float]] = []
    train(cfg, tmp_path, report=lambda m, _c: seen.append(m))
    assert seen[-1]["val_psnr"] > seen[0]["val_psnr"]


def test_resume_continues_from_checkpoint(tmp_path: Path) -> None:
    train(small_config(epochs=1), tmp_path / "a")
    seen: list[dict[str, float]] = []
    train(small_config(epochs=2), tmp_path / "b", resume_from=tmp_path / "a/checkpoints/epoch_0001",
          report=lambda m, _c: seen.append(m))
    assert [m["epoch"] for m in seen] == [2]
