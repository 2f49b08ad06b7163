"""Lesson 8: Stride, padding, pooling. Output-size formula, 156 parameters, max/avg/L2 pools."""
from __future__ import annotations

import math

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn

import figures
from console import Knob, Lesson, run

VGG_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def out_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """O = ⌊(N + 2P − D·(K − 1) − 1) / S⌋ + 1, written out here so the lesson can compare it
    with the shape the layer really produces."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_by_loops(image: list, filt: list, stride: int) -> list:
    """Cross-correlation at every stride-th position, in plain Python (no padding)."""
    h, w, k = len(image), len(image[0]), len(filt)
    return [[sum(image[i + u][j + v] * filt[u][v] for u in range(k) for v in range(k))
             for j in range(0, w - k + 1, stride)]
            for i in range(0, h - k + 1, stride)]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def vgg16(width: int = 1) -> nn.Sequential:
    """VGG-16 (configuration D of Simonyan & Zisserman 2014): five blocks of 3×3 convolutions
    with padding 1 and ReLU, each block ending in 2×2 max pooling, then three fully connected
    layers. ``width`` divides every layer's width (a narrow copy for a quick run); with 1 it is
    the real network. As torchvision's VGG, an adaptive average pool makes the convolutions'
    output 7×7 whatever the input size."""
    layers, c = [], 3
    for block in VGG_BLOCKS:
        for channels in block:
            layers += [nn.Conv2d(c, channels // width, 3, padding=1), nn.ReLU()]
            c = channels // width
        layers.append(nn.MaxPool2d(2))
    fc = 4096 // width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
                         nn.Linear(c * 7 * 7, fc), nn.ReLU(), nn.Linear(fc, fc), nn.ReLU(),
                         nn.Linear(fc, 1000))


def vgg16_count(width: int = 1) -> tuple[int, int]:
    """VGG-16's parameters by formula, in plain Python: a conv layer holds 3·3·C_in·C_out
    weights + C_out biases, a dense layer n_in·n_out + n_out. Returns (convolutions, dense)."""
    conv, c = 0, 3
    for block in VGG_BLOCKS:
        for channels in block:
            conv += 3 * 3 * c * (channels // width) + channels // width
            c = channels // width
    sizes = [c * 7 * 7, 4096 // width, 4096 // width, 1000]
    return conv, sum(n * m + m for n, m in zip(sizes, sizes[1:]))


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("How big is the output?", deck=[(0, "CNN: parameters"), (3, "Some Facts")])
    L.say("A K×K filter fits in N − K + 1 positions along a side of N pixels. Three knobs "
          "change that: *padding* P adds P rings of zeros around the input, *stride* S moves "
          "the filter S pixels at a time, and *dilation* D spreads its taps D pixels apart "
          "(a 3×3 filter with D = 2 covers 5×5). Together:\n\n"
          "    O = ⌊(N + 2P − D·(K − 1) − 1) / S⌋ + 1")
    L.source(out_size)
    configs = [  # (N, K, S, P, D)
        (32, 5, 1, 0, 1),     # LeNet's first layer: 32 → 28
        (28, 3, 1, 1, 1),     # 'same' padding keeps the size
        (28, 3, 2, 1, 1),     # stride 2 halves it
        (28, 5, 2, 0, 1),
        (7, 3, 2, 0, 1),      # the floor at work: (7 − 3)/2 + 1 = 3
        (10, 3, 1, 0, 2),     # dilation 2: a 3×3 filter spanning 5×5
        (224, 7, 2, 3, 1),    # ResNet's stem: 224 → 112
    ]
    if (args.stride, args.padding) != (1, 0):
        configs.append((28, 3, args.stride, args.padding, 1))     # the learner's (--stride ...)
        L.say(f"The last row is yours: N = 28, K = 3, S = {args.stride}, P = {args.padding}.")
    rows = []
    x_cache = {}
    with L.code():
        for n, k, s, p, d in configs:
            x = x_cache.setdefault(n, tg.randn(1, 1, n, n))
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
            with tg.no_grad():
                got = conv(x).shape[-1]
            want = out_size(n, k, s, p, d)
            rows.append([n, k, s, p, d, want, got])
            L.check(f"Conv2d(k={k}, stride={s}, padding={p}, dilation={d}) on {n}×{n}", got,
                    want)
    L.table(["N", "K", "S", "P", "D", "formula O", "Conv2d output"], rows)
    L.check("F.conv_output_size agrees with the formula",
            [F.conv_output_size(n, k, s, p, d) for n, k, s, p, d in configs],
            [r[5] for r in rows])
    L.say("With stride 1, padding P = (K − 1)/2 keeps the size ('same' padding); that is why "
          "3×3 layers usually come with padding 1. Stride 2 computes the stride-1 map and "
          "keeps every second row and column:")
    with L.code():
        x = tg.randn(1, 1, 12, 12)
        w = tg.randn(1, 1, 3, 3)
        strided, dense = F.conv2d(x, w, stride=2), F.conv2d(x, w)
    L.source(conv_by_loops)
    L.check("F.conv2d with stride 2 equals the loops with stride 2", strided[0, 0],
            conv_by_loops(x[0, 0].tolist(), w[0, 0].tolist(), 2), 1e-5)
    L.check("the stride-1 map, subsampled [::2, ::2], equals the same loops", dense[0, 0, ::2, ::2],
            conv_by_loops(x[0, 0].tolist(), w[0, 0].tolist(), 2), 1e-5)

    L.step("Parameters: shared weights are cheap",
           deck=[(1, "Why convolution neural networks?"), (1, "Parameter sharing"),
                 (1, "Sparsity of connections")])
    with L.code():
        conv = nn.Conv2d(1, 6, kernel_size=5)
        per_filter = 5 * 5 + 1
    L.say("A 5×5 filter on a 1-channel image has 5·5 = 25 weights and 1 bias: 26 numbers, "
          "however big the image, because the same filter is used at every position. Six "
          "filters: 6 × 26 = 156.")
    L.table(["parameter", "shape", "count"],
            [[name, tuple(p.shape), p.numel()] for name, p in conv.named_parameters()]
            + [["total", "", n_params(conv)]])
    L.check("one 5×5 filter + bias = 26 parameters (the slide)",
            conv.weight[0].numel() + conv.bias[0:1].numel(), per_filter)
    L.check("Conv2d(1, 6, 5) has 6 × 26 = 156 parameters (the slide)", n_params(conv), 156)
    dense_layer = 32 * 32 * (6 * 28 * 28) + 6 * 28 * 28
    L.say("A fully connected layer making the same 6×28×28 outputs from a 32×32 input would "
          f"need 1024·4704 + 4704 = {dense_layer:,} parameters: "
          f"{dense_layer // n_params(conv):,} times more. Each output also depends only on a "
          "5×5 window (sparse connections).")

    L.step("Pooling: summarise each window",
           deck=[(3, "Pooling Layer"), (1, "STEP 3: POOLING....")])
    L.say("A pooling layer slides a window too, but has no weights: it replaces each window "
          "by one summary number. With a 2×2 window and stride 2 the windows do not overlap "
          "and height and width are halved. The summary can be the maximum, the average, or "
          "the L2 norm sqrt(Σ x²) (Lp pooling with p = 2).")
    with L.code():
        x = tg.tensor([[1., 3., 2., 0.],
                       [4., 6., 1., 1.],
                       [0., 2., 9., 5.],
                       [3., 1., 7., 8.]]).reshape(1, 1, 4, 4)
        mx = F.max_pool2d(x, 2, stride=2)
        av = F.avg_pool2d(x, 2, stride=2)
        l2 = F.lp_pool2d(x, 2, 2, stride=2)
    L.uses(F.max_pool2d, tg.sliding_window)
    L.table(["", "c0", "c1", "c2", "c3"], [[f"r{i}"] + x[0, 0, i].tolist() for i in range(4)],
            title="a 4×4 map")
    windows = [[x[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(4).tolist() for j in range(2)]
               for i in range(2)]
    L.table(["window", "values", "max", "average", "L2 = sqrt(Σx²)"],
            [[f"({i},{j})", windows[i][j], mx[0, 0, i, j].item(), av[0, 0, i, j].item(),
              f"{l2[0, 0, i, j].item():.4f}"] for i in range(2) for j in range(2)])
    L.check("max pooling by hand", mx[0, 0], [[6., 2.], [3., 9.]])
    L.check("average pooling by hand", av[0, 0], [[3.5, 1.0], [1.5, 7.25]])
    L.check("L2 pooling by hand",
            l2[0, 0], [[math.sqrt(sum(v * v for v in windows[i][j])) for j in range(2)]
                       for i in range(2)], 1e-6)
    L.check("L2 of window (0,0) = sqrt(1 + 9 + 16 + 36) = sqrt(62)", l2[0, 0, 0, 0],
            math.sqrt(62), 1e-6)

    L.step("Stride 2 halves height and width", deck=(3, "Some Facts"))
    with L.code():
        feat = tg.randn(2, 6, 28, 28)
        shapes = []
        for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.LPPool2d(2, 2)):
            shapes.append([type(layer).__name__, tuple(feat.shape),
                           tuple(layer(feat.abs()).shape), n_params(layer)])
    L.table(["layer", "input", "output", "parameters"], shapes)
    L.check("2×2 pools with stride 2: (2, 6, 28, 28) → (2, 6, 14, 14)",
            [s[2] for s in shapes], [(2, 6, 14, 14)] * 3)
    L.check("pooling layers have no parameters", [s[3] for s in shapes], [0, 0, 0])
    L.say("Channels are pooled separately, so the depth (6) stays. Each pooling step divides "
          "the number of positions by 4, and with it the work and the parameters of every "
          "fully connected layer that follows.")

    L.step("Max pooling forgives small shifts", deck=(2, "CNN Layers: Pooling"))
    with L.code():
        img = tg.zeros(1, 1, 8, 8)
        img[0, 0, 2, 2] = 1.0
        moved = tg.zeros(1, 1, 8, 8)
        moved[0, 0, 3, 3] = 1.0            # the same dot, one pixel down and right
        p1, p2 = F.max_pool2d(img, 2), F.max_pool2d(moved, 2)
    expected = [[0.0] * 4 for _ in range(4)]
    expected[1][1] = 1.0                   # window (1, 1) covers rows 2-3 and columns 2-3
    L.check("the dot at (2, 2) lands in pooled cell (1, 1)", p1[0, 0], expected)
    L.check("moved to (3, 3), inside the same 2×2 window: the same pooled map", p2[0, 0],
            expected)
    L.say("Both dots fall in the same 2×2 window, so after pooling the maps are identical: "
          "a little translation invariance. (A move across a window border still shows.)")

    L.step("Where does the gradient of a pool go?",
           beyond="the decks pool forward only; the gradient is what training needs from it")
    with L.code():
        x = x.clone().requires_grad_(True)
        F.max_pool2d(x, 2).sum().backward()
        g_max = x.grad[0, 0]
        x.grad = None
        F.avg_pool2d(x, 2).sum().backward()
        g_avg = x.grad[0, 0]
    L.table(["", "max-pool gradient", "avg-pool gradient"],
            [[f"r{i}", g_max[i].tolist(), g_avg[i].tolist()] for i in range(4)])
    L.check("max pooling sends the gradient only to each window's maximum", g_max,
            [[0., 0., 1., 0.], [0., 1., 0., 0.], [0., 0., 1., 0.], [1., 0., 0., 0.]])
    L.check("average pooling spreads it evenly: 1/4 each", g_avg, [[0.25] * 4] * 4)
    L.say("Autograd derived both from the pooling code (a window view, then max or mean): the "
          "derivative of max is 1 for the winner and 0 for the rest; the mean's is 1/4.")
    with L.figure("pooling", "2×2 pooling with stride 2, and where its gradient goes", ncols=6,
                  size=(21, 4.2)) as (fig, axes):
        figures.heatmap(axes[0, 0], x[0, 0], "a 4×4 map (lines: the 2×2 windows)", annotate=True,
                        colorbar=None, cmap="Blues", vmin=0, vmax=15)
        for ax, a, name in ((axes[0, 1], mx[0, 0], "max pooling"),
                            (axes[0, 2], av[0, 0], "average pooling"),
                            (axes[0, 3], l2[0, 0], "L2 pooling √Σx²")):
            figures.heatmap(ax, a, name, annotate=True, fmt="{:.2f}", cmap="Blues", vmin=0,
                            vmax=15, colorbar="value" if name.startswith("L2") else None)
        figures.heatmap(axes[0, 4], g_max, "∂(Σ max pool)/∂x", annotate=True, fmt="{:g}",
                        cmap="Oranges", vmin=0, vmax=1, colorbar=None)
        figures.heatmap(axes[0, 5], g_avg, "∂(Σ avg pool)/∂x", annotate=True, fmt="{:g}",
                        cmap="Oranges", vmin=0, vmax=1, colorbar="gradient")
        for ax in (axes[0, 0], axes[0, 4], axes[0, 5]):
            ax.axhline(1.5, color="black", lw=2)
            ax.axvline(1.5, color="black", lw=2)

    L.step("A deep stack of small filters: VGG-16", deck=[(3, "An example: VGG"),
                                                        (2, "VGG-16 (2014)")])
    width = 8 if args.fast else 1
    n_in = args.vgg_input
    L.say("VGG-16 stacks thirteen 3×3 convolutions (CONV 3-64 means 64 filters of 3×3 over "
          "all input channels, then ReLU) in five blocks; each block ends with 2×2 max pooling "
          "(POOL2) that halves height and width; three fully connected layers (FC) follow. The "
          "deck gives its size: 138 million parameters. Count them with summary(), and again "
          "by formula in plain Python:")
    L.source(vgg16)
    L.source(vgg16_count)
    q = L.question("Which part of VGG-16 holds most of its parameters?",
                   ["the 13 convolutions", "the 3 fully connected layers",
                    "about half each"])
    with L.code():
        tg.manual_seed(0)
        model = vgg16(width)                      # width 8: every layer 8× narrower (--fast)
        with tg.no_grad():
            summary = model.summary((3, n_in, n_in), console=L.console)
        conv_part, dense_part = vgg16_count(width)
    L.uses(nn.Module.summary)
    L.check(f"summary() of VGG-16{'' if width == 1 else f' at 1/{width} width'} = the formula",
            summary.total, conv_part + dense_part)
    pools = [r["output_shape"][2] for r in summary.rows if r["type"] == "MaxPool2d"]
    want = [n_in // 2 ** b for b in range(1, 6)]
    L.check(f"each POOL2 halves the side: {n_in} → " + " → ".join(map(str, want)), pools, want)
    full_conv, full_dense = vgg16_count(1)
    if width != 1:
        L.say(f"(--fast builds VGG-16 at 1/{width} of its width, {summary.total:,} parameters, "
              "so that its summary runs in a second; the formula just matched it. The real "
              "network is the same formula at width 1, without building its 553 MB of "
              "weights.)")
    else:
        L.check("summary() of the real VGG-16: 138,357,544 parameters (= the formula)",
                summary.total, full_conv + full_dense)
    total = full_conv + full_dense
    L.check("VGG-16 holds 138 million parameters (the deck), to the nearest million",
            round(total / 1e6), 138)
    L.table(["part", "parameters", "share"],
            [["13 convolutions", f"{full_conv:,}", f"{full_conv / total:.1%}"],
             ["3 fully connected layers", f"{full_dense:,}", f"{full_dense / total:.1%}"],
             ["total", f"{total:,}", ""]])
    L.answer(q, observed=2 if full_dense > 0.6 * total else 1 if full_conv > 0.6 * total else 3,
             expected=2, why="the first fully connected layer alone reads 512·7·7 = 25,088 "
                             "numbers into 4,096 units: 102.8 million weights. Shared 3×3 "
                             "filters are cheap; dense connections are not (lesson 2).")
    L.departure((3, "An example: VGG"),
                "the convolutions have stride 1, so the size remains the same",
                "stride 1 keeps the size only with padding 1 ('same' padding, as VGG uses); "
                "without padding every 3×3 convolution takes 2 pixels off the side",
                "without padding the thirteen convolutions and five pools shrink 224 to 1, not "
                "7: the first dense layer would read 512 numbers instead of 25,088, and the "
                "network would lose about 100 million parameters (computed next)")
    with L.code():
        side = 224
        for block in VGG_BLOCKS:
            for _ in block:
                side = out_size(side, 3, 1, 0)        # stride 1, no padding: −2 per conv
            side = out_size(side, 2, 2, 0)            # POOL2
        unpadded_first_fc = 512 * side * side * 4096 + 4096
    L.check("stride 1 without padding: 224 ends as 1×1 after VGG's layers", side, 1)
    with L.code():
        layer = nn.Conv2d(1, 1, 3, stride=1)
        with tg.no_grad():
            shrunk = layer(tg.zeros(1, 1, 224, 224)).shape[-1]
    L.check("a real 3×3 Conv2d with stride 1 and no padding: 224 → 222", shrunk, 222)
    L.say(f"The first dense layer would hold {unpadded_first_fc:,} parameters instead of "
          f"{512 * 49 * 4096 + 4096:,}.")
    with L.figure("vgg16_parameters", "Where VGG-16's 138 million parameters are",
                  size=(12, 5)) as (fig, axes):
        names, counts, c = [], [], 3
        for b, block in enumerate(VGG_BLOCKS, 1):
            names.append(f"block {b}\n{len(block)}× CONV 3-{block[0]}")
            counts.append(sum(9 * (c if i == 0 else ch) * ch + ch for i, ch in enumerate(block)))
            c = block[-1]
        names += ["FC 25088→4096", "FC 4096→4096", "FC 4096→1000"]
        counts += [25088 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]
        figures.bars(axes[0, 0], names, counts, "parameters per part (log scale)", "parameters",
                     fmt="{:,.0f}", logy=True, colors=["#4c72b0"] * 5 + ["#c44e52"] * 3)
        axes[0, 0].tick_params(axis="x", labelrotation=30)


if __name__ == "__main__":
    run(main, 8, "Stride, padding, pooling", knobs=[
        Knob("--stride", 1, "stride S of an extra row in the output-size table (N = 28, K = 3)"),
        Knob("--padding", 0, "padding P of that extra row"),
        Knob("--vgg-input", 224, "image size given to VGG-16's summary (the parameters do not "
                                 "depend on it)"),
    ])
