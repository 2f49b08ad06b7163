"""Lesson 7: Classic image filters. Identity, shift, box blur and sharpen, and the kernel flip."""
from __future__ import annotations

import numpy as np   # only for the two sums written out as loops

import tinygrad_edu as tg
import tinygrad_edu.functional as F

import figures
from console import Knob, Lesson, run

SIZE = 16


def scene() -> tg.Tensor:
    """A 16×16 grayscale picture in [0, 1]: a bright disk and a dark bar on a soft gradient."""
    rows = []
    for i in range(SIZE):
        row = []
        for j in range(SIZE):
            v = 0.2 + 0.3 * j / (SIZE - 1)                     # background gradient
            if (i - 6) ** 2 + (j - 6) ** 2 <= 12:              # disk
                v = 0.95
            if 11 <= j <= 12 and 3 <= i <= 13:                 # bar
                v = 0.05
            row.append(v)
        rows.append(row)
    return tg.tensor(rows)


def filt(image: tg.Tensor, kernel: tg.Tensor, flip: bool = False) -> tg.Tensor:
    """Filter a (H, W) image with a (K, K) kernel (K odd), zero padding K // 2 so the size is
    kept.

    flip=False: cross-correlation (F.conv2d, what CNNs compute);
    flip=True:  true convolution   (F.true_conv2d, the kernel turned by 180°).
    """
    k = kernel.shape[0]
    x = image.reshape(1, 1, *image.shape)                      # (N=1, C=1, H, W)
    w = kernel.reshape(1, 1, k, k)                             # (O=1, C=1, K, K)
    y = F.true_conv2d(x, w, padding=k // 2) if flip else F.conv2d(x, w, padding=k // 2)
    return y.reshape(image.shape)                              # (H, W)


def correlate_loops(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(f ⋆ g)(m, n) = Σ_k Σ_l f(m + k, n + l) · g(k, l) for k, l in −r..r (g is (2r+1)²);
    f is 0 outside."""
    r = g.shape[0] // 2
    out = np.zeros(f.shape)
    for m in range(f.shape[0]):
        for n in range(f.shape[1]):
            for k in range(-r, r + 1):
                for l in range(-r, r + 1):
                    if 0 <= m + k < f.shape[0] and 0 <= n + l < f.shape[1]:
                        out[m, n] += f[m + k, n + l] * g[k + r, l + r]
    return out


def convolve_loops(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(f * g)(m, n) = Σ_k Σ_l f(m − k, n − l) · g(k, l) for k, l in −r..r; f is 0 outside."""
    r = g.shape[0] // 2
    out = np.zeros(f.shape)
    for m in range(f.shape[0]):
        for n in range(f.shape[1]):
            for k in range(-r, r + 1):
                for l in range(-r, r + 1):
                    if 0 <= m - k < f.shape[0] and 0 <= n - l < f.shape[1]:
                        out[m, n] += f[m - k, n - l] * g[k + r, l + r]
    return out


def smooth_region(clean: np.ndarray, k: int) -> np.ndarray:
    """Pixels whose whole k×k neighbourhood is the background ramp 0.2 + 0.3·j/15 (no disk, no
    bar): there a symmetric average of the clean picture changes nothing."""
    ramp = 0.2 + 0.3 * np.arange(SIZE) / (SIZE - 1)
    background = np.isclose(clean, ramp[None, :])
    r = k // 2
    mask = np.zeros(clean.shape, dtype=bool)
    for m in range(r, SIZE - r):
        for n in range(r, SIZE - r):
            mask[m, n] = background[m - r:m + r + 1, n - r:n + r + 1].all()
    return mask


def max_diff(a: tg.Tensor, b: tg.Tensor) -> float:
    return (a - b).abs().max().item()


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    clean = scene()
    sigma, K = args.noise, args.blur
    noisy = clean + sigma * tg.randn(SIZE, SIZE)

    L.step("Filtering: a weighted average of each pixel's neighbourhood",
           deck=[(3, "Moving Average"), (3, "Convolution")])
    L.say("To clean a noisy photo, replace every pixel by a weighted average of the pixels "
          "around it. The 3×3 table of weights is the *kernel* (or filter). Image processing "
          "writes the result as a convolution, with the kernel g indexed from −1 to 1:\n\n"
          "    (f * g)(m, n) = Σ_k Σ_l f(m − k, n − l) · g(k, l)        (true convolution)\n\n"
          "Deep-learning libraries compute the same sum with + instead of −:\n\n"
          "    (f ⋆ g)(m, n) = Σ_k Σ_l f(m + k, n + l) · g(k, l)        (cross-correlation)\n\n"
          "The minus signs visit the kernel back to front, so true convolution is "
          "cross-correlation with the kernel turned by 180°. F.conv2d is the ⋆ version; "
          "F.true_conv2d is the * version. All filters below use zero padding of 1 pixel so "
          "the picture keeps its 16×16 size. Both sums, written out as loops:")
    L.source(correlate_loops)
    L.source(convolve_loops)
    L.departure((4, "Convolutional Neural Nets"),
                "deck 003 defines convolution with minus signs, (f * g)[m, n] = Σ f[m − k, n − l]"
                "·g[k, l], and says the kernel is flipped; deck 004 writes S(i, j) = Σ I(i + m, "
                "j + n)·K(m, n) with plus signs and calls that convolution too",
                "both: F.true_conv2d is deck 003's sum, F.conv2d is deck 004's (what every "
                "deep-learning library computes under the name convolution)",
                "identical for kernels symmetric under a 180° turn (identity, box, sharpen); "
                "mirror images for the others (shift, Sobel): checked step by step below")
    with L.code():
        box3 = np.ones((3, 3)) / 9
        right_one = np.array([[0., 0., 0.], [0., 0., 1.], [0., 0., 0.]])
        same_box = correlate_loops(noisy.numpy(), box3) - convolve_loops(noisy.numpy(), box3)
        mirrored = correlate_loops(noisy.numpy(), right_one) - convolve_loops(noisy.numpy(),
                                                                               right_one)
    L.check("a kernel unchanged by a 180° turn (the box): both sums agree (NumPy loops)",
            float(np.abs(same_box).max()), 0.0, 1e-12)
    L.check_true("a kernel that is not (a single 1 right of centre): they differ",
                 float(np.abs(mirrored).max()) > 0.1, f"{float(np.abs(mirrored).max()):.2f}")
    L.say("and the library's way, one helper for the whole lesson:")
    L.source(filt)
    L.uses(F.conv2d, F.true_conv2d)
    L.images([clean, noisy], ["picture", "with noise"], vmin=0, vmax=1)

    L.step("Identity: a single 1 in the middle", deck=(3, "Practice with Linear Filters"))
    with L.code():
        identity = tg.tensor([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]])
        same = filt(clean, identity)
    L.check("identity kernel leaves the picture unchanged (max |difference|)",
            max_diff(same, clean), 0.0)
    L.check("flipping it changes nothing: it is symmetric",
            max_diff(filt(clean, identity, flip=True), clean), 0.0)

    L.step("Shift: a single 1 next to the middle", deck=(3, "Practice with Linear Filters"))
    q = L.question("The kernel [[0,0,0],[0,0,1],[0,0,0]] has its 1 right of centre. Which way "
                   "does F.conv2d (cross-correlation) move the picture?",
                   ["left", "right", "it does not move it"])
    with L.code():
        shift = tg.tensor([[0., 0., 0.], [0., 0., 1.], [0., 0., 0.]])
        row = tg.tensor([[1., 2., 3., 4., 5.]])
        row3 = F.pad(row, (0, 0, 1, 1))                             # (3, 5): a 1-row image
        corr = F.conv2d(row3.reshape(1, 1, 3, 5), shift.reshape(1, 1, 3, 3), padding=(0, 1))
        conv = F.true_conv2d(row3.reshape(1, 1, 3, 5), shift.reshape(1, 1, 3, 3), padding=(0, 1))
    L.say("With the 1 right of centre, cross-correlation computes out(m, n) = f(m, n + 1): "
          "every pixel takes the value of its right neighbour, so the picture moves one pixel "
          "*left*. That is the lecture's \"shifted left by 1 pixel\". True convolution reads "
          "f(m, n − 1) and moves it right. On one row of pixels:")
    L.table(["", "row"],
            [["input", row[0].tolist()],
             ["F.conv2d (⋆)", corr.reshape(5).tolist()],
             ["F.true_conv2d (*)", conv.reshape(5).tolist()]])
    L.check("cross-correlation with the shift kernel moves the row left", corr.reshape(5),
            [2., 3., 4., 5., 0.])
    L.check("true convolution with it moves the row right", conv.reshape(5),
            [0., 1., 2., 3., 4.])
    moved = corr.reshape(5).tolist()
    L.answer(q, observed=1 if moved == [2., 3., 4., 5., 0.] else 2 if moved == [0., 1., 2., 3., 4.]
             else 3, expected=1,
             why="out(m, n) = f(m, n + 1): each pixel takes its right neighbour's value, so the "
                 "content slides one pixel to the left.")
    L.departure((3, "Practice with Linear Filters"),
                "this kernel, under the deck's own flipped convolution, is labelled 'shifted "
                "left by 1 pixel'",
                "cross-correlation (F.conv2d) moves the picture left; the deck's flipped "
                "convolution (F.true_conv2d) moves it right",
                "the label fits cross-correlation, not the deck's formula: the two rows above "
                "differ by two pixels of shift")
    with L.code():
        left = filt(clean, shift)
        right = filt(clean, shift, flip=True)
    L.images([clean, left], ["picture", "shifted left"], vmin=0, vmax=1)
    L.check("whole picture: out[:, j] = picture[:, j + 1] (max |difference|)",
            max_diff(left[:, :-1], clean[:, 1:]), 0.0)
    L.check("the last column comes from the zero padding", left[:, -1].abs().max(), 0.0)
    L.check("F.conv2d equals Σ f(m + k, n + l)·g(k, l) written out in NumPy", left,
            correlate_loops(clean.numpy(), shift.numpy()), 1e-6)
    L.check("F.true_conv2d equals Σ f(m − k, n − l)·g(k, l) written out in NumPy", right,
            convolve_loops(clean.numpy(), shift.numpy()), 1e-6)
    L.say("For a *learned* filter the flip does not matter: the network would simply learn "
          "the turned kernel. That is why libraries skip it and still say \"convolution\".")

    L.step(f"Box blur: the average of the {K}×{K} neighbourhood",
           deck=[(3, "Moving Average"), (3, "Practice with Linear Filters")])
    r = K // 2
    with L.code():
        box = tg.ones(3, 3) / 9.0                             # the deck's 3×3 box (sharpen uses it)
        box_k = tg.ones(K, K) / (K * K)                       # the blur of this run (--blur)
        blurred = filt(noisy, box_k)
    i, j = 8, 9
    by_hand = sum(noisy[i + u, j + v].item() for u in range(-r, r + 1)
                  for v in range(-r, r + 1)) / (K * K)
    L.say(f"All {K * K} weights are 1/{K * K}: pixel ({i}, {j}) becomes the mean of its {K}×{K} "
          f"neighbourhood, {by_hand:.4f} by hand.")
    L.check(f"blurred pixel ({i}, {j}) = mean of its {K * K} neighbours", blurred[i, j], by_hand,
            1e-5)
    L.departure((3, "Moving Average"),
                "place the 1/9 weights on the neighbourhood, multiply pointwise, then average "
                "the products",
                "multiply and add: with weights 1/9 the sum of the products already is the "
                "average",
                "averaging the products after weighting them by 1/9 would divide by 9 twice: "
                "the mean of the products is the blur divided by 9 (checked)")
    with L.code():
        products = [noisy[i + u, j + v].item() / 9.0 for u in (-1, 0, 1) for v in (-1, 0, 1)]
    L.check("Σ of the 1/9-weighted products = the 3×3 mean", sum(products),
            sum(noisy[i + u, j + v].item() for u in (-1, 0, 1) for v in (-1, 0, 1)) / 9, 1e-12)
    L.check("the mean of the weighted products = (3×3 mean) / 9", sum(products) / len(products),
            (sum(noisy[i + u, j + v].item() for u in (-1, 0, 1) for v in (-1, 0, 1)) / 9) / 9,
            1e-12)
    with L.code():
        pooled = F.avg_pool2d(noisy.reshape(1, 1, SIZE, SIZE), K, stride=1)[0, 0]
        blur_loops = correlate_loops(noisy.numpy(), box_k.numpy())
    L.check("the box blur equals the NumPy loops", blurred, blur_loops, 1e-6)
    L.check(f"inside the border, {K}×{K} average pooling (stride 1) equals them too", pooled,
            blur_loops[r:SIZE - r, r:SIZE - r], 1e-6)
    smooth = smooth_region(clean.numpy(), K)
    err_noisy = float(((noisy - clean).numpy()[smooth] ** 2).mean())
    err_blur = float(((blurred - clean).numpy()[smooth] ** 2).mean())
    L.images([noisy, blurred], ["noisy", "box blur"], vmin=0, vmax=1)
    L.say(f"Measured where the clean picture is the smooth background ({int(smooth.sum())} "
          f"pixels whose {K}×{K} neighbourhood is background): there averaging leaves the "
          f"picture alone and only averages the noise, {K * K} noises per pixel.")
    if sigma > 0:
        L.check_true("blurring removes noise: the squared error to the clean picture drops",
                     err_blur < err_noisy, f"{err_noisy:.4f} → {err_blur:.4f}")
    else:
        L.check("without noise (--noise 0) the blur leaves the smooth background exactly as it "
                "was", err_blur, 0.0, 1e-12)
    L.check("the box kernel is symmetric: F.true_conv2d with it equals the correlation loops",
            filt(noisy, box_k, flip=True), blur_loops, 1e-6)

    L.step("Sharpen: twice the pixel minus the local average",
           deck=[(3, "Practice with Linear Filters"), (3, "Sharpening Filter")])
    with L.code():
        sharpen = 2 * identity - box
        sharp = filt(clean, sharpen)
    L.say("The sharpening kernel is 2·identity − box: 2·f − mean. Its output minus the local "
          "mean is 2·(f − mean): every difference from the neighbourhood average is doubled, "
          "so edges stand out (and so does noise).")
    L.table(["row"] + [f"col {c}" for c in range(3)],
            [[r] + [f"{v:+.3f}" for v in sharpen[r].tolist()] for r in range(3)],
            title="sharpen kernel = [[0,0,0],[0,2,0],[0,0,0]] − (1/9)·ones")
    f, mean = clean.numpy(), correlate_loops(clean.numpy(), box.numpy())   # mean: NumPy loops
    L.check("sharpen(f) = 2·f − mean, the mean from the NumPy loops", sharp, 2 * f - mean, 1e-6)
    L.check("sharpen(f) − mean = 2·(f − mean): differences doubled", sharp.numpy() - mean,
            2 * (f - mean), 1e-6)
    L.check("sum of the kernel's weights is 1: flat regions keep their brightness",
            sharpen.sum(), 1.0, 1e-6)
    L.images([clean, sharp], ["picture", "sharpened"], vmin=0, vmax=1)

    L.step("Filters find structure: a vertical-edge kernel", deck=(3, "Sharpening Filter"))
    with L.code():
        sobel = tg.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
        edges = filt(clean, sobel)
    L.table(["row"] + [f"col {c}" for c in range(3)],
            [[r] + [f"{v:+g}" for v in sobel[r].tolist()] for r in range(3)],
            title="Sobel kernel (vertical edges)")
    L.say("A kernel whose weights sum to 0 ignores flat regions and answers only to change. "
          "The Sobel kernel subtracts the left column from the right: positive where the "
          "picture gets brighter to the right, negative where it gets darker.")
    L.image(edges.abs(), "|vertical edges|")
    L.check("on the flat inside of the disk the edge response is 0", edges[6, 6], 0.0, 1e-6)
    L.check_true("at the dark bar's left side the response is strongly negative",
                 edges[8, 10].item() < -1.0, f"{edges[8, 10].item():.2f}")
    L.say("A CNN starts from this idea and lets gradient descent choose the kernels: the first "
          "layer of a trained network usually holds blur-, edge- and colour-like filters "
          "(lesson 13 shows some).")
    with L.figure("filtered_pictures", "One picture through five classic 3×3 filters", ncols=6,
                  size=(20, 4)) as (fig, axes):
        figures.image_grid(axes[:, :5], [clean, left, noisy, blurred, sharp],
                           ["picture", "shift kernel: moved left", "with noise",
                            "box blur of the noisy one", "sharpened"],
                           vmin=0, vmax=1, colorbar="brightness")
        figures.heatmap(axes[0, 5], edges, "Sobel: vertical edges", centered=True,
                        colorbar="edge response", xlabel=None, ylabel=None)
    with L.figure("kernels", "The kernels g(k, l), as F.conv2d applies them", ncols=5,
                  size=(19, 5)) as (fig, axes):
        for n, (ax, k, name) in enumerate(zip(
                axes[0], (identity, shift, box, sharpen, sobel),
                ("identity", "shift (moves left)", "box blur (1/9 each)",
                 "sharpen = 2·identity − box", "Sobel (vertical edges)"))):
            figures.heatmap(ax, k, name, cmap="RdBu_r", vmin=-2, vmax=2, annotate=True,
                            fmt="{:+.2f}", colorbar="weight" if n == 4 else None, xlabel="l",
                            ylabel="k", xticks=["−1", "0", "1"], yticks=["−1", "0", "1"])


if __name__ == "__main__":
    run(main, 7, "Classic image filters", knobs=[
        Knob("--noise", 0.15, "standard deviation of the noise added to the picture"),
        Knob("--blur", 3, "size K (odd) of the box blur", choices=(3, 5)),
    ])
