"""The learning-rate schedule of both training scripts: linear warm-up, then cosine decay to a floor over the run,
with the run's length refittable to a fixed time budget (a GPU lease) after the second epoch has been timed."""

from __future__ import annotations

import math
import time


class WarmupCosine:
    """Multiplier for ``torch.optim.lr_scheduler.LambdaLR``; ``total`` (steps) is read at every step, so
    :meth:`fit` can shorten the run after it started."""

    def __init__(self, steps_per_epoch: int, epochs: int, warmup: int, floor: float) -> None:
        if steps_per_epoch < 1 or epochs < 1:  # a dry run with --limit below --batch would divide by zero
            raise ValueError(f"nothing to train: {steps_per_epoch} full batches per epoch, {epochs} epochs "
                             "(give at least one batch of examples, e.g. raise --limit or lower --batch)")
        self.steps_per_epoch, self.epochs, self.warmup, self.floor = steps_per_epoch, epochs, warmup, floor
        self.started = time.time()
        self.first_epoch_end: float | None = None

    @property
    def total(self) -> int:
        return self.steps_per_epoch * self.epochs

    def __call__(self, step: int) -> float:
        total = self.total
        return min(1.0, (step + 1) / self.warmup) * (
            self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))

    def epoch_done(self, epoch: int, max_minutes: float | None) -> str | None:
        """Record the end of ``epoch`` (0-based); after the second, fit the epochs into ``max_minutes`` of
        training. Timed on the second epoch: the first also pays for loader start-up and cuDNN's algorithm
        search (about 3x slower on a GPU: timed on the first, 7 minutes were fitted with 21 epochs that took
        2.5). Returns a line for the log when the run was refitted."""
        now = time.time()
        if epoch == 0:
            self.first_epoch_end = now
        if not max_minutes or epoch != 1 or self.first_epoch_end is None:
            return None
        left = max_minutes * 60 - (now - self.started)
        fitted = min(self.epochs, 2 + max(0, int(left / (now - self.first_epoch_end))))
        if fitted == self.epochs:
            return None
        self.epochs = fitted
        return f"fitted to {max_minutes} min: --epochs {fitted}"
