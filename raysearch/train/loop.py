"""The GAN training loop: one plain function that knows nothing of Ray.

``train(cfg, run_dir, report=...)`` trains one configuration. After each epoch it validates on the
fixed validation pairs and calls ``report(metrics, checkpoint_dir)``; the launcher decides what a
report means (print it, hand it to Ray Tune, or to Ray Train). When ``torch.distributed`` is
initialised (Ray Train's TorchTrainer does that), each rank trains on its shard of every batch and
gradients are averaged across ranks after each backward pass.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from raysearch.config import Config, save_config
from raysearch.data import FaceData, load_faces
from raysearch.errors import DivergedError
from raysearch.losses import ADVERSARIAL, ContentLoss, require_vgg_weights
from raysearch.masks import build_mask_sampler, mask_bank
from raysearch.metrics import composite, evaluate_batch
from raysearch.models import build_critic, build_generator, count_parameters
from raysearch.train.checkpoint import load_checkpoint, save_checkpoint
from raysearch.train.ema import GeneratorEMA
from raysearch.train.samples import save_sample_grid

Reporter = Callable[[dict[str, float], "Path | None"], None]

VAL_MASK_SEED = 7919  # with data.seed: the fixed validation holes, the same for every trial


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Dist:
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and dist.is_available() and dist.is_initialized():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


def validation_pairs(cfg: Config, data: FaceData, device: torch.device
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed validation images and holes: a function of the data and mask settings only.

    Training-only mask knobs (``mask.ratio_weights``) are left out, so that trials which train
    on different hole mixes are still scored on the same holes and can be compared.
    """
    n = min(cfg.data.num_val, len(data.val))
    sampler = build_mask_sampler(dataclasses.replace(cfg.mask, ratio_weights=()),
                                 cfg.data.image_size)
    masks = mask_bank(sampler, n, seed=cfg.data.seed * 100003 + VAL_MASK_SEED)
    return to_tensor(data.val[:n], device), torch.from_numpy(masks).to(device)


