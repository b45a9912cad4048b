"""The model boundary: export to .pb, the tcav wrapper, batched vs tcav's own gradients."""

import numpy as np
import pytest

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from model.freeze import export_model
from model.cnn import bottleneck_layer_names, build_cnn

CLASSES = ["a", "b", "c"]
FILTERS = [4, 8]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    model = build_cnn(16, len(CLASSES), FILTERS, 8, 0.0)
    images = np.random.default_rng(0).random((6, 16, 16, 3), dtype=np.float32)
    out = tmp_path_factory.mktemp("model") / "frozen"
    manifest = export_model(model, CLASSES, bottleneck_layer_names(FILTERS, 8), out, images)
    return model, out, manifest, images


@pytest.fixture(scope="module")
def wrapper(frozen):
    from wrappers import FrozenGraphWrapper

    return FrozenGraphWrapper(frozen[1])


def test_export_writes_named_endpoints_and_matching_logits(frozen, wrapper):
    model, out, manifest, images = frozen
    assert {p.name for p in out.iterdir()} == {"model.pb", "labels.txt", "manifest.json"}
    assert manifest["bottlenecks"] == ["conv1", "pool1", "conv2", "gap", "dense"]
    assert manifest["check"]["max_abs_logit_diff"] < 1e-4
    np.testing.assert_allclose(wrapper.logits(images), model.predict(images, verbose=0), atol=1e-4)
    probs = wrapper.get_predictions(images)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_activations_of_several_layers_in_one_pass_equal_layer_by_layer(wrapper, frozen):
    images = frozen[3]
    together = wrapper.activations_at(images, ["conv1", "pool1", "dense"], batch_size=3)
    for bottleneck, values in together.items():
        assert np.array_equal(values, wrapper.activations(images, bottleneck))
        assert values.shape[0] == len(images)


def test_a_forward_only_wrapper_builds_no_gradients_and_gives_the_same_activations(wrapper, frozen):
    from wrappers import FrozenGraphWrapper

    images = frozen[3]
    forward = FrozenGraphWrapper(frozen[1], with_gradients=False)
    ops = {op.type for op in forward.graph.get_operations()}
    assert not any("Grad" in kind for kind in ops) and forward.logit_gradients == {}
    assert np.array_equal(forward.activations(images, "conv2"), wrapper.activations(images, "conv2"))


def test_feeding_a_bottleneck_reaches_the_logits(wrapper, frozen):
    images = frozen[3]
    acts = wrapper.activations(images, "pool1")
    zero_grads = wrapper.gradients(np.zeros_like(acts), 0, "pool1")
    grads = wrapper.gradients(acts, 0, "pool1")
    assert grads.shape == (len(images), int(np.prod(acts.shape[1:])))
    assert np.abs(grads).max() > 0
    assert not np.allclose(grads, zero_grads)


@pytest.mark.parametrize("bottleneck", ["conv1", "pool1", "conv2", "dense"])
def test_batched_gradients_equal_tcav_per_example_gradients(wrapper, frozen, bottleneck):
    images = frozen[3]
    acts = wrapper.activations(images, bottleneck)
    batched = wrapper.gradients(acts, 1, bottleneck)
    for i in range(len(images)):
        single = wrapper.get_gradient(acts[i:i + 1], [1], bottleneck, None).reshape(-1)
        np.testing.assert_allclose(batched[i], single, rtol=1e-5, atol=1e-7)


def test_logit_gradient_is_gradient_of_the_class_logit(wrapper, frozen):
    images = frozen[3]
    acts = wrapper.activations(images, "gap")
    grads = wrapper.gradients(acts, 2, "gap", target="logit")
    # finite differences along the first unit
    eps = 1e-2
    bumped = acts.copy()
    bumped[:, 0] += eps
    sess, t, logit = wrapper.sess, wrapper.bottlenecks_tensors["gap"], wrapper.ends["logit"]
    fd = (sess.run(logit, {t: bumped})[:, 2] - sess.run(logit, {t: acts})[:, 2]) / eps
    np.testing.assert_allclose(grads[:, 0], fd, rtol=1e-2, atol=1e-4)


def test_unknown_bottleneck_lists_available(frozen):
    from wrappers import FrozenGraphWrapper, ModelLoadError

    with pytest.raises(ModelLoadError, match="available bottlenecks: conv1, pool1, conv2, gap, dense"):
        FrozenGraphWrapper(frozen[1], ["conv9"])


def test_missing_model_file_is_named(tmp_path):
    from wrappers import FrozenGraphWrapper, ModelLoadError

    with pytest.raises(ModelLoadError, match="model.pb: not found"):
        FrozenGraphWrapper(tmp_path)


def test_reference_tcav_runs_unchanged_on_the_wrapper(frozen, tmp_path):
    """tcav.tcav.TCAV with tcav's ImageActivationGenerator accepts this wrapper as is."""
    from PIL import Image
    from tcav.activation_generator import ImageActivationGenerator
    from tcav.tcav import TCAV

    from wrappers import FrozenGraphWrapper

    rng = np.random.default_rng(1)
    for name in ["a", "red", "random500_0", "random500_1"]:
        (tmp_path / "src" / name).mkdir(parents=True)
        for i in range(4):
            pixels = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
            if name == "red":
                pixels[..., 0] = 255
            Image.fromarray(pixels).save(tmp_path / "src" / name / f"{i}.png")
    model = FrozenGraphWrapper(frozen[1])
    generator = ImageActivationGenerator(model, str(tmp_path / "src"), str(tmp_path / "acts"), max_examples=4)
    tcav = TCAV(model.sess, "a", ["red"], ["conv2"], generator, [0.1], cav_dir=str(tmp_path / "cavs"),
                num_random_exp=2)
    results = tcav.run(run_parallel=False)
    # red vs random500_0, red vs random500_1, and the two random-vs-random pairs
    assert len(results) == 4
    assert all(0.0 <= r["i_up"] <= 1.0 for r in results)


def test_dense_units_zero_reads_logits_from_the_pooled_features():
    model = build_cnn(16, 3, [4, 8], 0, 0.0)
    names = [layer.name for layer in model.layers]
    assert "dense" not in names and names[-3:] == ["gap", "dropout", "logits"]
    assert bottleneck_layer_names([4, 8], 0) == ["conv1", "pool1", "conv2", "gap"]
    assert bottleneck_layer_names([4, 8, 8], 32) == ["conv1", "pool1", "conv2", "pool2", "conv3", "gap", "dense"]
