"""Lesson 9: X or O? A tiny CNN tells shifted and distorted 9×9 X's from O's, maps shown."""
from __future__ import annotations

import random

from typing import Callable

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim

import figures
from console import Knob, Lesson, run

N = 9
CLASSES = ("X", "O")


def base_x() -> list:
    """+1 on both diagonals of the inner 7×7, −1 elsewhere."""
    return [[1.0 if 1 <= i <= 7 and (j == i or j == N - 1 - i) else -1.0 for j in range(N)]
            for i in range(N)]


def base_o() -> list:
    """A ring: +1 on its outline, −1 elsewhere."""
    ring = {(1, 3), (1, 4), (1, 5), (2, 2), (2, 6), (3, 1), (3, 7), (4, 1), (4, 7), (5, 1),
            (5, 7), (6, 2), (6, 6), (7, 3), (7, 4), (7, 5)}
    return [[1.0 if (i, j) in ring else -1.0 for j in range(N)] for i in range(N)]


# The lecture's "would you classify this as an X?": an X drawn off-centre with bent strokes.
SLIDE_X = [
    [-1, -1, -1, -1, -1, -1, -1, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1, 1, -1],
    [-1, 1, -1, -1, -1, -1, 1, -1, -1],
    [-1, -1, 1, 1, -1, -1, 1, -1, -1],
    [-1, -1, -1, -1, 1, -1, -1, -1, -1],
    [-1, -1, -1, 1, -1, 1, -1, -1, -1],
    [-1, -1, -1, 1, -1, 1, -1, 1, -1],
    [-1, -1, 1, -1, -1, -1, 1, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1],
]


# The deck's first grid ("would you classify this as an X?"), as printed: its first row has a
# tenth value (dropped here) and its seventh row repeats the sixth.
DECK_X = [
    [-1, -1, -1, -1, -1, -1, -1, -1, -1],
    [-1, 1, -1, -1, -1, -1, -1, 1, -1],
    [-1, -1, 1, -1, -1, -1, 1, -1, -1],
    [-1, -1, -1, 1, -1, 1, -1, -1, -1],
    [-1, -1, -1, -1, 1, -1, -1, -1, -1],
    [-1, -1, -1, 1, -1, 1, -1, -1, -1],
    [-1, -1, -1, 1, -1, 1, -1, -1, -1],
    [-1, 1, -1, -1, -1, -1, -1, 1, -1],
    [-1, -1, -1, -1, -1, -1, -1, -1, -1],
]


def shifted(img: list, dy: int, dx: int) -> list:
    """Move the drawing by (dy, dx) pixels; what moves in from outside is background (−1)."""
    return [[img[i - dy][j - dx] if 0 <= i - dy < N and 0 <= j - dx < N else -1.0
             for j in range(N)] for i in range(N)]


def distorted(img: list, rng: random.Random, moves: int) -> list:
    """Push ``moves`` ink pixels to a random neighbouring pixel (a wobbly hand)."""
    out = [row[:] for row in img]
    for _ in range(moves):
        ink = [(i, j) for i in range(N) for j in range(N) if out[i][j] > 0]
        i, j = rng.choice(ink)
        di, dj = rng.choice([(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1),
                             (1, -1)])
        if 0 < i + di < N - 1 and 0 < j + dj < N - 1:
            out[i][j], out[i + di][j + dj] = -1.0, 1.0
    return out


def make_set(n: int, seed: int, max_moves: int) -> tuple:
    """n images, half X and half O, each shifted by up to one pixel and distorted."""
    rng = random.Random(seed)
    images, labels = [], []
    for k in range(n):
        label = k % 2
        img = base_x() if label == 0 else base_o()
        img = shifted(img, rng.randint(-1, 1), rng.randint(-1, 1))
        img = distorted(img, rng, rng.randint(0, max_moves))
        images.append(img)
        labels.append(label)
    return tg.tensor(images).reshape(n, 1, N, N), tg.tensor(labels)


