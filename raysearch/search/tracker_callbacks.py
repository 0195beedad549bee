"""``--logger tensorboard``: Ray Tune's ``TBXLoggerCallback`` (every reported scalar, and the
trial's parameters as hparams), plus each checkpoint's ``sample.png`` (masked input | output |
ground truth) as the image ``val/sample_grid`` at that epoch, written by the same writer into the
same event file, so TensorBoard shows a trial's curves and samples together. Pickled with the
Tuner, so a resumed search logs with the same callback.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import numpy as np
from ray.tune.logger import TBXLoggerCallback

from raysearch.search.store import is_uri
from raysearch.train.checkpoint import METRICS

log = logging.getLogger(__name__)

SAMPLE_FILE = "sample.png"  # written into each checkpoint by the loop (train.sample_grid)
SAMPLE_TAG = "val/sample_grid"


def _read(path: str) -> bytes | None:
    """A file of a checkpoint, local or on any pyarrow filesystem; None if it is not there."""
    try:
        if is_uri(path):
            import pyarrow.fs

            fs, inner = pyarrow.fs.FileSystem.from_uri(path)
            with fs.open_input_file(inner) as f:
                return bytes(f.read())
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class TensorBoardWithSamples(TBXLoggerCallback):
    """Tune's TensorBoard logger, with each checkpoint's validation sample grid as an image."""

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any,
                      **info: Any) -> None:
        self._log_sample(trial, str(checkpoint.path))

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        super().log_trial_result(iteration, trial, result)
        if result.get("checkpoint_path"):  # a multi-worker trial: Train's checkpoint, via metric
            self._log_sample(trial, str(result["checkpoint_path"]))

    def _log_sample(self, trial: Any, folder: str) -> None:
        writer = self._trial_writer.get(trial)
        png = _read(f"{folder.rstrip('/')}/{SAMPLE_FILE}")
        if writer is None or png is None:  # train.sample_grid off, or the trial has ended
            return
        from PIL import Image

        metrics = _read(f"{folder.rstrip('/')}/{METRICS}")
        epoch = json.loads(metrics).get("epoch") if metrics else None
        step = int(epoch) if epoch is not None else int(trial.last_result.get("training_iteration", 0))
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        writer.add_image(SAMPLE_TAG, image, global_step=step, dataformats="HWC")
        writer.flush()
