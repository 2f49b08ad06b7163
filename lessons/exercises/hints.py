"""Hints, two or three per exercise, each more detailed than the one before.

``bash tools/course.sh --hint NAME`` shows the next one (and reminds you of those you
have seen). They are kept here, not in the exercise files, so that you see one only
when you ask for it.
"""
from __future__ import annotations

HINTS: dict[str, tuple[str, ...]] = {
    "delta_rule": (
        "Compute the forward pass first, as tensors: net = x @ w - T, then o = net.sigmoid(). "
        "Every other quantity is built from o, t and x.",
        "∂E/∂o = o − t and ∂E/∂net = ∂E/∂o · o · (1 − o) are elementwise, shape (B,). "
        "For ∂E/∂w, each example b contributes x_b · ∂E/∂net_b: that sum over the batch is "
        "one matrix-vector product, x.T @ dE_dnet.",
        "dE_dT is minus the sum over the batch of ∂E/∂net: -dE_dnet.sum(). Forgetting the sum "
        "gives a (B,) vector where a 0-d tensor is expected.",
    ),
    "mul_backward": (
        "x, y = self.inputs gives the tensors the op read. Without broadcasting the answer is "
        "(grad * y, grad * x).",
        "With broadcasting, grad * y has the shape of z, not of x: x was used at several places, "
        "and its gradient is the sum over them. sum_to(grad * y, x.shape) sums the extra dims "
        "away.",
    ),
    "matmul_backward": (
        "a, b = self.inputs. Check the shapes: grad is (..., n, m), and ∂L/∂A must be "
        "(..., n, k) like A, so grad has to meet B over m: grad @ (B with its last two dims "
        "swapped).",
        "t.mT swaps the last two dims (t.T would reverse all of them, wrong for a batch). "
        "∂L/∂A = grad @ b.mT and ∂L/∂B = a.mT @ grad.",
        "With a batch of matrices A (b, n, k) and one B (k, m), a.mT @ grad has shape (b, k, m): "
        "one contribution per matrix of the batch. B's gradient is their sum: "
        "sum_to(a.mT @ grad, b.shape) (and the same for A when B was the batch).",
    ),
    "conv2d": (
        "Pad first (if padding > 0), then win = tg.sliding_window(x, (2, 3), (KH, KW), "
        "(stride, stride), (1, 1)) gives every window: shape (N, C, OH, OW, KH, KW).",
        "A window must line up with a filter, w[o] of shape (C, KH, KW). Move the window dims "
        "behind the position dims, win.permute(0, 2, 3, 1, 4, 5) -> (N, OH, OW, C, KH, KW), and "
        "reshape to (N, OH·OW, C·KH·KW): one row per output pixel.",
        "rows @ w.reshape(O, C·KH·KW).T is (N, OH·OW, O); add b (it broadcasts over the last "
        "dim), then permute(0, 2, 1) and reshape to (N, O, OH, OW).",
    ),
    "conv2d_backward": (
        "windows: pad x with np.pad, then np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), "
        "axis=(2, 3)) gives every stride-1 window; [:, :, ::s, ::s] keeps every s-th.",
        "dw and dwindows are sums of products over named indices: np.einsum('noij,ncijuv->ocuv', "
        "g, windows) and np.einsum('noij,ocuv->ncijuv', g, w).",
        "dx: start from zeros shaped like the padded input. For each tap (u, v), the windows "
        "read x_pad[:, :, u + s·i, v + s·j]; add dwindows[..., u, v] there: "
        "dxp[:, :, u:u + s·OH:s, v:v + s·OW:s] += dwindows[:, :, :, :, u, v]. Use +=: "
        "overlapping windows share pixels. Then cut the padding off.",
    ),
    "max_pool2d": (
        "The windows as in a convolution: sliding_window_view(x, (k, k), axis=(2, 3)), every "
        "s-th start, and only the first OH and OW of them. y is their max over the last two axes.",
        "The gradient of a window goes to its first maximum: flatten each window's k·k taps "
        "(reshape to (N, C, OH, OW, k·k)); argmax picks the first of tied maxima; "
        "first = np.arange(k·k) == argmax[..., None]; dwindows = (g[..., None] * first), "
        "reshaped back to (N, C, OH, OW, k, k).",
        "dx: add every tap's slab of dwindows back where it was read, exactly as for a "
        "convolution's input gradient (with +=: overlapping windows add up).",
    ),
    "cross_entropy": (
        "log softmax first: shifted = logits - (the max of each row, keepdim=True), then "
        "logp = shifted - log(Σ exp(shifted)) over dim 1, keepdim=True.",
        "logits.amax(1, keepdim=True) is the row maximum; .detach() it if you like (the "
        "shift cancels out of the gradient). Pick each row's target entry with "
        "logp[tg.arange(N), target].",
        "The loss is minus the mean of the picked entries: -picked.sum() / N (or "
        "-picked.mean()).",
    ),
    "sgd_momentum": (
        "Three lines: the decayed gradient g = grad + weight_decay * w, the buffer, the new w.",
        "buf = g if buf is None else momentum * buf + g; then w - lr * buf. Return new arrays "
        "(no += on w or buf: they are the checker's copies, but changing inputs in place is a "
        "bad habit).",
    ),
    "rnn_step": (
        "With one example per row, W x_t for every row is x @ W.T: (B, I) @ (I, H) = (B, H).",
        "np.tanh(x @ W.T + h @ U.T + b): b (H,) broadcasts over the rows.",
    ),
    "bptt": (
        "Forward: keep every state, hs = [zeros(H)] then hs.append(np.tanh(W @ xs[t] + "
        "U @ hs[-1] + b)), so that hs[t + 1] = h_t and hs[t] = h_(t−1).",
        "Backward: delta = V.T @ (y - target), then for t from T−1 down to 0: da = delta * "
        "(1 - hs[t + 1]**2); the shares are np.outer(da, xs[t]), np.outer(da, hs[t]) and da; "
        "then delta = U.T @ da for the step before.",
        "∂E/∂W is the sum of W's shares over all steps: dW += share at every step (not dW = "
        "share, which keeps only the last one). dV = np.outer(y - target, h_(T−1)).",
    ),
    "sum_expand": (
        "Compare shapes: grad has the output's shape, self.in_shape the input's. The first "
        "lead = grad.ndim - len(self.in_shape) dims of grad are new: sum over all of them.",
        "A dim i of the input with size 1 where grad (at dim lead + i) is larger was stretched: "
        "sum over it too, keeping it (keepdim=True).",
        "total = Sum.apply(grad, dims=tuple(range(lead)) + stretched, keepdim=True), then "
        "total.reshape(self.in_shape) drops the leading 1s.",
    ),
    "tanh_backward": (
        "(x,) = self.inputs; z = x.tanh() recomputes the output as a tensor.",
        "return grad * (1 - z * z). Keeping np.tanh(x) from forward instead gives the right "
        "first derivative but loses the second: that value would be a constant.",
    ),
    "clip_grad_norm": (
        "The total norm is one number over all gradients together: "
        "np.sqrt(sum(np.sum(g ** 2) for g in grads)).",
        "One scale for all: min(1.0, max_norm / (total + 1e-6)). Clipping each gradient by its "
        "own norm changes the direction of the whole step.",
    ),
    "lstm_cell": (
        "One matrix product gives all four gates' pre-activations: a = x @ w_ih.T + b_ih + "
        "h @ w_hh.T + b_hh, shape (B, 4H). Block k is a[:, k*H:(k+1)*H].",
        "i, f and o go through σ (.sigmoid()), g through tanh. The order of the blocks is i, f, "
        "g, o.",
        "c' = f * c + i * g: the forget gate scales the *old cell*, the input gate the new "
        "candidate. Then h' = o * c'.tanh().",
    ),
    "gru_cell": (
        "xw = x @ w_ih.T + b_ih and hw = h @ w_hh.T + b_hh, each (B, 3H), blocks r, z, n.",
        "r and z: σ of the sums of their blocks. The candidate n = tanh(xw_n + r * hw_n): r "
        "multiplies h's block, bias included.",
        "h' = (1 − z) * n + z * h: z is the share of the *old* state kept (some texts swap z "
        "and 1 − z; PyTorch, and the library, keep the old state with z).",
    ),
    "greedy_decode": (
        "Everything under `with tg.no_grad():`. state = model.encode(src); token = "
        "tg.full((1, B), model.sos_idx, dtype=tg.int64) with B = src.shape[1].",
        "Each step: logits, state = model.decode(token, state), then token = "
        "logits.argmax(-1) (shape (1, B)); collect the tokens and tg.cat(them, 0) at the end.",
        "Keep a (1, B) boolean `done`: token = tg.where(done, model.eos_idx, token), then "
        "done = done | (token == model.eos_idx). Once a sequence has written <eos> it keeps "
        "writing <eos>.",
    ),
}
