"""The GPU check (issue 18): the Ray-free training path's throughput, memory and bf16 quality.

Runs on a machine with PyTorch and no Ray or Optuna (it imports only raysearch's config, data,
models and train loop, and says so at the end). Writes ``gpu_check.json`` and ``gpu_check.txt``
under ``--out``. ``--device cpu --tiny`` is a dry run of every section at 32 px, in minutes, to
prove the script before a GPU is lent; its numbers are no GPU measurement.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from raysearch.config import Config, config_from_dict
from raysearch.models import GENERATORS, build_generator
from raysearch.train.loop import to_tensor, train

BUDGET_S = 420.0  # the script's own deadline, inside the 8 minutes it is allowed


def base(size: int, family: str, precision: str, device: str, tiny: bool,
         images: int, epochs: int, **train_keys: Any) -> Config:
    return config_from_dict({
        "data": {"path": "embedded", "image_size": size, "num_images": images, "num_val": 16},
        "model": {"generator": family, **({"base_channels": 8, "critic_channels": 8} if tiny else {})},
        "train": {"epochs": epochs, "batch_size": 16 if tiny else 32, "sample_grid": False,
                  "precision": precision, "device": device,
                  # one thread on a CPU dry run: spinning OpenMP siblings on a shared CPU cost 10x
                  "num_threads": 1 if device == "cpu" else 0, **train_keys},
    }, where="gpu_check")


def run(cfg: Config) -> tuple[list[dict[str, float]], float | None]:
    """Train, returning every epoch's metrics and the peak GPU memory in MiB (None on CPU)."""
    cuda = cfg.train.device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as d:
        train(cfg, Path(d))
        lines = [json.loads(x) for x in (Path(d) / "metrics.jsonl").read_text().splitlines()]
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return lines, peak


def bare_loop(cfg: Config, steps: int) -> float:
    """Images/s of a plain forward / L1 backward / Adam step of the same generator and batch."""
    device = torch.device(cfg.train.device)
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    torch.manual_seed(0)
    gen = build_generator(cfg).to(device)
    opt = torch.optim.Adam(gen.parameters(), cfg.optim.lr_g, (cfg.optim.beta1, cfg.optim.beta2))
    from raysearch.data import load_faces

    images = to_tensor(load_faces(cfg.data).train, device)
    b, size = cfg.train.batch_size, cfg.data.image_size
    mask = torch.zeros(b, 1, size, size, device=device)
    mask[:, :, size // 4 : size * 3 // 4, size // 4 : size * 3 // 4] = 1
    seen, t0 = 0, 0.0
    for step in range(steps + 3):  # three warm-up steps
        if step == 3:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, seen = time.perf_counter(), 0
        real = images[(step * b) % (len(images) - b) :][:b]
        out = gen(real * (1 - mask), mask)
        out = out[-1] if isinstance(out, tuple) else out
        loss = (out - real).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--tiny", action="store_true", help="32 px, narrow nets: a dry run")
    ap.add_argument("--out", type=Path, default=Path("gpu_check_out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    lines: list[str] = []

    def say(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    report: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                              "device": args.device, "tiny": args.tiny, "throughput": [],
                              "skipped": []}
    if args.device == "cuda":
        report["gpu"] = torch.cuda.get_device_name(0)
    say(f"gpu_check: python {report['python']}, torch {report['torch']}, device {args.device}"
        f"{' (' + report['gpu'] + ')' if 'gpu' in report else ''}{', tiny dry run' if args.tiny else ''}")
    sizes = (32,) if args.tiny else (64, 128, 256)
    images, epochs = (48, 2) if args.tiny else (320, 2)

    say("\n1. training images/s (the loop's last epoch; critic + generator steps) and peak memory")
    say(f"{'family':22s} {'px':>4s} {'prec':>5s} {'img/s':>9s} {'peak MiB':>9s}")
    for family in GENERATORS.names():
        for size in sizes:
            for precision in ("fp32", "bf16"):
                if time.perf_counter() - start > BUDGET_S * 0.6:
                    report["skipped"].append(f"{family} {size}px {precision}")
                    continue
                epochs_run, peak = run(base(size, family, precision, args.device, args.tiny,
                                            images, epochs))
                ips = epochs_run[-1]["images_per_s"]
                report["throughput"].append({"family": family, "size": size,
                                             "precision": precision, "images_per_s": ips,
                                             "peak_mib": peak})
                say(f"{family:22s} {size:4d} {precision:>5s} {ips:9.1f} "
                    f"{'n/a' if peak is None else f'{peak:9.0f}':>9s}")
    if report["skipped"]:
        say(f"skipped for time: {', '.join(report['skipped'])}")

    size = 32 if args.tiny else 128
    say(f"\n2. the loop against a bare PyTorch loop (skip_encoder_decoder, {size}px, fp32, "
        "reconstruction only: no critic in either)")
    cfg = base(size, "skip_encoder_decoder", "fp32", args.device, args.tiny, images, epochs,
               data_on_device=True)
    cfg.loss.adv_weight = 0.0
    loop_ips = run(cfg)[0][-1]["images_per_s"]
    bare_ips = bare_loop(cfg, steps=10 if args.tiny else 40)
    report["loop_vs_bare"] = {"size": size, "loop_images_per_s": loop_ips,
                              "bare_images_per_s": bare_ips, "loop_over_bare": loop_ips / bare_ips}
    say(f"loop {loop_ips:.1f} img/s, bare {bare_ips:.1f} img/s: the loop runs at "
        f"{100 * loop_ips / bare_ips:.0f}% of the bare loop (its epoch also draws holes, logs terms)")

    psnr_epochs = 1 if args.tiny else 6
    size = 32 if args.tiny else 64
    say(f"\n3. bf16 against fp32: validation PSNR after {psnr_epochs} epoch(s) on the embedded "
        f"faces at {size}px, same seed and steps")
    psnr: dict[str, float] = {}
    for precision in ("fp32", "bf16"):
        cfg = base(size, "skip_encoder_decoder", precision, args.device, args.tiny,
                   96 if args.tiny else 640, psnr_epochs)
        psnr[precision] = run(cfg)[0][-1]["val_psnr"]
    report["psnr"] = psnr | {"bf16_minus_fp32_db": psnr["bf16"] - psnr["fp32"]}
    say(f"val PSNR fp32 {psnr['fp32']:.3f} dB, bf16 {psnr['bf16']:.3f} dB: "
        f"difference {psnr['bf16'] - psnr['fp32']:+.3f} dB")

    heavy = sorted(m for m in ("ray", "optuna") if m in sys.modules)
    report["imported_ray_or_optuna"] = heavy
    report["wall_s"] = time.perf_counter() - start
    say(f"\nray or optuna imported: {heavy or 'none'}; wall {report['wall_s']:.0f} s")
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    (args.out / "gpu_check.txt").write_text("\n".join(lines) + "\n")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
