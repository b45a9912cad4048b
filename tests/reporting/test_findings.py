"""The model check of the report: which classes the model recognises better than chance."""

from __future__ import annotations

import pytest

from reporting.findings import recognised_classes
from tcavcore.significance import recognition_p_values
from tcavcore.verdicts import Decision

#: Two classes the model gets nearly always right, two it gets 7 of 20 right (each p = 0.039 alone).
CONFUSION = {"classes": ["a", "b", "c", "d"],
             "matrix": [[18, 1, 1, 0], [1, 18, 0, 1], [3, 3, 7, 7], [3, 3, 7, 7]]}


def test_the_classes_are_one_family_corrected_as_the_run_asks():
    raw = recognition_p_values(CONFUSION["matrix"])
    assert 0.01 < raw[2] < 0.05 and raw[2] == raw[3]  # each weak class passes on its own
    unrecognised, p_values = recognised_classes(CONFUSION, Decision(correction="holm"))
    assert unrecognised == ["c", "d"]  # Holm: the smaller of two equal p-values doubled, 0.077
    assert p_values["c"] == pytest.approx(2 * raw[2]) and p_values["a"] == pytest.approx(4 * raw[0])
    unrecognised, p_values = recognised_classes(CONFUSION, Decision(correction="none"))
    assert unrecognised == [] and p_values["c"] == pytest.approx(raw[2])


def test_a_class_at_chance_is_unrecognised_under_every_correction():
    # c is predicted for 6 of its 20 images and for 4 of every 20 of the others: chance (p = 0.29)
    confusion = {"classes": ["a", "b", "c"], "matrix": [[16, 0, 4], [0, 16, 4], [8, 6, 6]]}
    for correction in ("holm", "bonferroni", "bh", "none"):
        unrecognised, _ = recognised_classes(confusion, Decision(correction=correction))
        assert unrecognised == ["c"], correction
