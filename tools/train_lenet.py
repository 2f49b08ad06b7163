"""Train LeNet-5 on the full MNIST set and print the test accuracy after every epoch.

    python tools/train_lenet.py --variant modern --epochs 5
    python tools/train_lenet.py --variant classic --epochs 8

The classic network reads 32x32 images: MNIST's 28x28 digits are padded by 2 on each
side, as in LeCun et al. (1998). Pixels are scaled to [0, 1] and standardised with
the training set's mean and standard deviation (0.1307, 0.3081).
"""
from __future__ import annotations

import argparse
import os
import time

# One BLAS thread unless told otherwise: LeNet's matrices are small, and on a busy
# 2-core machine idle OpenBLAS threads spin and make every step several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import tinygrad_edu as tg  # noqa: E402 (after the thread setting)
import tinygrad_edu.functional as F  # noqa: E402
from tinygrad_edu import optim  # noqa: E402
from tinygrad_edu.data import DataLoader, mnist_dataset  # noqa: E402
from tinygrad_edu.models import LeNet5  # noqa: E402

MEAN, STD = 0.1307, 0.3081


def prepare(x: tg.Tensor, variant: str) -> tg.Tensor:
    """Standardise a batch of (N, 1, 28, 28) images; pad to 32x32 for the classic net."""
    x = (x - MEAN) * (1.0 / STD)
    return F.pad(x, (2, 2, 2, 2), value=-MEAN / STD) if variant == "classic" else x


def evaluate(model: LeNet5, loader: DataLoader, variant: str) -> float:
    """Fraction of the test images classified correctly."""
    model.eval()
    correct = total = 0
    with tg.no_grad():
        for x, y in loader:
            pred = model(prepare(x, variant)).argmax(1)
            correct += int((pred == y).sum().item())
            total += y.shape[0]
    model.train()
    return correct / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", choices=("classic", "modern"), default="modern")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--lr", type=float, default=None,
                    help="learning rate (default 1e-3 for Adam, 0.05 for SGD with momentum 0.9)")
    ap.add_argument("--gamma", type=float, default=0.7,
                    help="multiply the learning rate by this after every epoch (StepLR)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    tg.manual_seed(args.seed)
    train = mnist_dataset(train=True, limit=args.limit, device=args.device)
    test = mnist_dataset(train=False, device=args.device)
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = DataLoader(test, batch_size=1000)
    model = LeNet5(args.variant).to(args.device)
    if args.optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=args.lr or 1e-3)
    else:
        opt = optim.SGD(model.parameters(), lr=args.lr or 0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=args.gamma)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"LeNet-5 ({args.variant}), {n_params:,} parameters; {len(train):,} training images, "
          f"batch {args.batch_size}, {args.optimizer} lr {opt.param_groups[0]['lr']} "
          f"(x{args.gamma} per epoch)", flush=True)
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss_sum = 0.0
        for x, y in train_loader:
            loss = F.cross_entropy(model(prepare(x, args.variant)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item()
        train_time = time.perf_counter() - t0
        sched.step()
        acc = evaluate(model, test_loader, args.variant)
        print(f"epoch {epoch}/{args.epochs}  train loss {loss_sum / len(train_loader):.4f}  "
              f"test accuracy {acc:.2%}  time {time.perf_counter() - t0:.1f} s "
              f"(training {train_time:.1f} s, "
              f"{1000 * train_time / len(train_loader):.1f} ms/step)", flush=True)
    total = time.perf_counter() - start
    print(f"final test accuracy {acc:.2%} after {args.epochs} epochs in {total:.0f} s "
          f"({total / args.epochs:.1f} s/epoch)")


if __name__ == "__main__":
    main()
