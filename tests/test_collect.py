"""The pure pieces of image collection: validation and normalisation, duplicate index,
exclude lists, the collector's bookkeeping, the summary table."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from pipeline.collect import collector as collector_module
from pipeline.collect.collector import MANIFEST, Collector, Dealer, Rules
from pipeline.collect.dedup import DuplicateIndex, hash_image
from pipeline.collect.exclude import parse_exclude_list
from pipeline.collect.summary import summary_table
from pipeline.collect.validate import Accepted, Rejected, inspect_image
from pipeline.errors import PipelineError
from tests.image_fixtures import animated_gif, encode, exif_rotated_jpeg, png_claiming_size, scene, sixteen_bit_png


def accepted(data: bytes, **options) -> Accepted:
    result = inspect_image(data, **options)
    assert isinstance(result, Accepted), result
    return result


def rejected(data: bytes, **options) -> Rejected:
    result = inspect_image(data, **options)
    assert isinstance(result, Rejected), result
    return result


# ---------------------------------------------------------------------------- validation


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


# ---------------------------------------------------------------------------- duplicates


def hashes_of(image: Image.Image, data: bytes | None = None):
    data = data if data is not None else encode(image)
    return hash_image(image, data, data)


def test_index_finds_exact_and_near_duplicates_but_not_other_pictures():
    index = DuplicateIndex(max_distance=6)
    original = scene(12, 96)
    index.add("fire/a.png", hashes_of(original))
    copy = hashes_of(original)
    assert index.find(copy).kind == "exact" and index.find(copy).label == "fire/a.png"
    recompressed = Image.open(io.BytesIO(encode(original.resize((70, 70)), "JPEG", quality=80))).convert("RGB")
    match = index.find(hashes_of(recompressed))
    assert match.kind == "near" and match.label == "fire/a.png" and 0 <= match.distance <= 6
    assert index.find(hashes_of(scene(13, 96))) is None


def test_same_drawing_in_another_colour_is_not_a_duplicate():
    index = DuplicateIndex(max_distance=6)
    red = scene(14, 64)
    blue = Image.fromarray(np.asarray(red)[..., ::-1].copy())  # same shapes, other hues
    index.add("red/a.png", hashes_of(red))
    assert hashes_of(blue).phash == hashes_of(red).phash or index.find(hashes_of(blue)) is None
    assert index.find(hashes_of(blue)) is None


def test_removed_images_are_forgotten():
    index = DuplicateIndex(max_distance=6)
    h = hashes_of(scene(15, 64))
    index.add("a/x.png", h)
    assert index.find(h) is not None
    index.remove("a/x.png")
    assert index.find(h) is None and len(index) == 0


def test_hashes_round_trip_through_json():
    h = hashes_of(scene(16, 64))
    assert type(h).from_json(json.loads(json.dumps(h.to_json()))) == h


# ---------------------------------------------------------------------------- exclude lists


def test_exclude_list_takes_names_and_hash_prefixes():
    listing = parse_exclude_list(
        "# looked at 2026-11-23\n\n0001.png\n3f2a9c0d1e4b5a67.jpg  # a watermark\nABCDEF0123456789abcd\nabc123\n"
    )
    assert listing.names == {"0001.png", "3f2a9c0d1e4b5a67.jpg", "abc123"}  # 6 hex digits: too short for a hash
    assert listing.hashes == {"abcdef0123456789abcd"}
    assert listing.match("0001.png") == "0001.png"
    assert listing.match("x.png", ("00" * 32, "abcdef0123456789abcd" + "0" * 44)) == "abcdef0123456789abcd"
    assert listing.match("x.png", ("00" * 32,)) is None


def test_exclude_list_rejects_paths():
    with pytest.raises(PipelineError, match="line 2.*file name only"):
        parse_exclude_list("ok.png\nraw/fire/0001.png\n", path=None)


# ---------------------------------------------------------------------------- collector


def open_collector(folder, count=3, index=None, **kwargs):
    return Collector(folder, name=folder.name, kind="concept", count=count, origin={"source": "test", "query": "q"},
                     rules=Rules(), index=index or DuplicateIndex(6), **kwargs)


def test_collector_writes_the_manifest_entry_before_the_file(tmp_path, monkeypatch):
    collector = open_collector(tmp_path / "red")
    order = []
    real_text, real_bytes = collector_module.atomic_write_text, collector_module.atomic_write_bytes
    monkeypatch.setattr(collector_module, "atomic_write_text", lambda path, text, **kw: order.append(
        ("manifest", sorted(json.loads(text)["images"]))) or real_text(path, text, **kw))
    monkeypatch.setattr(collector_module, "atomic_write_bytes",
                        lambda path, data, **kw: order.append(("file", path.name)) or real_bytes(path, data, **kw))
    assert collector.offer("k1", encode(scene(17, 64)), name="a.png", url="http://x/a.png")
    assert order == [("manifest", ["a.png"]), ("file", "a.png")]


def test_collector_remembers_what_it_has_seen_and_stops_when_full(tmp_path):
    collector = open_collector(tmp_path / "red", count=2)
    assert collector.offer("k1", encode(scene(18, 64)), name="a.png")
    assert not collector.offer("k2", b"<html>", name="b.png")
    assert not collector.offer("k1", encode(scene(19, 64)), name="c.png")  # key seen
    assert collector.offer("k3", encode(scene(20, 64)), name="d.png")
    assert collector.done and not collector.offer("k4", encode(scene(21, 64)), name="e.png")
    report = collector.close()
    assert (report.kept, report.new, dict(report.rejected)) == (2, 2, {"not_image": 1})
    reopened = open_collector(tmp_path / "red", count=2)
    assert all(reopened.seen(k) for k in ("k1", "k2", "k3")) and not reopened.seen("k4")
    assert json.loads((tmp_path / "red" / MANIFEST).read_text())["rejected"]["k2"]["code"] == "not_image"


def test_dealer_fills_sets_in_turn_without_overlap(tmp_path):
    index = DuplicateIndex(6)
    sets = [open_collector(tmp_path / f"random500_{i}", count=2, index=index) for i in range(2)]
    dealer = Dealer(sets)
    for i in range(6):
        dealer.offer(f"k{i}", encode(scene(30 + i, 64)), name=f"{i}.png")
    assert [sorted(p.name for p in (tmp_path / f"random500_{i}").glob("*.png")) for i in range(2)] == [
        ["0.png", "1.png"], ["2.png", "3.png"]]
    assert dealer.done and dealer.kept == 4 and dealer.folder == tmp_path


def test_summary_table_has_a_row_per_folder():
    report = collector_module.FolderReport("red", 10, kept=7, new=3, failed=2, excluded=1)
    report.rejected["not_image"] += 2
    report.duplicates["near"] += 1
    table = summary_table([report])
    header, row = table.splitlines()
    assert header.split("  ")[0] == "folder" and "not image" in header and "near dup" in header
    assert row.split() == ["red", "7/10", "3", "0", "2", "0", "0", "0", "2", "0", "1", "1"]
