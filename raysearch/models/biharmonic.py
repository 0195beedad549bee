"""Biharmonic hole fill, the same linear system as scikit-image's ``inpaint_biharmonic``, made cheap.

scikit-image solves, for every hole pixel, the 13-point biharmonic stencil (``laplace(laplace(
delta))``, truncated with reflection at the image border) set to zero, known pixels moved to the
right-hand side, then clips each channel to the range of its known pixels. The system matrix
depends on the mask alone; the image only enters the right-hand side. So each mask's matrix is
built once, vectorised, and factorised once (SuperLU); every later image with that mask costs one
sparse product and two triangular solves. Training draws its holes from a fixed bank of masks, so
after the first epoch every fill is a cache hit (``cache_info`` says how many).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from scipy import sparse
from scipy.ndimage import laplace
from scipy.sparse.linalg import splu

_RADIUS = 2  # the biharmonic stencil reaches two pixels
_CACHE_SIZE = 1024  # factorised masks kept per process: a bank of 512 + validation fit (about 2 MiB each)


@lru_cache(maxsize=8)
def stencil_table(height: int, width: int) -> np.ndarray:
    """(H, W, 5, 5): the stencil coefficient of each pixel's neighbour at offset (dy, dx).

    Near the border scikit-image takes the stencil of the truncated neighbourhood (``laplace``
    with its default reflection on the cut window); entries outside the image are zero.
    """
    table = np.zeros((height, width, 2 * _RADIUS + 1, 2 * _RADIUS + 1))
    cache: dict[tuple[int, ...], np.ndarray] = {}
    for y in range(height):
        y0, y1 = max(y - _RADIUS, 0), min(y + _RADIUS + 1, height)
        for x in range(width):
            x0, x1 = max(x - _RADIUS, 0), min(x + _RADIUS + 1, width)
            key = (y1 - y0, x1 - x0, y - y0, x - x0)
            if key not in cache:
                delta = np.zeros(key[:2])
                delta[key[2], key[3]] = 1.0
                cache[key] = laplace(laplace(delta))
            oy, ox = y0 - (y - _RADIUS), x0 - (x - _RADIUS)
            table[y, x, oy : oy + key[0], ox : ox + key[1]] = cache[key]
    table.setflags(write=False)
    return table


@dataclass
class BiharmonicSystem:
    """One mask's factorised system: ``u_hole = lu.solve(-known @ image_flat)``."""

    hole: np.ndarray  # flat indices of the hole pixels
    known_flat: np.ndarray  # flat indices of the known pixels (for the clip limits)
    lu: object  # scipy SuperLU of the hole-hole matrix
    known: sparse.csr_matrix  # (n_hole, H*W): the stencil's known-neighbour coefficients

    def nbytes(self) -> int:
        """The factors' and the known-neighbour matrix's values and indices."""
        lu = self.lu
        factors = lu.L.nnz + lu.U.nnz  # type: ignore[attr-defined]
        return factors * 12 + self.known.nnz * 12 + (self.hole.size + self.known_flat.size) * 8

    def solve(self, flat: np.ndarray) -> np.ndarray:
        """(H*W, C) image -> (n_hole, C) hole values, clipped to the known pixels' range."""
        rhs = -(self.known @ flat)
        u = self.lu.solve(np.ascontiguousarray(rhs))  # type: ignore[attr-defined]
        known = flat[self.known_flat]
        return np.clip(u, known.min(0), known.max(0))


def build_system(hole_mask: np.ndarray) -> BiharmonicSystem | None:
    """The factorised system of a boolean (H, W) mask; None when nothing or everything is a hole."""
    h, w = hole_mask.shape
    flat_mask = hole_mask.reshape(-1)
    hole = np.flatnonzero(flat_mask)
    if len(hole) == 0 or len(hole) == flat_mask.size:
        return None
    table = stencil_table(h, w).reshape(h * w, -1)[hole]  # (n, 25)
    ys, xs = np.divmod(hole, w)
    dy, dx = np.divmod(np.arange((2 * _RADIUS + 1) ** 2), 2 * _RADIUS + 1)
    ny = ys[:, None] + dy[None, :] - _RADIUS
    nx = xs[:, None] + dx[None, :] - _RADIUS
    rows = np.broadcast_to(np.arange(len(hole))[:, None], table.shape)
    use = table != 0  # zero exactly where the neighbour lies outside the image
    rows, coefs = rows[use], table[use]
    neighbour = (ny * w + nx)[use]
    in_hole = flat_mask[neighbour]
    position = np.full(h * w, -1)
    position[hole] = np.arange(len(hole))
    n = len(hole)
    a = sparse.csc_matrix((coefs[in_hole], (rows[in_hole], position[neighbour[in_hole]])),
                          shape=(n, n))
    b = sparse.csr_matrix((coefs[~in_hole], (rows[~in_hole], neighbour[~in_hole])),
                          shape=(n, h * w))
    return BiharmonicSystem(hole, np.flatnonzero(~flat_mask), splu(a), b)


class SystemCache:
    """Factorised systems by mask content, least recently used dropped first."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self.items: OrderedDict[bytes, BiharmonicSystem | None] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, hole_mask: np.ndarray) -> BiharmonicSystem | None:
        key = hashlib.blake2b(np.packbits(hole_mask).tobytes() + repr(hole_mask.shape).encode(),
                              digest_size=16).digest()
        if key in self.items:
            self.hits += 1
            self.items.move_to_end(key)
            return self.items[key]
        self.misses += 1
        system = self.items[key] = build_system(hole_mask)
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return system


_SYSTEMS = SystemCache()


def cache_info() -> dict[str, int]:
    """Hits, misses, size and about how many bytes this process's factorised masks hold."""
    held = sum(s.nbytes() for s in _SYSTEMS.items.values() if s is not None)
    return {"hits": _SYSTEMS.hits, "misses": _SYSTEMS.misses, "size": len(_SYSTEMS.items),
            "bytes": held}


def biharmonic_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images, (B, 1, H, W) masks (1 = hole) -> the biharmonic fill, known kept.

    Linear in the image, so it works on any value range; computed in float64 on the CPU.
    """
    b, c, h, w = image.shape
    pixels = image.detach().to("cpu", torch.float64).permute(0, 2, 3, 1).reshape(b, h * w, c)
    flat = pixels.numpy().copy()
    holes = mask.detach()[:, 0].to("cpu").numpy() > 0.5
    for i in range(b):
        system = _SYSTEMS.get(holes[i])
        if system is None:
            if holes[i].all():
                flat[i] = 0.0  # nothing known: the middle of the range
            continue
        flat[i, system.hole] = system.solve(flat[i])
    out = torch.from_numpy(flat).reshape(b, h, w, c).permute(0, 3, 1, 2)
    return out.to(image.device, image.dtype)
