"""The colour world: the built-in dataset, with a planted (known) answer.

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

"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from common.errors import PipelineError

from worlds.drawing import (blobs, checks_mask, dots_grid_mask, edge, gradient, grid, muted_background, pattern_mask, place_shape,
                            random_background, random_primitive, small_mark, smooth_noise, stripes_mask, to_image,
                            unit_outline, world_pattern)
from worlds.palette import (DISTRACTOR_COLOURS, PALETTE, any_colour, colour_fraction, contrasting_pair, hsv_to_rgb,
                            sample_hsv, sample_rgb)

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


KINDS = ("class", "concept", "random")

def check_name(kind: str, name: str, world: str = "colour") -> None:
    """Raise :class:`PipelineError` unless the ``world`` can draw ``name`` as a ``kind``."""
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


# --------------------------------------------------------------------------- class images


def draw_class(name: str, rng: np.random.Generator, size: int, any_hue: bool = False, *,
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
    img, background = muted_background(rng, size)

    # Body: its colour is the only thing that depends on the class.
    shape = str(rng.choice(["ellipse", "polygon", "blob", "twin"]))
    area = float(rng.uniform(0.15, 0.40))
    body, _ = place_shape(rng, size, unit_outline(rng, shape), area, margin=1.0)
    if texture_world:  # the hue carries no class information in this world
        h, s, v = float(rng.uniform(0, 360)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.55, 1.0))
    else:
        h, s, v = sample_hsv(rng, colour)
    if any_hue:
        h, s = float(rng.uniform(0, 360)), float(rng.uniform(0.0, 1.0))
    if grey_body:
        s = 0.0
    yy, xx = grid(size)
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
            tex_rgb = sample_rgb(rng, tone)
        if texture_world:  # the class cue: larger patterns, so that they survive the resize to the model's input
            pattern = world_pattern(texture, rng, size)
        elif texture == "striped":
            pattern = stripes_mask(rng, size, size * rng.uniform(0.1, 0.18), rng.uniform(0.35, 0.5))
        elif texture == "checkered":
            pattern = checks_mask(rng, size, size * rng.uniform(0.09, 0.14))
        else:
            spacing = size * rng.uniform(0.11, 0.18)
            pattern = dots_grid_mask(rng, size, spacing, spacing * rng.uniform(0.22, 0.34))
        if show_texture:
            img = np.where((pattern & body)[..., None], tex_rgb, img)
    else:
        tone = None

    outline = bool(rng.random() < 0.3)
    if outline:
        rim = edge(body)
        img = np.where(rim[..., None], hsv_to_rgb(h, s, v * 0.35) if rng.random() < 0.5 else 0.05, img)

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
            dmask, pts = place_shape(rng, size, unit_outline(rng, "ellipse")[:1], darea, margin=1.0)
            img = np.where(dmask[..., None], sample_rgb(rng, "white"), img)
            centre = np.concatenate(pts).mean(0)
            r = np.sqrt(darea * size * size / np.pi) * rng.uniform(0.35, 0.55)
            pupil = np.hypot(xx - centre[0], yy - centre[1]) <= r
            img = np.where(pupil[..., None], sample_rgb(rng, "black"), img)
            distractors.append({"colour": "eye", "area": darea})
            continue
        dshape = str(rng.choice(["ellipse", "polygon", "square", "triangle", "star"]))
        dmask, _ = place_shape(rng, size, unit_outline(rng, dshape), darea, margin=0.0)
        img = np.where(dmask[..., None], sample_rgb(rng, dcolour), img)
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
    check_name("class", name)
    return to_image(draw_class(name, rng, size)[0])


# --------------------------------------------------------------------------- concept images


def colour_field(rng: np.random.Generator, colour: str, size: int) -> np.ndarray:
    """Whole-image wash of ``colour`` with gentle variation, staying within the colour's range."""
    centre, jitter, smin, smax, vmin, vmax = PALETTE[colour]
    h0, s0, v0 = sample_hsv(rng, colour)
    n1 = smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5
    n2 = smooth_noise(rng, size, rng.uniform(2, 6)) - 0.5
    grain = rng.normal(0, rng.uniform(0.0, 0.03), (size, size))
    h = h0 + (8.0 if jitter < 90 else 0.0) * n1
    s = np.clip(s0 + 0.2 * n2, smin, smax)
    v = np.clip(v0 + 0.25 * n1 + grain, vmin, vmax)
    return hsv_to_rgb(h, s, v)


