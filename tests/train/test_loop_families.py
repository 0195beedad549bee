"""The training loop with every family and the loss options the papers need."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from raysearch.config import Config, config_from_dict
from raysearch.data import load_faces
from raysearch.errors import UserError
from raysearch.models import GENERATORS, build_critic, build_generator
from raysearch.train import load_checkpoint, load_generator, train


def tiny_run(**sections: dict[str, Any]) -> Config:
    raw: dict[str, dict[str, Any]] = {
        "data": {"image_size": 32, "num_images": 24, "num_val": 4},
        "model": {"base_channels": 8, "critic_channels": 8, "critic_depth": 2,
                  "rfr_unet": {"iterations": 2}},
        "train": {"epochs": 1, "batch_size": 8, "sample_grid": False},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw)


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_one_epoch_per_family_reports_and_checkpoints(generator_name: str, tmp_path: Path) -> None:
    cfg = tiny_run(model={"generator": generator_name, "critic": "patch"},
                   loss={"adversarial": "hinge", "tv_weight": 0.1})
    metrics = train(cfg, tmp_path, checkpoint_dir=tmp_path / "checkpoints")
    for key in ("val_psnr", "val_ssim", "val_ms_ssim", "train_g_l1", "train_g_tv", "train_d_loss",
                "train_d_score_gap", "train_g_adv", "train_g_loss"):
        assert math.isfinite(metrics[key]), key
    gen, saved = load_generator(tmp_path / "checkpoints" / "epoch_0001")
    assert saved.model.generator == generator_name
    assert sum(p.numel() for p in gen.parameters()) == metrics["generator_params"]


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_reconstruction_only_epochs_leave_the_critic_alone(generator_name: str, tmp_path: Path
                                                           ) -> None:
    cfg = tiny_run(model={"generator": generator_name, "critic": "global+local"},
                   loss={"recon_only_epochs": 1}, train={"epochs": 2})
    critics: list[dict[str, torch.Tensor]] = []
    losses: list[float] = []

    def report(metrics: dict[str, float], ckpt: Path | None) -> None:
        assert ckpt is not None
        critics.append(load_checkpoint(ckpt)["critic"])
        losses.append(metrics.get("train_d_loss", 0.0))

    train(cfg, tmp_path, report=report)
    torch.manual_seed(cfg.train.seed)
    build_generator(cfg)  # the loop builds the generator first: same random stream
    fresh = build_critic(cfg).state_dict()
    assert all(torch.equal(fresh[k], critics[0][k]) for k in fresh)
    assert losses[0] == 0.0 and losses[1] != 0.0  # no critic term logged in epoch 1
    assert any(not torch.equal(critics[0][k], critics[1][k]) for k in fresh)


def test_wgan_clip_keeps_critic_weights_clipped(tmp_path: Path) -> None:
    cfg = tiny_run(model={"critic": "global", "critic_conditional": True},
                   loss={"adversarial": "wgan_clip", "clip_value": 0.01},
                   optim={"critic_steps": 2})
    train(cfg, tmp_path, checkpoint_dir=tmp_path / "checkpoints")
    state = load_checkpoint(tmp_path / "checkpoints" / "epoch_0001")["critic"]
    assert max(float(v.abs().max()) for v in state.values()) <= 0.01


def test_perceptual_and_style_train_with_explicit_random_weights(tmp_path: Path) -> None:
    cfg = tiny_run(model={"generator": "rfr_unet", "critic": "patch"},
                   loss={"perceptual_weight": 0.05, "style_weight": 120.0, "vgg_random": True,
                         "vgg": "vgg19"})
    metrics = train(cfg, tmp_path, checkpoint_dir=tmp_path / "checkpoints")
    assert metrics["train_g_perceptual"] > 0 and metrics["train_g_style"] > 0


def test_missing_vgg_weights_stop_the_run_before_the_data(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "no-hub"))
    cfg = tiny_run(data={"path": str(tmp_path / "no-such-folder")}, loss={"perceptual_weight": 1.0})
    with pytest.raises(UserError, match="need ImageNet VGG16 weights"):
        train(cfg, tmp_path / "run")


def test_no_critic_trains_when_the_adversarial_weight_is_zero(tmp_path: Path) -> None:
    cfg = tiny_run(loss={"adv_weight": 0.0}, train={"epochs": 1})
    metrics = train(cfg, tmp_path, checkpoint_dir=tmp_path / "checkpoints")
    torch.manual_seed(cfg.train.seed)
    build_generator(cfg)
    fresh = build_critic(cfg).state_dict()
    saved = load_checkpoint(tmp_path / "checkpoints" / "epoch_0001")["critic"]
    assert all(torch.equal(fresh[k], saved[k]) for k in fresh)
    assert not any(k.startswith("train_d_") for k in metrics) and "train_g_adv" not in metrics


def test_adversarial_weight_warms_up_after_the_reconstruction_epochs() -> None:
    from raysearch.train.loop import adv_weight

    cfg = tiny_run(loss={"adv_weight": 0.01, "recon_only_epochs": 1, "adv_warmup_epochs": 2.0},
                   train={"epochs": 4})
    assert adv_weight(cfg, 2, 0.0) == 0.0
    assert adv_weight(cfg, 2, 0.5) == pytest.approx(0.0025)
    assert adv_weight(cfg, 3, 0.5) == pytest.approx(0.0075)
    assert adv_weight(cfg, 4, 0.0) == pytest.approx(0.01)
    assert adv_weight(tiny_run(loss={"adv_weight": 0.01}), 1, 0.0) == 0.01


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_every_family_trains_on_a_biharmonic_residual_with_ema(generator_name: str,
                                                               tmp_path: Path) -> None:
    """``model.residual`` + ``train.ema``: validation scores the average, the checkpoint's
    ``generator`` is the average (what ``best`` and inference load) and resume restores both."""
    cfg = tiny_run(model={"generator": generator_name, "hole_fill": "biharmonic", "residual": True},
                   loss={"adv_weight": 0.0}, train={"epochs": 1, "ema": 0.9})
    metrics = train(cfg, tmp_path / "a", checkpoint_dir=tmp_path / "a" / "checkpoints")
    ckpt = tmp_path / "a" / "checkpoints" / "epoch_0001"
    state = load_checkpoint(ckpt)
    steps = len(load_faces(cfg.data).train) // 8
    assert state["ema_updates"] == steps  # one update per generator step
    assert any(not torch.equal(state["generator"][k], state["generator_live"][k])
               for k in state["generator"] if k.endswith("weight"))
    from raysearch.train.loop import validate, validation_pairs

    gen, _ = load_generator(ckpt)
    images, masks = validation_pairs(cfg, load_faces(cfg.data), torch.device("cpu"))
    assert validate(gen, images, masks, 64)[0]["val_psnr"] == pytest.approx(metrics["val_psnr"])
    resumed = cfg.with_overrides({"train.epochs": 2})
    train(resumed, tmp_path / "b", checkpoint_dir=tmp_path / "b" / "checkpoints", resume_from=ckpt)
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "epoch_0002")["ema_updates"] == 2 * steps


def test_validation_holes_do_not_depend_on_the_training_mix() -> None:
    """Two trials that train on other ``mask.ratio_weights`` are scored on the same holes."""
    from raysearch.train.loop import validation_pairs

    data = load_faces(tiny_run().data)
    a = validation_pairs(tiny_run(mask={"ratio_weights": [1, 0, 1]}), data, torch.device("cpu"))
    b = validation_pairs(tiny_run(mask={"ratio_weights": [5, 1, 0]}), data, torch.device("cpu"))
    assert torch.equal(a[1], b[1])
