"""The training loops' shared bookkeeping: a session can end at any step, so a run saves every few steps and at
each epoch's end and resumes where it stopped; its log says how far it is and how long is left."""

import pytest

torch = pytest.importorskip("torch")

from training.checkpoint import Checkpoint, optimiser_step  # noqa: E402
from training.progress import StepLog  # noqa: E402
from training.schedule import WarmupCosine  # noqa: E402


def _run(path, seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    schedule = WarmupCosine(steps_per_epoch=4, epochs=2, warmup=2, floor=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    return model, opt, sched, schedule, Checkpoint(path, model, opt, sched)


def _loss(model, step: int) -> torch.Tensor:
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(step))
    return model(x).pow(2).mean()


def test_step_log_prints_every_few_steps_and_saves_a_resumable_checkpoint(tmp_path, capsys):
    path = tmp_path / "checkpoint.pt"
    model, opt, sched, schedule, checkpoint = _run(path)
    log = StepLog(schedule, batch=5, checkpoint=checkpoint, save_every=3, every=2)
    for step in range(1, 4):
        log.step(step, 0, optimiser_step(_loss(model, step), opt, sched), 5, lambda: "lr x")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 1/2 step 2/8 loss ") and " lr x " in lines[0]
    assert "img/s eta" in lines[0]
    assert torch.load(path, weights_only=False)["step"] == 3  # saved at save_every

    log.step(4, 0, optimiser_step(_loss(model, 4), opt, sched), 5, lambda: "lr x")
    log.epoch_end(4, 0, max_minutes=None)
    assert torch.load(path, weights_only=False)["step"] == 4  # and at the epoch's end

    resumed, _, resumed_sched, _, again = _run(path, seed=1)  # a fresh process: other initial weights
    assert again.resume() == 4
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.state_dict().values()))
    assert resumed_sched.get_last_lr() == pytest.approx(sched.get_last_lr())  # the schedule goes on where it was


def test_detail_is_only_read_when_a_line_is_printed(tmp_path):
    model, opt, sched, schedule, checkpoint = _run(tmp_path / "checkpoint.pt")
    log = StepLog(schedule, batch=5, checkpoint=checkpoint, save_every=100, every=5)
    reads = []
    for step in range(1, 6):
        log.step(step, 0, 1.0, 5, lambda: reads.append(step) or "")
    assert reads == [5]


@pytest.mark.parametrize("steps_per_epoch, epochs", [(0, 40), (4, 0)])
def test_a_schedule_with_nothing_to_train_says_so_instead_of_dividing_by_zero(steps_per_epoch, epochs):
    with pytest.raises(ValueError, match="nothing to train"):
        WarmupCosine(steps_per_epoch=steps_per_epoch, epochs=epochs, warmup=2, floor=0.1)