def draw_colour_concept(name: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    style = str(rng.choice(["scatter", "wash", "regions"]))
    if style == "wash":
        img = colour_field(rng, name, size)
        # A few foreign shapes or strokes on top, covering well under half of the image.
        canvas = to_image(img)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(0, 6))):
            random_primitive(rng, draw, size, any_colour(rng), max_extent=0.3)
        img = np.asarray(canvas, float) / 255.0
        if colour_fraction(img, name) < 0.45:  # foreign shapes covered too much: wash again
            img = colour_field(rng, name, size)
    elif style == "regions":
        field = smooth_noise(rng, size, rng.uniform(1.5, 4))
        if rng.random() < 0.5:  # pull the region towards one border
            yy, xx = grid(size)
            angle = rng.uniform(0, 2 * np.pi)
            field = field + rng.uniform(0.3, 1.0) * (xx * np.cos(angle) + yy * np.sin(angle)) / size
        target = rng.uniform(0.4, 0.75)
        region = field >= np.quantile(field, 1 - target)
        img = np.where(region[..., None], colour_field(rng, name, size), random_background(rng, size))
    else:  # scatter: many small squares, triangles, discs and strokes of the colour
        canvas = to_image(random_background(rng, size))
        mask = Image.new("L", (size, size), 0)
        draw, mdraw = ImageDraw.Draw(canvas), ImageDraw.Draw(mask)
        target = rng.uniform(0.35, 0.6)
        for _ in range(400):
            for _ in range(8):
                colour = tuple(int(c) for c in np.round(sample_rgb(rng, name) * 255))
                small_mark(rng, (draw, mdraw), size, colour)
            if np.asarray(mask).mean() / 255.0 >= target:
                break
        img = np.asarray(canvas, float) / 255.0
    return img, {"kind": "concept", "name": name, "style": style}


def draw_texture(name: str, rng: np.random.Generator, size: int, strength: str = "concept") -> np.ndarray:
    """Stripes or dots over the whole image.

    Random images get the pattern in a random colour pair. Concept images get it as a
    change of brightness only, over a random image: the set then differs from the random
    sets in the pattern alone, not in colour, which is what the class images' textures are
    too (a darker or lighter shade of the body), so a colour-driven network has no colour
    reason to link the texture to a class.
    """
    pattern = pattern_mask(name, rng, size)
    if strength == "concept":
        base = draw_random(rng, size)[0]
        factor = rng.uniform(0.35, 0.6) if rng.random() < 0.5 else rng.uniform(1.5, 2.2)
        img = np.where(pattern[..., None], np.clip(base * factor + (0.15 if factor > 1 else 0), 0, 1), base)
    else:
        a, b = contrasting_pair(rng)
        img = np.where(pattern[..., None], b, a)
    if rng.random() < 0.4:
        img = img + rng.normal(0, rng.uniform(0.01, 0.04), (size, size, 1))
    return np.clip(img, 0, 1)


def concept_image(name: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image of concept ``name``: a colour (covering >= 30% of the pixels) or a texture."""
    check_name("concept", name)
    return to_image(draw_concept(name, rng, size)[0])


def draw_concept(name: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    if name in COLOUR_CONCEPTS:
        return draw_colour_concept(name, rng, size)
    return draw_texture(name, rng, size), {"kind": "concept", "name": name, "style": name}


# --------------------------------------------------------------------------- random images

_RANDOM_STYLES = ("noise", "shapes", "gradient", "blobs", "pattern", "mixture", "scene")
_RANDOM_WEIGHTS = (0.08, 0.17, 0.08, 0.17, 0.06, 0.12, 0.32)


def draw_random(rng: np.random.Generator, size: int, depth: int = 0, world: str = "colour") -> tuple[np.ndarray, str]:
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
            to_image(low).resize((size, size), Image.NEAREST if rng.random() < 0.5 else Image.BILINEAR), float
        ) / 255.0
    elif style == "shapes":
        canvas = to_image(random_background(rng, size))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(3, 21))):
            random_primitive(rng, draw, size, any_colour(rng))
        img = np.asarray(canvas, float) / 255.0
    elif style == "gradient":
        img = np.clip(gradient(rng, size) + rng.normal(0, rng.uniform(0, 0.03), (size, size, 1)), 0, 1)
    elif style == "blobs":
        img = blobs(rng, size)
    elif style == "scene":
        # Creature-like scenes of any hue: random sets then share the class images' layout
        # (a flat body with edges on a muted background), so a CAV against them measures
        # its concept rather than "looks like a training image".
        # In the texture world a textured body is class evidence: its scenes stay plain.
        img = draw_class(str(rng.choice(CLASSES)), rng, size, any_hue=True,
                         texture_as="plain" if world == "texture" else None)[0]
    elif style == "pattern":
        img = draw_texture(str(rng.choice(TEXTURE_CONCEPTS)), rng, size, strength="random")
    else:
        a, style_a = draw_random(rng, size, depth + 1, world)
        b, style_b = draw_random(rng, size, depth + 1, world)
        if rng.random() < 0.5:
            alpha = rng.uniform(0.3, 0.7)
        else:
            alpha = (smooth_noise(rng, size, rng.uniform(1.5, 4)) > rng.uniform(0.3, 0.7))[..., None].astype(float)
        img = a * alpha + b * (1 - alpha)
        style = f"mixture({style_a},{style_b})"
    return np.clip(img, 0, 1), style


def random_image(rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image from a broad distribution, for random counterexample sets."""
    return to_image(draw_random(rng, size)[0])
