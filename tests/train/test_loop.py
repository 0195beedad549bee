"""The training loop without Ray: `raysearch train` writes checkpoints, metrics and samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from raysearch.cli import main
from raysearch.config import Config
from raysearch.errors import DivergedError
from raysearch.train import load_generator, train
from raysearch.train.loop import TrainHooks


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
    train(small_config(epochs=1), tmp_path / "a", checkpoint_dir=tmp_path / "a" / "checkpoints")
    seen: list[dict[str, float]] = []
    train(small_config(epochs=2), tmp_path / "b", resume_from=tmp_path / "a/checkpoints/epoch_0001",
          report=lambda m, _c: seen.append(m))
    assert [m["epoch"] for m in seen] == [2]


def test_a_nan_loss_raises_diverged_with_where_it_happened(tmp_path: Path) -> None:
    def nan_in_epoch_2(epoch: int, step: int, loss: torch.Tensor) -> torch.Tensor:
        return loss * float("nan") if (epoch, step) == (2, 1) else loss

    seen: list[dict[str, float]] = []
    with pytest.raises(DivergedError, match="generator loss became nan at epoch 2, step 1"):
        train(small_config(epochs=3), tmp_path, report=lambda m, _c: seen.append(m),
              hooks=TrainHooks(generator_loss=nan_in_epoch_2))
    assert [m["epoch"] for m in seen] == [1]  # the healthy epoch was reported, nothing after


def test_abort_stops_after_the_current_step_without_reporting(tmp_path: Path) -> None:
    steps: list[int] = []

    def abort() -> bool:
        steps.append(1)
        return len(steps) == 8  # mid-way through epoch 2 (5 steps an epoch: 80 faces, batch 16)

    seen: list[dict[str, float]] = []
    last = train(small_config(epochs=3), tmp_path, report=lambda m, _c: seen.append(m), abort=abort)
    assert len(steps) == 8 and [m["epoch"] for m in seen] == [1] and last["epoch"] == 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


def test_checkpoints_go_where_the_caller_says(tmp_path: Path) -> None:
    given: list[Path | None] = []

    def report(_m: dict[str, float], ckpt: Path | None) -> None:
        assert ckpt is not None and (ckpt / "checkpoint.pt").is_file()
        given.append(ckpt)

    train(small_config(epochs=1), tmp_path / "tmp", report=report)  # a temporary folder
    assert given[0] is not None and not given[0].exists()  # removed once report returned
    train(small_config(epochs=1), tmp_path / "kept", report=report,
          checkpoint_dir=tmp_path / "kept" / "ckpts")
    assert given[1] == tmp_path / "kept" / "ckpts" / "epoch_0001" and given[1].exists()
    train(small_config(epochs=1), tmp_path / "none")  # neither: no checkpoint is written
    assert not list((tmp_path / "none").rglob("checkpoint.pt"))


def test_every_adversarial_term_is_logged_with_its_phase(tmp_path: Path) -> None:
    cfg = small_config(epochs=1)
    cfg.loss.adversarial = "wgan_gp"
    metrics = train(cfg, tmp_path)
    for key in ("train_d_loss", "train_d_wdist", "train_d_gp", "train_g_loss", "train_g_l1",
                "train_g_adv", "train_g_adv_weight"):
        assert key in metrics, sorted(metrics)
    assert metrics["train_g_adv_weight"] == cfg.loss.adv_weight


def test_ranks_split_every_global_batch_without_overlap() -> None:
    """Data-parallel: each rank takes its own slice of the same shuffled batch (the order was
    once seeded with the rank, so the ranks' slices could overlap)."""
    from raysearch.train.loop import epoch_batches
    from raysearch.train.phases import Dist

    for epoch in (1, 2):
        ranks = [list(epoch_batches(40, 8, seed=3, epoch=epoch, ddp=Dist(r, 2))) for r in (0, 1)]
        single = list(epoch_batches(40, 8, seed=3, epoch=epoch, ddp=Dist(0, 1)))
        for a, b, whole in zip(*ranks, single, strict=True):
            assert not set(a) & set(b) and sorted([*a, *b]) == sorted(whole)
