"""What the biharmonic fill and the generator EMA cost per epoch (issue 14's performance target).

Three settings train the same generator (skip_encoder_decoder, depth 4, 32 channels, no critic:
the cheapest epoch, so the fill's share is the largest it gets) on the same CelebA faces at 64 px
with NVIDIA masks, in one process, in turn:

- ``zero``: ``model.hole_fill: zero`` (the reference);
- ``biharmonic``: ``model.hole_fill: biharmonic`` + ``model.residual``;
- ``biharmonic+ema``: the same with ``train.ema: 0.999``.

Each setting runs ``--epochs`` epochs, and the whole set ``--repeat`` times in turn (ABCABC), so a
slow spell of the shared machine hits all three alike. Epoch 1 of the first biharmonic run
factorises every mask of the bank (cold cache); later epochs only solve. The ratio to ``zero`` is
taken per repetition and epoch, and the medians are printed; so are the cache's size and memory.

    python bench/bench_fill_cost.py --out bench/results/fill_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETTINGS: dict[str, dict[str, Any]] = {
    "zero": {"model.hole_fill": "zero"},
    "biharmonic": {"model.hole_fill": "biharmonic", "model.residual": True},
    "biharmonic+ema": {"model.hole_fill": "biharmonic", "model.residual": True, "train.ema": 0.999},
}


def base_config(epochs: int, train_ids: str) -> Any:
    from raysearch.config import Config

    return Config().with_overrides({
        "data.path": str(DATA / "celeba"), "data.image_size": 64, "data.crop": "celeba",
        "data.split": "ids", "data.train_ids": train_ids, "data.val_ids": "7001-7200",
        "data.num_val": 200, "mask.kind": "folder", "mask.folder": str(DATA / "masks"),
        "mask.subset": "train", "mask.ratio": [0.1, 0.6], "model.depth": 4,
        "model.base_channels": 32, "loss.adv_weight": 0.0, "train.epochs": epochs,
        "train.batch_size": 32, "train.sample_grid": False, "train.num_threads": 2,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--train-ids", default="1-7000")
    ap.add_argument("--out", type=Path, default=None, help="JSON with every epoch's time")
    args = ap.parse_args()
    if not (DATA / "celeba" / "000001.jpg").exists() or not (DATA / "masks").is_dir():
        print(f"skip: CelebA faces or NVIDIA masks not found under {DATA}")
        return
    from raysearch.data import load_faces
    from raysearch.models.biharmonic import cache_info
    from raysearch.train import train

    load_before = os.getloadavg()
    cfg = base_config(args.epochs, args.train_ids)
    t0 = time.perf_counter()
    data = load_faces(cfg.data)
    print(f"{len(data.train)} training faces decoded in {time.perf_counter() - t0:.1f} s; "
          f"load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}")
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for name, overrides in SETTINGS.items():
            epochs: list[float] = []
            with tempfile.TemporaryDirectory() as tmp:
                train(cfg.with_overrides(overrides), Path(tmp), data=data,
                      report=lambda m, _c, e=epochs: e.append(m["epoch_time_s"]))
            runs.append({"repeat": rep, "setting": name, "epoch_time_s": epochs})
            print(f"repeat {rep} {name:15s} epoch s " + " ".join(f"{t:6.1f}" for t in epochs),
                  flush=True)
    summary: dict[str, Any] = {}
    for name in SETTINGS:
        ratios = []
        for rep in range(args.repeat):
            ref = next(r for r in runs if r["repeat"] == rep and r["setting"] == "zero")
            run = next(r for r in runs if r["repeat"] == rep and r["setting"] == name)
            ratios += [a / b for a, b in zip(run["epoch_time_s"], ref["epoch_time_s"], strict=True)]
        summary[name] = {"median_ratio_to_zero": statistics.median(ratios), "ratios": ratios}
        print(f"{name:15s} epoch time / zero fill: median {statistics.median(ratios):.3f} "
              f"(all: {', '.join(f'{r:.3f}' for r in ratios)})")
    cache = cache_info()
    print(f"biharmonic cache: {cache['size']} masks factorised, {cache['bytes'] / 2**20:.0f} MiB, "
          f"{cache['hits']} hits, {cache['misses']} misses")
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_before,
            "load_after": load_after, "args": {k: str(v) for k, v in vars(args).items()},
            "faces": len(data.train), "runs": runs, "summary": summary, "cache": cache,
        }, indent=1))


if __name__ == "__main__":
    sys.exit(main())
