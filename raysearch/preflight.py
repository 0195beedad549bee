"""Checks of user input that need no torch, so that a wrong device or a damaged checkpoint file
is answered before torch loads (1.5-3 s on a small machine). The torch-side code calls the same
checks, so each message has one home."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from raysearch.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
WEIGHTS = "checkpoint.pt"
# device nodes without which no CUDA (NVIDIA, or ROCm through torch's cuda API) can run on Linux
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")
NO_CUDA = "device cuda: this machine has no CUDA GPU that torch can use (use auto or cpu)"


def check_device(name: str) -> None:
    """The device is one of DEVICES; ``cuda`` on a Linux machine with no GPU device node is
    refused here (elsewhere, and where a node exists, torch decides)."""
    if name not in DEVICES:
        raise UserError(f"device must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and sys.platform == "linux" and not any(map(Path.exists, map(Path, _GPU_NODES))):
        raise UserError(NO_CUDA)


def check_checkpoint_file(folder: Path) -> Path:
    """``folder/checkpoint.pt`` exists and is the zip archive ``torch.save`` writes (empty,
    truncated or random bytes are not); what is inside is for ``torch.load`` to judge."""
    if not Path(folder).is_dir():
        raise UserError(f"checkpoint {folder}: no such folder (give one that 'raysearch best' "
                        "wrote: checkpoint.pt + config.yaml)")
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise UserError(f"{folder}: not a raysearch checkpoint (no {WEIGHTS})")
    reason = ""
    if path.stat().st_size == 0:
        reason = "the file is empty"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in archive.namelist()):
                    reason = "a zip archive, but not one torch.save wrote (no data.pkl)"
        except (zipfile.BadZipFile, OSError) as e:
            reason = f"not the zip archive torch.save writes: {e}; truncated or another file?"
    if reason:
        raise UserError(f"{path}: not a readable checkpoint ({reason})")
    return path
