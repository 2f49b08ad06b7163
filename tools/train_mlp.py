"""Acceptance run: an MLP 784-256-10 (ReLU) trained on full MNIST with SGD + momentum.

    python tools/train_mlp.py                       # 5 epochs, batch 128, lr 0.1
    python tools/train_mlp.py --epochs 8 --lr 0.1 --device cuda

Prints a line per epoch (loss, accuracy, samples/s), the time per epoch and the test
accuracy, and exits non-zero if the test accuracy is below --target (97.5% by default).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, mnist_dataset
from tinygrad_edu.train import evaluate, fit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--target", type=float, default=0.975, help="required test accuracy")
    ap.add_argument("--no-progress", action="store_true", help="no live progress bar")
    args = ap.parse_args(argv)
    console = Console()

    tg.manual_seed(args.seed)
    t0 = time.perf_counter()
    train = mnist_dataset(train=True, flatten=True, device=args.device)
    test = mnist_dataset(train=False, flatten=True, device=args.device)
    console.print(f"MNIST: {len(train)} train / {len(test)} test images "
                  f"(loaded in {time.perf_counter() - t0:.1f} s)")
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    console.print(f"model: 784-256-10 MLP, {n_params:,} parameters; SGD lr={args.lr} "
                  f"momentum={args.momentum}, batch {args.batch_size}, device {args.device}")
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = DataLoader(test, batch_size=1000)
    hist = fit(model, train_loader, opt, F.cross_entropy, epochs=args.epochs,
               val_loader=test_loader, progress=not args.no_progress, console=console)
    hist.show(console)
    res = evaluate(model, test_loader, F.cross_entropy)
    per_epoch = statistics.median(hist.epoch_time)
    console.print(f"epochs: {len(hist.epoch)}  time/epoch: median {per_epoch:.1f} s "
                  f"(min {min(hist.epoch_time):.1f}, max {max(hist.epoch_time):.1f}), "
                  f"{statistics.median(hist.samples_per_sec):,.0f} samples/s  "
                  f"test accuracy: {100 * res['accuracy']:.2f}%  test loss: {res['loss']:.4f}")
    ok = res["accuracy"] >= args.target
    console.print(("[green]PASS" if ok else "[red]FAIL") +
                  f": test accuracy {100 * res['accuracy']:.2f}% "
                  f"{'>=' if ok else '<'} {100 * args.target:.1f}%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
