"""Drawing primitives of the synthetic worlds: noise, shapes, masks, patterns, backgrounds."""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from worlds.palette import any_colour, hsv_to_rgb

# --------------------------------------------------------------------------- geometry helpers


@functools.lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy + 0.5, xx + 0.5


def smooth_noise(rng: np.random.Generator, size: int, cells: float) -> np.ndarray:
    """Smooth random field in [0, 1], about ``cells`` blobs across the image."""
    n = max(2, int(round(cells)) + 2)
    low = (rng.random((n, n)) * 255).astype(np.uint8)
    field = np.asarray(Image.fromarray(low, "L").resize((size, size), Image.BICUBIC), float) / 255.0
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.full((size, size), 0.5)


def fractal_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multi-octave smooth noise in [0, 1]: cloud-like, natural-looking."""
    total = np.zeros((size, size))
    weight = 1.0
    cells = rng.uniform(1.5, 3.0)
    for _ in range(4):
        total += weight * smooth_noise(rng, size, cells)
        weight *= 0.5
        cells *= 2.0
    total -= total.min()
    return total / max(total.max(), 1e-9)


def mask_from_polygons(size: int, polygons: Sequence[np.ndarray]) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for pts in polygons:
        draw.polygon([tuple(p) for p in pts], fill=255)
    return np.asarray(canvas) > 0


def unit_outline(rng: np.random.Generator, shape: str) -> list[np.ndarray]:
    """Polygons (in unit scale, centred near 0) outlining a shape of the given kind."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    rot = rng.uniform(0, 2 * np.pi)

    def rotate(pts: np.ndarray, angle: float) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        return pts @ np.array([[c, s], [-s, c]])

    if shape == "ellipse":
        b = rng.uniform(0.55, 1.0)
        return [rotate(np.stack([np.cos(t), b * np.sin(t)], 1), rot)]
    if shape == "polygon":
        n = int(rng.integers(3, 9))
        angles = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n + rot
        radii = rng.uniform(0.7, 1.0, n)
        return [np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)]
    if shape == "blob":
        r = np.ones_like(t)
        for k in range(2, 6):
            r += rng.uniform(0, 0.45 / k) * np.sin(k * t + rng.uniform(0, 2 * np.pi))
        r = np.maximum(r, 0.35)
        return [rotate(np.stack([r * np.cos(t), r * np.sin(t)], 1), rot)]
    if shape == "twin":  # a body with a head: two overlapping ellipses
        b = rng.uniform(0.65, 1.0)
        body = np.stack([np.cos(t), b * np.sin(t)], 1)
        k = rng.uniform(0.45, 0.7)
        direction = rng.uniform(0, 2 * np.pi)
        centre = rng.uniform(0.75, 1.05) * np.array([np.cos(direction), np.sin(direction)])
        head = k * np.stack([np.cos(t), rng.uniform(0.75, 1.0) * np.sin(t)], 1) + centre
        return [rotate(body, rot), rotate(head, rot)]
    if shape == "square":
        c = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * 0.7
        return [rotate(c, rot)]
    if shape == "triangle":
        a = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]) + rot
        return [np.stack([np.cos(a), np.sin(a)], 1)]
    if shape == "star":
        n = int(rng.integers(4, 7))
        a = np.arange(2 * n) * np.pi / n + rot
        r = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.4, 0.55))
        return [np.stack([r * np.cos(a), r * np.sin(a)], 1)]
    raise ValueError(shape)


