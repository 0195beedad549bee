"""How long ``raysearch evaluate`` takes to score its composites, before and after issue 17.

``before`` is the scoring as it was at commit e09d3de, copied here unchanged in what it computes:
every registered metric called once per method and bin, SSIM and MS-SSIM as grouped float64
``conv2d`` filters. ``after`` is ``raysearch.evaluate.per_image_scores`` as ``evaluate`` calls it
now: every method's composites of a bin in one batch, the Gaussian filters as banded matrix
products. Both score the same composites (embedded faces with rectangular holes filled by noise,
at ``--size``, ``--methods`` methods x ``--images`` images: one bin of ``evaluate --num-images``);
the two run in turn (ABAB...) ``--repeat`` times, so a busy spell of the shared machine hits both,
and the medians and their ratio are printed, with the largest difference between the two's
per-bin means.

    python bench/bench_eval_scoring.py --images 500 --size 64 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F


def _conv_blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _conv_terms(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = _conv_blur(x, g), _conv_blur(y, g)
    sxx = _conv_blur(x * x, g) - mu_x**2
    syy = _conv_blur(y * y, g) - mu_y**2
    sxy = _conv_blur(x * y, g) - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs, cs


def _window(radius: int) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    return g / g.sum()


def before(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric as e09d3de computed it, on one method's images (per-image values)."""
    from raysearch.metrics import l1, l1_hole, psnr

    ssim = _conv_terms(pred, target, _window(5))[0].flatten(1).mean(1)
    x, y, g = pred, target, _window(3)
    weights = torch.tensor((0.0448, 0.2856, 0.3001), dtype=x.dtype) / 0.6305
    ms = torch.ones(x.shape[:2], dtype=x.dtype)
    for j, w in enumerate(weights.tolist()):
        full, cs = _conv_terms(x, y, g)
        ms = ms * (full if j == len(weights) - 1 else cs).flatten(2).mean(2).clamp_min(0) ** w
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return {"psnr": psnr(pred, target), "ssim": ssim, "l1": l1(pred, target),
            "ms_ssim": ms.mean(1), "l1_hole": l1_hole(pred, target, mask)}


def composites(images: int, size: int, methods: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(methods * images composites, their targets, their masks), in [0, 1], float64."""
    from raysearch.data.embedded import embedded_faces

    faces = torch.from_numpy(embedded_faces(images, size)[0]).permute(0, 3, 1, 2).double() / 255
    rng = np.random.default_rng(0)
    masks = np.zeros((images, size, size), np.float64)
    for m in masks:
        y, x = rng.integers(0, size // 2, 2)
        m[y : y + size // 2, x : x + size // 2] = 1
    hole = torch.from_numpy(masks)[:, None]
    comps = [faces * (1 - hole) + torch.rand(faces.shape, dtype=torch.float64,
             generator=torch.Generator().manual_seed(k)) * hole for k in range(methods)]
    return torch.cat(comps), faces, masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=500, help="images per method (one bin)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--methods", type=int, default=3, help="the model and two baselines")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    args = ap.parse_args()
    from raysearch.evaluate import per_image_scores

    torch.set_num_threads(args.threads)
    pred, target, masks = composites(args.images, args.size, args.methods)
    n = args.images
    hole = torch.from_numpy(masks)[:, None]
    times: dict[str, list[float]] = {"before": [], "after": []}
    worst = 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        old = [before(pred[j * n : (j + 1) * n], target, hole) for j in range(args.methods)]
        times["before"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        new = per_image_scores(pred, target.repeat(args.methods, 1, 1, 1),
                               np.concatenate([masks] * args.methods), {})
        times["after"].append(time.perf_counter() - t0)
        for j in range(args.methods):
            for name, values in old[j].items():
                worst = max(worst, abs(float(values.mean()) - float(new[name][j * n : (j + 1) * n].mean())))
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"{args.methods} methods x {n} images at {args.size}px (one bin), {torch.get_num_threads()} "
          f"threads, {args.repeat} repetitions")
    print(f"before (e09d3de: per method, grouped conv2d): median {b:.2f} s  {times['before']}")
    print(f"after (one batch, banded matmul):             median {a:.2f} s  {times['after']}")
    print(f"speed-up: {b / a:.1f}x; largest difference of a per-bin mean: {worst:.1e}")


if __name__ == "__main__":
    main()
