"""A family is one registration: builder, its own parameter dataclass, its check; found unaided."""

from __future__ import annotations

import pkgutil
import sys
from dataclasses import dataclass

import pytest
import torch
from torch import nn

import raysearch.models as models
from raysearch.build import validate_names
from raysearch.config import Config, config_from_dict
from raysearch.errors import UserError
from raysearch.models import GENERATORS, Family, build_generator, resolved


def test_every_module_of_the_package_is_imported_without_listing_it() -> None:
    for module in pkgutil.iter_modules(models.__path__):
        assert f"raysearch.models.{module.name}" in sys.modules, module.name


@dataclass(frozen=True)
class ToyParams:
    width: int = 4


class Toy(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, width, 3, padding=1)
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(self.conv(torch.cat([image, mask], dim=1))))


def _check_toy(cfg: Config, p: ToyParams) -> None:
    if p.width < 1:
        raise UserError(f"model.toy.width must be at least 1, got {p.width}")


def test_a_new_family_is_one_registration_with_its_own_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    toy = Family("toy", lambda cfg, p: Toy(p.width), ToyParams, _check_toy, "a test family")
    monkeypatch.setitem(GENERATORS._items, "toy", toy)  # registered for this test only
    cfg = config_from_dict({"model": {"generator": "toy", "toy": {"width": 6}}})
    validate_names(cfg)
    gen = build_generator(cfg)
    assert gen.net.conv.out_channels == 6
    assert resolved(Config()).model.families == {}  # the default family has no knobs
    assert resolved(cfg.with_overrides({"model.toy.width": 2})).to_dict()["model"]["toy"] == {"width": 2}
    with pytest.raises(UserError, match="model.toy.width must be at least 1"):
        validate_names(cfg.with_overrides({"model.toy.width": 0}))
    with pytest.raises(UserError, match=r"unknown key model.toy.depth \(model.toy has: width\)"):
        validate_names(cfg.with_overrides({"model.toy.depth": 2}))


def test_the_written_config_holds_the_family_defaults_and_loads_back() -> None:
    cfg = config_from_dict({"model": {"generator": "rfr_unet"}})
    full = resolved(cfg).to_dict()
    assert full["model"]["rfr_unet"] == {"iterations": 6, "attention": True, "max_dilation": 0}
    again = config_from_dict(full)
    assert again.model.families["rfr_unet"]["iterations"] == 6 and "families" not in full["model"]