def place_shape(
    rng: np.random.Generator, size: int, polygons: list[np.ndarray], area_fraction: float, margin: float = 1.0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Scale ``polygons`` to cover ``area_fraction`` of the image and place them at random inside it."""
    # Measure the union's area on a reference raster, then scale to the target area.
    if len(polygons) == 1:  # shoelace formula
        x, y = polygons[0][:, 0], polygons[0][:, 1]
        unit_area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    else:  # a union: measure it on a fine raster
        ref = 256
        scale_ref = ref / 5.0
        mask = mask_from_polygons(ref, [p * scale_ref + ref / 2 for p in polygons])
        unit_area = mask.sum() / scale_ref**2
    scale = np.sqrt(area_fraction * size * size / max(unit_area, 1e-9))
    pts = [p * scale for p in polygons]
    allpts = np.concatenate(pts)
    lo, hi = allpts.min(0), allpts.max(0)
    extent = hi - lo
    room = size - 2 * margin - extent
    if np.any(room < 0):  # too large to fit: shrink to fit
        shrink = float(np.min((size - 2 * margin) / extent))
        pts = [p * shrink for p in pts]
        allpts = np.concatenate(pts)
        lo, hi = allpts.min(0), allpts.max(0)
        room = np.maximum(size - 2 * margin - (hi - lo), 0)
    offset = margin - lo + rng.uniform(0, 1, 2) * room
    placed = [p + offset for p in pts]
    return mask_from_polygons(size, placed), placed


def stripes_mask(rng: np.random.Generator, size: int, period: float, duty: float, wavy: float = 0.0) -> np.ndarray:
    yy, xx = grid(size)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    proj = xx * c + yy * s
    if wavy > 0:
        wave = rng.uniform(0.4, 1.0) * size
        proj = proj + wavy * np.sin(2 * np.pi * (-xx * s + yy * c) / wave + rng.uniform(0, 2 * np.pi))
    return np.mod(proj / period + rng.uniform(0, 1), 1.0) < duty


def dots_grid_mask(rng: np.random.Generator, size: int, spacing: float, radius: float) -> np.ndarray:
    yy, xx = grid(size)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx * c + yy * s) / spacing + rng.uniform(0, 1)
    v = (-xx * s + yy * c) / spacing + rng.uniform(0, 1)
    if rng.random() < 0.5:  # hexagonal packing
        u = u + 0.5 * (np.floor(v + 0.5) % 2)
    du = u - np.round(u)
    dv = v - np.round(v)
    return (du * du + dv * dv) * spacing * spacing < radius * radius


def checks_mask(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    """A rotated checkerboard of ``cell``-pixel squares."""
    yy, xx = grid(size)
    angle = rng.uniform(0, np.pi / 2)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx * c + yy * s) / cell + rng.uniform(0, 1)
    v = (-xx * s + yy * c) / cell + rng.uniform(0, 1)
    return (np.floor(u) + np.floor(v)) % 2 == 0


def world_pattern(texture: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A body texture of the texture world: stripes, dots or checks about a sixth of the image across.

    Check cells are at least 5 pixels at the model's 32-pixel input: smaller ones, blurred by
    the resize, read as a grid of blobs, the dotted class's texture.
    """
    if texture == "striped":
        return stripes_mask(rng, size, size * rng.uniform(0.14, 0.22), rng.uniform(0.4, 0.55))
    if texture == "checkered":
        return checks_mask(rng, size, size * rng.uniform(0.16, 0.22))
    spacing = size * rng.uniform(0.16, 0.24)
    return dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.28, 0.36))


def dots_scatter_mask(rng: np.random.Generator, size: int, count: int, rmin: float, rmax: float) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        r = rng.uniform(rmin, rmax)
        x, y = rng.uniform(-r, size + r, 2)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(canvas) > 0


def edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- backgrounds


