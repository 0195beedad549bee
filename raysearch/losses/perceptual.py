"""Perceptual and style losses on frozen ImageNet VGG features (Johnson et al. 2016; Gatys et al.),
in the form partial-convolution and RFR-Net inpainting use: L1 between features (perceptual) and
between their Gram matrices (style), for the raw output and for the composite.

The weights come from a file (``loss.vgg_weights``) or torch's hub cache; nothing is downloaded.
``require_vgg_weights`` says, before any work starts, what is missing and how to provide it.
``loss.vgg_random`` builds the network with random weights instead: for tests only.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from raysearch.config import Config, LossConfig
from raysearch.errors import UserError

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LayerSet:
    """Which torchvision VGG and which of its ``features`` outputs (indices of ReLU modules)."""

    arch: str
    layout: str  # torchvision's name for the architecture's layer list (D = VGG16, E = VGG19)
    file: str  # torchvision's file name in the hub cache
    url: str
    layers: tuple[int, ...]


VGG_LAYER_SETS = {
    # Johnson et al.'s feature reconstruction layer
    "vgg16_relu3_3": LayerSet("vgg16", "D", "vgg16-397923af.pth",
                              "https://download.pytorch.org/models/vgg16-397923af.pth", (15,)),
    # Gatys et al.'s style layers relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
    "vgg19": LayerSet("vgg19", "E", "vgg19-dcbbf910.pth",
                      "https://download.pytorch.org/models/vgg19-dcbbf910.pth", (1, 6, 11, 20, 29)),
}


def uses_vgg(cfg: LossConfig) -> bool:
    return cfg.perceptual_weight > 0 or cfg.style_weight > 0


def layer_set(cfg: LossConfig) -> LayerSet:
    try:
        return VGG_LAYER_SETS[cfg.vgg]
    except KeyError:
        raise UserError(
            f"loss.vgg: unknown VGG layer set {cfg.vgg!r}; "
            f"known: {', '.join(sorted(VGG_LAYER_SETS))}"
        ) from None


def vgg_weights_path(cfg: LossConfig) -> Path:
    """The configured file, or torchvision's file name in torch's hub cache."""
    if cfg.vgg_weights:
        return Path(cfg.vgg_weights).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / layer_set(cfg).file


def require_vgg_weights(cfg: Config) -> None:
    """A UserError naming the missing VGG file and how to provide it, when the losses need one."""
    loss = cfg.loss
    if not uses_vgg(loss) or loss.vgg_random:
        return
    path = vgg_weights_path(loss)
    if path.is_file():
        return
    spec = layer_set(loss)
    where = (f"loss.vgg_weights points to {path}, which is not a file" if loss.vgg_weights
             else f"torch's hub cache has no {path}")
    raise UserError(
        f"loss.perceptual_weight / loss.style_weight need ImageNet {spec.arch.upper()} weights, "
        f"but {where}. Either download {spec.url} on a machine with internet and set "
        f"loss.vgg_weights to the file, or place it at "
        f"{Path(torch.hub.get_dir()) / 'checkpoints' / spec.file} (torch's hub cache; TORCH_HOME "
        f"moves it), or set the perceptual and style weights to 0."
    )


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise UserError(f"{path}: not a readable torch weights file ({e})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a state_dict")
    return state


class VGGFeatures(nn.Module):
    """Frozen VGG ``features`` cut after the last layer used; returns the chosen layers' outputs."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        spec = layer_set(cfg)
        # only the convolutional part: the classifier alone would be 120M parameters
        from torchvision.models.vgg import cfgs, make_layers  # 1-4 s to import: only when used

        net = make_layers(cfgs[spec.layout])[: max(spec.layers) + 1]
        if not cfg.vgg_random:
            state = _load_state(vgg_weights_path(cfg))
            wanted = {k: v for k, v in state.items() if k.startswith("features.")}
            own = {f"features.{k}" for k in net.state_dict()}
            missing = sorted(own - set(wanted))
            if missing:
                raise UserError(f"{vgg_weights_path(cfg)}: not a torchvision {spec.arch} "
                                f"state_dict (no {missing[0]})")
            net.load_state_dict({k[len("features."):]: wanted[k] for k in own})
        for module in net:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # the chosen outputs must survive the next layers
        self.net = net.eval().requires_grad_(False)
        self.layers = set(spec.layers)
        for name, value in (("mean", _IMAGENET_MEAN), ("std", _IMAGENET_STD)):
            self.register_buffer(name, torch.tensor(value).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always eval: frozen statistics, whatever the caller does

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``image`` in [-1, 1]; ImageNet-normalised before the network."""
        x = ((image + 1) / 2 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in self.layers:
                out.append(x)
        return out


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations (B, C, C), normalised by C*H*W."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def perceptual_and_style(vgg: VGGFeatures, output: torch.Tensor, comp: torch.Tensor,
                         target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed over layers, for output and composite against the target (one VGG pass for all)."""
    n = len(target)
    with torch.no_grad():
        truth = vgg(target)
    feats = vgg(torch.cat([output, comp]))
    perceptual = output.new_zeros(())
    style = output.new_zeros(())
    for f, t in zip(feats, truth, strict=True):
        for part in (f[:n], f[n:]):
            perceptual = perceptual + F.l1_loss(part, t)
            style = style + F.l1_loss(gram(part), gram(t))
    return perceptual, style
