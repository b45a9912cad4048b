"""Bring your own model: conversion of Keras, SavedModel and frozen-graph classifiers into the
project's named-endpoint graph, logit recovery, in-line bottlenecks, and every bad-model message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import model  # noqa: F401  (TensorFlow environment first)
from model import keras_freeze
from model.convert import check, convert, read_labels
from common.errors import PipelineError
from common.params import load_params
from tests import own_models
from tests.pipeline_project import ROOT, deep_update

SIZE = 16
CLASSES = list(own_models.CLASSES)


def params_for(tmp_path, model_section: dict, **changes):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    deep_update(raw, {"preprocess": {"image_size": SIZE}, "model": model_section, **changes})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_params(path)


def images(count: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((count, SIZE, SIZE, 3), dtype=np.float32)


def small_net(ending: str):
    """conv -> relu -> gap -> Dense(3) with the given end."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if ending == "dense_softmax":
        out = layers.Dense(3, activation="softmax", name="head")(x)
    elif ending == "softmax_layer":
        out = layers.Softmax(name="sm")(layers.Dense(3, name="head")(x))
    elif ending == "activation_softmax":
        out = layers.Activation("softmax", name="sm")(layers.Dense(3, name="head")(x))
    elif ending == "sigmoid":
        out = layers.Dense(3, activation="sigmoid", name="head")(x)
    elif ending == "lambda_softmax":
        out = layers.Lambda(lambda t: keras.ops.softmax(t), name="hidden_softmax")(layers.Dense(3, name="head")(x))
    else:
        out = layers.Dense(3, name="head")(x)
    net = keras.Model(inputs, out)
    # Larger weights than the initialiser's so that the logits are far from equal.
    head = net.get_layer("head")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 20, bias + np.array([0.5, -0.5, 0.0], np.float32)])
    return net


def saved(net, tmp_path, name="net.keras"):
    path = tmp_path / name
    net.save(path)
    return path


@pytest.mark.parametrize("ending", ["dense_softmax", "softmax_layer", "activation_softmax"])
def test_logits_are_recovered_before_the_softmax_and_give_back_the_probabilities(tmp_path, ending):
    from model.freeze import run_frozen

    net = small_net(ending)
    params = params_for(tmp_path, {"source": "keras", "path": str(saved(net, tmp_path))})
    converted = convert(params)
    assert converted.ending == "softmax"
    x = images()
    logits = run_frozen(converted.graph_def, "endpoint/logits:0", "input:0", x)
    probabilities = np.asarray(net(x, training=False))
    # the recovered tensor is the pre-softmax Dense output ...
    head = net.get_layer("head")
    kernel, bias = head.get_weights()
    features = np.asarray(net.get_layer("gap").output._keras_history.operation(
        net.get_layer("conv")(x)))
    np.testing.assert_allclose(logits, features @ kernel + bias, atol=1e-4)
    # ... it is not itself a probability vector, and softmax of it is the model's output
    assert not np.allclose(logits.sum(axis=1), 1.0, atol=1e-3)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(exp / exp.sum(axis=1, keepdims=True), probabilities, atol=1e-5)
    assert check(converted, x, "x")["max_abs_diff"] < 1e-4
    assert "head" in converted.bottlenecks or ending == "dense_softmax"


def test_a_model_without_softmax_is_taken_as_logits(tmp_path):
    net = small_net("linear")
    converted = convert(params_for(tmp_path, {"source": "keras", "path": str(saved(net, tmp_path))}))
    assert converted.ending == "logits"
    result = check(converted, images(), "x")
    assert result["compared"] == "logits" and result["max_abs_diff"] < 1e-4


def test_a_sigmoid_end_is_refused_saying_what_was_found(tmp_path):
    params = params_for(tmp_path, {"source": "keras", "path": str(saved(small_net("sigmoid"), tmp_path))})
    with pytest.raises(PipelineError, match=r"ends in a sigmoid \(layer 'head'\)"):
        convert(params)


