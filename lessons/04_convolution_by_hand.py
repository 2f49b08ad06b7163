"""Lesson 4: Convolution by hand. A 3×3 patch times a 3×3 filter, summed: a cross scores 12."""
from __future__ import annotations

import numpy as np   # only for the gradient formulas written out as loops
from matplotlib.patches import Rectangle

import tinygrad_edu as tg
from tinygrad_edu.engine import graph, ops
import tinygrad_edu.functional as F

import figures
from console import Knob, Lesson, run


def score(patch: tg.Tensor, filt: tg.Tensor) -> float:
    """Σ_{u,v} patch[u, v] · filt[u, v], computed by the library's conv2d.

    A (3, 3) patch is a 1-image, 1-channel batch of shape (1, 1, 3, 3); the filter
    has the same shape, so the filter fits in exactly one place and the map is 1×1.
    """
    out = F.conv2d(patch.reshape(1, 1, 3, 3), filt.reshape(1, 1, 3, 3))   # (1, 1, 1, 1)
    return out.item()


def slide_by_loops(image: list, filt: list) -> list:
    """The definition, in plain Python loops: every position (i, j) where the filter fits."""
    h, w, k = len(image), len(image[0]), len(filt)
    return [[sum(image[i + u][j + v] * filt[u][v] for u in range(k) for v in range(k))
             for j in range(w - k + 1)]
            for i in range(h - k + 1)]


def filter_gradient_loops(image: np.ndarray, grad_out: np.ndarray, k: int) -> np.ndarray:
    """∂J/∂K(m, n) = Σ_{i,j} ∂J/∂S(i, j) · I(i + m, j + n): every place the filter was used
    adds its share (the shared weight sums over its copies)."""
    dK = np.zeros((k, k))
    for m in range(k):
        for n in range(k):
            for i in range(grad_out.shape[0]):
                for j in range(grad_out.shape[1]):
                    dK[m, n] += grad_out[i, j] * image[i + m, j + n]
    return dK