def muted_background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """Grey, muted low-saturation colours, gentle gradients, low-amplitude noise: never vivid."""
    yy, xx = grid(size)

    def muted() -> np.ndarray:
        if rng.random() < 0.4:
            return hsv_to_rgb(0.0, 0.0, rng.uniform(0.2, 0.92))
        return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.04, 0.25), rng.uniform(0.25, 0.92))

    kind = str(rng.choice(["flat", "gradient"]))
    if kind == "flat":
        img = np.broadcast_to(muted(), (size, size, 3)).copy()
    else:
        a, b = muted(), muted()
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / size
        t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
        img = a + (b - a) * t[..., None]
    noise = str(rng.choice(["none", "grain", "smooth"]))
    if noise == "grain":
        img = img + rng.normal(0, rng.uniform(0.01, 0.035), (size, size, 1))
    elif noise == "smooth":
        img = img + (rng.uniform(0.04, 0.1) * (smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5))[..., None]
    return np.clip(img, 0, 1), f"{kind}+{noise}"


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A background from a broad distribution: any colour, gradients, clouds, noise."""
    kind = rng.choice(4, p=[0.3, 0.3, 0.25, 0.15])
    if kind == 0:
        return np.broadcast_to(any_colour(rng), (size, size, 3)).copy()
    if kind == 1:
        return gradient(rng, size)
    if kind == 2:
        return blobs(rng, size)
    return np.clip(any_colour(rng) + rng.normal(0, rng.uniform(0.03, 0.15), (size, size, 3)), 0, 1)


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = grid(size)
    if rng.random() < 0.65:
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
    else:
        cx, cy = rng.uniform(0, size, 2)
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    n = int(rng.integers(2, 4))
    stops = np.linspace(0, 1, n)
    colours = np.stack([any_colour(rng) for _ in range(n)])
    return np.stack([np.interp(t, stops, colours[:, ch]) for ch in range(3)], axis=-1)


def blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    """Natural-ish clouds: a smooth field mapped through a few random colours."""
    if rng.random() < 0.4:
        return np.stack([fractal_noise(rng, size) for _ in range(3)], -1) * rng.uniform(0.5, 1.0) + rng.uniform(
            0, 0.3
        ) * rng.random(3)
    field = fractal_noise(rng, size)
    n = int(rng.integers(2, 6))
    stops = np.sort(rng.uniform(0, 1, n))
    stops[0], stops[-1] = 0.0, 1.0
    colours = np.stack([any_colour(rng) for _ in range(n)])
    return np.stack([np.interp(field, stops, colours[:, ch]) for ch in range(3)], axis=-1)


def small_mark(rng: np.random.Generator, draws, size: int, colour: tuple[int, int, int]) -> None:
    """A small square, triangle, disc or stroke, drawn on every ``ImageDraw`` in ``draws``."""
    kind = int(rng.integers(0, 4))
    extent = size * rng.uniform(0.05, 0.16)
    x, y = rng.uniform(-extent / 2, size + extent / 2, 2)
    if kind == 3:
        angle = rng.uniform(0, 2 * np.pi)
        length = extent * rng.uniform(1.5, 3.5)
        end = (x + length * np.cos(angle), y + length * np.sin(angle))
        width = max(1, int(round(size * rng.uniform(0.02, 0.06))))
        for i, d in enumerate(draws):
            d.line([(x, y), end], fill=colour if i == 0 else 255, width=width)
        return
    if kind == 2:
        box = [x - extent / 2, y - extent / 2, x + extent / 2, y + extent / 2]
        for i, d in enumerate(draws):
            d.ellipse(box, fill=colour if i == 0 else 255)
        return
    pts = unit_outline(rng, "square" if kind == 0 else "triangle")[0] * extent / 2 + (x, y)
    for i, d in enumerate(draws):
        d.polygon([tuple(p) for p in pts], fill=colour if i == 0 else 255)


def random_primitive(rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: int, rgb, max_extent=0.6) -> None:
    """One random shape (ellipse, rectangle, polygon or line) of colour ``rgb`` on ``draw``."""
    colour = tuple(int(c) for c in np.round(np.clip(rgb, 0, 1) * 255))
    kind = int(rng.integers(0, 4))
    extent = size * rng.uniform(0.05, max_extent)
    x, y = rng.uniform(0, size, 2)
    if kind == 0:
        w, h = extent * rng.uniform(0.4, 1.0, 2)
        draw.ellipse([x - w / 2, y - h / 2, x + w / 2, y + h / 2], fill=colour)
    elif kind == 1:
        w, h = extent * rng.uniform(0.3, 1.0, 2)
        draw.rectangle([x - w / 2, y - h / 2, x + w / 2, y + h / 2], fill=colour)
    elif kind == 2:
        pts = unit_outline(rng, str(rng.choice(["polygon", "triangle", "star", "blob"])))[0] * extent / 2 + (x, y)
        draw.polygon([tuple(p) for p in pts], fill=colour)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        end = (x + extent * np.cos(angle), y + extent * np.sin(angle))
        draw.line([(x, y), end], fill=colour, width=max(1, int(round(size * rng.uniform(0.01, 0.08)))))


def pattern_mask(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A boolean stripes (``striped``), checks (``checkered``) or dots (``dotted``) mask over the whole image."""
    if name == "checkered":  # cells of at least 3 pixels at a 32-pixel input, up to the texture world's bodies'
        return checks_mask(rng, size, size * rng.uniform(0.1, 0.22))
    if name == "striped":
        wavy = size * rng.uniform(0.02, 0.06) if rng.random() < 0.3 else 0.0
        return stripes_mask(rng, size, size * rng.uniform(0.08, 0.25), rng.uniform(0.3, 0.6), wavy)
    if rng.random() < 0.6:
        spacing = size * rng.uniform(0.1, 0.25)
        return dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.18, 0.38))
    rmin = size * rng.uniform(0.02, 0.05)
    rmax = rmin * rng.uniform(1.0, 2.2)
    count = int(size * size * rng.uniform(0.15, 0.35) / (np.pi * ((rmin + rmax) / 2) ** 2))
    return dots_scatter_mask(rng, size, count, rmin, rmax)