def test_probabilities_without_recoverable_logits_are_refused(tmp_path):
    net = small_net("lambda_softmax")  # a softmax hidden in a Lambda: nothing to recover logits from
    converted = keras_freeze.freeze_keras(net, None, SIZE, [0.0, 1.0], None)
    assert "hidden_softmax" in converted[2]  # what was found at the end is named
    from model.convert import Converted

    wrapped = Converted(converted[0], converted[1], converted[3], "logits", 3, converted[4],
                        lambda x: keras_freeze.original_outputs(net, x, [0.0, 1.0], None))
    with pytest.raises(PipelineError, match="outputs are probabilities .* does not end in a softmax layer"):
        check(wrapped, images(), "model.path: net.keras")


def test_bottleneck_identities_are_in_line_so_feeding_them_reaches_the_logits(tmp_path):
    import tensorflow as tf

    net = own_models.resnet_style(SIZE)
    converted = convert(params_for(tmp_path, {"source": "keras", "path": str(saved(net, tmp_path, "res.h5"))}))
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(converted.graph_def, name="")
        # stem_relu feeds three layers (a conv, the residual add, the concatenation)
        act = graph.get_tensor_by_name("bottleneck/stem_relu:0")
        logits = graph.get_tensor_by_name("endpoint/logits:0")
        grad = tf.gradients(tf.reduce_sum(logits[:, 0]), act)[0]
    with tf.compat.v1.Session(graph=graph) as session:
        x = images(4)
        values, gradient, before = session.run([act, grad, logits], {"input:0": x})
        assert np.abs(gradient).sum() > 0  # a side-branch identity would get no gradient (None)
        after = session.run(logits, {act: values * 0.5})
        assert np.abs(after - before).max() > 1e-4  # feeding the identity changes the logits
    assert converted.bottlenecks[:3] == ["stem", "stem_bn", "stem_relu"]
    assert {"concat", "pool", "dropout", "logits"} <= set(converted.bottlenecks)
    assert "probabilities" not in converted.bottlenecks  # the output itself is not a bottleneck


def test_layers_the_logits_bypass_are_not_bottlenecks(tmp_path):
    """In the ResNet-style model the concatenation also takes stem_relu, so the residual block's
    layers are passed by: feeding their activations alone cannot determine the logits."""
    from model.convert import BYPASSED

    params = params_for(tmp_path, {"source": "keras", "path": str(saved(own_models.resnet_style(SIZE), tmp_path))})
    converted = convert(params)
    problems = {info.name: info.problem for info in converted.layers}
    for name in ("block1_conv1", "block1_conv2", "block1_bn", "block1_add", "block1_out"):
        assert problems[name] == BYPASSED and name not in converted.bottlenecks
        assert name not in converted.endpoints["bottlenecks"]
    assert problems["stem_relu"] is None and problems["concat"] is None
    with pytest.raises(PipelineError, match="tcav.bottlenecks: layer 'block1_add' cannot be a bottleneck: not a cut"):
        convert(params, ["concat", "block1_add"])


def test_nested_application_layers_are_bottlenecks_and_bn_dropout_run_in_inference_mode(tmp_path):
    net = own_models.mobilenet_in_sequential(32)
    layers = keras_freeze.list_layers(net, 32)
    names = [info.name for info in layers if info.problem is None]
    assert names[:2] == ["to_unit", "Conv1"]
    assert {"block_13_expand_relu", "out_relu", "global_average_pooling2d"} <= set(names)
    assert "predictions" not in names
    info = {i.name: i for i in layers}
    assert info["block_13_expand_relu"].shape == (None, 2, 2, 192)  # 6 x 32 channels at alpha 0.35, 32x32 input
    x = np.random.default_rng(2).random((3, 32, 32, 3), dtype=np.float32)
    graph_def, endpoints, ending, order, _ = keras_freeze.freeze_keras(net, ["Conv1", "out_relu"], 32, [0, 255], None)
    from model.freeze import run_frozen

    got = run_frozen(graph_def, endpoints["probabilities"], endpoints["input"], x)
    np.testing.assert_allclose(got, np.asarray(net(x * 255, training=False)), atol=1e-5)
    assert ending == "softmax" and order == ["Conv1", "out_relu"]


