"""Typed configuration of one training run, built from nested dicts (YAML) and validated once.

Every key is addressable by a dotted path (``model.skip``, ``loss.l1_hole``): search spaces and
``--set`` overrides use those paths, and unknown ones are refused with the valid ones listed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raysearch.errors import UserError

MASK_SUBSETS = ("all", "train", "holdout")
PRECISIONS = ("fp32", "bf16", "fp16")  # train.precision: autocast dtype of forward passes and losses


@dataclass
class DataConfig:
    """Where the faces come from and how they are cut."""

    path: str = "embedded"  # "embedded", a folder of jpg/png, or Parquet shards (file or folder)
    image_size: int = 32  # side of the square the faces are resized to (32..256)
    crop: str = "auto"  # auto | celeba | center | none
    num_images: int = 640  # embedded dataset only: how many faces to draw
    max_images: int = 0  # cap on images read from a folder or shards (0 = all)
    split: str = "fraction"  # fraction | ids
    val_fraction: float = 0.1  # split=fraction: share of images held out for validation
    train_ids: str = ""  # split=ids: e.g. "1-7000" (numeric file stems, inclusive)
    val_ids: str = ""  # split=ids: e.g. "7001-8000"
    num_val: int = 64  # validation pairs scored per epoch (fixed images and holes)
    seed: int = 0  # seeds the split and the fixed validation holes (same for every trial)


@dataclass
class MaskConfig:
    """How holes are made for training (validation reuses the same kind with a fixed seed)."""

    kind: str = "rect"  # see raysearch.masks: center | rect | brush | folder | ...
    ratio: tuple[float, float] = (0.1, 0.4)  # hole-to-image area ratio bin (low, high]
    folder: str = ""  # kind=folder: directory of mask PNGs, white = hole
    bank_size: int = 512  # training masks drawn once per run and sampled from
    # weights of equal sub-bins of ``ratio`` (e.g. [1, 0, 1, 0, 1] over (0.1, 0.6] draws only from
    # (0.1,0.2], (0.3,0.4], (0.5,0.6]: the evaluation bins); empty = one bin, as any kind draws it.
    # A list or a comma-separated string ("1,0,1,0,1": searchable as a categorical choice)
    ratio_weights: tuple[float, ...] = ()
    subset: str = "all"  # folder masks: all | train (4 of every 5 files) | holdout (the 5th)


@dataclass
class ModelConfig:
    """Generator and critic architecture."""

    generator: str = "skip_encoder_decoder"
    critic: str = "global+local"
    skip: bool = True  # skip connections encoder -> decoder
    depth: int = 4  # down-sampling steps of the generator
    base_channels: int = 32
    critic_channels: int = 32
    critic_depth: int = 3
    critic_conditional: bool = False  # critic also sees the broken image and the mask
    hole_fill: str = "zero"  # what every generator sees in the hole: zero | mean | nearest | telea
    #                          | biharmonic (scikit-image's inpaint_biharmonic, factorised per mask)
    residual: bool = False  # output = fill + zero-initialised correction: untrained = the fill
    # each generator family's own knobs, as ``model.<family>.<key>`` (``model.rfr_unet.iterations``):
    # their dataclass and checks live beside the family's builder (``raysearch.models``); here
    # they are kept as given, and the family fills in its defaults when it is checked
    families: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class LossConfig:
    """Loss terms and weights."""

    adversarial: str = "wgan_gp"
    adv_weight: float = 0.01
    l1_hole: float = 6.0
    l1_valid: float = 1.0
    gp_weight: float = 10.0
    gp_region: str = "hole"  # hole | all: where the gradient penalty is taken
    clip_value: float = 0.01  # wgan_clip: critic weights are clipped to [-clip_value, clip_value]
    perceptual_weight: float = 0.0  # VGG feature L1 on output and composite
    style_weight: float = 0.0  # Gram-matrix L1 on the same VGG features
    tv_weight: float = 0.0  # total variation of the composite
    vgg: str = "vgg16_relu3_3"  # feature layers: vgg16_relu3_3 | vgg19 (relu1_1 .. relu5_1)
    vgg_weights: str = ""  # torchvision VGG state_dict file; empty = torch's hub cache
    vgg_random: bool = False  # random VGG weights instead (tests only: the loss is meaningless)
    recon_only_epochs: int = 0  # first epochs without critic or adversarial term (two-stage)
    adv_warmup_epochs: float = 0.0  # then adv_weight ramps up linearly over this many epochs


@dataclass
class OptimConfig:
    """Adam for both players."""

    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.9
    critic_steps: int = 1  # critic updates per generator update


@dataclass
class TrainConfig:
    """Loop length, batch and bookkeeping."""

    epochs: int = 6
    batch_size: int = 32
    seed: int = 0  # per-trial seed: weights, batches and training holes
    num_threads: int = 0  # torch intra-op threads (0 = leave as set by the launcher)
    device: str = "auto"  # auto | cpu | cuda
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch always saves)
    sample_grid: bool = True  # write masked | output | truth PNG each checkpoint
    # decay of an exponential moving average of the generator's weights (0 = off): the average
    # is what validation scores, checkpoints hold and ``best`` hands back. On by default: at 4
    # epochs it cut the seed-to-seed spread of val_psnr about 6x and raised it by 0.5 dB (issue
    # 20, BENCHMARKS.md), so a search ranks configurations rather than lucky seeds
    ema: float = 0.99
    # autocast of the forward passes and losses: fp32 (off) | bf16 | fp16 (CUDA only, with a
    # GradScaler per optimiser); validation always scores in fp32
    precision: str = "fp32"
    channels_last: bool = False  # networks and images in torch.channels_last (NHWC) memory
    # draw each epoch's batch order and training holes with a torch generator on the device, so
    # that nothing but the step's logs crosses host<->device (the images and mask bank live on
    # the device either way); off: numpy draws, as before, copied over each step
    data_on_device: bool = False


@dataclass
class Config:
    """One training run: what every trial, checkpoint and ``raysearch train`` is built from."""

    data: DataConfig = field(default_factory=DataConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] |= out["model"].pop("families")  # model.<family>: {...}, as in the YAML
        out["mask"]["ratio"] = list(self.mask.ratio)
        out["mask"]["ratio_weights"] = list(self.mask.ratio_weights)
        return out

    def with_overrides(self, overrides: dict[str, Any], where: str = "override") -> Config:
        """A copy with dotted-path values replaced, validated like a fresh config."""
        return config_from_dict(merge_dotted(self.to_dict(), overrides, where), where)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _listed(hints: dict[str, Any]) -> str:
    names = ", ".join(sorted(h for h in hints if h != "families"))
    return names + (", or <family>.<key>" if "families" in hints else "")


def dotted_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """All leaf keys of a config dataclass as dotted paths."""
    keys: list[str] = []
    for name, hint in _hints(cls).items():
        if dataclasses.is_dataclass(hint):
            keys.extend(dotted_keys(hint, f"{prefix}{name}."))  # type: ignore[arg-type]
        else:
            keys.append(f"{prefix}{name}")
    return keys


def key_type(path: str, at: str = "") -> Any:
    """The declared type of a dotted key; a UserError naming the valid keys if it does not exist
    (its message starts with ``at``, where the key was written, when given)."""
    at = f"{at}: " if at else ""
    cls: Any = Config
    parts = path.split(".")
    for i, part in enumerate(parts):
        hints = _hints(cls)
        if cls is ModelConfig and part not in hints and len(parts) == i + 2:
            return Any  # model.<family>.<key>: the family's own dataclass types and checks it
        if part not in hints:
            where = ".".join(parts[:i]) or "top level"
            valid = _listed(hints)
            raise UserError(f"{at}unknown config key {path!r} ({where} has: {valid})")
        cls = hints[part]
        if i < len(parts) - 1 and not dataclasses.is_dataclass(cls):
            raise UserError(f"{at}unknown config key {path!r}: {'.'.join(parts[: i + 1])} is a "
                            "value")
    if dataclasses.is_dataclass(cls):
        raise UserError(f"{at}config key {path!r} is a section; give one of its keys")
    return cls


def merge_dotted(base: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """Apply ``{"a.b": v}`` overrides onto a nested dict (keys checked against the schema)."""
    out = _deepcopy(base)
    for path, value in overrides.items():
        key_type(path)
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _deepcopy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in d.items()}


def _coerce(value: Any, hint: Any, path: str, where: str) -> Any:
    """Check one leaf value against its declared type, converting only lossless cases."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: {path} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"{where}: {path} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" as a string
            except ValueError:
                pass
        raise UserError(f"{where}: {path} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise UserError(f"{where}: {path} must be a string, got {value!r}")
    if origin is tuple and typing.get_args(hint)[1:] == (Ellipsis,):
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: {path} must be a list (or comma-separated), got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, path, where) for v in value)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise UserError(f"{where}: {path} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, path, where) for v, a in zip(value, args, strict=True))
    if origin in (typing.Union, types.UnionType) or hint is Any or origin is dict:
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")


def _build(cls: Any, raw: Any, prefix: str, where: str) -> Any:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: {prefix.rstrip('.') or 'config'} must be a mapping, got {raw!r}")
    hints = _hints(cls)
    if cls is ModelConfig:  # mappings under model: are family blocks (model.<family>.<key>)
        blocks = {k: v for k, v in raw.items() if k not in hints and isinstance(v, dict)}
        raw = {k: v for k, v in raw.items() if k not in blocks}
        families = {**raw.pop("families", {}), **blocks}
        raw["families"] = {str(k): dict(v) for k, v in families.items()}
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        section = prefix.rstrip(".") or "top level"
        raise UserError(f"{where}: unknown key {prefix}{unknown[0]} ({section} has: {_listed(hints)})")
    kwargs: dict[str, Any] = {}
    for name, hint in hints.items():
        if name not in raw:
            continue
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, raw[name], f"{prefix}{name}.", where)
        else:
            kwargs[name] = _coerce(raw[name], hint, f"{prefix}{name}", where)
    return cls(**kwargs)


