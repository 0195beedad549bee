"""The paper presets in search_spaces/: valid files, every family reachable, every sample buildable."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from raysearch.build import validate_names
from raysearch.config import Config
from raysearch.losses import require_vgg_weights
from raysearch.models import GENERATORS, build_critic, build_generator
from raysearch.search.space import load_space, trial_config, validate_space

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"
PRESETS = {
    "skip_wgan.yaml": "skip_encoder_decoder",
    "unet_bce.yaml": "unet_bce",
    "coarse_to_fine.yaml": "coarse_to_fine",
    "multiscale_context.yaml": "multiscale_context",
    "rfr_net.yaml": "rfr_unet",
}


def samples(path: Path, n: int) -> list[Config]:
    """``n`` trial configs drawn at random through the space's define-by-run function."""
    space = load_space(path)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = []
    for _ in range(n):
        trial = study.ask()
        space.define_by_run()(trial)
        configs.append(trial_config(space.base_config(), dict(trial.params)))
        study.tell(trial, 0.0)
    return configs


@pytest.mark.parametrize("name", [*PRESETS, "all_families.yaml"])
def test_preset_is_valid_and_cites_its_source(name: str) -> None:
    text = (SPACES / name).read_text()
    assert text.startswith("#") and "et al." in text
    space = load_space(SPACES / name)
    validate_space(space, space.base_config(), check=validate_names)
    if name in PRESETS:
        assert space.fixed["model.generator"] == PRESETS[name]


def test_only_the_rfr_preset_needs_vgg_weights(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from raysearch.errors import UserError

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    for name in [*PRESETS, "all_families.yaml"]:
        space = load_space(SPACES / name)
        if name == "rfr_net.yaml":
            with pytest.raises(UserError, match=r"vgg16-397923af\.pth"):
                validate_space(space, space.base_config(), check=require_vgg_weights)
        else:
            validate_space(space, space.base_config(), check=require_vgg_weights)


def test_rfr_preset_starts_from_the_published_settings() -> None:
    space = load_space(SPACES / "rfr_net.yaml")
    params = {p.name: p for p in space.params}
    for key, published in (("model.rfr_unet.iterations", 6), ("loss.perceptual_weight", 0.05),
                           ("loss.style_weight", 120), ("loss.adv_weight", 0.05),
                           ("loss.l1_hole", 6)):
        assert params[key].low <= published <= params[key].high, key  # type: ignore[operator]
    assert space.fixed["model.critic"] == "patch" and space.fixed["loss.l1_valid"] == 1.0


def test_all_families_reaches_every_family_with_only_its_own_parameters() -> None:
    configs = samples(SPACES / "all_families.yaml", 60)
    assert {c.model.generator for c in configs} == set(GENERATORS.names())
    space = load_space(SPACES / "all_families.yaml")
    for cfg in configs:
        validate_names(cfg)
        if cfg.model.generator != "rfr_unet":
            assert "rfr_unet" not in cfg.model.families
        if cfg.model.generator != "multiscale_context":
            assert "multiscale_context" not in cfg.model.families
    assert any(p.when for p in space.params)


@pytest.mark.parametrize("name", [*PRESETS, "all_families.yaml"])
def test_sampled_trials_build_and_run(name: str) -> None:
    for cfg in samples(SPACES / name, 4):
        validate_names(cfg)
        size = cfg.data.image_size
        gen, critic = build_generator(cfg), build_critic(cfg)
        image, mask = torch.rand(2, 3, size, size) * 2 - 1, torch.zeros(2, 1, size, size)
        mask[:, :, size // 4 : size // 2, size // 4 : size // 2] = 1
        out = gen(image * (1 - mask), mask)
        out = out[-1] if isinstance(out, tuple) else out
        assert out.shape == image.shape and critic(out, mask).shape[0] == 2