def test_shared_layers_and_batch_reducing_layers_are_not_bottlenecks_with_the_reason():
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 3))
    shared = layers.Conv2D(3, 1, name="shared")
    a = shared(shared(inputs))
    batch_mean = layers.Lambda(lambda t: keras.ops.mean(t, axis=0, keepdims=True), name="batch_mean")(a)
    b = layers.Lambda(lambda ts: ts[0] - ts[1], name="centred")([a, batch_mean])
    net = keras.Model(inputs, layers.Dense(3, name="head")(layers.GlobalAveragePooling2D(name="gap")(b)))
    info = {i.name: i for i in keras_freeze.list_layers(net, SIZE)}
    assert info["shared"].problem.startswith("called 2 times")
    assert "not one tensor per example" in info["batch_mean"].problem
    assert info["centred"].problem is None and info["centred"].shape == (None, SIZE, SIZE, 3)
    with pytest.raises(PipelineError, match="layer 'batch_mean' cannot be a bottleneck: output shape"):
        keras_freeze.resolve_bottlenecks(list(info.values()), ["batch_mean"], "tcav.bottlenecks")


def test_an_unknown_layer_gets_the_list_of_layers(tmp_path):
    params = params_for(tmp_path, {"source": "keras", "path": str(saved(small_net("linear"), tmp_path))})
    with pytest.raises(PipelineError, match=r"tcav.bottlenecks: 'conv9' not in the model; available bottlenecks: conv, gap"):
        convert(params, ["conv", "conv9"])


def test_frozen_graph_from_elsewhere_endpoints_found_or_named(tmp_path):
    from model import foreign_graph
    from model.freeze import run_frozen

    net = small_net("dense_softmax")
    pb = tmp_path / "net.pb"
    input_name, output_name = own_models.save_frozen_pb(net, pb, SIZE)
    found = convert(params_for(tmp_path, {"source": "frozen", "path": str(pb)}))
    assert found.ending == "softmax"
    x = images()
    assert check(found, x, "x")["max_abs_diff"] < 1e-4
    graph_def = foreign_graph.read_graph_def(pb)
    softmax_op = next(n.name for n in graph_def.node if n.op == "Softmax")
    named = convert(params_for(tmp_path, {"source": "frozen", "path": str(pb), "input_tensor": input_name,
                                          "logits_tensor": softmax_op}))
    assert named.ending == "softmax"  # a softmax named as the logits is looked through
    np.testing.assert_allclose(run_frozen(named.graph_def, "endpoint/logits:0", "input:0", x),
                               run_frozen(found.graph_def, "endpoint/logits:0", "input:0", x), atol=0)
    relu = next(i.name for i in found.layers if i.kind == "Relu")
    assert relu in found.bottlenecks and "." in relu and "/" not in relu


def test_input_recipes_value_range_and_named_keras_preprocessing(tmp_path):
    import tensorflow as tf

    from model import preprocessing

    x = images(2)
    np.testing.assert_allclose(np.asarray(preprocessing.apply(tf.constant(x), [0.0, 255.0], None)), x * 255, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(preprocessing.apply(tf.constant(x), [0.0, 1.0], "mobilenet_v2")),
                               x * 2 - 1, atol=1e-5)
    assert preprocessing.apply(x, [0.0, 1.0], None) is x  # the identity recipe adds no op


