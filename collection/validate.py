"""Is a downloaded file a usable image? Decode it fully, reject it with a reason, or normalise it.

:func:`inspect_image` takes the bytes as downloaded and returns either :class:`Rejected`
(a reason code for the summary table and a sentence for the log and manifest) or
:class:`Accepted`: the image as RGB, upright, first frame, transparency composited on a fixed
background, centre-cropped to a square and at most ``max_side`` pixels, plus the bytes to
store. A file that needed none of that is stored byte for byte as downloaded (no JPEG
re-encoding); anything converted is stored as PNG.

:func:`decode` is the project's one image decoder: :func:`read_image` (a file) is how
``images.loading`` and ``preprocess`` read every class, concept and random image, so a folder
the user drops into ``concepts/`` is read exactly as a crawled one. Plain
``Image.open(path).convert('RGB')`` (the ``tcav`` library's reader) would ignore EXIF
orientation, turn transparent pixels into whatever colour hides under them and clip 16-bit
values to white.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import PipelineError

#: Transparent pixels are composited on this colour (fixed, so reruns give the same image).
BACKGROUND = (255, 255, 255)

#: Reason codes, in the order the summary table shows them.
EMPTY = "empty"
NOT_IMAGE = "not_image"
TRUNCATED = "truncated"
TOO_SMALL = "too_small"
BOMB = "bomb"
REJECT_CODES = (EMPTY, NOT_IMAGE, TRUNCATED, TOO_SMALL, BOMB)

#: Pillow format -> file suffix for files kept byte for byte.
KEEP_AS_IS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}

CROP_MODES = ("center", "none")


@dataclass(frozen=True)
class Rejected:
    """Not kept: ``code`` is one of :data:`REJECT_CODES`, ``reason`` says why in words."""

    code: str
    reason: str


@dataclass
class Accepted:
    """A usable image: ``image`` (RGB, normalised) and ``data``/``suffix``, what to store."""

    image: Image.Image
    data: bytes
    suffix: str
    format: str
    original_size: tuple[int, int]
    conversions: list[str] = field(default_factory=list)


#: Default of ``crawl.curation.max_pixels``: larger images are refused undecoded.
MAX_PIXELS = 50_000_000


@dataclass
class Decoded:
    """A fully decoded image: ``image`` as 8-bit RGB, upright, first frame, transparency
    composited on :data:`BACKGROUND`; ``conversions`` says what that took."""

    image: Image.Image
    format: str
    original_size: tuple[int, int]
    conversions: list[str] = field(default_factory=list)


class UnreadableImage(PipelineError):
    """An image file the pipeline refuses to read (the message names the file and why)."""

    def __init__(self, path: str | os.PathLike, rejected: Rejected):
        super().__init__(f"{path}: {rejected.reason}")
        self.path = Path(path)
        self.code = rejected.code


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Decoded | Rejected:
    """Decode ``data`` completely into :class:`Decoded` RGB, or say why not (:class:`Rejected`).

    The one decoder of the project: the crawl, ``preprocess`` and every stage that reads a
    class, concept or random image (tcav, insertion, views) go through it, so a picture is the
    same array whichever folder it sits in and however it was encoded (16-bit grey is scaled,
    not clipped to white; transparency is composited on white, not read as the colours under
    it). ``max_pixels``: width x height above which the file is refused undecoded (a
    decompression bomb: a small file that expands to gigabytes).
    """
    if not data:
        return Rejected(EMPTY, "empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            return Rejected(NOT_IMAGE, _not_an_image(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            return Rejected(BOMB, f"decompression bomb ({error}; crawl.curation.max_pixels is {max_pixels})")
        except Exception as error:  # a header Pillow recognises but cannot parse
            return Rejected(TRUNCATED, f"truncated or corrupt image header ({type(error).__name__}: {error})")
        width, height = image.size
        if width * height > max_pixels:
            return Rejected(
                BOMB,
                f"decompression bomb: {width}x{height} = {width * height} pixels, over the limit of {max_pixels} "
                "(crawl.curation.max_pixels)",
            )
        frames = getattr(image, "n_frames", 1)
        try:
            image.seek(0)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            return Rejected(BOMB, f"decompression bomb ({error}; crawl.curation.max_pixels is {max_pixels})")
        except Exception as error:  # truncated data, broken stream, bad CRC, ...
            return Rejected(TRUNCATED, f"truncated or corrupt image data ({type(error).__name__}: {error})")
    fmt = image.format or "unknown"
    conversions: list[str] = []
    if frames > 1:
        conversions.append(f"animated: first of {frames} frames")
    orientation = image.getexif().get(0x0112, 1)
    if orientation in range(2, 9):
        image = ImageOps.exif_transpose(image)
        conversions.append(f"EXIF orientation {orientation} applied")
    rgb, converted = to_rgb(image)
    if converted:
        conversions.append(converted)
    return Decoded(rgb, fmt, (width, height), conversions)


def read_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image file at ``path`` as RGB (see :func:`decode`).

    Raises :class:`UnreadableImage` (a :class:`PipelineError`) naming the file and the reason.
    """
    decoded = decode(Path(path).read_bytes(), max_pixels=max_pixels)
    if isinstance(decoded, Rejected):
        raise UnreadableImage(path, decoded)
    return decoded.image


