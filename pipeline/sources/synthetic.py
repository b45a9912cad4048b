"""The built-in offline dataset, with a planted (known) answer.

Classes ``fire``, ``water`` and ``grass`` are creatures whose class is decided by one thing:
the dominant colour of their body (red, blue, green). Everything else varies independently of
the class: body shape, size and position, background, small distractor objects, and the body's
texture (striped, dotted or plain, one third each in every class, drawn as a darker or lighter
shade of the body colour). A network trained on these
images should therefore be sensitive to the concepts ``red``/``blue``/``green`` for its own
class, and not to ``striped`` or ``dotted``: that is the answer TCAV should find.

Concept images show a colour (``red``, ``blue``, ``green``, ``yellow``, ``white``, ``black``)
covering at least 30% of the image in shapes and contexts unlike the class images (scattered
small shapes and strokes, colour washes, large irregular regions touching the border), or a
texture (``striped``, ``dotted``) drawn as a brightness change over a random image, so that a
texture set differs from the random sets in the pattern alone. Random counterexample images
come from a broad distribution (noise, shapes, gradients, smooth blobs, occasional patterns,
mixtures, and creature-like scenes whose body may take any hue).

Every image is a pure function of ``(seed, kind, name, index)``: regenerating gives
byte-identical PNG files.
"""

from __future__ import annotations

import colorsys
import functools
import io
import zlib
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from pipeline.errors import PipelineError

KINDS = ("class", "concept", "random")

#: Body colour that decides each class.
CLASS_COLOURS = {"fire": "red", "water": "blue", "grass": "green"}
CLASSES = tuple(CLASS_COLOURS)
COLOUR_CONCEPTS = ("red", "blue", "green", "yellow", "white", "black")
TEXTURE_CONCEPTS = ("striped", "dotted")
TEXTURES = ("striped", "dotted", "plain")

#: The second world (``crawl.synthetic_task: texture``): the body's texture decides the class
#: and its hue is random. ``checkered`` exists only as this world's third class texture.
TEXTURE_CLASSES = {"tiger": "striped", "leopard": "dotted", "giraffe": "checkered"}
EXTRA_TEXTURE_CONCEPTS = ("checkered",)
CONCEPTS = COLOUR_CONCEPTS + TEXTURE_CONCEPTS + EXTRA_TEXTURE_CONCEPTS
#: ``crawl.synthetic_task`` -> the classes of that world.
WORLDS = {"colour": CLASSES, "texture": tuple(TEXTURE_CLASSES)}

#: Named colours as HSV ranges: (hue centre in degrees, hue jitter, s min, s max, v min, v max).
PALETTE: dict[str, tuple[float, float, float, float, float, float]] = {
    "red": (0.0, 12.0, 0.6, 1.0, 0.55, 1.0),
    "green": (115.0, 12.0, 0.6, 1.0, 0.55, 1.0),
    "blue": (220.0, 12.0, 0.6, 1.0, 0.55, 1.0),
    "yellow": (55.0, 6.0, 0.7, 1.0, 0.85, 1.0),
    "orange": (29.0, 4.0, 0.75, 1.0, 0.85, 1.0),
    "purple": (282.0, 10.0, 0.45, 0.8, 0.45, 0.85),
    "brown": (28.0, 6.0, 0.5, 0.8, 0.3, 0.5),
    "white": (0.0, 180.0, 0.0, 0.06, 0.92, 1.0),
    "black": (0.0, 180.0, 0.0, 0.5, 0.0, 0.12),
}
#: Hue centres of the chromatic colours (degrees), for measuring images.
HUES = {name: spec[0] for name, spec in PALETTE.items()}
DISTRACTOR_COLOURS = ("yellow", "white", "black", "orange", "purple", "brown")

_KIND_CODES = {"class": 1, "concept": 2, "random": 3}


# --------------------------------------------------------------------------- colour helpers


