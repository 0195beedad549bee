"""Every registered generator with every critic: shapes, gradients, known pixels, sizes."""

from __future__ import annotations

import re

import pytest
import torch

from raysearch.build import validate_names
from raysearch.errors import UserError
from raysearch.losses import ADVERSARIAL
from raysearch.metrics import composite
from raysearch.models import CRITICS, GENERATORS, build_critic, build_generator, count_parameters
from raysearch.models.hole_fill import HoleFill
from tests.models.tiny import box_masks, faces, tiny_config


def final(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return out[-1] if isinstance(out, tuple) else out


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("critic_name", CRITICS.names())
@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_forward_backward_every_generator_with_every_critic(generator_name: str, critic_name: str,
                                                            size: int) -> None:
    cfg = tiny_config(size, generator=generator_name, critic=critic_name)
    validate_names(cfg)
    gen, critic = build_generator(cfg), build_critic(cfg)
    loss = ADVERSARIAL.get("wgan_gp")(cfg.loss)
    real, mask = faces(2, size), box_masks(2, size)

    outs = gen(real * (1 - mask), mask)
    outs = outs if isinstance(outs, tuple) else (outs,)
    for out in outs:
        assert out.shape == real.shape
        assert torch.isfinite(out).all() and out.abs().max() <= 1
    fake = composite(outs[-1], real, mask)

    loss_d, logs = loss.critic_loss(critic, real, fake.detach(), mask)
    loss_d.backward()
    assert torch.isfinite(loss_d) and "gp" in logs
    grads = [p.grad for p in critic.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    loss_g = sum((o - real).abs().mean() for o in outs) + loss.generator_loss(critic, fake, mask)
    loss_g.backward()
    missing = [n for n, p in gen.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing[:3]}"
    assert all(torch.isfinite(p.grad).all() for p in gen.parameters())  # type: ignore[arg-type]


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_known_pixels_preserved_in_composite(generator_name: str) -> None:
    cfg = tiny_config(32, generator=generator_name)
    gen = build_generator(cfg).eval()
    real, mask = faces(3, 32), box_masks(3, 32)
    with torch.no_grad():
        comp = composite(final(gen(real * (1 - mask), mask)), real, mask)
    known = mask.expand_as(real) == 0
    assert torch.equal(comp[known], real[known])
    assert not torch.equal(comp, real)  # the hole itself is generated


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_generator_cannot_see_the_hole_it_fills(generator_name: str) -> None:
    """Given the truth in the hole instead of zeros, the output is the same: no leak."""
    cfg = tiny_config(32, generator=generator_name, hole_fill="telea")
    gen = build_generator(cfg).eval()
    real, mask = faces(2, 32), box_masks(2, 32)
    with torch.no_grad():
        assert torch.equal(final(gen(real, mask)), final(gen(real * (1 - mask), mask)))


@pytest.mark.slow
@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_every_size_divisible_by_16_from_32_to_256(generator_name: str) -> None:
    for size in range(32, 257, 16):
        cfg = tiny_config(size, generator=generator_name, base_channels=4, depth=4)
        validate_names(cfg)
        gen = build_generator(cfg).eval()
        image, mask = faces(1, size), box_masks(1, size)
        with torch.no_grad():
            assert final(gen(image * (1 - mask), mask)).shape == (1, 3, size, size), size


@pytest.mark.parametrize("fill", ["zero", "mean", "nearest", "telea", "biharmonic"])
def test_every_generator_takes_every_hole_fill(fill: str) -> None:
    for name in GENERATORS.names():
        gen = build_generator(tiny_config(32, generator=name, hole_fill=fill))
        assert final(gen(faces(1, 32), box_masks(1, 32))).shape == (1, 3, 32, 32)


def test_rfr_iterations_share_weights_and_attention_is_optional() -> None:
    counts = {n: count_parameters(build_generator(tiny_config(generator="rfr_unet",
                                                              rfr_unet={"iterations": n})))
              for n in (1, 8)}
    assert counts[1] == counts[8]
    with_kca = build_generator(tiny_config(generator="rfr_unet", rfr_unet={"iterations": 8}))
    without = build_generator(tiny_config(generator="rfr_unet", rfr_unet={"attention": False}))
    assert count_parameters(without) < count_parameters(with_kca)
    image, mask = faces(2, 32), box_masks(2, 32)
    for gen in (with_kca, without):
        assert torch.isfinite(gen(image, mask)).all()


def test_rfr_dual_branch_rates_fit_the_feature_map() -> None:
    from raysearch.models.rfr_unet import FeatureReasoning

    for size, rates in ((32, (1, 2)), (64, (2, 4)), (128, (4, 8)), (256, (8, 16))):
        gen = build_generator(tiny_config(size, generator="rfr_unet"))
        reasoning = next(m for m in gen.modules() if isinstance(m, FeatureReasoning))
        convs = [b for b in reasoning.branches if isinstance(b, torch.nn.Conv2d)]
        assert tuple(b.dilation[0] for b in convs) == rates, size
        assert max(rates) < size // 8


@pytest.mark.parametrize("aggregation", ["add", "concat"])
@pytest.mark.parametrize("scales", [1, 2, 3])
def test_multiscale_context_scales_and_aggregation(scales: int, aggregation: str) -> None:
    cfg = tiny_config(generator="multiscale_context",
                      multiscale_context={"scales": scales, "aggregation": aggregation})
    gen = build_generator(cfg)
    assert len(getattr(gen.net, "encoders")) == scales  # noqa: B009
    assert gen(faces(2, 32), box_masks(2, 32)).shape == (2, 3, 32, 32)


def test_coarse_to_fine_returns_both_stages_and_valid_dilations() -> None:
    gen = build_generator(tiny_config(32, generator="coarse_to_fine"))
    coarse, fine = gen(faces(2, 32), box_masks(2, 32))
    assert coarse.shape == fine.shape == (2, 3, 32, 32)
    rates = [m.dilation[0] for m in gen.modules() if isinstance(m, torch.nn.Conv2d)
             and m.dilation[0] > 1]
    assert sorted(set(rates)) == [2, 4]  # 8x8 features: 8 and 16 would not fit
    gen = build_generator(tiny_config(128, generator="coarse_to_fine",
                                      coarse_to_fine={"max_dilation": 8}))
    assert {m.dilation[0] for m in gen.modules() if isinstance(m, torch.nn.Conv2d)} == {1, 2, 4, 8}
    assert all(m.padding_mode == "reflect" for m in gen.modules() if isinstance(m, torch.nn.Conv2d))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gen.modules())


@pytest.mark.parametrize(("model", "needle"), [
    ({"generator": "rfr_unet", "rfr_unet": {"max_dilation": 4}},
     "model.rfr_unet.max_dilation 4 is too large"),
    ({"generator": "coarse_to_fine", "coarse_to_fine": {"max_dilation": 8}}, "rates must be below 8"),
    ({"generator": "multiscale_context", "multiscale_context": {"scales": 3}, "depth": 2},
     "model.depth 2 is too small"),
    ({"rfr_unet": {"iteration": 3}}, "unknown key model.rfr_unet.iteration (model.rfr_unet has: "
                                     "attention, iterations, max_dilation)"),
    ({"rfr_unet": {"iterations": "many"}}, "model.rfr_unet.iterations must be an integer"),
    ({"pix2pix": {"depth": 3}}, "model.pix2pix: no generator family of that name; known: coarse_to_fine"),
    ({"generator": "pix2pix"}, "model.generator: unknown generator 'pix2pix'; known: coarse_to_fine"),
    ({"critic": "huge"}, "model.critic: unknown critic 'huge'"),
    ({"hole_fill": "noise"}, "model.hole_fill: unknown hole fill 'noise'; known: biharmonic, mean, nearest"),
])
def test_validate_names_explains_what_cannot_be_built(model: dict, needle: str) -> None:
    cfg = tiny_config(32, **model)
    with pytest.raises(UserError, match=re.escape(needle)):
        validate_names(cfg)
    if "generator" in model and model["generator"] in GENERATORS:
        with pytest.raises(UserError):
            build_generator(cfg)  # a trial that skipped validation fails just as clearly


def test_model_ranges_refused() -> None:
    with pytest.raises(UserError, match="model.depth"):
        tiny_config(32, depth=5)


@pytest.mark.parametrize(("family", "key", "value"), [
    ("rfr_unet", "iterations", 0), ("rfr_unet", "iterations", 9),
    ("multiscale_context", "scales", 4), ("multiscale_context", "aggregation", "max"),
    ("rfr_unet", "max_dilation", 32), ("coarse_to_fine", "max_dilation", -1),
])
def test_family_ranges_refused_by_the_family(family: str, key: str, value: object) -> None:
    cfg = tiny_config(32, generator=family, **{family: {key: value}})  # the config itself is fine
    with pytest.raises(UserError, match=f"model.{family}.{key}"):
        validate_names(cfg)


@pytest.mark.parametrize("generator_name", GENERATORS.names())
def test_untrained_residual_generator_returns_the_fill(generator_name: str) -> None:
    """``model.residual``: the zero-initialised gate makes every output exactly the fill, then
    training moves it (one step later the hole differs from the fill)."""
    cfg = tiny_config(32, generator=generator_name, hole_fill="biharmonic", residual=True)
    gen = build_generator(cfg)
    real, mask = faces(2, 32), box_masks(2, 32)
    fill = HoleFill("biharmonic")(real, mask)
    outs = gen(real * (1 - mask), mask)
    for out in outs if isinstance(outs, tuple) else (outs,):
        assert torch.equal(out, fill)
    assert torch.equal(composite(final(outs), real, mask)[mask.expand_as(real) == 0],
                       real[mask.expand_as(real) == 0])
    opt = torch.optim.Adam(gen.parameters(), 1e-2)
    (final(outs) - real).abs().mean().backward()
    opt.step()
    gen.eval()
    with torch.no_grad():
        after = final(gen(real * (1 - mask), mask))
    hole = mask.expand_as(real) == 1
    assert not torch.equal(after[hole], fill[hole])


def test_residual_is_refused_unless_boolean() -> None:
    with pytest.raises(UserError, match="model.residual must be true or false"):
        tiny_config(32, residual="yes")