def build_section(cls: type, raw: Any, prefix: str, where: str) -> Any:
    """A config dataclass from its mapping, each key typed and checked as the core sections are
    (a family's own block: ``build_section(RFRParams, {...}, "model.rfr_unet.", where)``)."""
    return _build(cls, raw, prefix, where)


def config_from_dict(raw: dict[str, Any] | None, where: str = "config") -> Config:
    """Build and range-check a Config; registry names are checked in ``raysearch.build``."""
    cfg: Config = _build(Config, raw or {}, "", where)
    check_ranges(cfg, where)
    return cfg


def _require(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise UserError(f"{where}: {message}")


def check_ranges(cfg: Config, where: str = "config") -> None:
    """Value checks that need no registry: sizes, ratios, counts."""
    d, m, t = cfg.data, cfg.mask, cfg.train
    _require(
        32 <= d.image_size <= 256 and d.image_size % 16 == 0,
        where,
        f"data.image_size must be a multiple of 16 from 32 to 256, got {d.image_size}",
    )
    _require(d.crop in ("auto", "celeba", "center", "none"), where,
             f"data.crop must be one of auto, celeba, center, none; got {d.crop!r}")
    _require(d.split in ("fraction", "ids"), where,
             f"data.split must be 'fraction' or 'ids', got {d.split!r}")
    _require(0.0 < d.val_fraction < 1.0, where,
             f"data.val_fraction must be in (0, 1), got {d.val_fraction}")
    _require(d.num_images >= 8, where, f"data.num_images must be at least 8, got {d.num_images}")
    _require(d.num_val >= 1, where, f"data.num_val must be at least 1, got {d.num_val}")
    lo, hi = m.ratio
    _require(0.0 <= lo < hi <= 0.9, where,
             f"mask.ratio must be (low, high] with 0 <= low < high <= 0.9, got [{lo}, {hi}]")
    _require(m.bank_size >= 1, where, f"mask.bank_size must be at least 1, got {m.bank_size}")
    weights = m.ratio_weights
    _require(all(w >= 0 for w in weights) and (not weights or sum(weights) > 0), where,
             f"mask.ratio_weights must be weights >= 0 with a positive sum (or empty), "
             f"got {list(weights)}")
    _require(m.subset in MASK_SUBSETS, where,
             f"mask.subset must be one of {', '.join(MASK_SUBSETS)}; got {m.subset!r}")
    _check_model(cfg, where)
    _check_loss(cfg, where)
    for key in ("lr_g", "lr_d"):
        v = getattr(cfg.optim, key)
        _require(0.0 < v < 1.0, where, f"optim.{key} must be in (0, 1), got {v}")
    _require(cfg.optim.critic_steps >= 1, where, "optim.critic_steps must be at least 1")
    _require(t.epochs >= 1, where, f"train.epochs must be at least 1, got {t.epochs}")
    _require(t.batch_size >= 1, where, f"train.batch_size must be at least 1, got {t.batch_size}")
    _require(t.device in ("auto", "cpu", "cuda"), where,
             f"train.device must be auto, cpu or cuda; got {t.device!r}")
    _require(t.checkpoint_every >= 1, where, "train.checkpoint_every must be at least 1")
    _require(t.precision in PRECISIONS, where,
             f"train.precision must be one of {', '.join(PRECISIONS)}; got {t.precision!r}")
    _require(0.0 <= t.ema < 1.0, where, f"train.ema must be a decay in [0, 1) (0 = off), got {t.ema}")


def _max_depth(size: int) -> int:
    """Halvings that keep the side a whole number and at least 2."""
    depth = 0
    while size % 2 == 0 and size // 2 >= 2:
        size //= 2
        depth += 1
    return depth


def _check_model(cfg: Config, where: str) -> None:
    m, size = cfg.model, cfg.data.image_size
    _require(1 <= m.depth <= _max_depth(size), where,
             f"model.depth must halve {size}px exactly down to at least 2x2: depth {m.depth} "
             f"(1..{_max_depth(size)} at {size}px)")
    _require(m.base_channels >= 4, where, "model.base_channels must be at least 4")
    _require(m.critic_channels >= 4, where, "model.critic_channels must be at least 4")
    _require(m.critic_depth >= 1, where, "model.critic_depth must be at least 1")


def _check_loss(cfg: Config, where: str) -> None:
    lo = cfg.loss
    _require(lo.gp_region in ("hole", "all"), where,
             f"loss.gp_region must be 'hole' or 'all', got {lo.gp_region!r}")
    for key in ("adv_weight", "l1_hole", "l1_valid", "gp_weight", "perceptual_weight",
                "style_weight", "tv_weight"):
        v = getattr(lo, key)
        _require(v >= 0.0, where, f"loss.{key} must be at least 0, got {v}")
    _require(lo.clip_value > 0.0, where, f"loss.clip_value must be positive, got {lo.clip_value}")
    _require(lo.adv_warmup_epochs >= 0.0, where,
             f"loss.adv_warmup_epochs must be at least 0, got {lo.adv_warmup_epochs}")
    _require(cfg.train.epochs >= 1, where, f"train.epochs must be at least 1, got {cfg.train.epochs}")
    _require(0 <= lo.recon_only_epochs < cfg.train.epochs, where,
             f"loss.recon_only_epochs must be 0..train.epochs-1 ({cfg.train.epochs - 1}), "
             f"got {lo.recon_only_epochs}")


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning I/O and syntax problems into one-line UserErrors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder; give a YAML file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{at}: {problem}") from None


def load_config(path: Path) -> Config:
    return config_from_dict(load_yaml(path), where=str(path))


def save_config(cfg: Config, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
