"""A local Ray for the in-process search tests of this folder (reused if one is running)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from raysearch.search.runner import start_ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    if ray.is_initialized():  # the suite's session-wide cluster, when there is one
        yield
        return
    start_ray(num_cpus=2)
    yield
    ray.shutdown()
