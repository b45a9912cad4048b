"""Freezing a Keras model into a TensorFlow ``.pb`` for tcav, with stable named endpoints.

The graph has stable, named endpoints (Keras 3 op names are not): an ``input`` placeholder,
one ``bottleneck/<layer>`` identity per usable layer, ``endpoint/logits`` and
``endpoint/probabilities``.
Each bottleneck identity sits *in line* (the next layer reads it), so feeding activations
there reaches the logits and gradients flow back to it; a side-branch identity would not.
Writes ``model.pb``, ``labels.txt`` and ``manifest.json`` (endpoints, image shape, value range).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.files import atomic_directory, atomic_write_json

INPUT_NAME = "input"


LOGITS_NAME = "endpoint/logits"


PROBABILITIES_NAME = "endpoint/probabilities"


BOTTLENECK_SCOPE = "bottleneck"


# Largest |frozen - keras| logit difference accepted on the test split.
MAX_LOGIT_DIFF = 1e-4


def freeze(model, bottlenecks: list[str]):
    """Return a frozen ``GraphDef`` of ``model`` and the tensor name of every endpoint."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    height, width, channels = model.input_shape[1:]
    spec = tf.TensorSpec([None, height, width, channels], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(images):
        tensors = {model.layers[0].name: images}
        for layer in model.layers[1:]:
            inbound = [tensors[t._keras_history.operation.name] for t in _flat(layer.input)]
            out = layer(inbound[0] if len(inbound) == 1 else inbound, training=False)
            if layer.name in bottlenecks:
                out = tf.identity(out, name=f"{BOTTLENECK_SCOPE}/{layer.name}")
            tensors[layer.name] = out
        logits = tf.identity(tensors[model.layers[-1].name], name=LOGITS_NAME)
        probabilities = tf.nn.softmax(logits, name=PROBABILITIES_NAME)
        return {"logits": logits, "probabilities": probabilities}

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    op_names = {node.name for node in graph_def.node}
    endpoints = {
        "input": f"{INPUT_NAME}:0",
        "logits": f"{LOGITS_NAME}:0",
        "probabilities": f"{PROBABILITIES_NAME}:0",
        "bottlenecks": {name: f"{BOTTLENECK_SCOPE}/{name}:0" for name in bottlenecks},
    }
    expected = [endpoints["input"], endpoints["logits"], endpoints["probabilities"], *endpoints["bottlenecks"].values()]
    missing = [name for name in expected if name.rsplit(":", 1)[0] not in op_names]
    if missing:  # a uniquified name (e.g. "logits_1") would silently point tcav elsewhere
        raise RuntimeError(f"export: endpoints missing from the frozen graph: {missing}")
    return graph_def, endpoints


def _flat(value):
    return value if isinstance(value, (list, tuple)) else [value]


def run_frozen(graph_def, tensor_name: str, input_name: str, images: np.ndarray) -> np.ndarray:
    """Evaluate one tensor of a frozen graph on ``images`` (used to check the export)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(tensor_name, {input_name: images})


def export_model(model, classes: list[str], bottlenecks: list[str], out: str | Path,
                 check_images: np.ndarray) -> dict:
    """Freeze ``model`` into ``out/`` (model.pb, labels.txt, manifest.json); return the manifest.

    Refuses to write if the frozen logits on ``check_images`` differ from Keras's.
    """
    graph_def, endpoints = freeze(model, bottlenecks)
    expected = model.predict(check_images, batch_size=256, verbose=0)
    got = run_frozen(graph_def, endpoints["logits"], endpoints["input"], check_images)
    max_diff = float(np.max(np.abs(expected - got)))
    if not max_diff < MAX_LOGIT_DIFF:
        raise RuntimeError(f"export: frozen logits differ from Keras by {max_diff:g} (limit {MAX_LOGIT_DIFF})")
    height, width, channels = model.input_shape[1:]
    manifest = {
        "endpoints": endpoints,
        "labels": list(classes),
        "image_shape": [height, width, channels],
        "value_range": [0.0, 1.0],
        "bottlenecks": list(bottlenecks),
        "check": {"n_images": int(len(check_images)), "max_abs_logit_diff": max_diff},
    }
    with atomic_directory(out) as tmp:
        (tmp / "model.pb").write_bytes(graph_def.SerializeToString(deterministic=True))
        (tmp / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
        atomic_write_json(tmp / "manifest.json", manifest)
    return manifest
