"""`dvc repro` end to end with every folder crawled by the `urls` source from a loopback server.

The images served are the built-in synthetic ones (so the tiny model has something to learn),
downloaded through icrawler like any web image: crawl -> preprocess -> train -> export ->
tcav -> report. A forced rerun of the crawl downloads nothing again.
"""

import csv
import io
import json

import pytest

from worlds.generate import draw
from tests.image_server import ImageServer, Route
from tests.pipeline_project import make_project, run

pytestmark = pytest.mark.slow

CLASSES = ["fire", "water", "grass"]
CONCEPTS = ["red", "striped"]
PER_CLASS, PER_SET, SETS = 12, 8, 3


def png(kind: str, name: str, index: int) -> bytes:
    image, _ = draw(kind, name, index, 48, 5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served():
    routes, lists = {}, {}
    wanted = [("class", name, PER_CLASS) for name in CLASSES] + [("concept", name, PER_SET) for name in CONCEPTS]
    for kind, name, count in wanted:
        paths = [f"/{name}/{i}.png" for i in range(count)]
        routes.update({path: Route(png(kind, name, i), content_type="image/png") for i, path in enumerate(paths)})
        lists[name] = paths
    pool = [f"/random/{i}.png" for i in range(SETS * PER_SET)]
    routes.update({path: Route(png("random", "pool", i), content_type="image/png") for i, path in enumerate(pool)})
    lists["random"] = pool
    with ImageServer(routes) as server:
        yield server, lists


@pytest.fixture(scope="module")
def project(served, tmp_path_factory):
    server, lists = served
    overrides = {
        "crawl": {
            "source": "urls",
            "queries": {name: f"urls/{name}.txt" for name in lists},
            "images_per_class": PER_CLASS, "images_per_concept": PER_SET, "concepts": CONCEPTS,
            "num_random_sets": SETS,
            "web": {"min_size": 32, "timeout": 5.0, "idle_timeout": 10.0, "time_limit": 120.0},
        },
        "preprocess": {"image_size": 16},
        "train": {"conv_filters": [4, 8], "dense_units": 8, "epochs": 2, "background_images": 30},
        "tcav": {"concepts": CONCEPTS, "bottlenecks": ["pool1", "conv2"], "num_random_exp": SETS, "max_examples": 10},
    }
    project = make_project(tmp_path_factory.mktemp("urls") / "project", overrides)
    (project / "urls").mkdir()
    for name, paths in lists.items():
        (project / "urls" / f"{name}.txt").write_text("\n".join(server.url(p) for p in paths) + "\n")
    result = run(["dvc", "repro"], project)
    return project, result


def test_crawl_to_report_with_the_urls_source(project, served):
    project, result = project
    server, _ = served
    with open(project / "results" / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["target"], r["concept"]) for r in rows} == {(c, k) for c in CLASSES for k in CONCEPTS}
    fire = json.loads((project / "datasets" / "raw" / "fire" / "manifest.json").read_text())
    assert len(fire["images"]) == PER_CLASS
    assert {e["url"] for e in fire["images"].values()} == {server.url(f"/fire/{i}.png") for i in range(PER_CLASS)}
    assert all(e["origin"]["source"] == "urls" and e["fetched"] for e in fire["images"].values())
    sets = [json.loads((project / "concepts" / "random" / f"random500_{i}" / "manifest.json").read_text())["images"]
            for i in range(SETS)]
    urls = [{e["url"] for e in s.values()} for s in sets]
    assert [len(u) for u in urls] == [PER_SET] * SETS and not (urls[0] & urls[1] or urls[1] & urls[2] or urls[0] & urls[2])
    output = result.stdout + result.stderr
    assert "crawl classes summary:" in output and "fire    12/12   12" in output


def test_forced_crawl_rerun_downloads_nothing(project, served):
    project, _ = project
    server, _ = served
    server.requested.clear()
    result = run(["dvc", "repro", "-f", "-s", "crawl"], project)
    assert server.requested == []
    assert "datasets/raw/fire: 12 image(s), 0 new this run" in result.stdout + result.stderr
