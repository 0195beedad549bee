"""Data-parallel training with the loop's own all-reduce: two gloo ranks on CPU, no Ray."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import raysearch.train.loop as loop
from raysearch.config import Config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg() -> Config:
    return Config().with_overrides({
        "data.num_images": 80, "data.num_val": 8, "model.base_channels": 8, "model.depth": 2,
        "model.critic_channels": 8, "train.epochs": 2, "train.batch_size": 16,
        "train.num_threads": 1, "train.device": "cpu", "train.sample_grid": False,
    })


def _flat(modules: list[torch.nn.Module]) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])


def _rank(rank: int, world: int, port: int, out: str) -> None:
    """Train on one rank, keeping a handle on the real models to compare the ranks' weights."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    built: dict[str, torch.nn.Module] = {}
    build_g, build_d = loop.build_generator, loop.build_critic
    loop.build_generator = lambda cfg: built.setdefault("g", build_g(cfg))
    loop.build_critic = lambda cfg: built.setdefault("d", build_d(cfg))
    reports: list[dict[str, Any]] = []
    saved: list[bool] = []

    def report(metrics: dict[str, float], ckpt: Path | None) -> None:
        reports.append(dict(metrics))
        saved.append(ckpt is not None)

    try:
        loop.train(_cfg(), Path(out) / f"rank{rank}", report=report)
        mine = _flat([built["g"], built["d"]])
        every = [torch.empty_like(mine) for _ in range(world)]
        dist.all_gather(every, mine)
        torch.manual_seed(_cfg().train.seed)  # as the loop does: the weights training began from
        init = _flat([build_g(_cfg()), build_d(_cfg())])
        torch.save({"reports": reports, "saved": saved,
                    "max_rank_diff": max(float((w - mine).abs().max()) for w in every),
                    "moved": float((mine - init).abs().max())}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_train_in_step(tmp_path: Path) -> None:
    """Averaged gradients (the gradient penalty's double backward included) keep both ranks'
    weights identical while they move; rank 0 alone checkpoints; both report its metrics."""
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["max_rank_diff"] == 0.0 and r1["max_rank_diff"] == 0.0
    assert r0["moved"] > 1e-4  # training changed the weights: the equality is not trivial
    assert [m["epoch"] for m in r0["reports"]] == [1, 2]
    assert r0["saved"] == [True, True] and r1["saved"] == [False, False]
    for a, b in zip(r0["reports"], r1["reports"], strict=True):
        assert a["val_psnr"] == b["val_psnr"] and a["val_ssim"] == b["val_ssim"]
