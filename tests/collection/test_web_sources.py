"""The icrawler sources, crawled for real against a loopback HTTP server (never the internet).

One server serves good images, every bad kind the crawl must reject, images it must convert,
duplicates, a 404, a slow answer; a refused port stands for a host that cannot be reached.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml
from PIL import Image

from collection import crawl as crawling
from pipeline import crawl


def earlier_folders(tmp_path):
    """The folders a concept crawl must not repeat, where these tests put them."""
    return ["--classes-dir", str(tmp_path / "raw"), "--random-dir", str(tmp_path / "random")]
from collection.manifest import MANIFEST
from common.params import load_params
from collection.sources import flickr, search
from tests.image_fixtures import animated_gif, encode, exif_rotated_jpeg, png_claiming_size, scene, sixteen_bit_png
from tests.image_server import ImageServer, Route, refused_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "search"

GOOD = {f"/good/{i}.jpg": encode(scene(i, 96), "JPEG", quality=90) for i in range(7)}
WIDE = encode(scene(20, 128).resize((128, 80)), "PNG")
RGBA = scene(21, 64).convert("RGBA")
RGBA.putalpha(128)
CONVERTED = {
    "/conv/gray.png": (encode(scene(22, 64).convert("L")), "grayscale converted to RGB"),
    "/conv/palette.gif": (encode(scene(23, 64).convert("P", palette=Image.ADAPTIVE), "GIF"), "palette converted to RGB"),
    "/conv/rgba.png": (encode(RGBA), "RGBA composited on a white background"),
    "/conv/cmyk.jpg": (encode(scene(24, 64).convert("CMYK"), "JPEG", quality=95), "CMYK converted to RGB"),
    "/conv/16bit.png": (sixteen_bit_png(64), "I;16 (16-bit grey) scaled to 8-bit RGB"),
    "/conv/anim.gif": (animated_gif([scene(25, 64), scene(26, 64), scene(27, 64)]), "animated: first of 3 frames"),
    "/conv/exif.jpg": (exif_rotated_jpeg(scene(28, 64).resize((64, 48))), "EXIF orientation 6 applied"),
    "/conv/wide.png": (WIDE, "centre-cropped 128x80 -> 80x80"),
}
TRUNCATED = encode(scene(30, 96), "JPEG", quality=90)
BAD = {
    "/bad/error-page.jpg": (b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head></html>", "not_image", "HTML page"),
    "/bad/truncated.jpg": (TRUNCATED[: len(TRUNCATED) // 2], "truncated", "truncated"),
    "/bad/empty.jpg": (b"", "empty", "0 bytes"),
    "/bad/small.png": (encode(scene(31, 16)), "too_small", "16x16"),
    "/bad/bomb.png": (png_claiming_size(8000, 8000), "bomb", "decompression bomb: 8000x8000 = 64000000 pixels"),
    "/bad/huge-bomb.png": (png_claiming_size(30000, 30000), "bomb", "decompression bomb"),  # past Pillow's own limit
}
DUPLICATES = {
    "/dup/copy.jpg": GOOD["/good/0.jpg"],
    "/dup/near.jpg": encode(scene(1, 96).resize((80, 80), Image.LANCZOS), "JPEG", quality=85),
}


def routes() -> dict[str, Route]:
    table = {path: Route(body) for path, body in GOOD.items()}
    table.update({path: Route(body, content_type="image/png") for path, (body, _) in CONVERTED.items()})
    table.update({path: Route(body) for path, (body, *_) in BAD.items()})
    table.update({path: Route(body) for path, body in DUPLICATES.items()})
    table["/slow.jpg"] = Route(encode(scene(40, 96), "JPEG"), delay=3.0)
    return table


@pytest.fixture
def server():
    with ImageServer(routes()) as running:
        yield running


def write_params(folder: Path, **crawl_overrides) -> Path:
    crawl_params = {
        "source": "synthetic",
        "images_per_class": 4,
        "images_per_concept": 40,
        "synthetic_size": 24,
        "concepts": ["red"],
        "num_random_sets": 2,
        "exclude_dir": str(folder / "exclude"),
        "web": {"min_size": 32, "threads": 4, "timeout": 1.0, "idle_timeout": 4.0, "time_limit": 60.0},
    }
    for key, value in crawl_overrides.items():
        if isinstance(value, dict) and isinstance(crawl_params.get(key), dict):
            crawl_params[key] = {**crawl_params[key], **value}
        else:
            crawl_params[key] = value
    params = {
        "seed": 3,
        "classes": ["fire", "water", "grass"],
        "crawl": crawl_params,
        "tcav": {"concepts": ["red"], "bottlenecks": ["pool1"], "num_random_exp": 2},
    }
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def url_list(folder: Path, urls: list[str]) -> Path:
    path = folder / "red_urls.txt"
    path.write_text("# image URLs for the red concept\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return path


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def crawl_red(tmp_path: Path, **overrides):
    params = load_params(write_params(tmp_path, **overrides))
    out = tmp_path / "concepts" / "red"
    [report] = crawling.run("concept", params, out, "red", classes_dir=tmp_path / "raw", random_dir=tmp_path / "random")
    return report, out


def test_urls_source_keeps_good_images_rejects_bad_ones_and_says_why(tmp_path, server, caplog):
    caplog.set_level(logging.INFO)
    urls = [server.url(p) for p in [*GOOD, *CONVERTED, *BAD, *DUPLICATES, "/missing.jpg", "/slow.jpg"]]
    urls.append(refused_url())
    listing = url_list(tmp_path, urls)
    report, out = crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)})

    kept = manifest(out)["images"]
    by_url = {entry["url"]: (file, entry) for file, entry in kept.items()}
    assert set(by_url) == {server.url(p) for p in [*GOOD, *CONVERTED]}
    for file, entry in kept.items():
        assert entry["origin"]["source"] == "urls" and entry["origin"]["query"] == str(listing)
        assert entry["fetched"] and len(entry["sha256"]) == 64
        with Image.open(out / file) as image:  # stored: decodable, RGB, square
            assert image.mode == "RGB" and image.width == image.height == entry["size"][0]
    file, entry = by_url[server.url("/good/3.jpg")]
    assert file == f"{entry['source_sha256'][:16]}.jpg" and entry["conversions"] == []
    assert (out / file).read_bytes() == GOOD["/good/3.jpg"]  # needed nothing: kept byte for byte
    for path, (_, conversion) in CONVERTED.items():
        file, entry = by_url[server.url(path)]
        assert conversion in entry["conversions"], (path, entry["conversions"])
        assert file.endswith(".png")

    rejected = {record["url"]: record for record in manifest(out)["rejected"].values()}
    for path, (_, code, words) in BAD.items():
        assert rejected[server.url(path)]["code"] == code and words in rejected[server.url(path)]["reason"]
    failed = {record["url"]: record["reason"] for record in manifest(out)["failed"].values()}
    assert failed[server.url("/missing.jpg")] == "HTTP 404"
    assert "timed out" in failed[server.url("/slow.jpg")]
    assert "connection refused" in failed[urls[-1]]
    duplicates = {record["url"]: record for record in manifest(out)["duplicates"].values()}
    copy_of = by_url[server.url("/good/0.jpg")][0]
    assert duplicates[server.url("/dup/copy.jpg")]["of"] == f"red/{copy_of}"
    assert duplicates[server.url("/dup/near.jpg")]["of"] == f"red/{by_url[server.url('/good/1.jpg')][0]}"
    assert duplicates[server.url("/dup/near.jpg")]["kind"] == "near"

    assert report.kept == report.new == 15 and report.failed == 3 and report.duplicates == {"exact": 1, "near": 1}
    assert dict(report.rejected) == {"not_image": 1, "truncated": 1, "empty": 1, "too_small": 1, "bomb": 2}
    err = caplog.text
    row = next(line for line in err.splitlines() if line.startswith("red "))
    assert row.split() == ["red", "15/40", "15", "1", "1", "1", "1", "2", "3", "1", "1", "0"]
    assert "rejected " + server.url("/bad/error-page.jpg") in err


def test_urls_rerun_downloads_only_what_failed_before(tmp_path, server):
    urls = [server.url(p) for p in [*GOOD, *BAD, "/missing.jpg"]]
    listing = url_list(tmp_path, urls)
    crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)})
    before = {p.name: p.read_bytes() for p in (tmp_path / "concepts" / "red").iterdir() if p.name != MANIFEST}
    server.requested.clear()
    report, out = crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)})
    assert server.requested == ["/missing.jpg", "/missing.jpg"] or server.requested == ["/missing.jpg"]
    assert report.new == 0 and report.kept == len(GOOD)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != MANIFEST} == before


def test_urls_exclude_list_keeps_an_image_out_for_good(tmp_path, server):
    listing = url_list(tmp_path, [server.url(p) for p in [*GOOD, *DUPLICATES]])
    report, out = crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)})
    file = next(f for f, e in manifest(out)["images"].items() if e["url"] == server.url("/good/1.jpg"))
    (tmp_path / "exclude").mkdir()
    (tmp_path / "exclude" / "red.txt").write_text(f"{file}   # not red enough\n")
    server.requested.clear()
    report, out = crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)})
    assert not (out / file).exists() and report.excluded == 1
    # Neither it nor its near duplicate (/dup/near.jpg, seen before) is fetched or kept again.
    assert server.requested == []
    assert server.url("/good/1.jpg") not in {e["url"] for e in manifest(out)["images"].values()}


def test_greedy_crawls_linked_pages_and_stops_when_nothing_new_comes(tmp_path, server):
    server.routes["/"] = Route(
        b'<html><body><img src="{base}/good/0.jpg"><img src="{base}/good/1.jpg">'
        b'<a href="/more.html">more</a> <a href="/bad/empty.jpg">broken</a></body></html>',
        content_type="text/html",
    )
    server.routes["/more.html"] = Route(b'<html><img src="{base}/good/2.jpg"><a href="/">home</a></html>', content_type="text/html")
    report, out = crawl_red(tmp_path, sources={"red": "greedy"}, queries={"red": server.base}, web={"idle_timeout": 3.0})
    assert {e["url"] for e in manifest(out)["images"].values()} == {server.url(f"/good/{i}.jpg") for i in range(3)}
    assert report.rejected == {"empty": 1}


def test_greedy_on_a_site_without_images_ends_with_a_clear_error(tmp_path, server, capsys):
    server.routes["/"] = Route(b"<html><body><p>no pictures here</p></body></html>", content_type="text/html")
    params = write_params(tmp_path, sources={"red": "greedy"}, queries={"red": server.base}, web={"idle_timeout": 2.0})
    code = crawl.main(["concept", "red", "--params", str(params), "--out", str(tmp_path / "red"), *earlier_folders(tmp_path)])
    assert code == 2
    [line] = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error:")]
    assert "source 'greedy' gave 0 image(s) for concept 'red'" in line


@pytest.mark.parametrize("engine, expected", [
    ("bing", ["/good/0.jpg", "/good/1.jpg", "/good/2.jpg"]),
    ("google", ["/good/3.jpg", "/good/4.jpg"]),
    ("baidu", ["/good/5.jpg", "/good/6.jpg"]),
])
def test_search_engine_result_pages_are_parsed_and_their_images_kept(tmp_path, server, monkeypatch, engine, expected):
    fixture = {"bing": "bing.html", "google": "google.html", "baidu": "baidu.json"}[engine]
    server.routes[f"/{engine}/results"] = Route((FIXTURES / fixture).read_bytes(), content_type="text/html")
    server.templates["{baidu_base}"] = baidu_encode(server.base)
    monkeypatch.setitem(search.BASE_URLS, engine, server.url(f"/{engine}/results"))
    report, out = crawl_red(tmp_path, sources={"red": engine}, queries={"red": "red things"}, web={"idle_timeout": 3.0})
    assert sorted(e["url"] for e in manifest(out)["images"].values()) == [server.url(p) for p in expected]
    assert all(e["origin"] == {"source": engine, "query": "red things", "crop": "center", "max_side": 512}
               for e in manifest(out)["images"].values())
    assert f"/{engine}/results" in server.requested and "/thumbs/0.jpg" not in server.requested


def baidu_encode(url: str) -> str:
    """Baidu's objURL obfuscation: the inverse of icrawler's ``BaiduParser._decode_url``."""
    tokens = {":": "_z2C$q", ".": "_z&e3B", "/": "AzdH3F"}
    decode = {"w": "a", "k": "b", "v": "c", "1": "d", "j": "e", "u": "f", "2": "g", "i": "h", "t": "i", "3": "j",
              "h": "k", "s": "l", "4": "m", "g": "n", "5": "o", "r": "p", "q": "q", "6": "r", "f": "s", "p": "t",
              "7": "u", "e": "v", "o": "w", "8": "1", "d": "2", "n": "3", "9": "4", "c": "5", "m": "6", "0": "7",
              "b": "8", "l": "9", "a": "0"}
    encode_char = {plain: code for code, plain in decode.items()}
    return "".join(tokens.get(c, encode_char.get(c, c)) for c in url)


def test_unreachable_engine_fails_clearly_and_keeps_what_was_downloaded(tmp_path, server, monkeypatch, capsys):
    server.routes["/bing/results"] = Route((FIXTURES / "bing.html").read_bytes(), content_type="text/html")
    monkeypatch.setitem(search.BASE_URLS, "bing", server.url("/bing/results"))
    overrides = dict(sources={"red": "bing"}, queries={"red": "red things"}, web={"idle_timeout": 3.0})
    report, out = crawl_red(tmp_path, **overrides)
    assert report.kept == 3  # of the 40 asked for: the fixture has no more
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    offline = refused_url("/images/async")
    monkeypatch.setitem(search.BASE_URLS, "bing", offline)
    params = write_params(tmp_path, **overrides)
    code = crawl.main(["concept", "red", "--params", str(params), "--out", str(out), *earlier_folders(tmp_path),
                       "--classes-dir", str(tmp_path / "raw"), "--random-dir", str(tmp_path / "random")])
    assert code == 2
    [line] = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error:")]
    assert "source 'bing' cannot reach 127.0.0.1:" in line and "connection refused" in line
    assert "'synthetic'" in line and "'local'" in line and "crawl.sources.red" in line
    assert "3 image(s) already in" in line
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {k: v for k, v in after.items() if k != MANIFEST} == {k: v for k, v in before.items() if k != MANIFEST}


def test_random_sets_from_a_url_list_are_disjoint_and_hold_no_class_image(tmp_path, server):
    raw = tmp_path / "raw"
    (raw / "fire").mkdir(parents=True)
    (raw / "fire" / "mine.jpg").write_bytes(GOOD["/good/2.jpg"])  # a class image also on the web
    listing = url_list(tmp_path, [server.url(p) for p in GOOD])
    params = load_params(write_params(tmp_path, sources={"random": "urls"}, queries={"random": str(listing)},
                                      images_per_concept=3))
    reports = crawling.run("random", params, tmp_path / "random", classes_dir=raw)
    sets = [manifest(tmp_path / "random" / f"random500_{i}")["images"] for i in range(2)]
    urls = [{e["url"] for e in s.values()} for s in sets]
    assert [len(u) for u in urls] == [3, 3] and not urls[0] & urls[1]
    assert server.url("/good/2.jpg") not in urls[0] | urls[1]
    assert sum(r.duplicates.get("exact", 0) for r in reports) == 1


def test_flickr_needs_its_key_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(flickr.KEY_VARIABLE, raising=False)
    params = write_params(tmp_path, sources={"red": "flickr"})
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(tmp_path / "red"), *earlier_folders(tmp_path)]) == 2
    [line] = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error:")]
    assert "FLICKR_APIKEY" in line and "never in params.yaml" in line
    assert not (tmp_path / "red").exists()


def test_flickr_searches_and_downloads_the_preferred_size(tmp_path, server, monkeypatch):
    monkeypatch.setenv(flickr.KEY_VARIABLE, "test-key-123")
    monkeypatch.setattr(flickr, "API_URL", server.url("/services/rest/"))
    asked = []

    def api(query: str) -> Route:
        args = parse_qs(query)
        asked.append(args["api_key"])
        if args["method"] == ["flickr.photos.search"]:
            answer = {"stat": "ok", "photos": {"page": 1, "pages": 1, "photo": [{"id": "4"}, {"id": "5"}]}}
        else:
            photo = args["photo_id"][0]
            answer = {"stat": "ok", "sizes": {"size": [
                {"label": "Thumbnail", "source": f"{server.base}/thumbs/{photo}.jpg"},
                {"label": "Medium", "source": f"{server.base}/good/{photo}.jpg"},
            ]}}
        return Route(json.dumps(answer).encode(), content_type="application/json")

    server.dynamic["/services/rest/"] = api
    report, out = crawl_red(tmp_path, sources={"red": "flickr"}, queries={"red": "red"}, web={"idle_timeout": 3.0})
    assert sorted(e["url"] for e in manifest(out)["images"].values()) == [server.url("/good/4.jpg"), server.url("/good/5.jpg")]
    assert asked and all(key == ["test-key-123"] for key in asked)
    assert "test-key-123" not in (out / MANIFEST).read_text()


def test_ctrl_c_mid_crawl_keeps_complete_files_and_the_rerun_fetches_the_rest(tmp_path, server, monkeypatch):
    listing = url_list(tmp_path, [server.url(p) for p in GOOD])
    overrides = dict(sources={"red": "urls"}, queries={"red": str(listing)}, web={"threads": 1})
    real_offer = crawling.Collector.offer

    def interrupted_offer(self, key, data, **kwargs):
        if self.kept == 3:
            raise KeyboardInterrupt
        return real_offer(self, key, data, **kwargs)

    monkeypatch.setattr(crawling.Collector, "offer", interrupted_offer)
    params = write_params(tmp_path, **overrides)
    out = tmp_path / "concepts" / "red"
    assert crawl.main(["concept", "red", "--params", str(params), "--out", str(out), *earlier_folders(tmp_path)]) == 130
    kept = manifest(out)["images"]
    assert len(kept) == 3 and sorted(p.name for p in out.iterdir()) == sorted([*kept, MANIFEST])
    for file, entry in kept.items():
        assert (out / file).read_bytes() == GOOD[entry["url"].removeprefix(server.base)]  # complete files only
    monkeypatch.undo()

    server.requested.clear()
    report, out = crawl_red(tmp_path, **overrides)
    assert report.new == len(GOOD) - 3 and report.kept == len(GOOD)
    assert not {server.url(p) for p in server.requested} & {e["url"] for e in kept.values()}


def test_every_crawl_stops_at_its_time_limit(tmp_path, server, caplog):
    caplog.set_level(logging.INFO)
    for i in range(30):  # answers that keep coming, each a little slow: never idle
        server.routes[f"/trickle/{i}.jpg"] = Route(encode(scene(100 + i, 64), "JPEG"), delay=0.3)
    listing = url_list(tmp_path, [server.url(f"/trickle/{i}.jpg") for i in range(30)])
    report, out = crawl_red(tmp_path, sources={"red": "urls"}, queries={"red": str(listing)},
                            web={"threads": 4, "idle_timeout": 1.0, "time_limit": 2.0})
    assert 2 <= report.kept < 30
    assert "stopped at crawl.web.time_limit (2s)" in caplog.text
    assert len(manifest(out)["images"]) == report.kept == len([p for p in out.iterdir() if p.name != MANIFEST])
