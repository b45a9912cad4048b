"""The explorer's server and session on a tiny run: what the page gets, and how bad input is answered."""

from __future__ import annotations

import io
import json
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.explorer.conftest import open_session, start_server
from tests.explorer.tiny_run import HUES, MAX_PIXELS, colour_images, write_cavs


def request(server, path, data=None, headers=None, method=None):
    """(status, headers, parsed JSON or text) of one request to ``server``."""
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data, headers=headers or {},
                                 method=method or ("POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, body = error.code, error.headers, error.read()
    if head.get("Content-Type", "").startswith("application/json"):
        return status, head, json.loads(body)
    return status, head, body.decode("utf-8")


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def red_png(size=40) -> bytes:
    return png(np.kron(colour_images(np.random.default_rng(5), HUES["fire"], 1)[0], np.ones((size // 16 + 1, size // 16 + 1, 1), np.uint8)))


def huge_header_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (decoders must refuse it before decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def alive(server) -> bool:
    return request(server, "/api/status")[0] == 200


def analyse(server, data: bytes, name="image.png"):
    return request(server, "/api/analyse", data, {"Content-Type": "application/octet-stream", "X-File-Name": name})


def test_binds_loopback_by_default(explorer_server):
    import inspect

    from explorer.server import ExplorerServer, serve
    from pipeline import explore

    assert explorer_server.server_address[0] == "127.0.0.1"
    assert inspect.signature(ExplorerServer).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert "--host\", default=\"127.0.0.1\"" in Path(explore.__file__).read_text()


def test_the_page_and_its_files_are_served_with_a_policy_that_allows_nothing_else(explorer_server):
    status, head, page = request(explorer_server, "/")
    assert status == 200 and "/static/explorer.js" in page and "/static/explorer.css" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no font
    assert "default-src 'none'" in head["Content-Security-Policy"]
    for path in ("/static/explorer.js", "/static/explorer.css"):
        status, _, text = request(explorer_server, path)
        assert status == 200 and "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    for path in ("/static/../session.py", "/static/server.py", "/../params.yaml", "/nothing"):
        status, _, body = request(explorer_server, path)
        assert status == 404 and "Nothing here" in body["error"]


def test_status_and_gallery(explorer_server):
    status, _, body = request(explorer_server, "/api/status")
    assert status == 200
    assert body["labels"] == ["fire", "water", "grass"] and body["layers"] == ["conv1", "pool1", "conv2"]
    assert body["concepts"] == ["red", "blue"] and body["bottlenecks"] == ["pool1", "conv2"] and not body["problem"]
    _, _, gallery = request(explorer_server, "/api/gallery")
    assert {item["true"] for item in gallery} == {"fire", "water", "grass"}
    assert all(item["src"].startswith("data:image/png;base64,") for item in gallery)
    wrong = [item for item in gallery if not item["correct"]]
    assert [item["name"] for item in wrong] == ["red_grass.png"] and wrong[0]["predicted"] == "fire"


def test_an_uploaded_image_gets_probabilities_feature_maps_and_concept_maps(explorer_server):
    status, _, result = analyse(explorer_server, red_png(), "red.png")
    assert status == 200, result
    assert result["predicted"] == "fire"
    assert sum(p["p"] for p in result["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert [(layer["name"], layer["channels"]) for layer in result["layers"]] == [("conv1", 4), ("pool1", 4), ("conv2", 8)]
    assert all(layer["grid"].startswith("data:image/png;base64,") for layer in result["layers"])
    assert "red.png: PNG" in result["source"] and "resized to 16x16" in result["source"]
    concepts = {(c["concept"], c["bottleneck"]): c for c in result["concepts"]}
    assert set(concepts) == {(c, b) for c in ("red", "blue") for b in ("pool1", "conv2")}
    red = concepts["red", "conv2"]
    assert red["map"].startswith("data:image/png;base64,") and red["n_cavs"] == 2
    # confirmed findings are marked, unconfirmed ones not, contradicted ones crossed
    assert red["findings"] == ["+fire \u2713", "\u2212water"] and concepts["blue", "conv2"]["findings"] == []
    assert concepts["red", "pool1"]["findings"] == ["+grass \u2717"]
    # a red image: red is more present in it than blue is
    assert red["presence"] > concepts["blue", "conv2"]["presence"]
    edges = red["distribution"]["edges"]
    assert len(edges) == len(red["distribution"]["concept"]) + 1 and edges[0] <= red["presence"] <= edges[-1]


def test_the_probabilities_follow_the_image(explorer_server):
    blue = png(colour_images(np.random.default_rng(6), HUES["water"], 1)[0])
    first = analyse(explorer_server, red_png())[2]["probabilities"]
    second = analyse(explorer_server, blue)[2]["probabilities"]
    assert first != second and max(second, key=lambda p: p["p"])["label"] == "water"


def test_gallery_picks_and_a_missing_one(explorer_run, explorer_server):
    from common.files import content_order, list_images

    # the gallery shows a class's test images in content order, as every stage reads them
    first = content_order(list_images(explorer_run / "datasets" / "processed" / "test" / "fire"))[0].name
    status, _, result = request(explorer_server, "/api/gallery/0", b"")
    assert status == 200 and result["source"].startswith(f"test image {first} (true class fire)")
    status, _, body = request(explorer_server, "/api/gallery/999", b"")
    assert status == 400 and "no gallery image 999" in body["error"]


@pytest.mark.parametrize("data, message", [
    (b"just some text, not a picture", "not an image"),
    (b"<html><body>login</body></html>", "an HTML page"),
    (b"", "empty"),
    (red_png()[:60], "truncated"),
    (huge_header_png(2000, 2000), f"over the limit of {MAX_PIXELS}"),
])
def test_bad_input_gets_a_clear_message_and_the_server_stays_up(explorer_server, data, message):
    status, _, body = analyse(explorer_server, data)
    assert status in (400,) and message in body["error"]
    assert alive(explorer_server)


def test_too_large_a_file_is_refused_with_its_size_and_the_limit(explorer_session):
    server = start_server(explorer_session, max_upload=50_000)
    try:
        status, _, body = analyse(server, b"\0" * 120_000)
        assert status == 413 and "too large: 117.2 KB" in body["error"] and "up to 48.8 KB" in body["error"]
        assert alive(server)
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_through_another_host_name_is_refused(explorer_server):
    status, _, body = request(explorer_server, "/api/status", headers={"Host": "attacker.example:80"})
    assert status == 403 and "local pages only" in body["error"]
    assert request(explorer_server, "/api/status", headers={"Host": f"localhost:{explorer_server.server_port}"})[0] == 200


def test_a_failure_inside_is_a_message_not_a_dead_server(explorer_session, monkeypatch):
    server = start_server(explorer_session)
    try:
        monkeypatch.setattr(explorer_session, "analyse", lambda *a, **k: 1 / 0)
        status, _, body = analyse(server, red_png())
        assert status == 500 and "ZeroDivisionError" in body["error"] and "keeps running" in body["error"]
        assert alive(server)
    finally:
        server.shutdown()
        server.server_close()


def tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def test_requests_write_nothing(explorer_run, explorer_server):
    before = tree(explorer_run)
    analyse(explorer_server, red_png())
    analyse(explorer_server, b"not an image")
    request(explorer_server, "/api/gallery/1", b"")
    assert tree(explorer_run) == before


def test_missing_cavs_leave_out_only_the_concepts(explorer_run):
    session = open_session(explorer_run, cavs="results/absent.npz")
    assert "results/absent.npz: not found" in session.status()["problem"] and "make run" in session.status()["problem"]
    result = session.analyse_gallery(0)
    assert result["concepts"] == [] and len(result["layers"]) == 3


def test_missing_model_is_a_clear_error_from_the_command(tmp_path, capsys):
    from pipeline.explore import main

    (tmp_path / "params.yaml").write_text((Path(__file__).parents[2] / "params.yaml").read_text())
    code = main(["--params", str(tmp_path / "params.yaml"), "--model-dir", str(tmp_path / "models" / "frozen"),
                 "--port", "0"])
    assert code == 2
    error = capsys.readouterr().err
    assert "model.pb: not found" in error and "run `make run` first" in error and "Traceback" not in error


def test_pooling_none_cavs_give_maps_too(explorer_run, tmp_path):
    write_cavs(explorer_run, "none", tmp_path / "cavs_none.npz")
    session = open_session(explorer_run, cavs=str(tmp_path / "cavs_none.npz"))
    assert session.status()["pooling"] == "none"
    result = session.analyse_bytes(red_png(), "red.png")
    red = {(c["concept"], c["bottleneck"]): c for c in result["concepts"]}["red", "conv2"]
    assert red["map"].startswith("data:image/png;base64,") and red["presence"] is not None


def test_a_model_with_many_layers_shows_the_bottlenecks_and_a_spread_of_the_rest():
    from common.errors import PipelineError
    from explorer.session import choose_layers

    spatial = [f"block{i}" for i in range(40)]
    chosen, note = choose_layers(spatial, ["block17", "block33", "dense"], None, limit=6)
    assert len(chosen) == 6 and {"block17", "block33", "block0", "block39"} <= set(chosen)
    assert chosen == sorted(chosen, key=spatial.index) and "6 of the model's 40" in note and "--layers" in note
    assert choose_layers(spatial[:5], [], None, limit=6) == (spatial[:5], "")
    assert choose_layers(spatial, [], ["block3", "block1"])[0] == ["block1", "block3"]
    with pytest.raises(PipelineError, match="--layers: conv9 not a layer"):
        choose_layers(spatial, [], ["conv9"])
