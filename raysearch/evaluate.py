"""The papers' table: a checkpoint against classical inpainting, per hole-ratio bin.

For each bin, every method fills the same holes in the same images (masks drawn with one seed per
bin). Metrics are every registered one (``raysearch.metrics.METRICS``) on the composite in [0, 1],
as in validation: the model's float output and the baselines' own output, known pixels pasted back.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from raysearch.feature_metrics import FEATURE_METRICS, KID_SUBSET_SIZE, KID_SUBSETS, feature_scorer
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


_CHUNK_VALUES = 1 << 20  # image values (N * C * H * W) scored at once: bounds memory, stays in cache


@contextmanager
def idle_core_threads() -> Iterator[None]:
    """torch's intra-op threads cut to the cores the load average leaves idle (at least 1) for
    the block. Scoring is many short parallel regions; on an oversubscribed machine their threads
    wait on each other (measured here at load 8-10: 200 images per method scored in 6.5 s with
    2 threads, 2.8 s with 1). Threads are never raised above what torch was given."""
    given = torch.get_num_threads()
    idle = (os.cpu_count() or 1) - os.getloadavg()[0]
    torch.set_num_threads(max(1, min(given, int(idle))))
    try:
        yield
    finally:
        torch.set_num_threads(given)


def per_image_scores(pred: torch.Tensor, target: torch.Tensor, masks: np.ndarray,
                     notes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Every registered metric's per-image values (N,) for a whole batch of images.

    One call per metric and chunk of images (``_CHUNK_VALUES``), not one per image: every
    metric is per image, so the chunks change no value. A metric that cannot run is noted, NaN.
    Threads as ``idle_core_threads`` gives them.
    """
    with idle_core_threads():
        return _per_image_scores(pred, target, masks, notes)


