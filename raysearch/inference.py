"""Inpainting with a trained checkpoint: images of any size, known pixels kept bit-exact.

The model works at its config's ``data.image_size``. An image of another size is resized to it
(INTER_AREA, the mask alike: any model pixel touched by the hole counts as hole), inpainted, and
the output resized back (bicubic). Only hole pixels take the model's output; every other pixel is
the input's own uint8 value, so known pixels are bit-exact whatever the size or blending.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from raysearch.blending import paste_known, poisson_blend
from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.masks.folder import resize_mask
from raysearch.metrics import composite
from raysearch.preflight import check_checkpoint_file
from raysearch.train.checkpoint import load_generator
from raysearch.train.loop import pick_device, to_tensor
from raysearch.train.samples import to_uint8

BLENDS = ("none", "poisson")
LOSSLESS = (".png", ".bmp", ".tif", ".tiff")  # JPEG would change the known pixels


@torch.no_grad()
def generate(generator: nn.Module, images: np.ndarray, masks: np.ndarray, device: torch.device,
             batch: int = 64) -> torch.Tensor:
    """Composites (N, 3, H, W) in [-1, 1]: the output in the holes, the images elsewhere.

    ``images`` are uint8 (N, H, W, 3), ``masks`` (N, H, W) with 1 = hole.
    """
    outs = []
    for start in range(0, len(images), batch):
        img = to_tensor(images[start : start + batch], device)
        m = torch.from_numpy(np.ascontiguousarray(masks[start : start + batch], np.float32))
        m = m[:, None].to(device)
        out = generator(img * (1 - m), m)
        out = out[-1] if isinstance(out, tuple) else out
        outs.append(composite(out.clamp(-1, 1), img, m).cpu())
    return torch.cat(outs)


@dataclass
class Inpainter:
    """A checkpoint's generator, ready to fill holes in uint8 RGB images."""

    generator: nn.Module
    cfg: Config
    device: torch.device

    @classmethod
    def load(cls, checkpoint: Path, device: str = "auto") -> Inpainter:
        check_checkpoint_file(checkpoint)
        dev = pick_device(device)
        generator, cfg = load_generator(Path(checkpoint), dev)
        return cls(generator, cfg, dev)

    @property
    def size(self) -> int:
        return self.cfg.data.image_size

    def __call__(self, image: np.ndarray, mask: np.ndarray, blend: str = "none") -> np.ndarray:
        """Inpaint one (H, W, 3) uint8 image where the boolean (H, W) mask is true."""
        if blend not in BLENDS:
            raise UserError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
        if image.shape[:2] != mask.shape:
            raise UserError(f"image is {_size(image)} but mask is {_size(mask)}; they must match")
        if not mask.any():
            return image.copy()
        h, w = mask.shape
        s = self.size
        if (h, w) == (s, s):
            small, small_mask = image, mask
        else:
            small = cv2.resize(image, (s, s), interpolation=cv2.INTER_AREA)
            small_mask = cv2.resize(mask.astype(np.float32), (s, s), interpolation=cv2.INTER_AREA) > 0
        comp = generate(self.generator, small[None], small_mask[None], self.device)
        out = to_uint8(comp)[0]
        if (h, w) != (s, s):
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)
        if blend == "poisson":
            return poisson_blend(out, image, mask)
        return paste_known(out, image, mask)


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"


def _open(path: Path, mode: str, what: str) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"{what} {path}: no such file")
    try:
        with Image.open(path) as im:
            return np.array(im.convert(mode))  # writable: torch.from_numpy warns on read-only
    except (OSError, UnidentifiedImageError, ValueError):
        raise UserError(f"{what} {path}: not a readable image") from None


def read_image(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (no EXIF rotation: pixels as stored)."""
    return _open(path, "RGB", "image")


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask file as a boolean (H, W) array: white (>= 128) = hole; with ``size`` (H, W), resized
    to it first as ``evaluate`` resizes mask files (area averaging, then the threshold)."""
    grey = _open(path, "L", "mask")
    if size is not None and grey.shape != size:
        return resize_mask(grey, size[1], size[0])
    return grey >= 128


def _check_output(out: Path) -> None:
    if out.suffix.lower() not in LOSSLESS:
        raise UserError(f"--out {out}: use a lossless format ({', '.join(LOSSLESS)}) so that known "
                        "pixels stay exact")


def inpaint_file(inpainter: Inpainter, image_path: Path, mask_path: Path, out: Path,
                 blend: str = "none", resize_mask: bool = False) -> Path:
    """Read an image and its mask (resized to the image with ``resize_mask``), inpaint, write
    ``out`` (lossless)."""
    _check_output(out)
    image = read_image(image_path)
    mask = read_mask(mask_path, image.shape[:2] if resize_mask else None)
    if image.shape[:2] != mask.shape:
        raise UserError(f"image {image_path} is {_size(image)} but mask {mask_path} is "
                        f"{_size(mask)}; they must be the same size, or give --resize-mask to "
                        "resize the mask to the image (as evaluate resizes mask files)")
    result = inpainter(image, mask, blend)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result).save(out)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e}") from None
    return out


def _mask_for(image: Path, masks: Path) -> Path:
    """The mask with the image's file stem in the folder ``masks``."""
    from raysearch.data.faces import IMAGE_SUFFIXES

    for suffix in (*IMAGE_SUFFIXES, ".bmp"):
        for candidate in (masks / f"{image.stem}{suffix}", masks / f"{image.stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    raise UserError(f"no mask for {image.name} in {masks} (masks are matched by file name: "
                    f"{image.stem}.png)")


def inpaint_paths(checkpoint: Path, image: Path, mask: Path, out: Path, blend: str = "none",
                  device: str = "auto", resize_mask: bool = False) -> list[Path]:
    """One image, or every image of a folder (masks: one file for all, or a folder by name);
    ``resize_mask``: masks of another size are resized to their image."""
    from raysearch.data.faces import list_images

    if not image.exists():
        raise UserError(f"image {image}: no such file or folder")
    if not mask.exists():
        raise UserError(f"mask {mask}: no such file or folder")
    if blend not in BLENDS:
        raise UserError(f"--blend must be one of {', '.join(BLENDS)}, got {blend!r}")
    if image.is_dir():
        images = list_images(image)
        pairs = [(p, _mask_for(p, mask) if mask.is_dir() else mask) for p in images]
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file; give a folder when IMAGE is a folder")
        targets = [out / f"{p.stem}.png" for p in images]
    else:
        if mask.is_dir():
            raise UserError(f"mask {mask} is a folder; give a mask file for a single image")
        pairs = [(image, mask)]
        targets = [out / f"{image.stem}.png" if out.is_dir() else out]
    for t in targets:
        _check_output(t)
    inpainter = Inpainter.load(checkpoint, device)
    return [inpaint_file(inpainter, i, m, t, blend, resize_mask)
            for (i, m), t in zip(pairs, targets, strict=True)]
