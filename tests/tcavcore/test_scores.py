"""tcavcore.scores: directional derivatives and the two TCAV score definitions."""


import numpy as np


import pytest


import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)


from tcavcore.scores import directional_derivatives, tcav_magnitude, tcav_score


def test_directional_derivatives_is_gradient_dot_cav():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(7, 2, 3))
    cav = rng.normal(size=6)
    expected = [np.dot(g.reshape(-1), cav) for g in grads]
    np.testing.assert_allclose(directional_derivatives(grads, cav), expected)


def test_tcav_definition_counts_negative_loss_derivatives_paper_counts_positive():
    d = np.array([-2.0, -1.0, 0.0, 3.0])
    assert tcav_score(d, "tcav") == 0.5
    assert tcav_score(d, "paper") == 0.25
    # magnitude: share of |d| on the class's side
    assert tcav_magnitude(d, "tcav") == pytest.approx(3 / 6)
    assert tcav_magnitude(d, "paper") == pytest.approx(3 / 6)
    assert tcav_magnitude(np.array([-1.0, -1.0, 2.0]), "tcav") == pytest.approx(0.5)
    assert np.isnan(tcav_magnitude(np.zeros(3), "tcav"))
    with pytest.raises(ValueError):
        tcav_score(d, "other")
    with pytest.raises(ValueError):
        tcav_score(np.array([]), "tcav")
