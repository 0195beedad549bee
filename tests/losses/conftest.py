"""The model tests' seed and single thread (see tests/models/conftest.py)."""

from tests.models.conftest import seeded_single_thread as seeded_single_thread