def inspect_image(
    data: bytes, *, min_size: int = 1, max_pixels: int = MAX_PIXELS, crop: str = "center", max_side: int | None = None
) -> Accepted | Rejected:
    """Decode ``data`` completely (:func:`decode`) and return :class:`Accepted` or :class:`Rejected`.

    ``min_size``: smallest accepted short side (before cropping), in pixels. ``max_pixels``:
    see :func:`decode`. ``crop``: ``center`` (largest centred square) or ``none``.
    ``max_side``: larger images are scaled down to this side after cropping (None: never).
    """
    if crop not in CROP_MODES:
        raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}")
    decoded = decode(data, max_pixels=max_pixels)
    if isinstance(decoded, Rejected):
        return decoded
    rgb, fmt, (width, height), conversions = decoded.image, decoded.format, decoded.original_size, decoded.conversions
    if min(rgb.size) < min_size:
        return Rejected(TOO_SMALL, f"too small: {rgb.width}x{rgb.height} px, short side under {min_size}")
    if crop == "center" and rgb.width != rgb.height:
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        conversions.append(f"centre-cropped {rgb.width}x{rgb.height} -> {side}x{side}")
        rgb = rgb.crop((left, top, left + side, top + side))
    if max_side is not None and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        conversions.append(f"scaled down {rgb.width}x{rgb.height} -> {size[0]}x{size[1]}")
        rgb = rgb.resize(size, Image.LANCZOS)
    if not conversions and fmt in KEEP_AS_IS:
        return Accepted(rgb, data, KEEP_AS_IS[fmt], fmt, (width, height), conversions)
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return Accepted(rgb, buffer.getvalue(), ".png", fmt, (width, height), conversions)


def to_rgb(image: Image.Image) -> tuple[Image.Image, str | None]:
    """``image`` as 8-bit RGB, and what was converted (None if it already was RGB).

    Transparency is composited on :data:`BACKGROUND`; 16-bit and 32-bit grey levels are
    scaled to 8 bits (Pillow's ``convert`` would clip everything above 255 to white).
    """
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode == "P" and "transparency" in image.info:
        return _composite(image.convert("RGBA")), "palette with transparency composited on a white background"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite(image.convert("RGBA")), f"{mode} composited on a white background"
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB"), f"{mode} ({'16' if top > 255 else '8'}-bit grey) scaled to 8-bit RGB"
    labels = {"L": "grayscale", "1": "black and white", "P": "palette", "CMYK": "CMYK"}
    return image.convert("RGB"), f"{labels.get(mode, mode)} converted to RGB"


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _not_an_image(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "not an image: an HTML page (an error or login page saved under an image name?)"
    if head.startswith((b"{", b"[")):
        return "not an image: JSON text"
    return f"not an image: unrecognised format (starts with {data[:8]!r})"