def input_gradient_loops(kernel: np.ndarray, grad_out: np.ndarray, shape: tuple) -> np.ndarray:
    """∂J/∂I(p, q) = Σ_{m,n} ∂J/∂S(p − m, q − n) · K(m, n), over the outputs that exist: each
    pixel collects the gradient of every output whose window covered it."""
    dI = np.zeros(shape)
    k = kernel.shape[0]
    for p in range(shape[0]):
        for q in range(shape[1]):
            for m in range(k):
                for n in range(k):
                    i, j = p - m, q - n
                    if 0 <= i < grad_out.shape[0] and 0 <= j < grad_out.shape[1]:
                        dI[p, q] += grad_out[i, j] * kernel[m, n]
    return dI


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("Why look at patches?", deck=[(0, "Recognizing local regions of the image"),
                                         (0, "Detecting image patterns")])
    L.say("A fully connected layer joins every input to every unit: n inputs and m units cost "
          "n·m weights.")
    with L.code():
        n_pixels, hidden = 256 * 256, 1000
        weights = n_pixels * hidden
    L.say(f"A 256×256 image into 1000 units is already {weights:,} weights. But neighbouring "
          "pixels usually belong together (sky, fur, an edge), so a small model that looks at "
          "one small square *patch* at a time can find local patterns, and the same small "
          "model can be reused at every position of the image.")

    L.step("A patch and a filter", deck=[(0, "The “filter” idea"),
                                         (0, "Comparing input patch to a filter")])
    L.say("Pixels are 1 (ink) or 0 (paper). P is a 3×3 patch showing a cross; F is a 3×3 "
          "filter, the weights of the small model. Its answer is the sum of the elementwise "
          "products:\n\n    score(P, F) = Σ_u Σ_v P(u, v) · F(u, v)\n\n"
          "This multiply-and-add is what a CNN calls a *convolution*. It is large when the "
          "filter's big weights sit on the patch's ink.")
    with L.code():
        cross = tg.tensor([[0., 1., 0.],
                           [1., 1., 1.],
                           [0., 1., 0.]])
        tee = tg.tensor([[1., 1., 1.],
                         [0., 1., 0.],
                         [0., 1., 0.]])
        random_f = tg.tensor([[0., 2., 3.],
                              [2., 4., 1.],
                              [0., 3., 0.]])
        learned_f = tg.tensor([[0., 2., 0.],
                               [2., 4., 1.],
                               [0., 3., 0.]])
    L.images([cross, tee, learned_f], ["cross P", "T patch", "learned F"])
    L.source(score)
    L.uses(F.conv2d, ops.Window,
           note="conv2d cuts the input into windows (a strided view, no copying), then one "
                "matrix product multiplies every window by the filter.")
    with L.code():
        s_cross = score(cross, learned_f)
        columns = (cross * learned_f).sum(0)     # one partial sum per column, as on the slide
    L.say("Column by column the products add up to "
          f"{[int(v) for v in columns.tolist()]}: the middle column holds the cross's vertical "
          "bar and the filter's big weights 2, 4, 3.")
    L.check("column sums of P ⊙ F (cross, learned filter)", columns, [2., 9., 1.])
    L.check("cross patch · learned filter = 12", s_cross, 12.0)

    L.step("A different pattern scores lower",
           deck=(0, "Optimizing (matching) filter to a patch"))
    L.say("A T-shaped patch shares the vertical bar with the cross but has its ink across the "
          "top instead of the middle row. Only the bar meets big weights: 2 + 4 + 3 = 9.")
    with L.code():
        s_tee = score(tee, learned_f)
    L.check("column sums of P ⊙ F (T patch, learned filter)", (tee * learned_f).sum(0),
            [0., 9., 0.])
    L.check("T patch · learned filter = 9", s_tee, 9.0)

    L.step("Why the slides' random filter scores the T at 12",
           deck=(0, "Optimizing (matching) filter to a patch"))
    L.departure((0, "Optimizing (matching) filter to a patch"),
                "the T-shaped patch is drawn next to the randomly initialised filter "
                "[[0,2,3],[2,4,1],[0,3,0]], and its score is given as 0 + 9 + 0 = 9",
                "the T scores 9 with the learned filter [[0,2,0],[2,4,1],[0,3,0]]; with the "
                "random filter it scores 12",
                "the random filter's top-right 3 lands on the T's ink: +3. (The slide's sum for "
                "the cross also multiplies that 3, by the cross's paper, 3·0.) Checked below.")
    L.say("Score all four pairs:")
    with L.code():
        pairs = {(p, f): score(pt, ft) for p, pt in (("cross", cross), ("T", tee))
                 for f, ft in (("random", random_f), ("learned", learned_f))}
    L.table(["patch", "random F [[0,2,3],...]", "learned F [[0,2,0],...]"],
            [[p, pairs[(p, "random")], pairs[(p, "learned")]] for p in ("cross", "T")])
    L.check("T patch · random filter = 12", pairs[("T", "random")], 12.0)
    L.check("cross patch · random filter = 12", pairs[("cross", "random")], 12.0)
    L.say("The T has ink in its top-right corner and the random filter has a 3 there, so the "
          "T gains exactly 3: 9 + 3 = 12. The cross has paper (0) there, so that weight never "
          "counts for it. With the random filter the two shapes tie at 12: it cannot tell a "
          "cross from a T. Learning pushed the top-right weight to 0 (weights on the cross's "
          "paper pixels should be about zero) and the tie breaks: cross 12 > T 9.")
    with L.code():
        diff = (tee * (random_f - learned_f)).sum().item()
    L.check("the T's extra score = its pixel under the changed weight × 3", diff, 3.0)
    L.check_true("learned filter ranks the cross above the T", s_cross > s_tee,
                 f"{s_cross:g} > {s_tee:g}")
    with L.figure("patches_and_filters", "Score = Σ patch ⊙ filter (red: the corner where the "
                  "random and the learned filter differ)", ncols=4, nrows=2,
                  size=(15, 7.5)) as (fig, axes):
        for ax, a, name, bar in ((axes[0, 0], cross, "cross patch P", "pixel (1 = ink)"),
                                 (axes[0, 1], tee, "T patch", "pixel (1 = ink)"),
                                 (axes[0, 2], random_f, "random filter F", "weight"),
                                 (axes[0, 3], learned_f, "learned filter F", "weight")):
            figures.heatmap(ax, a, name, cmap="Greys" if "patch" in name else "viridis",
                            annotate=True, colorbar=bar)
        for ax, (p, pt), (f, ft) in ((axes[1, 0], ("cross", cross), ("learned", learned_f)),
                                     (axes[1, 1], ("T", tee), ("learned", learned_f)),
                                     (axes[1, 2], ("cross", cross), ("random", random_f)),
                                     (axes[1, 3], ("T", tee), ("random", random_f))):
            figures.heatmap(ax, pt * ft, f"{p} ⊙ {f} F: sum = {score(pt, ft):g}", cmap="viridis",
                            vmin=0, vmax=4, annotate=True, colorbar="product")
        for ax in (axes[0, 1], axes[0, 2], axes[0, 3], axes[1, 3]):   # the corner that differs
            ax.add_patch(Rectangle((1.5, -0.5), 1, 1, fill=False, lw=3, edgecolor="tab:red"))

    L.step("Learning the filter from examples", deck=(0, "Learning matrix F"))
    L.say("Where did the learned filter come from? Gradient descent. Start from the random "
          "filter, add a bias b, squash with a sigmoid σ(score + b) and ask for 1 on the cross "
          "and 0 on other shapes (a T, an upside-down T, an L, a diagonal). Each step moves "
          "F ← F − η ∂loss/∂F; autograd gives the gradient.")
    with L.code():
        others = [tee, tee.flip(0),
                  tg.tensor([[1., 0., 0.], [1., 0., 0.], [1., 1., 1.]]),
                  tg.tensor([[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]])]
        x = tg.stack([cross] + others).reshape(5, 1, 3, 3)              # (N=5, C=1, 3, 3)
        y = tg.tensor([1., 0., 0., 0., 0.])
        w = random_f.reshape(1, 1, 3, 3).clone().requires_grad_(True)    # (O=1, C=1, 3, 3)
        b = tg.tensor([-8.0], requires_grad=True)
        lr, steps = args.lr, 200
        with L.progress("learning the filter", total=steps) as bar:
            for _ in range(steps):
                logits = F.conv2d(x, w, b).reshape(5)                    # (N,)
                loss = F.binary_cross_entropy_with_logits(logits, y)
                w.grad, b.grad = None, None
                loss.backward()
                with tg.no_grad():
                    w -= lr * w.grad
                    b -= lr * b.grad
                bar.update(loss=loss.item())
    L.uses(graph.run_backward, note="backward() walks the recorded graph from the loss back to "
                                    "w and b, applying each op's derivative once.")
    trained = w.detach().reshape(3, 3)
    L.table(["row"] + [f"col {j}" for j in range(3)],
            [[i] + [f"{v:+.2f}" for v in trained[i].tolist()] for i in range(3)],
            title=f"filter after {steps} steps (started from the random filter)")
    top_right = trained[0, 2].item()
    s_c, s_t = score(cross, trained), score(tee, trained)
    if lr > 0:
        L.check_true("the top-right weight (paper in the cross) was pushed down",
                     top_right < 3.0, f"3 → {top_right:.2f}")
        L.check_true("the trained filter scores the cross above the T", s_c > s_t,
                     f"{s_c:.2f} > {s_t:.2f}")
    else:
        L.say("With a learning rate of 0 nothing moves: the filter stays random and the tie "
              "between the cross and the T stays.")
        L.check("lr = 0: the filter is still the random one", trained, random_f)
    with L.figure("learning_the_filter", "Gradient descent reshapes the random filter",
                  ncols=3, size=(15, 4.6)) as (fig, axes):
        figures.heatmap(axes[0, 0], random_f, "start: the random filter", annotate=True,
                        fmt="{:.2f}", colorbar="weight", vmin=-3, vmax=5)
        figures.heatmap(axes[0, 1], trained, f"after {steps} steps", annotate=True,
                        fmt="{:.2f}", colorbar="weight", vmin=-3, vmax=5)
        figures.lines(axes[0, 2], {"loss": bar.losses}, "binary cross-entropy", "step", "loss")

    L.step("Sliding the filter over a whole image",
           deck=[(0, "Computing convolution for the entire image"),
                 (0, "Filter convolving across the image")])
    L.say("A layer does not see one patch: it slides the filter over the image, left to right "
          "and top to bottom, and writes each score into a *feature map*. For an H×W image and "
          "a K×K filter (stride 1, no padding) the filter fits in (H − K + 1)×(W − K + 1) "
          "places. The definition, written as loops:")
    L.source(slide_by_loops)
    with L.code():
        image = [[0., 1., 0., 0.],
                 [1., 1., 1., 0.],
                 [0., 1., 0., 1.],
                 [0., 0., 1., 1.]]
        img = tg.tensor(image).reshape(1, 1, 4, 4)                       # (N, C, H, W)
        fmap = F.conv2d(img, learned_f.reshape(1, 1, 3, 3))              # (1, 1, 2, 2)
    L.image(img[0, 0], "4×4 image")
    L.table(["", "j=0", "j=1"], [[f"i={i}"] + fmap[0, 0, i].tolist() for i in range(2)],
            title="feature map of the learned 3×3 filter")
    L.check("loops and F.conv2d agree", fmap[0, 0], slide_by_loops(image, learned_f.tolist()))
    L.check("a 4×4 image and a 3×3 filter: (4 − 3 + 1)² = a 2×2 map", fmap.shape[2:], (2, 2))
    L.check("the cross in the top-left corner scores 12 there", fmap[0, 0, 0, 0], 12.0)

    L.departure((0, "Filter convolving across the image"),
                "a 3×3 filter slid over a 4×4 image gives a 3×3 matrix",
                "it gives (4 − 3 + 1)² = 2×2; a 3×3 map needs a 2×2 filter (as in the volume "
                "example, lesson 6), a 5×5 image, or one ring of zero padding (then 4×4)",
                "the map sizes below: 2×2 for the 3×3 filter, 3×3 for a 2×2 filter")
    with L.code():
        f2 = tg.tensor([[1., 0.], [0., 1.]])                             # a small diagonal detector
        bias = -1.0
        map2 = F.conv2d(img, f2.reshape(1, 1, 2, 2), tg.tensor([bias]))  # (1, 1, 3, 3)
        act = F.relu(map2)
        padded = F.conv2d(img, learned_f.reshape(1, 1, 3, 3), padding=1)  # (1, 1, 4, 4)
    L.table(["", "j=0", "j=1", "j=2"],
            [[f"i={i}"] + [f"{v + 0.0:g}" for v in act[0, 0, i].tolist()] for i in range(3)],
            title="ReLU(conv(image, [[1,0],[0,1]]) − 1): a 2×2 diagonal detector")
    L.check("a 4×4 image and a 2×2 filter give a 3×3 map", act.shape[2:], (3, 3))
    L.check("loops + bias + ReLU agree with F.conv2d + F.relu", act[0, 0],
            [[max(0.0, v + bias) for v in row] for row in slide_by_loops(image, f2.tolist())])
    L.check("a 3×3 filter with padding 1 keeps 4×4", padded.shape[2:], (4, 4))
    L.say("The map goes through ReLU(score + b): the bias b sets how strong a match must be "
          "before the unit fires, and the ReLU drops the weak ones. The filter's weights and "
          "the bias are learned by backpropagation, exactly like the weights of lesson 2, but "
          "there are only K·K + 1 of them however large the image.")
    N, P = args.image_size, args.padding
    q = L.question(f"A 3×3 filter slides over an {N}×{N} image with {P} ring(s) of zero padding. "
                   "How big is the map?", [f"{v}×{v}" for v in (N - 3 + 2 * P, N - 2 + 2 * P,
                                                                  N + 2 * P)])
    with L.code():
        big = tg.rand(1, 1, N, N)
        wide = F.conv2d(big, learned_f.reshape(1, 1, 3, 3), padding=P)         # (1, 1, ?, ?)
    L.answer(q, observed=[N - 3 + 2 * P, N - 2 + 2 * P, N + 2 * P].index(wide.shape[-1]) + 1,
             expected=2, why=f"the filter fits in N + 2P − K + 1 = {N} + {2 * P} − 3 + 1 = "
                             f"{N - 2 + 2 * P} places along each side.")
    with L.figure("feature_maps", "Sliding a filter over a 4×4 image", ncols=4,
                  size=(16, 4.4)) as (fig, axes):
        figures.heatmap(axes[0, 0], img[0, 0], "4×4 image", cmap="Greys", annotate=True,
                        colorbar="pixel (1 = ink)")
        figures.heatmap(axes[0, 1], fmap[0, 0], "map of the learned 3×3 filter (2×2)",
                        annotate=True, colorbar="score", vmin=0, vmax=12)
        figures.heatmap(axes[0, 2], padded[0, 0], "the same filter, padding 1 (4×4)",
                        annotate=True, colorbar="score", vmin=0, vmax=12)
        figures.heatmap(axes[0, 3], act[0, 0], "ReLU(diagonal 2×2 filter − 1) (3×3)",
                        annotate=True, colorbar="activation")

    L.step("The gradient of a convolution, by hand",
           deck=[(4, "Convolution as parameter sharing"),
                 (4, "What is derivative of out with respect to inputs?")])
    L.say("Training moved the filter by ∂loss/∂F. Where does that gradient come from? Write "
          "the map as S(i, j) = Σ_m Σ_n I(i + m, j + n)·K(m, n). One weight K(m, n) is used at "
          "*every* position (i, j), so its gradient collects a share from each:\n\n"
          "    ∂J/∂K(m, n) = Σ_(i,j) ∂J/∂S(i, j) · I(i + m, j + n)\n\n"
          "and a pixel I(p, q) collects from every output whose window covered it:\n\n"
          "    ∂J/∂I(p, q) = Σ_(m,n) ∂J/∂S(p − m, q − n) · K(m, n)\n\n"
          "Take the deck's picture: a 3×4 input with letters a…l and a 2×2 filter (w x; y z). "
          "The first output is S(0, 0) = a·w + b·x + e·y + f·z, so its gradient with respect to "
          "(w, x, y, z) is just (a, b, e, f): with the deck's a = 2, b = 3, e = 2, f = 4 that "
          "is (2, 3, 2, 4).")
    L.source(filter_gradient_loops)
    L.source(input_gradient_loops)
    with L.code():
        letters = np.array([[2., 3., 1., 0.],          # a b c d   (a = 2, b = 3: the deck's)
                            [2., 4., 1., 3.],          # e f g h   (e = 2, f = 4: the deck's)
                            [0., 1., 2., 1.]])         # i j k l
        kernel = np.array([[1., -1.],                  # w x
                           [2., 0.5]])                 # y z
        image_t = tg.tensor(letters, dtype=tg.float64, requires_grad=True)
        kernel_t = tg.tensor(kernel, dtype=tg.float64, requires_grad=True)
        S = F.conv2d(image_t.reshape(1, 1, 3, 4), kernel_t.reshape(1, 1, 2, 2))[0, 0]  # (2, 3)
        (dS00_dK,) = tg.grad(S[0, 0], [kernel_t], retain_graph=True)
    L.check("∂S(0,0)/∂(w, x; y, z) = (a, b; e, f) = the deck's (2, 3; 2, 4)", dS00_dK,
            [[2.0, 3.0], [2.0, 4.0]])
    with L.code():
        G = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])    # some ∂J/∂S, J = Σ G ⊙ S
        (S * tg.tensor(G, dtype=tg.float64)).sum().backward()
        dK_loops = filter_gradient_loops(letters, G, 2)
        dI_loops = input_gradient_loops(kernel, G, letters.shape)
    L.uses(ops.WindowFold, note="autograd's ∂J/∂I is WindowFold, adding every window's "
                                "gradient back where it was read (lesson 3)")
    L.check("∂J/∂K from autograd = Σ ∂J/∂S(i,j)·I(i+m, j+n) in NumPy loops", kernel_t.grad,
            dK_loops, 1e-12)
    L.check("∂J/∂I from autograd = Σ ∂J/∂S(p−m, q−n)·K(m,n) in NumPy loops", image_t.grad,
            dI_loops, 1e-12)
    try:
        import torch    # where installed, PyTorch computes the same two gradients
    except ImportError:
        torch = None
        L.say("(PyTorch is not installed; with it, this step also compares with "
              "torch.nn.functional.conv2d.)")
    if torch is not None:
        with L.code():
            ti = torch.tensor(letters, requires_grad=True)
            tk = torch.tensor(kernel, requires_grad=True)
            ts = torch.nn.functional.conv2d(ti.reshape(1, 1, 3, 4), tk.reshape(1, 1, 2, 2))
            (ts[0, 0] * torch.tensor(G)).sum().backward()
        L.check("PyTorch's ∂J/∂K agrees", kernel_t.grad, tk.grad.numpy(),
                1e-12)
        L.check("PyTorch's ∂J/∂I agrees", image_t.grad, ti.grad.numpy(), 1e-12)
    L.say("The filter's gradient is itself a correlation: the input correlated with the map of "
          "∂J/∂S. The input's gradient is ∂J/∂S padded with zeros and *convolved* (flipped) "
          "with the filter. Both are sums over the positions a shared weight was used: "
          "convolution is parameter sharing, and its gradient is the sum over the copies.")
    with L.figure("conv_gradient", "The gradient of a 2×2 convolution on a 3×4 input", ncols=4,
                  size=(17, 4.2)) as (fig, axes):
        figures.heatmap(axes[0, 0], letters, "input I (a b c d / e f g h / i j k l)",
                        annotate=True, colorbar=None, cmap="Greys")
        figures.heatmap(axes[0, 1], G, "∂J/∂S (2×3)", annotate=True, centered=True,
                        colorbar=None)
        figures.heatmap(axes[0, 2], dK_loops, "∂J/∂K = Σ ∂J/∂S · shifted I", annotate=True,
                        centered=True, colorbar=None, fmt="{:.1f}")
        figures.heatmap(axes[0, 3], dI_loops, "∂J/∂I = ∂J/∂S convolved with K",
                        annotate=True, centered=True, colorbar="gradient", fmt="{:.1f}")


if __name__ == "__main__":
    run(main, 4, "Convolution by hand", knobs=[
        Knob("--lr", 0.5, "learning rate of the filter-learning step (0: the filter stays random)"),
        Knob("--image-size", 4, "N of the N×N image in the map-size question"),
        Knob("--padding", 0, "rings of zero padding in the map-size question"),
    ])
