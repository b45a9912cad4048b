"""The table printed at the end of a crawl: per folder, what was kept and what was removed why."""

from __future__ import annotations

from collection.collector import FolderReport
from collection.validate import REJECT_CODES

COLUMNS = (
    ("folder", None),
    ("kept", None),
    ("new", None),
    ("empty", "empty"),
    ("not image", "not_image"),
    ("truncated", "truncated"),
    ("too small", "too_small"),
    ("bomb", "bomb"),
    ("failed", None),
    ("dup", "exact"),
    ("near dup", "near"),
    ("excluded", None),
)
assert {code for _, code in COLUMNS} >= set(REJECT_CODES)


def _row(report: FolderReport) -> list[str]:
    return [
        report.name,
        f"{report.kept}/{report.wanted}",
        str(report.new),
        *(str(report.rejected.get(code, 0)) for code in REJECT_CODES),
        str(report.failed),
        str(report.duplicates.get("exact", 0)),
        str(report.duplicates.get("near", 0)),
        str(report.excluded),
    ]


def summary_table(reports: list[FolderReport]) -> str:
    """A plain-text table, one row per folder: kept (of wanted), new this run, rejected by
    reason, failed downloads, exact and near duplicates removed, excluded."""
    header = [title for title, _ in COLUMNS]
    rows = [_row(r) for r in reports]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), *(line(row) for row in rows)])
