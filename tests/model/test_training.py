"""model.training: a saved model is byte for byte the same on every save."""

import hashlib
import subprocess
import sys
import time
import zipfile

import numpy as np

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from model.training import ZIP_TIME, renumber_shared_objects, save_model
from tests.pipeline_project import ROOT


def test_two_saves_of_one_model_are_byte_identical_and_still_load(tmp_path):
    import keras

    from model.cnn import build_cnn

    keras.utils.set_random_seed(0)
    model = build_cnn(16, 3, [4, 8], 8, 0.0)
    first = save_model(model, tmp_path / "a" / "model.keras")
    time.sleep(2.1)  # past the zip format's 2-second time resolution
    second = save_model(model, tmp_path / "b" / "model.keras")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    with zipfile.ZipFile(first) as archive:
        assert all(info.date_time == ZIP_TIME for info in archive.infolist())
        assert b"date_saved" not in archive.read("metadata.json")
    loaded = keras.models.load_model(first)
    x = np.random.default_rng(1).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


SAVE_IN_A_NEW_PROCESS = """
import sys
import common
import keras
from model.cnn import build_cnn
from model.training import save_model
keras.utils.set_random_seed(0)
save_model(build_cnn(16, 3, [4, 8], 8, 0.0), sys.argv[1])
"""


def test_the_same_model_saved_by_two_processes_is_byte_identical(tmp_path):
    # config.json numbers shared objects (each layer's dtype policy) by id(), a memory address:
    # another process (a fresh clone's `make run`) has other addresses.
    paths = [tmp_path / name / "model.keras" for name in ("a", "b")]
    for path in paths:
        subprocess.run([sys.executable, "-c", SAVE_IN_A_NEW_PROCESS, str(path)], cwd=ROOT, check=True,
                       capture_output=True)
    with zipfile.ZipFile(paths[0]) as archive:
        assert b'"shared_object_id": 1' in archive.read("config.json")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    import keras

    loaded = keras.models.load_model(paths[0], compile=False)
    policies = {id(layer.dtype_policy) for layer in loaded.layers if layer.name.startswith("pool")}
    assert len(policies) == 1  # still one shared object after loading


def test_renumbering_keeps_shared_objects_shared():
    config = '{"a": {"shared_object_id": 140185892307088}, "b": {"shared_object_id": 99}, ' \
             '"c": {"shared_object_id": 140185892307088}}'
    assert renumber_shared_objects(config) == ('{"a": {"shared_object_id": 1}, "b": {"shared_object_id": 2}, '
                                               '"c": {"shared_object_id": 1}}')


def test_augmented_images_are_exact_flips_turns_and_shifts_of_the_originals():
    from model.training import augment_batch

    rng = np.random.default_rng(0)
    images = rng.random((20, 16, 16, 3)).astype(np.float32)
    out = augment_batch(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    for image, moved in zip(images, out):
        # Every pixel value is one of the original's (no resampling, no colour change) ...
        assert set(np.unique(moved)) <= set(np.unique(image))
        # ... and the centre survives as one of the 8 flips and turns, shifted by at most 2 pixels.
        centre = moved[6:10, 6:10]
        candidates = [np.rot90(f, k) for f in (image, image[:, ::-1]) for k in range(4)]
        assert any(np.array_equal(centre, c[6 + dy:10 + dy, 6 + dx:10 + dx])
                   for c in candidates for dy in range(-2, 3) for dx in range(-2, 3))
    again = augment_batch(images, np.random.default_rng(1))
    assert np.array_equal(out, again), "seeded"


def test_batch_norm_keeps_the_bottleneck_names_on_the_conv_blocks_activations():
    from model.cnn import bottleneck_layer_names, build_cnn

    model = build_cnn(16, 3, [4, 8], 8, 0.0, batch_norm=True)
    names = [layer.name for layer in model.layers]
    for name in bottleneck_layer_names([4, 8], 8):
        assert name in names
    assert type(model.get_layer("conv1")).__name__ == "ReLU"
    assert names.index("conv1_linear") < names.index("conv1_bn") < names.index("conv1")
    assert "conv1_bn" not in [layer.name for layer in build_cnn(16, 3, [4, 8], 8, 0.0).layers]
