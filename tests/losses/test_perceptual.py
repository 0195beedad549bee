"""VGG-based losses: weights only from a file or torch's cache, refused clearly when absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from raysearch.config import Config, config_from_dict
from raysearch.errors import UserError
from raysearch.losses import ContentLoss, require_vgg_weights, total_variation
from raysearch.losses.perceptual import VGG_LAYER_SETS, VGGFeatures, gram, perceptual_and_style


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def cfg_with(**loss: object) -> Config:
    return config_from_dict({"loss": loss})


def test_no_vgg_needed_without_perceptual_or_style(empty_hub: Path) -> None:
    require_vgg_weights(cfg_with(tv_weight=0.1))
    require_vgg_weights(cfg_with(perceptual_weight=0.05, vgg_random=True))


@pytest.mark.parametrize("vgg", sorted(VGG_LAYER_SETS))
def test_missing_weights_refused_with_how_to_provide_them(empty_hub: Path, vgg: str) -> None:
    spec = VGG_LAYER_SETS[vgg]
    with pytest.raises(UserError) as e:
        require_vgg_weights(cfg_with(style_weight=120.0, vgg=vgg))
    message = str(e.value)
    assert str(empty_hub / "checkpoints" / spec.file) in message
    assert "loss.vgg_weights" in message and spec.url in message


def test_missing_configured_file_named(empty_hub: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"loss\.vgg_weights points to .*nope\.pth, which is not a file"):
        require_vgg_weights(cfg_with(perceptual_weight=1.0, vgg_weights=str(tmp_path / "nope.pth")))


def features_state(vgg: str) -> dict[str, torch.Tensor]:
    """A torchvision-style state_dict (``features.N.*`` keys) of a random truncated VGG."""
    net = VGGFeatures(cfg_with(vgg=vgg, vgg_random=True).loss).net
    return {f"features.{k}": v for k, v in net.state_dict().items()}


def test_weights_load_from_the_cache_and_from_a_file(empty_hub: Path, tmp_path: Path) -> None:
    state = features_state("vgg16_relu3_3")
    cached = empty_hub / "checkpoints" / VGG_LAYER_SETS["vgg16_relu3_3"].file
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    cfg = cfg_with(perceptual_weight=0.05)
    require_vgg_weights(cfg)
    loaded = VGGFeatures(cfg.loss)
    assert torch.equal(loaded.net[0].weight, state["features.0.weight"])
    assert not any(p.requires_grad for p in loaded.parameters())

    other = tmp_path / "mine.pth"
    torch.save(state, other)
    assert torch.equal(VGGFeatures(cfg_with(vgg_weights=str(other)).loss).net[14].bias,
                       state["features.14.bias"])


def test_wrong_file_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(UserError, match="not a torchvision vgg16 state_dict"):
        VGGFeatures(cfg_with(vgg_weights=str(wrong)).loss)
    (tmp_path / "junk.pth").write_text("not torch")
    with pytest.raises(UserError, match="not a readable torch weights file"):
        VGGFeatures(cfg_with(vgg_weights=str(tmp_path / "junk.pth")).loss)


@pytest.mark.parametrize("vgg", sorted(VGG_LAYER_SETS))
def test_perceptual_and_style_zero_on_the_truth_and_positive_elsewhere(vgg: str) -> None:
    net = VGGFeatures(cfg_with(vgg=vgg, vgg_random=True).loss)
    assert len(net(torch.zeros(1, 3, 32, 32))) == len(VGG_LAYER_SETS[vgg].layers)
    torch.manual_seed(0)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    p, s = perceptual_and_style(net, target, target, target)
    assert float(p) == 0 and float(s) == 0
    out = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    p, s = perceptual_and_style(net, out, out, target)
    (p + s).backward()
    assert p > 0 and s > 0 and out.grad is not None and torch.isfinite(out.grad).all()


def test_gram_is_channel_correlation() -> None:
    f = torch.ones(1, 2, 3, 3)
    assert torch.allclose(gram(f), torch.full((1, 2, 2), 9 / 18))


def test_content_loss_terms_and_total_variation() -> None:
    assert float(total_variation(torch.ones(1, 3, 8, 8))) == 0
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 3, 8, 8)
    assert float(total_variation(ramp)) == pytest.approx(1.0)
    cfg = cfg_with(perceptual_weight=0.05, style_weight=120.0, tv_weight=0.1, vgg_random=True)
    torch.manual_seed(0)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:16, 8:16] = 1
    out = torch.zeros_like(real, requires_grad=True)
    coarse = torch.zeros_like(real, requires_grad=True)
    loss, logs = ContentLoss(cfg.loss)((coarse, out), real, mask)
    assert set(logs) == {"l1", "perceptual", "style", "tv"}
    loss.backward()
    assert coarse.grad is not None and out.grad is not None
    assert out.grad[:, :, 20:, 20:].abs().sum() > 0  # perceptual reaches known pixels of the output
    assert ContentLoss(cfg_with().loss).vgg is None  # nothing loaded when not asked for
