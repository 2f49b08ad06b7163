"""Lesson 22: On the GPU. The same model on NumPy (CPU) and CuPy (GPU): times, equal results."""
from __future__ import annotations

import time
from typing import Callable

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import datasets

import figures
from console import Knob, Lesson, run


def make_model() -> nn.Module:
    tg.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # (N, 16, 4, 4)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (N, 32, 2, 2)
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def train(device: str, images, labels, steps: int, batch: int,
          report: Callable[..., None]) -> tuple[list, float, nn.Module]:
    """Train from the same initial weights on ``device``; return losses, seconds, model.

    On the GPU the losses stay on the device until the end (reading one is a device -> host
    copy that waits for the GPU), so there the progress bar counts steps without the loss."""
    model = make_model().to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_all = tg.tensor(images, device=device)          # one explicit host -> device copy
    y_all = tg.tensor(labels, device=device)
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        i = (step * batch) % (x_all.shape[0] - batch)
        x, y = x_all[i:i + batch], y_all[i:i + batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())                  # on the device (no sync), graph dropped
        report(loss=loss.item() if device == "cpu" else None)
    losses = [v.item() for v in losses]               # device -> host, once, at the end
    tg.cuda.synchronize()
    return losses, time.perf_counter() - start, model


def main(L: Lesson, args) -> None:
    L.say("A tensor lives on a device: 'cpu' holds a NumPy array, 'cuda' a CuPy array in GPU\n"
          "memory. Every op asks its inputs for their array module (numpy or cupy) and runs\n"
          "there, so the same model code runs on both. Moving data is always explicit\n"
          "(.to('cuda'), .numpy(), .item()); mixing devices in one op is an error.")
    imgs, labels = datasets.load_digits()
    images = (imgs / 16.0).astype("float32").reshape(-1, 1, 8, 8)
    steps, batch = (30, 64) if args.fast else (400, 128)
    steps, batch = args.steps or steps, args.batch or batch

    L.step("Training on the CPU (NumPy)", deck=(4, "Programming Frameworks for Deep Nets"))
    L.source(make_model)
    L.source(train)
    with L.code():
        with L.progress("cpu", total=steps) as bar:
            cpu_losses, cpu_time, cpu_model = train("cpu", images, labels, steps, batch,
                                                    report=bar.update)
    L.uses(tg.Tensor.to)
    L.say(f"{steps} steps in {cpu_time:.2f} s; loss {cpu_losses[0]:.3f} -> {cpu_losses[-1]:.3f}")
    L.check_true("the loss fell on the CPU", cpu_losses[-1] < cpu_losses[0],
                 f"{cpu_losses[0]:.3f} -> {cpu_losses[-1]:.3f}")

    L.step("Is there a GPU?", deck=(4, "Programming Frameworks for Deep Nets"))
    with L.code():
        available = tg.cuda.is_available()
    L.uses(tg.cuda.is_available)
    if not available:
        L.say("No GPU here (CuPy is not installed or no device answers): tg.cuda.is_available()\n"
              "is False, and asking for 'cuda' gives a clear error instead of a crash. On a\n"
              "machine with an NVIDIA GPU: pip install 'tinygrad_edu\\[gpu]' and run this again.")
        q = L.question("What does tg.zeros(2, device='cuda') do on this machine?",
                       ["quietly makes the tensor on the CPU instead",
                        "raises an error that says CUDA is not available", "crashes Python"])
        with L.code():
            try:
                tg.zeros(2, device="cuda")
                raised = ""
            except RuntimeError as e:
                raised = str(e)
        L.answer(q, observed=2 if "CUDA is not available" in raised else 1, expected=2,
                 why="moving data between devices is always explicit: a tensor never lands "
                     "somewhere other than where it was asked for, so asking for a missing "
                     "device is an error that says what is missing.")
        L.check_true("tg.cuda.is_available() is False", not tg.cuda.is_available())
        L.check_true("device='cuda' raises an error that says CUDA is not available",
                     "CUDA is not available" in raised, raised[:80])
        draw(L, {"cpu (NumPy)": cpu_losses})
        return

    L.say(f"GPU: {tg.cuda.get_device_name()}")
    L.step("The same training on the GPU (CuPy)", deck=(4, "Programming Frameworks for Deep Nets"))
    q = L.question("Same initial weights, same batches: will the first loss on the GPU equal "
                   "the CPU's?", ["yes, up to float32 rounding", "no, the GPU draws other "
                                  "random weights", "no, CuPy computes a different loss"])
    with L.code():
        with L.progress("cuda", total=steps) as bar:
            gpu_losses, gpu_time, gpu_model = train("cuda", images, labels, steps, batch,
                                                    report=bar.update)
    L.table(["device", "seconds", "first loss", "last loss"],
            [["cpu", f"{cpu_time:.2f}", f"{cpu_losses[0]:.5f}", f"{cpu_losses[-1]:.5f}"],
             ["cuda", f"{gpu_time:.2f}", f"{gpu_losses[0]:.5f}", f"{gpu_losses[-1]:.5f}"]])
    L.say("Small 8×8 images keep the GPU mostly idle (each op is a tiny kernel launch), so the\n"
          "speed-up here is modest or even below 1; tools/bench.py --device cuda measures the\n"
          "LeNet-5 and LSTM workloads where the GPU pays off.")
    L.check("the first loss is the same on both devices", gpu_losses[0], cpu_losses[0], tol=1e-4)
    L.answer(q, observed=1 if abs(gpu_losses[0] - cpu_losses[0]) < 1e-4 else 2, expected=1,
             why="make_model() seeds and draws its weights on the CPU and .to('cuda') copies "
                 "them; the same float32 arithmetic runs on both, summed in another order.")
    L.check("the loss after training agrees (float32 rounding differs slightly)",
            gpu_losses[-1], cpu_losses[-1], tol=2e-2)
    w_cpu = cpu_model[0].weight.detach().numpy()
    w_gpu = gpu_model[0].weight.detach().numpy()          # explicit device -> host copy
    L.check("first conv weights agree after training", float(abs(w_cpu - w_gpu).max()), 0.0,
            tol=2e-2)
    del gpu_model
    tg.cuda.empty_cache()                                  # give the pool back to the driver
    draw(L, {"cpu (NumPy)": cpu_losses, "cuda (CuPy)": gpu_losses})


def draw(L: Lesson, curves: dict) -> None:
    with L.figure("training", "The same model, the same steps, on each device",
                  size=(10, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], curves, "training loss (8×8 digits)", "SGD step",
                      "cross-entropy")


if __name__ == "__main__":
    run(main, 22, "On the GPU", knobs=[
        Knob("--steps", 0, "training steps on each device (0: 30 with --fast, 400 otherwise)"),
        Knob("--batch", 0, "batch size (0: 64 with --fast, 128 otherwise); the GPU gains with "
                           "larger batches"),
    ])
