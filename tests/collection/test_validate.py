"""collection.validate: every downloaded file decoded, rejected with a reason or converted to RGB."""


from __future__ import annotations


import io


import numpy as np


import pytest


from PIL import Image


from collection.validate import Accepted, Rejected, inspect_image


from tests.image_fixtures import animated_gif, encode, exif_rotated_jpeg, png_claiming_size, scene, sixteen_bit_png


def accepted(data: bytes, **options) -> Accepted:
    result = inspect_image(data, **options)
    assert isinstance(result, Accepted), result
    return result


def rejected(data: bytes, **options) -> Rejected:
    result = inspect_image(data, **options)
    assert isinstance(result, Rejected), result
    return result


def test_an_rgb_square_jpeg_is_kept_byte_for_byte():
    data = encode(scene(1, 64), "JPEG", quality=90)
    result = accepted(data)
    assert result.data == data and result.suffix == ".jpg" and result.conversions == []
    assert result.image.mode == "RGB" and result.image.size == (64, 64)


@pytest.mark.parametrize("data, code, words", [
    (b"", "empty", "0 bytes"),
    (b"<!DOCTYPE html><html><body>Access denied</body></html>", "not_image", "HTML page"),
    (b'{"error": "rate limited"}', "not_image", "JSON"),
    (b"GIF87a-not-really", "not_image", "unrecognised format"),
    (encode(scene(2, 64), "JPEG")[:300], "truncated", "truncated"),
    (encode(scene(3, 64))[:-40], "truncated", ""),
    (png_claiming_size(9000, 9000), "bomb", "81000000 pixels, over the limit"),
    (png_claiming_size(40000, 40000), "bomb", "decompression bomb"),
])
def test_bad_files_are_rejected_with_a_reason(data, code, words):
    result = rejected(data)
    assert result.code == code and words in result.reason, result


def test_too_small_is_judged_on_the_short_side():
    assert rejected(encode(scene(4, 64).resize((64, 20))), min_size=32).code == "too_small"
    assert accepted(encode(scene(4, 64).resize((64, 40))), min_size=32).image.size == (40, 40)


def test_conversions_give_rgb_and_say_what_was_done():
    rgba = scene(5, 32).convert("RGBA")
    rgba.putalpha(0)
    cases = {
        encode(scene(6, 32).convert("L")): "grayscale converted to RGB",
        encode(scene(6, 32).convert("1")): "black and white converted to RGB",
        encode(scene(6, 32).convert("P", palette=Image.ADAPTIVE)): "palette converted to RGB",
        encode(rgba): "RGBA composited on a white background",
        encode(scene(6, 32).convert("CMYK"), "JPEG"): "CMYK converted to RGB",
        sixteen_bit_png(32): "I;16 (16-bit grey) scaled to 8-bit RGB",
        animated_gif([scene(7, 32), scene(8, 32)]): "animated: first of 2 frames",
    }
    for data, conversion in cases.items():
        result = accepted(data)
        assert conversion in result.conversions and result.image.mode == "RGB" and result.suffix == ".png"
        with Image.open(io.BytesIO(result.data)) as stored:
            assert stored.format == "PNG" and stored.mode == "RGB"
    assert accepted(encode(rgba)).image.getpixel((5, 5)) == (255, 255, 255)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    image = accepted(sixteen_bit_png(32)).image
    values = np.asarray(image)[..., 0]
    assert values.min() == 0 and values.max() == 255 and len(np.unique(values)) > 200


def test_animated_gif_keeps_its_first_frame():
    first, second = scene(9, 32), Image.new("RGB", (32, 32), (0, 0, 255))
    image = accepted(animated_gif([first, second])).image
    assert np.abs(np.asarray(image, float) - np.asarray(first, float)).mean() < 20
    assert np.asarray(image)[..., 2].mean() < 250


def test_exif_orientation_is_applied():
    upright = scene(10, 64).resize((64, 40))  # stored sideways: orientation 6 says turn it 90 degrees
    result = accepted(exif_rotated_jpeg(upright, 6), crop="none")
    assert result.image.size == (40, 64) and "EXIF orientation 6 applied" in result.conversions


def test_centre_crop_and_scale_down():
    wide = scene(11, 120).resize((120, 60))
    result = accepted(encode(wide), max_side=32)
    assert result.image.size == (32, 32)
    assert result.conversions == ["centre-cropped 120x60 -> 60x60", "scaled down 60x60 -> 32x32"]
    assert accepted(encode(wide), crop="none").image.size == (120, 60)
    with pytest.raises(ValueError):
        inspect_image(encode(wide), crop="left")
