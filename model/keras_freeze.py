"""Freeze a user's Keras model into the project's named-endpoint graph.

The graph is the one ``pipeline/export.py`` writes for the built-in CNN: an ``input``
placeholder taking [0, 1] RGB images, the input recipe (value range or a named Keras
``preprocess_input``), the model with a ``bottleneck/<layer>`` identity in line for every
requested layer, ``endpoint/logits`` (before any softmax) and ``endpoint/probabilities``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model import keras_graph, preprocessing
from model.keras_graph import SIGMOID, SOFTMAX, LayerInfo
from common.errors import PipelineError

INPUT_NAME = "input"
LOGITS_NAME = "endpoint/logits"
PROBABILITIES_NAME = "endpoint/probabilities"


def load_keras(path: str | Path):
    """The Keras model in a ``.keras`` or ``.h5`` file (not compiled), or a clear error."""
    import keras

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"model.path: {path}: not found")
    if path.is_dir() or path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise PipelineError(
            f"model.path: {path}: model.source keras reads a .keras or .h5 file; a TensorFlow SavedModel "
            "folder is model.source savedmodel, a frozen GraphDef .pb is model.source frozen")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise PipelineError(f"model.path: {path}: not a Keras model Keras can load ({type(error).__name__}: {first[:300]})") from None
    if not isinstance(model, keras.Model):
        raise PipelineError(f"model.path: {path}: holds a {type(model).__name__}, not a Keras model")
    return model


def image_shape(model, image_size: int, where: str) -> tuple[int, int, int]:
    """``(height, width, 3)`` the model takes, checked against ``preprocess.image_size``."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise PipelineError(f"{where}: the model has {len(inputs)} inputs; expected one image input")
    shape = tuple(inputs[0].shape)
    return check_image_shape(shape, image_size, where)


def check_image_shape(shape: tuple, image_size: int, where: str) -> tuple[int, int, int]:
    """Check an input shape ``(batch, height, width, channels)`` is an RGB image batch."""
    shown = keras_graph.shape_text(tuple(shape))
    if len(shape) != 4 or shape[3] != 3:
        raise PipelineError(f"{where}: the model's input shape {shown} is not an image batch "
                            "(batch, height, width, 3); this pipeline feeds RGB images")
    height, width = shape[1], shape[2]
    if height is not None and width is not None and height != width:
        raise PipelineError(f"{where}: the model takes {height}x{width} images; this pipeline feeds square images")
    fixed = height or width
    if fixed is not None and fixed != image_size:
        raise PipelineError(f"preprocess.image_size is {image_size} but the model takes {fixed}x{fixed} images; "
                            f"set preprocess.image_size: {fixed}")
    return image_size, image_size, 3


def list_layers(model, image_size: int) -> list[LayerInfo]:
    """Every layer call of ``model`` in network order, with its output shape and usability."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32)
    found: list[LayerInfo] = []

    @tf.function(input_signature=[spec])
    def trace(images):
        result = keras_graph.walk(model, images)
        found.extend(result.layers)
        return result.output

    trace.get_concrete_function()
    return found


def resolve_bottlenecks(layers: list[LayerInfo], wanted: list[str], where: str) -> dict[tuple[str, ...], str]:
    """Layer path of each wanted name; an unknown or unusable name is an error listing the usable ones."""
    by_name = {info.name: info for info in layers}
    usable = [info.name for info in layers if info.problem is None]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise PipelineError(f"{where}: {', '.join(map(repr, unknown))} not in the model; "
                            f"available bottlenecks: {', '.join(usable)} (python -m pipeline.layers shows their shapes)")
    for name in wanted:
        if by_name[name].problem:
            raise PipelineError(f"{where}: layer {name!r} cannot be a bottleneck: {by_name[name].problem}")
    return {by_name[name].path: name for name in wanted}


def freeze_keras(model, bottlenecks: list[str] | None, image_size: int, value_range, preprocess_name: str | None,
                 where: str = "tcav.bottlenecks"):
    """Frozen ``GraphDef``, endpoint tensor names, what the model ends in, and the layer table.

    ``bottlenecks``: the layers given an in-line identity; ``None``: every layer that can be one.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    layers = list_layers(model, image_size)
    if bottlenecks is None:
        bottlenecks = [info.name for info in layers if info.problem is None]
    chosen = resolve_bottlenecks(layers, bottlenecks, where)
    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name=INPUT_NAME)
    ending: dict[str, str] = {}

    @tf.function(input_signature=[spec])
    def serve(images):
        result = keras_graph.walk(model, preprocessing.apply(images, value_range, preprocess_name), chosen)
        ending["found"] = result.ending
        if result.ending == SIGMOID:
            raise PipelineError(
                f"model.path: the model ends in a sigmoid (layer {keras_graph.final_layer_path(model)[-1]!r}): "
                "independent per-class probabilities, not a softmax over the classes; TCAV here differentiates "
                "the softmax cross-entropy of the logits, so it needs a model whose classes compete (softmax or logits)")
        logits = tf.identity(result.logits, name=LOGITS_NAME)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, name=PROBABILITIES_NAME)}

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    endpoints = {
        "input": f"{INPUT_NAME}:0",
        "logits": f"{LOGITS_NAME}:0",
        "probabilities": f"{PROBABILITIES_NAME}:0",
        "bottlenecks": {name: f"bottleneck/{name}:0" for name in bottlenecks},
    }
    order = [info.name for info in layers if info.name in set(bottlenecks)]  # network order
    return graph_def, endpoints, ending["found"], order, layers


def original_outputs(model, images: np.ndarray, value_range, preprocess_name: str | None,
                     batch_size: int = 64) -> np.ndarray:
    """What the user's model itself outputs for pipeline images (the conversion is checked on it)."""
    import tensorflow as tf

    parts = []
    for start in range(0, len(images), batch_size):
        batch = preprocessing.apply(tf.constant(images[start:start + batch_size]), value_range, preprocess_name)
        parts.append(np.asarray(model(batch, training=False)))
    return np.concatenate(parts)


def ends_in_softmax(ending: str) -> bool:
    """Whether the walk recovered logits from a softmax (the original outputs are probabilities)."""
    return ending == SOFTMAX
