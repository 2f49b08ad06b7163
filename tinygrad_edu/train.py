"""A small training loop: ``fit``, ``evaluate``, the ``History`` they record, and ``sparkline``.

Every supervised training run is the same loop::

    for epoch in range(epochs):
        for x, y in train_loader:            # one mini-batch
            loss = loss_fn(model(x), y)      # forward
            optimizer.zero_grad()
            loss.backward()                  # gradients of the loss w.r.t. every parameter
            optimizer.step()                 # move the parameters downhill

``fit`` is exactly that loop plus bookkeeping: a live progress bar (loss, accuracy,
samples per second), a line per epoch, optional validation, and a :class:`History` to look
at afterwards. Because the course runs in a terminal, curves are drawn as *sparklines*::

    >>> sparkline([3.0, 2.1, 1.4, 1.0, 0.8, 0.7, 0.65, 0.6])
    '█▅▃▂▂▁▁▁'

Example::

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = fit(model, train_loader, opt, F.cross_entropy, epochs=3, val_loader=test_loader)
    hist.show()                              # table per epoch + loss sparkline
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.engine.tensor import Tensor

__all__ = ["fit", "evaluate", "History", "sparkline", "count_correct"]

SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float], width: int = 60) -> str:
    """A one-line chart of ``values`` with the eight block characters ``▁▂▃▄▅▆▇█``.

    The smallest value maps to ``▁`` and the largest to ``█``, linearly in between
    (level = round(7·(v - min)/(max - min))). More than ``width`` values are averaged
    in ``width`` equal buckets first, so a 10,000-step loss curve fits one line. A flat
    series is all ``▁``; a NaN or infinite value shows as a space.

    >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
    '▁▂▃▄▅▆▇█'
    """
    vals = [float(v) for v in values]
    if width < 1:
        raise ValueError(f"sparkline: width must be >= 1, got {width}")
    n = len(vals)
    if n > width:
        buckets = []
        for i in range(width):
            chunk = vals[i * n // width:(i + 1) * n // width]
            buckets.append(sum(chunk) / len(chunk))
        vals = buckets
    finite = [v for v in vals if math.isfinite(v)]
    if not finite:
        return " " * len(vals)
    lo, hi = min(finite), max(finite)
    out = []
    for v in vals:
        if not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(SPARK_CHARS[0])
        else:
            out.append(SPARK_CHARS[int(round(7 * (v - lo) / (hi - lo)))])
    return "".join(out)


@dataclass
class History:
    """What :func:`fit` recorded: one entry per epoch, plus every step's loss.

    ``accuracy``/``val_*`` entries are ``None`` where they could not be computed (no
    class-index targets, no validation loader).
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    samples_per_sec: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)

    @property
    def history(self) -> dict[str, list]:
        """The per-epoch lists by name (as Keras' ``History.history``)."""
        return {"loss": self.loss, "accuracy": self.accuracy, "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy, "samples_per_sec": self.samples_per_sec,
                "epoch_time": self.epoch_time, "lr": self.lr}

    def table(self) -> Table:
        """A rich table with one row per epoch."""
        t = Table(title="Training history")
        for c in ("epoch", "loss", "acc", "val_loss", "val_acc", "lr", "samples/s", "time"):
            t.add_column(c, justify="right")
        for i, e in enumerate(self.epoch):
            t.add_row(str(e), f"{self.loss[i]:.4f}", _pct(self.accuracy[i]),
                      _num(self.val_loss[i]), _pct(self.val_accuracy[i]), f"{self.lr[i]:.4g}",
                      f"{self.samples_per_sec[i]:,.0f}", f"{self.epoch_time[i]:.1f} s")
        return t

    def show(self, console: Console | None = None, width: int = 60) -> None:
        """Print the per-epoch table and the loss curve as a sparkline."""
        console = console or Console()
        console.print(self.table())
        if self.step_loss:
            console.print(f"loss per step  {max(self.step_loss):.3f} "
                          f"[cyan]{sparkline(self.step_loss, width)}[/cyan] "
                          f"{self.step_loss[-1]:.3f}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def count_correct(output: Tensor, target: Tensor) -> int | None:
    """How many rows of ``output`` (N, C) have their largest score at class ``target`` (N,).

    ``None`` when that does not apply (targets that are not class indices).
    """
    if not isinstance(output, Tensor) or not isinstance(target, Tensor):
        return None
    if output.ndim != 2 or target.ndim != 1 or backend.is_floating(target.dtype) \
            or target.shape[0] != output.shape[0]:
        return None
    return int((output.detach().argmax(1) == target).sum().item())


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(f"fit/evaluate: each batch must be a pair (inputs, targets), got "
                     f"{type(batch).__name__}"
                     + (f" of length {len(batch)}" if isinstance(batch, (list, tuple)) else ""))


def _move(x: Any, device: str | None) -> Any:
    if device is None or not isinstance(x, Tensor) or x.device == device:
        return x
    return x.to(device)


def _batch_len(x: Any) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") and len(x.shape) else 1


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def evaluate(model: Any, loader: Iterable, loss_fn: Callable | None = None,
             device: Any = None) -> dict[str, Any]:
    """Mean loss and accuracy of ``model`` over ``loader``, without gradients, in eval mode.

    Returns ``{'loss': float | None, 'accuracy': float | None, 'samples': int}``; the loss
    is averaged per sample (batches weighted by their size), accuracy is the fraction of
    samples whose arg-max class equals the target (``None`` for non-class targets).
    """
    dev = backend.normalize_device(device) if device is not None else None
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total_loss, correct, n, acc_ok = 0.0, 0, 0, True
    try:
        with gradients.no_grad():
            for batch in loader:
                x, y = _split_batch(batch)
                x, y = _move(x, dev), _move(y, dev)
                out = model(x)
                b = _batch_len(x)
                if loss_fn is not None:
                    total_loss += float(loss_fn(out, y).item()) * b
                c = count_correct(out, y)
                acc_ok = acc_ok and c is not None
                correct += c or 0
                n += b
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return {"loss": total_loss / n if loss_fn is not None else None,
            "accuracy": correct / n if acc_ok else None, "samples": n}


def fit(model: Any, train_loader: Any, optimizer: Any, loss_fn: Callable,
        epochs: int = 1, val_loader: Any = None, device: Any = None, progress: bool = True,
        max_steps: int | None = None, scheduler: Any = None,
        console: Console | None = None,
        on_step: Callable[[int, float], Any] | None = None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return a :class:`History`.

    Args:
        model: a Module (or any callable) mapping a batch of inputs to outputs.
        train_loader: yields ``(inputs, targets)`` batches (a :class:`DataLoader`).
        optimizer: e.g. ``optim.SGD(model.parameters(), lr=0.1, momentum=0.9)``.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor`` (``F.cross_entropy``).
        val_loader: evaluated after each epoch (``val_loss``, ``val_accuracy``).
        device: move the model there first, and each batch as it arrives.
        progress: show a live progress bar and print one line per epoch.
        max_steps: stop after this many optimizer steps in total (for quick runs).
        scheduler: a learning-rate scheduler, stepped once after every epoch.
        console: where progress is printed (a rich Console; default stdout).
        on_step: called after every optimizer step with the number of steps so far and
            that step's loss, e.g. to print a metric now and then (what it prints on
            ``console`` appears above the progress bar).

    The training accuracy of an epoch is measured on the fly, with the weights as they
    were at each step (as Keras reports it), so it lags the end-of-epoch model a little.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"fit: max_steps must be a positive integer or None, got {max_steps!r}")
    dev = backend.normalize_device(device) if device is not None else None
    if dev is not None and hasattr(model, "to"):
        model.to(dev)
    console = console or Console()
    hist = History()
    steps = 0
    try:
        n_batches = len(train_loader)
    except TypeError:
        n_batches = None
    for epoch in range(1, epochs + 1):
        if hasattr(model, "train"):
            model.train()
        total_loss, correct, seen, acc_ok = 0.0, 0, 0, True
        lr = float(optimizer.param_groups[0]["lr"])
        t0 = time.perf_counter()
        bar = _progress(console) if progress else None
        task = None
        if bar is not None:
            bar.start()
            total = n_batches if max_steps is None or n_batches is None else \
                min(n_batches, max_steps - steps)
            task = bar.add_task(f"epoch {epoch}/{epochs}", total=total, metrics="")
        try:
            for batch in train_loader:
                x, y = _split_batch(batch)
                x, y = _move(x, dev), _move(y, dev)
                out = model(x)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                value = float(loss.item())
                b = _batch_len(x)
                hist.step_loss.append(value)
                total_loss += value * b
                c = count_correct(out, y)
                acc_ok = acc_ok and c is not None
                correct += c or 0
                seen += b
                steps += 1
                if bar is not None:
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    acc = f" acc {100 * correct / seen:5.2f}%" if acc_ok else ""
                    bar.update(task, advance=1,
                               metrics=f"loss {total_loss / seen:.4f}{acc} {rate:,.0f} samples/s")
                if on_step is not None:
                    on_step(steps, value)
                if max_steps is not None and steps >= max_steps:
                    break
        finally:
            if bar is not None:
                bar.stop()
        elapsed = time.perf_counter() - t0
        if seen == 0:
            raise ValueError("fit: the training loader yielded no batches")
        hist.epoch.append(epoch)
        hist.loss.append(total_loss / seen)
        hist.accuracy.append(correct / seen if acc_ok else None)
        hist.samples_per_sec.append(seen / max(elapsed, 1e-9))
        hist.epoch_time.append(elapsed)
        hist.lr.append(lr)
        if val_loader is not None:
            res = evaluate(model, val_loader, loss_fn, dev)
            hist.val_loss.append(res["loss"])
            hist.val_accuracy.append(res["accuracy"])
        else:
            hist.val_loss.append(None)
            hist.val_accuracy.append(None)
        if scheduler is not None:
            scheduler.step()
        if progress:
            line = (f"epoch {epoch}/{epochs}  loss {hist.loss[-1]:.4f}  "
                    f"acc {_pct(hist.accuracy[-1])}")
            if val_loader is not None:
                line += (f"  val_loss {_num(hist.val_loss[-1])}  "
                         f"val_acc {_pct(hist.val_accuracy[-1])}")
            line += f"  {hist.samples_per_sec[-1]:,.0f} samples/s  {elapsed:.1f} s"
            console.print(line)
        if max_steps is not None and steps >= max_steps:
            break
    return hist

