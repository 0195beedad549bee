"""Evaluate's scoring: one batch per bin gives each image's own values, and its time is reported."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from raysearch.cli import main
from raysearch.evaluate import evaluate_checkpoint, metric_names, per_image_scores
from raysearch.metrics import METRICS, _blur, _gaussian_window


def _batch(n: int = 7, size: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    masks = (torch.rand(n, size, size, generator=g) > 0.6).double().numpy()
    noise = 0.1 * torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    pred = (target + noise * torch.from_numpy(masks)[:, None]).clamp(0, 1)
    return pred, target, masks


def test_batched_scores_equal_each_image_scored_alone() -> None:
    pred, target, masks = _batch()
    batched = per_image_scores(pred, target, masks, {})
    assert sorted(batched) == sorted(metric_names())
    m = torch.from_numpy(masks)[:, None]
    for name in metric_names():
        alone = torch.cat([METRICS.get(name)(pred[i : i + 1], target[i : i + 1], m[i : i + 1])
                           for i in range(len(pred))]).double()
        assert batched[name].shape == (len(pred),)
        torch.testing.assert_close(batched[name], alone, rtol=0, atol=1e-6, msg=name)


def test_chunks_change_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import raysearch.evaluate as evaluate

    pred, target, masks = _batch(n=9)
    whole = per_image_scores(pred, target, masks, {})
    monkeypatch.setattr(evaluate, "_CHUNK_VALUES", 2 * pred[0].numel())  # chunks of 2 images
    chunked = per_image_scores(pred, target, masks, {})
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=0, atol=1e-12)


@pytest.mark.parametrize("radius", [3, 5])
def test_banded_blur_equals_the_grouped_convolution(radius: int) -> None:
    x = torch.rand(4, 3, 37, 45, dtype=torch.float64)
    g = _gaussian_window(x.device, x.dtype, radius)
    c = x.shape[1]
    conv = F.conv2d(F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c),
                    g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    torch.testing.assert_close(_blur(x, g), conv, rtol=0, atol=1e-12)


def test_reported_total_is_the_real_time_scoring_included(tiny_checkpoint: Path) -> None:
    t0 = time.perf_counter()
    ev = evaluate_checkpoint(tiny_checkpoint, data="embedded", mask_kind="rect", num_images=4,
                             device="cpu", say=lambda _m: None)
    wall = time.perf_counter() - t0
    assert ev.scoring_seconds > 0
    assert sum(ev.seconds.values()) + ev.scoring_seconds <= ev.total_seconds <= wall
    assert ev.total_seconds > 0.95 * wall
    # per-image values are kept, and their means are the table's
    key = ("model", "(0.3, 0.4]", "ssim")
    assert ev.per_image[key].shape == (4,)
    assert ev.values[key] == pytest.approx(float(ev.per_image[key].mean()), abs=1e-12)


def test_cli_prints_the_total_time(tiny_checkpoint: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(tiny_checkpoint), "--data", "embedded", "--num-images", "3", "--mask-kind",
          "rect", "--out", str(tmp_path), "--device", "cpu", "--baselines", "telea"])
    printed = capsys.readouterr().out
    found = re.search(r"filling the holes model ([\d.]+), telea ([\d.]+); scoring ([\d.]+); "
                      r"total ([\d.]+)", printed)
    assert found, printed
    fill_model, fill_telea, scoring, total = map(float, found.groups())
    assert total >= fill_model + fill_telea + scoring - 0.15  # each rounded to 0.1 s
    assert found.group(0) in (tmp_path / "evaluation.md").read_text()


def test_scoring_threads_follow_the_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """On an oversubscribed machine scoring runs on one thread; on an idle one it keeps what
    torch was given; either way the setting is restored after."""
    import os

    from raysearch import evaluate

    given = torch.get_num_threads()
    cores = os.cpu_count() or 1
    monkeypatch.setattr(evaluate.os, "getloadavg", lambda: (cores + 3.0, 0.0, 0.0))
    with evaluate.idle_core_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == given
    monkeypatch.setattr(evaluate.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    with evaluate.idle_core_threads():
        assert torch.get_num_threads() == min(given, cores)
    assert torch.get_num_threads() == given
