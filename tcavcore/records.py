"""The run and score records: their columns, kinds, and the CSV/JSON that carries them.

A *run* is one CAV scored for one class: a row of the tcav stage's ``runs.csv`` with the
columns :data:`RUN_KEYS`. ``kind`` is :data:`KIND_CONCEPT` for a concept-vs-random CAV and
:data:`KIND_RANDOM` for a random-vs-random CAV (the null distribution). A *score* is one
summarised (class, concept, bottleneck, alpha): a row of ``scores.csv`` with the columns
:data:`SUMMARY_KEYS`. Floats are written with ``repr`` (exact, byte-stable reruns); an
undefined value (NaN) is an empty CSV cell and a JSON ``null``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

from common.errors import PipelineError


#: Keys a run (one row of runs.csv) must have.
RUN_KEYS: tuple[str, ...] = (
    "target",
    "concept",
    "random",
    "bottleneck",
    "alpha",
    "kind",
    "score",
    "magnitude",
    "cav_accuracy",
    "n_examples",
    # images in the CAV's two sets (the concept, or first random set, and the random set)
    "n_concept",
    "n_random_images",
)


KIND_CONCEPT = "concept"
KIND_RANDOM = "random"


#: Keys of every summary dict, in output (column) order.
SUMMARY_KEYS: tuple[str, ...] = (
    "target",
    "concept",
    "bottleneck",
    "alpha",
    "verdict",
    "score_mean",
    "score_std",
    "score_ci_low",
    "score_ci_high",
    "random_mean",
    "random_std",
    "effect_size",
    "p_random",
    "p_random_adjusted",
    "p_half",
    "p_half_adjusted",
    "significant",
    "cav_learnable",
    "cav_accuracy",
    "cav_accuracy_std",
    "magnitude_mean",
    "n_random",
    "n_examples",
    # images in the concept's folder and in its smallest random set, and whether either is
    # under tcav.min_concept_images (the report stage sets it)
    "n_concept",
    "n_random_images",
    "small_sets",
    # significant the same way for every class at this layer: not evidence for one class
    # (the report stage sets it)
    "class_independent",
    # the insertion test (a window of the concept on random images) of the (target, concept)
    # (tcavcore/confirmation.py); empty until the report stage adds them
    "insertion_effect",
    "insertion_ci_low",
    "insertion_ci_high",
    "insertion_p",
    "insertion_p_adjusted",
    # the prediction interval of a random set's insertion effect on the class: a confirmation
    # needs the concept's effect beyond it
    "insertion_random_low",
    "insertion_random_high",
    # the scene test (a blob of the concept on the background of the class's own images,
    # against random sets' blobs: tcavcore/scene.py) and the random sets' interval
    "scene_effect",
    "scene_ci_low",
    "scene_ci_high",
    "scene_p",
    "scene_p_adjusted",
    "scene_random_low",
    "scene_random_high",
    # the object test (a larger blob of the concept on the object, against random sets' blobs
    # there: tcavcore/scene.py) and the random sets' interval; empty when insertion.object is off
    "object_effect",
    "object_ci_low",
    "object_ci_high",
    "object_p",
    "object_p_adjusted",
    "object_random_low",
    "object_random_high",
    # whether the finding is confirmed (tcavcore/confirmation.py) and by which test: "scene",
    # "object" (a raise only), or "insertion" when insertion.scene is off; empty when not confirmed
    "confirmed",
    "confirmed_by",
    # a finding confirmed by the scene test whose whole interval lies beyond insertion.min_effect
    # on its side: its size, not only its direction, is shown (tcavcore/confirmation.py)
    "size_certain",
)


#: Summary keys that describe the concept's scores; empty (NaN) when its CAV is not learnable.
SCORE_KEYS: tuple[str, ...] = (
    "score_mean",
    "score_std",
    "score_ci_low",
    "score_ci_high",
    "effect_size",
    "p_random",
    "p_random_adjusted",
    "p_half",
    "p_half_adjusted",
    "magnitude_mean",
)


# --------------------------------------------------------------------------- runs.csv


def runs_csv(rows: Sequence[dict]) -> str:
    """Runs as CSV text with the columns :data:`RUN_KEYS`; floats in ``repr`` form so reruns are byte-identical."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RUN_KEYS)
    for row in rows:
        writer.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in RUN_KEYS])
    return out.getvalue()


