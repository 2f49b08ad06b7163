"""The lesson helpers that draw arrays: shade characters in the terminal and PNG files."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from rich.console import Console

import tinygrad_edu as tg
from console import Lesson
from images import save_png, shade_lines


def read_png(path: Path) -> tuple[int, int, list[list[int]]]:
    """A minimal PNG reader for 8-bit grayscale files without filtering (what save_png
    writes): checks every chunk's CRC and returns (width, height, rows of pixel values)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour = header[:4]
    assert (depth, colour) == (8, 0)
    raw = zlib.decompress(idat)
    rows = []
    for r in range(h):
        line = raw[r * (w + 1):(r + 1) * (w + 1)]
        assert line[0] == 0                      # filter type "none"
        rows.append(list(line[1:]))
    return w, h, rows


def test_save_png_pixels_and_scale(tmp_path: Path) -> None:
    path = save_png(tmp_path / "a.png", [[0.0, 1.0], [0.5, 2.0]], vmin=0, vmax=1, scale=2)
    w, h, rows = read_png(path)
    assert (w, h) == (4, 4)
    # 0 -> 0, 1 -> 255, 0.5 -> round(127.5) = 128, 2 is clipped to 255; each pixel 2×2
    assert rows == [[0, 0, 255, 255], [0, 0, 255, 255],
                    [128, 128, 255, 255], [128, 128, 255, 255]]


def test_save_png_default_range_and_tensor_input(tmp_path: Path) -> None:
    path = save_png(tmp_path / "sub" / "t.png", tg.tensor([[-2.0, 0.0, 2.0]]))
    w, h, rows = read_png(path)
    assert (w, h) == (3, 1)
    assert rows == [[0, 128, 255]]


def test_save_png_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale must be >= 1"):
        save_png(tmp_path / "x.png", [[1.0]], scale=0)
    with pytest.raises(ValueError, match="2-D array"):
        save_png(tmp_path / "x.png", [[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="got a 1-D"):
        shade_lines(tg.tensor([1.0, 2.0]))


def test_shade_lines_maps_range_to_five_shades() -> None:
    assert shade_lines([[0.0, 1.0, 2.0, 3.0, 4.0]]) == ["  ░░▒▒▓▓██"]
    assert shade_lines([[-1.0, 1.0]], vmin=-1, vmax=1) == ["  ██"]
    assert shade_lines([[5.0, 5.0]]) == ["    "]        # a constant array is all blank


def test_images_wrap_to_console_width() -> None:
    console = Console(width=30, record=True, highlight=False)
    L = Lesson(0, "t", console=console)
    L.images([[[0.0, 1.0]] * 2] * 3, ["a", "b", "c"])    # each framed image is 6 wide
    text = console.export_text()
    assert "│  ██│  │  ██│  │  ██│" in text                # three fit in 30 columns
    console = Console(width=14, record=True, highlight=False)
    L = Lesson(0, "t", console=console)
    L.images([[[0.0, 1.0]] * 2] * 3, ["a", "b", "c"])
    lines = console.export_text().splitlines()
    assert "│  ██│  │  ██│" in lines and "│  ██│" in lines   # wrapped: two, then one
