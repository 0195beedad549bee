"""The papers' table: a checkpoint against classical inpainting, per hole-ratio bin.

For each bin, every method fills the same holes in the same images (masks drawn with one seed per
bin). Metrics are every registered one (``raysearch.metrics.METRICS``) on the composite in [0, 1],
as in validation: the model's float output and the baselines' own output, known pixels pasted back.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from raysearch.baselines import BASELINES
from raysearch.config import DataConfig, MaskConfig
from raysearch.data import load_faces
from raysearch.data.embedded import embedded_faces
from raysearch.data.faces import _numeric_id, _select, decode_all, list_images, parse_id_ranges
from raysearch.data.parquet import is_parquet_location
from raysearch.errors import UserError
from raysearch.inference import Inpainter, generate
from raysearch.masks import build_mask_sampler, mask_bank
from raysearch.metrics import METRICS

HOLE_BINS: tuple[tuple[float, float], ...] = ((0.1, 0.2), (0.3, 0.4), (0.5, 0.6))
SPLITS = ("val", "all")
MODEL = "model"
_FIRST = ("psnr", "ssim", "l1", "ms_ssim")  # the papers' order; other registered metrics follow


def bin_label(ratio: tuple[float, float]) -> str:
    return f"({ratio[0]:g}, {ratio[1]:g}]"


def metric_names() -> list[str]:
    names = METRICS.names()
    return [n for n in _FIRST if n in names] + [n for n in names if n not in _FIRST]


def eval_images(cfg: DataConfig, split: str, limit: int, ids: str | None = None) -> np.ndarray:
    """Up to ``limit`` faces as uint8 (N, H, W, 3): the validation split of ``cfg``, all images,
    or (``ids``, a folder of numbered files) the faces with those ids.

    A folder decodes only the images it needs; the split is the one training used for the same
    data settings, so ``val`` never contains a training face, and ``ids`` that overlap the
    checkpoint's training ids are refused.
    """
    if ids:
        return _images_by_id(cfg, ids, limit)
    if split not in SPLITS:
        raise UserError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if limit < 1:
        raise UserError(f"--num-images must be at least 1, got {limit}")
    if cfg.path == "embedded" and split == "all":
        return embedded_faces(min(limit, cfg.num_images), cfg.image_size)[0]
    if cfg.path == "embedded" or is_parquet_location(cfg.path):
        data = load_faces(cfg)
        return (data.val if split == "val" else np.concatenate([data.train, data.val]))[:limit]
    files = list_images(Path(cfg.path))
    idx = np.arange(len(files)) if split == "all" else _select([f.name for f in files], cfg)[1]
    images, _, _ = decode_all(((files[k].name, files[k]) for k in idx[:limit]), cfg.image_size,
                              cfg.crop)
    return images


def _images_by_id(cfg: DataConfig, ids: str, limit: int) -> np.ndarray:
    if cfg.path == "embedded" or is_parquet_location(cfg.path):
        raise UserError("--ids needs a folder of numbered images (e.g. CelebA's 000001.jpg)")
    wanted = parse_id_ranges(ids, "--ids")
    if cfg.split == "ids":
        seen = wanted & parse_id_ranges(cfg.train_ids, "data.train_ids")
        if seen:
            raise UserError(f"--ids {ids} includes {len(seen)} of the checkpoint's training faces "
                            f"(data.train_ids {cfg.train_ids}); give ids it never trained on")
    files = [f for f in list_images(Path(cfg.path)) if _numeric_id(f.name) in wanted]
    if not files:
        raise UserError(f"--ids {ids}: no image of {cfg.path} has such an id (numeric file names)")
    images, _, _ = decode_all(((f.name, f) for f in files[:limit]), cfg.image_size, cfg.crop)
    return images


def evaluation_masks(cfg: MaskConfig) -> MaskConfig:
    """The checkpoint's mask settings for scoring: one bin at a time (no training weights), and
    a folder's held-out files when training drew from ``mask.subset: train``."""
    subset = "holdout" if cfg.subset == "train" else cfg.subset
    return dataclasses.replace(cfg, ratio_weights=(), subset=subset)


def bin_masks(cfg: MaskConfig, size: int, ratio: tuple[float, float], count: int, seed: int
              ) -> np.ndarray:
    """``count`` masks (N, H, W) of the configured kind with hole ratio in ``ratio``."""
    binned = dataclasses.replace(cfg, ratio=ratio, bank_size=max(count, 64))
    try:
        return mask_bank(build_mask_sampler(binned, size), count, seed)[:, 0]
    except ValueError as e:  # a drawn kind that cannot reach this ratio at this size
        raise UserError(f"mask kind {cfg.kind!r}: {e}") from None


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float64 (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).double() / 255.0


def baseline_composites(name: str, images: np.ndarray, masks: np.ndarray) -> torch.Tensor:
    """A baseline's fill of every image, known pixels pasted back, (N, 3, H, W) in [0, 1]."""
    fill = BASELINES.get(name)
    out = np.stack([fill(img, m.astype(bool)) for img, m in zip(images, masks, strict=True)])
    filled = torch.from_numpy(out).permute(0, 3, 1, 2).double()
    m = torch.from_numpy(masks).double()[:, None]
    return filled * m + to_unit(images) * (1 - m)


