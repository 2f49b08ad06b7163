"""The training loop: sparkline, evaluate, fit and History."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.train import History, count_correct, evaluate, fit, sparkline


# ---------------------------------------------------------------- sparkline
def test_sparkline_levels_by_hand() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([7, 0]) == "█▁"
    # (v - 0.6) / 2.4 · 7 = 7, 4.375, 2.33, 1.17, 0.58, 0.29, 0.15, 0  -> rounded
    assert sparkline([3.0, 2.1, 1.4, 1.0, 0.8, 0.7, 0.65, 0.6]) == "█▅▃▂▂▁▁▁"
    assert sparkline([2.0, 2.0, 2.0]) == "▁▁▁"
    assert sparkline([]) == ""
    assert sparkline([0.0, float("nan"), 1.0]) == "▁ █"


def test_sparkline_averages_buckets_when_too_long() -> None:
    # 16 values into 8 buckets of 2: means 0.5, 2.5, ..., 14.5 are evenly spaced
    assert sparkline(range(16), width=8) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(range(1000), width=60)) == 60
    assert sparkline([0, 0, 0, 7, 7, 7], width=2) == "▁█"
    with pytest.raises(ValueError, match="width must be >= 1, got 0"):
        sparkline([1, 2], width=0)


# ---------------------------------------------------------------- data for the loop
def _blobs(n: int = 200, seed: int = 0) -> TensorDataset:
    """Three well separated Gaussian blobs in 2-D: a linear model gets them all right."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    x = centers[y] + rng.normal(scale=0.5, size=(n, 2))
    return TensorDataset(tg.tensor(x.astype(np.float32)), tg.tensor(y))


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


# ---------------------------------------------------------------- evaluate
def test_evaluate_by_hand() -> None:
    model = nn.Linear(2, 3)
    with tg.no_grad():
        model.weight.copy_(tg.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        model.bias.zero_()
    x = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0], [-1.0, -1.0]], dtype=np.float32)
    y = np.array([0, 1, 2, 2])
    loader = DataLoader(TensorDataset(tg.tensor(x), tg.tensor(y)), batch_size=3)
    model.train()
    res = evaluate(model, loader, F.cross_entropy)
    logits = x @ np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]).T
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    # rows 0, 1 and 3 are right (row 2 ties classes 0 and 1 above class 2: wrong)
    assert res["accuracy"] == pytest.approx(3 / 4)
    assert res["loss"] == pytest.approx(-logp[np.arange(4), y].mean(), rel=1e-6)
    assert res["samples"] == 4
    assert model.training                       # training mode restored


def test_count_correct_only_for_class_targets() -> None:
    out = tg.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert count_correct(out, tg.tensor([1, 0, 0])) == 2
    assert count_correct(out, tg.tensor([1.0, 0.0, 0.0])) is None
    assert count_correct(out[:, 0], tg.tensor([1, 0, 0])) is None
    loader = DataLoader(TensorDataset(tg.ones(4, 2), tg.zeros(4, 1)), batch_size=2)
    res = evaluate(nn.Linear(2, 1), loader, F.mse_loss)
    assert res["accuracy"] is None and res["loss"] is not None


# ---------------------------------------------------------------- fit
def test_fit_learns_and_records_history() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train = DataLoader(_blobs(200, 0), batch_size=20, shuffle=True, seed=0)
    val = DataLoader(_blobs(100, 1), batch_size=50)
    console = _quiet()
    hist = fit(model, train, opt, F.cross_entropy, epochs=3, val_loader=val, console=console)
    assert isinstance(hist, History)
    assert hist.epoch == [1, 2, 3] and len(hist.step_loss) == 30
    assert hist.loss[2] < hist.loss[0] and hist.step_loss[-1] < hist.step_loss[0]
    assert hist.val_accuracy[-1] >= 0.97 and hist.accuracy[-1] >= 0.95
    assert all(s > 0 for s in hist.samples_per_sec) and all(t > 0 for t in hist.epoch_time)
    np.testing.assert_allclose(hist.loss[0], np.mean(hist.step_loss[:10]), rtol=1e-6)
    out = console.file.getvalue()
    assert "epoch 3/3" in out and "samples/s" in out and "val_acc" in out
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    hist.show(console)
    assert "Training history" in console.file.getvalue()


def test_fit_equals_the_hand_written_loop() -> None:
    def make():
        tg.manual_seed(0)
        m = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
        return m, optim.Adam(m.parameters(), lr=0.01)
    data = _blobs(60)
    m1, o1 = make()
    fit(m1, DataLoader(data, 16, shuffle=True, seed=4), o1, F.cross_entropy, epochs=2,
        progress=False)
    m2, o2 = make()
    loader = DataLoader(data, 16, shuffle=True, seed=4)
    for _ in range(2):
        for x, y in loader:
            loss = F.cross_entropy(m2(x), y)
            o2.zero_grad()
            loss.backward()
            o2.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())


def test_fit_on_step_sees_every_step_and_prints_above_the_bar() -> None:
    tg.manual_seed(0)
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(_blobs(40), batch_size=10)            # 4 steps per epoch
    console = _quiet()
    seen = []

    def report(step: int, loss: float) -> None:
        seen.append((step, loss))
        if step % 3 == 0:
            console.print(f"note after step {step}")

    hist = fit(model, loader, opt, F.cross_entropy, epochs=2, max_steps=7, console=console,
               on_step=report)
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5, 6, 7]        # counted across epochs
    assert [v for _, v in seen] == hist.step_loss               # each step's own loss
    out = console.file.getvalue()
    assert "note after step 3" in out and "note after step 6" in out
    assert out.index("note after step 3") < out.index("epoch 1/2")   # during the epoch


def test_fit_max_steps_scheduler_and_errors() -> None:
    tg.manual_seed(0)
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = DataLoader(_blobs(40), batch_size=10)
    hist = fit(model, loader, opt, F.cross_entropy, epochs=3, scheduler=sched, progress=False)
    assert hist.lr == pytest.approx([0.1, 0.05, 0.025])
    hist = fit(model, loader, opt, F.cross_entropy, epochs=5, max_steps=6, progress=False)
    assert len(hist.step_loss) == 6 and hist.epoch == [1, 2]
    assert math.isnan(hist.loss[0]) is False
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fit(model, loader, opt, F.cross_entropy, epochs=0)
    bad = DataLoader(TensorDataset(tg.ones(4, 2)), batch_size=2)
    with pytest.raises(ValueError, match=r"each batch must be a pair \(inputs, targets\), got "
                                         r"list of length 1"):
        fit(model, bad, opt, F.cross_entropy, progress=False)


def test_fit_on_cuda_matches_cpu(fake_cuda) -> None:
    results = []
    for dev in ("cpu", "cuda"):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loader = DataLoader(_blobs(40), batch_size=10, shuffle=True, seed=2)
        hist = fit(model, loader, opt, F.cross_entropy, epochs=2, device=dev, progress=False,
                   val_loader=DataLoader(_blobs(20, 1), batch_size=10))
        assert all(p.device == dev for p in model.parameters())
        results.append((hist, [p.detach().numpy() for p in model.parameters()]))
    (h_cpu, p_cpu), (h_gpu, p_gpu) = results
    np.testing.assert_allclose(h_gpu.step_loss, h_cpu.step_loss, rtol=1e-5)
    assert h_gpu.val_accuracy == h_cpu.val_accuracy
    for a, b in zip(p_cpu, p_gpu):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
