"""The course's figures: matplotlib drawings with titles, axes and colour bars.

A lesson asks its console for a figure (``with L.figure("name", "title") as (fig, axes)``),
draws on the axes with the helpers below, and the console saves it as PNG and SVG under
``out/lessonNN/``. Only the course uses matplotlib; the library does not import it.

Figures are built from ``matplotlib.figure.Figure`` directly (no ``pyplot``), so nothing
global changes and no window ever opens: this works on a server without a display.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

import tinygrad_edu as tg

DPI = 110                    # 10 × 6 inches -> 1100 × 660 pixels: readable, not huge


def to_numpy(x: Any) -> np.ndarray:
    """A Tensor, array or nested list as a float64 NumPy array."""
    if isinstance(x, tg.Tensor):
        x = x.detach().numpy()
    return np.asarray(x, dtype=np.float64)


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] | None = None,
               title: str | None = None) -> tuple[Figure, np.ndarray]:
    """A figure with an (nrows, ncols) grid of axes, returned as a 2-D array of axes."""
    if size is None:
        size = (min(4.2 * ncols + 1.0, 16.0), 3.8 * nrows + (0.6 if title else 0.2))
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if title:
        fig.suptitle(title, fontsize=14, fontweight="bold")
    return fig, axes


def save(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.svg`` into ``folder``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    fig.savefig(paths[0], dpi=DPI, facecolor="white")
    fig.set_layout_engine("none")        # laid out once already: the SVG keeps that layout
    fig.savefig(paths[1], facecolor="white")
    return paths


def cell_ticks(axis: Any, n: int, labels: Sequence[str] | None) -> None:
    """Ticks for n cells: the given labels, every cell when there are few, else about 10."""
    if labels is not None:
        axis.set_ticks(range(n), list(labels))
    elif n <= 16:
        axis.set_ticks(range(n))
    else:
        axis.set_major_locator(MaxNLocator(nbins=10, integer=True))


def heatmap(ax: Any, values: Any, title: str, *, cmap: str = "viridis",
            vmin: float | None = None, vmax: float | None = None, annotate: bool = False,
            fmt: str = "{:g}", colorbar: str | None = "value", xlabel: str | None = "column",
            ylabel: str | None = "row", xticks: Sequence[str] | None = None,
            yticks: Sequence[str] | None = None, centered: bool = False,
            fontsize: float = 10) -> Any:
    """Draw a 2-D array as coloured cells, with a colour bar that says what a colour means.

    ``centered`` makes the colour scale symmetric around 0 (blue below, red above), for
    weights and gradients whose sign matters. ``annotate`` writes each value in its cell.
    """
    a = to_numpy(values)
    if a.ndim != 2:
        raise ValueError(f"heatmap: expected a 2-D array, got shape {a.shape}")
    if centered:
        bound = float(np.max(np.abs(a))) or 1.0
        vmin, vmax, cmap = -bound, bound, "RdBu_r"
    im = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    h, w = a.shape
    cell_ticks(ax.xaxis, w, xticks)
    cell_ticks(ax.yaxis, h, yticks)
    if annotate:
        for i in range(h):
            for j in range(w):
                r, g, b, _ = im.cmap(im.norm(a[i, j]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5       # the cell's brightness
                ax.text(j, i, fmt.format(a[i, j] + 0.0), ha="center", va="center",   # no "-0"
                        fontsize=fontsize, color="white" if dark else "black")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85, label=colorbar)
    return im


def image_grid(fig_axes: np.ndarray, images: Sequence[Any], titles: Sequence[str], *,
               cmap: str = "gray", vmin: float | None = None, vmax: float | None = None,
               colorbar: str | None = "value", centered: bool = False) -> None:
    """Several images (no tick labels), one per axes, left to right, top to bottom.

    With ``vmin``/``vmax`` (or ``centered``) they share one colour scale and the last axes of
    each row gets the colour bar; otherwise each image has its own range and its own bar.
    """
    flat = list(fig_axes.ravel())
    shared = vmin is not None or vmax is not None or centered
    if centered:
        bound = max(float(np.max(np.abs(to_numpy(im)))) for im in images) or 1.0
        vmin, vmax, cmap = -bound, bound, "RdBu_r"
    for k, ax in enumerate(flat):
        if k >= len(images):
            ax.axis("off")
            continue
        im = ax.imshow(to_numpy(images[k]), cmap=cmap, vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_title(titles[k])
        ax.set_xticks([])
        ax.set_yticks([])
        last_in_row = (k + 1) % fig_axes.shape[1] == 0 or k == len(images) - 1
        if colorbar and (not shared or last_in_row):
            ax.figure.colorbar(im, ax=ax, shrink=0.8, label=colorbar if last_in_row else None)


def plain_log_axis(ax: Any) -> None:
    """A log-scale y axis labelled 0.2, 0.5, 1, 2 ... (not 2×10⁻¹); over more than two
    decades only the powers of ten are labelled."""
    ax.set_yscale("log")

    def decades() -> float:
        lo, hi = ax.get_ylim()
        return math.log10(hi / lo) if lo > 0 and hi > lo else 0.0

    def minor(v: float, _: Any) -> str:
        lead = round(v / 10 ** math.floor(math.log10(v) + 1e-9))
        return f"{v:g}" if decades() <= 2.0 and lead in (2, 5) else ""

    ax.yaxis.set_major_locator(LogLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def lines(ax: Any, series: dict[str, Any], title: str, xlabel: str, ylabel: str, *,
          x: Any = None, logy: bool = False, markers: bool = False,
          colors: dict[str, str] | None = None, smooth: int | None = None) -> None:
    """One line per entry of ``series`` (label -> values), with a legend.

    ``smooth=k`` draws a noisy series (a loss per batch) faintly and, over it, its running
    mean over k values, when the series is long enough for that to help (> 4k values)."""
    for n, (label, ys) in enumerate(series.items()):
        ys = to_numpy(ys)
        xs = np.arange(len(ys)) if x is None else to_numpy(x)
        color = (colors or {}).get(label, f"C{n}")
        if smooth and len(ys) > 4 * smooth:
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
            mean = np.convolve(ys, np.ones(smooth) / smooth, mode="valid")
            ax.plot(xs[smooth - 1:], mean, color=color, linewidth=2,
                    label=f"{label} (mean of {smooth})")
            continue
        ax.plot(xs, ys, marker="o" if markers else None, markersize=4, label=label,
                color=color)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        plain_log_axis(ax)
    ax.grid(True, alpha=0.3)
    if len(series) > 1 or next(iter(series), ""):
        ax.legend()


def bars(ax: Any, labels: Sequence[str], values: Sequence[float], title: str, ylabel: str, *,
         fmt: str = "{:.1%}", colors: Sequence[str] | None = None, ylim: tuple | None = None,
         logy: bool = False) -> None:
    """A bar per label, its value written on top."""
    vals = [float(v) for v in values]
    drawn = ax.bar(range(len(vals)), vals, color=colors or "#4c72b0")
    ax.set_xticks(range(len(vals)), list(labels))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if logy:
        plain_log_axis(ax)
    if ylim:
        ax.set_ylim(*ylim)
    else:
        ax.margins(y=0.12)                   # room for the numbers on top of the bars
    for bar, v in zip(drawn, vals):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=10, xytext=(0, 2),
                    textcoords="offset points")
    ax.grid(True, axis="y", alpha=0.3)


# ---------------------------------------------------------------- graphs (Graphviz)
def write_graph(L: Any, drawing: tg.viz.Drawing, name: str, what: str) -> None:
    """Write a graph drawing into the lesson's folder: PNG (for any image viewer), SVG
    (zoomable, for a browser) and the DOT source beside them (name.gv)."""
    try:
        paths = [Path(drawing.render(L.out_dir / f"{name}.{ext}")) for ext in ("png", "svg")]
    except tg.viz.GraphvizNotFoundError as e:      # no `dot`: the DOT source is still written
        L.say(f"[yellow]{e}[/yellow]")
        return
    L.add_pictures(paths, what)


def write_explorer(L: Any, loss: tg.Tensor, params: dict, name: str, what: str,
                   **options) -> Path | None:
    """Write the graph explorer, tg.viz.explore(loss, params=params).save(...): one HTML
    file that opens in any browser, no network needed. None (and one line saying why) when
    Graphviz's `dot`, which lays the graph out, is missing: the lesson goes on without it."""
    try:
        page = tg.viz.explore(loss, params=params, **options)
    except tg.viz.GraphvizNotFoundError:
        L.say(f"[yellow]The explorer was skipped ({name}.html not written): it lays the graph "
              "out with Graphviz's `dot`, which is not on PATH; install Graphviz "
              "(https://graphviz.org/download/) and run the lesson again.[/yellow]")
        return None
    path = page.save(L.out_dir / f"{name}.html")
    L.add_pictures([path], what)
    return path