def score(pred: torch.Tensor, target: torch.Tensor, masks: np.ndarray,
          notes: dict[str, str]) -> dict[str, float]:
    """Mean of every registered metric over the images; a metric that cannot run is noted, NaN."""
    m = torch.from_numpy(masks).double()[:, None]
    out: dict[str, float] = {}
    for name in metric_names():
        try:
            out[name] = float(METRICS.get(name)(pred, target, m).double().mean())
        except (ValueError, RuntimeError) as e:  # e.g. a multi-scale metric on too small images
            notes[name] = f"{name}: not computed ({str(e).splitlines()[0]})"
            out[name] = math.nan
    return out


@dataclass
class Evaluation:
    """Per method, per bin, per metric: mean values, and what they were computed on."""

    methods: list[str]
    bins: list[tuple[float, float]]
    values: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (method, bin, metric)
    num_images: int = 0
    about: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> total time


def evaluate_checkpoint(checkpoint: Path, data: str | None = None, masks: str | None = None,
                        mask_kind: str | None = None, split: str = "val", num_images: int = 100,
                        ids: str | None = None,
                        seed: int = 0, baselines: tuple[str, ...] = ("biharmonic", "telea"),
                        device: str = "auto", say: Callable[[str], None] = print) -> Evaluation:
    """The model and the baselines on the same images and holes, in each of ``HOLE_BINS``."""
    for b in baselines:
        BASELINES.get(b)  # unknown names fail before any work
    inpainter = Inpainter.load(checkpoint, device)
    cfg = inpainter.cfg
    data_cfg = dataclasses.replace(cfg.data, path=data) if data else cfg.data
    mask_cfg = evaluation_masks(cfg.mask)
    if masks:
        mask_cfg = dataclasses.replace(cfg.mask, kind="folder", folder=masks)
    elif mask_kind:
        mask_cfg = dataclasses.replace(cfg.mask, kind=mask_kind)
    if mask_cfg.kind == "folder" and not Path(mask_cfg.folder).is_dir():
        raise UserError(f"mask folder {mask_cfg.folder!r} does not exist; give --masks PATH or "
                        "--mask-kind rect|brush|center")
    images = eval_images(data_cfg, split, num_images, ids)
    size = cfg.data.image_size
    mask_desc = f"folder {mask_cfg.folder}" if mask_cfg.kind == "folder" else f"drawn ({mask_cfg.kind})"
    if mask_cfg.kind == "folder" and mask_cfg.subset != "all":
        mask_desc += f", {mask_cfg.subset} files (mask.subset; training drew from the others)"
    which = f"ids {ids}" if ids else f"{split} split"
    result = Evaluation([MODEL, *baselines], list(HOLE_BINS), num_images=len(images), about={
        "checkpoint": str(checkpoint), "data": f"{data_cfg.path} ({which})",
        "masks": mask_desc, "image size": f"{size}px", "images per bin": str(len(images)),
        "seed": str(seed)})
    say(f"{len(images)} images at {size}px from {data_cfg.path} ({which}); masks: {mask_desc}")
    target = to_unit(images)
    for k, ratio in enumerate(HOLE_BINS):
        holes = bin_masks(mask_cfg, size, ratio, len(images), seed * 1000 + k)
        for method in result.methods:
            t0 = time.perf_counter()
            if method == MODEL:
                comp = (generate(inpainter.generator, images, holes, inpainter.device).double() + 1) / 2
            else:
                comp = baseline_composites(method, images, holes)
            result.seconds[method] = result.seconds.get(method, 0.0) + time.perf_counter() - t0
            for metric, v in score(comp, target, holes, result.notes).items():
                result.values[(method, bin_label(ratio), metric)] = v
        say(f"hole ratio {bin_label(ratio)}: " + "  ".join(
            f"{m} {result.values[(m, bin_label(ratio), 'psnr')]:.2f} dB" for m in result.methods))
    return result


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def markdown_table(ev: Evaluation) -> str:
    """Metric | method | one column per bin; the best method of each metric and bin in bold."""
    bins = [bin_label(b) for b in ev.bins]
    lines = [f"- {k}: {v}" for k, v in ev.about.items()]
    lines += ["", "| metric | method | " + " | ".join(bins) + " |",
              "|---|---|" + "---:|" * len(bins)]
    for metric in metric_names():
        higher = METRICS.get(metric).mode == "max"
        arrow = "↑" if higher else "↓"
        for method in ev.methods:
            cells = []
            for b in bins:
                column = [ev.values[(m, b, metric)] for m in ev.methods]
                finite = [c for c in column if math.isfinite(c)]
                best = (max if higher else min)(finite) if finite else None
                v = ev.values[(method, b, metric)]
                cells.append(f"**{_fmt(v)}**" if v == best and len(finite) > 1 else _fmt(v))
            lines.append(f"| {metric} {arrow} | {method} | " + " | ".join(cells) + " |")
    lines += ["", "Seconds per method (all bins): " + ", ".join(
        f"{m} {s:.1f}" for m, s in ev.seconds.items())]
    lines += [f"Note: {n}" for n in ev.notes.values()]
    return "\n".join(lines) + "\n"


def write_tables(ev: Evaluation, out: Path) -> tuple[Path, Path]:
    """``evaluation.csv`` (one row per method, bin and metric) and ``evaluation.md`` in ``out``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        csv_path, md_path = out / "evaluation.csv", out / "evaluation.md"
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["method", "hole_ratio", "metric", "value", "images"])
            for (method, b, metric), v in ev.values.items():
                w.writerow([method, b, metric, repr(v), ev.num_images])
        md_path.write_text(markdown_table(ev))
    except OSError as e:
        raise UserError(f"cannot write the tables to {out}: {e.strerror or e}") from None
    return csv_path, md_path
