"""Lesson 13: What a CNN learns. Trained filters as pictures; inputs that excite one filter."""
from __future__ import annotations

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, mnist_dataset
from tinygrad_edu.train import fit

import figures
from console import Lesson, run


def make_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),      # (N, 8, 12, 12)
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),     # (N, 16, 4, 4)
        nn.Flatten(), nn.Linear(256, 10),
    )


def half(image: tg.Tensor) -> tg.Tensor:
    """A (H, W) image at half resolution (2×2 average pooling), to fit a terminal."""
    h, w = image.shape
    return F.avg_pool2d(image.reshape(1, 1, h, w), 2)[0, 0]


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    n_train, epochs = (3000, 1) if args.fast else (20000, 2)

    L.step("Train a small CNN on handwritten digits")
    train = mnist_dataset(train=True, limit=n_train)
    test = mnist_dataset(train=False, limit=1000)
    L.say(f"Conv(1→8, 5×5) → ReLU → pool → Conv(8→16, 5×5) → ReLU → pool → Linear(256→10), "
          f"trained with Adam on {n_train} MNIST digits for {epochs} epoch(s) by train.fit.")
    L.source(make_model)
    with L.code():
        model = make_model()
        opt = optim.Adam(model.parameters(), lr=4e-3)
        loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
        hist = fit(model, loader, opt, F.cross_entropy, epochs=epochs, console=L.console)
    L.uses(fit)
    model.eval()
    x_test, y_test = test.tensors
    with tg.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    bar = 0.80 if args.fast else 0.95
    L.check_true(f"test accuracy on 1000 unseen digits ≥ {bar:.0%}", acc >= bar, f"{acc:.1%}")

    L.step("First-layer filters, seen as pictures")
    with L.code():
        conv1 = model[0]
        w1 = conv1.weight.detach()[:, 0]                                  # (8, 5, 5)
    L.say("A first-layer filter is a 5×5 grid of weights that is multiplied with 5×5 patches "
          "of the image, so it can be drawn as a tiny image itself: a full block ██ where the "
          "weight is largest (it wants ink there), blank where it is most negative (it wants "
          "paper). Each picture is scaled to its own range. In the figure the colours share "
          "one scale: red where a filter wants ink, blue where it wants paper, white for 0.")
    L.images([w1[k] for k in range(8)], [f"filter {k}" for k in range(8)])
    with L.figure("conv1_filters", "The 8 first-layer filters of the trained CNN", ncols=4,
                  nrows=2, size=(12, 6.4)) as (fig, axes):
        figures.image_grid(axes, [w1[k] for k in range(8)], [f"filter {k}" for k in range(8)],
                           centered=True, colorbar="weight (red: wants ink, blue: paper)")
    signs = [(w1[k] > 0).float().mean().item() for k in range(8)]
    L.check_true("learned filters mix positive and negative weights (edge/stroke detectors, "
                 "not plain blobs)", all(0.05 < s < 0.95 for s in signs),
                 "positive share per filter: " + ", ".join(f"{s:.2f}" for s in signs))

    L.step("What the first layer does to a digit")
    with L.code():
        digit = x_test[0:1]                                              # (1, 1, 28, 28)
        with tg.no_grad():
            maps = model[2](model[1](conv1(digit)))[0]                    # (8, 12, 12)
    L.say(f"Test digit 0 (a {int(y_test[0].item())}) and its 8 feature maps after ReLU and "
          "pooling (12×12): each filter picks out strokes of one orientation or side.")
    L.image(half(digit[0, 0]), "input (half resolution)")
    L.images([maps[k] for k in range(4)], [f"map {k}" for k in range(4)])
    L.images([maps[k] for k in range(4, 8)], [f"map {k}" for k in range(4, 8)])
    L.check("8 maps of 12×12 (28 − 5 + 1 = 24, pooled to 12)", maps.shape, (8, 12, 12))
    with L.figure("digit_feature_maps", f"A test digit (a {int(y_test[0].item())}) and its 8 "
                  "first-layer maps", ncols=5, nrows=2, size=(16, 6.4)) as (fig, axes):
        figures.image_grid(axes[:, 0:1], [digit[0, 0]], ["input (28×28)"], colorbar="ink")
        axes[1, 0].axis("off")
        figures.image_grid(axes[:, 1:], [maps[k] for k in range(8)],
                           [f"map {k} (12×12)" for k in range(8)], cmap="viridis", vmin=0,
                           vmax=maps.max().item(), colorbar="activation")

    L.step("Activation maximization: ask a filter what it wants to see")
    L.say("Deeper filters combine first-layer maps, so their weights are hard to read. "
          "Instead, follow Erhan et al. (2009): freeze the trained network, start from a "
          "random image and change the *pixels* by gradient ascent on a(x), the mean over "
          "all positions of one second-layer filter's response (before its ReLU, so that the "
          "gradient is never cut off):\n\n"
          "    x ← x + η · g / rms(g),   g = ∂a/∂x\n"
          "    x ← clip(0.5 + 0.98 · (x − 0.5), 0, 1)\n\n"
          "The gradient is normalised (rms = root of the mean square) so the step size does "
          "not depend on the scale of g; the second line pulls every pixel a little back "
          "towards gray, so only pixels the filter keeps asking for stay far from gray, and "
          "keeps them in the valid range [0, 1].")
    for p in model.parameters():
        p.requires_grad_(False)
    features = model[:4]                                             # up to conv2 (pre-ReLU)
    steps = 40 if args.fast else 100
    chosen = [0, 5] if args.fast else list(range(16))
    with tg.no_grad():
        real = features(x_test[:500]).mean((2, 3))                   # (500, 16)
    results, pictures = [], []
    with L.code():
        with L.progress("gradient ascent on the input", total=len(chosen) * steps) as bar:
            for k in chosen:
                tg.manual_seed(k)
                x = (0.5 + 0.1 * tg.randn(1, 1, 28, 28)).clamp(0, 1)
                start = None
                for _ in range(steps):
                    x.requires_grad_(True)
                    act = features(x)[0, k].mean()                   # a(x): a scalar
                    (g,) = tg.grad(act, [x])
                    if start is None:
                        start = act.item()
                    with tg.no_grad():
                        x = x + 0.02 * g / (g.square().mean().sqrt() + 1e-8)
                        x = (0.5 + 0.98 * (x - 0.5)).clamp(0, 1)     # pull gently to gray
                    bar.update(filter=k, activation=f"{act.item():.3f}")
                with tg.no_grad():
                    end = features(x)[0, k].mean().item()
                best_real = real[:, k].max().item()
                results.append((k, start, end, best_real))
                pictures.append(x.detach()[0, 0])
    L.uses(tg.grad)
    L.table(["conv2 filter", "a(x): random start", f"after {steps} steps",
             "best of 500 real digits"],
            [[k, f"{a:.3f}", f"{b:.3f}", f"{c:.3f}"] for k, a, b, c in results])
    for k, a, b, _ in results:
        L.check_true(f"gradient ascent raised filter {k}'s mean activation", b > a + 0.1,
                     f"{a:.3f} → {b:.3f}")
    beats = sum(b > c for _, _, b, c in results)
    L.check_true("the optimized inputs excite their filters more than any of 500 real digits",
                 beats == len(results), f"{beats} of {len(results)}")
    L.say("Shown at half resolution (2×2 averages); the picture below has every pixel.")
    L.images([half(p) for p in pictures], [f"filter {k} wants" for k in chosen])
    cols = min(4, len(pictures))
    rows = (len(pictures) + cols - 1) // cols
    with L.figure("conv2_activation_maximization", "Inputs that excite second-layer filters "
                  "most (activation maximization)", ncols=cols, nrows=rows,
                  size=(3.6 * cols + 1.2, 3.4 * rows + 0.8)) as (fig, axes):
        figures.image_grid(axes, pictures, [f"filter {k}: mean activation {a:.2f} → {b:.2f}"
                                            for k, a, b, _ in results],
                           vmin=0, vmax=1, colorbar="pixel (1 = ink)")
    L.say("Each picture shows the strokes, at the positions and orientations, that this "
          "second-layer filter responds to most: the network's own picture of its feature. "
          "(Erhan et al. and later VGG-16 visualizations apply the same recipe to deep layers "
          "of networks trained on ImageNet.)")


if __name__ == "__main__":
    run(main, 13, "What a CNN learns")
