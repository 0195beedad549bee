"""Evaluation: the baselines' numbers are scikit-image's and OpenCV's own, bins hold, tables write."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import inpaint_biharmonic

from raysearch.cli import main
from raysearch.config import DataConfig, MaskConfig
from raysearch.data import load_faces
from raysearch.errors import UserError
from raysearch.evaluate import (
    HOLE_BINS,
    bin_label,
    bin_masks,
    eval_images,
    evaluate_checkpoint,
    metric_names,
)


@pytest.fixture(scope="module")
def faces(celeba_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder of real CelebA faces (copied to a temporary folder, never to the repo)."""
    folder = tmp_path_factory.mktemp("celeba")
    for f in sorted(celeba_dir.iterdir())[:60]:
        shutil.copy(f, folder / f.name)
    return folder


def _direct(method: str, images: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """The baseline and the metrics computed straight from scikit-image and OpenCV."""
    psnr, ssim, l1 = [], [], []
    for img, m in zip(images, masks, strict=True):
        truth = img / 255.0
        if method == "biharmonic":
            out = np.clip(inpaint_biharmonic(truth, m.astype(bool), channel_axis=-1), 0, 1)
        else:
            out = cv2.inpaint(img, m.astype(np.uint8), 3, cv2.INPAINT_TELEA) / 255.0
        psnr.append(peak_signal_noise_ratio(truth, out, data_range=1.0))
        ssim.append(structural_similarity(truth, out, data_range=1.0, channel_axis=-1,
                                          gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False))
        l1.append(np.abs(out - truth).mean())
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim)), "l1": float(np.mean(l1))}


@pytest.mark.data
def test_baselines_equal_direct_scikit_image_and_opencv(tiny_checkpoint: Path, faces: Path,
                                                        masks_dir: Path) -> None:
    ev = evaluate_checkpoint(tiny_checkpoint, data=str(faces), masks=str(masks_dir),
                             num_images=6, seed=3, device="cpu", say=lambda _m: None)
    cfg_data = DataConfig(path=str(faces), image_size=32, num_images=48, num_val=8)
    images = eval_images(cfg_data, "val", 6)
    mask_cfg = MaskConfig(kind="folder", folder=str(masks_dir))
    for k, ratio in enumerate(HOLE_BINS):
        masks = bin_masks(mask_cfg, 32, ratio, len(images), 3 * 1000 + k)
        for method in ("biharmonic", "telea"):
            for metric, want in _direct(method, images, masks).items():
                got = ev.values[(method, bin_label(ratio), metric)]
                assert got == pytest.approx(want, rel=1e-6, abs=1e-6), (method, ratio, metric)
        assert np.isfinite(ev.values[("model", bin_label(ratio), "psnr")])


@pytest.mark.data
def test_masks_fall_in_their_bins(masks_dir: Path) -> None:
    for kind, folder in (("rect", ""), ("brush", ""), ("folder", str(masks_dir))):
        for ratio in HOLE_BINS:
            masks = bin_masks(MaskConfig(kind=kind, folder=folder), 32, ratio, 8, seed=1)
            ratios = masks.reshape(len(masks), -1).mean(1)
            assert np.all((ratios > ratio[0]) & (ratios <= ratio[1])), (kind, ratio, ratios)


@pytest.mark.data
def test_val_split_is_the_training_split(faces: Path) -> None:
    """Decoding only the validation images gives exactly what training held out."""
    cfg = DataConfig(path=str(faces), image_size=32, val_fraction=0.2)
    assert np.array_equal(eval_images(cfg, "val", 100), load_faces(cfg).val)
    assert len(eval_images(cfg, "all", 100)) == 60


