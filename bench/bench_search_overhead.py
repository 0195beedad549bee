"""Issue 2 benchmark: per-trial overhead, in-trial vs bare training throughput, data loading rate.

Run: .venv/bin/python bench/bench_search_overhead.py [--celeba ../shared/data/celeba]
Prints a Markdown section for BENCHMARKS.md. Numbers are from this machine; rerun on yours.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from raysearch.config import Config, DataConfig
from raysearch.data import load_faces, pack_folder
from raysearch.search.experiment import open_experiment
from raysearch.search.records import TrialRecord
from raysearch.search.runner import SearchSpec, prepare_search, run_search, start_ray
from raysearch.train import train


def space_yaml(num_images: int = 640) -> str:
    """The benchmark searches' space: one searched learning rate, the model fixed."""
    return f"""
fixed:
  data.num_images: {num_images}
  model.depth: 3
  model.base_channels: 16
  model.critic_channels: 16
parameters:
  optim.lr_g: {{type: float, low: 1.0e-4, high: 1.0e-3, log: true}}
"""


def bench_config(threads: int) -> Config:
    cfg = Config()
    cfg.data.num_images = 640
    cfg.model.depth, cfg.model.base_channels, cfg.model.critic_channels = 3, 16, 16
    cfg.train.epochs = 4
    cfg.train.num_threads = threads
    return cfg


def search(tmp: Path, name: str, trials: int, epochs: int, cpus: float,
           space: str | None = None) -> tuple[float, list[TrialRecord]]:
    tmp.mkdir(parents=True, exist_ok=True)
    space_file = tmp / "space.yaml"
    space_file.write_text(space or space_yaml())
    spec = SearchSpec(name=name, space_path=str(space_file), results=str(tmp), num_samples=trials,
                      max_epochs=epochs, max_concurrent=1, cpus_per_worker=cpus,
                      grace_period=epochs)  # grace = max_t: ASHA stops nothing, every trial runs fully
    prepared = prepare_search(spec, say=lambda _m: None)
    t0 = time.perf_counter()
    run_search(prepared, say=lambda _m: None)
    wall = time.perf_counter() - t0
    return wall, open_experiment(name, tmp).trials


def overhead(tmp: Path, trials: int = 6, epochs: int = 3) -> str:
    wall, recs = search(tmp, "overhead", trials, epochs, cpus=2)
    train_s = [r.last["train_time_s"] for r in recs]
    per_trial = wall / trials
    over = per_trial - float(np.mean(train_s))
    return (f"- (a) {trials} single-worker trials x {epochs} epochs, one at a time: search wall "
            f"{wall:.1f} s (Tuner.fit, Ray already up), {per_trial:.2f} s per trial, of which "
            f"training+validation {np.mean(train_s):.2f} s (mean). **Overhead per trial "
            f"{over:.2f} s** (target <= 3 s): actor start (reused after the first), checkpoint "
            f"save + persist each epoch, Tune bookkeeping.")


THROUGHPUT_IMAGES, THROUGHPUT_EPOCHS = 1280, 5


def bare_run(out: Path) -> list[float]:
    """The training loop alone, no Ray in this process: images/s of every epoch."""
    torch.set_num_threads(2)
    seen: list[dict] = []
    cfg = bench_config(threads=2)
    cfg.data.num_images, cfg.train.epochs = THROUGHPUT_IMAGES, THROUGHPUT_EPOCHS
    train(cfg, out, report=lambda m, _c: seen.append(m))
    return [m["images_per_s"] for m in seen]


def throughput(tmp: Path, reps: int = 3) -> str:
    """Bare loop and the same loop inside a Tune trial, interleaved `reps` times.

    The bare loop runs in a fresh Python process (Ray not initialised there, its daemons idle in the
    background), the trial through Tuner.fit. Epoch 1 of each run warms up and is left out.
    One short run of each is at the mercy of whatever else the machine does, so the ratio is
    taken between the medians of all measured epochs of the interleaved runs."""
    bare: list[float] = []
    trial: list[float] = []
    per_rep = []
    for rep in range(reps):
        out = tmp / f"bare{rep}"
        proc = subprocess.run([sys.executable, __file__, "--bare-run", str(out)], check=True,
                              capture_output=True, text=True)
        b = json.loads(proc.stdout.strip().splitlines()[-1])[1:]
        _, recs = search(tmp / f"trial{rep}", "throughput", trials=1, epochs=THROUGHPUT_EPOCHS,
                         cpus=2, space=space_yaml(THROUGHPUT_IMAGES))
        t = [h["images_per_s"] for h in recs[0].history][1:]
        bare += b
        trial += t
        per_rep.append(float(np.median(t) / np.median(b)))
    ratio = float(np.median(trial) / np.median(bare))
    spread = ", ".join(f"{r:.2f}" for r in per_rep)
    return (f"- (b) training images/s, same model (depth 3, 16 channels, global+local WGAN-GP "
            f"critic), 32 px, {THROUGHPUT_IMAGES - THROUGHPUT_IMAGES // 10} training images, 2 "
            f"threads, epochs 2-{THROUGHPUT_EPOCHS}, bare and in-trial runs interleaved {reps} "
            f"times: bare loop (own process) median {np.median(bare):.0f}, inside a Tune trial "
            f"median {np.median(trial):.0f}. **Ratio {ratio:.2f}** (target >= 0.9); per "
            f"repetition {spread}.")


def loading(tmp: Path, celeba: Path | None) -> str:
    lines = []
    t0 = time.perf_counter()
    load_faces(DataConfig(num_images=640, image_size=32))
    emb = 640 / (time.perf_counter() - t0)
    lines.append(f"embedded faces drawn at {emb:.0f} images/s")
    if celeba is not None and celeba.is_dir():
        n = 2000
        sub = tmp / "celeba"
        sub.mkdir(parents=True)
        for i in range(1, n + 1):
            (sub / f"{i:06d}.jpg").symlink_to((celeba / f"{i:06d}.jpg").resolve())
        for size in (64, 128):
            t0 = time.perf_counter()
            load_faces(DataConfig(path=str(sub), image_size=size))
            lines.append(f"CelebA folder -> {size} px: {n / (time.perf_counter() - t0):.0f} images/s")
        pack_folder(sub, tmp / "shards", shard_size=1000)
        t0 = time.perf_counter()
        load_faces(DataConfig(path=str(tmp / "shards"), image_size=64))
        lines.append(f"Parquet shards -> 64 px: {n / (time.perf_counter() - t0):.0f} images/s")
    cfg = bench_config(threads=2)
    cfg.data.image_size = 64
    cfg.model.depth = 4
    cfg.train.epochs = 2
    seen: list[dict] = []
    train(cfg, tmp / "train64", report=lambda m, _c: seen.append(m))
    lines.append(f"training at 64 px (depth 4): {seen[-1]['images_per_s']:.0f} images/s")
    return ("- (c) data loading (decoded once per trial, then held in memory; every epoch reads "
            "memory): " + "; ".join(lines) + ".")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeba", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
                    / "data" / "celeba")
    ap.add_argument("--bare-run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_run is not None:
        print(json.dumps(bare_run(args.bare_run)))
        return
    start_ray(num_cpus=2)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = [overhead(tmp / "a"), throughput(tmp / "b"), loading(tmp / "c", args.celeba)]
    print(f"## Search overhead and throughput (bench/bench_search_overhead.py, "
          f"{time.strftime('%Y-%m-%d')}, 2-core CPU)\n")
    print("\n".join(rows))
    print("\n" + json.dumps({"torch": torch.__version__}))


if __name__ == "__main__":
    main()
