"""The GAN training loop: one plain function that knows nothing of Ray.

``train(cfg, run_dir, report=...)`` trains one configuration. Each step runs the critic phase, then
the generator phase (``phases.GanPhases``); after each epoch it validates on the fixed validation
pairs and calls ``report(metrics, checkpoint_dir)``: the launcher decides what a report means
(print it, hand it to Ray Tune, or to Ray Train). ``abort()`` is asked after every step, as
stylegan3's ``abort_fn`` is. When ``torch.distributed`` is initialised (Ray Train's TorchTrainer
does that), each rank trains on its shard of every batch and gradients are averaged across ranks
after each backward pass.
"""

from __future__ import annotations

import dataclasses
import json
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
from raysearch.errors import UserError
from raysearch.losses import require_vgg_weights
from raysearch.masks import build_mask_sampler, mask_bank
from raysearch.metrics import composite, evaluate_batch
from raysearch.models import build_critic, build_generator, count_parameters, resolved
from raysearch.preflight import NO_CUDA, check_device
from raysearch.train.checkpoint import load_checkpoint, save_checkpoint
from raysearch.train.phases import Dist, GanPhases, LossHook, broadcast_parameters, check_finite
from raysearch.train.samples import save_sample_grid

Reporter = Callable[[dict[str, float], "Path | None"], None]

VAL_MASK_SEED = 7919  # with data.seed: the fixed validation holes, the same for every trial


@dataclass(frozen=True)
class TrainHooks:
    """Seams for tests, passed in code, never set from a config file or the command line."""

    generator_loss: LossHook | None = None  # e.g. make the loss NaN at some step: a divergence


