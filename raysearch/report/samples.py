"""The best checkpoint at work: masked input | output | ground truth, one figure per hole-ratio bin.

Images are the validation faces of the checkpoint's own dataset (embedded faces are redrawn, the
same ones every time); holes are the checkpoint's mask kind at each bin, drawn with a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from raysearch.evaluate import HOLE_BINS, bin_label, bin_masks, eval_images, score, to_unit
from raysearch.inference import Inpainter, generate
from raysearch.train.samples import to_uint8

SAMPLE_SEED = 2024
_ROWS = ("masked input", "output", "ground truth")


def sample_grids(checkpoint: Path, title: str, count: int = 6, device: str = "cpu"
                 ) -> list[tuple[tuple[float, float], Figure]]:
    """One figure per bin of ``HOLE_BINS``: the same ``count`` faces with holes of that size."""
    inpainter = Inpainter.load(checkpoint, device)
    cfg = inpainter.cfg
    images = eval_images(cfg.data, "val", count)
    figures = []
    for k, ratio in enumerate(HOLE_BINS):
        masks = bin_masks(cfg.mask, cfg.data.image_size, ratio, len(images), SAMPLE_SEED + k)
        comp = generate(inpainter.generator, images, masks, inpainter.device)
        s = score((comp.double() + 1) / 2, to_unit(images), masks, {})
        figures.append((ratio, grid_figure(images, masks, to_uint8(comp),
                                           f"{title}, hole ratio {bin_label(ratio)}: PSNR "
                                           f"{s['psnr']:.2f} dB, SSIM {s['ssim']:.3f}")))
    return figures


def grid_figure(images: np.ndarray, masks: np.ndarray, outputs: np.ndarray, title: str) -> Figure:
    """Rows masked | output | truth, one column per image; holes shown white."""
    hole = masks[..., None] > 0
    masked = np.where(hole, np.uint8(255), images)
    rows = [np.concatenate(list(r), axis=1) for r in (masked, outputs, images)]
    grid = np.concatenate(rows, axis=0)
    size = images.shape[1]
    fig = Figure(figsize=(1.2 * len(images) + 1.2, 3.9), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([size * (i + 0.5) for i in range(3)], _ROWS)
    ax.set_title(title, fontsize=9)
    return fig