def _average_gradients(module: nn.Module, world: int) -> None:
    """Data-parallel step: one all-reduce of the flattened gradients, divided by the world size."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if world == 1 or not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def _broadcast_parameters(module: nn.Module) -> None:
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def _batches(n: int, batch: int, rng: np.random.Generator, ddp: Dist) -> Iterator[np.ndarray]:
    """Shuffled global batches (same order on every rank), each rank taking its own slice."""
    order = rng.permutation(n)
    for start in range(0, n - batch + 1, batch):
        yield order[start : start + batch][ddp.rank :: ddp.world]


def _check_finite(value: float, what: str, epoch: int, step: int) -> None:
    if not math.isfinite(value):
        raise DivergedError(f"{what} became {value} at epoch {epoch}, step {step}")


def adv_weight(cfg: Config, epoch: int, progress: float) -> float:
    """``loss.adv_weight`` ramped linearly over ``loss.adv_warmup_epochs`` after the
    reconstruction-only epochs; ``progress`` is the share of the current epoch done."""
    warmup = cfg.loss.adv_warmup_epochs
    if warmup <= 0:
        return cfg.loss.adv_weight
    done = epoch - 1 - cfg.loss.recon_only_epochs + progress
    return cfg.loss.adv_weight * min(max(done / warmup, 0.0), 1.0)


@torch.no_grad()
def validate(generator: nn.Module, images: torch.Tensor, masks: torch.Tensor, batch: int
             ) -> tuple[dict[str, float], torch.Tensor]:
    """Mean metrics over the validation pairs (composite, [0, 1]) and the composites themselves."""
    generator.eval()
    sums: dict[str, float] = {}
    outs = []
    for start in range(0, len(images), batch):
        img, m = images[start : start + batch], masks[start : start + batch]
        out = generator(img * (1 - m), m)
        out = out[-1] if isinstance(out, tuple) else out
        comp = composite(out.clamp(-1, 1), img, m)
        outs.append(comp)
        for k, v in evaluate_batch((comp + 1) / 2, (img + 1) / 2, m).items():
            sums[k] = sums.get(k, 0.0) + float(v.sum())
    generator.train()
    return {f"val_{k}": v / len(images) for k, v in sums.items()}, torch.cat(outs)


def train(cfg: Config, run_dir: Path, *, data: FaceData | None = None,
          report: Reporter | None = None, resume_from: Path | None = None,
          log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Train one configuration; returns the last epoch's metrics.

    Without ``report``, checkpoints are kept under ``run_dir/checkpoints``; with it, each is
    written to a temporary folder that exists only while ``report`` runs.
    """
    ddp = Dist.current()
    device = pick_device(cfg.train.device)
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if ddp.rank == 0:
        save_config(cfg, run_dir / "config.yaml")

    require_vgg_weights(cfg)  # before the data: a missing file should not cost a decode
    torch.manual_seed(cfg.train.seed)
    data = data if data is not None else load_faces(cfg.data)
    generator = build_generator(cfg).to(device)
    critic = build_critic(cfg).to(device)
    adversarial = ADVERSARIAL.get(cfg.loss.adversarial)(cfg.loss)
    content = ContentLoss(cfg.loss).to(device)
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam(generator.parameters(), cfg.optim.lr_g, betas)
    opt_d = torch.optim.Adam(critic.parameters(), cfg.optim.lr_d, betas)

    start_epoch = 1
    if ddp.world > 1:
        _broadcast_parameters(generator)
        _broadcast_parameters(critic)
    ema = GeneratorEMA(generator, cfg.train.ema) if cfg.train.ema > 0 else None
    if resume_from is not None:
        state = load_checkpoint(resume_from, device)
        # with an EMA, "generator" is the average (what inference loads), "generator_live" the
        # weights being trained
        generator.load_state_dict(state.get("generator_live", state["generator"]))
        if ema is not None:
            ema.load_state_dict(state["generator"], int(state.get("ema_updates", 0)))
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        start_epoch = int(state["epoch"]) + 1
    scored = ema.model if ema is not None else generator  # what validation and checkpoints use

    train_images = to_tensor(data.train, device)
    val_images, val_masks = validation_pairs(cfg, data, device)
    sampler = build_mask_sampler(cfg.mask, cfg.data.image_size)
    bank = torch.from_numpy(
        mask_bank(sampler, cfg.mask.bank_size, seed=cfg.train.seed * 1009 + ddp.rank)
    ).to(device)
    batch = min(cfg.train.batch_size, len(train_images))
    params = count_parameters(generator)
    say = log if (log is not None and ddp.rank == 0) else (lambda _msg: None)
    say(f"{len(data.train)} training / {len(val_images)} validation faces at "
        f"{cfg.data.image_size}px; generator {params:,} parameters; device {device}")

    metrics: dict[str, float] = {}
    train_time = 0.0
    for epoch in range(start_epoch, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.train.seed, epoch, ddp.rank])
        sums = {"loss_g": 0.0, "loss_d": 0.0, "l1": 0.0, "wdist": 0.0}
        # two-stage training: reconstruction alone first, then the critic and adversarial term
        # join (no critic at all when the adversarial weight is 0: it would change nothing)
        adversarial_on = epoch > cfg.loss.recon_only_epochs and cfg.loss.adv_weight > 0
        steps_per_epoch = max(len(train_images) // batch, 1)
        loss_d = torch.zeros(())
        logs: dict[str, float] = {}
        steps = seen = 0
        for step, idx in enumerate(_batches(len(train_images), batch, rng, ddp)):
            real = train_images[torch.from_numpy(idx).to(device)]
            mask = bank[torch.from_numpy(rng.integers(0, len(bank), len(idx))).to(device)]
            out = generator(real * (1 - mask), mask)
            outs = out if isinstance(out, tuple) else (out,)
            fake = composite(outs[-1], real, mask)

            for _ in range(cfg.optim.critic_steps if adversarial_on else 0):
                loss_d, logs = adversarial.critic_loss(critic, real, fake.detach(), mask)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                _average_gradients(critic, ddp.world)
                opt_d.step()
                adversarial.after_critic_step(critic)
            _check_finite(loss_d.item(), "critic loss", epoch, step)

            loss_g, terms = content(outs, real, mask)
            if adversarial_on:
                for p in critic.parameters():
                    p.requires_grad_(False)
                adv = adversarial.generator_loss(critic, fake, mask)
                for p in critic.parameters():
                    p.requires_grad_(True)
                loss_g = loss_g + adv_weight(cfg, epoch, step / steps_per_epoch) * adv
            if epoch == cfg.train.inject_nan_at_epoch:  # testing aid: a real divergence path
                loss_g = loss_g * float("nan")
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            _average_gradients(generator, ddp.world)
            opt_g.step()
            _check_finite(loss_g.item(), "generator loss", epoch, step)
            if ema is not None:
                ema.update(generator)

            sums["loss_g"] += loss_g.item()
            sums["loss_d"] += loss_d.item()
            sums["wdist"] += logs.get("wdist", 0.0)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            steps += 1
            seen += len(idx)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        fit_time = time.perf_counter() - t0

        val, comps = validate(scored, val_images, val_masks, max(batch, 64)) if ddp.rank == 0 \
            else ({}, None)
        epoch_time = time.perf_counter() - t0
        train_time += epoch_time
        metrics = {
            "epoch": epoch,
            **{f"train_{k}": v / max(steps, 1) for k, v in sums.items()},
            **val,
            "images_per_s": seen * ddp.world / max(fit_time, 1e-9),
            "epoch_time_s": epoch_time,
            "train_time_s": train_time,
            "generator_params": params,
        }
        if ddp.world > 1:
            shared = [metrics]
            dist.broadcast_object_list(shared, src=0)
            metrics = shared[0]
            metrics["images_per_s"] = seen * ddp.world / max(fit_time, 1e-9)
        say(f"epoch {epoch}/{cfg.train.epochs}  psnr {metrics.get('val_psnr', float('nan')):.2f}  "
            f"ssim {metrics.get('val_ssim', float('nan')):.4f}  {metrics['images_per_s']:.0f} img/s")
        if ddp.rank == 0:
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(metrics) + "\n")

        save_now = epoch % cfg.train.checkpoint_every == 0 or epoch == cfg.train.epochs
        ckpt_dir: Path | None = None
        if save_now and ddp.rank == 0:
            if report is None:
                ckpt_dir = run_dir / "checkpoints" / f"epoch_{epoch:04d}"
            else:
                ckpt_dir = Path(tempfile.mkdtemp(prefix="raysearch-ckpt-"))
            state = {"generator": scored.state_dict(), "critic": critic.state_dict(),
                     "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "epoch": epoch}
            if ema is not None:
                state |= {"generator_live": generator.state_dict(), "ema_updates": ema.updates}
            save_checkpoint(ckpt_dir, state, cfg, metrics)
            if cfg.train.sample_grid and comps is not None:
                save_sample_grid(ckpt_dir / "sample.png", val_images, val_masks, comps)
        if report is not None:
            try:
                report(metrics, ckpt_dir)
            finally:
                if ckpt_dir is not None:
                    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return metrics
