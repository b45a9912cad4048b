"""reporting.charts.epochs: the frames of the projection during training and the train + test chart."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from model.epoch_projection import epoch_map, train_test_map
from reporting.charts.epochs import render_epoch_animation, render_epoch_strip, render_train_test, strip_epochs
from tests.model.test_epoch_projection import recording


def test_the_animation_has_a_frame_per_epoch_same_size_and_is_byte_stable():
    frames = epoch_map(recording(epochs=4), "pca", seed=0)
    gif = render_epoch_animation(frames)
    assert gif[:6] == b"GIF89a" and gif == render_epoch_animation(frames)
    with Image.open(io.BytesIO(gif)) as image:
        assert image.n_frames == 4 and image.info.get("loop") == 0
        sizes = set()
        for index in range(image.n_frames):
            image.seek(index)
            sizes.add(image.size)
        assert len(sizes) == 1


def test_the_strip_shows_at_most_ten_epochs_first_and_last_included():
    assert strip_epochs(4) == [0, 1, 2, 3]
    chosen = strip_epochs(21)
    assert len(chosen) == 10 and chosen[0] == 0 and chosen[-1] == 20
    png = render_epoch_strip(epoch_map(recording(epochs=12), "pca", seed=0))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == render_epoch_strip(epoch_map(recording(epochs=12), "pca", seed=0))


def test_train_test_chart_is_drawn_for_a_placed_and_a_jointly_fitted_map():
    rec = recording()
    train = rec["activations"][-1]
    predicted = rec["labels"][:6].copy()
    predicted[:2] = 2
    for method in ("pca", "tsne"):
        placed = train_test_map(train, rec["labels"], train[:6], rec["labels"][:6], predicted, method, 0, "gap",
                                ["a", "b", "c"])
        png = render_train_test(placed)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == render_train_test(placed)
        assert np.asarray(Image.open(io.BytesIO(png))).shape[:2] == (560, 800)
