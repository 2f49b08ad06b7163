"""Lesson 13: What a CNN learns. Trained filters as pictures; inputs that excite one filter."""
from __future__ import annotations

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, mnist_dataset
from tinygrad_edu.train import fit

import numpy as np   # only for the first layer's answer written out as loops

import figures
from console import Knob, Lesson, run


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


def ascend(features: nn.Module, k: int, x: tg.Tensor, steps: int, ink: float,
           report) -> tuple:
    """Gradient ascent on the input x for a(x) = mean over positions of feature map k:
    x ← x + 0.05·g / rms(g), then keep x a valid picture with no more ink than ``ink`` (a
    real digit's average): pixels clipped to [0, 1], and the whole picture scaled down when
    its mean exceeds the budget. Returns (a at the start, a at the end, x)."""
    start = None
    for _ in range(steps):
        x.requires_grad_(True)
        act = features(x)[0, k].mean()                           # a(x): a scalar
        (g,) = tg.grad(act, [x])
        start = act.item() if start is None else start
        with tg.no_grad():
            x = (x + 0.05 * g / (g.square().mean().sqrt() + 1e-8)).clamp(0, 1)
            x = x * min(1.0, ink / max(x.mean().item(), 1e-12))  # the ink budget
        report(filter=k, activation=f"{act.item():.3f}")
    with tg.no_grad():
        end = features(x)[0, k].mean().item()
    return start, end, x.detach()


