"""Test images: distinct, duplicate-safe pictures and every kind of bad or unusual file."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw


def scene(seed: int, size: int = 64) -> Image.Image:
    """A gradient with a coloured disc: different seeds give different pictures (also to a
    perceptual hash), and a resized, recompressed copy stays a near duplicate."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    a, b = rng.uniform(-1, 1, 2)
    base = np.clip(0.5 + 0.5 * (a * x + b * y), 0, 1) * 255
    image = Image.fromarray(np.stack([base, base[::-1], base.T], -1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    cx, cy = rng.uniform(0.25, 0.75, 2) * size
    r = size * rng.uniform(0.15, 0.3)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    data = bytearray(encode(Image.new("L", (8, 8))))
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), then width and height
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    data[ihdr + 8 + 13 : ihdr + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


def exif_rotated_jpeg(image: Image.Image, orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


def animated_gif(frames: list[Image.Image]) -> bytes:
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png(size: int = 64) -> bytes:
    ramp = (np.linspace(0, 65535, size * size).reshape(size, size)).astype(np.uint16)
    return encode(Image.fromarray(ramp))
