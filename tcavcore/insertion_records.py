"""``insertion.csv``: the insertion stage's tests, one row per (class, concept), written and read."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from common.errors import PipelineError

#: Columns of ``insertion.csv``.
INSERTION_COLUMNS = ("target", "concept", "control", "carrier", "effect", "ci_low", "ci_high", "p", "n_images",
                     "draws")


def insertion_csv(rows: list[dict]) -> str:
    """Rows as CSV; floats in ``repr`` form so reruns are byte-identical."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INSERTION_COLUMNS)
    for row in rows:
        writer.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in INSERTION_COLUMNS])
    return out.getvalue()


def read_insertion(path: str | Path) -> dict[tuple[str, str], dict[str, float]]:
    """``insertion.csv`` keyed by (target, concept); :class:`PipelineError` naming the file when unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: insertion test table not found (the insertion stage writes it; "
                            "run `dvc repro`)") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in INSERTION_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(INSERTION_COLUMNS)}")
    table = {}
    for raw in reader:
        try:
            table[raw["target"], raw["concept"]] = {k: float(raw[k] or "nan")
                                                    for k in ("effect", "ci_low", "ci_high", "p")}
        except ValueError as error:
            raise PipelineError(f"{path}, line {reader.line_num}: {error}") from None
    return table
