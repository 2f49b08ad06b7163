"""Pictures of 2-D arrays without any plotting library: shade characters and a PNG encoder.

The course console draws small arrays (patches, filters, feature maps) in the terminal
with ``shade_lines``; ``save_png`` writes an array as a grayscale PNG with nothing but
zlib and struct, so a learner can see how little a PNG file is. The course's labelled
figures (titles, axes, colour bars) are drawn with matplotlib in ``figures.py``.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import tinygrad_edu as tg

_SHADES = " ░▒▓█"


def as_rows(x: Any) -> list[list[float]]:
    """A 2-D Tensor, array or nested list -> a list of rows of floats."""
    if isinstance(x, tg.Tensor):
        x = x.detach().numpy()
    if hasattr(x, "tolist"):
        x = x.tolist()
    try:
        rows = [[float(v) for v in r] for r in x]
    except TypeError:
        raise ValueError("expected a 2-D array (rows of numbers), got a 1-D or 0-D value; "
                         "reshape it, e.g. t.reshape(1, -1)") from None
    if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"expected a non-empty 2-D array with equal-length rows, got "
                         f"{len(rows)} rows")
    return rows


def scaled(rows: list[list[float]], vmin: float | None, vmax: float | None) -> list[list[float]]:
    """Map values linearly so that vmin -> 0 and vmax -> 1 (clipped); default: data range."""
    flat = [v for r in rows for v in r]
    lo = min(flat) if vmin is None else vmin
    hi = max(flat) if vmax is None else vmax
    span = hi - lo if hi > lo else 1.0
    return [[min(1.0, max(0.0, (v - lo) / span)) for v in r] for r in rows]


def shade_lines(array_2d: Any, vmin: float | None = None, vmax: float | None = None) -> list[str]:
    """Draw a 2-D array with shade characters, two per pixel (so pixels look square).

    The smallest value (or ``vmin``) is blank, the largest (or ``vmax``) is a full
    block "██"; three shades lie between. Plain text: it survives logs and pipes.
    """
    lines = []
    for r in scaled(as_rows(array_2d), vmin, vmax):
        lines.append("".join(_SHADES[min(4, int(round(v * 4)))] * 2 for v in r))
    return lines


def framed(array_2d: Any, vmin: float | None = None, vmax: float | None = None) -> list[str]:
    """``shade_lines`` inside a box of line characters, so blank pixels stay visible."""
    inner = shade_lines(array_2d, vmin, vmax)
    bar = "─" * len(inner[0])
    return ["┌" + bar + "┐"] + ["│" + r + "│" for r in inner] + ["└" + bar + "┘"]


def side_by_side(blocks: list[list[str]], names: list[str], width: int,
                 gap: str = "  ") -> list[str]:
    """Lay text blocks out left to right, each under its name, wrapping at ``width``."""
    widths = [max(len(b[0]), len(n)) for b, n in zip(blocks, names)]
    groups: list[list[int]] = [[]]
    for k, w in enumerate(widths):      # greedy rows of blocks that fit the width
        used = sum(widths[j] + len(gap) for j in groups[-1])
        if groups[-1] and used + w > width:
            groups.append([])
        groups[-1].append(k)
    lines = []
    for group in groups:
        if any(names[k] for k in group):
            lines.append(gap.join(names[k].ljust(widths[k]) for k in group).rstrip())
        for i in range(max(len(blocks[k]) for k in group)):
            lines.append(gap.join((blocks[k][i] if i < len(blocks[k]) else "").ljust(widths[k])
                                  for k in group).rstrip())
    return lines


def save_png(path: str | Path, array_2d: Any, vmin: float | None = None,
             vmax: float | None = None, scale: int = 1) -> Path:
    """Write a 2-D array as an 8-bit grayscale PNG (vmin -> black, vmax -> white).

    ``scale`` repeats every pixel scale×scale times, so a 5×5 filter becomes visible.
    Written with zlib and struct only: a PNG is a signature, an IHDR chunk (width,
    height, bit depth 8, colour type 0 = gray), IDAT (zlib of the rows, each row
    prefixed by filter byte 0) and IEND; each chunk is length, type, data, CRC-32.
    """
    if scale < 1:
        raise ValueError(f"save_png: scale must be >= 1, got {scale}")
    rows = scaled(as_rows(array_2d), vmin, vmax)
    raw = bytearray()
    for r in rows:
        line = bytes(int(round(v * 255)) for v in r for _ in range(scale))
        for _ in range(scale):
            raw += b"\x00" + line
    h, w = len(rows) * scale, len(rows[0]) * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path
