"""LPIPS, KID and FID run for real on weights *files*; these tests write random-weights files on
purpose (no real ImageNet weights here), which the user's path never does. A missing file is one
error line, never a download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from raysearch.cli import main
from raysearch.data.embedded import embedded_faces
from raysearch.errors import UserError
from raysearch.feature_metrics import (
    FeatureScorer,
    inception_weights_path,
    load_inception,
    load_lpips,
    lpips_weights_path,
)


@pytest.fixture(scope="module")
def random_vgg16_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchvision's vgg16 state_dict layout (``features.*`` only), random weights."""
    pytest.importorskip("lpips")
    from torchvision.models import vgg16

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save({f"features.{k}": v for k, v in vgg16(weights=None).features.state_dict().items()},
               path)
    return path


@pytest.fixture(scope="module")
def random_inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch-fidelity's InceptionV3 state_dict layout with random weights: the network is built
    once with its loading switched off (here only), and its own initial state saved."""
    pytest.importorskip("torchmetrics")
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    mp = pytest.MonkeyPatch()
    mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
    mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    try:
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        mp.undo()
    for module in net.modules():  # He init keeps activations alive through the 90-odd layers
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


def _faces(n: int, size: int = 32) -> torch.Tensor:
    return torch.from_numpy(embedded_faces(n, size)[0]).permute(0, 3, 1, 2).double() / 255


def _blur(x: torch.Tensor, k: int = 5) -> torch.Tensor:
    return torch.nn.functional.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False)


def test_lpips_is_zero_for_identical_images_and_ranks_blur_worse_than_light_noise(
        random_vgg16_file: Path) -> None:
    scorer = FeatureScorer(lpips_net=load_lpips(random_vgg16_file))
    faces = _faces(6)
    noisy = (faces + 0.01 * torch.randn(faces.shape, generator=torch.Generator().manual_seed(1),
                                        dtype=faces.dtype)).clamp(0, 1)
    same = scorer.lpips_per_image(faces, faces)
    assert same.shape == (6,) and torch.all(same.abs() < 1e-6)
    light, blurred, very = (scorer.lpips_per_image(x, faces) for x in (noisy, _blur(faces, 3),
                                                                        _blur(faces, 7)))
    assert torch.all(light > 0)
    assert torch.all(blurred > light) and torch.all(very > blurred)


def test_lpips_refuses_a_file_that_is_not_vgg16(tmp_path: Path) -> None:
    pytest.importorskip("lpips")
    bad = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(UserError, match="not torchvision's vgg16 state_dict"):
        load_lpips(bad)


def test_kid_ranks_damaged_faces_worse_than_other_faces_of_the_same_kind(
        random_inception_file: Path) -> None:
    scorer = FeatureScorer(inception=load_inception(random_inception_file), seed=0)
    faces = _faces(24)
    real, others = faces[:12], faces[12:]
    scorer.set_real(real)
    alike, _ = scorer.score(others, real)  # other faces drawn the same way: the same distribution
    damaged, spread = scorer.score(_blur(real, 7), real)
    assert damaged["kid"] > 0 and spread["kid"] >= 0
    assert alike["kid"] < damaged["kid"] and alike["fid"] < damaged["fid"]
    again, _ = scorer.score(_blur(real, 7), real)
    assert again["kid"] == damaged["kid"]  # the subsets are seeded


def test_a_missing_weights_file_is_one_error_naming_it_and_how_to_give_it(
        tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.delenv("RAYSEARCH_LPIPS_WEIGHTS", raising=False)
    monkeypatch.delenv("RAYSEARCH_INCEPTION_WEIGHTS", raising=False)
    missing = tmp_path / "nowhere" / "vgg16-397923af.pth"
    with pytest.raises(UserError, match="--lpips-weights FILE") as e:
        lpips_weights_path(str(missing))
    assert str(missing) in str(e.value) and "never downloads" in str(e.value)
    assert f"but the file given, {missing}, is not a file. Download" in str(e.value)
    with pytest.raises(UserError, match="hub cache has no .*weights-inception-2015-12-05") as e:
        inception_weights_path(None)
    assert "is not a file" not in str(e.value)  # one sentence: "...has no PATH. Download ..."
    hub = tmp_path / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    with pytest.raises(UserError, match=f"weights, but torch's hub cache has no {hub}. Download"):
        lpips_weights_path(None)
    monkeypatch.setenv("RAYSEARCH_LPIPS_WEIGHTS", str(missing))
    with pytest.raises(UserError, match=r"but \$RAYSEARCH_LPIPS_WEIGHTS names .*, which is not"):
        lpips_weights_path(None)
    monkeypatch.delenv("RAYSEARCH_LPIPS_WEIGHTS")

    def error(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(["evaluate", str(tiny_checkpoint), "--data", "embedded", "--num-images", "2",
                  "--device", "cpu", *args])
        assert exit_.value.code == 2
        return capsys.readouterr().err

    err = error("--lpips-weights", str(missing))
    assert err.startswith("error: ") and err.count("\n") == 1 and str(missing) in err
    # the weights are looked for before the packages that use them: no torchmetrics needed here
    err = error("--perceptual")
    assert "RAYSEARCH_LPIPS_WEIGHTS" in err and str(tmp_path / "torch") in err
    monkeypatch.setenv("RAYSEARCH_LPIPS_WEIGHTS", str(missing))
    assert "$RAYSEARCH_LPIPS_WEIGHTS names" in error("--perceptual")


@pytest.mark.slow
def test_evaluate_reports_lpips_kid_fid_per_bin(tiny_checkpoint: Path, random_vgg16_file: Path,
                                                random_inception_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(tiny_checkpoint), "--data", "embedded", "--split", "all", "--num-images",
          "6", "--mask-kind", "rect", "--device", "cpu", "--baselines", "telea", "--out",
          str(tmp_path), "--lpips-weights", str(random_vgg16_file), "--inception-weights",
          str(random_inception_file)])
    md = (tmp_path / "evaluation.md").read_text()
    for row in ("| lpips ↓ | model |", "| kid ↓ | telea |", "| fid ↓ | model |"):
        assert row in md, md
    import csv

    with open(tmp_path / "evaluation.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] in ("lpips", "kid", "fid", "kid_std")]
    assert len(rows) == 2 * 3 * 4 and all(np.isfinite(float(r["value"])) for r in rows)
    assert all(float(r["value"]) > 0 for r in rows if r["metric"] == "lpips")