def pick_device(name: str) -> torch.device:
    check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(NO_CUDA)
    if name == "cuda" and dist.is_available() and dist.is_initialized():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    """``train.precision`` against the device it will run on: one line before anything starts."""
    if precision == "fp16" and device.type != "cuda":
        raise UserError(f"train.precision=fp16 needs a CUDA GPU (this run is on {device.type}); "
                        "use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("train.precision=bf16: this GPU has no bfloat16 support (it needs "
                        "Ampere or newer); use fp16 or fp32")


def in_format(cfg: Config, t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels_last when ``train.channels_last``; otherwise as it is (untouched: the
    images come permuted from NHWC, and re-laying them out would change fp32 rounding)."""
    return t.contiguous(memory_format=torch.channels_last) if cfg.train.channels_last else t


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


def epoch_batches(n: int, batch: int, seed: int, epoch: int, ddp: Dist) -> Iterator[np.ndarray]:
    """Shuffled global batches, each rank taking its own slice. The order is seeded without the
    rank, so every rank shuffles alike and their slices of a batch never overlap."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    for start in range(0, n - batch + 1, batch):
        yield order[start : start + batch][ddp.rank :: ddp.world]


class DeviceDraws:
    """``train.data_on_device``: an epoch's batch order and training holes drawn by torch
    generators on the device, so that a step's gathers need nothing from the host.

    The order is seeded without the rank (every rank slices the same global batches), the holes
    with it (each rank's own, as its mask bank is)."""

    def __init__(self, seed: int, epoch: int, rank: int, device: torch.device) -> None:
        self.device = device
        self.order = torch.Generator(device=device)
        self.order.manual_seed(int(np.random.default_rng([seed, epoch]).integers(2**62)))
        self.holes = torch.Generator(device=device)
        self.holes.manual_seed(int(np.random.default_rng([seed, epoch, rank]).integers(2**62)))

    def batches(self, n: int, batch: int, ddp: Dist) -> Iterator[torch.Tensor]:
        order = torch.randperm(n, generator=self.order, device=self.device)
        for start in range(0, n - batch + 1, batch):
            yield order[start : start + batch][ddp.rank :: ddp.world]

    def hole_indices(self, bank_size: int, count: int) -> torch.Tensor:
        return torch.randint(0, bank_size, (count,), generator=self.holes, device=self.device)


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
          report: Reporter | None = None, checkpoint_dir: Path | None = None,
          resume_from: Path | None = None, abort: Callable[[], bool] | None = None,
          log: Callable[[str], None] | None = None, hooks: TrainHooks | None = None
          ) -> dict[str, float]:
    """Train one configuration; returns the last finished epoch's metrics.

    Checkpoints (every ``train.checkpoint_every`` epochs and the last): into
    ``checkpoint_dir/epoch_NNNN``, kept, when ``checkpoint_dir`` is given; otherwise into a
    temporary folder that exists only while ``report`` runs (Tune and Train copy it), and not at
    all without ``report``. ``abort()`` returning True ends training after the current step,
    without validating or reporting the unfinished epoch.
    """
    ddp = Dist.current()
    device = pick_device(cfg.train.device)
    check_precision(cfg.train.precision, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = resolved(cfg)  # the family's knobs written out in full, beside the run and checkpoints
    if ddp.rank == 0:
        save_config(cfg, run_dir / "config.yaml")

    require_vgg_weights(cfg)  # before the data: a missing file should not cost a decode
    torch.manual_seed(cfg.train.seed)
    data = data if data is not None else load_faces(cfg.data)
    generator = build_generator(cfg).to(device)
    critic = build_critic(cfg).to(device)
    if cfg.train.channels_last:
        generator, critic = (m.to(memory_format=torch.channels_last) for m in (generator, critic))
    if ddp.world > 1:
        broadcast_parameters(generator)
        broadcast_parameters(critic)
    gan = GanPhases(cfg, generator, critic, device, ddp)
    start_epoch = 1 if resume_from is None else _restore(gan, resume_from, device) + 1

    train_images = in_format(cfg, to_tensor(data.train, device))
    val_images, val_masks = (in_format(cfg, t) for t in validation_pairs(cfg, data, device))
    sampler = build_mask_sampler(cfg.mask, cfg.data.image_size)
    bank = torch.from_numpy(
        mask_bank(sampler, cfg.mask.bank_size, seed=cfg.train.seed * 1009 + ddp.rank)
    ).to(device)
    bank = in_format(cfg, bank)
    batch = min(cfg.train.batch_size, len(train_images))
    params = count_parameters(generator)
    say = log if (log is not None and ddp.rank == 0) else (lambda _msg: None)
    say(f"{len(data.train)} training / {len(val_images)} validation faces at "
        f"{cfg.data.image_size}px; generator {params:,} parameters; device {device}")
    hook = hooks.generator_loss if hooks is not None else None
    stop = abort or (lambda: False)

    metrics: dict[str, float] = {}
    train_time = 0.0
    for epoch in range(start_epoch, cfg.train.epochs + 1):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.train.seed, epoch, ddp.rank])  # this rank's holes
        draws = DeviceDraws(cfg.train.seed, epoch, ddp.rank, device) \
            if cfg.train.data_on_device else None
        batches: Iterator[np.ndarray | torch.Tensor] = \
            draws.batches(len(train_images), batch, ddp) if draws is not None \
            else epoch_batches(len(train_images), batch, cfg.train.seed, epoch, ddp)
        # two-stage training: reconstruction alone first, then the critic and adversarial term
        # join (no critic at all when the adversarial weight is 0: it would change nothing)
        adversarial_on = epoch > cfg.loss.recon_only_epochs and cfg.loss.adv_weight > 0
        steps_per_epoch = max(len(train_images) // batch, 1)
        sums: dict[str, float] = {}
        steps = seen = 0
        for step, idx in enumerate(batches):
            if draws is not None:  # indices and gathers on the device: no host->device copy
                assert isinstance(idx, torch.Tensor)
                real, mask = train_images[idx], bank[draws.hole_indices(len(bank), len(idx))]
            else:
                real = train_images[torch.from_numpy(idx).to(device)]
                mask = bank[torch.from_numpy(rng.integers(0, len(bank), len(idx))).to(device)]
            outs, fake = gan.forward(real, mask)
            logs: dict[str, float] = {}
            for _ in range(cfg.optim.critic_steps if adversarial_on else 0):
                logs = gan.critic_step(real, fake, mask)  # the last critic step's terms are logged
                check_finite(logs["d_loss"], "critic loss", epoch, step)
            weight = adv_weight(cfg, epoch, step / steps_per_epoch) if adversarial_on else 0.0
            logs |= gan.generator_step(outs, fake, real, mask, weight, where=(epoch, step), hook=hook)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            steps += 1
            seen += len(idx)
            if stop():
                say(f"aborted in epoch {epoch} after {steps} steps")
                return metrics
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        fit_time = time.perf_counter() - t0

        val, comps = validate(gan.scored, val_images, val_masks, max(batch, 64)) if ddp.rank == 0 \
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
            **optim_in_effect(gan),
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
        temporary = checkpoint_dir is None
        ckpt: Path | None = None
        if save_now and ddp.rank == 0 and (report is not None or not temporary):
            ckpt = Path(tempfile.mkdtemp(prefix="raysearch-ckpt-")) if checkpoint_dir is None \
                else Path(checkpoint_dir) / f"epoch_{epoch:04d}"
            _save(gan, ckpt, cfg, metrics, epoch)
            if cfg.train.sample_grid and comps is not None:
                save_sample_grid(ckpt / "sample.png", val_images, val_masks, comps)
        if report is not None:
            try:
                report(metrics, ckpt)
            finally:
                if ckpt is not None and temporary:
                    shutil.rmtree(ckpt, ignore_errors=True)
    return metrics


def _save(gan: GanPhases, folder: Path, cfg: Config, metrics: dict[str, float], epoch: int) -> None:
    """What resume needs (both nets, both optimisers, the EMA) and what inference loads."""
    state = {"generator": gan.scored.state_dict(), "critic": gan.critic.state_dict(),
             "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict(), "epoch": epoch}
    if gan.ema is not None:
        state |= {"generator_live": gan.generator.state_dict(), "ema_updates": gan.ema.updates}
    if gan.scaler_g.is_enabled():  # fp16: resume continues from the scales reached
        state |= {"scaler_g": gan.scaler_g.state_dict(), "scaler_d": gan.scaler_d.state_dict()}
    save_checkpoint(folder, state, cfg, metrics)


def apply_optim_config(gan: GanPhases) -> None:
    """This run's learning rates and betas on the optimisers. ``load_state_dict`` brings back the
    saved ones with the moments; a run restored from another's checkpoint (PBT's exploit, Ray
    issue 29060) or resumed with other values must train with its own."""
    optim = gan.cfg.optim
    for opt, lr in ((gan.opt_g, optim.lr_g), (gan.opt_d, optim.lr_d)):
        for group in opt.param_groups:
            group["lr"], group["betas"] = lr, (optim.beta1, optim.beta2)


def optim_in_effect(gan: GanPhases) -> dict[str, float]:
    """The learning rates the optimisers step with (read from them, not from the config)."""
    return {"optim_lr_g": float(gan.opt_g.param_groups[0]["lr"]),
            "optim_lr_d": float(gan.opt_d.param_groups[0]["lr"])}


def _restore(gan: GanPhases, folder: Path, device: torch.device) -> int:
    """Load a checkpoint into the phases; returns the epoch it was saved after."""
    state = load_checkpoint(folder, device)
    # with an EMA, "generator" is the average (what inference loads), "generator_live" the
    # weights being trained
    gan.generator.load_state_dict(state.get("generator_live", state["generator"]))
    if gan.ema is not None:
        gan.ema.load_state_dict(state["generator"], int(state.get("ema_updates", 0)))
    gan.critic.load_state_dict(state["critic"])
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
    apply_optim_config(gan)
    if gan.scaler_g.is_enabled() and "scaler_g" in state:  # absent: saved in fp32/bf16
        gan.scaler_g.load_state_dict(state["scaler_g"])
        gan.scaler_d.load_state_dict(state["scaler_d"])
    return int(state["epoch"])
