"""Shared fixtures: the real data beside the checkout, and one real local Ray instance."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def celeba_dir() -> Path:
    path = SHARED_DATA / "celeba"
    if not (path / "000001.jpg").exists():
        pytest.skip(f"real CelebA faces not found at {path} (the checkout's ../shared/data)")
    return path


@pytest.fixture(scope="session")
def masks_dir() -> Path:
    path = SHARED_DATA / "masks"
    if not (path / "02000.png").exists():
        pytest.skip(f"NVIDIA irregular masks not found at {path} (the checkout's ../shared/data)")
    return path


@pytest.fixture(scope="session", autouse=True)
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Searches and resumes sign with a key of the test session, never the user's own (drivers
    started as subprocesses inherit the variable)."""
    from raysearch.search.signing import KEY_ENV

    path = tmp_path_factory.mktemp("key") / "signing_key"
    saved = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = str(path)
    yield path
    if saved is None:
        os.environ.pop(KEY_ENV, None)
    else:
        os.environ[KEY_ENV] = saved


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray (with dashboard) shared by the tests that search; shut down at the end."""
    import ray

    from raysearch.search.runner import start_ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    start_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 1-epoch checkpoint at 32 px from ``raysearch train`` (a few seconds on CPU)."""
    from raysearch.cli import main

    out = tmp_path_factory.mktemp("train")
    main(["train", "--config", str(Path(__file__).parent / "tiny_train.yaml"), "--out", str(out)])
    return out / "checkpoints" / "epoch_0001"