def test_cli_writes_csv_and_markdown(tiny_checkpoint: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(tiny_checkpoint), "--data", "embedded", "--num-images", "4", "--mask-kind",
          "rect", "--out", str(tmp_path), "--device", "cpu"])
    printed = capsys.readouterr().out
    with open(tmp_path / "evaluation.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(HOLE_BINS) * len(metric_names())
    assert {r["method"] for r in rows} == {"model", "biharmonic", "telea"}
    assert {r["hole_ratio"] for r in rows} == {"(0.1, 0.2]", "(0.3, 0.4]", "(0.5, 0.6]"}
    assert all(np.isfinite(float(r["value"])) for r in rows if r["metric"] in ("psnr", "ssim", "l1"))
    md = (tmp_path / "evaluation.md").read_text()
    assert "| psnr ↑ | biharmonic |" in md and "| l1 ↓ | telea |" in md
    assert "| ssim ↑ | model |" in printed


def test_clear_errors(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def error(*args: str) -> str:
        with pytest.raises(SystemExit) as e:
            main(["evaluate", *args])
        assert e.value.code == 2
        return capsys.readouterr().err

    ck = str(tiny_checkpoint)
    assert "no such folder" in error(str(tmp_path / "missing"))
    assert "unknown baseline 'nope'" in error(ck, "--baselines", "biharmonic,nope")
    assert "does not exist" in error(ck, "--data", str(tmp_path / "nodata"))
    assert "mask folder" in error(ck, "--masks", str(tmp_path / "nomasks"))
    assert "unknown mask kind 'zigzag'" in error(ck, "--mask-kind", "zigzag")
    assert "--num-images must be at least 1" in error(ck, "--num-images", "0")


def test_ids_report_on_faces_no_training_saw(faces: Path) -> None:
    cfg = DataConfig(path=str(faces), image_size=32, split="ids", train_ids="1-40", val_ids="41-50")
    assert eval_images(cfg, "val", 100, ids="51-60").shape == (10, 32, 32, 3)
    with pytest.raises(UserError, match="includes 10 of the checkpoint's training faces"):
        eval_images(cfg, "val", 100, ids="31-60")
    with pytest.raises(UserError, match="no image of .* has such an id"):
        eval_images(cfg, "val", 100, ids="9000-9100")


def test_a_model_trained_on_train_masks_is_scored_on_the_held_out_files() -> None:
    from raysearch.evaluate import evaluation_masks

    trained = MaskConfig(kind="folder", folder="m", subset="train", ratio_weights=(1, 0, 1))
    scored = evaluation_masks(trained)
    assert scored.subset == "holdout" and scored.ratio_weights == ()
    assert evaluation_masks(MaskConfig(kind="folder", folder="m")).subset == "all"


def test_scoring_on_other_data_than_training_warns_once(tiny_checkpoint: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The tiny checkpoint trained on the embedded faces: scored on a folder, one warning line."""
    from PIL import Image

    from raysearch.data.embedded import embedded_faces

    folder = tmp_path / "faces"
    folder.mkdir()
    for i, face in enumerate(embedded_faces(12, 40)[0]):
        Image.fromarray(face).save(folder / f"{i + 1:06d}.png")
    common = ["--num-images", "3", "--mask-kind", "rect", "--device", "cpu", "--baselines", "",
              "--out", str(tmp_path / "ev")]
    main(["evaluate", str(tiny_checkpoint), "--data", str(folder), "--split", "all", *common])
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "trained on embedded" in warnings[0] and str(folder) in warnings[0]
    assert "trained on embedded" in (tmp_path / "ev" / "evaluation.md").read_text()
    main(["evaluate", str(tiny_checkpoint), "--data", "embedded", *common])
    assert "warning:" not in capsys.readouterr().err


def test_the_same_folder_written_two_ways_is_no_mismatch(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from raysearch.evaluate import data_mismatch

    (tmp_path / "celeba").mkdir()
    monkeypatch.chdir(tmp_path)
    trained = DataConfig(path="celeba")
    assert data_mismatch(trained, DataConfig(path=str(tmp_path / "celeba"))) is None
    assert data_mismatch(trained, DataConfig(path="./celeba/")) is None
    assert data_mismatch(trained, DataConfig(path="embedded")) is not None
