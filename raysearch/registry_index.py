"""What the registries hold, without importing torch: a mistyped name is answered in a blink.

The generators, critics, hole fills, losses, mask kinds and metrics register themselves in modules
that import torch, and importing torch alone takes 1.5-3 s on a small machine. A wrong
``model.generator`` or ``--metric`` should not wait for it. ``registry_index.json`` beside this
file lists every registered name, each metric's direction and each family's knobs, stamped with a
hash of the source files that register them. Checks read it only while that hash matches what is
on disk (a new family module, or an edited one, falls back to importing the registries) and only
while the registries are not already imported in this process (a family registered at run time,
as a test does, is seen). The index never decides that a config is valid; it only answers misses
early, with the same messages; the full check with the real registries follows.

Regenerate it after adding or renaming a registered thing (a test says so when it is stale)::

    python -m raysearch.registry_index
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
INDEX_FILE = PACKAGE / "registry_index.json"
SOURCES = ("models", "masks", "losses", "metrics.py")  # where registrations live
# modules whose presence means torch and the live registries are loaded in this process
LIVE_MODULES = ("raysearch.models", "raysearch.losses", "raysearch.metrics")
MASKS_MODULE = "raysearch.masks"  # torch-free: loaded early to check a mask folder


@dataclass(frozen=True)
class Names:
    """The names a config may use, from the live registries or from the index."""

    registries: dict[str, list[str]]  # config role -> registered names (sorted)
    kinds: dict[str, str]  # config role -> the registry's own word ("mask kind", ...)
    metrics: dict[str, str]  # metric name -> "max" | "min"
    knobs: dict[str, type]  # family -> its parameter dataclass

    def to_json(self) -> dict[str, Any]:
        return {"registries": self.registries, "kinds": self.kinds, "metrics": self.metrics,
                "knobs": {f: _fields(cls) for f, cls in self.knobs.items()}}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Names:
        knobs = {f: _dataclass(f, spec) for f, spec in raw["knobs"].items()}
        return cls(raw["registries"], raw["kinds"], raw["metrics"], knobs)


def _fields(cls: type) -> list[list[Any]]:
    """A parameter dataclass as ``[[name, annotation, default], ...]`` (annotations as text)."""
    out = []
    for f in dataclasses.fields(cls):
        hint = f.type if isinstance(f.type, str) else f.type.__name__
        out.append([f.name, hint, f.default])
    return out


def _dataclass(family: str, spec: list[list[Any]]) -> type:
    """The family's knobs rebuilt as a dataclass that ``config.build_section`` checks alike."""
    fields = [(name, hint, dataclasses.field(default=tuple(default) if isinstance(default, list)
                                             else default))  # JSON wrote a tuple as a list
              for name, hint, default in spec]
    return dataclasses.make_dataclass(f"{family}_knobs", fields, frozen=True)


def fingerprint() -> str:
    """A hash of every source file that registers something (path and bytes)."""
    digest = hashlib.sha256()
    for source in SOURCES:
        path = PACKAGE / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def live() -> Names:
    """The registries themselves (imports torch)."""
    from raysearch.losses import ADVERSARIAL, VGG_LAYER_SETS
    from raysearch.masks import MASKS
    from raysearch.metrics import METRICS
    from raysearch.models import CRITICS, GENERATORS, HOLE_FILLS
    from raysearch.registry import Registry

    roles: dict[str, Registry[Any]] = {"model.generator": GENERATORS, "model.critic": CRITICS,
             "model.hole_fill": HOLE_FILLS, "loss.adversarial": ADVERSARIAL, "mask.kind": MASKS}
    registries = {role: reg.names() for role, reg in roles.items()}
    kinds = {role: reg.kind for role, reg in roles.items()}
    registries["loss.vgg"] = sorted(VGG_LAYER_SETS)
    kinds["loss.vgg"] = "VGG layer set"
    metrics = {n: METRICS.get(n).mode for n in METRICS.names()}
    knobs = {f: GENERATORS.get(f).params for f in GENERATORS.names()}
    return Names(registries, kinds, metrics, knobs)


@cache
def _indexed() -> Names | None:
    try:
        raw = json.loads(INDEX_FILE.read_text())
    except (OSError, ValueError):
        return None
    if raw.get("fingerprint") != fingerprint():
        return None
    return Names.from_json(raw)


def indexed() -> Names | None:
    """The index, when it describes the code on disk and the registries are not loaded here."""
    if any(m in sys.modules for m in LIVE_MODULES):
        return None
    index = _indexed()
    if index is None or MASKS_MODULE not in sys.modules:
        return index
    from raysearch.masks import MASKS  # loaded already: its own names, registered at run time too

    return dataclasses.replace(index, registries={**index.registries, "mask.kind": MASKS.names()})


def names() -> Names:
    """The index when it is current, else the live registries."""
    return indexed() or live()


def write(path: Path = INDEX_FILE) -> Path:
    body = {"fingerprint": fingerprint(), **live().to_json()}
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
