"""Perceptual metrics on pretrained networks' features, from weights files given by the user.

- LPIPS (Zhang et al. 2018, v0.1, VGG16 trunk): the ``lpips`` package's linear layers, which
  it ships (``lpips/weights/v0.1/vgg.pth``), on torchvision's ImageNet VGG16 read from the same
  ``vgg16-397923af.pth`` file the perceptual loss takes. Per image, lower is better.
- KID and FID on torch-fidelity's InceptionV3 (2048-d pool features, as torchmetrics computes
  them) read from its ``weights-inception-2015-12-05-6726825d.pth``. Set metrics (composites
  against the real faces). KID (unbiased polynomial-kernel MMD) is the main figure: FID is biased
  at a few hundred images and only comparable at equal counts.

Nothing is ever downloaded: a missing file is a ``UserError`` naming it and how to provide it.
The networks never fall back to random weights; tests make random weights *files* explicitly.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from raysearch.config import LossConfig
from raysearch.errors import UserError
from raysearch.losses.perceptual import VGG_LAYER_SETS, _load_state

VGG16 = VGG_LAYER_SETS["vgg16_relu3_3"]
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
LPIPS_ENV = "RAYSEARCH_LPIPS_WEIGHTS"
INCEPTION_ENV = "RAYSEARCH_INCEPTION_WEIGHTS"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000  # torchmetrics' default; fewer images use them all
_BATCH = 32


@dataclass(frozen=True)
class FeatureMetric:
    """Name, direction and display name of a feature metric (as ``metrics.Metric`` has)."""

    name: str
    mode: str
    display: str


FEATURE_METRICS = {
    "lpips": FeatureMetric("lpips", "min", "LPIPS (VGG)"),
    "kid": FeatureMetric("kid", "min", "KID"),
    "fid": FeatureMetric("fid", "min", "FID"),
}


def _hub_file(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _require_package(module: str, extra: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise UserError(f"{what} needs the {module} package: pip install 'raysearch[{extra}]'"
                        ) from None


def _pick(given: str | None, env: str, fallbacks: list[tuple[str, Path]]) -> tuple[str, Path]:
    """(what the error says when the path is not a file, with ``{path}`` in it; path): the option,
    else the variable, else the first fallback that exists (else the last one, to be named)."""
    if given:
        return "the file given, {path}, is not a file", Path(given).expanduser()
    if os.environ.get(env):
        return f"${env} names {{path}}, which is not a file", Path(os.environ[env]).expanduser()
    for where, path in fallbacks:
        if path.is_file():
            return where, path
    return fallbacks[-1]


def lpips_weights_path(given: str | None, loss: LossConfig | None = None) -> Path:
    """``given``, else ``$RAYSEARCH_LPIPS_WEIGHTS``, else the checkpoint's ``loss.vgg_weights``
    (when it is a VGG16 file), else torch's hub cache; a UserError when it is not a file."""
    fallbacks = []
    if loss is not None and loss.vgg_weights and loss.vgg == "vgg16_relu3_3":
        fallbacks.append(("the checkpoint's loss.vgg_weights, {path}, is not a file",
                          Path(loss.vgg_weights).expanduser()))
    fallbacks.append(("torch's hub cache has no {path}", _hub_file(VGG16.file)))
    where, path = _pick(given, LPIPS_ENV, fallbacks)
    if not path.is_file():
        raise UserError(
            f"LPIPS needs ImageNet VGG16 weights, but {where.format(path=path)}. Download "
            f"{VGG16.url} on a machine with internet and give --lpips-weights FILE (or set "
            f"{LPIPS_ENV}, or place it at {_hub_file(VGG16.file)}); raysearch never downloads.")
    return path


def inception_weights_path(given: str | None) -> Path:
    """``given``, else ``$RAYSEARCH_INCEPTION_WEIGHTS``, else torch's hub cache; a UserError when
    it is not a file."""
    where, path = _pick(given, INCEPTION_ENV,
                        [("torch's hub cache has no {path}", _hub_file(INCEPTION_FILE))])
    if not path.is_file():
        raise UserError(
            f"KID/FID need torch-fidelity's InceptionV3 weights, but {where.format(path=path)}. "
            f"Download {INCEPTION_URL} on a machine with internet and give --inception-weights "
            f"FILE (or set {INCEPTION_ENV}, or place it at {_hub_file(INCEPTION_FILE)}); "
            "raysearch never downloads.")
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's "pretrained" and torchmetrics' memory notes
        yield


