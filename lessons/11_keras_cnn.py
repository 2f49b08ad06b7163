"""Lesson 11: A Keras-style CNN. Parameter counts by hand; SGD momentum + decay rule by hand."""
from __future__ import annotations

import numpy as np   # only for the cross-entropy written out with log-sum-exp

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset, mnist_dataset
from tinygrad_edu.models import KerasCNN
from tinygrad_edu.train import fit

import figures
from console import Knob, Lesson, run

MEAN, STD = 0.1307, 0.3081          # MNIST's pixel mean and standard deviation


class Standardised(nn.Module):
    """The network behind (x − mean) / std: pixels centred on 0 with unit spread."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.net((x - MEAN) * (1 / STD))


def cross_entropy_numpy(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean over rows of −log softmax(z)[label] = log Σ_j e^{z_j} − z_label, with the
    log-sum-exp computed stably as m + log Σ_j e^{z_j − m}, m = max_j z_j."""
    m = z.max(axis=1, keepdims=True)
    log_sum_exp = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(log_sum_exp - z[np.arange(len(labels)), labels]))


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("The model of the lecture, in PyTorch's words", deck=(1, "Creating model using keras"))
    L.say("Keras: Conv2D(32, (3,3), relu) → MaxPooling2D(2,2) → Conv2D(64, (3,3), relu) → "
          "MaxPooling2D(2,2) → Conv2D(64, (3,3), relu) → Flatten → Dense(64, relu) → "
          "Dense(10, softmax). Here Conv2D is nn.Conv2d, MaxPooling2D is nn.MaxPool2d and "
          "Dense is nn.Linear; the last layer returns logits and the softmax lives in the loss.")
    with L.code():
        model = KerasCNN()
        summary = model.summary((1, 28, 28), console=L.console)
    L.uses(KerasCNN)

    L.step("Shapes and parameter counts by hand", deck=(1, "Creating model using keras"))
    L.say("A 3×3 conv without padding shrinks each side by 2; a 2×2 pool halves it (rounding "
          "down): 28 → 26 → 13 → 11 → 5 → 3. A conv layer with C_in input and C_out output "
          "channels holds C_out·(C_in·3·3 + 1) numbers, a dense layer n_out·(n_in + 1).")
    with L.code():
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
    L.check("Conv2D(32, 3×3) on one channel = 320 parameters (the Keras summary)",
            layers[0]["params"], 320)
    L.check("total = 93,322", summary.total, sum(n for _, _, n, _ in by_hand))
    L.departure((1, "Creating model using keras"),
                "Keras: input_shape=(28, 28, 1), channels last; the last Dense layer has a "
                "softmax activation and the loss takes probabilities",
                "PyTorch's layout (1, 28, 28), channels first (lesson 6); the last layer returns "
                "the 10 logits and F.cross_entropy applies log-softmax inside",
                "the same layers and the same 93,322 parameters (counted by hand above: a "
                "layer's count does not depend on the layout); the probabilities are "
                "softmax(logits), and the log of a separate softmax can underflow where "
                "log-softmax cannot (step 'Softmax + negative log-likelihood')")
    L.say(f"Flatten turns the 64 maps of {side[-1]}×{side[-1]} into {flat} numbers; the "
          "first dense layer then holds as many parameters as the last convolution.")

    L.step("Dropout: switching units off while learning",
           deck=(1, "STEP 5: REGULARIZATION (DROPOUT)"))
    L.say("nn.Dropout(p) zeroes each value with probability p during training and scales the "
          "survivors by 1/(1−p), so the expected value is unchanged; in eval mode it does "
          "nothing. It has no parameters.")
    with L.code():
        dropped = KerasCNN(dropout=0.5)
    L.uses(F.dropout)
    L.check("KerasCNN(dropout=0.5) has the same 93,322 parameters",
            sum(p.numel() for p in dropped.parameters()), 93322)
    with L.code():
        x = tg.randn(4, 1, 28, 28)
        with tg.no_grad():
            a, b = dropped(x), dropped(x)
            dropped.eval()
            c, d = dropped(x), dropped(x)
    L.check_true("training mode: two passes differ (different units dropped)",
                 bool((a - b).abs().max().item() > 0))
    L.check("eval mode: two passes agree exactly", c, d)

    L.step("Softmax + negative log-likelihood",
           deck=[(1, "STEP 6: PROBABILITY CONVERSION....."),
                 (1, "STEP 6: GET ERROR AND UPDATE WEIGHTS")])
    L.say("The probabilities are y_j = e^{z_j} / Σ_k e^{z_k}; the loss of one example with "
          "one-hot target t is E = −Σ_j t_j log y_j = −log y_label. F.cross_entropy does both "
          "in one numerically stable step.")
    with L.code():
        logits = tg.randn(5, 10)
        labels = tg.tensor([3, 1, 4, 1, 5])
        loss = F.cross_entropy(logits, labels)
    L.uses(F.cross_entropy)
    L.say("The same number written out in NumPy, with the log-sum-exp trick that keeps e^z "
          "from overflowing:")
    L.source(cross_entropy_numpy)
    with L.code():
        by_hand = cross_entropy_numpy(logits.numpy().astype(np.float64), labels.numpy())
    L.check("F.cross_entropy = the NumPy log-sum-exp", loss, by_hand, 1e-6)
    onehot = np.eye(10)[labels.numpy()]
    y = np.exp(logits.numpy().astype(np.float64))
    y /= y.sum(1, keepdims=True)
    L.check("= −mean Σ_j t_j log y_j with one-hot t and the softmax y in NumPy", loss,
            float(-(onehot * np.log(y)).sum(1).mean()), 1e-6)
    L.departure((1, "STEP 6: GET ERROR AND UPDATE WEIGHTS"),
                "the loss for classification is written Σ_i t_i log y_i (a dash before it, no "
                "minus sign in the sum)",
                "E = −Σ_i t_i log y_i: the negative log-likelihood, which gradient descent "
                "makes smaller",
                "log y ≤ 0, so Σ t log y is ≤ 0 and is the log-likelihood itself: minimising it "
                "would make the right class less likely. Its value here is −E (checked)")
    L.check("Σ t log y (the sum as printed) = −E", float((onehot * np.log(y)).sum(1).mean()),
            -loss.item(), 1e-6)

    L.step("The update rule: momentum and weight decay",
           deck=(1, "STEP 6: GET ERROR AND UPDATE WEIGHTS"))
    eta, alpha, lam = 0.05, args.momentum, args.weight_decay
    L.say("The deck's update for every weight, with learning rate η, momentum α and weight "
          "decay λ, reads\n\n"
          "    w ← w − η·∂E/∂w + α·w − λ·η·w\n\n"
          "Taken literally, the momentum term α·w adds a fraction of the *weight itself* at "
          "every step. Momentum means something else: a fraction of the *last step*:")
    L.departure((1, "STEP 6: GET ERROR AND UPDATE WEIGHTS"),
                "w ← w − η·∂E/∂w + α·w − λ·η·w (α times the weight)",
                "Δw_t = −η·∂E/∂w + α·Δw_{t−1} − λ·η·w_{t−1}, w_t = w_{t−1} + Δw_t (α times the "
                "previous step): heavy-ball momentum, what optim.SGD and Keras implement",
                "with the literal rule a weight whose gradient is 0 is multiplied by "
                f"1 + α − λη = {1 + alpha - lam * eta:.5f} at every step: above 1 it grows "
                "without limit. Shown next on one weight and on the network")
    L.say("One weight, E = ½(w − 3)², 30 steps from w = 1 (plain Python floats):")
    q = L.question(f"With the literal rule (α = {alpha}), where does w end after 30 steps?",
                   ["at the minimum, 3", "on its way to 3, not there yet",
                    "far away: it blows up"])
    with L.code():
        w_lit, w_mom, step = 1.0, 1.0, 0.0
        for _ in range(30):
            w_lit = w_lit - eta * (w_lit - 3) + alpha * w_lit - lam * eta * w_lit   # literal
            step = -eta * (w_mom - 3) + alpha * step - lam * eta * w_mom             # momentum
            w_mom = w_mom + step
    factor = 1 + alpha - lam * eta - eta            # the literal rule's w ← factor·w + 3η
    fixed = 3 * eta / (1 - factor) if factor != 1 else float("inf")
    literal_closed = fixed + (1.0 - fixed) * factor ** 30 if factor != 1 else 1 + 30 * 3 * eta
    L.check("the literal rule after 30 steps = its closed form c + (1 − c)·(1 + α − λη − η)^30",
            w_lit, literal_closed, 1e-9)
    L.table(["rule", "w after 30 steps"], [["the deck, literally (+α·w)", f"{w_lit:.4g}"],
                                           ["momentum (+α·Δw)", f"{w_mom:.4f}"]])
    grows = abs(factor) > 1
    L.answer(q, observed=3 if abs(w_lit) > 100 else 1 if abs(w_lit - 3) < 0.05 else 2,
             expected=3 if grows else 1 if abs(literal_closed - 3) < 0.05 else 2,
             why=f"w ← {factor:.4f}·w + {3 * eta:g}: a factor above 1 at every step multiplies "
                 "any distance from the fixed point, so w runs away geometrically. Momentum "
                 "instead adds a fraction of the previous change, which dies out near the "
                 "minimum.")
    if alpha > 0:
        L.check_true("momentum (+α·Δw) settles near the minimum w = 3 within 30 steps",
                     abs(w_mom - 3) < 0.5, f"{w_mom:.4f}")
    L.say("Below, one copy of the network follows heavy-ball momentum written out by hand, "
          "another uses optim.SGD(momentum=α, weight_decay=λ); both see the same batches, in "
          "float64.")
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
    with L.code():
        with L.progress("two copies, same batches", total=4) as bar:
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
                bar.update(loss=loss_lib.item())
                diff = max((a.detach() - b.detach()).abs().max().item()
                           for a, b in zip(manual.parameters(), library.parameters()))
                rows.append([step, f"{loss_manual.item():.6f}", f"{loss_lib.item():.6f}",
                             f"{diff:.1e}"])
                L.check(f"step {step}: hand-written rule = optim.SGD (max |w difference|)", diff,
                        0.0, 1e-12)
    L.uses(optim.SGD.step)
    L.table(["step", "loss (by hand)", "loss (optim.SGD)", "max |Δ weights|"], rows)
    L.say("optim.SGD keeps a 'momentum buffer' b_t = α·b_{t−1} + ∂E/∂w + λ·w and steps "
          "w ← w − η·b_t; multiplying by −η shows that −η·b_t is exactly the Δw_t above.")
    with L.code():
        literal = KerasCNN().double()
        literal.load_state_dict(library.state_dict())
        before = F.cross_entropy(literal(xs[:16]), ys[:16]).item()
        for _ in range(10):                              # the deck's rule, literally
            loss_lit = F.cross_entropy(literal(xs[:16]), ys[:16])
            literal.zero_grad()
            loss_lit.backward()
            with tg.no_grad():
                for w in literal.parameters():
                    w.add_(-eta * w.grad + alpha * w - lam * eta * w)
        after = F.cross_entropy(literal(xs[:16]), ys[:16]).item()
    L.say(f"The network under the literal rule: loss {before:.3f} → {after:.4g} after 10 "
          "steps.")
    if alpha >= 0.5:
        L.check_true("the literal rule blows the network up: its loss grows more than tenfold "
                     "in 10 steps (or overflows)", not after < 10 * before,
                     f"{before:.3f} → {after:.4g}")

    L.step("Training on MNIST", deck=(2, "Demos"))
    n_train, bar = (2048, 0.60) if args.fast else (60000, 0.96)
    if alpha < 0.5:                          # without (much) momentum one epoch gets less far
        bar = 0.30 if args.fast else 0.90
    train = mnist_dataset(train=True, limit=n_train)
    test_x, test_y = mnist_dataset(train=False, limit=1000 if args.fast else None).tensors
    L.say(f"One epoch over {n_train:,} digits (pixels standardised with MNIST's mean {MEAN} "
          f"and standard deviation {STD}), batches of 32, optim.SGD(lr={eta}, "
          f"momentum={alpha}, weight_decay={lam}); train.fit runs the loop with a progress "
          "bar, and a few times during the epoch we measure the accuracy on 500 test digits.")
    L.source(Standardised)

    def accuracy(net: nn.Module, images: tg.Tensor, labels: tg.Tensor) -> float:
        net.eval()
        correct = 0
        with tg.no_grad():
            for i in range(0, images.shape[0], 500):
                pred = net(images[i:i + 500]).argmax(1)
                correct += int((pred == labels[i:i + 500]).sum().item())
        net.train()
        return correct / images.shape[0]

    with L.code():
        model = Standardised(KerasCNN())
        opt = optim.SGD(model.parameters(), lr=eta, momentum=alpha, weight_decay=lam)
        loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
        every = max(len(loader) // (2 if args.fast else 5), 1)
        checkpoints = []                                        # (step, accuracy)

        def report(step: int, loss: float) -> None:
            if step % every == 0:
                checkpoints.append((step, accuracy(model, test_x[:500], test_y[:500])))
                L.say(f"  step {step:5,}: loss {loss:.4f}, accuracy on 500 test digits "
                      f"{checkpoints[-1][1]:.1%}")

        hist = fit(model, loader, opt, F.cross_entropy, epochs=1, console=L.console,
                   on_step=report)
        losses = hist.step_loss
        acc = accuracy(model, test_x, test_y)
    L.uses(fit)
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    L.table(["training images", "steps", "loss (first 10 steps)", "loss (last 10 steps)",
             f"test accuracy ({test_x.shape[0]:,} digits)"],
            [[f"{n_train:,}", len(losses), f"{first:.3f}", f"{last:.3f}", f"{acc:.2%}"]])
    L.check_true("the loss falls", last < first, f"{first:.3f} → {last:.3f}")
    L.check_true(f"test accuracy above {bar:.0%} after one epoch", acc > bar, f"{acc:.2%}")
    with L.figure("training", "The Keras-style CNN, one epoch of MNIST", ncols=2,
                  size=(13, 4.6)) as (fig, axes):
        figures.lines(axes[0, 0], {"cross-entropy per batch": losses}, "training loss",
                      "step (batch of 32)", "loss", logy=True, smooth=50)
        steps_, accs = zip(*checkpoints)
        figures.lines(axes[0, 1], {"first 500 test digits": accs}, "test accuracy during the epoch",
                      "step", "accuracy", x=steps_, markers=True)
        axes[0, 1].yaxis.set_major_formatter("{x:.0%}")
    filters = model.net[0].weight.detach()[:, 0]                 # (32, 3, 3)
    with L.figure("first_layer_filters", "The 32 first-layer 3×3 filters after one epoch",
                  ncols=8, nrows=4, size=(14, 7.5)) as (fig, axes):
        figures.image_grid(axes, [filters[k] for k in range(32)], [f"{k}" for k in range(32)],
                           centered=True, colorbar="weight")


if __name__ == "__main__":
    run(main, 11, "A Keras-style CNN", knobs=[
        Knob("--momentum", 0.9, "momentum α of the update rule (the rule's checks use it)"),
        Knob("--weight-decay", 1e-3, "weight decay λ of the update rule"),
    ])