def accuracy(model: nn.Module, x: tg.Tensor, y: tg.Tensor) -> float:
    with tg.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(model: nn.Module, x: tg.Tensor, y: tg.Tensor, steps: int, lr: float,
          report: Callable[..., None]) -> list:
    """Full-batch training with Adam on the cross-entropy; returns the loss curve."""
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        report(loss=losses[-1])
    return losses


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("Two classes of 9×9 pictures", deck=[(2, "Our first CNN"),
                                                (2, "Would you classify this as an X?")])
    L.say("Each picture is a 9×9 grid of −1 (background) and +1 (ink). A computer comparing "
          "pictures pixel by pixel is lost as soon as an X is drawn a little off-centre or "
          "with a wobbly stroke: the lecture's example below shares few +1 pixels with the "
          "clean X. A CNN instead looks for small *features* (a short diagonal, a crossing) "
          "wherever they are.")
    L.source(base_x)
    L.source(base_o)
    with L.code():
        x_img, o_img, slide_x = tg.tensor(base_x()), tg.tensor(base_o()), tg.tensor(SLIDE_X)
        same = ((x_img > 0) & (slide_x > 0)).sum().item()
    L.images([x_img, o_img, slide_x], ["X", "O", "the slide's X"], vmin=-1, vmax=1)
    L.say(f"The slide's X shares only {same} of its ink pixels with the clean X "
          f"(which has {(x_img > 0).sum().item()}).")
    L.departure((2, "Would you classify this as an X?"),
                "the first grid, the X to compare with, lists ten values in its first row and "
                "repeats its sixth row as the seventh, so its lower strokes do not spread out",
                "a clean X drawn as a 9×9 grid: +1 on both diagonals of the inner 7×7 "
                "(base_x); the deck's grid is kept as DECK_X, first row cut to nine values",
                "the two differ in 4 pixels of the seventh row (counted next); the trained CNN "
                "is asked about the deck's grid too, in 'The hard cases'")
    with L.code():
        deck_x = tg.tensor(DECK_X, dtype=tg.float32)
        differ = int((deck_x != x_img).sum().item())
    L.check("the deck's first grid differs from the clean X in 4 pixels, all in row 6",
            [differ, int((deck_x[6] != x_img[6]).sum().item())], [4, 4])

    L.step("Three features, each a 3×3 filter", deck=[(2, "What is a feature?"), (2, "Filters"),
                                                      (2, "CNN Layers: Convolutions")])
    feats = tg.tensor([
        [[1., -1., -1.], [-1., 1., -1.], [-1., -1., 1.]],       # "\" diagonal
        [[1., -1., 1.], [-1., 1., -1.], [1., -1., 1.]],         # a small x (crossing)
        [[-1., -1., 1.], [-1., 1., -1.], [1., -1., -1.]],       # "/" diagonal
    ]).reshape(3, 1, 3, 3)                                       # (O=3, C=1, 3, 3)
    names = ["\\ diagonal", "crossing", "/ diagonal"]
    L.images([feats[k, 0] for k in range(3)], names, vmin=-1, vmax=1)
    L.say("Slide each filter over the picture and take the *mean* of the 9 products: a "
          "perfect match gives (9 · 1)/9 = 1, a perfect mismatch −1. Convolution with the "
          "filter divided by 9 does exactly that. A 9×9 picture and a 3×3 filter give a 7×7 "
          "map.")
    with L.code():
        maps = F.conv2d(x_img.reshape(1, 1, N, N), feats) / 9.0        # (1, 3, 7, 7)
    L.images([maps[0, k] for k in range(3)], [f"{n} map" for n in names], vmin=-1, vmax=1)
    L.check("the \\ filter matches the X's upper-left stroke perfectly: map(1, 1) = 1",
            maps[0, 0, 1, 1], 1.0, 1e-6)
    L.check("the crossing filter matches the X's centre perfectly: map(3, 3) = 1",
            maps[0, 1, 3, 3], 1.0, 1e-6)
    L.check("the / filter matches the X's upper-right stroke perfectly: map(1, 5) = 1",
            maps[0, 2, 1, 5], 1.0, 1e-6)
    L.check("the maps are 7×7", maps.shape, (1, 3, 7, 7))

    L.step("ReLU, then pooling", deck=[(2, "CNN Layers: Pooling"),
                                       (2, "CNN Layers: Activation")])
    L.say("ReLU sets every negative value to 0 (only matches survive). Max pooling with a 2×2 "
          "window and stride 2 keeps the best match of each window; with ceil_mode=True the "
          "leftover last row and column form their own smaller windows, so 7×7 becomes 4×4. "
          "A pooled map still says \"there is a \\ stroke in the upper left\", but no longer "
          "exactly where: that is what makes a shifted X still look like an X.")
    with L.code():
        pooled = F.max_pool2d(F.relu(maps), 2, ceil_mode=True)          # (1, 3, 4, 4)
    L.uses(F.max_pool2d)
    L.images([pooled[0, k] for k in range(3)], [f"pooled {n}" for n in names], vmin=0, vmax=1)
    L.check("ReLU + 2×2 max pooling (ceil mode): 7×7 → 4×4", pooled.shape, (1, 3, 4, 4))
    window = maps[0, 0, 0:2, 0:2].reshape(4).tolist()                # the top-left 2×2 window
    L.check("pooled top-left of the \\ map = max(0, best match of its window), in Python",
            pooled[0, 0, 0, 0], max(0.0, *window), 1e-6)
    q = L.question("The deck pools first and applies ReLU after; we apply ReLU first. Do the "
                   "pooled maps differ?", ["yes, a little", "yes, a lot", "no, they are equal"])
    with L.code():
        pool_then_relu = F.relu(F.max_pool2d(maps, 2, ceil_mode=True))     # the deck's order
    same_maps = bool((pool_then_relu - pooled).abs().max().item() == 0.0)
    L.answer(q, observed=3 if same_maps else 1, expected=3,
             why="ReLU never changes which of two numbers is larger (it is non-decreasing), so "
                 "max(relu(a), relu(b)) = relu(max(a, b)): the two orders give the same maps, "
                 "and pooling first does 4 times fewer ReLUs.")
    L.departure((2, "CNN Layers: Pooling"),
                "pooling is shown first and the ReLU activation after it",
                "ReLU, then max pooling (the usual order in code)",
                "none in the numbers: max pooling and ReLU commute (checked: identical maps)")
    with L.figure("features", "Hand-made 3×3 features on the clean X", ncols=4, nrows=3,
                  size=(15, 10)) as (fig, axes):
        figures.image_grid(axes[0:1, :], [x_img, o_img, slide_x],
                           ["X", "O", "the slide's wobbly X"], cmap="Greys", vmin=-1, vmax=1,
                           colorbar="pixel (+1 ink)")
        figures.image_grid(axes[1:2, :], [feats[k, 0] for k in range(3)] + [maps[0, 1]],
                           [f"filter: {n}" for n in names] + ["crossing map of the X (7×7)"],
                           centered=True, colorbar="weight / match")
        figures.image_grid(axes[2:3, :], [pooled[0, k] for k in range(3)],
                           [f"ReLU + max pool: {n} (4×4)" for n in names], cmap="viridis",
                           vmin=0, vmax=1, colorbar="match")

    L.step("A fully connected vote, learned from examples",
           deck=[(2, "CNN: Fully Connected Layer"), (2, "Let's put it all together!")])
    moves = args.max_moves
    train_x, train_y = make_set(200, seed=1, max_moves=2)
    test_x, test_y = make_set(200, seed=2, max_moves=moves)
    L.say("The 3·4·4 = 48 pooled values are the features. A fully connected layer gives each "
          "a weight for 'X' and one for 'O' and adds them up: a weighted vote. We train only "
          "that layer here (the filters stay hand-made) on 200 pictures that are shifted by up "
          "to one pixel and have up to 2 ink pixels pushed aside; we test on 200 fresh "
          f"pictures with up to {moves} (--max-moves).")

    class HandFeatures(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vote = nn.Linear(48, 2)

        def forward(self, x: tg.Tensor) -> tg.Tensor:
            m = F.relu(F.conv2d(x, feats) / 9.0)                      # (N, 3, 7, 7)
            p = F.max_pool2d(m, 2, ceil_mode=True)                    # (N, 3, 4, 4)
            return self.vote(p.flatten(1))                            # (N, 2)

    L.source(HandFeatures)
    with L.code():
        hand = HandFeatures()
        with L.progress("training the vote", total=150) as bar:
            hand_losses = train(hand, train_x, train_y, steps=150, lr=0.05, report=bar.update)
        acc_hand = accuracy(hand, test_x, test_y)
    L.check_true("hand-made features + learned vote: test accuracy ≥ 95%", acc_hand >= 0.95,
                 f"{acc_hand:.1%}, loss {hand_losses[0]:.3f} → {hand_losses[-1]:.3f}")

    L.step("Learning the filters too: a tiny CNN", deck=(2, "Let's put it all together!"))
    nf = args.filters
    L.say(f"Now let gradient descent choose the filters as well: Conv2d(1, {nf}, 3) → ReLU → "
          f"MaxPool2d(2, ceil_mode=True) → Flatten → Linear({16 * nf}, 2), {10 * nf} + "
          f"{32 * nf + 2} = {42 * nf + 2} parameters, started from random numbers.")
    L.source(train)
    with L.code():
        tg.manual_seed(0)
        cnn = nn.Sequential(nn.Conv2d(1, nf, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                            nn.Flatten(), nn.Linear(16 * nf, 2))
        n_par = sum(p.numel() for p in cnn.parameters())
        with L.progress("training the tiny CNN", total=200) as bar:
            losses = train(cnn, train_x, train_y, steps=200, lr=0.05, report=bar.update)
    L.check(f"parameters: {nf}·(9 + 1) + {16 * nf}·2 + 2", n_par, nf * 10 + 32 * nf + 2)
    acc_train, acc_test = accuracy(cnn, train_x, train_y), accuracy(cnn, test_x, test_y)
    L.table(["set", "pictures", "accuracy"],
            [["train (shifts, ≤ 2 moved pixels)", 200, f"{acc_train:.1%}"],
             [f"test (fresh, ≤ {moves} moved pixels)", 200, f"{acc_test:.1%}"]])
    L.check_true("the loss fell", losses[-1] < 0.1 * losses[0],
                 f"{losses[0]:.3f} → {losses[-1]:.4f}")
    if moves <= 3 and nf >= 2:
        L.check_true("the tiny CNN classifies ≥ 95% of the unseen distorted pictures",
                     acc_test >= 0.95, f"{acc_test:.1%}")
    else:
        L.say(f"With {nf} filter(s) and test pictures up to {moves} moved pixels the lesson "
              "promises less: clearly better than guessing.")
        L.check_true("the tiny CNN beats guessing (> 60%) on the unseen pictures",
                     acc_test > 0.6, f"{acc_test:.1%}")

    L.step("The hard cases", deck=(2, "Would you classify this as an X?"))
    o_wobbly = distorted(shifted(base_o(), 1, -1), random.Random(7), 3)
    cases = {
        "clean X": base_x(), "clean O": base_o(),
        "the slide's X": SLIDE_X,
        "the deck's first grid": DECK_X,
        "X shifted up-left": shifted(base_x(), -1, -1),
        "O shifted, 3 moved pixels": o_wobbly,
    }
    truth = [0, 1, 0, 0, 0, 1]
    with L.code():
        batch = tg.tensor(list(cases.values())).reshape(len(cases), 1, N, N)
        with tg.no_grad():
            probs = F.softmax(cnn(batch), dim=1)
    rows, preds = [], []
    for k, name in enumerate(cases):
        pred = int(probs[k].argmax().item())
        preds.append(pred)
        rows.append([name, CLASSES[truth[k]], CLASSES[pred], f"{probs[k, 0].item():.3f}",
                     f"{probs[k, 1].item():.3f}"])
    L.table(["picture", "truth", "CNN says", "P(X)", "P(O)"], rows)
    if moves <= 3 and nf >= 2:
        L.check("the CNN gets every hard case right", preds, truth)
    else:
        L.check_true("the CNN gets the clean X and O right", preds[:2] == truth[:2],
                     str(preds))

    L.step("What the trained CNN sees in the slide's X",
           deck=(2, "Would you classify this as an X?"))
    with L.code():
        conv = cnn[0]
        with tg.no_grad():
            fm = F.relu(conv(slide_x.reshape(1, 1, N, N)))              # (1, nf, 7, 7)
            pm = cnn[2](fm)                                             # (1, nf, 4, 4)
    L.images([conv.weight[k, 0].detach() for k in range(nf)],
             [f"learned filter {k}" for k in range(nf)])
    L.images([fm[0, k] for k in range(nf)], [f"feature map {k}" for k in range(nf)])
    L.images([pm[0, k] for k in range(nf)], [f"pooled map {k}" for k in range(nf)])
    L.say("The learned filters are not the tidy ±1 diagonals we drew, but they play the same "
          "game: each lights up on some local piece of stroke, pooling blurs away the exact "
          "position, and the vote weighs the pieces.")
    L.check(f"{nf} feature maps of 7×7 and pooled maps of 4×4",
            [list(fm.shape), list(pm.shape)], [[1, nf, 7, 7], [1, nf, 4, 4]])
    cols = max(nf, 3)
    with L.figure("tiny_cnn", "What the trained tiny CNN sees in the slide's X", ncols=cols,
                  nrows=3, size=(4 * cols, 11)) as (fig, axes):
        figures.image_grid(axes[0:1, :], [conv.weight[k, 0].detach() for k in range(nf)],
                           [f"learned filter {k}" for k in range(nf)], centered=True,
                           colorbar="weight")
        figures.image_grid(axes[1:2, :], [fm[0, k] for k in range(nf)],
                           [f"feature map {k} (after ReLU)" for k in range(nf)],
                           cmap="viridis", colorbar="activation")
        figures.image_grid(axes[2:3, :], [pm[0, k] for k in range(nf)],
                           [f"pooled map {k}" for k in range(nf)], cmap="viridis",
                           colorbar="activation")
    with L.figure("training", "Training on 200 shifted, distorted pictures",
                  size=(9, 4.5)) as (fig, axes):
        figures.lines(axes[0, 0], {"hand-made filters, learned vote": hand_losses,
                                   "tiny CNN, everything learned": losses},
                      "cross-entropy on the training pictures", "Adam step", "loss", logy=True)


if __name__ == "__main__":
    run(main, 9, "X or O?", knobs=[
        Knob("--max-moves", 3, "most ink pixels pushed aside in a test picture (training: 2)"),
        Knob("--filters", 3, "filters of the tiny CNN that learns its own features"),
    ])
