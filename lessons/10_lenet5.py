"""Lesson 10: LeNet-5. The 1998 digit reader layer by layer: 156, 12, 1,516 ... 60,850 weights."""
from __future__ import annotations

import math

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset, mnist_dataset
from tinygrad_edu.models import LENET5_C3_TABLE, LeNet5, Subsampling2d
from tinygrad_edu.train import fit

import figures
from console import Lesson, run

MEAN, STD = 0.1307, 0.3081   # MNIST's pixel mean and standard deviation (training set)


def own_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def prepare(x: tg.Tensor) -> tg.Tensor:
    """Standardise (N, 1, 28, 28) digits and pad them to 32x32, as the paper did."""
    x = (x - MEAN) * (1.0 / STD)
    return F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)


class Prepared(nn.Module):
    """The network behind the paper's preparation of the digits (``prepare``)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.net(prepare(x))


def accuracy(model: LeNet5, images: tg.Tensor, labels: tg.Tensor) -> float:
    model.eval()
    correct = 0
    with tg.no_grad():
        for start in range(0, images.shape[0], 1000):
            pred = model(prepare(images[start:start + 1000])).argmax(1)
            correct += int((pred == labels[start:start + 1000]).sum().item())
    model.train()
    return correct / images.shape[0]


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("The network of LeCun, Bottou, Bengio and Haffner (1998)")
    L.say("LeNet-5 reads a 32×32 image and alternates two kinds of layers: convolutions (C), "
          "which detect local patterns with shared 5×5 filters, and subsamplings (S), which "
          "halve the resolution so the next filters see a larger part of the digit. Two fully "
          "connected layers then turn the 120 features into 10 class scores.")
    with L.code():
        model = LeNet5("classic")
        summary = model.summary((1, 32, 32), console=L.console)
        counts = {r["name"]: r["params"] for r in summary.rows}
    L.uses(LeNet5)

    L.step("Where every parameter count comes from")
    with L.code():
        n_kernels = sum(len(inputs) for inputs in LENET5_C3_TABLE)
    by_hand = [
        ("c1", "6 filters × (5·5 weights + 1 bias)", 6 * (5 * 5 + 1)),
        ("s2", "6 maps × (1 coefficient + 1 bias)", 6 * 2),
        ("c3", f"{n_kernels} kernels × 5·5 + 16 biases", n_kernels * 25 + 16),
        ("s4", "16 maps × (1 coefficient + 1 bias)", 16 * 2),
        ("c5", "120 filters × (16·5·5 + 1)", 120 * (16 * 25 + 1)),
        ("f6", "84 units × (120 inputs + 1 bias)", 84 * (120 + 1)),
        ("output", "10 units × (84 + 1)", 10 * (84 + 1)),
    ]
    L.table(["layer", "formula", "by hand", "in the model"],
            [[name, formula, f"{n:,}", f"{counts[name]:,}"] for name, formula, n in by_hand])
    slide = {"c1": 156, "s2": 12, "c3": 1516}            # the numbers printed on the slides
    for name, _, n in by_hand:
        L.check(f"{name} has {n:,} parameters" + (" (the slide)" if name in slide else ""),
                counts[name], slide.get(name, n))
    L.check("total 60,850", summary.total, sum(n for _, _, n in by_hand))
    L.say("C5 owns 79% of the parameters although it is 'just' a convolution: on a 5×5 input "
          "a 5×5 filter fits exactly once, so C5 is a fully connected layer in disguise.")

    L.step("C3 is only partly connected")
    L.say("Each of C3's 16 maps reads only some of S2's 6 maps (Table I of the paper): maps "
          "0-5 read three neighbouring maps, 6-11 four neighbouring maps, 12-14 four "
          "non-neighbouring ones, and map 15 all six. Fewer connections, and different maps "
          "are forced to build different features because they see different inputs.")
    rows = []
    for s2_map in range(6):
        rows.append([f"S2 map {s2_map}"] + ["X" if s2_map in LENET5_C3_TABLE[c] else "·"
                                            for c in range(16)])
    L.table([""] + [str(c) for c in range(16)], rows, title="which S2 maps each C3 map reads")
    full_c3 = 16 * (6 * 25 + 1)
    L.check("kernels in the table: 6·3 + 6·4 + 3·4 + 1·6 = 60", n_kernels, 6 * 3 + 6 * 4
            + 3 * 4 + 6)
    L.say(f"A fully connected C3 would hold 16·(6·25 + 1) = {full_c3:,} parameters; the table "
          f"saves {full_c3 - counts['c3']:,}. Here the 60 kernels are stored as one (60, 5, 5) "
          "parameter and placed into a (16, 6, 5, 5) filter bank by a constant index table, "
          "zeros elsewhere; the gradient reaches only the 60 stored kernels.")
    with L.code():
        bank = model.c3.full_weight().detach()
        zero_kernels = int(((bank.abs().sum((2, 3)) == 0).sum()).item())
    L.check("the (16, 6, 5, 5) bank has 96 − 60 = 36 all-zero kernels", zero_kernels, 36)

    L.step("Trainable subsampling, not max pooling")
    L.say("An S2 unit adds the four values of its 2×2 window, multiplies the sum by a "
          "trainable coefficient, adds a trainable bias and squashes:\n\n"
          "    out = f(b + w·(x₁ + x₂ + x₃ + x₄)),   f(a) = 1.7159·tanh(2a/3)\n\n"
          "f is the 'sigmoidal' function of the paper, a tanh scaled so that f(±1) = ±1 "
          "(the slide writes it as a sigmoid; `Subsampling2d(activation='sigmoid')` uses the "
          "logistic 1/(1 + e^-a), which centres outputs on 0.5 and learns more slowly). "
          "With w = 1/4 and b = 0 (the start here) S2 is average pooling followed by f.")
    with L.code():
        x = tg.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        got = Subsampling2d(1)(x)
    L.uses(Subsampling2d)
    L.check("f(0 + ¼·(1+2+3+4)) = 1.7159·tanh(2·2.5/3)", got.detach().reshape(1),
            [1.7159 * math.tanh(2 * 2.5 / 3)], 1e-6)

    L.step("The modern reading of the same idea")
    with L.code():
        modern = LeNet5("modern")
        modern_summary = modern.summary((1, 28, 28), console=L.console)
    L.say("Today one writes LeNet-5 with ReLU instead of the scaled tanh, 2×2 max pooling "
          "(no parameters) instead of trainable subsampling, a fully connected C3 (2,416 "
          "parameters) and padding 2 in C1, so a 28×28 digit needs no padding. The softmax "
          "output replaces the paper's 10 RBF units in both versions.")
    L.check("modern LeNet-5: 156 + 2,416 + 48,120 + 10,164 + 850 parameters",
            modern_summary.total, 156 + 2416 + 48120 + 10164 + 850)

    L.step("Training the classic network on MNIST")
    n_train, epochs, bar = (2000, 2, 0.75) if args.fast else (60000, 3, 0.975)
    train = mnist_dataset(train=True, limit=n_train)
    test_x, test_y = mnist_dataset(train=False, limit=1000 if args.fast else None).tensors
    L.say(f"{n_train:,} training digits, {epochs} epoch(s), batches of 64, Adam (lr 0.001, "
          "times 0.7 after each epoch), cross-entropy on the 10 logits (softmax + negative "
          "log-likelihood). `tools/train_lenet.py --variant classic` runs the same recipe "
          "for more epochs (about 98.5-99% after five).")
    L.say("train.fit runs the usual loop (forward, loss, zero_grad, backward, step) with a "
          "progress bar, and evaluates the test digits after each epoch; a few times per epoch "
          "we also measure the accuracy on the first 1,000 test digits.")
    L.source(Prepared)
    with L.code():
        opt = optim.Adam(model.parameters(), lr=1e-3)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
        test_loader = DataLoader(TensorDataset(test_x, test_y), batch_size=1000)
        every = max(len(loader) // (2 if args.fast else 4), 1)
        checkpoints = []                                        # (step, accuracy)

        def report(step: int, loss: float) -> None:
            if step % every == 0:
                acc = accuracy(model, test_x[:1000], test_y[:1000])
                checkpoints.append((step, acc))
                L.say(f"  step {step:5,}: loss {loss:.4f}, accuracy on 1,000 test digits {acc:.1%}")

        hist = fit(Prepared(model), loader, opt, F.cross_entropy, epochs=epochs,
                   val_loader=test_loader, scheduler=sched, console=L.console, on_step=report)
    L.uses(fit)
    n = len(loader)
    rows = [[e, f"{sum(hist.step_loss[(e - 1) * n:e * n]) / n:.4f}",
             f"{hist.val_accuracy[e - 1]:.2%}", f"{hist.epoch_time[e - 1]:.1f} s"]
            for e in hist.epoch]
    L.table(["epoch", "train loss", f"test accuracy ({test_x.shape[0]:,} digits)", "time"], rows)
    acc = hist.val_accuracy[-1]
    L.check_true(f"test accuracy above {bar:.1%}", acc > bar, f"{acc:.2%}")
    with L.figure("training", "LeNet-5 (classic) learning MNIST", ncols=2,
                  size=(13, 4.6)) as (fig, axes):
        figures.lines(axes[0, 0], {"cross-entropy per batch": hist.step_loss},
                      "training loss", "step (batch of 64)", "loss", logy=True, smooth=50)
        for e in hist.epoch[:-1]:
            axes[0, 0].axvline(e * n, color="gray", ls=":")
            axes[0, 0].annotate(f"end of epoch {e}", (e * n, 0.98), ha="right", va="top",
                                xycoords=("data", "axes fraction"), color="gray", rotation=90)
        steps_, accs = zip(*checkpoints)
        figures.lines(axes[0, 1], {"first 1,000 test digits": accs}, "test accuracy",
                      "step", "accuracy", x=steps_, markers=True)
        axes[0, 1].yaxis.set_major_formatter("{x:.0%}")

    L.step("What C1 and S2 see")
    with L.code():
        digit = prepare(test_x[0:1])                                   # (1, 1, 32, 32)
        with tg.no_grad():
            c1 = model.c1(digit)[0]                                     # (6, 28, 28)
            s2 = model.s2(model.c1(digit))[0]                           # (6, 14, 14)
    L.say("A test digit, and S2's six maps of it (C1's 28×28 maps, subsampled and squashed): "
          "each map has learned to respond to a different kind of stroke.")
    L.images([digit[0, 0]], [f"input (label {int(test_y[0].item())})"])
    L.images([s2[i] for i in range(6)], [f"S2 map {i}" for i in range(6)])
    L.check("C1 gives 6 maps of 28×28 and S2 halves them to 14×14",
            list(c1.shape) + list(s2.shape), [6, 28, 28, 6, 14, 14])
    label = int(test_y[0].item())
    with L.figure("c1_s2_maps", f"What C1 and S2 make of a test digit (a {label})", ncols=7,
                  nrows=2, size=(19, 6)) as (fig, axes):
        figures.image_grid(axes[0:1, 0:1], [digit[0, 0]], ["input, padded to 32×32"],
                           colorbar="pixel (standardised)")
        bound = c1.abs().max().item()
        figures.image_grid(axes[0:1, 1:], [c1[i] for i in range(6)],
                           [f"C1 map {i} (28×28)" for i in range(6)], cmap="RdBu_r",
                           vmin=-bound, vmax=bound, colorbar="C1 output")
        figures.image_grid(axes[1:2, 1:], [s2[i] for i in range(6)],
                           [f"S2 map {i} (14×14)" for i in range(6)], cmap="RdBu_r", vmin=-1.7,
                           vmax=1.7, colorbar="f(a) = 1.7159·tanh(2a/3)")
        axes[1, 0].axis("off")
    table = [[1.0 if s in LENET5_C3_TABLE[c] else 0.0 for c in range(16)] for s in range(6)]
    with L.figure("c3_table", "C3's partial connection table (LeCun et al. 1998, Table I)",
                  size=(12, 4.2)) as (fig, axes):
        figures.heatmap(axes[0, 0], table, "1 = this C3 map (column) reads this S2 map (row)",
                        cmap="Greys", vmin=0, vmax=1.4, colorbar=None, xlabel="C3 map",
                        ylabel="S2 map", annotate=True, fmt="{:.0f}")


if __name__ == "__main__":
    run(main, 10, "LeNet-5")
