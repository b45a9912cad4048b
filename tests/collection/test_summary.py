"""collection.summary: the per-folder table at the end of a crawl."""


from __future__ import annotations


from collection import collector as collector_module


from collection.summary import summary_table


from collection.validate import Rejected, inspect_image


def rejected(data: bytes, **options) -> Rejected:
    result = inspect_image(data, **options)
    assert isinstance(result, Rejected), result
    return result


def test_summary_table_has_a_row_per_folder():
    report = collector_module.FolderReport("red", 10, kept=7, new=3, failed=2, excluded=1)
    report.rejected["not_image"] += 2
    report.duplicates["near"] += 1
    table = summary_table([report])
    header, row = table.splitlines()
    assert header.split("  ")[0] == "folder" and "not image" in header and "near dup" in header
    assert row.split() == ["red", "7/10", "3", "0", "2", "0", "0", "0", "2", "0", "1", "1"]