def load_lpips(path: Path) -> nn.Module:
    """The ``lpips`` package's VGG LPIPS with the VGG16 trunk read from ``path`` (a torchvision
    ``vgg16`` state_dict; only ``features.*`` is used)."""
    _require_package("lpips", "lpips", "LPIPS")
    import lpips

    with _quiet():
        # pnet_rand: build the trunk without torchvision's download; its weights come from ``path``
        net = lpips.LPIPS(net="vgg", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    state = _load_state(path)
    trunk = net.net
    own = dict(trunk.state_dict())
    wanted = {}
    for key in own:  # sliceK.<features index>.<weight|bias>
        _, index, param = key.split(".")
        source = f"features.{index}.{param}"
        if source not in state or state[source].shape != own[key].shape:
            raise UserError(f"{path}: not torchvision's vgg16 state_dict (no {source} of shape "
                            f"{tuple(own[key].shape)}); give {VGG16.file}")
        wanted[key] = state[source]
    trunk.load_state_dict(wanted)
    return net.eval().requires_grad_(False)


def load_inception(path: Path) -> nn.Module:
    """torch-fidelity's InceptionV3 (through torchmetrics, which FID/KID use) from ``path``:
    uint8 (N, 3, H, W) -> 2048-d features."""
    _require_package("torch_fidelity", "fid", "KID/FID")
    _require_package("torchmetrics", "fid", "KID/FID")
    from torchmetrics.image.fid import NoTrainInceptionV3

    _load_state(path)  # a plain weights file, checked without unpickling code
    try:
        with _quiet():
            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                     feature_extractor_weights_path=str(path))
    except RuntimeError as e:  # load_state_dict: missing or mis-shaped keys
        raise UserError(f"{path}: not torch-fidelity's InceptionV3 weights ({str(e).splitlines()[0]}); "
                        f"give {INCEPTION_FILE}") from None
    return net


class _GivenFeatures(nn.Module):
    """Features computed once per image set and handed to torchmetrics' FID/KID as they are."""

    num_features = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def kid_and_fid(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> tuple[float, float, float]:
    """(KID mean, KID std over subsets, FID) between two sets of Inception features, by
    torchmetrics; the KID subsets are drawn with ``seed``."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    n = min(len(real), len(fake))
    if n < 2:
        raise ValueError("KID and FID need at least 2 images")
    with _quiet():
        kid = KernelInceptionDistance(feature=_GivenFeatures(), subsets=KID_SUBSETS,
                                      subset_size=min(KID_SUBSET_SIZE, n))
        fid = FrechetInceptionDistance(feature=_GivenFeatures())
    for metric in (kid, fid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return float(kid_mean), float(kid_std), float(fid.compute())


class FeatureScorer:
    """The loaded networks; LPIPS per image, KID and FID per set of composites."""

    def __init__(self, lpips_net: nn.Module | None = None, inception: nn.Module | None = None,
                 device: torch.device | None = None, seed: int = 0) -> None:
        self.device = device or torch.device("cpu")
        self.lpips = lpips_net.to(self.device) if lpips_net is not None else None
        self.inception = inception.to(self.device) if inception is not None else None
        self.seed = seed
        self._real: torch.Tensor | None = None

    @property
    def names(self) -> list[str]:
        return (["lpips"] if self.lpips is not None else []) + (
            ["kid", "fid"] if self.inception is not None else [])

    @torch.no_grad()
    def lpips_per_image(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """LPIPS of each image pair, images (N, 3, H, W) in [0, 1]."""
        assert self.lpips is not None
        out = [self.lpips(pred[i : i + _BATCH].float().to(self.device),
                          target[i : i + _BATCH].float().to(self.device), normalize=True).flatten()
               for i in range(0, len(pred), _BATCH)]
        return torch.cat(out).double().cpu()

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Inception features (N, 2048) of images (N, 3, H, W) in [0, 1], quantised to uint8 as a
        saved image would be."""
        assert self.inception is not None
        u8 = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        return torch.cat([self.inception(u8[i : i + _BATCH].to(self.device)).double().cpu()
                          for i in range(0, len(u8), _BATCH)])

    def set_real(self, target: torch.Tensor) -> None:
        """The real faces KID and FID compare every set of composites with (features once)."""
        if self.inception is not None:
            self._real = self.features(target)

    def score(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[dict[str, float], dict[str, float]]:
        """({metric: value}, {metric: spread}) for one set of composites against ``target``:
        mean LPIPS, KID (spread: its std over subsets) and FID."""
        values: dict[str, float] = {}
        spread: dict[str, float] = {}
        if self.lpips is not None:
            values["lpips"] = float(self.lpips_per_image(pred, target).mean())
        if self.inception is not None:
            assert self._real is not None, "set_real first"
            kid, kid_std, fid = kid_and_fid(self._real, self.features(pred), self.seed)
            values["kid"], spread["kid"], values["fid"] = kid, kid_std, fid
        return values, spread


def feature_scorer(lpips_weights: str | None, inception_weights: str | None, perceptual: bool,
                   loss: LossConfig | None, device: torch.device, seed: int = 0
                   ) -> FeatureScorer | None:
    """The scorer ``evaluate`` asked for: LPIPS with ``--lpips-weights`` or ``--perceptual``, KID
    and FID with ``--inception-weights`` or ``--perceptual``; None when neither is asked for."""
    want_lpips, want_inception = perceptual or bool(lpips_weights), perceptual or bool(inception_weights)
    if not (want_lpips or want_inception):
        return None
    # every file is found (or refused) first: the user's own mistake before a missing extra
    lpips_path = lpips_weights_path(lpips_weights, loss) if want_lpips else None
    inception_path = inception_weights_path(inception_weights) if want_inception else None
    if want_lpips:
        _require_package("lpips", "lpips", "LPIPS")
    if want_inception:
        _require_package("torch_fidelity", "fid", "KID/FID")
        _require_package("torchmetrics", "fid", "KID/FID")
    return FeatureScorer(load_lpips(lpips_path) if lpips_path else None,
                         load_inception(inception_path) if inception_path else None, device, seed)