def hsv_to_rgb(h, s, v) -> np.ndarray:
    """Vectorised HSV -> RGB. ``h`` in degrees (any real), ``s`` and ``v`` in [0, 1].

    Inputs broadcast together; the result has one more trailing axis of length 3.
    """
    h, s, v = np.broadcast_arrays(np.asarray(h, float), np.asarray(s, float), np.asarray(v, float))
    h6 = np.mod(h, 360.0) / 60.0
    i = np.floor(h6)
    f = h6 - i
    i = i.astype(int) % 6
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def rgb_to_hsv(rgb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised RGB (floats in [0, 1], last axis 3) -> (hue degrees [0, 360), sat, value)."""
    rgb = np.asarray(rgb, float)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    delta = mx - mn
    safe = np.where(delta > 0, delta, 1.0)
    h = np.where(
        mx == r, np.mod((g - b) / safe, 6.0), np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    h = np.where(delta > 0, h * 60.0, 0.0)
    s = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return np.mod(h, 360.0), s, mx


def colour_fraction(image, colour: str) -> float:
    """Fraction of the pixels of ``image`` (PIL image or uint8/float array) that show ``colour``.

    Chromatic colours: hue within 25 degrees of the colour's centre, saturation >= 0.4 and
    value >= 0.3; ``white``: saturation <= 0.2 and value >= 0.8; ``black``: value <= 0.2.
    """
    h, s, v = rgb_to_hsv(_as_float(image))
    if colour == "white":
        hit = (s <= 0.2) & (v >= 0.8)
    elif colour == "black":
        hit = v <= 0.2
    else:
        hit = (_hue_distance(h, HUES[colour]) <= 25.0) & (s >= 0.4) & (v >= 0.3)
    return float(hit.mean())


def _as_float(image) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    return array.astype(float) / 255.0 if array.dtype == np.uint8 else array.astype(float)


def _hue_distance(h, centre: float) -> np.ndarray:
    d = np.abs(np.mod(np.asarray(h, float) - centre, 360.0))
    return np.minimum(d, 360.0 - d)


def _sample_hsv(rng: np.random.Generator, colour: str) -> tuple[float, float, float]:
    centre, jitter, smin, smax, vmin, vmax = PALETTE[colour]
    return (
        float(centre + rng.uniform(-jitter, jitter)),
        float(rng.uniform(smin, smax)),
        float(rng.uniform(vmin, vmax)),
    )


def _sample_rgb(rng: np.random.Generator, colour: str) -> np.ndarray:
    h, s, v = _sample_hsv(rng, colour)
    return np.array(colorsys.hsv_to_rgb((h % 360.0) / 360.0, s, v))


def _any_colour(rng: np.random.Generator) -> np.ndarray:
    """A colour from a broad distribution: hue uniform, any saturation and brightness."""
    if rng.random() < 0.3:
        return rng.random(3)
    return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0.08, 1))


def _contrasting_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two colours, hues uniform over the circle, that differ enough to see a pattern."""
    while True:
        saturation_a, saturation_b = rng.uniform(0, 1), rng.uniform(0, 1)
        a = hsv_to_rgb(rng.uniform(0, 360), saturation_a, rng.uniform(0.1, 1))
        b = hsv_to_rgb(rng.uniform(0, 360), saturation_b, rng.uniform(0.1, 1))
        if np.linalg.norm(a - b) >= 0.4:
            return a, b


# --------------------------------------------------------------------------- geometry helpers


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy + 0.5, xx + 0.5


def _smooth_noise(rng: np.random.Generator, size: int, cells: float) -> np.ndarray:
    """Smooth random field in [0, 1], about ``cells`` blobs across the image."""
    n = max(2, int(round(cells)) + 2)
    low = (rng.random((n, n)) * 255).astype(np.uint8)
    field = np.asarray(Image.fromarray(low, "L").resize((size, size), Image.BICUBIC), float) / 255.0
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.full((size, size), 0.5)


def _fractal_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multi-octave smooth noise in [0, 1]: cloud-like, natural-looking."""
    total = np.zeros((size, size))
    weight = 1.0
    cells = rng.uniform(1.5, 3.0)
    for _ in range(4):
        total += weight * _smooth_noise(rng, size, cells)
        weight *= 0.5
        cells *= 2.0
    total -= total.min()
    return total / max(total.max(), 1e-9)


def _mask_from_polygons(size: int, polygons: Sequence[np.ndarray]) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for pts in polygons:
        draw.polygon([tuple(p) for p in pts], fill=255)
    return np.asarray(canvas) > 0


def _unit_outline(rng: np.random.Generator, shape: str) -> list[np.ndarray]:
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


def _place_shape(
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
        mask = _mask_from_polygons(ref, [p * scale_ref + ref / 2 for p in polygons])
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
    return _mask_from_polygons(size, placed), placed


def _stripes_mask(rng: np.random.Generator, size: int, period: float, duty: float, wavy: float = 0.0) -> np.ndarray:
    yy, xx = _grid(size)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    proj = xx * c + yy * s
    if wavy > 0:
        wave = rng.uniform(0.4, 1.0) * size
        proj = proj + wavy * np.sin(2 * np.pi * (-xx * s + yy * c) / wave + rng.uniform(0, 2 * np.pi))
    return np.mod(proj / period + rng.uniform(0, 1), 1.0) < duty


def _dots_grid_mask(rng: np.random.Generator, size: int, spacing: float, radius: float) -> np.ndarray:
    yy, xx = _grid(size)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx * c + yy * s) / spacing + rng.uniform(0, 1)
    v = (-xx * s + yy * c) / spacing + rng.uniform(0, 1)
    if rng.random() < 0.5:  # hexagonal packing
        u = u + 0.5 * (np.floor(v + 0.5) % 2)
    du = u - np.round(u)
    dv = v - np.round(v)
    return (du * du + dv * dv) * spacing * spacing < radius * radius


def _checks_mask(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    """A rotated checkerboard of ``cell``-pixel squares."""
    yy, xx = _grid(size)
    angle = rng.uniform(0, np.pi / 2)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx * c + yy * s) / cell + rng.uniform(0, 1)
    v = (-xx * s + yy * c) / cell + rng.uniform(0, 1)
    return (np.floor(u) + np.floor(v)) % 2 == 0


def _dots_scatter_mask(rng: np.random.Generator, size: int, count: int, rmin: float, rmax: float) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        r = rng.uniform(rmin, rmax)
        x, y = rng.uniform(-r, size + r, 2)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(canvas) > 0


def _edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- backgrounds


def _muted_background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """Grey, muted low-saturation colours, gentle gradients, low-amplitude noise: never vivid."""
    yy, xx = _grid(size)

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
        img = img + (rng.uniform(0.04, 0.1) * (_smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5))[..., None]
    return np.clip(img, 0, 1), f"{kind}+{noise}"


def _random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A background from a broad distribution: any colour, gradients, clouds, noise."""
    kind = rng.choice(4, p=[0.3, 0.3, 0.25, 0.15])
    if kind == 0:
        return np.broadcast_to(_any_colour(rng), (size, size, 3)).copy()
    if kind == 1:
        return _gradient(rng, size)
    if kind == 2:
        return _blobs(rng, size)
    return np.clip(_any_colour(rng) + rng.normal(0, rng.uniform(0.03, 0.15), (size, size, 3)), 0, 1)


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = _grid(size)
    if rng.random() < 0.65:
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
    else:
        cx, cy = rng.uniform(0, size, 2)
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    n = int(rng.integers(2, 4))
    stops = np.linspace(0, 1, n)
    colours = np.stack([_any_colour(rng) for _ in range(n)])
    return np.stack([np.interp(t, stops, colours[:, ch]) for ch in range(3)], axis=-1)


def _blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    """Natural-ish clouds: a smooth field mapped through a few random colours."""
    if rng.random() < 0.4:
        return np.stack([_fractal_noise(rng, size) for _ in range(3)], -1) * rng.uniform(0.5, 1.0) + rng.uniform(
            0, 0.3
        ) * rng.random(3)
    field = _fractal_noise(rng, size)
    n = int(rng.integers(2, 6))
    stops = np.sort(rng.uniform(0, 1, n))
    stops[0], stops[-1] = 0.0, 1.0
    colours = np.stack([_any_colour(rng) for _ in range(n)])
    return np.stack([np.interp(field, stops, colours[:, ch]) for ch in range(3)], axis=-1)


# --------------------------------------------------------------------------- class images


def _world_pattern(texture: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A body texture of the texture world: stripes, dots or checks about a sixth of the image across."""
    if texture == "striped":
        return _stripes_mask(rng, size, size * rng.uniform(0.14, 0.22), rng.uniform(0.4, 0.55))
    if texture == "checkered":
        return _checks_mask(rng, size, size * rng.uniform(0.1, 0.15))
    spacing = size * rng.uniform(0.16, 0.24)
    return _dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.28, 0.36))


def _draw_class(name: str, rng: np.random.Generator, size: int, any_hue: bool = False, *,
                grey_body: bool = False, texture_as: str | None = None, show_texture: bool = True,
                keep_mask: bool = False) -> tuple[np.ndarray, dict]:
    """A creature of class ``name``; with ``any_hue`` its body takes a uniformly random hue
    instead (a class-like scene for random sets).

    The keywords are the counterfactual switches (``worlds/counterfactual.py``); at their
    defaults the image is the one this function has always drawn. ``grey_body``: the body
    (and its texture and outline) lose their saturation, nothing else changes.
    ``texture_as``: the body's texture is this one (``plain``: none) whatever was drawn;
    ``show_texture=False`` then makes every random draw of it but does not paint it, so
    the scene with and without the texture consume the same random stream.
    ``keep_mask``: ``meta["body_mask"]`` holds the body's pixels. A class of the texture
    world (:data:`TEXTURE_CLASSES`) has a random hue and its world's texture.
    """
    texture_world = name in TEXTURE_CLASSES
    colour = None if texture_world else CLASS_COLOURS[name]
    img, background = _muted_background(rng, size)

    # Body: its colour is the only thing that depends on the class.
    shape = str(rng.choice(["ellipse", "polygon", "blob", "twin"]))
    area = float(rng.uniform(0.15, 0.40))
    body, _ = _place_shape(rng, size, _unit_outline(rng, shape), area, margin=1.0)
    if texture_world:  # the hue carries no class information in this world
        h, s, v = float(rng.uniform(0, 360)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.55, 1.0))
    else:
        h, s, v = _sample_hsv(rng, colour)
    if any_hue:
        h, s = float(rng.uniform(0, 360)), float(rng.uniform(0.0, 1.0))
    if grey_body:
        s = 0.0
    yy, xx = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    proj = xx * np.cos(angle) + yy * np.sin(angle)
    sel = proj[body]
    span = max(sel.max() - sel.min(), 1.0) if sel.size else 1.0
    shade = (proj - (sel.min() if sel.size else 0)) / span - 0.5  # -0.5 .. 0.5 across the body
    vmap = np.clip(v * (1 + rng.uniform(0, 0.25) * shade) + rng.normal(0, 0.012, (size, size)), 0.45, 1.0)
    body_rgb = hsv_to_rgb(h, s, vmap)
    img = np.where(body[..., None], body_rgb, img)

    # Texture: independent of the class (in the colour world).
    texture = TEXTURE_CLASSES[name] if texture_world else TEXTURES[int(rng.integers(0, 3))]
    if texture_as is not None:
        texture = texture_as
    if texture != "plain":
        tone = str(rng.choice(["darker", "lighter"]))
        if tone == "darker":
            tex_rgb = hsv_to_rgb(h, s, v * rng.uniform(0.4, 0.6))
        elif tone == "lighter":
            tex_rgb = hsv_to_rgb(h, s * rng.uniform(0.2, 0.4), min(1.0, v + rng.uniform(0.15, 0.35)))
        else:
            tex_rgb = _sample_rgb(rng, tone)
        if texture_world:  # the class cue: larger patterns, so that they survive the resize to the model's input
            pattern = _world_pattern(texture, rng, size)
        elif texture == "striped":
            pattern = _stripes_mask(rng, size, size * rng.uniform(0.1, 0.18), rng.uniform(0.35, 0.5))
        elif texture == "checkered":
            pattern = _checks_mask(rng, size, size * rng.uniform(0.09, 0.14))
        else:
            spacing = size * rng.uniform(0.11, 0.18)
            pattern = _dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.22, 0.34))
        if show_texture:
            img = np.where((pattern & body)[..., None], tex_rgb, img)
    else:
        tone = None

    outline = bool(rng.random() < 0.3)
    if outline:
        edge = _edge(body)
        img = np.where(edge[..., None], hsv_to_rgb(h, s, v * 0.35) if rng.random() < 0.5 else 0.05, img)

    # Distractors: small objects in colours other than the class colours (rarely a tiny patch
    # of another class's colour, so colour patches alone are not a perfect shortcut).
    distractors = []
    for _ in range(int(rng.integers(0, 4))):
        roll = rng.random()
        if roll < 0.1:
            other = [c for c in ("red", "green", "blue") if c != colour]
            dcolour, darea = str(rng.choice(other)), float(rng.uniform(0.004, 0.012))
        else:
            dcolour, darea = str(rng.choice(DISTRACTOR_COLOURS)), float(rng.uniform(0.008, 0.045))
        if roll > 0.85:  # an eye: white disc with a black pupil, on the body when possible
            dmask, pts = _place_shape(rng, size, _unit_outline(rng, "ellipse")[:1], darea, margin=1.0)
            img = np.where(dmask[..., None], _sample_rgb(rng, "white"), img)
            centre = np.concatenate(pts).mean(0)
            r = np.sqrt(darea * size * size / np.pi) * rng.uniform(0.35, 0.55)
            pupil = np.hypot(xx - centre[0], yy - centre[1]) <= r
            img = np.where(pupil[..., None], _sample_rgb(rng, "black"), img)
            distractors.append({"colour": "eye", "area": darea})
            continue
        dshape = str(rng.choice(["ellipse", "polygon", "square", "triangle", "star"]))
        dmask, _ = _place_shape(rng, size, _unit_outline(rng, dshape), darea, margin=0.0)
        img = np.where(dmask[..., None], _sample_rgb(rng, dcolour), img)
        distractors.append({"colour": dcolour, "shape": dshape, "area": darea})

    meta = {
        "kind": "class",
        "name": name,
        "colour": colour,
        "hue": round(h % 360, 2),
        "shape": shape,
        "body_area": round(float(body.mean()), 4),
        "texture": texture,
        "texture_tone": tone,
        "outline": outline,
        "background": background,
        "distractors": distractors,
    }
    if keep_mask:
        meta["body_mask"] = body
    return img, meta


def class_image(name: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One ``size`` x ``size`` RGB image of class ``name`` (``fire``, ``water`` or ``grass``).

    The body's colour (red, blue, green) decides the class; shape, size, position, background,
    distractors and texture (striped / dotted / plain) are drawn independently of it.
    """
    _check_name("class", name)
    return _to_image(_draw_class(name, rng, size)[0])


# --------------------------------------------------------------------------- concept images


def _colour_field(rng: np.random.Generator, colour: str, size: int) -> np.ndarray:
    """Whole-image wash of ``colour`` with gentle variation, staying within the colour's range."""
    centre, jitter, smin, smax, vmin, vmax = PALETTE[colour]
    h0, s0, v0 = _sample_hsv(rng, colour)
    n1 = _smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5
    n2 = _smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5
    grain = rng.normal(0, rng.uniform(0.0, 0.03), (size, size))
    h = h0 + (8.0 if jitter < 90 else 0.0) * n1
    s = np.clip(s0 + 0.2 * n2, smin, smax)
    v = np.clip(v0 + 0.25 * n1 + grain, vmin, vmax)
    return hsv_to_rgb(h, s, v)


def _draw_colour_concept(name: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    style = str(rng.choice(["scatter", "wash", "regions"]))
    if style == "wash":
        img = _colour_field(rng, name, size)
        # A few foreign shapes or strokes on top, covering well under half of the image.
        canvas = _to_image(img)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(0, 6))):
            _random_primitive(rng, draw, size, _any_colour(rng), max_extent=0.3)
        img = np.asarray(canvas, float) / 255.0
        if colour_fraction(img, name) < 0.45:  # foreign shapes covered too much: wash again
            img = _colour_field(rng, name, size)
    elif style == "regions":
        field = _smooth_noise(rng, size, rng.uniform(1.5, 4))
        if rng.random() < 0.5:  # pull the region towards one border
            yy, xx = _grid(size)
            angle = rng.uniform(0, 2 * np.pi)
            field = field + rng.uniform(0.3, 1.0) * (xx * np.cos(angle) + yy * np.sin(angle)) / size
        target = rng.uniform(0.4, 0.75)
        region = field >= np.quantile(field, 1 - target)
        img = np.where(region[..., None], _colour_field(rng, name, size), _random_background(rng, size))
    else:  # scatter: many small squares, triangles, discs and strokes of the colour
        canvas = _to_image(_random_background(rng, size))
        mask = Image.new("L", (size, size), 0)
        draw, mdraw = ImageDraw.Draw(canvas), ImageDraw.Draw(mask)
        target = rng.uniform(0.35, 0.6)
        for _ in range(400):
            for _ in range(8):
                colour = tuple(int(c) for c in np.round(_sample_rgb(rng, name) * 255))
                _small_mark(rng, (draw, mdraw), size, colour)
            if np.asarray(mask).mean() / 255.0 >= target:
                break
        img = np.asarray(canvas, float) / 255.0
    return img, {"kind": "concept", "name": name, "style": style}


def _small_mark(rng: np.random.Generator, draws, size: int, colour: tuple[int, int, int]) -> None:
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
    pts = _unit_outline(rng, "square" if kind == 0 else "triangle")[0] * extent / 2 + (x, y)
    for i, d in enumerate(draws):
        d.polygon([tuple(p) for p in pts], fill=colour if i == 0 else 255)


def _random_primitive(rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: int, rgb, max_extent=0.6) -> None:
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
        pts = _unit_outline(rng, str(rng.choice(["polygon", "triangle", "star", "blob"])))[0] * extent / 2 + (x, y)
        draw.polygon([tuple(p) for p in pts], fill=colour)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        end = (x + extent * np.cos(angle), y + extent * np.sin(angle))
        draw.line([(x, y), end], fill=colour, width=max(1, int(round(size * rng.uniform(0.01, 0.08)))))


def _pattern_mask(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A boolean stripes (``striped``), checks (``checkered``) or dots (``dotted``) mask over the whole image."""
    if name == "checkered":
        return _checks_mask(rng, size, size * rng.uniform(0.06, 0.14))
    if name == "striped":
        wavy = size * rng.uniform(0.02, 0.06) if rng.random() < 0.3 else 0.0
        return _stripes_mask(rng, size, size * rng.uniform(0.08, 0.25), rng.uniform(0.3, 0.6), wavy)
    if rng.random() < 0.6:
        spacing = size * rng.uniform(0.1, 0.25)
        return _dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.18, 0.38))
    rmin = size * rng.uniform(0.02, 0.05)
    rmax = rmin * rng.uniform(1.0, 2.2)
    count = int(size * size * rng.uniform(0.15, 0.35) / (np.pi * ((rmin + rmax) / 2) ** 2))
    return _dots_scatter_mask(rng, size, count, rmin, rmax)


def _draw_texture(name: str, rng: np.random.Generator, size: int, strength: str = "concept") -> np.ndarray:
    """Stripes or dots over the whole image.

    Random images get the pattern in a random colour pair. Concept images get it as a
    change of brightness only, over a random image: the set then differs from the random
    sets in the pattern alone, not in colour, which is what the class images' textures are
    too (a darker or lighter shade of the body), so a colour-driven network has no colour
    reason to link the texture to a class.
    """
    pattern = _pattern_mask(name, rng, size)
    if strength == "concept":
        base = _draw_random(rng, size)[0]
        factor = rng.uniform(0.35, 0.6) if rng.random() < 0.5 else rng.uniform(1.5, 2.2)
        img = np.where(pattern[..., None], np.clip(base * factor + (0.15 if factor > 1 else 0), 0, 1), base)
    else:
        a, b = _contrasting_pair(rng)
        img = np.where(pattern[..., None], b, a)
    if rng.random() < 0.4:
        img = img + rng.normal(0, rng.uniform(0.01, 0.04), (size, size, 1))
    return np.clip(img, 0, 1)


def concept_image(name: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image of concept ``name``: a colour (covering >= 30% of the pixels) or a texture."""
    _check_name("concept", name)
    return _to_image(_draw_concept(name, rng, size)[0])


def _draw_concept(name: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    if name in COLOUR_CONCEPTS:
        return _draw_colour_concept(name, rng, size)
    return _draw_texture(name, rng, size), {"kind": "concept", "name": name, "style": name}


# --------------------------------------------------------------------------- random images

_RANDOM_STYLES = ("noise", "shapes", "gradient", "blobs", "pattern", "mixture", "scene")
_RANDOM_WEIGHTS = (0.08, 0.17, 0.08, 0.17, 0.06, 0.12, 0.32)


def _draw_random(rng: np.random.Generator, size: int, depth: int = 0, world: str = "colour") -> tuple[np.ndarray, str]:
    """One random image and its style; in the texture ``world`` its creature-like scenes are plain."""
    styles, weights = (_RANDOM_STYLES, _RANDOM_WEIGHTS) if depth == 0 else (_RANDOM_STYLES[:4], (1, 1, 1, 1))
    weights = np.asarray(weights, float) / np.sum(weights)
    style = styles[int(rng.choice(len(styles), p=weights))]
    if style == "noise":
        cells = int(rng.choice([1, 2, 4, 8]))
        n = max(1, size // cells)
        low = rng.random((n, n, 3))
        if rng.random() < 0.5:
            low = low * rng.uniform(0.2, 1.0) + rng.uniform(0, 0.8) * rng.random(3) * 0.5
        img = np.asarray(
            _to_image(low).resize((size, size), Image.NEAREST if rng.random() < 0.5 else Image.BILINEAR), float
        ) / 255.0
    elif style == "shapes":
        canvas = _to_image(_random_background(rng, size))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(3, 21))):
            _random_primitive(rng, draw, size, _any_colour(rng))
        img = np.asarray(canvas, float) / 255.0
    elif style == "gradient":
        img = np.clip(_gradient(rng, size) + rng.normal(0, rng.uniform(0, 0.03), (size, size, 1)), 0, 1)
    elif style == "blobs":
        img = _blobs(rng, size)
    elif style == "scene":
        # Creature-like scenes of any hue: random sets then share the class images' layout
        # (a flat body with edges on a muted background), so a CAV against them measures
        # its concept rather than "looks like a training image".
        # In the texture world a textured body is class evidence: its scenes stay plain.
        img = _draw_class(str(rng.choice(CLASSES)), rng, size, any_hue=True,
                          texture_as="plain" if world == "texture" else None)[0]
    elif style == "pattern":
        img = _draw_texture(str(rng.choice(TEXTURE_CONCEPTS)), rng, size, strength="random")
    else:
        a, style_a = _draw_random(rng, size, depth + 1, world)
        b, style_b = _draw_random(rng, size, depth + 1, world)
        if rng.random() < 0.5:
            alpha = rng.uniform(0.3, 0.7)
        else:
            alpha = (_smooth_noise(rng, size, rng.uniform(1.5, 4)) > rng.uniform(0.3, 0.7))[..., None].astype(float)
        img = a * alpha + b * (1 - alpha)
        style = f"mixture({style_a},{style_b})"
    return np.clip(img, 0, 1), style


def random_image(rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image from a broad distribution, for random counterexample sets."""
    return _to_image(_draw_random(rng, size)[0])


# --------------------------------------------------------------------------- generation


def _check_name(kind: str, name: str, world: str = "colour") -> None:
    if world not in WORLDS:
        raise PipelineError(f"crawl.synthetic_task {world!r}: expected one of {', '.join(WORLDS)}")
    if kind == "class" and name not in WORLDS[world]:
        raise PipelineError(
            f"class {name!r}: the synthetic source's {world} world (crawl.synthetic_task) knows only the classes "
            f"{', '.join(WORLDS[world])}; change `classes` in params.yaml, or set crawl.source to 'local' with "
            "crawl.local_dir holding one image folder per class"
        )
    if kind == "concept" and name not in CONCEPTS:
        raise PipelineError(
            f"concept {name!r}: the synthetic source can make only the concepts {', '.join(CONCEPTS)}; "
            f"for other concepts use crawl.source 'local', or drop a folder of images into concepts/{name}/ "
            "(list it under tcav.concepts, not crawl.concepts)"
        )
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def check_names(kind: str, names: Sequence[str], world: str = "colour") -> None:
    """Raise :class:`PipelineError` if the synthetic source cannot make any of ``names``."""
    for name in names:
        _check_name(kind, name, world)


def image_rng(seed: int, kind: str, name: str, index: int) -> np.random.Generator:
    """The random stream of one image: a pure function of (seed, kind, name, index)."""
    return np.random.default_rng([seed, _KIND_CODES[kind], zlib.crc32(name.encode("utf-8")), index])


def file_name(index: int, count: int) -> str:
    """``0000.png``, ``0001.png``, ... (more digits when ``count`` needs them)."""
    return f"{index:0{max(4, len(str(count - 1)))}d}.png"


def draw(kind: str, name: str, index: int, size: int = 64, seed: int = 0,
         world: str = "colour") -> tuple[Image.Image, dict]:
    """Image number ``index`` of ``kind`` (class/concept/random) ``name``, and how it was drawn.

    ``world``: ``colour`` (the default) or ``texture`` (``crawl.synthetic_task``).
    """
    _check_name(kind, name, world)
    rng = image_rng(seed, kind, name, index)
    if kind == "class":
        array, meta = _draw_class(name, rng, size)
    elif kind == "concept":
        array, meta = _draw_concept(name, rng, size)
    else:
        array, style = _draw_random(rng, size, world=world)
        meta = {"kind": "random", "name": name, "style": style}
    return _to_image(array), meta


def generate(
    kind: str, name: str, count: int, size: int = 64, seed: int = 0, *, with_meta: bool = False,
    world: str = "colour",
) -> Iterator[tuple]:
    """Yield ``(file_name, PIL.Image)`` for ``count`` images of ``kind`` (class/concept/random) ``name``.

    With ``with_meta=True`` yield ``(file_name, PIL.Image, meta)`` where ``meta`` is a dict
    describing how the image was drawn (e.g. ``meta["texture"]`` for class images).
    Each image depends only on (seed, kind, name, index), so any subset can be regenerated.
    """
    _check_name(kind, name, world)
    for index in range(count):
        image, meta = draw(kind, name, index, size, seed, world)
        fname = file_name(index, count)
        yield (fname, image, meta) if with_meta else (fname, image)


# --------------------------------------------------------------------------- source interface


#: Images are a pure function of the params: no fetch times in the manifest, and a folder
#: of them can always be regenerated (so one without a manifest is simply replaced).
TIMESTAMPS = False
REGENERABLE = True


def origin(request, params) -> dict:
    """The kept images depend on the seed, the image size and (when not the default) the world."""
    found = {"seed": params.seed, "size": params.crawl.synthetic_size}
    if params.crawl.synthetic_task != "colour":  # default manifests stay as they were
        found["task"] = params.crawl.synthetic_task
    return found


def check(requests, params) -> None:
    """Fail early, before anything is written, on a name the synthetic source cannot make."""
    for request in requests:
        _check_name(request.kind, request.name, params.crawl.synthetic_task)


def fill(request, params, collector) -> None:
    """Offer generated PNGs ``0000.png``, ``0001.png``, ... until the folder is full.

    Images excluded or found duplicate are replaced by the next indices. ``request.query``
    is ignored: the synthetic images are defined by the name.
    """
    limit = 2 * request.count + 16
    for index in range(limit):
        if collector.done:
            return
        fname = file_name(index, request.count)
        if collector.seen(fname):
            continue
        image, _ = draw(request.kind, request.name, index, params.crawl.synthetic_size, params.seed,
                        params.crawl.synthetic_task)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        collector.offer(fname, buffer.getvalue(), name=fname)
