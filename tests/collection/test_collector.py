"""collection.collector: the resumable Collector and the Dealer of random sets."""


from __future__ import annotations


import json


from collection import collector as collector_module


from collection.collector import Collector, Dealer, Rules


from collection.manifest import MANIFEST


from collection.dedup import DuplicateIndex


from collection.validate import Rejected, inspect_image


from tests.image_fixtures import encode, scene


def rejected(data: bytes, **options) -> Rejected:
    result = inspect_image(data, **options)
    assert isinstance(result, Rejected), result
    return result


def open_collector(folder, count=3, index=None, **kwargs):
    return Collector(folder, name=folder.name, kind="concept", count=count, origin={"source": "test", "query": "q"},
                     rules=Rules(), index=index or DuplicateIndex(6), **kwargs).open()


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
