"""Per-family training cost at 64 px on this machine: parameters, training images/s, peak memory.

Each family trains with its preset's fixed settings (search_spaces/<preset>.yaml, image size set to
64), the published values of searched keys that change the compute (``PUBLISHED``: RFR's perceptual
and style terms) and the config defaults for the rest (one critic step per generator step), on the
embedded faces, through the real training loop (``raysearch.train.train``: generator, critic and
all loss terms). VGG losses use random weights (``loss.vgg_random``): the same compute as ImageNet
weights, and none are needed here.

Each family runs in its own process so that memory is its own: peak memory is the process's peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), given whole and above the
baseline measured after imports and data loading. tracemalloc would miss torch's allocations.

The machine is shared, so wall-clock speed varies with other people's jobs: each family runs
``--repeat`` times and the fastest run is kept, and the table also gives CPU seconds per training
image (user + system time of the process over the epochs after the first), which other jobs
change far less. Children run with ``OMP_WAIT_POLICY=PASSIVE`` so that threads waiting for a
descheduled sibling sleep instead of spinning (spinning would bill the wait as CPU time).

    python bench/bench_models.py                      # print the table
    python bench/bench_models.py --write BENCHMARKS.md  # and replace its "Model families" section
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {
    "skip_encoder_decoder": "skip_wgan.yaml",
    "unet_bce": "unet_bce.yaml",
    "coarse_to_fine": "coarse_to_fine.yaml",
    "multiscale_context": "multiscale_context.yaml",
    "rfr_unet": "rfr_net.yaml",
}
SECTION = "## Model families at 64 px"
PUBLISHED: dict[str, dict[str, Any]] = {
    "rfr_unet": {"loss.perceptual_weight": 0.05, "loss.style_weight": 120.0},
}


def family_config(family: str, epochs: int, batch: int, images: int) -> Any:
    from raysearch.config import Config, load_yaml

    fixed = load_yaml(ROOT / "search_spaces" / FAMILIES[family])["fixed"]
    return Config().with_overrides({
        **fixed, **PUBLISHED.get(family, {}),
        "data.path": "embedded", "data.image_size": 64, "data.num_images": images,
        "data.num_val": 16, "loss.vgg_random": True, "train.epochs": epochs,
        "train.batch_size": batch, "train.sample_grid": False, "train.checkpoint_every": epochs,
        "train.num_threads": os.cpu_count() or 1,
    }, where="bench")


def measure(family: str, epochs: int, batch: int, images: int) -> dict[str, Any]:
    """Runs in the child process: one family, timed through the training loop."""
    from raysearch.data import load_faces
    from raysearch.models import build_critic, build_generator, count_parameters
    from raysearch.train import train

    cfg = family_config(family, epochs, batch, images)
    data = load_faces(cfg.data)
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rates: list[float] = []
    cpu: list[float] = []

    def report(metrics: dict[str, float], _ckpt: Path | None) -> None:
        rates.append(metrics["images_per_s"])
        use = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(use.ru_utime + use.ru_stime)

    with tempfile.TemporaryDirectory() as run:
        train(cfg, Path(run), data=data, report=report)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_epoch = len(data.train) // batch * batch  # full batches only, as the loop takes them
    return {
        "family": family,
        "generator_params": count_parameters(build_generator(cfg)),
        "critic_params": count_parameters(build_critic(cfg)),
        "critic": cfg.model.critic,
        "losses": loss_summary(cfg),
        "images_per_s": statistics.median(rates[1:]),  # the first epoch warms up
        "cpu_s_per_image": (cpu[-1] - cpu[0]) / (per_epoch * (len(cpu) - 1)),
        "peak_rss_mib": peak_kib / 1024,
        "above_baseline_mib": (peak_kib - baseline_kib) / 1024,
    }


def loss_summary(cfg: Any) -> str:
    terms = ["L1"]
    lo = cfg.loss
    terms += [name for name, w in (("perceptual", lo.perceptual_weight), ("style", lo.style_weight),
                                   ("TV", lo.tv_weight)) if w > 0]
    return f"{' + '.join(terms)} + {lo.adversarial}"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} (CPU, "
            f"{torch.get_num_threads()} threads), Python {platform.python_version()}")


def table(rows: list[dict[str, Any]], args: argparse.Namespace, load_before: str) -> str:
    lines = [
        SECTION, "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_models.py --repeat "
        f"{args.repeat}` on {machine()}; load average (1 / 5 / 15 min) {load_before} before and "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} after (the benchmark's own "
        "processes count in the latter; more than about 2 before means other jobs shared the "
        "two cores).",
        f"Each family trains {args.epochs} epochs of {args.images - args.images // 10} embedded faces "
        f"at 64 px, batch {args.batch}, through `raysearch.train.train` with its preset's fixed "
        "settings, RFR's published perceptual and style weights, and default widths (base 32 "
        "channels, critic 32; RFR 6 iterations with attention; multi-scale 3 scales, concat; "
        "U-Net and multi-scale depth 4; one critic step per generator step). Images/s: median "
        "over the epochs after the first, one generator step and its critic step per batch, "
        f"validation excluded; the fastest of {args.repeat} run(s) per family, as the machine is "
        "shared. CPU s / image: process CPU time (user + system, both cores) per training image "
        "over the same epochs, validation of 16 images included; less sensitive to other jobs "
        "(on an idle machine images/s would approach 2 / that figure, both cores busy). "
        "Peak memory: the process's peak RSS (`getrusage` ru_maxrss; one process per family), "
        "and how much of it came after imports and data loading. VGG losses ran with random "
        "weights (same compute).",
        "",
        "| family | critic | losses | generator params | critic params | train images/s "
        "| CPU s / image | peak RSS MiB | above baseline MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['family']} | {r['critic']} | {r['losses']} | {r['generator_params']:,} "
                     f"| {r['critic_params']:,} | {r['images_per_s']:.1f} "
                     f"| {r['cpu_s_per_image']:.3f} | {r['peak_rss_mib']:.0f} "
                     f"| {r['above_baseline_mib']:.0f} |")
    lines += [
        "",
        "Validation also reports `val_ms_ssim`: MS-SSIM made valid from 32 px with 3 scales (full, "
        "1/2, 1/4), a 7x7 Gaussian window (sigma 1.5) and Wang et al.'s three finest-scale weights "
        "renormalised (the standard 5 scales with an 11x11 window need 176 px); see "
        "`raysearch/metrics.py`.",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (or append it), leaving other sections alone."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), help="child mode: one family, JSON")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--images", type=int, default=176, help="embedded faces (10%% held out)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per family; the fastest is kept (others' jobs only slow a run down)")
    parser.add_argument("--write", type=Path, help="markdown file whose section to replace")
    args = parser.parse_args()
    if args.family:
        print(json.dumps(measure(args.family, args.epochs, args.batch, args.images)))
        return
    rows = []
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    for family in FAMILIES:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--family", family, "--epochs", str(args.epochs),
                 "--batch", str(args.batch), "--images", str(args.images)], check=True,
                capture_output=True, text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"})
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"{family}: {runs[-1]['images_per_s']:.1f} images/s", file=sys.stderr)
        rows.append(max(runs, key=lambda r: r["images_per_s"]))
    section = table(rows, args, load_before)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
