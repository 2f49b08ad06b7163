"""Lesson 23: Graduating to PyTorch. Weights trained here load into the same PyTorch model."""
from __future__ import annotations

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import datasets

import figures
from console import Knob, Lesson, run


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    L.say("Everything here uses PyTorch's names: nn.Conv2d(in, out, kernel_size, padding=...),\n"
          "nn.Linear, state_dict() keys like '0.weight'. So a model you trained here is a\n"
          "PyTorch model's weights, and the code that built it runs under `import torch` too.")

    L.step("Train a small CNN here on the 8×8 digits",
           deck=(4, "Programming Frameworks for Deep Nets"))
    units = args.hidden
    imgs, labels = datasets.load_digits()
    x_all = tg.tensor((imgs / 16.0).astype("float32").reshape(-1, 1, 8, 8))
    y_all = tg.tensor(labels)
    with L.code():
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(8 * 4 * 4, units), nn.Tanh(),
                              nn.Linear(units, 10))
        opt = optim.Adam(model.parameters(), lr=0.01)
        steps = args.steps or (40 if args.fast else 400)
        with L.progress("training here", total=steps) as bar:
            for step in range(steps):
                i = (step * 64) % (x_all.shape[0] - 64)
                opt.zero_grad()
                loss = F.cross_entropy(model(x_all[i:i + 64]), y_all[i:i + 64])
                loss.backward()
                opt.step()
                bar.update(loss=loss.item())
        with tg.no_grad():
            ours = model(x_all[:200])
    losses = bar.losses
    acc = (ours.argmax(1) == y_all[:200]).float().mean().item()
    L.say(f"after {steps} steps: loss {loss.item():.3f}, accuracy on 200 digits {acc:.2%}")
    L.table(["state_dict key", "shape"],
            [[k, tuple(v.shape)] for k, v in model.state_dict().items()])
    L.uses(nn.Module.state_dict)
    q = L.question("In PyTorch, nn.Sequential names its layers by position. What is the key of "
                   "the first convolution's weights in state_dict()?",
                   ["conv1.weight", "0.weight", "layers.0.weight"])
    first_key = next(iter(model.state_dict()))
    L.answer(q, observed=["conv1.weight", "0.weight", "layers.0.weight"].index(first_key) + 1
             if first_key in ("conv1.weight", "0.weight", "layers.0.weight") else 1,
             expected=2, why="Sequential's children are named '0', '1', ... and a Conv2d's "
                             "parameters 'weight' and 'bias', as in PyTorch, so the keys line up "
                             "with a PyTorch model built the same way.")

    L.step("Load the weights into the same model written in PyTorch",
           deck=(4, "Programming Frameworks for Deep Nets"))
    try:
        import torch
    except ImportError:
        L.say("PyTorch is not installed here, so this step is skipped: pip install torch, then\n"
              "run this lesson again. (Nothing else in the course needs PyTorch.)")
        L.check_true("the model learned something before graduating", acc > 0.3, f"{acc:.2%}")
        draw(L, losses, ours.numpy(), None)
        return
    with L.code():
        tnn = torch.nn
        tmodel = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Flatten(), tnn.Linear(8 * 4 * 4, units), tnn.Tanh(),
                                tnn.Linear(units, 10))
        state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
        result = tmodel.load_state_dict(state, strict=True)
    L.check_true("load_state_dict(strict=True) found every key (no missing, no unexpected)",
                 not result.missing_keys and not result.unexpected_keys)
    with L.code():
        with torch.no_grad():
            theirs = tmodel(torch.from_numpy(x_all[:200].numpy())).numpy()
    diff = float(abs(theirs - ours.numpy()).max())
    L.check("largest difference between our logits and PyTorch's", diff, 0.0, tol=1e-5)
    L.check("PyTorch predicts the same classes", (theirs.argmax(1) == ours.argmax(1).numpy())
            .mean(), 1.0, tol=0.0)

    L.step("And back: PyTorch weights load here", deck=(4, "Programming Frameworks for Deep Nets"))
    with L.code():
        back = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(8 * 4 * 4, units), nn.Tanh(),
                             nn.Linear(units, 10))
        back.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
        with tg.no_grad():
            again = back(x_all[:200])
    L.check("the round trip reproduces our logits", float(abs(again.numpy() - ours.numpy()).max()),
            0.0, tol=1e-6)
    draw(L, losses, ours.numpy(), theirs)


def draw(L: Lesson, losses: list, ours, theirs) -> None:
    with L.figure("graduation", "A model trained here, evaluated by PyTorch", ncols=2,
                  size=(12, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], {"cross-entropy": losses}, "training here (8×8 digits)",
                      "Adam step", "loss")
        ax = axes[0, 1]
        if theirs is None:
            ax.text(0.5, 0.5, "PyTorch is not installed:\nno comparison", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return
        ax.scatter(ours.ravel(), theirs.ravel(), s=6, alpha=0.5)
        lo, hi = float(ours.min()), float(ours.max())
        ax.plot([lo, hi], [lo, hi], color="gray", ls=":", label="the same value")
        ax.set_title("the 2,000 logits of 200 digits")
        ax.set_xlabel("tinygrad_edu logit")
        ax.set_ylabel("PyTorch logit (same weights)")
        ax.legend()
        ax.grid(True, alpha=0.3)


if __name__ == "__main__":
    run(main, 23, "Graduating to PyTorch", knobs=[
        Knob("--steps", 0, "training steps here (0: 40 with --fast, 400 otherwise)"),
        Knob("--hidden", 32, "units of the hidden dense layer (both models are built with it)"),
    ])
