"""Search-space files: parsing, conditional parameters with a real Optuna study, and errors."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from raysearch.build import validate_names
from raysearch.errors import UserError
from raysearch.search.space import load_space, parse_space, trial_config, validate_space

REPO = Path(__file__).resolve().parents[2]

SPACE = {
    "fixed": {"data.image_size": 32},
    "parameters": {
        "optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "model.depth": {"type": "int", "low": 2, "high": 4},
        "model.skip": {"type": "categorical", "choices": [True, False]},
        "model.base_channels": {"type": "int", "low": 8, "high": 32, "step": 8,
                                "when": {"model.skip": True}},
    },
}


def test_parse_and_conditional_sampling() -> None:
    space = parse_space(SPACE, "test")
    assert [p.name for p in space.params] == ["optim.lr_g", "model.depth", "model.skip",
                                              "model.base_channels"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dbr = space.define_by_run()
    seen = {True: 0, False: 0}
    for _ in range(30):
        trial = study.ask()
        dbr(trial)
        skip = trial.params["model.skip"]
        seen[skip] += 1
        assert ("model.base_channels" in trial.params) is skip  # only when its condition holds
        assert 1e-4 <= trial.params["optim.lr_g"] <= 1e-2
        if skip:
            assert trial.params["model.base_channels"] in (8, 16, 24, 32)
        study.tell(trial, 0.0)
    assert seen[True] and seen[False]


def test_trial_config_applies_fixed_and_sampled() -> None:
    space = parse_space(SPACE, "test")
    cfg = trial_config(space.base_config(), {"model.depth": 3, "optim.lr_g": 0.001})
    assert cfg.data.image_size == 32 and cfg.model.depth == 3 and cfg.optim.lr_g == 0.001


def test_condition_on_fixed_key() -> None:
    raw = {"fixed": {"model.generator": "skip_encoder_decoder"},
           "parameters": {"model.depth": {"type": "int", "low": 2, "high": 3,
                                          "when": {"model.generator": ["skip_encoder_decoder"]}}}}
    assert parse_space(raw, "t").params[0].when == {"model.generator": ["skip_encoder_decoder"]}


@pytest.mark.parametrize(("params", "message"), [
    ({"model.nope": {"type": "int", "low": 1, "high": 2}}, "unknown config key 'model.nope'"),
    ({"model.depth": {"type": "int", "low": 4, "high": 2}}, "empty or inverted range"),
    ({"model.depth": {"type": "int", "low": 3, "high": 3}}, "empty or inverted range"),
    ({"model.depth": {"type": "gaussian", "low": 1, "high": 2}}, "type must be one of"),
    ({"model.depth": {"type": "int", "low": 1.5, "high": 2}}, "must be an integer"),
    ({"optim.lr_g": {"type": "float", "low": 0, "high": 1, "log": True}}, "log scale needs low > 0"),
    ({"model.skip": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"model.depth": {"type": "int", "low": 1, "high": 2, "when": {"model.skip": True}}},
     "neither a parameter listed above"),
    ({"model.depth": {"type": "int", "lo": 1, "high": 2}}, "unknown field 'lo'"),
    ({}, "'parameters' is empty"),
])
def test_space_errors(params: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_space({"parameters": params}, "bad.yaml")


def test_values_checked_against_config_and_registries() -> None:
    bad_gen = parse_space({"parameters": {"model.generator": {
        "type": "categorical", "choices": ["skip_encoder_decoder", "transformer"]}}}, "s.yaml")
    with pytest.raises(UserError, match=r"model.generator value 'transformer' is not valid.*known"):
        validate_space(bad_gen, bad_gen.base_config(), validate_names)
    too_deep = parse_space({"parameters": {"model.depth": {"type": "int", "low": 2, "high": 7}}},
                           "s.yaml")
    with pytest.raises(UserError, match="model.depth value 7 is not valid"):
        validate_space(too_deep, too_deep.base_config(), validate_names)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("parameters:\n  model.depth: {type: int, low: 1\n")
    with pytest.raises(UserError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_space(f)


@pytest.mark.parametrize("path", sorted((REPO / "search_spaces").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_spaces_are_valid(path: Path) -> None:
    space = load_space(path)
    validate_space(space, space.base_config(), validate_names)
