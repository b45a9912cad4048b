"""collection.exclude: exclude lists of file names and hash prefixes."""


from __future__ import annotations


import pytest


from collection.exclude import parse_exclude_list


from common.errors import PipelineError


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
