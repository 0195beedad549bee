"""Critics: score shapes, conditional inputs, spectral norm, the local crop of irregular holes."""

from __future__ import annotations

import pytest
import torch

from raysearch.models import CRITICS, build_critic
from raysearch.models.critics import hole_crop_boxes
from tests.models.tiny import box_masks, faces, tiny_config


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("critic_name", CRITICS.names())
def test_scores_per_image_or_per_patch(critic_name: str, conditional: bool) -> None:
    critic = build_critic(tiny_config(64, critic=critic_name, critic_conditional=conditional))
    scores = critic(faces(3, 64), box_masks(3, 64))
    assert scores.shape[0] == 3 and scores.dim() == (2 if critic_name == "patch" else 1)
    assert torch.isfinite(scores).all()
    first = next(m for m in critic.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == (7 if conditional else 3)


def test_conditional_critic_sees_the_mask() -> None:
    critic = build_critic(tiny_config(32, critic="global", critic_conditional=True))
    image = faces(1, 32)
    a, b = box_masks(1, 32), torch.flip(box_masks(1, 32), dims=[3])
    assert not torch.equal(critic(image, a), critic(image, b))
    plain = build_critic(tiny_config(32, critic="global"))
    assert torch.equal(plain(image, a), plain(image, b))


def test_patch_critic_is_spectrally_normalised() -> None:
    critic = build_critic(tiny_config(64, critic="patch", critic_depth=3))
    convs = [m for m in critic.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(torch.nn.utils.parametrize.is_parametrized(c, "weight") for c in convs)
    assert critic(faces(2, 64), box_masks(2, 64)).shape == (2, 8 * 8)  # 64 / 2**3 per side
    critic.eval()
    for conv in convs:  # after power iterations the top singular value is about 1
        sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
        assert sigma < 1.3


def test_local_crop_centres_an_irregular_hole() -> None:
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, 40:44, 45:60] = 1  # a stroke near the right edge
    mask[0, 0, 50:58, 50:52] = 1
    (top, left), = hole_crop_boxes(mask, 32)
    assert (top, left) == (32, 32)  # centred at (48, 52), pushed inside the image
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    assert top <= ys.min() and ys.max() < top + 32 and left <= xs.min() and xs.max() < left + 32
