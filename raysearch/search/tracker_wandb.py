"""``--logger wandb``: Ray's ``WandbLoggerCallback`` in offline mode, so no account or network is
needed (``wandb sync`` uploads the runs later). Its own module: importing wandb takes seconds, which
the other loggers should not pay. Pickled with the Tuner, so a resumed search logs the same way.
"""

from __future__ import annotations

import os
from typing import Any

from ray.air.integrations.wandb import WandbLoggerCallback


class OfflineWandb(WandbLoggerCallback):
    """Ray's W&B logger, offline unless ``WANDB_MODE`` says otherwise (Ray reads the variable
    on this driver to skip the API-key check; each trial's logging actor gets it as ``mode``)."""

    def setup(self, *args: Any, **kwargs: Any) -> None:
        os.environ.setdefault("WANDB_MODE", "offline")
        self.kwargs["mode"] = os.environ["WANDB_MODE"]
        super().setup(*args, **kwargs)