def first_layer_gradient(w: np.ndarray, size: int) -> np.ndarray:
    """∂a/∂x for a first-layer filter w (K×K): a(x) = b + mean over the (size−K+1)² windows
    of Σ w·window, so pixel (p, q) gets w(p − i, q − j) from every window (i, j) covering it,
    divided by the number of windows. It does not depend on x: a is linear in the pixels."""
    k = w.shape[0]
    n = size - k + 1
    g = np.zeros((size, size))
    for i in range(n):
        for j in range(n):
            g[i:i + k, j:j + k] += w
    return g / (n * n)


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    n_train, epochs = (3000, 2) if args.fast else (20000, 2)

    L.step("Train a small CNN on handwritten digits",
           deck=(0, "How CNN sees images after learning"))
    train = mnist_dataset(train=True, limit=n_train)
    test = mnist_dataset(train=False, limit=1000)
    L.say(f"Conv(1→8, 5×5) → ReLU → pool → Conv(8→16, 5×5) → ReLU → pool → Linear(256→10), "
          f"trained with Adam on {n_train} MNIST digits for {epochs} epoch(s) by train.fit.")
    L.source(make_model)
    with L.code():
        model = make_model()
        opt = optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
        hist = fit(model, loader, opt, F.cross_entropy, epochs=epochs, console=L.console)
    L.uses(fit)
    model.eval()
    x_test, y_test = test.tensors
    with tg.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    bar = 0.80 if args.fast else 0.93
    L.check_true(f"test accuracy on 1000 unseen digits ≥ {bar:.0%}", acc >= bar, f"{acc:.1%}")

    L.step("First-layer filters, seen as pictures", deck=(4, "Convolutional Neural Nets"))
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

    L.step("What the first layer does to a digit",
           deck=(0, "How CNN sees images after learning"))
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

    L.step("Activation maximization: ask each filter what it wants to see",
           deck=[(0, "How CNN sees images after learning"),
                 (0, "Experiment: understanding learned patterns (filters)")])
    layer = args.layer
    L.departure((0, "Experiment: understanding learned patterns (filters)"),
                "take VGG-16 trained on ImageNet (torchvision), keep it in evaluation mode, "
                "start from an image of random pixels and optimise the pixels to excite one "
                "filter of a hidden layer",
                "the same recipe on the small CNN trained above on MNIST (no download: VGG-16's "
                "weights are 528 MB; lesson 8 counts its 138 million parameters)",
                "the pictures show digit strokes at 28×28, not ImageNet textures; the recipe and "
                "its checks are the same")
    L.say("Freeze the trained network, start from a nearly blank page (paper, 0, with faint "
          "random pixels up to 0.05) and change the *pixels* by gradient ascent on a(x), the "
          "mean of one feature map over all positions (before its ReLU, so that the gradient "
          "is never cut off). To compare fairly with the real digit that excites the filter "
          "most, the picture may hold no more ink than that digit (otherwise many filters "
          "simply ask for ink everywhere):")
    L.source(ascend)
    for p in model.parameters():
        p.requires_grad_(False)
    features = model[:4] if layer == 2 else model[:1]        # conv2 or conv1, before ReLU
    n_maps = 16 if layer == 2 else 8
    steps = args.steps or (40 if args.fast else 100)
    with tg.no_grad():
        real = features(x_test[:500]).mean((2, 3))                   # (500, n_maps)
    best = real.argmax(0)                                             # (n_maps,) best digit
    if args.start == "grey":
        L.say("(--start grey: the ascent starts from a grey page, 0.5 ± 0.1 noise, as an "
              "earlier version of this lesson did.)")
    enough = steps >= (40 if args.fast else 100)      # --steps may stop the ascent early
    if layer == 1:
        L.say("(A first-layer map is linear in the pixels: more ink where its weights are "
              "positive always helps, so here the ink is not limited; the last part of this "
              "step computes the answer in advance.)")
    if enough:
        q = L.question("Starting from a nearly blank page, will the optimized input excite "
                       "each filter more than the best of 500 real digits does?",
                       ["yes, for every filter", "only for some filters",
                        "no: real digits win"])
    results, pictures = [], []
    with L.code():
        with L.progress("gradient ascent on the input", total=n_maps * steps) as bar:
            for k in range(n_maps):
                tg.manual_seed(k)
                if args.start == "grey":
                    x = (0.5 + 0.1 * tg.randn(1, 1, 28, 28)).clamp(0, 1)
                else:
                    x = 0.05 * tg.rand(1, 1, 28, 28)                     # a nearly blank page
                ink = x_test[int(best[k].item())].mean().item() if layer == 2 else 1.0
                start, end, x = ascend(features, k, x, steps, ink, bar.update)
                results.append((k, start, end, real[:, k].max().item()))
                pictures.append(x[0, 0])
    L.uses(tg.grad)
    L.table([f"conv{layer} filter", "a(x): start", f"after {steps} steps",
             "best of 500 digits", "verdict"],
            [[k, f"{a:.3f}", f"{b:.3f}", f"{c:.3f}", "excited" if b > 0 else
              "silent on average"] for k, a, b, c in results])
    if not enough:
        L.say(f"With only {steps} steps (--steps) the ascent may still be on its way: the "
              "lesson checks only that it climbed.")
    for k, a, b, c in results:
        if enough:
            L.check_true(f"filter {k}: the ascent raised a(x) above its start and above every "
                         "real digit", b > a and b > c, f"{a:.3f} → {b:.3f}, best digit {c:.3f}")
        else:
            L.check_true(f"filter {k}: the ascent raised a(x) above its start", b > a,
                         f"{a:.3f} → {b:.3f}")
    beats_start = sum(a > c for _, a, _, c in results)
    if args.start == "grey":
        L.say(f"The grey start alone already beats the best real digit for {beats_start} of "
              f"{n_maps} filters: a grey page is full of ink, so 'better than a digit' says "
              "little when the ascent starts there. The nearly blank start (the default) avoids "
              "that.")
        L.check_true("a grey page already beats every real digit for at least one filter",
                     beats_start >= 1, f"{beats_start} of {n_maps}")
    silent = [k for k, _, b, _ in results if b <= 0]
    if enough:
        L.answer(q, observed=1 if all(b > c for _, _, b, c in results) else 2 if any(
            b > c for _, _, b, c in results) else 3, expected=1,
                 why="the best digit is one picture with that much ink; the ascent searches "
                     "all pictures with no more ink for what this filter responds to, and "
                     "keeps climbing while the gradient points up.")
    if silent:
        L.say(f"Filter(s) {silent} stay below zero on average even for their best input: no "
              "real digit excites them on average either (their best digit is lower still, "
              "checked above). They respond only at a few positions, or to nothing the "
              "network saw: for them a blank page is about as good as it gets.")
    excited = n_maps - len(silent)
    L.check_true("most filters end clearly excited (a(x) > 0)", excited > n_maps // 2,
                 f"{excited} of {n_maps}")
    if layer == 1:
        L.say("A first-layer map is linear in the pixels: a(x) = b + mean Σ w·window, so its "
              "gradient is the same everywhere and the best input is known in advance: ink "
              "wherever the filter's total weight on a pixel is positive, paper elsewhere. "
              "Compare with NumPy:")
        L.source(first_layer_gradient)
        with L.code():
            weights = model[0].weight.detach().numpy()[:, 0]                   # (8, 5, 5)
            grads = [first_layer_gradient(weights[k], 28) for k in range(8)]
        L.say("(Pixels whose summed weight is within 5% of zero move so slowly that they are "
              "left out: they may still be on their way.)")
        for k in range(8):
            clear = np.abs(grads[k]) > 0.05 * np.abs(grads[k]).max()
            got = pictures[k].numpy()[clear] > 0
            L.check(f"filter {k}: ink where its summed weight is clearly positive, paper where "
                    "it is clearly negative", got.astype(float),
                    (grads[k][clear] > 0).astype(float))
    L.say("Shown at half resolution (2×2 averages); the picture below has every pixel.")
    L.images([half(p) for p in pictures], [f"filter {k} wants" for k in range(n_maps)])
    cols = 4
    rows = (len(pictures) + cols - 1) // cols
    with L.figure(f"conv{layer}_activation_maximization", f"Inputs that excite conv{layer}'s "
                  "filters most (activation maximization, from a nearly blank page)",
                  ncols=cols, nrows=rows, size=(3.6 * cols + 1.2, 3.4 * rows + 0.8)) \
            as (fig, axes):
        figures.image_grid(axes, pictures, [f"filter {k}: a {a:.2f} → {b:.2f}\n(best digit "
                                            f"{c:.2f})" for k, a, b, c in results],
                           vmin=0, vmax=1, colorbar="pixel (1 = ink)")
    L.say("Each picture shows the strokes, at the positions and orientations, that this "
          "filter responds to most: the network's own picture of its feature. (Erhan et al. "
          "and the deck's VGG-16 visualizations apply the same recipe to deep layers of "
          "networks trained on ImageNet.)")


if __name__ == "__main__":
    run(main, 13, "What a CNN learns", knobs=[
        Knob("--layer", 2, "which convolution layer to visualise", choices=(1, 2)),
        Knob("--start", "faint", "where the ascent starts: a nearly blank page, or grey",
             choices=("faint", "grey")),
        Knob("--steps", 0, "ascent steps (0: 40 with --fast, 100 otherwise)"),
    ])
