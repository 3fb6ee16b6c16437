"""Resumable training state: model, optimiser, schedule and step in one file, written atomically.

A session can end without warning, so both training scripts save every few steps and resume from here.
"""

from __future__ import annotations

from pathlib import Path

import torch


class Checkpoint:
    def __init__(self, path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, sched) -> None:
        self.path, self.model, self.opt, self.sched = path, model, opt, sched

    def resume(self) -> int:
        """Load the last saved state if any; the step to continue from (0 for a fresh run)."""
        if not self.path.exists():
            return 0
        ckpt = torch.load(self.path, weights_only=False)
        self.model.load_state_dict(ckpt["model"])
        try:
            self.opt.load_state_dict(ckpt["opt"])
        except ValueError:  # optimiser layout changed between runs: keep the weights, restart its moments
            print("optimiser state not compatible; starting it afresh", flush=True)
        self.sched.last_epoch = ckpt["step"] - 1  # step() sets the rate of the step we resume at
        self.sched.step()
        print(f"resumed at step {ckpt['step']}", flush=True)
        return ckpt["step"]

    def save(self, step: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                    "sched": self.sched.state_dict(), "step": step}, tmp)
        tmp.replace(self.path)


def optimiser_step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched) -> float:
    """One update of both training scripts: backward, optimiser and schedule step; the loss as a float."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()
