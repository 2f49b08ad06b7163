"""Lesson 6: Volumes and channels. A filter spans every channel; the worked example gives −3."""
from __future__ import annotations

import numpy as np   # only for the volume convolution written out as loops

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn

import figures
from console import Knob, Lesson, run


def volume_conv_loops(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y(i, j) = Σ_c Σ_u Σ_v x(c, i + u, j + v) · w(c, u, v): one filter over a (C, H, W)
    volume, every position where it fits, written as plain loops."""
    C, H, W = x.shape
    _, K, _ = w.shape
    y = np.zeros((H - K + 1, W - K + 1))
    for i in range(H - K + 1):
        for j in range(W - K + 1):
            for c in range(C):
                for u in range(K):
                    for v in range(K):
                        y[i, j] += x[c, i + u, j + v] * w[c, u, v]
    return y


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("A stack of maps is a volume", deck=(0, "Volume: collection of matrices"))
    L.say("A layer with m filters makes m feature maps. The next layer reads them together, "
          "as one *volume* of shape (channels, height, width) = (m, H, W), and each of its "
          "filters is a volume too: (m, K, K), as deep as its input. The score of one patch is "
          "the sum over channels of the 2-D scores, plus the filter's bias:\n\n"
          "    y = b + Σ_c Σ_u Σ_v x(c, u, v) · w(c, u, v)")
    with L.code():
        maps = [tg.randn(8, 8) for _ in range(6)]      # six 8×8 feature maps
        volume = tg.stack(maps)                         # one volume (C=6, H=8, W=8)
    L.check("six 8×8 maps stacked: a (6, 8, 8) volume", volume.shape, (6, 8, 8))

    L.step("The worked example: three channels, a 2×2 filter, bias −2",
           deck=(0, "The volume convolves as a single input"))
    with L.code():
        patch = tg.tensor([[[3., 1.], [4., 1.]],          # channel 0
                           [[2., -1.], [-3., 1.]],        # channel 1
                           [[1., -1.], [2., -1.]]])       # channel 2      (C=3, 2, 2)
        slice_ = tg.tensor([[-2., 3.], [5., -1.]])
        weight = tg.stack([slice_, slice_, slice_])      # (C=3, 2, 2): the same slice 3 times
        bias = args.bias
        y = F.conv2d(patch.reshape(1, 3, 2, 2), weight.reshape(1, 3, 2, 2),
                     tg.tensor([bias]))                  # (N=1, O=1, 1, 1)
    L.uses(F.conv2d)
    L.say("In the lecture's sum the weights −2, 3, 5, −1 meet the pixels of each of the three "
          "channels in turn, so the filter is a 3×2×2 volume whose three slices are equal, "
          "and the bias is −2.")
    with L.code():
        rows = []
        per_channel = []
        for c in range(3):                           # plain Python: products, then their sum
            xs, ws = patch[c].reshape(4).tolist(), weight[c].reshape(4).tolist()
            term = sum(w * x for w, x in zip(ws, xs))
            per_channel.append(term)
            rows.append([c, " + ".join(f"({w:g})·({x:g})" for w, x in zip(ws, xs)), f"{term:g}"])
    L.table(["channel", "products", "2-D score"], rows)
    L.check("per-channel scores (the slide's 16, −23, 6)", per_channel, [16., -23., 6.])
    L.say(f"16 + (−23) + 6 + (−2) = {y.item():g}")
    if bias == -2.0:
        L.check("F.conv2d on the volume = −3 (the slide)", y.item(), -3.0)
    else:
        L.say(f"(You set the bias to {bias:g} with --bias; the slide's −2 gives −3.)")
    L.check("F.conv2d = the Python sum of the channels' scores + bias", y.item(),
            sum(per_channel) + bias)
    L.say("Because the three slices are equal, this filter cannot tell the channels apart: it "
          "sees only their sum, Σ_c x(c, u, v). A learned filter is free to give every channel "
          "its own slice.")
    with L.code():
        flat = F.conv2d(patch.sum(0).reshape(1, 1, 2, 2), slice_.reshape(1, 1, 2, 2),
                        tg.tensor([bias]))
    summed = [sum(patch[c].reshape(4).tolist()[k] for c in range(3)) for k in range(4)]
    by_hand = sum(s * w for s, w in zip(summed, slice_.reshape(4).tolist())) + bias
    L.check("equal slices = one 2-D filter on the channel sum (Python: −3 again)", flat.item(),
            by_hand)

    L.step("A colour image is a 3-channel volume",
           deck=[(0, "Input image as a volume of 3 color channels"),
                 (1, "STEP 1: PREPARE A DATASET OF IMAGES")])
    H = W = 10
    L.say("A colour image stores three numbers per pixel: red, green and blue. As a tensor it "
          f"is a volume (3, H, W); a batch of them is (N, 3, H, W). Here a {H}×{W} picture: a "
          "red square on a blue background with a green stripe.")
    with L.code():
        red = [[1.0 if 3 <= i <= 6 and 3 <= j <= 6 else 0.0 for j in range(W)] for i in range(H)]
        green = [[1.0 if j == 8 else 0.0 for j in range(W)] for i in range(H)]
        blue = [[0.0 if (3 <= i <= 6 and 3 <= j <= 6) or j == 8 else 1.0 for j in range(W)]
                for i in range(H)]
        rgb = tg.tensor([red, green, blue]).reshape(1, 3, H, W)          # (N=1, C=3, H, W)
    L.images([rgb[0, 0], rgb[0, 1], rgb[0, 2]], ["R", "G", "B"], vmin=0, vmax=1)
    L.check("an RGB image is a (N, 3, H, W) volume", rgb.shape, (1, 3, H, W))
    L.departure((1, "STEP 1: PREPARE A DATASET OF IMAGES"),
                "a 255×255 RGB image is a volume of 255×255×3: width, height, then the 3 "
                "channels last (as Keras stores it, input_shape=(28, 28, 1))",
                "channels first: (C, H, W) for one image, (N, C, H, W) for a batch (PyTorch's "
                "layout, and the one nn.Conv2d expects)",
                "the same numbers in another order: x_hwc[i, j, c] = x_chw[c, i, j], so "
                "x_chw = x_hwc.permute(2, 0, 1); a (H, W, 3) image given to a layer that "
                "expects 3 channels first is read as H channels (checked next)")
    with L.code():
        hwc = rgb[0].permute(1, 2, 0)                    # (H, W, C): the deck's layout
        back = hwc.permute(2, 0, 1)                      # (C, H, W) again
    L.check("x_hwc[i, j, c] = x_chw[c, i, j] at pixel (4, 8), every channel",
            [hwc[4, 8, c].item() for c in range(3)], [rgb[0, c, 4, 8].item() for c in range(3)])
    L.check("permute(2, 0, 1) turns the deck's layout back into (C, H, W)", back, rgb[0])

    L.step("A filter spans all channels", deck=(3, "Convolution Layer"))
    L.say("A 3×3 filter for this image has shape (3, 3, 3): one 3×3 slice per colour. A "
          "\"red, not blue\" detector puts +1 in its red slice and −1 in its blue slice; its "
          "map is high inside the red square only. Every output pixel reads a 3×3 window "
          "spatially but the full depth of the volume.")
    with L.code():
        ones = tg.ones(3, 3) / 9.0
        red_not_blue = tg.stack([ones, tg.zeros(3, 3), -ones]).reshape(1, 3, 3, 3)  # (O, C, K, K)
        fmap = F.conv2d(rgb, red_not_blue)                                          # (1, 1, 8, 8)
    L.image(fmap[0, 0], "red-not-blue map (8×8)")
    L.check("one filter over a 3-channel 10×10 image gives a 1-channel 8×8 map", fmap.shape,
            (1, 1, 8, 8))
    L.check("deep inside the red square the detector scores 1", fmap[0, 0, 3, 3], 1.0, 1e-6)
    L.check("in the blue corner it scores −1", fmap[0, 0, 0, 0], -1.0, 1e-6)
    L.source(volume_conv_loops)
    with L.code():
        loops = volume_conv_loops(rgb[0].numpy(), red_not_blue[0].numpy())     # (8, 8)
    L.check("F.conv2d equals the loops Σ_c Σ_u Σ_v x·w, written out in NumPy", fmap[0, 0],
            loops, 1e-6)
    with L.figure("rgb_volume", "A colour image is a volume of three channels", ncols=5,
                  size=(18, 4)) as (fig, axes):
        axes[0, 0].imshow(rgb[0].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[0, 0].set_title("the picture (R, G, B together)")
        axes[0, 0].set_xticks([])
        axes[0, 0].set_yticks([])
        for k, (name, cmap) in enumerate((("R", "Reds"), ("G", "Greens"), ("B", "Blues"))):
            figures.heatmap(axes[0, k + 1], rgb[0, k], f"channel {k}: {name}", cmap=cmap,
                            vmin=0, vmax=1, colorbar="intensity")
        figures.heatmap(axes[0, 4], fmap[0, 0], "red-not-blue filter's map (8×8)",
                        centered=True, annotate=True, fmt="{:.1f}", fontsize=8,
                        colorbar="score")

    L.step("Layers of volumes", deck=(0, "Volume: collection of matrices"))
    C1 = args.filters
    q = L.question(f"How many parameters does the second layer, Conv2d({C1}, 4, 3), hold?",
                   [f"{4 * 9 + 4}", f"{4 * (C1 * 9 + 1)}", f"{4 * C1 * 9}",
                    f"{(C1 + 4) * 9}"])
    with L.code():
        conv1 = nn.Conv2d(3, C1, kernel_size=3)
        conv2 = nn.Conv2d(C1, 4, kernel_size=3)
        h1 = conv1(rgb)
        h2 = conv2(F.relu(h1))
    L.uses(nn.Conv2d)
    L.table(["layer", "weight shape (O, C, K, K)", "parameters", "output shape"],
            [["input", "", "", tuple(rgb.shape)],
             [f"Conv2d(3, {C1}, 3)", tuple(conv1.weight.shape),
              sum(p.numel() for p in conv1.parameters()), tuple(h1.shape)],
             [f"Conv2d({C1}, 4, 3)", tuple(conv2.weight.shape),
              sum(p.numel() for p in conv2.parameters()), tuple(h2.shape)]])
    L.say(f"{C1} filters of depth 3 turn the RGB volume into a {C1}-channel volume; the next "
          f"layer's filters must therefore be {C1} deep. Each filter has C·K·K weights plus one "
          f"bias: 3·3·3 + 1 = 28 for the first layer (×{C1} = {28 * C1}), {C1}·3·3 + 1 = "
          f"{C1 * 9 + 1} for the second (×4 = {4 * (C1 * 9 + 1)}).")
    n2 = sum(p.numel() for p in conv2.parameters())
    L.check(f"Conv2d(3, {C1}, 3) has {C1}·(3·3·3 + 1) parameters",
            sum(p.numel() for p in conv1.parameters()), C1 * 28)
    L.check(f"Conv2d({C1}, 4, 3) has 4·({C1}·3·3 + 1) parameters", n2, 4 * (C1 * 9 + 1))
    L.answer(q, observed=[4 * 9 + 4, 4 * (C1 * 9 + 1), 4 * C1 * 9, (C1 + 4) * 9].index(n2) + 1,
             expected=2, why=f"each of the 4 filters spans all {C1} input channels: {C1}·3·3 "
                             "weights, plus its one bias.")
    L.check("output volumes", [tuple(h1.shape), tuple(h2.shape)],
            [(1, C1, 8, 8), (1, 4, 6, 6)])
    try:
        conv2(tg.zeros(1, C1 + 1, 10, 10))
        mismatch = ""
    except (RuntimeError, ValueError) as e:
        mismatch = str(e)
    L.say(f"Feeding a {C1 + 1}-channel volume to the {C1}-deep layer fails:\n    {mismatch}")
    L.check_true("a filter must be exactly as deep as its input", "channels" in mismatch,
                 "the error names the channel counts")


if __name__ == "__main__":
    run(main, 6, "Volumes and channels", knobs=[
        Knob("--bias", -2.0, "the bias of the worked example's filter (the slide's: −2)"),
        Knob("--filters", 6, "filters of the first layer in 'Layers of volumes'"),
    ])