def test_labels_from_a_file_and_class_count_mismatch(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("fire\nwater\ngrass\nrock\n")
    assert read_labels(str(labels), CLASSES) == ["fire", "water", "grass", "rock"]
    assert read_labels(None, CLASSES) == CLASSES
    with pytest.raises(PipelineError, match="model.labels: .*nothing.txt: labels file not found"):
        read_labels(str(tmp_path / "nothing.txt"), CLASSES)


# --- the export stage on bad models: one line naming the problem, exit status 2, no traceback

def processed_dir(tmp_path, size=SIZE):
    from PIL import Image

    root = tmp_path / "processed"
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for name in CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def run_export(tmp_path, capsys, model_section: dict, **changes):
    from pipeline import export

    params = params_for(tmp_path, model_section, **changes)  # validates
    assert params.model.source != "train"
    code = export.main(["--params", str(tmp_path / "params.yaml"), "--processed", str(processed_dir(tmp_path)),
                        "--out", str(tmp_path / "frozen")])
    captured = capsys.readouterr()
    return code, captured.err


def test_export_converts_and_writes_the_manifest(tmp_path, capsys):
    path = saved(small_net("activation_softmax"), tmp_path)
    code, err = run_export(tmp_path, capsys, {"source": "keras", "path": str(path)})
    assert code == 0, err
    manifest = json.loads((tmp_path / "frozen" / "manifest.json").read_text())
    assert manifest["source"] == {"kind": "keras", "path": str(path), "ending": "softmax",
                                  "input": {"value_range": [0.0, 1.0], "preprocessing": None}}
    assert manifest["check"]["n_images"] == 6 and manifest["check"]["max_abs_diff"] < 1e-4
    assert manifest["bottlenecks"] == ["conv", "gap", "head"]
    from wrappers import FrozenGraphWrapper

    wrapper = FrozenGraphWrapper(tmp_path / "frozen", ["conv"])
    assert wrapper.labels == CLASSES


@pytest.mark.parametrize("make, source, message", [
    (lambda d: d / "missing.keras", "keras", r"model.path: .*missing.keras: not found"),
    (lambda d: _write(d / "junk.keras", b"not a zip"), "keras", r"model.path: .*junk.keras: not a Keras model"),
    (lambda d: _write(d / "model.onnx", b"\x08\x01"), "keras",
     r"model.source keras reads a .keras or .h5 file; a TensorFlow SavedModel folder is model.source savedmodel, "
     r"a frozen GraphDef .pb is model.source frozen"),
    (lambda d: _write(d / "junk.pb", b"\xff\xfe garbage \x00" * 10), "frozen", r"junk.pb: not a frozen TensorFlow GraphDef"),
    (lambda d: _mkdir(d / "empty_folder"), "savedmodel", r"empty_folder: not a TensorFlow SavedModel folder"),
    (lambda d: _write(d / "file.txt", b"x"), "savedmodel", r"file.txt: not a TensorFlow SavedModel folder"),
])
def test_bad_model_files_get_one_clear_line(tmp_path, capsys, make, source, message):
    code, err = run_export(tmp_path, capsys, {"source": source, "path": str(make(tmp_path))})
    assert code == 2
    assert err.startswith("error: model.path: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    import re

    assert re.search(message, err), err


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _mkdir(path):
    path.mkdir()
    return path


def test_input_that_is_not_an_image_is_refused(tmp_path, capsys):
    import keras

    inputs = keras.Input((10,))
    path = saved(keras.Model(inputs, keras.layers.Dense(3)(inputs)), tmp_path)
    code, err = run_export(tmp_path, capsys, {"source": "keras", "path": str(path)})
    assert code == 2 and "input shape (batch, 10) is not an image batch (batch, height, width, 3)" in err


def test_input_size_mismatch_names_preprocess_image_size(tmp_path, capsys):
    import keras

    inputs = keras.Input((24, 24, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    path = saved(keras.Model(inputs, keras.layers.Dense(3)(x)), tmp_path)
    code, err = run_export(tmp_path, capsys, {"source": "keras", "path": str(path)})
    assert code == 2 and "preprocess.image_size is 16 but the model takes 24x24 images; set preprocess.image_size: 24" in err


def test_class_count_must_match_the_labels(tmp_path, capsys):
    path = saved(small_net("linear"), tmp_path)
    code, err = run_export(tmp_path, capsys, {"source": "keras", "path": str(path), "labels": ["fire", "water", "grass", "rock"]})
    assert code == 2
    assert "model.labels: the model at" in err and "outputs 3 classes but 4 labels are given (fire, water, grass, rock)" in err


def test_sigmoid_model_through_the_stage(tmp_path, capsys):
    code, err = run_export(tmp_path, capsys, {"source": "keras", "path": str(saved(small_net("sigmoid"), tmp_path))})
    assert code == 2 and "ends in a sigmoid" in err and "Traceback" not in err


@pytest.mark.parametrize("model_section, key, hint", [
    ({"source": "onnx"}, "model.source", "'train', 'keras', 'savedmodel' or 'frozen'"),
    ({"source": "train", "path": "mine.keras"}, "model", "only read with an outside model"),
    ({"source": "keras", "path": "models/trained/model.keras"}, "model", "set path to your model"),
    ({"source": "keras", "path": "m.keras", "logits_tensor": "x:0"}, "model", "name tensors of a frozen graph"),
    ({"source": "keras", "path": "m.keras", "input": {"value_range": [1, 0]}}, "model.input", "low < high"),
    ({"source": "keras", "path": "m.keras", "input": {"value_range": [0, 255], "preprocessing": "mobilenet_v2"}},
     "model.input", "either value_range or preprocessing"),
    ({"source": "keras", "path": "m.keras", "input": {"preprocessing": "mobilenet_v9"}}, "model.input.preprocessing",
     "'mobilenet_v2'"),
    ({"source": "keras", "path": "m.keras", "labels": ["fire", "water"]}, "(top level)", "['grass'] are not in model.labels"),
    ({"source": "keras", "path": "m.keras", "colour": 1}, "model.colour", "unknown key"),
])
def test_model_params_are_validated_naming_the_key(tmp_path, model_section, key, hint):
    with pytest.raises(PipelineError) as info:
        params_for(tmp_path, model_section)
    message = str(info.value)
    assert f"  {key}: " in message and hint in message, message


def test_no_training_split_only_for_an_outside_model(tmp_path):
    split = {"preprocess": {"split": {"train": 0.0, "val": 0.0, "test": 1.0}, "image_size": SIZE}}
    with pytest.raises(PipelineError, match="preprocess.split.train is 0"):
        params_for(tmp_path, {"source": "train"}, **split)
    assert params_for(tmp_path, {"source": "keras", "path": "m.keras"}, **split).preprocess.split.train == 0
    from images.preprocessing import split_counts, split_names

    assert split_counts(7, {"train": 0.0, "val": 0.0, "test": 1.0}) == {"train": 0, "val": 0, "test": 7}
    assert split_counts(7, {"train": 0.0, "val": 0.3, "test": 0.7}) == {"train": 0, "val": 2, "test": 5}
    names = split_names({f"{i}.png": f"{i:064x}" for i in range(5)}, {"train": 0.0, "val": 0.0, "test": 1.0}, 1, "fire")
    assert names["train"] == [] and len(names["test"]) == 5


def test_layers_command_lists_usable_layers_in_order(tmp_path, capsys):
    from pipeline import layers

    path = saved(own_models.resnet_style(SIZE), tmp_path, "res.keras")
    params_for(tmp_path, {"source": "keras", "path": str(path)})
    assert layers.main(["--params", str(tmp_path / "params.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "layers can be bottlenecks" in out[0]
    names = [line.split()[0] for line in out[2:]]
    assert names[:5] == ["stem", "stem_bn", "stem_relu", "concat", "pool"] and "probabilities" not in names
    assert any(line.startswith("concat ") and "(batch, 16, 16, 16)" in line and "4,096" in line for line in out)
    assert "block1_add" not in names  # passed by through the concatenation
    assert layers.main(["--params", str(tmp_path / "params.yaml"), "--all"]) == 0
    assert "no: the model's output" in capsys.readouterr().out


def test_savedmodel_signature_is_frozen_and_its_softmax_looked_through(tmp_path):
    net = small_net("softmax_layer")
    net.export(str(tmp_path / "saved"), verbose=False)
    converted = convert(params_for(tmp_path, {"source": "savedmodel", "path": str(tmp_path / "saved")}))
    assert converted.ending == "softmax"
    result = check(converted, images(), "x")
    assert result["compared"] == "probabilities" and result["max_abs_diff"] < 1e-4
    assert any(name.endswith("Relu") for name in converted.bottlenecks)
    with pytest.raises(PipelineError, match="model.signature: 'nope' is not a signature of .*; it has: serve, serving_default"):
        convert(params_for(tmp_path, {"source": "savedmodel", "path": str(tmp_path / "saved"), "signature": "nope"}))
