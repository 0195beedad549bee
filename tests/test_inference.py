"""Inference on real files: known pixels bit-exact at any size and blend, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from raysearch.blending import poisson_blend
from raysearch.cli import main
from raysearch.inference import Inpainter, inpaint_paths


def _write(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def _case(folder: Path, h: int, w: int, seed: int = 0) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A smooth, slightly noisy image whose hole is painted magenta (a fill must change it)."""
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.linspace(40, 160, h), np.linspace(0, 60, w))[..., None] * [1.0, 0.8, 0.6]
    image = np.clip(ramp + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 2, w // 5 : w - w // 3] = True
    mask[-3:, :4] = True  # a hole touching the border too
    image[mask] = (255, 0, 255)
    stem = f"img{seed}"
    return (_write(folder / f"{stem}.png", image), _write(folder / f"{stem}_mask.png",
            (mask * 255).astype(np.uint8)), image, mask)


@pytest.mark.parametrize("blend", ["none", "poisson"])
@pytest.mark.parametrize("size", [(32, 32), (45, 37), (109, 89)])
def test_known_pixels_are_bit_exact(tiny_checkpoint: Path, tmp_path: Path, blend: str,
                                    size: tuple[int, int]) -> None:
    image_path, mask_path, image, mask = _case(tmp_path, *size)
    out = tmp_path / "out.png"
    main(["inpaint", str(tiny_checkpoint), str(image_path), str(mask_path), "--out", str(out),
          "--blend", blend])
    result = np.asarray(Image.open(out))
    assert result.shape == image.shape and result.dtype == np.uint8
    assert np.array_equal(result[~mask], image[~mask])
    # the hole was filled: its pixels are far from the magenta they replaced
    assert np.abs(result[mask].astype(int) - (255, 0, 255)).mean() > 40


def test_folder_of_images_with_folder_of_masks(tiny_checkpoint: Path, tmp_path: Path) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    cases = [_case(images, 32, 32, seed) for seed in range(3)]
    for image_path, mask_path, _, _ in cases:
        mask_path.rename(masks / image_path.name)  # masks are matched by file name
    written = inpaint_paths(tiny_checkpoint, images, masks, out)
    assert sorted(p.name for p in written) == ["img0.png", "img1.png", "img2.png"]
    for (image_path, _, image, mask), path in zip(cases, sorted(written), strict=True):
        assert path.name == image_path.name
        assert np.array_equal(np.asarray(Image.open(path))[~mask], image[~mask])


def test_empty_mask_returns_the_image(tiny_checkpoint: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = Inpainter.load(tiny_checkpoint, "cpu")(image, np.zeros((32, 32), bool))
    assert np.array_equal(out, image)


def test_poisson_blend_of_an_image_into_itself_changes_nothing_much() -> None:
    """Cloning an image into itself must be (nearly) the identity: the clone is aligned."""
    rng = np.random.default_rng(2)
    image = (np.add.outer(np.arange(40), np.arange(50))[..., None] * [2, 1, 3] % 256).astype(np.uint8)
    image = np.clip(image + rng.integers(0, 8, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[5:20, 0:30] = True  # touches the left border
    blended = poisson_blend(image.copy(), image, mask)
    assert np.array_equal(blended[~mask], image[~mask])
    assert np.abs(blended.astype(int) - image).max() <= 2


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_clear_errors(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image_path, mask_path, _, _ = _case(tmp_path, 45, 37)
    small_mask = _write(tmp_path / "small.png", np.zeros((20, 30), np.uint8))
    ck, im, out = str(tiny_checkpoint), str(image_path), str(tmp_path / "o.png")
    err = _error(capsys, ["inpaint", ck, im, str(small_mask), "--out", out])
    assert "is 37x45" in err and "is 30x20" in err and "same size" in err
    assert "no such file" in _error(capsys, ["inpaint", ck, str(tmp_path / "x.png"), str(mask_path),
                                             "--out", out])
    assert "mask" in _error(capsys, ["inpaint", ck, im, str(tmp_path / "none.png"), "--out", out])
    assert "lossless" in _error(capsys, ["inpaint", ck, im, str(mask_path), "--out",
                                         str(tmp_path / "o.jpg")])
    assert "no such folder" in _error(capsys, ["inpaint", str(tmp_path / "nock"), im, str(mask_path),
                                               "--out", out])
    (tmp_path / "notimage.png").write_text("hello")
    assert "not a readable image" in _error(capsys, ["inpaint", ck, str(tmp_path / "notimage.png"),
                                                     str(mask_path), "--out", out])
    images, masks = tmp_path / "imgs", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    _case(images, 32, 32)[1].rename(masks / "other.png")
    err = _error(capsys, ["inpaint", ck, str(images), str(masks), "--out", str(tmp_path / "o")])
    assert "no mask for img0.png" in err


def _nvidia_like_mask(path: Path, size: int = 512) -> np.ndarray:
    """A 512x512 irregular mask (white strokes), as NVIDIA's files are."""
    import cv2

    mask = np.zeros((size, size), np.uint8)
    rng = np.random.default_rng(5)
    for _ in range(6):
        p0, p1 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(mask, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 255, int(rng.integers(20, 50)))
    _write(path, mask)
    return mask


def test_a_512_mask_on_an_89x109_face_needs_and_takes_resize_mask(
        tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from raysearch.inference import read_mask
    from raysearch.masks.folder import load_mask

    image_path, _, image, _ = _case(tmp_path, 109, 89)
    mask_path = tmp_path / "02000.png"
    _nvidia_like_mask(mask_path)
    ck, out = str(tiny_checkpoint), tmp_path / "filled.png"
    err = _error(capsys, ["inpaint", ck, str(image_path), str(mask_path), "--out", str(out)])
    assert "is 89x109" in err and "is 512x512" in err and "--resize-mask" in err
    main(["inpaint", ck, str(image_path), str(mask_path), "--out", str(out), "--resize-mask"])
    result = np.asarray(Image.open(out))
    hole = read_mask(mask_path, (109, 89))
    assert result.shape == image.shape and hole.shape == (109, 89) and hole.dtype == bool
    assert 0.05 < hole.mean() < 0.95
    assert np.array_equal(result[~hole], image[~hole])  # known pixels of the resized mask exact
    assert not np.array_equal(result[hole], image[hole])
    # the same resizing evaluate applies to mask files (at its square size)
    assert np.array_equal(read_mask(mask_path, (64, 64)), load_mask(mask_path, 64).astype(bool))


@pytest.mark.data
def test_resize_mask_on_real_nvidia_masks_and_faces(tiny_checkpoint: Path, tmp_path: Path,
                                                    celeba_dir: Path, masks_dir: Path) -> None:
    face = celeba_dir / "007501.jpg"
    out = tmp_path / "out"
    out.mkdir()
    main(["inpaint", str(tiny_checkpoint), str(face), str(masks_dir / "06000.png"), "--out",
          str(out), "--resize-mask"])
    result = np.asarray(Image.open(out / "007501.png"))
    image = np.asarray(Image.open(face).convert("RGB"))
    from raysearch.inference import read_mask

    hole = read_mask(masks_dir / "06000.png", image.shape[:2])
    assert result.shape == image.shape == (109, 89, 3)
    assert np.array_equal(result[~hole], image[~hole])
