"""The bookkeeping both long training loops (embedding, segmentation) do around each optimiser step: a smoothed
loss line with throughput and time left every few steps, a checkpoint every few steps and at each epoch's end (a
session can end at any step), and the schedule refitted to a time budget after the second epoch."""

from __future__ import annotations

import time
from typing import Callable

from training.checkpoint import Checkpoint
from training.schedule import WarmupCosine


class StepLog:
    def __init__(self, schedule: WarmupCosine, batch: int, checkpoint: Checkpoint, save_every: int,
                 every: int = 5) -> None:
        self.schedule, self.batch, self.checkpoint = schedule, batch, checkpoint
        self.save_every, self.every = save_every, every
        self.started, self.seen, self.running = time.time(), 0, 0.0

    def step(self, step: int, epoch: int, loss: float, images: int, detail: Callable[[], str]) -> None:
        """After optimiser step ``step`` (1-based) of ``epoch`` (0-based) on ``images`` images; ``detail`` adds the
        trainer's own readings (temperature, learning rate) to the line, only when one is printed."""
        self.seen += images
        self.running = 0.9 * self.running + 0.1 * loss if self.running else loss
        if step % self.every == 0:
            rate = self.seen / (time.time() - self.started)
            left = (self.schedule.total - step) * self.batch / rate / 60
            print(f"epoch {epoch + 1}/{self.schedule.epochs} step {step}/{self.schedule.total} "
                  f"loss {self.running:.4f} {detail()} {rate:.1f} img/s eta {left:.0f} min", flush=True)
        if step % self.save_every == 0:
            self.checkpoint.save(step)

    def epoch_end(self, step: int, epoch: int, max_minutes: float | None) -> None:
        self.checkpoint.save(step)
        fitted = self.schedule.epoch_done(epoch, max_minutes)
        if fitted:
            print(fitted, flush=True)
