"""Lesson 10: A Keras-style CNN. Parameter counts by hand; SGD momentum + decay rule by hand."""
from __future__ import annotations

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import optim
from tinygrad_edu.data import DataLoader, mnist_dataset
from tinygrad_edu.lesson import Lesson, run
from tinygrad_edu.models import KerasCNN


def main(args) -> None:
    tg.manual_seed(0)
    L = Lesson(10, "A Keras-style CNN")

    L.step("The model of the lecture, in PyTorch's words")
    L.say("Keras: Conv2D(32, (3,3), relu) → MaxPooling2D(2,2) → Conv2D(64, (3,3), relu) → "
          "MaxPooling2D(2,2) → Conv2D(64, (3,3), relu) → Flatten → Dense(64, relu) → "
          "Dense(10, softmax). Here Conv2D is nn.Conv2d, MaxPooling2D is nn.MaxPool2d and "
          "Dense is nn.Linear; the last layer returns logits and the softmax lives in the loss.")
    model = KerasCNN()
    summary = model.summary((1, 28, 28))

    L.step("Shapes and parameter counts by hand")
    L.say("A 3×3 conv without padding shrinks each side by 2; a 2×2 pool halves it (rounding "
          "down): 28 → 26 → 13 → 11 → 5 → 3. A conv layer with C_in input and C_out output "
          "channels holds C_out·(C_in·3·3 + 1) numbers, a dense layer n_out·(n_in + 1).")
    side = [28]
    for op in ("conv", "pool", "conv", "pool", "conv"):
        side.append(side[-1] - 2 if op == "conv" else side[-1] // 2)
    flat = 64 * side[-1] * side[-1]
    by_hand = [
        ("Conv2d(1 → 32, 3×3)", "32·(1·9 + 1)", 32 * (1 * 9 + 1), (32, side[1], side[1])),
        ("Conv2d(32 → 64, 3×3)", "64·(32·9 + 1)", 64 * (32 * 9 + 1), (64, side[3], side[3])),
        ("Conv2d(64 → 64, 3×3)", "64·(64·9 + 1)", 64 * (64 * 9 + 1), (64, side[5], side[5])),
        (f"Linear({flat} → 64)", f"64·({flat} + 1)", 64 * (flat + 1), (64,)),
        ("Linear(64 → 10)", "10·(64 + 1)", 10 * (64 + 1), (10,)),
    ]
    layers = [r for r in summary.rows if r["params"]]
    L.table(["layer", "formula", "by hand", "summary", "output shape"],
            [[name, formula, f"{n:,}", f"{r['params']:,}", str(shape)]
             for (name, formula, n, shape), r in zip(by_hand, layers)])
    for (name, _, n, shape), r in zip(by_hand, layers):
        L.check(f"{name}: {n:,} parameters, output {shape}",
                [r["params"], *r["output_shape"][1:]], [n, *shape])
    L.check("Conv2D(32, 3×3) on one channel = 320 parameters", by_hand[0][2], 320)
    L.check("total = 93,322", summary.total, sum(n for _, _, n, _ in by_hand))
    L.say(f"Flatten turns the 64 maps of {side[-1]}×{side[-1]} into {flat} numbers; the "
          "first dense layer then holds as many parameters as the last convolution.")

    L.step("Dropout: switching units off while learning")
    L.say("nn.Dropout(p) zeroes each value with probability p during training and scales the "
          "survivors by 1/(1−p), so the expected value is unchanged; in eval mode it does "
          "nothing. It has no parameters.")
    dropped = KerasCNN(dropout=0.5)
    L.check("KerasCNN(dropout=0.5) has the same 93,322 parameters",
            sum(p.numel() for p in dropped.parameters()), 93322)
    x = tg.randn(4, 1, 28, 28)
    with tg.no_grad():
        a, b = dropped(x), dropped(x)
        dropped.eval()
        c, d = dropped(x), dropped(x)
    L.check_true("training mode: two passes differ (different units dropped)",
                 bool((a - b).abs().max().item() > 0))
    L.check("eval mode: two passes agree exactly (max |difference|)", (c - d).abs().max(), 0.0)

    L.step("Softmax + negative log-likelihood")
    L.say("The probabilities are y_j = e^{z_j} / Σ_k e^{z_k}; the loss of one example with "
          "one-hot target t is E = −Σ_j t_j log y_j = −log y_label. F.cross_entropy does both "
          "in one numerically stable step.")
    logits = tg.randn(5, 10)
    labels = tg.tensor([3, 1, 4, 1, 5])
    probs = logits.softmax(1)
    by_hand_nll = -(F.one_hot(labels, 10).to(tg.float32) * probs.log()).sum(1).mean()
    L.check("−mean Σ t log y by hand = F.cross_entropy", F.cross_entropy(logits, labels),
            by_hand_nll.item(), 1e-6)
    L.check("= F.nll_loss(F.log_softmax(z))", F.nll_loss(F.log_softmax(logits, 1), labels),
            by_hand_nll.item(), 1e-6)

    L.step("The update rule: momentum and weight decay")
    eta, alpha, lam = 0.05, 0.9, 1e-3
    L.say("The lecture's rule for every weight, with learning rate η, momentum α and weight "
          "decay λ:\n\n"
          "    Δw_t = −η·∂E/∂w + α·Δw_{t−1} − λ·η·w_{t−1},     w_t = w_{t−1} + Δw_t\n\n"
          "Momentum keeps part of the last step (a ball rolling downhill); weight decay pulls "
          "every weight a little towards 0. Below, one copy of the model follows this rule "
          "written out by hand, another uses optim.SGD(momentum=α, weight_decay=λ); both "
          "see the same batches, in float64.")
    tg.manual_seed(1)
    manual = KerasCNN().double()
    library = KerasCNN().double()
    library.load_state_dict(manual.state_dict())
    opt = optim.SGD(library.parameters(), lr=eta, momentum=alpha, weight_decay=lam)
    last_step = {name: tg.zeros_like(p) for name, p in manual.named_parameters()}
    data = mnist_dataset(train=True, limit=64)
    xs, ys = data.tensors
    xs = xs.double()
    rows = []
    for step in range(1, 5):
        xb, yb = xs[(step - 1) * 16: step * 16], ys[(step - 1) * 16: step * 16]
        loss_manual = F.cross_entropy(manual(xb), yb)
        manual.zero_grad()
        loss_manual.backward()
        with tg.no_grad():
            for name, w in manual.named_parameters():
                delta = -eta * w.grad + alpha * last_step[name] - lam * eta * w
                w.add_(delta)
                last_step[name] = delta
        loss_lib = F.cross_entropy(library(xb), yb)
        opt.zero_grad()
        loss_lib.backward()
        opt.step()
        diff = max((a.detach() - b.detach()).abs().max().item()
                   for a, b in zip(manual.parameters(), library.parameters()))
        rows.append([step, f"{loss_manual.item():.6f}", f"{loss_lib.item():.6f}", f"{diff:.1e}"])
        L.check(f"step {step}: hand-written rule = optim.SGD (max |w difference|)", diff, 0.0,
                1e-12)
    L.table(["step", "loss (by hand)", "loss (optim.SGD)", "max |Δ weights|"], rows)
    L.say("optim.SGD keeps a 'momentum buffer' b_t = α·b_{t−1} + ∂E/∂w + λ·w and steps "
          "w ← w − η·b_t; multiplying by −η shows that −η·b_t is exactly the Δw_t above.")

    L.step("Training on MNIST")
    n_train, bar = (2048, 0.60) if args.fast else (60000, 0.96)
    mean, std = 0.1307, 0.3081          # MNIST's pixel mean and standard deviation
    train = mnist_dataset(train=True, limit=n_train)
    test_x, test_y = mnist_dataset(train=False, limit=1000 if args.fast else None).tensors
    L.say(f"One epoch over {n_train:,} digits (pixels standardised with MNIST's mean {mean} "
          f"and standard deviation {std}), batches of 32, optim.SGD(lr={eta}, "
          f"momentum={alpha}, weight_decay={lam}).")
    model = KerasCNN()
    opt = optim.SGD(model.parameters(), lr=eta, momentum=alpha, weight_decay=lam)
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
    losses = []
    for xb, yb in loader:
        loss = F.cross_entropy(model((xb - mean) * (1 / std)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    correct = 0
    with tg.no_grad():
        for i in range(0, test_x.shape[0], 500):
            pred = model((test_x[i:i + 500] - mean) * (1 / std)).argmax(1)
            correct += int((pred == test_y[i:i + 500]).sum().item())
    acc = correct / test_x.shape[0]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    L.table(["training images", "steps", "loss (first 10 steps)", "loss (last 10 steps)",
             f"test accuracy ({test_x.shape[0]:,} digits)"],
            [[f"{n_train:,}", len(losses), f"{first:.3f}", f"{last:.3f}", f"{acc:.2%}"]])
    L.check_true("the loss falls", last < first, f"{first:.3f} → {last:.3f}")
    L.check_true(f"test accuracy above {bar:.0%} after one epoch", acc > bar, f"{acc:.2%}")
    L.done()


if __name__ == "__main__":
    run(main)