def _per_image_scores(pred: torch.Tensor, target: torch.Tensor, masks: np.ndarray,
                      notes: dict[str, str]) -> dict[str, torch.Tensor]:
    m = torch.from_numpy(masks).double()[:, None]
    step = max(1, _CHUNK_VALUES // max(1, pred[0].numel()))
    out: dict[str, torch.Tensor] = {}
    for name in metric_names():
        metric = METRICS.get(name)
        try:
            out[name] = torch.cat([metric(pred[i : i + step], target[i : i + step],
                                          m[i : i + step]).double()
                                   for i in range(0, len(pred), step)])
        except (ValueError, RuntimeError) as e:  # e.g. a multi-scale metric on too small images
            notes[name] = f"{name}: not computed ({str(e).splitlines()[0]})"
            out[name] = torch.full((len(pred),), math.nan, dtype=torch.float64)
    return out


def score(pred: torch.Tensor, target: torch.Tensor, masks: np.ndarray,
          notes: dict[str, str]) -> dict[str, float]:
    """Mean of every registered metric over the images; a metric that cannot run is noted, NaN."""
    return {name: float(v.mean()) for name, v in per_image_scores(pred, target, masks, notes).items()}


@dataclass
class Evaluation:
    """Per method, per bin, per metric: mean values, and what they were computed on."""

    methods: list[str]
    bins: list[tuple[float, float]]
    values: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (method, bin, metric)
    num_images: int = 0
    about: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> time filling the holes
    scoring_seconds: float = 0.0  # every metric of every method and bin
    total_seconds: float = 0.0  # the whole evaluation: loading, filling, scoring
    # (method, bin, metric) -> the values of each image, for metrics taken per image
    per_image: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    feature_metrics: list[str] = field(default_factory=list)  # LPIPS, KID, FID when asked for

    @property
    def metrics(self) -> list[str]:
        return metric_names() + self.feature_metrics


def metric_mode(name: str) -> str:
    """``max`` or ``min``: a registered metric's, or a feature metric's."""
    return FEATURE_METRICS[name].mode if name in FEATURE_METRICS else METRICS.get(name).mode


def data_mismatch(trained: DataConfig, scored: DataConfig) -> str | None:
    """A warning when ``scored`` reads other faces than the checkpoint trained on, else None."""
    def where(path: str) -> str:
        if path == "embedded" or is_parquet_location(path):
            return path.rstrip("/")
        return str(Path(path).expanduser().resolve())

    if where(trained.path) == where(scored.path):
        return None
    return (f"warning: the checkpoint was trained on {trained.path} (data.path in its config.yaml) "
            f"but is scored on {scored.path}: these numbers measure transfer to other data, "
            "not the held-out performance of its own")


def evaluate_checkpoint(checkpoint: Path, data: str | None = None, masks: str | None = None,
                        mask_kind: str | None = None, split: str = "val", num_images: int = 100,
                        ids: str | None = None,
                        seed: int = 0, baselines: tuple[str, ...] = ("biharmonic", "telea"),
                        device: str = "auto", say: Callable[[str], None] = print,
                        warn: Callable[[str], None] | None = None,
                        lpips_weights: str | None = None, inception_weights: str | None = None,
                        perceptual: bool = False) -> Evaluation:
    """The model and the baselines on the same images and holes, in each of ``HOLE_BINS``.

    ``lpips_weights`` / ``inception_weights`` (or ``perceptual``: the configured or cached files)
    add LPIPS, and KID and FID, per bin (``raysearch.feature_metrics``).
    """
    started = time.perf_counter()
    warn = warn or say
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
    features = feature_scorer(lpips_weights, inception_weights, perceptual, cfg.loss,
                              inpainter.device, seed)
    images = eval_images(data_cfg, split, num_images, ids)
    size = cfg.data.image_size
    mask_desc = f"folder {mask_cfg.folder}" if mask_cfg.kind == "folder" else f"drawn ({mask_cfg.kind})"
    if mask_cfg.kind == "folder" and mask_cfg.subset != "all":
        mask_desc += f", {mask_cfg.subset} files (mask.subset; training drew from the others)"
    which = f"ids {ids}" if ids else f"{split} split"
    result = Evaluation([MODEL, *baselines], list(HOLE_BINS), num_images=len(images), about={
        "checkpoint": str(checkpoint), "data": f"{data_cfg.path} ({which})",
        "masks": mask_desc, "image size": f"{size}px", "images per bin": str(len(images)),
        "seed": str(seed)}, feature_metrics=features.names if features else [])
    # every bin's holes before anything is said: an unknown kind, or a folder without masks in
    # a bin, is the one error line
    bin_holes = [bin_masks(mask_cfg, size, ratio, len(images), seed * 1000 + k)
                 for k, ratio in enumerate(HOLE_BINS)]
    mismatch = data_mismatch(cfg.data, data_cfg)
    if mismatch:
        warn(mismatch)
        result.notes["data"] = mismatch.removeprefix("warning: ")
    say(f"{len(images)} images at {size}px from {data_cfg.path} ({which}); masks: {mask_desc}")
    target = to_unit(images)
    if features and features.inception is not None:
        result.about["KID, FID"] = (f"Inception features of the composites against the same "
                                    f"{len(images)} real faces; KID: mean of {KID_SUBSETS} subsets "
                                    f"of {min(KID_SUBSET_SIZE, len(images))} (unbiased); FID is "
                                    "biased at this count, compare it only at equal counts")
        t0 = time.perf_counter()
        features.set_real(target)
        result.scoring_seconds += time.perf_counter() - t0
    for ratio, holes in zip(HOLE_BINS, bin_holes, strict=True):
        label = bin_label(ratio)
        comps = []
        for method in result.methods:
            t0 = time.perf_counter()
            if method == MODEL:
                comp = (generate(inpainter.generator, images, holes, inpainter.device).double() + 1) / 2
            else:
                comp = baseline_composites(method, images, holes)
            result.seconds[method] = result.seconds.get(method, 0.0) + time.perf_counter() - t0
            comps.append(comp)
        t0 = time.perf_counter()
        n, m = len(images), len(result.methods)
        # every method's composites of this bin in one batch
        per_image = per_image_scores(torch.cat(comps), target.repeat(m, 1, 1, 1),
                                     np.concatenate([holes] * m), result.notes)
        for j, method in enumerate(result.methods):
            for metric, all_values in per_image.items():
                mine = all_values[j * n : (j + 1) * n]
                result.per_image[(method, label, metric)] = mine.numpy()
                result.values[(method, label, metric)] = float(mine.mean())
            if features:
                try:
                    values, spread = features.score(comps[j], target)
                except ValueError as e:  # e.g. KID of a single image
                    result.notes["features"] = f"{', '.join(features.names)}: not computed ({e})"
                    values, spread = dict.fromkeys(features.names, math.nan), {}
                for metric, value in values.items():
                    result.values[(method, label, metric)] = value
                if "kid" in spread:
                    result.values[(method, label, "kid_std")] = spread["kid"]
        result.scoring_seconds += time.perf_counter() - t0
        say(f"hole ratio {label}: " + "  ".join(
            f"{m} {result.values[(m, label, 'psnr')]:.2f} dB" for m in result.methods))
    result.total_seconds = time.perf_counter() - started
    return result


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    if v != 0 and abs(v) < 1e-3:  # KID of close sets
        return f"{v:.2e}"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def timing_line(ev: Evaluation) -> str:
    """Where the evaluation's time went; the total includes loading, filling and scoring."""
    fills = ", ".join(f"{m} {s:.1f}" for m, s in ev.seconds.items())
    return (f"Seconds (all bins): filling the holes {fills}; scoring {ev.scoring_seconds:.1f}; "
            f"total {ev.total_seconds:.1f} (loading the checkpoint, images and masks included)")


def markdown_table(ev: Evaluation) -> str:
    """Metric | method | one column per bin; the best method of each metric and bin in bold."""
    bins = [bin_label(b) for b in ev.bins]
    lines = [f"- {k}: {v}" for k, v in ev.about.items()]
    lines += ["", "| metric | method | " + " | ".join(bins) + " |",
              "|---|---|" + "---:|" * len(bins)]
    for metric in ev.metrics:
        higher = metric_mode(metric) == "max"
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
    lines += ["", timing_line(ev)]
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
