"""Every model test starts from the same torch seed, on one thread.

One thread: these networks are tiny, and on a shared CPU OpenMP threads that spin while waiting for
a descheduled sibling made the suite ten times slower. The previous count is restored after.
"""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def seeded_single_thread() -> Iterator[None]:
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