def _number(raw: str, column: str, where: str, *, low: float | None = None, high: float | None = None,
            allow_nan: bool = False) -> float:
    text = raw.strip()
    if allow_nan and text.lower() in ("", "nan"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    bounds = ""
    if low is not None and high is not None:
        bounds = f" between {low:g} and {high:g}"
    elif low is not None:
        bounds = f" > {low:g}"
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value >= low if high is not None else value > low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        nan_note = " (or empty/nan)" if allow_nan else ""
        raise PipelineError(f"{where}: column {column!r} must be a number{bounds}{nan_note}, got {raw!r}")
    return value


def read_runs(path: str | Path) -> list[dict[str, Any]]:
    """Parse and check runs.csv into typed rows (str names, float numbers, int counts).

    Raises :class:`PipelineError` naming the file (and line and column) when the file is
    missing, lacks a column of :data:`RUN_KEYS`, has no rows or holds a bad value.
    """
    path = Path(path)
    expected = ", ".join(RUN_KEYS)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(
            f"{path}: per-run TCAV table not found (the tcav stage writes it; run `dvc repro`). "
            f"Expected a CSV with columns {expected}"
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: cannot read the per-run TCAV table ({error}); expected a CSV with columns {expected}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in RUN_KEYS if column not in header]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)}; expected a CSV with columns {expected}"
        )
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    for raw in reader:
        where = f"{path}, line {reader.line_num}"
        if None in raw:
            raise PipelineError(f"{where}: more cells than the {len(header)} columns of the header")
        for column in ("target", "concept", "random", "bottleneck", "kind"):
            if not (raw[column] or "").strip():
                raise PipelineError(f"{where}: column {column!r} is empty")
        kind = raw["kind"].strip()
        if kind not in (KIND_CONCEPT, KIND_RANDOM):
            raise PipelineError(f"{where}: column 'kind' must be {KIND_CONCEPT!r} or {KIND_RANDOM!r}, got {raw['kind']!r}")
        counts = {}
        for column in ("n_examples", "n_concept", "n_random_images"):
            value = _number(raw[column], column, where, low=0)
            if not value.is_integer():
                raise PipelineError(f"{where}: column {column!r} must be a whole number, got {raw[column]!r}")
            counts[column] = int(value)
        rows.append(
            {
                "target": raw["target"].strip(),
                "concept": raw["concept"].strip(),
                "random": raw["random"].strip(),
                "bottleneck": raw["bottleneck"].strip(),
                "alpha": _number(raw["alpha"], "alpha", where, low=0),
                "kind": kind,
                "score": _number(raw["score"], "score", where, low=0, high=1),
                "magnitude": _number(raw["magnitude"], "magnitude", where, allow_nan=True),
                "cav_accuracy": _number(raw["cav_accuracy"], "cav_accuracy", where, low=0, high=1),
                **counts,
            }
        )
    if not rows:
        raise PipelineError(f"{path}: has a header but no runs; the tcav stage should write one row per CAV")
    return rows


# --------------------------------------------------------------------------- scores.csv / scores.json


def _cell(value: Any) -> str:
    """Deterministic CSV text: repr for floats (NaN -> empty), True/False, str otherwise."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def scores_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The summary rows as CSV text with header :data:`SUMMARY_KEYS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_KEYS)
    for row in rows:
        writer.writerow([_cell(row[key]) for key in SUMMARY_KEYS])
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def scores_json(rows: Sequence[dict[str, Any]]) -> str:
    """The summary rows as a JSON list (keys in column order, NaN -> null)."""
    data = [{key: _json_value(row[key]) for key in SUMMARY_KEYS} for row in rows]
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
