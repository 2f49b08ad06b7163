"""A colour scale for gradient norms: blue = vanishing, grey = middle, red = exploding.

Gradient norms in an unrolled RNN span many orders of magnitude (‖∂L/∂h_1‖
can be 10⁻⁸ of ‖∂L/∂h_T‖), so the scale is logarithmic by default:

    position(v) = (log10 v − log10 vmin) / (log10 vmax − log10 vmin)     in [0, 1]

and the colour is interpolated between the stops of a diverging palette
(Moreland's "cool to warm"). Zero maps to the coldest colour; ``nan`` and
``inf`` get a colour of their own (magenta), since they are the end of an
explosion.

>>> scale = ColorScale.from_values([1e-6, 1e-3, 1.0])
>>> scale(1e-6), scale(1.0)
('#3b4cc0', '#b40426')
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

#: blue -> light grey -> red, nine evenly spaced stops
COOLWARM = ("#3b4cc0", "#6282ea", "#8db0fe", "#b8d0f9", "#dddcdc", "#f5c4ac", "#f39c7e",
            "#dc5d4a", "#b40426")
NONFINITE = "#ff00ff"


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def text_color(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill`` (by relative luminance)."""
    r, g, b = _rgb(fill)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 140 else "#ffffff"


class ColorScale:
    """Map numbers in ``[vmin, vmax]`` to colours (log scale unless ``log=False``)."""

    def __init__(self, vmin: float, vmax: float, log: bool = True,
                 palette: Sequence[str] = COOLWARM) -> None:
        if len(palette) < 2:
            raise ValueError(f"ColorScale: palette needs at least 2 colours, got {len(palette)}")
        if not (math.isfinite(vmin) and math.isfinite(vmax)) or vmin > vmax:
            raise ValueError(f"ColorScale: need finite vmin <= vmax, got vmin={vmin}, "
                             f"vmax={vmax}")
        if log and vmin <= 0:
            raise ValueError(f"ColorScale: a log scale needs vmin > 0, got {vmin}")
        self.vmin, self.vmax, self.log = float(vmin), float(vmax), log
        self.palette = tuple(palette)

    @classmethod
    def from_values(cls, values: Iterable[float | None], log: bool = True,
                    palette: Sequence[str] = COOLWARM) -> "ColorScale":
        """A scale spanning the finite (and, for log, positive) values given."""
        ok = [float(v) for v in values if v is not None and math.isfinite(v)
              and (v > 0 or not log)]
        if not ok:
            return cls(1.0, 1.0, log, palette)
        return cls(min(ok), max(ok), log, palette)

    def position(self, v: float) -> float:
        """Where ``v`` sits on the scale, clipped to [0, 1]."""
        if self.log:
            if v <= 0:
                return 0.0
            lo, hi, x = math.log10(self.vmin), math.log10(self.vmax), math.log10(v)
        else:
            lo, hi, x = self.vmin, self.vmax, v
        if hi == lo:
            return 0.5
        return min(1.0, max(0.0, (x - lo) / (hi - lo)))

    def __call__(self, v: float) -> str:
        """The colour of ``v`` as ``'#rrggbb'``."""
        if v is None or not math.isfinite(v):
            return NONFINITE
        p = self.position(v) * (len(self.palette) - 1)
        i = min(int(p), len(self.palette) - 2)
        f = p - i
        a, b = _rgb(self.palette[i]), _rgb(self.palette[i + 1])
        return _hex([a[k] + (b[k] - a[k]) * f for k in range(3)])

    def ticks(self, n: int = 5) -> list[float]:
        """``n`` values evenly spaced on the scale, vmin first."""
        if n < 2 or self.vmin == self.vmax:
            return [self.vmin]
        if self.log:
            lo, hi = math.log10(self.vmin), math.log10(self.vmax)
            return [10 ** (lo + (hi - lo) * i / (n - 1)) for i in range(n)]
        return [self.vmin + (self.vmax - self.vmin) * i / (n - 1) for i in range(n)]

    def legend_html(self, title: str, n: int = 5) -> str:
        """A Graphviz HTML-label colour bar: ``title`` above ``n`` coloured, labelled cells."""
        cells = "".join(
            f'<TD BGCOLOR="{self(v)}"><FONT COLOR="{text_color(self(v))}" POINT-SIZE="10">'
            f"{v:.1e}</FONT></TD>" for v in self.ticks(n))
        scale = "log scale" if self.log else "linear scale"
        return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
                f'<TR><TD COLSPAN="{len(self.ticks(n))}"><B>{title}</B> ({scale})</TD></TR>'
                f"<TR>{cells}</TR></TABLE>>")

    def __repr__(self) -> str:
        return f"ColorScale(vmin={self.vmin:.3g}, vmax={self.vmax:.3g}, log={self.log})"
