"""Lesson 5: Receptive fields. A 7×7 curve detector scores 6600 on a curve and 0 elsewhere."""
from __future__ import annotations

from matplotlib.patches import Rectangle

import tinygrad_edu as tg
from tinygrad_edu.engine import graph
import tinygrad_edu.functional as F

import figures
from console import Knob, Lesson, run

# The 7×7 piece of a drawing where a curve bends (0 = paper, larger = darker ink).
CURVE_PATCH = [
    [0, 0, 0, 0, 0, 0, 30],
    [0, 0, 0, 0, 50, 50, 50],
    [0, 0, 0, 20, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
    [0, 0, 0, 50, 50, 0, 0],
]

# A curve detector: weight 30 along a curve that bends up and to the right, 0 elsewhere.
CURVE_FILTER = [
    [0, 0, 0, 0, 0, 30, 0],
    [0, 0, 0, 0, 30, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 30, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
]

CURVE_AT = (3, 11)      # top-left corner of the curve patch in the drawing
OTHER_AT = (3, 0)       # another 7×7 window of the drawing: a corner drawn with other strokes


def drawing() -> tg.Tensor:
    """A 12×20 line drawing: the bent stroke of CURVE_PATCH on the right, a corner of two
    straight strokes on the left (a vertical line in column 0, a horizontal one along row 9)."""
    rows = [[0.0] * 20 for _ in range(12)]
    r0, c0 = CURVE_AT
    for u in range(7):
        for v in range(7):
            rows[r0 + u][c0 + v] = float(CURVE_PATCH[u][v])
    for r in range(1, 11):
        rows[r][0] = 40.0
    for c in range(0, 8):
        rows[9][c] = 40.0
    return tg.tensor(rows)


def receptive_field(layers: list, size: int = 40) -> int:
    """Measure, with autograd, how many input rows one output pixel depends on.

    Run the stack on an all-ones image with all-ones filters, back-propagate from one output
    pixel near the middle and count the input rows that receive a non-zero gradient.
    (Average pooling is used because its gradient reaches every input of a window.)
    """
    x = tg.ones(1, 1, size, size, requires_grad=True)
    y = x
    for kind, k, s in layers:
        if kind == "conv":
            y = F.conv2d(y, tg.ones(1, 1, k, k), stride=s)            # (1, 1, OH, OW)
        else:
            y = F.avg_pool2d(y, k, stride=s)
    mid = y.shape[2] // 2
    y[0, 0, mid, mid].backward()
    rows_hit = (x.grad[0, 0].abs().sum(1) > 0).sum().item()        # rows with a gradient
    return int(rows_hit)


def formula(layers: list) -> int:
    """r = 1 + Σ_l (k_l − 1) · (s_1 · s_2 · … · s_{l−1}): each layer widens the field by
    k − 1 steps of the input grid it sees, and a step there is the product of earlier strides."""
    r, jump = 1, 1
    for _, k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("A filter looks at a small window: its receptive field",
           deck=[(1, "STEP 2: CONVOLUTION..."), (1, "Visualization of the receptive field")])
    L.say("A unit in a convolutional layer does not see the whole image, only the K×K window "
          "under its filter: that window is its *receptive field*. Here a 7×7 filter sits on "
          "a line drawing. The filter has weight 30 along a curve and 0 elsewhere, so it is a "
          "*curve detector*: its score Σ_{u,v} window(u, v) · filter(u, v) is large only when "
          "ink lies under its 30s.")
    L.source(drawing)
    with L.code():
        img = drawing()
        filt = tg.tensor(CURVE_FILTER, dtype=tg.float32)
    L.images([img, filt], ["the drawing (12×20)", "curve filter 7×7"])

    L.step("On the curve: a large number", deck=(1, "Visualization of the receptive field"))
    with L.code():
        r0, c0 = CURVE_AT
        window = img[r0:r0 + 7, c0:c0 + 7]
        fmap = F.conv2d(img.reshape(1, 1, 12, 20), filt.reshape(1, 1, 7, 7))[0, 0]   # (6, 14)
    L.uses(F.conv2d)
    L.table([""] + [str(v) for v in range(7)],
            [[u] + [int(t) for t in window[u].tolist()] for u in range(7)],
            title=f"receptive field at rows {r0}..{r0 + 6}, columns {c0}..{c0 + 6}")
    prod = window * filt
    hits = [(u, v, int(window[u, v].item()), 30) for u in range(7) for v in range(7)
            if prod[u, v].item() != 0]
    L.say("The products that are not zero:  "
          + " + ".join(f"({p}·{w})" for _, _, p, w in hits)
          + f" = {int(prod.sum().item())}")
    L.check("curve detector on the curve = 6600 (the slide)", fmap[r0, c0], 6600.0)
    with L.code():
        by_hand = sum(CURVE_PATCH[u][v] * CURVE_FILTER[u][v] for u in range(7) for v in range(7))
    L.check("conv2d at the curve equals the sum over the 7×7 lists in plain Python",
            fmap[r0, c0], float(by_hand))

    L.step("Move the filter", deck=(1, "What happens when we move our filter?"))
    with L.code():
        q0, d0 = (int(v) for v in args.at.split(","))
        moved = fmap[q0, d0]
    L.table([""] + [str(v) for v in range(7)],
            [[u] + [int(t) for t in img[q0 + u, d0:d0 + 7].tolist()] for u in range(7)],
            title=f"receptive field at rows {q0}..{q0 + 6}, columns {d0}..{d0 + 6}")
    at_slide = (q0, d0) == OTHER_AT
    if at_slide:
        L.say("Here the ink runs along the window's left column and bottom row, exactly where "
              "the filter's weights are 0; every product vanishes.")
        L.check("the same filter at the other corner = 0 (the slide)", moved, 0.0)
    else:
        by_hand_there = sum(img[q0 + u, d0 + v].item() * CURVE_FILTER[u][v]
                            for u in range(7) for v in range(7))
        L.say(f"You moved the window to rows {q0}..{q0 + 6}, columns {d0}..{d0 + 6} (--at): the "
              "score is whatever ink lies under the filter's 30s there.")
        L.check(f"the score at ({q0}, {d0}) = the sum of products in plain Python", moved,
                by_hand_there)

    L.step("The whole feature map", deck=(1, "STEP 2: CONVOLUTION..."))
    L.say("Sliding the filter everywhere gives a 6×14 map (12 − 7 + 1 = 6, 20 − 7 + 1 = 14). "
          "It lights up where the drawing has a curve of the filter's shape and stays blank "
          "elsewhere: a feature map is a map of *where* the feature is.")
    with L.code():
        left = fmap[:, :8].max().item()          # map columns 0..7: around the straight strokes
        below = fmap[r0 + 1, c0]                 # one row under the window of the slide
    L.image(fmap, "curve-detector feature map (██ = largest)")
    L.check("the map has shape (6, 14)", fmap.shape, (6, 14))
    L.check_true("around the straight strokes (map columns 0..7) it stays far below 6600",
                 left < 6600 / 2, f"max there {left:g}")
    L.say("The map is largest just below our window (9000): there the thick vertical part of "
          "the stroke fills all four middle 30s of the filter. A detector answers "
          "\"how much of my pattern is under me\", and a thicker stroke of the same shape "
          "answers louder.")
    L.check("one row further down the score is 9000", below, 9000.0)
    with L.figure("curve_detector", "A 7×7 curve detector slid over a drawing", ncols=3,
                  size=(17, 4.6)) as (fig, axes):
        figures.heatmap(axes[0, 0], img, "the drawing, with two receptive fields",
                        cmap="Greys", colorbar="ink")
        for (r, c), color, text in ((CURVE_AT, "tab:red", "6600"), (OTHER_AT, "tab:blue", "0")):
            axes[0, 0].add_patch(Rectangle((c - 0.5, r - 0.5), 7, 7, fill=False, lw=2.5,
                                           edgecolor=color))
            axes[0, 0].annotate(f"score {text}", (c + 3, r - 0.7), color=color, ha="center",
                                fontweight="bold")
        figures.heatmap(axes[0, 1], filt, "the curve filter (7×7)", cmap="Greys",
                        colorbar="weight")
        figures.heatmap(axes[0, 2], fmap / 1000, "feature map (6×14): where the curve is",
                        annotate=True, fmt="{:.1f}", colorbar="score (thousands)",
                        xlabel="window column", ylabel="window row", fontsize=9)
        for (r, c), color in ((CURVE_AT, "tab:red"), (OTHER_AT, "tab:blue")):
            axes[0, 2].add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=2.5,
                                           edgecolor=color))

    L.step("Deeper layers see wider", deck=[(3, "Some Facts"), (3, "An example: VGG")])
    L.say("A unit of the second layer looks at a K×K window of the *first layer's map*, and "
          "each of those pixels already looks at a K×K window of the image, so it sees more. "
          "For a stack of layers with kernel sizes k_l and strides s_l:\n\n"
          "    r = 1 + Σ_l (k_l − 1) · s_1 · s_2 · … · s_{l−1}\n\n"
          "We measure r with autograd instead of trusting the formula: back-propagate from one "
          "output pixel and count the input rows that get a non-zero gradient.")
    K = args.kernel
    big = 3 * K - 2                                   # one layer as wide as three K×K layers
    stacks = {
        f"conv {K}×{K}": [("conv", K, 1)],
        f"conv {K}×{K} → conv {K}×{K}": [("conv", K, 1)] * 2,
        f"3 × conv {K}×{K}": [("conv", K, 1)] * 3,
        f"conv {big}×{big}": [("conv", big, 1)],
        f"conv {K} → pool 2 (stride 2) → conv {K}": [("conv", K, 1), ("pool", 2, 2),
                                                     ("conv", K, 1)],
        "LeNet: conv 5 → pool 2 → conv 5 → pool 2": [("conv", 5, 1), ("pool", 2, 2),
                                                    ("conv", 5, 1), ("pool", 2, 2)],
    }
    L.source(receptive_field)
    L.source(formula)
    L.uses(graph.run_backward, F.avg_pool2d)
    q = L.question(f"How many input pixels wide is the window seen by one unit after three "
                   f"stacked {K}×{K} convolutions (stride 1)?",
                   [f"{K}", f"{3 * K - 2}", f"{3 * K}", f"{K ** 3}"])
    rows = []
    with L.code():
        for name, layers in stacks.items():
            measured, predicted = receptive_field(layers), formula(layers)
            rows.append([name, predicted, measured])
            L.check(f"receptive field of {name}", measured, predicted)
    L.table(["stack", "formula r", "measured by autograd"], rows)
    three = rows[2][2]
    L.answer(q, observed=[K, 3 * K - 2, 3 * K, K ** 3].index(three) + 1, expected=2,
             why=f"each layer widens the field by K − 1 = {K - 1}: 1 + 3·{K - 1} = {3 * K - 2}.")
    L.say(f"Three {K}×{K} layers see the same {big}×{big} window as one {big}×{big} layer but "
          f"with 3·{K * K} = {3 * K * K} weights instead of {big * big} (and two more "
          "non-linearities), the reason VGG uses only 3×3 filters (lesson 8 counts VGG-16). "
          "Pooling with stride 2 doubles the step of every later layer, so the field "
          f"grows fast: after LeNet's second pooling layer one unit sees a {rows[-1][2]}×"
          f"{rows[-1][2]} window of the 32×32 input.")
    with L.figure("receptive_fields", "How far one output pixel sees", size=(12, 5)) as (fig, axes):
        figures.bars(axes[0, 0], [n.replace(" → ", "\n→ ").replace(": ", ":\n") for n in stacks],
                     [r[2] for r in rows], "receptive field width r (measured by autograd = "
                     "formula)", "input pixels per side", fmt="{:.0f}")


if __name__ == "__main__":
    run(main, 5, "Receptive fields", knobs=[
        Knob("--at", "3,0", "row,column of the window the filter is moved to (the slide's: 3,0)"),
        Knob("--kernel", 3, "kernel size K of the stacked layers in the last step"),
    ])
