"""The small CNN: its architecture, and the names that make its layers usable as bottlenecks."""

from __future__ import annotations

from pathlib import Path

import keras

from common.errors import PipelineError


def bottleneck_layer_names(conv_filters: list[int], dense_units: int) -> list[str]:
    """Names of the layers that can serve as TCAV bottlenecks, input side first."""
    names: list[str] = []
    for i in range(1, len(conv_filters) + 1):
        names.append(f"conv{i}")
        if i < len(conv_filters):
            names.append(f"pool{i}")
    return names + ["gap"] + (["dense"] if dense_units else [])


def build_cnn(image_size: int, num_classes: int, conv_filters: list[int], dense_units: int, dropout: float,
              batch_norm: bool = False) -> keras.Model:
    """Conv blocks (conv + 2x2 max-pool, the last without pool), global average pooling, one
    dense layer and a linear ``logits`` layer.

    The last conv layer feeds global average pooling directly, so the gradient at it is
    spread evenly over space and a CAV there is judged by its spatial average. Behind a
    max-pool the gradient reaches one position in four and TCAV scores at that layer
    depend on the noise in single positions of the CAV.

    The last layer has no softmax: TCAV takes gradients of cross-entropy on the logits, and
    tcav's loss applies the softmax itself, so a softmax output would be softmaxed twice.

    ``batch_norm``: each conv layer's output is batch-normalised before its ReLU (the conv is
    then ``conv<i>_linear``, the normalisation ``conv<i>_bn``, and ``conv<i>`` is the ReLU, so
    the bottleneck names keep meaning "the conv block's activations"). Without it a cue that is
    a pattern of brightness changes (a texture) rather than a colour is barely learned: the
    gradient toward edge detectors is swamped by the mean colour of [0, 1] inputs.
    """
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = inputs
    for i, filters in enumerate(conv_filters, start=1):
        if batch_norm:
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}_linear")(x)
            x = keras.layers.BatchNormalization(name=f"conv{i}_bn")(x)
            x = keras.layers.ReLU(name=f"conv{i}")(x)
        else:
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if i < len(conv_filters):
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if dense_units:  # 0: the logits read the pooled features directly
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="tcav_cnn")


def load_model(path: str | Path) -> keras.Model:
    """The Keras model saved at ``path`` (for inference: not compiled).

    Raises :class:`PipelineError` naming the file when it is missing or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: model not found (the train stage writes it; run `dvc repro`)")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged file
        raise PipelineError(f"{path}: cannot load the Keras model ({type(error).__name__}: {error})") from None
