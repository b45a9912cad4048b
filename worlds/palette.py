"""Named colours and colour arithmetic shared by the synthetic worlds."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image


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
    h, s, v = rgb_to_hsv(as_float(image))
    if colour == "white":
        hit = (s <= 0.2) & (v >= 0.8)
    elif colour == "black":
        hit = v <= 0.2
    else:
        hit = (hue_distance(h, HUES[colour]) <= 25.0) & (s >= 0.4) & (v >= 0.3)
    return float(hit.mean())


def as_float(image) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    return array.astype(float) / 255.0 if array.dtype == np.uint8 else array.astype(float)


def hue_distance(h, centre: float) -> np.ndarray:
    d = np.abs(np.mod(np.asarray(h, float) - centre, 360.0))
    return np.minimum(d, 360.0 - d)


def sample_hsv(rng: np.random.Generator, colour: str) -> tuple[float, float, float]:
    centre, jitter, smin, smax, vmin, vmax = PALETTE[colour]
    return (
        float(centre + rng.uniform(-jitter, jitter)),
        float(rng.uniform(smin, smax)),
        float(rng.uniform(vmin, vmax)),
    )


def sample_rgb(rng: np.random.Generator, colour: str) -> np.ndarray:
    h, s, v = sample_hsv(rng, colour)
    return np.array(colorsys.hsv_to_rgb((h % 360.0) / 360.0, s, v))


def any_colour(rng: np.random.Generator) -> np.ndarray:
    """A colour from a broad distribution: hue uniform, any saturation and brightness."""
    if rng.random() < 0.3:
        return rng.random(3)
    return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0.08, 1))


def contrasting_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two colours, hues uniform over the circle, that differ enough to see a pattern."""
    while True:
        saturation_a, saturation_b = rng.uniform(0, 1), rng.uniform(0, 1)
        a = hsv_to_rgb(rng.uniform(0, 360), saturation_a, rng.uniform(0.1, 1))
        b = hsv_to_rgb(rng.uniform(0, 360), saturation_b, rng.uniform(0.1, 1))
        if np.linalg.norm(a - b) >= 0.4:
            return a, b
