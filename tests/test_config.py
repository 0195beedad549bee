"""Config building and validation: errors name the key and what is valid."""

from __future__ import annotations

import pytest

from raysearch.config import Config, config_from_dict, dotted_keys, key_type
from raysearch.errors import UserError


def test_defaults_round_trip() -> None:
    cfg = Config()
    assert config_from_dict(cfg.to_dict()) == cfg


def test_unknown_key_lists_valid_ones() -> None:
    with pytest.raises(UserError, match=r"unknown key model.dept .*depth"):
        config_from_dict({"model": {"dept": 3}})


def test_wrong_type_named() -> None:
    with pytest.raises(UserError, match=r"model.depth must be an integer, got 'three'"):
        config_from_dict({"model": {"depth": "three"}})


@pytest.mark.parametrize(("raw", "message"), [
    ({"data": {"image_size": 40}}, "multiple of 16"),
    ({"data": {"image_size": 512}}, "multiple of 16 from 32 to 256"),
    ({"mask": {"ratio": [0.4, 0.2]}}, "mask.ratio"),
    ({"model": {"depth": 6}}, "at least 2x2"),
    ({"train": {"epochs": 0}}, "train.epochs"),
])
def test_range_errors(raw: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        config_from_dict(raw)


def test_dotted_keys_and_types() -> None:
    keys = dotted_keys()
    assert "model.skip" in keys and "optim.lr_g" in keys
    assert key_type("model.skip") is bool
    with pytest.raises(UserError, match="unknown config key 'model.nope'"):
        key_type("model.nope")


def test_float_from_yaml_string() -> None:
    # YAML 1.1 reads 1e-4 (no dot) as a string; the config accepts it as the number it means
    assert config_from_dict({"optim": {"lr_g": "1e-4"}}).optim.lr_g == pytest.approx(1e-4)


def test_issue_14_keys_are_checked() -> None:
    for raw, message in (({"train": {"ema": 1.0}}, "train.ema must be a decay in"),
                         ({"loss": {"adv_warmup_epochs": -1}}, "loss.adv_warmup_epochs must be"),
                         ({"model": {"residual": 1}}, "model.residual must be true or false")):
        with pytest.raises(UserError, match=message):
            config_from_dict(raw)
